-- OpenID Connect sign-in per partner organisation and for the vendor's staff (issue 12, ADR 0026).
--
-- A connection is one organisation's identity provider: at most one per partner, and one for the
-- staff of a workspace (partner_id NULL). Its client secret is sealed with the instance's key.
CREATE TABLE sso_connections (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    partner_id TEXT,
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    -- The role a person gets on their first sign-in (just-in-time provisioning).
    default_role TEXT NOT NULL CHECK (default_role IN ('admin', 'sales', 'marketing', 'finance', 'member', 'channel_manager', 'viewer')),
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE UNIQUE INDEX sso_connections_one_per_organisation ON sso_connections (workspace_id, COALESCE(partner_id, ''));

-- The email domains whose people sign in through a connection, chosen at sign-in from the address
-- typed. A domain signs in through one provider on the whole instance. Set by the vendor's
-- owners and admins only: a domain decides whose accounts a provider may link.
CREATE TABLE sso_domains (
    domain TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sso_domains_by_connection ON sso_domains (connection_id);

-- Who a provider's subject is: the identity key is (connection, sub), never the email address.
CREATE TABLE sso_identities (
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_sign_in_at INTEGER NOT NULL,
    PRIMARY KEY (connection_id, subject)
) STRICT;
CREATE INDEX sso_identities_by_user ON sso_identities (user_id);

-- A sign-in under way: keyed by the SHA-256 of its `state`, bound to the browser that started it
-- (the SHA-256 of a cookie), used once, ten minutes at most.
CREATE TABLE sso_flows (
    state_hash TEXT NOT NULL PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_flows_by_age ON sso_flows (expires_at);

-- A session begun through a provider acts only for that provider's organisation, and ends when
-- the provider says the person logged out (back-channel logout: by `sid`, or by `sub`).
ALTER TABLE sessions ADD COLUMN sso_connection_id TEXT;
ALTER TABLE sessions ADD COLUMN sso_sid TEXT;
CREATE INDEX sessions_by_sso ON sessions (sso_connection_id, sso_sid) WHERE sso_connection_id IS NOT NULL;

-- The sign-in history names provider sign-ins and the ones Trellis refused.
CREATE TABLE sign_ins_new (
    id INTEGER PRIMARY KEY,
    user_id TEXT,
    email TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('password', 'password_change', 'password_reset', 'sso')),
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'bad_password', 'throttled', 'reset_requested', 'bad_link', 'mfa_failed', 'sso_refused')),
    ip TEXT NOT NULL,
    user_agent TEXT,
    device_hash TEXT,
    trusted_device INTEGER NOT NULL DEFAULT 0 CHECK (trusted_device IN (0, 1)),
    at INTEGER NOT NULL
) STRICT;
INSERT INTO sign_ins_new (id, user_id, email, method, outcome, ip, user_agent, device_hash, trusted_device, at)
    SELECT id, user_id, email, method, outcome, ip, user_agent, device_hash, trusted_device, at FROM sign_ins;
DROP TABLE sign_ins;
ALTER TABLE sign_ins_new RENAME TO sign_ins;
CREATE INDEX sign_ins_by_email ON sign_ins (email, outcome, at);
CREATE INDEX sign_ins_by_ip ON sign_ins (ip, outcome, at);
CREATE INDEX sign_ins_by_user ON sign_ins (user_id, at);
CREATE INDEX sign_ins_by_device ON sign_ins (device_hash, outcome, at);
CREATE INDEX sign_ins_by_age ON sign_ins (at);
