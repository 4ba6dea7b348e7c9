-- The console's work queues count failed and outbox emails of a workspace on every console page
-- (trellis_identity::background_work::backlog_in): an index by status, as jobs have
-- (jobs_by_workspace), so a count reads the entries it counts and no other email.
CREATE INDEX emails_by_status ON emails (workspace_id, status, id);

-- The console home's chart of applications per week reads the last weeks' applications.
CREATE INDEX applications_by_created ON applications (workspace_id, created_at);
