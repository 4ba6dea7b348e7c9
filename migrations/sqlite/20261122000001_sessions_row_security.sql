-- PostgreSQL puts sessions under row-level security in this migration. SQLite has no row
-- security (the application's Scope is the only wall there); this file keeps the migration
-- versions of both backends identical.
SELECT 1;
