-- OpenID Connect sign-in per partner organisation and for the vendor's staff (issue 12, ADR 0026).
--
-- A connection is one organisation's identity provider: at most one per partner, and one for the
-- staff of a workspace (partner_id NULL). Its client secret is sealed with the instance's key.
CREATE TABLE sso_connections (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    partner_id TEXT COLLATE "C",
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    -- The role a person gets on their first sign-in (just-in-time provisioning).
    default_role TEXT NOT NULL CHECK (default_role IN ('admin', 'sales', 'marketing', 'finance', 'member', 'channel_manager', 'viewer')),
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE UNIQUE INDEX sso_connections_one_per_organisation ON sso_connections (workspace_id, COALESCE(partner_id, ''));

-- The email domains whose people sign in through a connection, chosen at sign-in from the address
-- typed. A domain signs in through one provider on the whole instance. Set by the vendor's
-- owners and admins only: a domain decides whose accounts a provider may link.
CREATE TABLE sso_domains (
    domain TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    connection_id TEXT COLLATE "C" NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_by_connection ON sso_domains (connection_id);

-- Who a provider's subject is: the identity key is (connection, sub), never the email address.
CREATE TABLE sso_identities (
    connection_id TEXT COLLATE "C" NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    subject TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE INDEX sso_identities_by_user ON sso_identities (user_id);

-- A sign-in under way: keyed by the SHA-256 of its `state`, bound to the browser that started it
-- (the SHA-256 of a cookie), used once, ten minutes at most.
CREATE TABLE sso_flows (
    state_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    connection_id TEXT COLLATE "C" NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_flows_by_age ON sso_flows (expires_at);

-- A session begun through a provider acts only for that provider's organisation, and ends when
-- the provider says the person logged out (back-channel logout: by `sid`, or by `sub`).
ALTER TABLE sessions ADD COLUMN sso_connection_id TEXT COLLATE "C";
ALTER TABLE sessions ADD COLUMN sso_sid TEXT;
CREATE INDEX sessions_by_sso ON sessions (sso_connection_id, sso_sid) WHERE sso_connection_id IS NOT NULL;

-- The sign-in history names provider sign-ins and the ones Trellis refused.
ALTER TABLE sign_ins DROP CONSTRAINT sign_ins_method_check;
ALTER TABLE sign_ins ADD CONSTRAINT sign_ins_method_check CHECK (method IN ('password', 'password_change', 'password_reset', 'sso'));
ALTER TABLE sign_ins DROP CONSTRAINT sign_ins_outcome_check;
ALTER TABLE sign_ins ADD CONSTRAINT sign_ins_outcome_check
    CHECK (outcome IN ('success', 'bad_password', 'throttled', 'reset_requested', 'bad_link', 'mfa_failed', 'sso_refused'));

-- Row security (docs/ARCHITECTURE.md "The second wall"): a partner's connection is seen by the
-- partner and those above it; the staff connection (no partner) is a vendor row. Sign-in reads
-- these tables through the `authentication` grant.
ALTER TABLE sso_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_connections_visible ON sso_connections USING (current_user <> 'trellis_app'
    OR EXISTS (
        SELECT 1 FROM partner_ancestry pa
         WHERE pa.workspace_id = sso_connections.workspace_id AND pa.descendant_id = sso_connections.partner_id
           AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true))));
