-- A workspace may require two-step sign-in (issue 12): of its staff, and of its partners' admins.
-- Someone it applies to without an authenticator app signs in, but can only set one up until
-- they do (docs/API.md "Two-step sign-in required by the workspace").
ALTER TABLE workspaces ADD COLUMN mfa_required_staff INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required_staff IN (0, 1));
ALTER TABLE workspaces ADD COLUMN mfa_required_partner_admins INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required_partner_admins IN (0, 1));
