//! Workspaces (tenants) and their settings, and bootstrapping a workspace with its owner.

use serde_json::json;
use trellis_core::{Bic, Currency, Domain, Email, Error, Iban, Result, Timestamp, UserId, Validation, VendorRole, WorkspaceId};
use trellis_db::{SystemGrant, Tx, sql};

use crate::audit::{self, AuditEntry};
use crate::scope::Scope;
use crate::{Ctx, api_keys, password};

/// Workspace settings are not partner-owned; changing them is for owners/admins (checked).
pub const WORKSPACE_RECORDS: SystemGrant =
    SystemGrant { name: "workspace_records", reason: "workspace settings are not partner-owned (owner/admin, checked)" };

/// Public pages (`/apply/{slug}`, `/partners`, the brand stylesheet and logo) carry the vendor's
/// name and branding: nobody is signed in, and only the name, the accent colour and the logo leave.
pub const PUBLIC_VENDOR_NAME: SystemGrant = SystemGrant {
    name: "public_vendor_name",
    reason: "the public pages show the vendor's name and branding to visitors who are not signed in; only the name, accent colour and logo leave",
};

/// The workspace's name for a public page of it (the application form, the partner locator).
pub async fn public_name(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<String> {
    Ok(public_brand(ctx, workspace_id).await?.name)
}

/// What a public page of a workspace shows of it: its name and branding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBrand {
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// The accent colour, `#rrggbb` (checked for contrast when set).
    pub colour: Option<String>,
    pub logo: Option<BrandLogo>,
}

/// The workspace's name and branding for a public page of it; 404 for no such workspace.
pub async fn public_brand(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<PublicBrand> {
    let mut tx = ctx.db.read_granted(&PUBLIC_VENDOR_NAME).await?;
    let row = tx
        .fetch_optional(sql!("SELECT name, brand_colour, brand_logo_sha256, brand_logo_type FROM workspaces WHERE id = $1", workspace_id))
        .await?
        .ok_or(Error::NotFound)?;
    Ok(PublicBrand { workspace_id: workspace_id.clone(), name: row.get("name")?, colour: row.get("brand_colour")?, logo: logo_of(&row)? })
}

fn logo_of(row: &trellis_db::Row) -> Result<Option<BrandLogo>> {
    let sha256: Option<String> = row.get("brand_logo_sha256")?;
    let content_type: Option<String> = row.get("brand_logo_type")?;
    Ok(sha256.zip(content_type).map(|(sha256, content_type)| BrandLogo { sha256, content_type }))
}

/// The workspace's logo: a re-encoded PNG or JPEG stored under the data directory by its hash
/// (`trellis_records::branding` checks and stores it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrandLogo {
    pub sha256: String,
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
}

impl BrandLogo {
    /// A short version of the logo for cache-busting URLs.
    pub fn version(&self) -> &str {
        self.sha256.get(..16).unwrap_or(&self.sha256)
    }
}

/// The least contrast an accent colour must have against white (WCAG 2 AA for normal text): the
/// colour is the background of buttons with white text and the colour of links on white.
pub const MIN_BRAND_CONTRAST: f64 = 4.5;

/// The WCAG 2 contrast ratio of an sRGB colour against white.
pub fn contrast_with_white(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2]);
    1.05 / (luminance + 0.05)
}

/// An accent colour as `#rrggbb` (lower case), or why it is refused: not of that form, or too
/// light for white text on it (contrast below [`MIN_BRAND_CONTRAST`]).
pub fn parse_brand_colour(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    let hex = text.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(hex) = hex else { return Err("must be a colour written #rrggbb, such as #1f6f5c".to_owned()) };
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    let ratio = contrast_with_white([channel(0), channel(2), channel(4)]);
    if ratio < MIN_BRAND_CONTRAST {
        return Err(format!(
            "is too light: white text on it has a contrast of {:.1}:1, and at least {MIN_BRAND_CONTRAST}:1 is needed to be readable; choose a darker colour",
            (ratio * 10.0).floor() / 10.0
        ));
    }
    Ok(format!("#{}", hex.to_ascii_lowercase()))
}

