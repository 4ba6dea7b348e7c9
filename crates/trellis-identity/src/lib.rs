//! Identity and access: users, workspaces, vendor staff, partner users, API keys, sessions,
//! sign-in, the request [`Scope`] and the audit trail; and what owners and admins see of the
//! background work of their workspace ([`background_work`]), which needs the scope.
//!
//! This crate is the only place a `Scope` can be built for a person or key (see [`auth`]); every
//! other crate receives one and cannot widen it.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod background_work;
pub mod housekeeping;
pub mod invitations;
pub mod members;
pub mod oidc;
pub mod partner_users;
pub mod passkeys;
pub mod password;
pub mod password_reset;
pub mod provisioning;
pub mod scope;
pub mod secret;
pub mod secret_box;
pub mod sign_ins;
pub mod sso;
pub mod totp;
pub mod workspaces;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use trellis_core::{Clock, Error, Result, Timestamp};
use trellis_db::{Db, SystemGrant};
use trellis_jobs::JobContext;

pub use scope::{Actor, Membership, RequestMeta, Scope, ScopedTx, SeenPartner, Visibility};

/// The system grants this crate declares (docs/ARCHITECTURE.md "System context" lists them all).
pub const SYSTEM_GRANTS: &[&SystemGrant] = &[
    &auth::AUTHENTICATION,
    &invitations::INVITATION_ACCEPTANCE,
    &members::STAFF_RECORDS,
    &workspaces::WORKSPACE_RECORDS,
    &workspaces::OPERATOR_CLI,
    &workspaces::PUBLIC_VENDOR_NAME,
    &audit::AUDIT_LOG,
];

/// What every service needs: the database, the clock, the address people reach Trellis at
/// (links in emails), and what the binary plugged in for the crates above this one.
#[derive(Clone)]
pub struct Ctx {
    /// Private: transactions open from a [`Scope`] or, for work no person performs, through a
    /// named [`SystemGrant`] (`Db::read_granted`); [`Ctx::db`] hands the handle to the wiring.
    db: Db,
    pub clock: Arc<dyn Clock>,
    /// E.g. `https://partners.example.com`, without a trailing slash.
    pub public_url: Arc<str>,
    /// Values registered by the binary, one per type ([`Ctx::with_extension`]): the metric
    /// registry, the partner event handlers (ADR 0011). Identity cannot name their types, which
    /// belong to crates above it, so they are found by type.
    extensions: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// The public URL of a server listening on the default address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

impl Ctx {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock, public_url: Arc::from(DEFAULT_PUBLIC_URL), extensions: Arc::default() }
    }

    /// The same context with `value` registered as the one value of its type (replacing an earlier
    /// one of that type).
    pub fn with_extension<T: Any + Send + Sync>(mut self, value: T) -> Self {
        Arc::make_mut(&mut self.extensions).insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The value of type `T` the binary registered; its absence is a wiring mistake (`Internal`).
    pub fn extension<T: Any + Send + Sync>(&self) -> Result<&T> {
        self.extensions
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .ok_or_else(|| Error::Internal(format!("no {} is registered in the context", std::any::type_name::<T>())))
    }

    /// The same context with links built from `public_url`.
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.public_url = Arc::from(public_url.trim_end_matches('/'));
        self
    }

    /// An absolute link to `path` (which starts with `/`).
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The database, for the server's wiring (migrations, the health check, the job worker) and
    /// the grant openers; clippy.toml rejects opening a raw transaction from it.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The job worker and its handlers run with the same context as requests.
impl JobContext for Ctx {
    fn db(&self) -> &Db {
        &self.db
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
