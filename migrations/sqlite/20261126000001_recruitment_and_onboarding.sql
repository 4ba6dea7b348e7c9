-- Recruitment and onboarding: applications from the public form (each creates a partner in
-- status `applied`), the attempts that rate-limit the form, per-program onboarding checklists
-- with each partner's completed steps, and versioned partner agreements with their acceptances.

-- One application per applied partner; answers are {question_id: value}; duplicates lists what
-- matched an existing partner or application ([{"kind", "value", "partner_id", "partner_name",
-- "partner_status", "application_id"}]) and is shown to reviewers only.
CREATE TABLE applications (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'approved', 'rejected')),
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '{}',
    duplicates TEXT NOT NULL DEFAULT '[]',
    rejection_reason TEXT,
    ip TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;
CREATE INDEX applications_by_status ON applications (workspace_id, status, id);
CREATE INDEX applications_by_email ON applications (workspace_id, contact_email);

-- Every submission of the public form, accepted or not, counted per client address and per
-- program over a sliding window (like login_attempts for sign-in).
CREATE TABLE application_attempts (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;
CREATE INDEX application_attempts_by_ip ON application_attempts (workspace_id, ip, at);
CREATE INDEX application_attempts_by_program ON application_attempts (workspace_id, program_id, at);

-- A program's onboarding checklist. `kind` names an entry of the step-kind registry
-- (trellis_partners::onboarding::STEP_KINDS): later capabilities add kinds without a migration.
CREATE TABLE onboarding_steps (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    required INTEGER NOT NULL DEFAULT 1,
    position INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;
CREATE INDEX onboarding_steps_by_program ON onboarding_steps (workspace_id, program_id, position);

-- Who completed which step for a partner, and when.
CREATE TABLE onboarding_completions (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    completed_at INTEGER NOT NULL,
    completed_by_type TEXT NOT NULL CHECK (completed_by_type IN ('user', 'api_key', 'system')),
    completed_by_id TEXT,
    completed_by_email TEXT,
    PRIMARY KEY (workspace_id, partner_id, step_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, step_id) REFERENCES onboarding_steps (workspace_id, id)
) STRICT;

-- Versions of a program's partner agreement; the highest version is the one in force. A version
-- is never edited: a change is a new version.
CREATE TABLE agreements (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, program_id, version),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;

-- A partner's acceptance of one agreement version: who, when, from where.
CREATE TABLE agreement_acceptances (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    accepted_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT,
    PRIMARY KEY (workspace_id, partner_id, agreement_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, agreement_id) REFERENCES agreements (workspace_id, id)
) STRICT;
