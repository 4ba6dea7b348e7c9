-- Row security probes the closure table once per row read (issue 7 §1, bench/visibility.sh).
-- The policies of 20261203000002 end in `EXISTS (SELECT 1 FROM partner_ancestry …)`, which the
-- planner may turn into a hashed subplan when it expects many rows: it then reads every closure
-- row of the acting partner's subtree (50,000 for a large distributor) before returning the first
-- row of a 50-row page. `OFFSET 0` keeps the subquery correlated (PostgreSQL does not simplify an
-- EXISTS with an OFFSET), so a page costs its length whatever the size of the subtree. The
-- application-side filter ends its subquery the same way (`trellis_identity::scope`).
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
                         OR pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true))
                  OFFSET 0))',
            owned.table_name || '_visible', owned.table_name, owned.table_name, owned.partner_column,
            owned.table_name, owned.table_name, owned.partner_column);
    END LOOP;
END;
$$;