/// Operator commands (`trellis bootstrap`, `trellis api-key create`) run with direct database
/// access and no signed-in person.
pub const OPERATOR_CLI: SystemGrant = SystemGrant {
    name: "operator_cli",
    reason: "operator commands with direct database access: bootstrap a workspace, create a key for a staff member",
};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SepaDebtor {
    pub name: String,
    pub iban: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub default_currency: String,
    pub allowed_redirect_domains: Vec<String>,
    pub sepa_debtor: Option<SepaDebtor>,
    pub distributors_manage_resellers: bool,
    /// The accent colour of the public pages, `#rrggbb`.
    pub brand_colour: Option<String>,
    /// The logo of the public pages.
    pub brand_logo: Option<BrandLogo>,
    /// Two-step sign-in required of staff, and of partners' admins ([`crate::auth`] holds
    /// someone it applies to at setting up an authenticator app until they have one).
    pub mfa_required_staff: bool,
    pub mfa_required_partner_admins: bool,
    pub created_at: Timestamp,
}

/// A change to the settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub default_currency: Option<String>,
    pub allowed_redirect_domains: Option<Vec<String>>,
    /// `Some(None)` removes the debtor account.
    pub sepa_debtor: Option<Option<SepaDebtor>>,
    pub distributors_manage_resellers: Option<bool>,
    /// `Some(None)` removes the accent colour (the public pages use Trellis's).
    pub brand_colour: Option<Option<String>>,
    /// `Some(None)` removes the logo; a new one comes checked and stored from
    /// `trellis_records::branding::store_logo`.
    pub brand_logo: Option<Option<BrandLogo>>,
    pub mfa_required_staff: Option<bool>,
    pub mfa_required_partner_admins: Option<bool>,
}

