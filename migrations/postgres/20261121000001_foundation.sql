-- Foundation: workspaces, users, staff, partners, partner users, API keys, sessions,
-- invitations, login attempts, audit trail, idempotency records.
-- Timestamps are BIGINT microseconds since the Unix epoch (docs/decisions/0002).
-- Ids are TEXT COLLATE "C" so that they sort bytewise (time order) as on SQLite.
-- Every tenant table carries workspace_id in its primary key, unique constraints and foreign keys.

CREATE TABLE workspaces (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    allowed_redirect_domains TEXT NOT NULL DEFAULT '[]',
    sepa_debtor TEXT,
    distributors_manage_resellers BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE members (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'channel_manager', 'finance', 'viewer')),
    partner_scope TEXT NOT NULL DEFAULT 'all' CHECK (partner_scope IN ('all', 'assigned')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE partners (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    website TEXT,
    country TEXT,
    types BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'onboarding', 'active', 'suspended', 'terminated', 'rejected')),
    parent_id TEXT COLLATE "C",
    manager_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, parent_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX partners_by_parent ON partners (workspace_id, parent_id);
CREATE INDEX partners_by_manager ON partners (workspace_id, manager_user_id);
CREATE INDEX partners_by_name ON partners (workspace_id, name);

CREATE TABLE partner_users (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'sales', 'marketing', 'finance', 'member')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, user_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX partner_users_by_user ON partner_users (user_id);

CREATE TABLE api_keys (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    display_prefix TEXT NOT NULL,
    user_id TEXT COLLATE "C" REFERENCES users(id),
    partner_id TEXT COLLATE "C",
    partner_role TEXT CHECK (partner_role IN ('admin', 'sales', 'marketing', 'finance', 'member')),
    scopes TEXT NOT NULL,
    created_by_user_id TEXT COLLATE "C" REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, secret_hash),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    CHECK ((partner_id IS NULL) = (partner_role IS NULL)),
    CHECK ((partner_id IS NULL) = (user_id IS NOT NULL))
);
CREATE INDEX api_keys_by_secret ON api_keys (secret_hash);

CREATE TABLE sessions (
    id_hash TEXT NOT NULL PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('browser', 'token')),
    csrf_token TEXT NOT NULL,
    workspace_id TEXT COLLATE "C",
    partner_id TEXT COLLATE "C",
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invitations (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    token_hash TEXT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (workspace_id, id)
);
-- Looked up by the hash of the link's token; 256 random bits make collisions impossible in practice.
CREATE INDEX invitations_by_token ON invitations (token_hash);

CREATE TABLE login_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_attempts_by_email ON login_attempts (email, at);
CREATE INDEX login_attempts_by_ip ON login_attempts (ip, at);

CREATE TABLE audit_events (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    seq BIGINT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
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
);
CREATE INDEX audit_events_by_target ON audit_events (workspace_id, target_id);
CREATE INDEX audit_events_by_action ON audit_events (workspace_id, action);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE audit_chain_heads (
    workspace_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES workspaces(id),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, principal, key)
);

-- Row-level security: the second wall behind the application's Scope.
-- Requests acting for a partner run `SET LOCAL ROLE trellis_app` (not the owner, no BYPASSRLS)
-- with the visible partner ids in `trellis.visible_partner_ids`. Any other role (the owner or
-- the operator's connection user) passes the policy; FORCE makes the owner subject to it too.
-- Without the setting, trellis_app sees nothing (fails closed).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trellis_app') THEN
        CREATE ROLE trellis_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    -- Another migration run (a parallel test schema) created it first.
    NULL;
END;
$$;
DO $$
BEGIN
    EXECUTE format('GRANT trellis_app TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO trellis_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO trellis_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO trellis_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trellis_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO trellis_app', current_schema());
    EXECUTE format('REVOKE UPDATE, DELETE ON audit_events FROM trellis_app');
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL;
END;
$$;

ALTER TABLE partners ENABLE ROW LEVEL SECURITY;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
CREATE POLICY partners_visible ON partners
    USING (current_user <> 'trellis_app'
           OR id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE partner_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_users FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_users_visible ON partner_users
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_visible ON api_keys
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));
