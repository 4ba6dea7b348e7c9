-- Partner profiles, uploaded files, contracts and compliance licences, profile change requests
-- awaiting the vendor, and the reminders already sent (each reminder goes out once).
-- Dates without a time (starts_on, valid_until, …) are TEXT 'YYYY-MM-DD': fixed width, so they
-- sort and compare as dates on both backends.

-- Uploaded files: the bytes live content-addressed under <data_dir>/files/<sha256>; this row says
-- whose they are, what they are for and what they were called.
CREATE TABLE files (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('logo', 'contract', 'licence')),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    -- The acting user or API key (NULL for the system).
    uploaded_by TEXT,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX files_by_partner ON files (workspace_id, partner_id);

-- One profile per partner; the website is the partner's own column (one source of truth).
CREATE TABLE partner_profiles (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    legal_name TEXT,
    logo_file_id TEXT COLLATE "C",
    -- [{"label", "line1", "line2", "city", "postal_code", "region", "country"}]
    addresses TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    locator_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
    -- When the profile first became complete (the onboarding step and its audit event fire once).
    completed_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, logo_file_id) REFERENCES files (workspace_id, id)
);
CREATE INDEX partner_profiles_listed ON partner_profiles (workspace_id, locator_opt_in, partner_id);
-- The locator walks active partners by name (keyset pages on (name, id)).
CREATE INDEX partners_by_status_and_name ON partners (workspace_id, status, name, id);
-- The public logo route finds the listed partner of a logo by the file id alone.
CREATE INDEX partner_profiles_by_logo ON partner_profiles (logo_file_id);

-- Territories (countries, named regions), specialisations and products, one row per value, so
-- that the public locator filters through an index instead of parsing JSON.
CREATE TABLE partner_profile_terms (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('country', 'region', 'specialisation', 'product')),
    -- Lowercase, for matching; `value` keeps what was entered, `position` its order.
    match_key TEXT NOT NULL,
    value TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, kind, match_key),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX partner_profile_terms_by_key ON partner_profile_terms (workspace_id, kind, match_key, partner_id);

-- Changes to the legal name or territories asked for by a partner, waiting for the vendor.
CREATE TABLE profile_change_requests (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    -- The proposed values: {"legal_name": "…", "territories": {"countries": [...], "regions": [...]}}
    changes TEXT NOT NULL,
    -- superseded: replaced by a newer request of the same partner (which carries its changes on).
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
    requested_at BIGINT NOT NULL,
    decided_at BIGINT,
    reason TEXT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX profile_change_requests_by_status ON profile_change_requests (workspace_id, status, id);
CREATE INDEX profile_change_requests_by_partner ON profile_change_requests (workspace_id, partner_id, status);

CREATE TABLE contracts (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    title TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT,
    renews_on TEXT,
    file_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, file_id) REFERENCES files (workspace_id, id)
);
CREATE INDEX contracts_by_partner ON contracts (workspace_id, partner_id);
CREATE INDEX contracts_by_renewal ON contracts (workspace_id, renews_on);
CREATE INDEX contracts_by_end ON contracts (workspace_id, ends_on);

CREATE TABLE licences (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    file_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, file_id) REFERENCES files (workspace_id, id)
);
CREATE INDEX licences_by_partner ON licences (workspace_id, partner_id, valid_until);
CREATE INDEX licences_by_expiry ON licences (workspace_id, valid_until);

-- Reminders already queued: a contract or licence gets each stage once per due date (a changed
-- date starts a new cycle). Written by the system's daily run only.
CREATE TABLE reminders_sent (
    workspace_id TEXT COLLATE "C" NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL,
    -- 30_days, 7_days or expired
    stage TEXT NOT NULL,
    due_on TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, subject_id, stage, due_on)
);

-- Row-level security (the second wall): the same policy as every partner-owned table.

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
CREATE POLICY files_visible ON files
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE partner_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_profiles_visible ON partner_profiles
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE partner_profile_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_profile_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_profile_terms_visible ON partner_profile_terms
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE profile_change_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE profile_change_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY profile_change_requests_visible ON profile_change_requests
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE contracts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contracts FORCE ROW LEVEL SECURITY;
CREATE POLICY contracts_visible ON contracts
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

ALTER TABLE licences ENABLE ROW LEVEL SECURITY;
ALTER TABLE licences FORCE ROW LEVEL SECURITY;
CREATE POLICY licences_visible ON licences
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));
