-- A pre-check's end user (hashed) and workflow, so the llm-call audit of the same context is
-- counted against user and workflow budgets like the other spending rows.
ALTER TABLE gateway_contexts ADD COLUMN IF NOT EXISTS user_hash TEXT;
ALTER TABLE gateway_contexts ADD COLUMN IF NOT EXISTS workflow_id TEXT;
