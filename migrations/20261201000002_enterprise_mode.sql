-- Enterprise mode: client credentials changes seen by every replica, the admin audit trail,
-- internal-call nonces, and token counters.

-- Every write to a client (create, enable/disable, rotate, limits, delete) sets a new revision in the
-- same transaction; agents poll it to drop cached credentials at once on every replica.
CREATE SEQUENCE IF NOT EXISTS client_revision_seq;
CREATE TABLE IF NOT EXISTS client_revisions (
    client_id   TEXT PRIMARY KEY,
    revision    BIGINT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS client_revisions_changed_idx ON client_revisions (changed_at);

-- Who did what through the admin API, and when. Append-only by convention: nothing updates or
-- deletes these rows.
CREATE TABLE IF NOT EXISTS admin_audit_log (
    id          UUID PRIMARY KEY,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS admin_audit_log_created_idx ON admin_audit_log (created_at DESC);

-- Nonces of signed agent <-> orchestrator calls seen within the replay window, shared by every
-- replica of both services so that a captured call cannot be replayed to another replica.
CREATE UNLOGGED TABLE IF NOT EXISTS internal_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS internal_nonces_expires_idx ON internal_nonces (expires_at);

-- Tokens of audited calls per client and minute, for tokens-per-minute limits.
ALTER TABLE rate_limit_windows ADD COLUMN IF NOT EXISTS tokens BIGINT NOT NULL DEFAULT 0;
