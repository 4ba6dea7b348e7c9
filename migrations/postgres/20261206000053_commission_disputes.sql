-- Disputes of a commission (issue 10; crates/trellis-deals/src/disputes.rs). A dispute of a deal
-- stays visible to the deal partner's ancestors (a distributor works its resellers' deals); a
-- dispute of a commission is money, private to the organisation like the commission itself
-- (ADR 0016): a partner sees only its own, a restricted manager those of the partners they manage.
DROP POLICY disputes_visible ON disputes;
CREATE POLICY disputes_visible ON disputes USING (current_user <> 'trellis_app'
    OR (disputes.subject_type <> 'commission' AND EXISTS (
        SELECT 1 FROM partner_ancestry pa
         WHERE pa.workspace_id = disputes.workspace_id AND pa.descendant_id = disputes.partner_id
           AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true))
         OFFSET 0))
    OR (disputes.subject_type = 'commission' AND (
        disputes.partner_id = current_setting('trellis.acting_partner_id', true)
        OR EXISTS (
            SELECT 1 FROM partner_ancestry pa
             WHERE pa.workspace_id = disputes.workspace_id AND pa.descendant_id = disputes.partner_id
               AND pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true)
             OFFSET 0))));
