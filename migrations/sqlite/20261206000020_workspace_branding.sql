-- Workspace branding (issue 8): the public pages (application form, partner locator, invitation
-- and sign-in pages that know the workspace) carry the vendor's accent colour and logo. The colour
-- is a validated `#rrggbb` with readable contrast against white; the logo is a re-encoded PNG or
-- JPEG stored content-addressed under the data directory like partner logos (`files/<sha256>`),
-- named here by its hash and type (it belongs to no partner, so it has no `files` row).
ALTER TABLE workspaces ADD COLUMN brand_colour TEXT;
ALTER TABLE workspaces ADD COLUMN brand_logo_sha256 TEXT;
ALTER TABLE workspaces ADD COLUMN brand_logo_type TEXT;
