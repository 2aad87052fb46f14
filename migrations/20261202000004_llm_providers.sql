-- Tenants' LLM providers (the registry behind routing), owned by the orchestrator; both services
-- read them. A provider's key is stored only sealed (AES-256-GCM under the key-encryption key
-- named by key_id): never in plaintext. Every write bumps the tenant's row in policy_revisions,
-- so every replica routes with the change within its refresh interval, and writes an
-- admin_audit_log row in the same transaction.
CREATE TABLE IF NOT EXISTS llm_providers (
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    provider_type    TEXT NOT NULL CHECK (provider_type IN ('openai', 'azure-openai', 'anthropic', 'gemini', 'bedrock', 'ollama')),
    endpoint         TEXT NOT NULL,
    model            TEXT NOT NULL,
    region           TEXT,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    priority         INTEGER NOT NULL DEFAULT 0,
    weight           INTEGER NOT NULL DEFAULT 100 CHECK (weight >= 0),
    rate_limit       INTEGER,
    timeout_seconds  INTEGER NOT NULL DEFAULT 60 CHECK (timeout_seconds > 0),
    settings         JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- nonce || ciphertext || tag; NULL when the provider has no key.
    sealed_key       BYTEA,
    key_id           TEXT,
    health_status    TEXT NOT NULL DEFAULT 'unknown',
    health_message   TEXT NOT NULL DEFAULT '',
    health_checked   TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, name),
    CHECK ((sealed_key IS NULL) = (key_id IS NULL))
);
