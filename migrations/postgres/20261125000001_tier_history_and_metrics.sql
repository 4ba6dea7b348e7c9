-- Manually recorded partner metrics (staff record them; tier requirements read them through the
-- metric registry) and the tier history of each enrollment, with the explanation of every change.

CREATE TABLE partner_metric_values (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    -- A metric of the registry whose source is "recorded".
    metric TEXT COLLATE "C" NOT NULL,
    -- Integers as they are, booleans as 0/1: the registry knows the metric's type.
    value BIGINT NOT NULL,
    note TEXT,
    -- The user or API key that recorded the value.
    recorded_by TEXT COLLATE "C",
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, metric),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

ALTER TABLE partner_metric_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_metric_values FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_metric_values_visible ON partner_metric_values
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

CREATE TABLE tier_changes (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('enrolled', 'promotion', 'demotion', 'override', 'override_removed', 'unenrolled')),
    -- Tier ids and names as they were: history stays readable after a tier is renamed or deleted,
    -- so there is no foreign key to tiers.
    from_tier_id TEXT COLLATE "C",
    from_tier_name TEXT,
    to_tier_id TEXT COLLATE "C",
    to_tier_name TEXT,
    -- The reason staff gave for an override.
    reason TEXT,
    -- JSON: {"reached": {tier, requirements: [{metric, op, value, observed, passed}]}, "next": {…}}.
    explanation TEXT,
    actor_type TEXT NOT NULL,
    actor_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);
CREATE INDEX tier_changes_by_partner ON tier_changes (workspace_id, partner_id, program_id, id);

ALTER TABLE tier_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tier_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tier_changes_visible ON tier_changes
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));
