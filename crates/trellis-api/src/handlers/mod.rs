//! REST handlers, one module per resource, named after their OpenAPI operations.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod commissions;
pub mod contracts;
pub mod deal_imports;
pub mod deals;
pub mod disputes;
pub mod emails;
pub mod files;
pub mod invitations;
pub mod lead_imports;
pub mod leads;
pub mod licences;
pub mod locator;
pub mod members;
pub mod onboarding;
pub mod partners;
pub mod passkeys;
pub mod payout_methods;
pub mod payouts;
pub mod profiles;
pub mod programs;
pub mod recruitment;
pub mod referral_links;
pub mod sso;
pub mod tiers;
pub mod workspace;

use trellis_web::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every `/api/v1` route. The authorization matrix test enumerates these from the OpenAPI
/// document, so a route added here without a matrix row fails the build.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::reauthenticate))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::end_session))
        .routes(routes!(auth::list_sign_ins))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::complete_password_reset))
        .routes(routes!(auth::enrol_totp, auth::disable_totp))
        .routes(routes!(auth::confirm_totp))
        .routes(routes!(auth::find_me))
        .routes(routes!(passkeys::list_passkeys, passkeys::register_passkey))
        .routes(routes!(passkeys::start_passkey_registration))
        .routes(routes!(passkeys::remove_passkey))
        .routes(routes!(passkeys::start_passkey_login))
        .routes(routes!(passkeys::passkey_login))
        .routes(routes!(passkeys::start_passkey_reauthentication))
        .routes(routes!(passkeys::reauthenticate_with_passkey))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(members::add_member, members::list_members))
        .routes(routes!(members::find_member, members::update_member, members::remove_member))
        .routes(routes!(members::list_member_sign_ins))
        .routes(routes!(members::end_member_sessions))
        .routes(routes!(invitations::list_invitations))
        .routes(routes!(invitations::cancel_invitation))
        .routes(routes!(invitations::accept_invitation))
        .routes(routes!(invitations::decline_invitation))
        .routes(routes!(partners::create_partner, partners::list_partners))
        .routes(routes!(partners::find_partner, partners::update_partner))
        .routes(routes!(partners::create_partner_api_key))
        .routes(routes!(partners::create_scim_token))
        .routes(routes!(sso::find_partner_sso, sso::put_partner_sso, sso::delete_partner_sso))
        .routes(routes!(sso::find_staff_sso, sso::put_staff_sso, sso::delete_staff_sso))
        .routes(routes!(partners::invite_partner_user, partners::list_partner_users))
        .routes(routes!(partners::list_partner_invitations))
        .routes(routes!(partners::update_partner_user, partners::remove_partner_user))
        .routes(routes!(partners::list_partner_user_sign_ins))
        .routes(routes!(partners::end_partner_user_sessions))
        .routes(routes!(workspace::find_workspace, workspace::update_workspace))
        .routes(routes!(audit::list_audit_events))
        .routes(routes!(programs::create_program, programs::list_programs))
        .routes(routes!(recruitment::submit_application))
        .routes(routes!(recruitment::list_applications))
        .routes(routes!(recruitment::find_application))
        .routes(routes!(recruitment::approve_partner))
        .routes(routes!(recruitment::reject_partner))
        .routes(routes!(onboarding::list_onboarding_steps, onboarding::create_onboarding_step))
        .routes(routes!(onboarding::update_onboarding_step, onboarding::delete_onboarding_step))
        .routes(routes!(onboarding::find_partner_onboarding))
        .routes(routes!(onboarding::complete_onboarding_step))
        .routes(routes!(onboarding::list_agreements, onboarding::publish_agreement))
        .routes(routes!(onboarding::accept_agreement))
        .routes(routes!(emails::list_emails))
        .routes(routes!(programs::find_program, programs::update_program))
        .routes(routes!(tiers::create_tier, tiers::list_tiers))
        .routes(routes!(tiers::find_tier, tiers::update_tier, tiers::delete_tier))
        .routes(routes!(tiers::evaluate_program_tiers))
        .routes(routes!(tiers::list_metrics))
        .routes(routes!(tiers::enroll_partner, tiers::list_enrollments))
        .routes(routes!(tiers::find_enrollment, tiers::unenroll_partner))
        .routes(routes!(tiers::override_tier, tiers::remove_tier_override))
        .routes(routes!(tiers::evaluate_partner_tiers))
        .routes(routes!(tiers::list_tier_history))
        .routes(routes!(tiers::list_partner_metrics))
        .routes(routes!(tiers::record_partner_metric))
        .merge(files::routes())
        .merge(workspace::logo_routes())
        .routes(routes!(profiles::find_partner_profile, profiles::update_partner_profile))
        .routes(routes!(profiles::find_partner_compliance))
        .routes(routes!(profiles::list_profile_change_requests))
        .routes(routes!(profiles::find_profile_change_request))
        .routes(routes!(profiles::approve_profile_change_request))
        .routes(routes!(profiles::reject_profile_change_request))
        .routes(routes!(contracts::create_partner_contract, contracts::list_partner_contracts))
        .routes(routes!(contracts::find_contract, contracts::update_contract, contracts::delete_contract))
        .routes(routes!(licences::create_partner_licence, licences::list_partner_licences))
        .routes(routes!(licences::find_licence, licences::update_licence, licences::delete_licence))
        .routes(routes!(locator::list_public_partners))
        // Disputes of deal decisions and protection extension requests.
        .routes(routes!(disputes::open_dispute))
        .routes(routes!(disputes::open_commission_dispute))
        .routes(routes!(disputes::list_disputes))
        .routes(routes!(disputes::find_dispute))
        .routes(routes!(disputes::resolve_dispute))
        .routes(routes!(disputes::request_extension, disputes::list_extension_requests))
        .routes(routes!(disputes::list_all_extension_requests))
        .routes(routes!(disputes::approve_extension_request))
        .routes(routes!(disputes::deny_extension_request))
        .merge(deal_imports::routes())
        .merge(lead_imports::routes())
        // Deals (API.md "Deals")
        .routes(routes!(deals::create_deal, deals::list_deals))
        .routes(routes!(deals::find_deal, deals::update_deal))
        .routes(routes!(deals::approve_deal))
        .routes(routes!(deals::reject_deal))
        .routes(routes!(deals::request_deal_info))
        .routes(routes!(deals::resubmit_deal))
        .routes(routes!(deals::win_deal))
        .routes(routes!(deals::lose_deal))
        .routes(routes!(deals::attach_deal_partner))
        .routes(routes!(deals::find_conflict_rules, deals::update_conflict_rules))
        .routes(routes!(leads::create_lead, leads::list_leads))
        .routes(routes!(leads::find_lead))
        .routes(routes!(leads::lead_matches))
        .routes(routes!(leads::offer_lead))
        .routes(routes!(leads::accept_lead))
        .routes(routes!(leads::decline_lead))
        .routes(routes!(leads::return_lead))
        .routes(routes!(leads::convert_lead))
        .routes(routes!(leads::pass_on_lead))
        .routes(routes!(leads::close_lead))
        .routes(routes!(leads::find_lead_settings, leads::update_lead_settings))
        .routes(routes!(leads::submit_enquiry))
        .routes(routes!(leads::find_lead_capacity, leads::set_lead_capacity))
        // Money (API.md "Programs" plan, "Referral tracking", "Commissions, balances, payouts")
        .routes(routes!(commissions::get_plan, commissions::put_plan))
        .routes(routes!(commissions::plan_versions))
        .routes(routes!(commissions::create_conversion, commissions::list_conversions))
        .routes(routes!(commissions::find_conversion))
        .routes(routes!(commissions::invoice_paid))
        .routes(routes!(commissions::list_commissions, commissions::award_bonus))
        .routes(routes!(commissions::find_commission))
        .routes(routes!(commissions::hold_commission))
        .routes(routes!(commissions::release_commission))
        .routes(routes!(commissions::reject_commission))
        .routes(routes!(commissions::partner_balance))
        .routes(routes!(payouts::create_payout_run, payouts::list_payout_runs))
        .routes(routes!(payouts::find_payout_run))
        .routes(routes!(payouts::approve_payout_run))
        .routes(routes!(payouts::mark_payout_run_paid))
        .routes(routes!(payouts::cancel_payout_run))
        .routes(routes!(payouts::export_payout_run))
        .routes(routes!(payouts::list_statements))
        .routes(routes!(payouts::find_statement))
        // Payout methods (API.md "Commissions, balances, payouts")
        .routes(routes!(payout_methods::find_payout_method, payout_methods::set_payout_method))
        // Referral links (API.md "Referral tracking")
        .routes(routes!(referral_links::create_link, referral_links::list_links))
        .routes(routes!(referral_links::get_link))
        .routes(routes!(referral_links::disable_link))
        .routes(routes!(referral_links::enable_link))
        .routes(routes!(referral_links::link_stats))
        .routes(routes!(referral_links::link_qr))
        .routes(routes!(referral_links::find_tracking_settings, referral_links::update_tracking_settings))
}
