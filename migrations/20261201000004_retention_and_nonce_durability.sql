-- Retention without long locks, and nonces that survive a Postgres crash.

-- Replay protection must not be emptied by a crash: keep the nonces WAL-logged.
ALTER TABLE internal_nonces SET LOGGED;

-- max(retain_until) per partition becomes an index lookup instead of a scan.
CREATE INDEX IF NOT EXISTS llm_call_audits_retain_idx ON llm_call_audits (retain_until);

-- Listing and dropping are separate so that each partition is detached and dropped in its own short
-- transaction: the ACCESS EXCLUSIVE lock DETACH takes on the parent is held for one partition only.
DROP FUNCTION IF EXISTS axonflow_drop_expired_audit_partitions(DATE);

-- Monthly partitions all of whose rows are past `retain_until` on `today` (and empty past months).
CREATE OR REPLACE FUNCTION axonflow_expired_audit_partitions(today DATE) RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    part RECORD;
    keep_until DATE;
    current_name TEXT := format('llm_call_audits_y%sm%s', to_char(today, 'YYYY'), to_char(today, 'MM'));
BEGIN
    FOR part IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'llm_call_audits' AND c.relname <> 'llm_call_audits_default'
        ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT max(retain_until) FROM %I', part.name) INTO keep_until;
        IF (keep_until IS NULL AND part.name < current_name) OR keep_until < today THEN
            RETURN NEXT part.name;
        END IF;
    END LOOP;
END;
$$;

-- Detaches and drops one monthly partition if it is still expired on `today`; false otherwise.
CREATE OR REPLACE FUNCTION axonflow_drop_audit_partition(name TEXT, today DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    keep_until DATE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('axonflow_audit_partitions'));
    IF name = 'llm_call_audits_default' OR NOT EXISTS (
        SELECT 1 FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'llm_call_audits' AND c.relname = name
    ) THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('SELECT max(retain_until) FROM %I', name) INTO keep_until;
    IF keep_until >= today THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('ALTER TABLE llm_call_audits DETACH PARTITION %I', name);
    EXECUTE format('DROP TABLE %I', name);
    RETURN TRUE;
END;
$$;
