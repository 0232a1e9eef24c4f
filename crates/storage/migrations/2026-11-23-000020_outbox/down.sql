DROP INDEX deliveries_queue;
DROP INDEX deliveries_due;
DROP TABLE deliveries;
DROP TABLE outbox_events;
DROP TABLE webhook_endpoints;
