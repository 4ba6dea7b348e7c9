-- Manually recorded partner metrics (staff record them; tier requirements read them through the
-- metric registry) and the tier history of each enrollment, with the explanation of every change.

CREATE TABLE partner_metric_values (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    -- A metric of the registry whose source is "recorded".
    metric TEXT NOT NULL,
    -- Integers as they are, booleans as 0/1: the registry knows the metric's type.
    value INTEGER NOT NULL,
    note TEXT,
    -- The user or API key that recorded the value.
    recorded_by TEXT,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, metric),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;

CREATE TABLE tier_changes (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('enrolled', 'promotion', 'demotion', 'override', 'override_removed', 'unenrolled')),
    -- Tier ids and names as they were: history stays readable after a tier is renamed or deleted,
    -- so there is no foreign key to tiers.
    from_tier_id TEXT,
    from_tier_name TEXT,
    to_tier_id TEXT,
    to_tier_name TEXT,
    -- The reason staff gave for an override.
    reason TEXT,
    -- JSON: {"reached": {tier, requirements: [{metric, op, value, observed, passed}]}, "next": {…}}.
    explanation TEXT,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;
CREATE INDEX tier_changes_by_partner ON tier_changes (workspace_id, partner_id, program_id, id);
