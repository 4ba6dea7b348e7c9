-- PostgreSQL only: its row-security policies admit a partner's own rows before probing the closure
-- table (see migrations/postgres/20261213000069). SQLite has no row security. Kept so both
-- backends have the same migration versions.
SELECT 1;
