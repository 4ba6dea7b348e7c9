-- The partner hierarchy as a closure table (issue 7): one row per (ancestor, descendant) pair, every
-- partner being its own ancestor at depth 0. "This partner and everything under it" and "the partners
-- this channel manager manages and everything under them" become one indexed lookup per row instead
-- of a walk of the subtree, so what a distributor's request costs no longer grows with its resellers.
-- `ancestor_manager_user_id` copies the ancestor's `manager_user_id`, so a restricted channel
-- manager's rule needs no join back to partners (on PostgreSQL that join would recurse into the
-- partners table's own row-security policy).
--
-- Triggers keep the table in the statement that changes partners — insert, re-parenting, change of
-- manager — whichever code path makes the change, so it cannot be forgotten or fall behind.
CREATE TABLE partner_ancestry (
    workspace_id TEXT NOT NULL,
    ancestor_id TEXT NOT NULL,
    descendant_id TEXT NOT NULL,
    depth INTEGER NOT NULL,
    ancestor_manager_user_id TEXT,
    PRIMARY KEY (workspace_id, ancestor_id, descendant_id),
    FOREIGN KEY (workspace_id, ancestor_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, descendant_id) REFERENCES partners (workspace_id, id)
) STRICT, WITHOUT ROWID;
-- A partner's ancestors (at most the depth of the tree): the per-row check of both rules. It covers
-- every column, so it is read alone (without it SQLite prefers a scan of the workspace's primary
-- key range over a non-covering index of a WITHOUT ROWID table).
CREATE INDEX partner_ancestry_up ON partner_ancestry (workspace_id, descendant_id, ancestor_id, depth, ancestor_manager_user_id);
-- Everything under the partners one channel manager manages.
CREATE INDEX partner_ancestry_by_manager ON partner_ancestry (workspace_id, ancestor_manager_user_id, descendant_id)
    WHERE ancestor_manager_user_id IS NOT NULL;

WITH RECURSIVE up (workspace_id, descendant_id, ancestor_id, depth) AS (
    SELECT workspace_id, id, id, 0 FROM partners
    UNION ALL
    SELECT up.workspace_id, up.descendant_id, p.parent_id, up.depth + 1
      FROM up JOIN partners p ON p.workspace_id = up.workspace_id AND p.id = up.ancestor_id
     WHERE p.parent_id IS NOT NULL
)
INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
SELECT up.workspace_id, up.ancestor_id, up.descendant_id, up.depth, a.manager_user_id
  FROM up JOIN partners a ON a.workspace_id = up.workspace_id AND a.id = up.ancestor_id;

-- A new partner is its own ancestor and inherits its parent's ancestors, one level further away.
CREATE TRIGGER partners_ancestry_on_insert AFTER INSERT ON partners
BEGIN
    INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
    VALUES (NEW.workspace_id, NEW.id, NEW.id, 0, NEW.manager_user_id);
    INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
    SELECT NEW.workspace_id, up.ancestor_id, NEW.id, up.depth + 1, up.ancestor_manager_user_id
      FROM partner_ancestry up
     WHERE up.workspace_id = NEW.workspace_id AND up.descendant_id = NEW.parent_id;
END;

-- Re-parenting moves the whole subtree: its links to the old ancestors go, links to the new parent
-- and its ancestors come. Links inside the subtree stay. Costs (old + new depth) x subtree rows.
CREATE TRIGGER partners_ancestry_on_move AFTER UPDATE OF parent_id ON partners
WHEN OLD.parent_id IS NOT NEW.parent_id
BEGIN
    -- The service refuses this with a field error first; the trigger keeps the table a tree.
    SELECT RAISE(ABORT, 'a partner cannot move under its own subtree')
     WHERE EXISTS (SELECT 1 FROM partner_ancestry
                    WHERE workspace_id = NEW.workspace_id AND ancestor_id = NEW.id AND descendant_id = NEW.parent_id);
    DELETE FROM partner_ancestry
     WHERE workspace_id = NEW.workspace_id
       AND ancestor_id IN (SELECT ancestor_id FROM partner_ancestry
                            WHERE workspace_id = NEW.workspace_id AND descendant_id = NEW.id AND depth > 0)
       AND descendant_id IN (SELECT descendant_id FROM partner_ancestry
                              WHERE workspace_id = NEW.workspace_id AND ancestor_id = NEW.id);
    INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
    SELECT NEW.workspace_id, up.ancestor_id, down.descendant_id, up.depth + down.depth + 1, up.ancestor_manager_user_id
      FROM partner_ancestry up
      JOIN partner_ancestry down ON down.workspace_id = up.workspace_id AND down.ancestor_id = NEW.id
     WHERE up.workspace_id = NEW.workspace_id AND up.descendant_id = NEW.parent_id;
END;

CREATE TRIGGER partners_ancestry_on_manager AFTER UPDATE OF manager_user_id ON partners
WHEN OLD.manager_user_id IS NOT NEW.manager_user_id
BEGIN
    UPDATE partner_ancestry SET ancestor_manager_user_id = NEW.manager_user_id
     WHERE workspace_id = NEW.workspace_id AND ancestor_id = NEW.id;
END;

-- A partner's children and a manager's partners, newest first: the page is read from the index
-- without sorting all of them (a distributor may have tens of thousands of resellers).
DROP INDEX partners_by_parent;
CREATE INDEX partners_by_parent ON partners (workspace_id, parent_id, id);
DROP INDEX partners_by_manager;
CREATE INDEX partners_by_manager ON partners (workspace_id, manager_user_id, id);
