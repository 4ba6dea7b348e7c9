-- Sessions record the partner a partner user acts for (partner_id), so they get the same
-- row-level security as every other table with a partner_id column: a transaction running as
-- trellis_app for a partner sees and deletes only the sessions of the partners it may see.
-- (tests/it/rls.rs checks that every table with a partner_id column is covered.)
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_visible ON sessions
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));
