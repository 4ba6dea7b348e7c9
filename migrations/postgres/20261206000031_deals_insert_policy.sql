-- A new deal's listing rows (deal_ancestry) are written by the trigger after its insert, so the
-- visibility policy of deals, which reads them, refuses every partner's own registration as its
-- WITH CHECK. Inserting is allowed where the deal's partner is visible to who acts: a partner
-- registers for itself or (staff on the way) a descendant; a restricted manager for the partners
-- they manage and the direct pipeline. Permissive policies add up, so the visibility policy stays
-- as it is for reads and updates.
CREATE POLICY deals_registered_for_visible ON deals FOR INSERT
    WITH CHECK (current_user <> 'trellis_app'
                OR (deals.partner_id IS NULL AND current_setting('trellis.acting_manager_id', true) <> '')
                OR EXISTS (SELECT 1 FROM partner_ancestry pa
                            WHERE pa.workspace_id = deals.workspace_id AND pa.descendant_id = deals.partner_id
                              AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                                   OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true))
                            OFFSET 0));
