-- Events to the app: a transactional outbox. An event and its deliveries are inserted in the
-- transaction of the change they describe, so a crash can lose neither; a delivery worker on any
-- replica claims due deliveries with a lease (`locked_until`) and posts them.

-- Webhook receivers; tenant_id NULL receives every tenant's events. `secret` is sealed.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT REFERENCES tenants (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- The events, numbered per tenant (`seq` is the cursor of the events API).
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, seq)
);

-- One row per (event, receiver). `tenant_id`/`seq` repeat the event's so the head of each
-- receiver's queue (per tenant) is found without a join: ordering is per endpoint and tenant.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES outbox_events (id),
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    url TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    locked_until BIGINT
);

CREATE INDEX deliveries_due ON deliveries (delivered_at, next_attempt_at);
CREATE INDEX deliveries_queue ON deliveries (target_id, tenant_id, seq);
