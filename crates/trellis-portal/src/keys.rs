//! API keys as the console and the portal show and create them: the same table rows and the
//! same form everywhere.

use trellis_identity::api_keys::ApiKey;

use crate::display::time;
use crate::forms::FormData;

/// The fields of a key form.
pub const KEY_FIELDS: &[&str] = &["name", "read_only", "role"];

/// The `scopes` of a new key: the "read only" checkbox limits it to GET (API.md "Conventions").
pub fn requested_scopes(form: &FormData) -> Option<Vec<String>> {
    form.is_checked("read_only").then(|| vec!["read".to_owned()])
}

/// How to use a key, under its secret.
pub const KEY_EXPLANATION: &str =
    "Send it as \"Authorization: Bearer <key>\". Trellis keeps only a hash of it: if it is lost, revoke it and create another.";

/// One API key as a table row.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    /// The partner of a partner key, for a link to it.
    pub partner_id: Option<String>,
    /// Who the key acts as: a partner role, or the staff member owning a workspace key.
    pub acts_as: String,
    pub access: &'static str,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

impl KeyRow {
    /// `owner_label` names the staff member of a workspace key, when the page knows them.
    pub fn new(key: ApiKey, owner_label: impl Fn(&str) -> Option<String>) -> Self {
        let acts_as = match (&key.partner_role, &key.user_id) {
            (Some(role), _) => format!("partner {}", role.as_str()),
            (None, Some(user)) => owner_label(user.as_str()).unwrap_or_else(|| "a staff member".to_owned()),
            (None, None) => String::new(),
        };
        Self {
            id: key.id.to_string(),
            name: key.name,
            prefix: key.prefix,
            partner_id: key.partner_id.map(|p| p.to_string()),
            acts_as,
            access: if key.scopes.iter().any(|s| s == trellis_identity::api_keys::SCIM_SCOPE) {
                "SCIM provisioning only"
            } else if key.scopes.iter().any(|s| s == "write") {
                "read and write"
            } else {
                "read only"
            },
            created: time(key.created_at),
            last_used: key.last_used_at.map_or_else(|| "never".to_owned(), time),
            revoked: key.revoked_at.map(time),
        }
    }
}
