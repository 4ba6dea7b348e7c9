-- Tiers of a program, and partners' enrollments in programs (a partner may be in several programs
-- and holds one tier in each: hybrid partners are first-class).
CREATE TABLE tiers (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Higher is better; unique within the program.
    rank INTEGER NOT NULL,
    -- {"all": [{"metric": "active_users", "op": ">=", "value": 3}, …]}
    requirements TEXT NOT NULL DEFAULT '{"all": []}',
    -- {"text": "…", "commission_override_bps": 2500, "mdf_allowance_minor": 500000, "content_access": ["gold"]}
    benefits TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, program_id, rank),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;

CREATE TABLE enrollments (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    tier_id TEXT,
    -- A manual tier override sticks until removed; evaluation leaves the tier alone meanwhile.
    tier_overridden INTEGER NOT NULL DEFAULT 0,
    override_reason TEXT,
    enrolled_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, program_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id),
    FOREIGN KEY (workspace_id, tier_id) REFERENCES tiers (workspace_id, id)
) STRICT;
CREATE INDEX enrollments_by_program ON enrollments (workspace_id, program_id, tier_id);
