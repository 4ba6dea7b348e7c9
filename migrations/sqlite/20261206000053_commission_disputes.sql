-- PostgreSQL only: the row policy of disputes keeps a commission's dispute to its own
-- organisation (SQLite has no row security; the dispute service's filter is the control there).
-- The same stem keeps both backends' migration lists equal.
SELECT 1;