/// The workspace's settings inside a transaction (unmasked: for services, not for display).
pub async fn get_in(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<Workspace> {
    load(tx, workspace_id).await
}

pub(crate) async fn load(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<Workspace> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT id, name, default_currency, allowed_redirect_domains, sepa_debtor, distributors_manage_resellers, brand_colour, brand_logo_sha256, brand_logo_type,
                    mfa_required_staff, mfa_required_partner_admins, created_at
             FROM workspaces WHERE id = $1",
            workspace_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let domains: String = row.get("allowed_redirect_domains")?;
    let debtor: Option<String> = row.get("sepa_debtor")?;
    Ok(Workspace {
        id: row.get("id")?,
        name: row.get("name")?,
        default_currency: row.get("default_currency")?,
        allowed_redirect_domains: serde_json::from_str(&domains).unwrap_or_default(),
        sepa_debtor: debtor.and_then(|d| serde_json::from_str(&d).ok()),
        distributors_manage_resellers: row.get("distributors_manage_resellers")?,
        brand_colour: row.get("brand_colour")?,
        brand_logo: logo_of(&row)?,
        mfa_required_staff: row.get("mfa_required_staff")?,
        mfa_required_partner_admins: row.get("mfa_required_partner_admins")?,
        created_at: row.get("created_at")?,
    })
}

/// The caller's workspace. Bank details are shown in full only to owner, admin and finance.
pub async fn get(ctx: &Ctx, scope: &Scope) -> Result<Workspace> {
    let mut tx = scope.read(ctx).await?;
    let mut workspace = load(&mut tx, scope.workspace_id()).await?;
    if !scope.has_vendor_role(&[VendorRole::Owner, VendorRole::Admin, VendorRole::Finance])
        && let Some(debtor) = &mut workspace.sepa_debtor
    {
        debtor.iban = Iban::parse(&debtor.iban).map(|i| i.masked()).unwrap_or_default();
    }
    Ok(workspace)
}

/// Whether distributors may create and manage resellers under themselves.
pub async fn distributors_manage_resellers(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<bool> {
    Ok(load(tx, workspace_id).await?.distributors_manage_resellers)
}

/// Changes settings (owner/admin), audited field by field.
pub async fn update(ctx: &Ctx, scope: &Scope, patch: WorkspacePatch) -> Result<Workspace> {
    scope.require_workspace_admin("change workspace settings")?;
    let mut v = Validation::new();
    let name = patch.name.as_deref().and_then(|n| v.text("name", n, 200));
    let currency = patch.default_currency.as_deref().and_then(|c| v.check("default_currency", Currency::parse(c)));
    let domains = patch.allowed_redirect_domains.as_ref().map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, d)| v.check(&format!("allowed_redirect_domains[{i}]"), Domain::parse(d)).map(|d| d.as_str().to_owned()))
            .collect::<Vec<_>>()
    });
    let debtor = match &patch.sepa_debtor {
        Some(Some(d)) => {
            let name = v.text("sepa_debtor.name", &d.name, 70);
            let iban = v.check("sepa_debtor.iban", Iban::parse(&d.iban));
            let bic = match d.bic.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
                Some(text) => v.check("sepa_debtor.bic", Bic::parse(text)).map(|b| Some(b.as_str().to_owned())),
                None => Some(None),
            };
            match (name, iban, bic) {
                (Some(name), Some(iban), Some(bic)) => Some(Some(SepaDebtor { name, iban: iban.as_str().to_owned(), bic })),
                _ => None,
            }
        }
        Some(None) => Some(None),
        None => None,
    };
    let colour = match &patch.brand_colour {
        Some(Some(text)) => v.check("brand_colour", parse_brand_colour(text)).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(Some(logo)) = &patch.brand_logo
        && (logo.sha256.len() != 64
            || !logo.sha256.bytes().all(|b| b.is_ascii_hexdigit())
            || !matches!(logo.content_type.as_str(), "image/png" | "image/jpeg"))
    {
        return Err(Error::Internal("a brand logo that was not stored by the branding service".into()));
    }
    if patch.name.is_some() && name.is_none() || !v.is_empty() {
        v.finish().map_err(Error::Validation)?;
    }
    let now = ctx.now();
    let mut tx = scope.write_granted(ctx, &WORKSPACE_RECORDS).await?;
    let before = load(&mut tx, scope.workspace_id()).await?;
    let mut after = before.clone();
    if let Some(name) = name {
        after.name = name;
    }
    if let Some(currency) = currency {
        after.default_currency = currency.code().to_owned();
    }
    if let Some(domains) = domains {
        after.allowed_redirect_domains = domains;
    }
    if let Some(debtor) = debtor {
        after.sepa_debtor = debtor;
    }
    if let Some(flag) = patch.distributors_manage_resellers {
        after.distributors_manage_resellers = flag;
    }
    if let Some(colour) = colour {
        after.brand_colour = colour;
    }
    if let Some(logo) = patch.brand_logo {
        after.brand_logo = logo;
    }
    if let Some(flag) = patch.mfa_required_staff {
        after.mfa_required_staff = flag;
    }
    if let Some(flag) = patch.mfa_required_partner_admins {
        after.mfa_required_partner_admins = flag;
    }
    tx.execute(sql!(
        "UPDATE workspaces SET name = $2, default_currency = $3, allowed_redirect_domains = $4, sepa_debtor = $5, distributors_manage_resellers = $6,
         brand_colour = $8, brand_logo_sha256 = $9, brand_logo_type = $10, mfa_required_staff = $11, mfa_required_partner_admins = $12,
         updated_at = $7 WHERE id = $1",
        scope.workspace_id(),
        after.name,
        after.default_currency,
        json!(after.allowed_redirect_domains).to_string(),
        after.sepa_debtor.as_ref().map(|d| json!(d).to_string()),
        after.distributors_manage_resellers,
        now,
        after.brand_colour,
        after.brand_logo.as_ref().map(|l| l.sha256.clone()),
        after.brand_logo.as_ref().map(|l| l.content_type.clone()),
        after.mfa_required_staff,
        after.mfa_required_partner_admins
    ))
    .await?;
    let masked = |w: &Workspace| w.sepa_debtor.as_ref().map(|d| Iban::parse(&d.iban).map(|i| i.masked()).unwrap_or_default());
    let entry = AuditEntry::new("workspace.updated", "workspace", scope.workspace_id().as_str())
        .change("name", before.name.clone(), after.name.clone())
        .change("default_currency", before.default_currency.clone(), after.default_currency.clone())
        .change("allowed_redirect_domains", json!(before.allowed_redirect_domains), json!(after.allowed_redirect_domains))
        .change("sepa_debtor_iban", json!(masked(&before)), json!(masked(&after)))
        .change("distributors_manage_resellers", before.distributors_manage_resellers, after.distributors_manage_resellers)
        .change("brand_colour", json!(before.brand_colour), json!(after.brand_colour))
        .change("mfa_required_staff", before.mfa_required_staff, after.mfa_required_staff)
        .change("mfa_required_partner_admins", before.mfa_required_partner_admins, after.mfa_required_partner_admins)
        .change(
            "brand_logo_sha256",
            json!(before.brand_logo.map(|l| l.sha256)),
            json!(after.brand_logo.as_ref().map(|l| l.sha256.clone())),
        );
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(after)
}

