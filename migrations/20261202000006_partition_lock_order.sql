-- Partition maintenance locks the parent before it touches any partition, in the order Postgres's own
-- DDL on `llm_call_audits` takes them (parent first, then its partitions). Reading a partition first
-- and asking for the parent afterwards deadlocks against a concurrent ALTER TABLE of the parent: the
-- ALTER holds the parent and waits for the partition this function is reading.

CREATE OR REPLACE FUNCTION axonflow_ensure_audit_partition(month DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    first_day DATE := date_trunc('month', month)::date;
    name TEXT := format('llm_call_audits_y%sm%s', to_char(first_day, 'YYYY'), to_char(first_day, 'MM'));
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('axonflow_audit_partitions'));
    IF to_regclass(name) IS NOT NULL THEN
        RETURN FALSE;
    END IF;
    -- CREATE TABLE … PARTITION OF takes this lock anyway; taking it first keeps the order.
    LOCK TABLE ONLY llm_call_audits IN ACCESS EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM llm_call_audits_default
               WHERE created_at >= first_day AND created_at < (first_day + interval '1 month')) THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF llm_call_audits FOR VALUES FROM (%L) TO (%L)',
                   name, first_day, (first_day + interval '1 month')::date);
    RETURN TRUE;
END;
$$;

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
    -- DETACH PARTITION takes this lock anyway; the retention check below is an index lookup.
    LOCK TABLE ONLY llm_call_audits IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('SELECT max(retain_until) FROM %I', name) INTO keep_until;
    IF keep_until >= today THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('ALTER TABLE llm_call_audits DETACH PARTITION %I', name);
    EXECUTE format('DROP TABLE %I', name);
    RETURN TRUE;
END;
$$;
