-- Core tables shared by agent and orchestrator. sqlx runs migrations under a Postgres advisory lock,
-- so both services may start at the same time.

CREATE TABLE IF NOT EXISTS clients (
    client_id       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    -- argon2id PHC string; NULL for community clients that have no secret.
    secret_hash     TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    rate_limit_rpm  INTEGER,
    rate_limit_tpm  INTEGER,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS clients_tenant_idx ON clients (tenant_id);

-- One row per audited decision: OpenAI-endpoint calls, pre-checks, decisions, llm-call audits.
-- `id` is the decision id returned to clients (X-AxonFlow-Decision-Id). Never holds a provider key.
CREATE TABLE IF NOT EXISTS llm_call_audits (
    id                  UUID PRIMARY KEY,
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
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS llm_call_audits_created_idx ON llm_call_audits (created_at DESC);
CREATE INDEX IF NOT EXISTS llm_call_audits_client_idx ON llm_call_audits (client_id, created_at DESC);
CREATE INDEX IF NOT EXISTS llm_call_audits_tenant_idx ON llm_call_audits (tenant_id, created_at DESC);

-- Gateway Mode pre-check contexts. Hashes only: never the user token or the query in plain text.
CREATE TABLE IF NOT EXISTS gateway_contexts (
    context_id          UUID PRIMARY KEY,
    decision_id         UUID NOT NULL,
    client_id           TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    org_id              TEXT NOT NULL,
    user_token_hash     TEXT NOT NULL,
    query_hash          TEXT NOT NULL,
    policies            TEXT[] NOT NULL DEFAULT '{}',
    approved            BOOLEAN NOT NULL,
    requires_redaction  BOOLEAN NOT NULL DEFAULT FALSE,
    block_reason        TEXT,
    expires_at          TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gateway_contexts_expires_idx ON gateway_contexts (expires_at);

-- Static policies: the system catalogue (tenant_id NULL, immutable) and tenant custom policies.
-- detector_kind 'builtin' names a validated detector in `pattern`; 'regex' holds a regex in `pattern`;
-- 'keywords' holds the list in `keywords` (and a readable join in `pattern`).
CREATE TABLE IF NOT EXISTS static_policies (
    id              UUID PRIMARY KEY,
    policy_id       TEXT NOT NULL,
    tenant_id       TEXT,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    category        TEXT NOT NULL,
    tier            TEXT NOT NULL CHECK (tier IN ('system', 'organization', 'tenant')),
    detector_kind   TEXT NOT NULL CHECK (detector_kind IN ('builtin', 'regex', 'keywords')),
    pattern         TEXT NOT NULL,
    keywords        TEXT[] NOT NULL DEFAULT '{}',
    action          TEXT NOT NULL CHECK (action IN ('block', 'redact', 'warn', 'log')),
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    priority        INTEGER NOT NULL DEFAULT 0,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    tags            TEXT[] NOT NULL DEFAULT '{}',
    frameworks      TEXT[] NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS static_policies_policy_tenant_idx
    ON static_policies (policy_id, COALESCE(tenant_id, ''));
