-- Each audit event's partner (identity::audit::subject_partner): the target when it is a partner,
-- else the partner its changes name ({"partner_id": [null, "ptn_…"]}). Indexed with the sequence,
-- so a partner's lifecycle timeline reads that partner's events instead of every event of a few
-- actions in the workspace. Derived from fields the hash chain covers; `trellis audit verify`
-- checks it. Earlier events get it with the same rule (the append-only trigger is lifted for that
-- one statement, inside this migration's transaction).
ALTER TABLE audit_events ADD COLUMN subject_partner_id TEXT COLLATE "C";

ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
UPDATE audit_events SET subject_partner_id = CASE
    WHEN target_type = 'partner' THEN target_id
    WHEN jsonb_typeof(changes::jsonb -> 'partner_id' -> 1) = 'string' THEN changes::jsonb -> 'partner_id' ->> 1
END;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;

CREATE INDEX audit_events_by_partner ON audit_events (workspace_id, subject_partner_id, seq);
