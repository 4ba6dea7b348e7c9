-- A one-time secret carried by an email (an invitation link): replaced in the stored bodies once
-- the email is delivered, so the outbox does not keep a working link.
ALTER TABLE emails ADD COLUMN secret TEXT;

-- The console lists a workspace's jobs by status, newest first.
CREATE INDEX jobs_by_workspace ON jobs (workspace_id, status, id);
