-- Gateway Mode, Decision Mode and tenant static policies.

-- Custom tenant policies live in static_policies with tenant_id set; organization_id is recorded as
-- given by the client.
ALTER TABLE static_policies ADD COLUMN IF NOT EXISTS organization_id TEXT;
CREATE INDEX IF NOT EXISTS static_policies_tenant_idx ON static_policies (tenant_id)
    WHERE tenant_id IS NOT NULL;

-- A tenant's change to one system policy: another action and/or enabled flag, optionally until
-- `expires_at`. One per (tenant, policy); replacing an override replaces the row.
CREATE TABLE IF NOT EXISTS policy_overrides (
    id                  UUID PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    policy_id           TEXT NOT NULL,
    action_override     TEXT CHECK (action_override IN ('block', 'redact', 'warn', 'log')),
    enabled_override    BOOLEAN,
    override_reason     TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ,
    UNIQUE (tenant_id, policy_id),
    CHECK (action_override IS NOT NULL OR enabled_override IS NOT NULL)
);

-- One row per tenant whose policies changed: every write to a tenant's policies or overrides sets a
-- new revision in the same transaction. Agents poll rows changed recently and recompile only those
-- tenants, so a change reaches every replica without a restart.
CREATE SEQUENCE IF NOT EXISTS policy_revision_seq;
CREATE TABLE IF NOT EXISTS policy_revisions (
    tenant_id   TEXT PRIMARY KEY,
    revision    BIGINT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS policy_revisions_changed_idx ON policy_revisions (changed_at);

-- Per-client request counters, one row per client and minute, shared by every agent replica.
-- UNLOGGED: counters are worthless after a crash and need no WAL.
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limit_windows (
    client_id       TEXT NOT NULL,
    window_start    TIMESTAMPTZ NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, window_start)
);

-- How many llm-call audits referred to a pre-check context.
ALTER TABLE gateway_contexts ADD COLUMN IF NOT EXISTS audit_count INTEGER NOT NULL DEFAULT 0;

-- Audit search: by decision id in metadata and by client within a tenant.
CREATE INDEX IF NOT EXISTS llm_call_audits_tenant_client_idx
    ON llm_call_audits (tenant_id, client_id, created_at DESC);
