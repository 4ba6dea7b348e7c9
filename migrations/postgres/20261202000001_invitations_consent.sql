-- Invitations carry what they offer (a staff role, or a role in a partner organisation) and create
-- the membership only when the invitee accepts (issue 6, F2): inviting an address touches no
-- account, and an existing account joins only with its own consent. The old table tied an
-- invitation to a user whose membership already existed; its pending rows are carried over.
CREATE TABLE invitations_new (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id),
    id TEXT COLLATE "C" NOT NULL,
    token_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('staff', 'partner')),
    partner_id TEXT COLLATE "C",
    role TEXT NOT NULL,
    partner_scope TEXT CHECK (partner_scope IS NULL OR partner_scope IN ('all', 'assigned')),
    -- The name the inviter gave: used only when the invitee creates a new account.
    name TEXT NOT NULL DEFAULT '',
    invited_by TEXT COLLATE "C" REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('invited', 'accepted', 'declined', 'cancelled')),
    -- Who accepted (a new or an existing account).
    user_id TEXT COLLATE "C" REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    CHECK ((kind = 'partner') = (partner_id IS NOT NULL))
);

INSERT INTO invitations_new (workspace_id, id, token_hash, email, kind, partner_id, role, partner_scope, name, status, user_id, created_at, expires_at, decided_at)
SELECT i.workspace_id, i.id, i.token_hash, u.email,
       CASE WHEN m.user_id IS NOT NULL THEN 'staff' ELSE 'partner' END,
       CASE WHEN m.user_id IS NOT NULL THEN NULL ELSE pu.partner_id END,
       COALESCE(m.role, pu.role), m.partner_scope, u.name,
       CASE WHEN i.used_at IS NULL THEN 'invited' ELSE 'accepted' END,
       u.id, i.created_at, i.expires_at, i.used_at
FROM invitations i
JOIN users u ON u.id = i.user_id
LEFT JOIN members m ON m.workspace_id = i.workspace_id AND m.user_id = i.user_id
LEFT JOIN partner_users pu ON pu.workspace_id = i.workspace_id AND pu.user_id = i.user_id
    AND pu.partner_id = (SELECT MIN(x.partner_id) FROM partner_users x WHERE x.workspace_id = i.workspace_id AND x.user_id = i.user_id)
WHERE m.user_id IS NOT NULL OR pu.user_id IS NOT NULL;

DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
ALTER TABLE invitations RENAME CONSTRAINT invitations_new_pkey TO invitations_pkey;
CREATE INDEX invitations_by_token ON invitations (token_hash);
CREATE INDEX invitations_by_target ON invitations (workspace_id, kind, partner_id, status, id);
-- The invitations waiting for a person, shown when they sign in.
CREATE INDEX invitations_by_email ON invitations (email, status);

-- Partner-user invitations belong to their partner: the same second wall as every table with a
-- partner_id column (staff invitations, partner_id NULL, are invisible to trellis_app).
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_visible ON invitations
    USING (current_user <> 'trellis_app'
           OR partner_id = ANY (string_to_array(current_setting('trellis.visible_partner_ids', true), ',')));

-- A sign-in token acts as the membership it was issued for when the user had exactly one; tokens
-- of users with several name theirs in Trellis-Membership (API.md). Tokens now record a membership
-- only in the first case.
UPDATE sessions SET workspace_id = NULL, partner_id = NULL
WHERE kind = 'token'
  AND (SELECT COUNT(*) FROM members m WHERE m.user_id = sessions.user_id)
    + (SELECT COUNT(*) FROM partner_users pu WHERE pu.user_id = sessions.user_id) > 1;
