-- Listing an organisation's people through SCIM (ADR 0024) merges its users with the people whose
-- role is parked (deactivated by the provider, or removed by an admin), read in id order: a
-- partial index keeps the second side as small as the number of such people.
--
-- A provisioned person an admin removed before this migration had no parked role: they get the
-- least one, restored if the provider reactivates them.
UPDATE scim_identities SET parked_role = 'member'
WHERE parked_role IS NULL
  AND NOT EXISTS (SELECT 1 FROM partner_users pu
                  WHERE pu.workspace_id = scim_identities.workspace_id
                    AND pu.partner_id = scim_identities.partner_id
                    AND pu.user_id = scim_identities.user_id);
CREATE INDEX scim_identities_parked ON scim_identities (workspace_id, partner_id, user_id) WHERE parked_role IS NOT NULL;
