-- Passkeys (WebAuthn, issue 12, ADR 0027).
--
-- Each person who registers a passkey gets a random handle (a UUID): authenticators store it as
-- the credential's user id and hand it back at a sign-in without a typed address. Never the
-- account id, never the email: a handle says nothing about the account.
ALTER TABLE users ADD COLUMN passkey_handle TEXT;
CREATE UNIQUE INDEX users_by_passkey_handle ON users (passkey_handle) WHERE passkey_handle IS NOT NULL;

-- A person's passkeys: the credential as webauthn-rs keeps it (public key, signature counter,
-- backup flags) in JSON, found at sign-in by the credential's id (base64url).
CREATE TABLE passkeys (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    credential_id TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
CREATE UNIQUE INDEX passkeys_by_credential ON passkeys (credential_id);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A ceremony under way (registering a passkey, or signing in with one): the server's half of it,
-- keyed by the SHA-256 of an id the browser holds, used once, five minutes at most. In the
-- database, not in memory, so that any server of the instance can finish what another began.
CREATE TABLE passkey_ceremonies (
    id_hash TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('registration', 'sign_in', 'confirmation')),
    user_id TEXT REFERENCES users(id),
    state TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_ceremonies_by_age ON passkey_ceremonies (expires_at);
CREATE INDEX passkey_ceremonies_by_ip ON passkey_ceremonies (ip, created_at);

-- A session begun with a passkey names it: removing the passkey ends those sessions, and the
-- workspace's two-step policy counts such a session as two-step.
ALTER TABLE sessions ADD COLUMN passkey_id TEXT;
CREATE INDEX sessions_by_passkey ON sessions (passkey_id) WHERE passkey_id IS NOT NULL;

-- The sign-in history names passkey sign-ins and the ones refused.
CREATE TABLE sign_ins_new (
    id INTEGER PRIMARY KEY,
    user_id TEXT,
    email TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('password', 'password_change', 'password_reset', 'sso', 'passkey')),
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'bad_password', 'throttled', 'reset_requested', 'bad_link', 'mfa_failed', 'sso_refused', 'passkey_refused')),
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

-- A single sign-on under way names the address that started it: anyone may start one, and an
-- address may hold a bounded number of unfinished ones (ADR 0026).
ALTER TABLE sso_flows ADD COLUMN ip TEXT NOT NULL DEFAULT '';
CREATE INDEX sso_flows_by_ip ON sso_flows (ip, expires_at);
