-- Open a tenant's journal in one round trip (storage::queries::open_tenant_journal): take the
-- tenant's transaction-scoped advisory lock, then read the journal heads and the webhook
-- receivers. The reads are a statement of their own inside a VOLATILE function, so under READ
-- COMMITTED they run on a snapshot taken after the lock was granted and see everything the
-- lock's previous holder committed. (One statement such as `SELECT pg_advisory_xact_lock(k),
-- (SELECT ...)` would not: its snapshot is taken before it waits for the lock.)
CREATE OR REPLACE FUNCTION gatehouse_open_journal(lock_key BIGINT, journal_tenant TEXT)
RETURNS TABLE (
    last_record TEXT,
    last_seq BIGINT,
    receiver_ids TEXT[],
    receiver_urls TEXT[]
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE the reads below would see the snapshot taken at the
    -- transaction's first statement, before the lock: every waiting writer would then seal onto
    -- a stale head. Refuse instead of forking the chain.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'gatehouse_open_journal needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT
        (SELECT a.record FROM audit_log a
          WHERE a.tenant_id = journal_tenant ORDER BY a.seq DESC LIMIT 1),
        (SELECT max(o.seq) FROM outbox_events o WHERE o.tenant_id = journal_tenant),
        coalesce((SELECT array_agg(w.id ORDER BY w.id) FROM webhook_endpoints w
          WHERE w.enabled AND (w.tenant_id = journal_tenant OR w.tenant_id IS NULL)), '{}'),
        coalesce((SELECT array_agg(w.url ORDER BY w.id) FROM webhook_endpoints w
          WHERE w.enabled AND (w.tenant_id = journal_tenant OR w.tenant_id IS NULL)), '{}');
END
$$;
