-- Foundation: workspaces, users, staff, partners, partner users, API keys, sessions,
-- invitations, login attempts, audit trail, idempotency records.
-- Timestamps are BIGINT microseconds since the Unix epoch (docs/decisions/0002).
-- Every tenant table carries workspace_id in its primary key, unique constraints and foreign keys.

CREATE TABLE workspaces (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    allowed_redirect_domains TEXT NOT NULL DEFAULT '[]',
    sepa_debtor TEXT,
    distributors_manage_resellers INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'channel_manager', 'finance', 'viewer')),
    partner_scope TEXT NOT NULL DEFAULT 'all' CHECK (partner_scope IN ('all', 'assigned')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE partners (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    website TEXT,
    country TEXT,
    types INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'onboarding', 'active', 'suspended', 'terminated', 'rejected')),
    parent_id TEXT,
    manager_user_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, parent_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX partners_by_parent ON partners (workspace_id, parent_id);
CREATE INDEX partners_by_manager ON partners (workspace_id, manager_user_id);
CREATE INDEX partners_by_name ON partners (workspace_id, name);

CREATE TABLE partner_users (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'sales', 'marketing', 'finance', 'member')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, user_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX partner_users_by_user ON partner_users (user_id);

CREATE TABLE api_keys (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    display_prefix TEXT NOT NULL,
    user_id TEXT REFERENCES users(id),
    partner_id TEXT,
    partner_role TEXT CHECK (partner_role IN ('admin', 'sales', 'marketing', 'finance', 'member')),
    scopes TEXT NOT NULL,
    created_by_user_id TEXT REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, secret_hash),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    CHECK ((partner_id IS NULL) = (partner_role IS NULL)),
    CHECK ((partner_id IS NULL) = (user_id IS NOT NULL))
) STRICT;
CREATE INDEX api_keys_by_secret ON api_keys (secret_hash);

CREATE TABLE sessions (
    id_hash TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('browser', 'token')),
    csrf_token TEXT NOT NULL,
    workspace_id TEXT,
    partner_id TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invitations (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (workspace_id, id)
) STRICT;
-- Looked up by the hash of the link's token; 256 random bits make collisions impossible in practice.
CREATE INDEX invitations_by_token ON invitations (token_hash);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    succeeded INTEGER NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_attempts_by_email ON login_attempts (email, at);
CREATE INDEX login_attempts_by_ip ON login_attempts (ip, at);

CREATE TABLE audit_events (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id TEXT,
    actor_email TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    changes TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, id)
) STRICT;
CREATE INDEX audit_events_by_target ON audit_events (workspace_id, target_id);
CREATE INDEX audit_events_by_action ON audit_events (workspace_id, action);

-- The audit trail is append-only: the application can never rewrite history.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- The head of each workspace's chain; updating it serialises appends per workspace.
CREATE TABLE audit_chain_heads (
    workspace_id TEXT NOT NULL PRIMARY KEY REFERENCES workspaces(id),
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL
) STRICT;

CREATE TABLE idempotency_keys (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, principal, key)
) STRICT;
