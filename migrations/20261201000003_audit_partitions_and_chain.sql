-- The audit table becomes partitioned by month (retention drops whole partitions, never DELETEs),
-- and every row carries its link in a tamper-evidence hash chain (one chain per tenant and writer
-- instance) and the date until which it must be kept.

ALTER TABLE llm_call_audits RENAME TO llm_call_audits_before_partitioning;

CREATE TABLE llm_call_audits (
    id                  UUID NOT NULL,
    source              TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    org_id              TEXT NOT NULL,
    provider            TEXT NOT NULL,
    model               TEXT NOT NULL,
    verdict             TEXT NOT NULL CHECK (verdict IN ('allow', 'deny')),
    prompt_tokens       INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens   INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    total_tokens        INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    estimated_cost_usd  NUMERIC(20, 10) NOT NULL DEFAULT 0,
    latency_ms          INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    http_status         INTEGER,
    trace_id            TEXT,
    metadata            JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at          TIMESTAMPTZ NOT NULL,
    -- Tamper evidence: `row_hash` = SHA-256(prev_hash || canonical row); `prev_hash` is the row_hash
    -- of the previous row (chain_seq - 1) of the same chain, 32 zero bytes for the first.
    chain_id            TEXT NOT NULL DEFAULT '',
    chain_seq           BIGINT NOT NULL DEFAULT 0,
    prev_hash           BYTEA,
    row_hash            BYTEA,
    -- The longest retention of the compliance frameworks the row implicates (or the default).
    retain_until        DATE NOT NULL,
    PRIMARY KEY (created_at, id)
) PARTITION BY RANGE (created_at);

-- Rows whose month has no partition yet (created ahead by the agents) land here.
CREATE TABLE IF NOT EXISTS llm_call_audits_default PARTITION OF llm_call_audits DEFAULT;

INSERT INTO llm_call_audits (id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens,
    completion_tokens, total_tokens, estimated_cost_usd, latency_ms, http_status, trace_id, metadata, created_at,
    retain_until)
SELECT id, source, client_id, tenant_id, org_id, provider, model, verdict, prompt_tokens, completion_tokens,
    total_tokens, estimated_cost_usd, latency_ms, http_status, trace_id, metadata, created_at,
    (created_at + interval '7 years')::date
FROM llm_call_audits_before_partitioning;

DROP TABLE llm_call_audits_before_partitioning;

-- The indexes the audit search and the tenant timeline use, the decision-id lookup, chain
-- verification, and retention.
CREATE INDEX IF NOT EXISTS llm_call_audits_tenant_created_idx ON llm_call_audits (tenant_id, created_at DESC);
CREATE INDEX IF NOT EXISTS llm_call_audits_tenant_client_created_idx
    ON llm_call_audits (tenant_id, client_id, created_at DESC);
CREATE INDEX IF NOT EXISTS llm_call_audits_id_idx ON llm_call_audits (id);
CREATE INDEX IF NOT EXISTS llm_call_audits_chain_idx ON llm_call_audits (chain_id, chain_seq);
CREATE INDEX IF NOT EXISTS llm_call_audits_policies_idx ON llm_call_audits USING gin ((metadata -> 'policies'));

-- Creates the partition of the month containing `month` if it does not exist. Serialised by an
-- advisory lock so that replicas may call it at once. A month whose rows already sit in the default
-- partition is left there (the partition would conflict); it is reported as not created.
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
    IF EXISTS (SELECT 1 FROM llm_call_audits_default
               WHERE created_at >= first_day AND created_at < (first_day + interval '1 month')) THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF llm_call_audits FOR VALUES FROM (%L) TO (%L)',
                   name, first_day, (first_day + interval '1 month')::date);
    RETURN TRUE;
END;
$$;

-- Detaches and drops every monthly partition all of whose rows are past `retain_until` on `today`.
-- Returns the names of the dropped partitions. Rows are never deleted one by one.
CREATE OR REPLACE FUNCTION axonflow_drop_expired_audit_partitions(today DATE) RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    part RECORD;
    keep_until DATE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('axonflow_audit_partitions'));
    FOR part IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'llm_call_audits' AND c.relname <> 'llm_call_audits_default'
        ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT max(retain_until) FROM %I', part.name) INTO keep_until;
        IF keep_until IS NULL OR keep_until < today THEN
            -- An empty partition of a month still to come is kept.
            IF keep_until IS NULL AND part.name >= format('llm_call_audits_y%sm%s',
                    to_char(today, 'YYYY'), to_char(today, 'MM')) THEN
                CONTINUE;
            END IF;
            EXECUTE format('ALTER TABLE llm_call_audits DETACH PARTITION %I', part.name);
            EXECUTE format('DROP TABLE %I', part.name);
            RETURN NEXT part.name;
        END IF;
    END LOOP;
END;
$$;
