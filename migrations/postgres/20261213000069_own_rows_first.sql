-- A partner's own rows pass row security without a probe of the closure table (issue 12's SCIM
-- list, ADR 0024). The policies below end in a correlated `EXISTS (… partner_ancestry …)` that
-- runs once per row read: about 7 µs a row, so counting the 50,000 people of one organisation
-- (SCIM's `totalResults`) cost 374 ms. Most partner reads are of the partner's own rows (its
-- people, its keys, its profile), and every partner is its own ancestor at depth 0, so testing
-- `partner_id = acting partner` first admits exactly the rows the probe would admit for them, at the
-- cost of a comparison; PostgreSQL evaluates the arguments of an OR in order and stops at the
-- first true one. Descendants' rows and restricted channel managers still take the probe, which
-- keeps its `OFFSET 0` (20261204000001): a page costs its length, not the subtree.
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
               OR %I.%I = current_setting(''trellis.acting_partner_id'', true)
               OR (%I.%I IS NULL AND current_setting(''trellis.acting_manager_id'', true) <> '''')
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.%I
                    AND (pa.ancestor_id = current_setting(''trellis.acting_partner_id'', true)
                         OR pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true))
                  OFFSET 0))',
            owned.table_name || '_visible', owned.table_name,
            owned.table_name, owned.partner_column,
            owned.table_name, owned.partner_column,
            owned.table_name, owned.table_name, owned.partner_column);
    END LOOP;
END;
$$;

DROP POLICY scim_identities_visible ON scim_identities;
CREATE POLICY scim_identities_visible ON scim_identities USING (current_user <> 'trellis_app'
    OR scim_identities.partner_id = current_setting('trellis.acting_partner_id', true)
    OR EXISTS (
        SELECT 1 FROM partner_ancestry pa
         WHERE pa.workspace_id = scim_identities.workspace_id AND pa.descendant_id = scim_identities.partner_id
           AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true))
         OFFSET 0));
