-- The partner hierarchy as a closure table (issue 7): one row per (ancestor, descendant) pair, every
-- partner being its own ancestor at depth 0. "This partner and everything under it" and "the partners
-- this channel manager manages and everything under them" become one indexed lookup per row instead
-- of a walk of the subtree, so what a distributor's request costs no longer grows with its resellers.
-- `ancestor_manager_user_id` copies the ancestor's `manager_user_id`, so a restricted channel
-- manager's rule needs no join back to partners (that join would recurse into the partners table's
-- own row-security policy).
--
-- Triggers keep the table in the statement that changes partners — insert, re-parenting, change of
-- manager — whichever code path makes the change, so it cannot be forgotten or fall behind.
CREATE TABLE partner_ancestry (
    workspace_id TEXT COLLATE "C" NOT NULL,
    ancestor_id TEXT COLLATE "C" NOT NULL,
    descendant_id TEXT COLLATE "C" NOT NULL,
    depth INTEGER NOT NULL,
    ancestor_manager_user_id TEXT COLLATE "C",
    PRIMARY KEY (workspace_id, ancestor_id, descendant_id),
    FOREIGN KEY (workspace_id, ancestor_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, descendant_id) REFERENCES partners (workspace_id, id)
);
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

-- The triggers run as the table owner (SECURITY DEFINER): a distributor adding a reseller must link
-- it to the distributor's own ancestors, rows its row security does not let it see or write.
-- search_path is pinned to the schema the migration runs in.
CREATE FUNCTION partners_ancestry_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
    VALUES (NEW.workspace_id, NEW.id, NEW.id, 0, NEW.manager_user_id);
    INSERT INTO partner_ancestry (workspace_id, ancestor_id, descendant_id, depth, ancestor_manager_user_id)
    SELECT NEW.workspace_id, up.ancestor_id, NEW.id, up.depth + 1, up.ancestor_manager_user_id
      FROM partner_ancestry up
     WHERE up.workspace_id = NEW.workspace_id AND up.descendant_id = NEW.parent_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER partners_ancestry_on_insert AFTER INSERT ON partners
    FOR EACH ROW EXECUTE FUNCTION partners_ancestry_on_insert();

-- Re-parenting moves the whole subtree: its links to the old ancestors go, links to the new parent
-- and its ancestors come. Links inside the subtree stay. Costs (old + new depth) x subtree rows.
CREATE FUNCTION partners_ancestry_on_move() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    -- The service refuses this with a field error first; the trigger keeps the table a tree.
    IF EXISTS (SELECT 1 FROM partner_ancestry
                WHERE workspace_id = NEW.workspace_id AND ancestor_id = NEW.id AND descendant_id = NEW.parent_id) THEN
        RAISE EXCEPTION 'a partner cannot move under its own subtree';
    END IF;
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
    RETURN NULL;
END;
$$;
CREATE TRIGGER partners_ancestry_on_move AFTER UPDATE OF parent_id ON partners
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id) EXECUTE FUNCTION partners_ancestry_on_move();

CREATE FUNCTION partners_ancestry_on_manager() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE partner_ancestry SET ancestor_manager_user_id = NEW.manager_user_id
     WHERE workspace_id = NEW.workspace_id AND ancestor_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER partners_ancestry_on_manager AFTER UPDATE OF manager_user_id ON partners
    FOR EACH ROW WHEN (OLD.manager_user_id IS DISTINCT FROM NEW.manager_user_id) EXECUTE FUNCTION partners_ancestry_on_manager();

-- Row security keyed by who acts, not by a list of ids computed at sign-in: a transaction running as
-- trellis_app for a partner carries `trellis.acting_partner_id`, one for a channel manager limited to
-- the partners they manage `trellis.acting_manager_id` (now restricted here too, not only in the
-- application). A row is visible when its partner has the acting partner, or a partner the acting
-- manager manages, among its ancestors: at most depth-of-the-tree index entries per row.
-- `trellis.visible_partner_ids` is no longer read.
ALTER TABLE partner_ancestry ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_ancestry FORCE ROW LEVEL SECURITY;
CREATE POLICY partner_ancestry_visible ON partner_ancestry
    USING (current_user <> 'trellis_app'
           OR ancestor_id = current_setting('trellis.acting_partner_id', true)
           OR ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true));

DO $$
DECLARE
    owned RECORD;
BEGIN
    FOR owned IN SELECT * FROM (VALUES
        ('partners', 'id'), ('partner_users', 'partner_id'), ('api_keys', 'partner_id'), ('sessions', 'partner_id'),
        ('applications', 'partner_id'), ('onboarding_completions', 'partner_id'), ('agreement_acceptances', 'partner_id'),
        ('enrollments', 'partner_id'), ('partner_metric_values', 'partner_id'), ('tier_changes', 'partner_id'),
        ('files', 'partner_id'), ('partner_profiles', 'partner_id'), ('partner_profile_terms', 'partner_id'),
        ('profile_change_requests', 'partner_id'), ('contracts', 'partner_id'), ('licences', 'partner_id'),
        ('invitations', 'partner_id')
    ) AS t (table_name, partner_column)
    LOOP
        EXECUTE format('DROP POLICY %I ON %I', owned.table_name || '_visible', owned.table_name);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR (%I.%I IS NULL AND current_setting(''trellis.acting_manager_id'', true) <> '''')
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.%I
                    AND (pa.ancestor_id = current_setting(''trellis.acting_partner_id'', true)
                         OR pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true))))',
            owned.table_name || '_visible', owned.table_name, owned.table_name, owned.partner_column,
            owned.table_name, owned.table_name, owned.partner_column);
    END LOOP;
END;
$$;

-- A partner (a distributor's admin) creates resellers under a partner it sees; a restricted channel
-- manager, being staff, may create any partner (what they then see is their managed subtree). The
-- new row cannot pass the rule above yet: its ancestry is written by the AFTER trigger.
CREATE POLICY partners_created_under_visible ON partners FOR INSERT
    WITH CHECK (current_user <> 'trellis_app'
                OR current_setting('trellis.acting_manager_id', true) <> ''
                OR EXISTS (SELECT 1 FROM partner_ancestry pa
                            WHERE pa.workspace_id = partners.workspace_id AND pa.descendant_id = partners.parent_id
                              AND pa.ancestor_id = current_setting('trellis.acting_partner_id', true)));

-- A partner's children and a manager's partners, newest first: the page is read from the index
-- without sorting all of them (a distributor may have tens of thousands of resellers).
DROP INDEX partners_by_parent;
CREATE INDEX partners_by_parent ON partners (workspace_id, parent_id, id);
DROP INDEX partners_by_manager;
CREATE INDEX partners_by_manager ON partners (workspace_id, manager_user_id, id);
