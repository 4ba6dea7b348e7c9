-- SCIM 2.0 provisioning of partner users (issue 12, ADR 0024). A partner organisation's identity
-- provider creates, changes, deactivates and deletes its people through /scim/v2/Users with an
-- organisation token (an API key whose only scope is 'scim').
--
-- What the provider said about a person in this organisation: its own id for them (externalId),
-- the names it sent (the organisation's view: an existing account's own name is never changed or
-- shown to it), and whether the person is active. `partner_users` keeps meaning "may act for the
-- partner": deactivating a person removes their row there and parks the role here, so that no
-- query elsewhere has to learn about inactive people.
CREATE TABLE scim_identities (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    external_id TEXT,
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    formatted_name TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    -- Whether the provider said the person is active, as it said it (NULL: it did not say, and
    -- the person is active); `roles` likewise, stated or not.
    active BOOLEAN,
    role_stated BOOLEAN NOT NULL,
    -- The role to restore on reactivation; set while inactive.
    parked_role TEXT CHECK (parked_role IN ('admin', 'sales', 'marketing', 'finance', 'member')),
    -- The account was created by this provisioning: its name follows the provider's.
    created_account BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id, user_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    CHECK (active IS NULL OR active OR parked_role IS NOT NULL)
);
CREATE INDEX scim_identities_by_user ON scim_identities (user_id);
CREATE UNIQUE INDEX scim_identities_by_external_id ON scim_identities (workspace_id, partner_id, external_id) WHERE external_id IS NOT NULL;

-- API keys may carry the scope 'scim' (alone): such a key works only at /scim/v2.

-- Row security as for partner_users (docs/ARCHITECTURE.md "The second wall").
ALTER TABLE scim_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY scim_identities_visible ON scim_identities USING (current_user <> 'trellis_app'
    OR EXISTS (
        SELECT 1 FROM partner_ancestry pa
         WHERE pa.workspace_id = scim_identities.workspace_id AND pa.descendant_id = scim_identities.partner_id
           AND (pa.ancestor_id = current_setting('trellis.acting_partner_id', true)
                OR pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true))));
