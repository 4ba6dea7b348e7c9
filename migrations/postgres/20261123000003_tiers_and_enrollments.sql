-- Tiers of a program, and partners' enrollments in programs (a partner may be in several programs
-- and holds one tier in each: hybrid partners are first-class).
CREATE TABLE tiers (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    -- Higher is better; unique within the program.
    rank BIGINT NOT NULL,
    -- {"all": [{"metric": "active_users", "op": ">=", "value": 3}, …]}
    requirements TEXT NOT NULL DEFAULT '{"all": []}',
    -- {"text": "…", "commission_override_bps": 2500, "mdf_allowance_minor": 500000, "content_access": ["gold"]}
    benefits TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, program_id, rank),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);

CREATE TABLE enrollments (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    tier_id TEXT COLLATE "C",
    -- A manual tier override sticks until removed; evaluation leaves the tier alone meanwhile.
    tier_overridden BOOLEAN NOT NULL DEFAULT FALSE,
    override_reason TEXT,
    enrolled_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, program_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id),
    FOREIGN KEY (workspace_id, tier_id) REFERENCES tiers (workspace_id, id)
);
CREATE INDEX enrollments_by_program ON enrollments (workspace_id, program_id, tier_id);

ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY enrollments_visible ON enrollments
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));
