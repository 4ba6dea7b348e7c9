-- A workspace may require two-step sign-in (issue 12): of its staff, and of its partners' admins.
-- Someone it applies to without an authenticator app signs in, but can only set one up until
-- they do (docs/API.md "Two-step sign-in required by the workspace").
ALTER TABLE workspaces ADD COLUMN mfa_required_staff BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE workspaces ADD COLUMN mfa_required_partner_admins BOOLEAN NOT NULL DEFAULT FALSE;
