-- PostgreSQL only (row security on inserts of `deals`); SQLite has no row security, and the
-- migrations of both databases keep the same stems.
SELECT 1;
