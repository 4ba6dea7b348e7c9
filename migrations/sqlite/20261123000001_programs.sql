-- Partner programs. Slugs appear in public URLs (/apply/{slug}), so they are unique across the
-- instance: program_slugs is the instance-wide routing table, programs stay keyed by workspace.
CREATE TABLE programs (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    deal_registration INTEGER NOT NULL DEFAULT 1,
    referral_links INTEGER NOT NULL DEFAULT 0,
    default_protection_days INTEGER NOT NULL DEFAULT 90,
    accepting_applications INTEGER NOT NULL DEFAULT 1,
    -- [{"id": "…", "label": "…", "kind": "text|textarea|select", "required": bool, "options": [...]}]
    application_questions TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, slug)
) STRICT;

CREATE TABLE program_slugs (
    slug TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;
