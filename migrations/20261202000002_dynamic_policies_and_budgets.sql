-- Tenant (dynamic) policies and budgets, owned by the orchestrator; both services read them.

-- Conditions over request facts and the actions to take; validated and compiled by the services.
-- Every write bumps the tenant's row in policy_revisions (shared with static policies), so every
-- agent and orchestrator replica reloads the tenant within its refresh interval, and records the
-- change in policy_changes (policy_id = the dynamic policy's id).
CREATE TABLE IF NOT EXISTS dynamic_policies (
    id               UUID PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    organization_id  TEXT,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    policy_type      TEXT NOT NULL DEFAULT 'risk',
    category         TEXT NOT NULL DEFAULT 'dynamic-risk',
    tier             TEXT NOT NULL DEFAULT 'tenant',
    conditions       JSONB NOT NULL DEFAULT '[]'::jsonb,
    actions          JSONB NOT NULL DEFAULT '[]'::jsonb,
    priority         INTEGER NOT NULL DEFAULT 0,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS dynamic_policies_tenant_idx ON dynamic_policies (tenant_id);

-- Spending limits. What a budget has used is always the sum of its scope's audit rows in the
-- current period: there is no counter here.
CREATE TABLE IF NOT EXISTS budgets (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    org_id            TEXT NOT NULL,
    name              TEXT NOT NULL,
    scope             TEXT NOT NULL CHECK (scope IN ('organization', 'team', 'agent', 'workflow', 'user')),
    scope_id          TEXT NOT NULL,
    limit_usd         NUMERIC(20, 10) NOT NULL CHECK (limit_usd > 0),
    period            TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'quarterly', 'yearly')),
    on_exceed         TEXT NOT NULL CHECK (on_exceed IN ('warn', 'block', 'downgrade')),
    alert_thresholds  INTEGER[] NOT NULL DEFAULT '{}',
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One alert per budget, threshold and period, written when a status read or a check finds the
-- threshold crossed.
CREATE TABLE IF NOT EXISTS budget_alerts (
    id                  UUID PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    budget_id           TEXT NOT NULL,
    threshold           INTEGER NOT NULL,
    period_start        TIMESTAMPTZ NOT NULL,
    percentage_reached  DOUBLE PRECISION NOT NULL,
    amount_usd          DOUBLE PRECISION NOT NULL,
    message             TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, budget_id, threshold, period_start)
);
