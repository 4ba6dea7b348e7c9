//! The fraud rules of referral tracking (issue 11), per program ([`crate::settings`]). A
//! conversion that trips one keeps its attribution, but its commissions are held for review
//! (`on_hold`, `fraud_review`, the rules in their note) until finance releases or rejects them
//! in the console's hold queue. Registered as `incentives::conversions::ConversionScreens`.
//!
//! - `self_referral`: the customer's email is the partner's own contact address or one of its
//!   users' (compared normalised: case, a `+tag`, and dots of a Gmail address do not count), or a
//!   partner user signed in from the customer's address or from the address that clicked.
//! - `click_flood`: the link had more clicks than the program allows in the hour before this one
//!   (counted up to the limit only, so the check costs at most that many index entries).
//! - `fast_conversion`: the conversion came sooner after its click than the program's minimum
//!   (default 10 seconds): a person does not sign up that fast.
//! - `disposable_email`: the customer's email is at a disposable-mail domain (the
//!   `disposable-emails` crate's list of some 72,000 domains, not typed by hand).

use trellis_core::{Result, Timestamp};
use trellis_db::sql;
use trellis_identity::{Ctx, Scope, ScopedTx, partner_users};
use trellis_incentives::conversions::{FraudFlag, ScreenFuture, ScreenInput};

use crate::redirects::Redirects;
use crate::settings;

/// At most this many distinct sign-in addresses of a partner's users are compared.
const SIGN_IN_ADDRESSES: i64 = 200;

/// The `ConversionScreens::screen` the binary registers.
pub fn screen<'a>(ctx: &'a Ctx, tx: &'a mut ScopedTx, scope: &'a Scope, input: ScreenInput<'a>) -> ScreenFuture<'a> {
    Box::pin(screen_in(ctx, tx, scope, input))
}

async fn screen_in(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, input: ScreenInput<'_>) -> Result<Vec<FraudFlag>> {
    let rules = settings::read_in(tx, scope.workspace_id(), input.program_id).await?;
    let redirects = Redirects::of(ctx)?;
    let click = input.click_id.and_then(|id| redirects.read_click(id));
    let mut flags = Vec::new();

    if rules.flag_self_referral {
        if let Some(email) = input.customer_email {
            let customer = normalised_email(email);
            let own = partner_users::all_addresses_in(tx, scope.workspace_id(), input.partner_id).await?;
            if own.iter().any(|a| normalised_email(a) == customer) {
                flags.push(FraudFlag {
                    rule: "self_referral",
                    detail: "the customer's email is the partner's own or one of its users'".into(),
                });
            }
        }
        if flags.is_empty() && (input.customer_ip.is_some() || click.is_some()) {
            let addresses = partner_users::sign_in_addresses_in(tx, scope.workspace_id(), input.partner_id, SIGN_IN_ADDRESSES).await?;
            let customer_ip = input.customer_ip.map(str::trim);
            if customer_ip.is_some_and(|ip| addresses.iter().any(|a| a == ip)) {
                flags.push(FraudFlag {
                    rule: "self_referral",
                    detail: "the customer's address is one the partner's users signed in from".into(),
                });
            } else if let Some(click) = &click
                && addresses.iter().any(|a| redirects.key().clicked_from(click, a))
            {
                flags.push(FraudFlag {
                    rule: "self_referral",
                    detail: "the click came from an address the partner's users signed in from".into(),
                });
            }
        }
    }
    if let Some(click) = &click {
        let seconds = (input.occurred_at.micros() - click.clicked_at.micros()).div_euclid(1_000_000);
        if seconds < rules.min_seconds_after_click {
            flags.push(FraudFlag {
                rule: "fast_conversion",
                detail: format!("converted {seconds} s after the click (the program's minimum is {} s)", rules.min_seconds_after_click),
            });
        }
        let hour_before = Timestamp::from_micros(click.clicked_at.micros() - 3_600_000_000);
        let counted = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM clicks WHERE workspace_id = $1 AND link_id = $2 AND clicked_at >= $3 AND clicked_at <= $4 LIMIT $5) AS recent",
                scope.workspace_id(),
                &click.link_id,
                hour_before,
                click.clicked_at,
                rules.max_clicks_per_hour + 1
            ))
            .await?;
        if counted > rules.max_clicks_per_hour {
            flags.push(FraudFlag {
                rule: "click_flood",
                detail: format!("the link had more than {} clicks in the hour before this one", rules.max_clicks_per_hour),
            });
        }
    }
    if rules.flag_disposable_email
        && let Some(email) = input.customer_email
        && disposable_emails::is_disposable_email(email.trim())
    {
        flags.push(FraudFlag { rule: "disposable_email", detail: "the customer's email is at a disposable-mail domain".into() });
    }
    Ok(flags)
}

/// An email address as the self-referral rule compares it: lowercase, without a `+tag`, and for
/// Gmail without the dots of its local part (Gmail ignores both).
pub fn normalised_email(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else { return email };
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        other => (local.to_owned(), other),
    };
    format!("{local}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_reach_the_same_inbox_compare_equal() {
        assert_eq!(normalised_email(" Ada.Lovelace+promo@GMail.com "), "adalovelace@gmail.com");
        assert_eq!(normalised_email("ada.lovelace@googlemail.com"), "adalovelace@gmail.com");
        assert_eq!(normalised_email("ada+x@example.com"), "ada@example.com");
        assert_ne!(normalised_email("ada.l@example.com"), normalised_email("adal@example.com"), "dots count outside Gmail");
        assert!(disposable_emails::is_disposable_email("someone@mailinator.com"));
        assert!(!disposable_emails::is_disposable_email("someone@gmail.com"));
    }
}
