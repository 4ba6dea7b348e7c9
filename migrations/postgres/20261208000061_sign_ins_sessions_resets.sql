-- Identity hardening (issue 12, ADR 0023): the sign-in history replaces login_attempts, devices
-- that signed in before are remembered (device cookies), sessions get a public id and an idle
-- timeout, passwords can be reset by emailed link, authenticator apps are a second factor, and
-- old records are pruned.

-- Every sign-in attempt, successful or not, with what the person may see of it. It feeds the
-- throttle (failures before any password is hashed) and the fraud rule on sign-in addresses.
CREATE TABLE sign_ins (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The account the attempt named; null when no account has that address.
    user_id TEXT COLLATE "C",
    email TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('password', 'password_change', 'password_reset')),
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'bad_password', 'throttled', 'reset_requested', 'bad_link', 'mfa_failed')),
    ip TEXT NOT NULL,
    user_agent TEXT,
    -- The device cookie presented, as its SHA-256, and whether it was trusted for this account.
    device_hash TEXT,
    trusted_device BOOLEAN NOT NULL DEFAULT FALSE,
    at BIGINT NOT NULL
);
CREATE INDEX sign_ins_by_email ON sign_ins (email, outcome, at);
CREATE INDEX sign_ins_by_ip ON sign_ins (ip, outcome, at);
CREATE INDEX sign_ins_by_user ON sign_ins (user_id, at);
CREATE INDEX sign_ins_by_device ON sign_ins (device_hash, outcome, at);
CREATE INDEX sign_ins_by_age ON sign_ins (at);

INSERT INTO sign_ins (user_id, email, method, outcome, ip, at)
SELECT (SELECT u.id FROM users u WHERE u.email = la.email), la.email, 'password',
       CASE WHEN la.succeeded THEN 'success' ELSE 'bad_password' END, la.ip, la.at
  FROM login_attempts la ORDER BY la.id;
DROP TABLE login_attempts;

-- A device (browser or API client) that signed in to an account: it keeps signing in with the
-- right password while the account's untrusted attempts are slowed down (OWASP device cookies).
CREATE TABLE sign_in_devices (
    id_hash TEXT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (id_hash, user_id)
);
CREATE INDEX sign_in_devices_by_age ON sign_in_devices (last_used_at);

-- Sessions get an id that can be shown and named (the key stays the hash of the secret). Rows
-- from before take one derived from their key.
ALTER TABLE sessions ADD COLUMN id TEXT COLLATE "C";
UPDATE sessions SET id = 'ses_' || substr(id_hash, 1, 26);
CREATE UNIQUE INDEX sessions_by_id ON sessions (id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- One-time password reset links: the token's SHA-256, its account, a short life, used once.
CREATE TABLE password_resets (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);
CREATE INDEX password_resets_by_expiry ON password_resets (expires_at);

-- A person's authenticator app (TOTP, RFC 6238): the seed sealed with the instance's secret key,
-- in force once confirmed; the newest step whose code was used (each code works once).
CREATE TABLE totp_authenticators (
    user_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users(id),
    sealed_seed TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Recovery codes, as SHA-256: each works once in place of an app's code.
CREATE TABLE recovery_codes (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Pruning finds old rows by age, never by a scan.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
