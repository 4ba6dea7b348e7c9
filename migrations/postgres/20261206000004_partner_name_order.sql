-- The console's partner list sorts by name, case-insensitively, and pages by (name, id): an index
-- on exactly that key answers a page of 50 by reading 50 entries, whatever the workspace's size.
-- It replaces the plain (workspace, name) index, which nothing else orders by.
DROP INDEX partners_by_name;
CREATE INDEX partners_by_lower_name ON partners (workspace_id, LOWER(name), id);
