-- The console's audit log filters by person, action and kind of object and pages newest first
-- (identity::audit::list): each filter has an index ending in the sequence, so a filtered page
-- reads its 50 events from the index in order instead of sorting every matching event (a million
-- events of one action would otherwise be read to show 50). The action and object-type pickers
-- walk the same indexes one distinct value at a time (identity::audit::distinct_values). The
-- older (workspace, action) and (workspace, target) indexes are replaced by their sequence forms.
DROP INDEX audit_events_by_action;
DROP INDEX audit_events_by_target;
CREATE INDEX audit_events_by_action ON audit_events (workspace_id, action, seq);
CREATE INDEX audit_events_by_target ON audit_events (workspace_id, target_id, seq);
CREATE INDEX audit_events_by_target_type ON audit_events (workspace_id, target_type, seq);
CREATE INDEX audit_events_by_actor ON audit_events (workspace_id, actor_id, seq);
CREATE INDEX audit_events_by_actor_type ON audit_events (workspace_id, actor_type, seq);

-- Who caused an email: the signed-in person whose request queued it (NULL for emails of the
-- system: public forms, jobs, scheduled reminders). A channel manager's outbox lists the emails
-- they caused, newest first, through the index.
ALTER TABLE emails ADD COLUMN caused_by_user_id TEXT COLLATE "C";
CREATE INDEX emails_by_causer ON emails (workspace_id, caused_by_user_id, id);

-- The outbox's kind filter reads its page through an index, and its picker walks the same index
-- one kind at a time (identity::background_work::email_kinds).
CREATE INDEX emails_by_kind ON emails (workspace_id, kind, id);
