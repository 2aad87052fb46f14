-- Governance changes are guarded and recorded.

-- A client flagged tenant_admin may weaken its own tenant's system policies (disable them, or give
-- them a milder action); other clients may not.
ALTER TABLE clients ADD COLUMN IF NOT EXISTS tenant_admin BOOLEAN NOT NULL DEFAULT false;

-- One row per policy change (custom policy create/update/delete, override set/clear, enable/disable),
-- written in the same transaction as the change. Append-only by convention: nothing updates or
-- deletes these rows. `version` counts the changes of one policy in one tenant, from 1.
CREATE TABLE IF NOT EXISTS policy_changes (
    id              UUID PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    policy_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    change_type     TEXT NOT NULL,
    changed_by      TEXT NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL,
    reason          TEXT,
    change_summary  TEXT NOT NULL,
    -- The whole policy state (overrides and reason included) before and after the change; NULL
    -- before a creation and after a deletion.
    before_state    JSONB,
    after_state     JSONB,
    UNIQUE (tenant_id, policy_id, version)
);
CREATE INDEX IF NOT EXISTS policy_changes_tenant_idx ON policy_changes (tenant_id, changed_at DESC);
