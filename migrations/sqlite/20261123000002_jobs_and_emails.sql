-- The durable job queue (instance-wide: workers serve every workspace) and the email outbox.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    workspace_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- A job with a dedupe key is enqueued at most once (idempotent scheduling).
    dedupe_key TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 8,
    locked_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
) STRICT;
CREATE INDEX jobs_ready ON jobs (status, run_at);

CREATE TABLE emails (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    -- queued: waiting for the sender; sent; failed: gave up after retries;
    -- outbox: no SMTP server is configured, kept for the console's outbox page.
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'outbox')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX emails_by_created ON emails (workspace_id, created_at);
