//! The vocabulary of who someone is in a workspace: vendor staff roles, partner roles, partner
//! types (a set, stored as a bit mask) and partner statuses. Every enum parses from and prints to
//! the `snake_case` strings of API.md; an unknown value is a parse error, never a default.

/// Declares a string-backed enum with `as_str`, `parse`, `ALL` and serde in snake_case; the domain
/// crates declare their vocabularies (deal statuses, stages) with it too.
#[macro_export]
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted values, for error messages: `"a", "b" or "c"`.
            pub fn expected() -> String {
                let names: Vec<String> = Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                match names.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {}", rest.join(", "), last),
                    None => String::new(),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::serde::Serialize for $name {
            fn serialize<S: $crate::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let text = <String as $crate::serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    <D::Error as $crate::serde::de::Error>::custom(format!("unknown value \"{text}\", expected {}", Self::expected()))
                })
            }
        }
    };
}

string_enum!(
    /// A vendor staff member's role in a workspace (API.md "Conventions").
    VendorRole {
        Owner => "owner",
        Admin => "admin",
        ChannelManager => "channel_manager",
        Finance => "finance",
        Viewer => "viewer",
    }
);

impl VendorRole {
    /// Owner and admin manage the workspace itself: staff, keys of others, settings, audit.
    pub const WORKSPACE_ADMINS: &'static [VendorRole] = &[VendorRole::Owner, VendorRole::Admin];

    /// Staff who create and change partners and run the programs they are in: owner, admin,
    /// channel manager.
    pub const PARTNER_MANAGERS: &'static [VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::ChannelManager];

    /// One of [`VendorRole::WORKSPACE_ADMINS`].
    pub fn is_workspace_admin(self) -> bool {
        Self::WORKSPACE_ADMINS.contains(&self)
    }

    /// One of [`VendorRole::PARTNER_MANAGERS`].
    pub fn manages_partners(self) -> bool {
        Self::PARTNER_MANAGERS.contains(&self)
    }
}

string_enum!(
    /// A partner user's role inside its partner organisation.
    PartnerRole {
        Admin => "admin",
        Sales => "sales",
        Marketing => "marketing",
        Finance => "finance",
        Member => "member",
    }
);

impl PartnerRole {
    /// The partner roles that handle their own organisation's money: balances, statements, the
    /// payout method (API.md "Conventions": admin everything, finance the money).
    pub const MONEY_MANAGERS: &'static [PartnerRole] = &[PartnerRole::Admin, PartnerRole::Finance];

    /// Partner keys created by partner users carry at most the creator's role; `rank` orders
    /// roles by how much they may do so "at most" has a meaning (admin > the functional roles > member).
    pub fn may_grant(self, other: PartnerRole) -> bool {
        self == PartnerRole::Admin || self == other || other == PartnerRole::Member
    }
}

string_enum!(
    /// Which partners a channel manager sees: all of them, or only those they manage.
    PartnerScopeSetting {
        All => "all",
        Assigned => "assigned",
    }
);

string_enum!(
    /// A partner organisation's lifecycle status.
    PartnerStatus {
        Applied => "applied",
        Onboarding => "onboarding",
        Active => "active",
        Suspended => "suspended",
        Terminated => "terminated",
        Rejected => "rejected",
    }
);

impl PartnerStatus {
    /// Suspended, terminated and rejected partners cannot sign in or use keys.
    pub fn allows_access(self) -> bool {
        matches!(self, PartnerStatus::Applied | PartnerStatus::Onboarding | PartnerStatus::Active)
    }
}

string_enum!(
    /// What kind of business a partner does; a partner has a set of these.
    PartnerType {
        Reseller => "reseller",
        Distributor => "distributor",
        Msp => "msp",
        Agency => "agency",
        Referral => "referral",
        Affiliate => "affiliate",
        Technology => "technology",
    }
);

impl PartnerType {
    /// The bit of this type in a stored `types` mask. The order of `ALL` is part of the storage
    /// format: append new types, never reorder.
    pub fn bit(self) -> i64 {
        let index = PartnerType::ALL.iter().position(|t| *t == self).unwrap_or(0);
        1 << index
    }
}

/// A set of partner types, stored as a bit mask so that "has type X" is one indexed-friendly
/// `(types & bit) <> 0` on both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartnerTypes(i64);

impl PartnerTypes {
    pub fn from_mask(mask: i64) -> Self {
        Self(mask)
    }

    pub fn mask(self) -> i64 {
        self.0
    }

    pub fn contains(self, kind: PartnerType) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn to_vec(self) -> Vec<PartnerType> {
        PartnerType::ALL.iter().copied().filter(|t| self.contains(*t)).collect()
    }
}

impl FromIterator<PartnerType> for PartnerTypes {
    fn from_iter<I: IntoIterator<Item = PartnerType>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |mask, t| mask | t.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_types_round_trip_through_the_mask() {
        let types: PartnerTypes = [PartnerType::Reseller, PartnerType::Referral].into_iter().collect();
        assert_eq!(types.to_vec(), vec![PartnerType::Reseller, PartnerType::Referral]);
        assert!(!types.contains(PartnerType::Distributor));
    }

    #[test]
    fn unknown_enum_values_are_rejected_with_the_accepted_list() {
        let err = serde_json::from_str::<VendorRole>("\"root\"");
        assert!(err.is_err());
        assert_eq!(VendorRole::parse("channel_manager"), Some(VendorRole::ChannelManager));
        assert!(VendorRole::expected().ends_with("or \"viewer\""));
    }
}
