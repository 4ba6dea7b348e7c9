-- The durable job queue (instance-wide: workers serve every workspace) and the email outbox.
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT COLLATE "C",
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- A job with a dedupe key is enqueued at most once (idempotent scheduling).
    dedupe_key TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 8,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_ready ON jobs (status, run_at);

CREATE TABLE emails (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    -- queued: waiting for the sender; sent; failed: gave up after retries;
    -- outbox: no SMTP server is configured, kept for the console's outbox page.
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'outbox')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX emails_by_created ON emails (workspace_id, created_at);
