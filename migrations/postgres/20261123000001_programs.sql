-- Partner programs. Slugs appear in public URLs (/apply/{slug}), so they are unique across the
-- instance: program_slugs is the instance-wide routing table, programs stay keyed by workspace.
CREATE TABLE programs (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    deal_registration BOOLEAN NOT NULL DEFAULT TRUE,
    referral_links BOOLEAN NOT NULL DEFAULT FALSE,
    default_protection_days BIGINT NOT NULL DEFAULT 90,
    accepting_applications BOOLEAN NOT NULL DEFAULT TRUE,
    -- [{"id": "…", "label": "…", "kind": "text|textarea|select", "required": bool, "options": [...]}]
    application_questions TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, slug)
);

CREATE TABLE program_slugs (
    slug TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);
