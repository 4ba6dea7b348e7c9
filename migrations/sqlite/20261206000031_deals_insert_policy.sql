-- PostgreSQL only: the insert policy of deals (SQLite has no row security; the scope filter is
-- the control there). The same stem keeps both backends' migration lists equal.
SELECT 1;