/// What `trellis bootstrap` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bootstrapped {
    pub workspace_id: WorkspaceId,
    pub owner_user_id: UserId,
    pub api_key: String,
}

/// Creates a workspace and its owner (an existing user keeps their password) and a workspace key
/// for the owner. Operator command: runs in the system context.
pub async fn bootstrap(ctx: &Ctx, name: &str, owner_email: &str, owner_password: &str, currency: &str) -> Result<Bootstrapped> {
    let mut v = Validation::new();
    let name = v.text("workspace", name, 200);
    let email = v.check("owner_email", Email::parse(owner_email));
    let currency = v.check("default_currency", Currency::parse(currency));
    if let Err(err) = password::check_new_password(owner_password, &[owner_email])
        && let Error::Validation(errors) = err
    {
        for e in errors {
            v.add("owner_password", e.message);
        }
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(name), Some(email), Some(currency)) = (name, email, currency) else { return Err(Error::Internal("validated".into())) };
    let hash = password::hash_password(owner_password.to_owned()).await?;
    let now = ctx.now();
    let workspace_id = WorkspaceId::generate();
    let mut tx = ctx.db.write_granted(&OPERATOR_CLI).await?;
    tx.execute(sql!(
        "INSERT INTO workspaces (id, name, default_currency, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        workspace_id,
        name,
        currency.code(),
        now
    ))
    .await?;
    let owner_user_id = ensure_user(&mut tx, &email, "", Some(&hash), now).await?;
    tx.execute(sql!(
        "INSERT INTO members (workspace_id, user_id, role, partner_scope, created_at) VALUES ($1, $2, 'owner', 'all', $3)",
        workspace_id,
        owner_user_id,
        now
    ))
    .await?;
    let scope = Scope::system(workspace_id.clone(), &OPERATOR_CLI);
    let (key_id, secret) =
        api_keys::insert_workspace_key(&mut tx, &workspace_id, &owner_user_id, "bootstrap", &["read", "write"], None, now).await?;
    audit::record(&mut tx, &scope, now, AuditEntry::new("workspace.created", "workspace", workspace_id.as_str()).set("name", name.clone()))
        .await?;
    audit::record(
        &mut tx,
        &scope,
        now,
        AuditEntry::new("member.added", "user", owner_user_id.as_str()).set("role", "owner").set("email", email.as_str()),
    )
    .await?;
    audit::record(&mut tx, &scope, now, AuditEntry::new("api_key.created", "api_key", key_id.as_str()).set("name", "bootstrap")).await?;
    tx.commit().await?;
    Ok(Bootstrapped { workspace_id, owner_user_id, api_key: secret })
}

/// The id of the user with `email`, created when missing. An existing user's password is kept.
pub(crate) async fn ensure_user(tx: &mut Tx, email: &Email, name: &str, password_hash: Option<&str>, now: Timestamp) -> Result<UserId> {
    if let Some(row) = tx.fetch_optional(sql!("SELECT id FROM users WHERE email = $1", email)).await? {
        let id: UserId = row.get("id")?;
        if password_hash.is_some() {
            tx.execute(sql!(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash IS NULL",
                id,
                password_hash,
                now
            ))
            .await?;
        }
        return Ok(id);
    }
    let id = UserId::generate();
    tx.execute(sql!(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        id,
        email,
        name,
        password_hash,
        now
    ))
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_colour_is_rrggbb_and_dark_enough_for_white_text() {
        assert_eq!(parse_brand_colour(" #1F6F5C "), Ok("#1f6f5c".to_owned()));
        assert_eq!(parse_brand_colour("#000000"), Ok("#000000".to_owned()));
        for bad in ["1f6f5c", "#fff", "#1f6f5", "#1f6f5cc", "#12345g", "red", "", "#1f6f5c;x"] {
            assert!(parse_brand_colour(bad).expect_err("refused").contains("#rrggbb"), "{bad}");
        }
        // White on #767676 is 4.54:1 (the lightest grey that passes); #777777 is 4.48:1.
        assert!(parse_brand_colour("#767676").is_ok());
        assert!(parse_brand_colour("#777777").expect_err("too light").contains("too light"));
        assert!(parse_brand_colour("#ffff00").expect_err("too light").contains("1.0:1"));
        assert!((contrast_with_white([255, 255, 255]) - 1.0).abs() < 1e-9);
        assert!((contrast_with_white([0, 0, 0]) - 21.0).abs() < 1e-9);
    }
}
