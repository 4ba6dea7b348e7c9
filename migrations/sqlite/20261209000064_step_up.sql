-- Step-up re-authentication (issue 12): when the person behind a session last proved who they
-- are (signing in, or confirming with their password). Approving payouts, changing payout methods,
-- creating keys and changing roles need it within the last 5 minutes.
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET authenticated_at = created_at;
