-- A partner's new registration (and a restricted manager's on a partner's behalf) must pass row
-- security as it is inserted, before the triggers on `deals` have written its `deal_ancestry`
-- rows, which `deals_visible` probes: that policy alone refused every partner's INSERT on
-- PostgreSQL. Permissive policies are OR'ed, so this one admits the new row of a partner the
-- caller sees through `partner_ancestry` (as the partner filter does), and nothing else.
CREATE POLICY deals_insert_visible_partner ON deals FOR INSERT WITH CHECK (current_user <> 'trellis_app'
    OR (deals.partner_id IS NULL AND current_setting('trellis.acting_manager_id', true) <> '')
    OR EXISTS (SELECT 1 FROM partner_ancestry pa
                WHERE pa.workspace_id = deals.workspace_id AND pa.descendant_id = deals.partner_id
                  AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                       OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true)) OFFSET 0));
