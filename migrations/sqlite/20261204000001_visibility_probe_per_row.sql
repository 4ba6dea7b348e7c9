-- PostgreSQL only: its row-security policies now probe the closure table once per row read (see
-- migrations/postgres/20261204000001). SQLite has no row security; the application-side filter
-- is the same text on both backends. Kept so both backends have the same migration versions.
SELECT 1;
