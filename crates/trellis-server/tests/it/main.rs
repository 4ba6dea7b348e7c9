//! The integration-test binary of Trellis: every test runs the real application on a real port,
//! on SQLite, or on PostgreSQL when `TRELLIS_TEST_POSTGRES_URL` is set.

mod api_behaviour;
mod application_form;
mod audit;
mod authz_matrix;
mod authz_pages;
mod branding;
mod browser;
mod client_address;
mod compliance;
mod conformance;
mod deal_import;
mod deal_pages;
mod deals;
mod disputes;
mod hierarchy;
mod idempotency;
mod input_checks;
mod input_limits;
mod invitations;
mod jobs;
mod locator;
mod navigation;
mod onboarding;
mod origin_check;
mod pages;
mod partner_powers;
mod profiles;
mod recruitment;
mod rls;
mod schema_parity;
mod smoke;
mod system_grants;
mod text_input;
mod tiers;
mod work_queues;
