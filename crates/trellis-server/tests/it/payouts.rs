//! Payout runs (issue 10; API.md "Commissions, balances, payouts"): a draft gathers the payable
//! balances and lists who is skipped and why, a second person approves it, mark-paid is safe to
//! repeat, a clawback after payout carries a negative balance into the next run, cancelling
//! returns the money, two runs started at once pay each commission once — and `trellis ledger
//! verify` stays clean through all of it.

use serde_json::{Value, json};
use trellis_core::{PartnerId, ProgramId};
use trellis_db::sql;
use trellis_identity::Scope;
use trellis_incentives::ledger;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{TEST_FIXTURES, TestApp};

/// Valid German IBANs (ISO 13616 check digits).
const IBANS: [&str; 3] = ["DE89370400440532013000", "DE02120300000000202051", "DE02500105170137075030"];

async fn program(app: &TestApp, f: &Fixture) -> ProgramId {
    let ctx = &app.state.ctx;
    let system = Scope::system(f.workspace_id.clone(), &TEST_FIXTURES);
    let input = trellis_programs::NewProgram { name: "Payouts".into(), slug: "payouts".into(), ..Default::default() };
    let program = trellis_programs::programs::create(ctx, &system, input).await.expect("program");
    for partner in [&f.d1, &f.r1a, &f.r1b, &f.d2, &f.r2a, &f.p3] {
        let enrollment = trellis_programs::enrollments::NewEnrollment { program_id: program.id.clone(), tier_id: None };
        trellis_programs::enrollments::enroll(ctx, &system, partner, enrollment).await.expect("enroll");
    }
    let plan = json!({"sale": {"percent_bps": 2000}, "hold_days": 0, "parent_override_bps": 500, "min_payout": {"amount_minor": 5000, "currency": "EUR"}});
    let reply = app
        .send(reqwest::Method::PUT, &format!("/api/v1/programs/{}/commission-plan", program.id), Some(&f.finance.token), Some(&plan))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    program.id
}

async fn sale(app: &TestApp, f: &Fixture, invoice: &str, partner: &PartnerId, amount_minor: i64) {
    let body = json!({"kind": "sale", "invoice_id": invoice, "customer_external_id": format!("cus-{invoice}"), "partner_id": partner,
        "amount": {"amount_minor": amount_minor, "currency": "EUR"}});
    let reply = app.post("/api/v1/conversions", &f.owner_key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

async fn payout_method(app: &TestApp, f: &Fixture, partner: &PartnerId, iban: &str) {
    let body = json!({"type": "sepa", "account_holder": format!("Holder of {partner}"), "iban": iban});
    let reply = app.send(reqwest::Method::PUT, &format!("/api/v1/partners/{partner}/payout-method"), Some(&f.owner_key), Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// `(partner_id, amount)` of a run's items and `(partner_id, reason)` of its skipped partners.
type ItemsAndSkips = (Vec<(String, i64)>, Vec<(String, String)>);

fn items_and_skips(run: &Value) -> ItemsAndSkips {
    let mut items: Vec<(String, i64)> = run["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["partner_id"].as_str().expect("partner").to_owned(), i["amount"]["amount_minor"].as_i64().expect("amount")))
        .collect();
    let mut skipped: Vec<(String, String)> = run["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| (s["partner_id"].as_str().expect("partner").to_owned(), s["reason"].as_str().expect("reason").to_owned()))
        .collect();
    items.sort();
    skipped.sort();
    (items, skipped)
}

async fn balance(app: &TestApp, f: &Fixture, partner: &PartnerId) -> (i64, i64, i64) {
    let reply = app.get(&format!("/api/v1/partners/{partner}/balance"), &f.owner_key).await;
    let eur = reply.body["balances"].as_array().expect("balances").iter().find(|b| b["currency"] == "EUR").cloned().unwrap_or(json!({}));
    let n = |k: &str| eur[k].as_i64().unwrap_or(0);
    (n("payable_minor"), n("in_payout_minor"), n("paid_minor"))
}

async fn verified_clean(app: &TestApp) {
    let report = ledger::verify(&app.state.ctx).await.expect("verify");
    assert!(report.is_clean(), "{}\n{}", report.summary(), report.problems().join("\n"));
}

#[tokio::test]
async fn a_run_pays_the_ready_skips_the_rest_with_reasons_and_carries_a_clawback_into_the_next() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program(&app, &f).await;
    for (partner, iban) in [(&f.r1a, IBANS[0]), (&f.d1, IBANS[1]), (&f.p3, IBANS[2])] {
        payout_method(&app, &f, partner, iban).await;
    }
    payout_method(&app, &f, &f.d2, IBANS[0]).await;
    payout_method(&app, &f, &f.d2, IBANS[1]).await; // a replacement: cooling-off
    sale(&app, &f, "INV-1", &f.r1a, 100_000).await; // r1a 20 000, d1 5 000
    sale(&app, &f, "INV-2", &f.p3, 10_000).await; // 2 000: below the minimum of 5 000
    sale(&app, &f, "INV-3", &f.r1b, 100_000).await; // no payout method
    sale(&app, &f, "INV-4", &f.d2, 100_000).await; // cooling off

    let created = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["status"], "draft");
    let (items, skipped) = items_and_skips(&created.body);
    let mut expected_items = vec![(f.r1a.to_string(), 20_000), (f.d1.to_string(), 10_000)];
    expected_items.sort();
    assert_eq!(items, expected_items, "d1 earns its override on r1a's and r1b's sales");
    let mut expected_skips = vec![
        (f.p3.to_string(), "below_minimum".to_owned()),
        (f.r1b.to_string(), "no_payout_method".to_owned()),
        (f.d2.to_string(), "cooling_off".to_owned()),
    ];
    expected_skips.sort();
    assert_eq!(skipped, expected_skips);
    assert_eq!(created.body["total"]["amount_minor"], 30_000);
    let run = created.body["id"].as_str().expect("id").to_owned();
    for item in created.body["items"].as_array().expect("items") {
        let ids = item["commission_ids"].as_array().expect("commission ids");
        assert_eq!(Some(ids.len() as u64), item["commission_count"].as_u64(), "{item}");
        assert!(ids.iter().all(|id| id.as_str().is_some_and(|id| id.starts_with("com_"))), "{item}");
    }

    let own = app.post(&format!("/api/v1/payout-runs/{run}/approve"), &f.finance.token, json!({})).await;
    assert_eq!(own.status, 403, "four eyes: {}", own.text);
    assert_eq!(app.post(&format!("/api/v1/payout-runs/{run}/mark-paid"), &f.owner_key, json!({})).await.status, 409, "a draft is not paid");
    let approved = app.post(&format!("/api/v1/payout-runs/{run}/approve"), &f.owner_key, json!({})).await;
    assert_eq!((approved.status, approved.body["status"].clone()), (200, json!("approved")), "{}", approved.text);
    assert_eq!(balance(&app, &f, &f.r1a).await, (0, 20_000, 0));
    let csv = app.get(&format!("/api/v1/payout-runs/{run}/export?format=csv"), &f.finance.token).await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.contains(&format!("{},", f.r1a)) && csv.text.contains(",200.00,EUR,1,"), "{}", csv.text);
    let paid = app.post(&format!("/api/v1/payout-runs/{run}/mark-paid"), &f.finance.token, json!({})).await;
    assert_eq!(paid.body["status"], "paid");
    let again = app.post(&format!("/api/v1/payout-runs/{run}/mark-paid"), &f.finance.token, json!({})).await;
    assert_eq!((again.status, again.body["status"].clone()), (200, json!("paid")), "safe to repeat");
    assert_eq!(balance(&app, &f, &f.r1a).await, (0, 0, 20_000));
    let statements = app.get(&format!("/api/v1/partners/{}/statements", f.r1a), &f.r1a_admin.token).await;
    assert_eq!(statements.status, 200, "{}", statements.text);
    assert_eq!(statements.body["statements"][0]["amount"]["amount_minor"], 20_000);
    assert_eq!(statements.body["statements"][0]["status"], "paid");
    let one = app.get(&format!("/api/v1/partners/{}/statements/{run}", f.r1a), &f.r1a_admin.token).await;
    assert_eq!(one.body["commissions"].as_array().map(Vec::len), Some(1), "{}", one.text);
    assert_eq!(app.get(&format!("/api/v1/partners/{}/statements", f.r1a), &f.d1_admin.token).await.status, 404, "not its distributor's");
    assert_eq!(app.get(&format!("/api/v1/partners/{}/statements/{run}", f.r1a), &f.r1a_member.token).await.status, 403);
    let statuses = app.get(&format!("/api/v1/commissions?partner_id={}", f.r1a), &f.finance.token).await;
    assert!(statuses.body["data"].as_array().expect("data").iter().all(|c| c["status"] == "paid" && c["payout_run_id"] == run.as_str()));
    assert_eq!(
        app.post(&format!("/api/v1/payout-runs/{run}/cancel"), &f.finance.token, json!({})).await.status,
        409,
        "a paid run stays paid"
    );

    // A refund after payout claws back; the negative balance is skipped and carries over.
    let refund = json!({"kind": "refund", "invoice_id": "CR-1", "customer_external_id": "cus-INV-1", "refunds_invoice_id": "INV-1",
        "amount": {"amount_minor": 100_000, "currency": "EUR"}});
    let clawed = app.post("/api/v1/conversions", &f.owner_key, refund).await;
    assert_eq!(clawed.status, 201, "{}", clawed.text);
    let kinds: Vec<&str> = clawed.body["commissions"].as_array().expect("list").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(kinds, ["clawback", "clawback"]);
    assert_eq!(balance(&app, &f, &f.r1a).await, (-20_000, 0, 20_000), "payable goes negative");
    let second = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    let (_, skipped) = items_and_skips(&second.body);
    assert!(skipped.contains(&(f.r1a.to_string(), "negative_balance".to_owned())), "{skipped:?}");
    let second_id = second.body["id"].as_str().expect("id").to_owned();
    assert_eq!(app.post(&format!("/api/v1/payout-runs/{second_id}/cancel"), &f.finance.token, json!({})).await.status, 200);

    sale(&app, &f, "INV-5", &f.r1a, 200_000).await; // +40 000, net 20 000
    // r1b, skipped twice for want of a method, is paid by the first run after it adds one.
    payout_method(&app, &f, &f.r1b, IBANS[2]).await;
    let third = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    let (items, _) = items_and_skips(&third.body);
    assert!(items.contains(&(f.r1a.to_string(), 20_000)), "the clawback is netted: {items:?}");
    assert!(items.contains(&(f.r1b.to_string(), 20_000)), "a skipped partner's commissions wait for the next run: {items:?}");
    let third_id = third.body["id"].as_str().expect("id").to_owned();
    // A commission in a run is no longer held by a button; nor is it reversed by a refund.
    let in_run = app.get(&format!("/api/v1/commissions?partner_id={}&status=in_payout", f.r1b), &f.finance.token).await;
    let in_run_id = in_run.body["data"][0]["id"].as_str().expect("r1b's commission is in the run").to_owned();
    let hold = app.post(&format!("/api/v1/commissions/{in_run_id}/hold"), &f.finance.token, json!({"reason": "manual"})).await;
    assert_eq!(hold.status, 409, "{}", hold.text);
    // Approved, then cancelled: the money comes back to payable.
    assert_eq!(app.post(&format!("/api/v1/payout-runs/{third_id}/approve"), &f.owner_key, json!({})).await.status, 200);
    assert_eq!(balance(&app, &f, &f.r1a).await, (0, 20_000, 20_000));
    let cancelled = app.post(&format!("/api/v1/payout-runs/{third_id}/cancel"), &f.finance.token, json!({})).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(balance(&app, &f, &f.r1a).await, (20_000, 0, 20_000));
    let in_runs = app
        .query_i64(sql!("SELECT COUNT(*) AS n FROM commission_states WHERE workspace_id = $1 AND status = 'in_payout'", &f.workspace_id))
        .await;
    assert_eq!(in_runs, 0, "a cancelled run releases every commission");
    // What a cancelled run gave back, the next run pays, and only once.
    let fourth = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    let (items, _) = items_and_skips(&fourth.body);
    assert!(items.contains(&(f.r1a.to_string(), 20_000)) && items.contains(&(f.r1b.to_string(), 20_000)), "{items:?}");
    let again = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    assert_eq!(again.body["items"].as_array().map(Vec::len), Some(0), "nothing is claimed twice: {}", again.text);
    let list = app.get("/api/v1/payout-runs", &f.finance.token).await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(5));
    verified_clean(&app).await;
}

#[tokio::test]
async fn two_runs_started_at_once_pay_each_commission_once() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program(&app, &f).await;
    for (partner, iban) in [(&f.r1a, IBANS[0]), (&f.d1, IBANS[1]), (&f.p3, IBANS[2]), (&f.r1b, IBANS[0])] {
        payout_method(&app, &f, partner, iban).await;
    }
    for n in 0..20 {
        let partner = [&f.r1a, &f.p3, &f.r1b][n % 3];
        sale(&app, &f, &format!("INV-{n}"), partner, 50_000 + i64::try_from(n).expect("n")).await;
    }
    let payable_before = app
        .query_i64(sql!(
            "SELECT CAST(SUM(amount_minor) AS BIGINT) AS n FROM commission_states WHERE workspace_id = $1 AND status = 'payable'",
            &f.workspace_id
        ))
        .await;
    let (a, b) = tokio::join!(
        app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})),
        app.post("/api/v1/payout-runs", &f.admin.token, json!({"currency": "EUR"}))
    );
    assert_eq!((a.status, b.status), (201, 201), "{} / {}", a.text, b.text);
    let total = a.body["total"]["amount_minor"].as_i64().expect("a") + b.body["total"]["amount_minor"].as_i64().expect("b");
    assert_eq!(total, payable_before, "together the two runs hold every payable commission once");
    let empty = [&a.body, &b.body].iter().filter(|r| r["items"].as_array().is_some_and(Vec::is_empty)).count();
    assert_eq!(empty, 1, "the second run found everything claimed");
    let twice = app
        .query_i64(sql!(
            "SELECT COUNT(*) AS n FROM (SELECT partner_id FROM payout_items WHERE workspace_id = $1 GROUP BY partner_id HAVING COUNT(*) > 1) t",
            &f.workspace_id
        ))
        .await;
    assert_eq!(twice, 0);
    verified_clean(&app).await;
}

/// The Python that validates payment files against the ISO 20022 schema shipped by PyPI's
/// `sepaxml` (with `xmlschema`): `TRELLIS_SEPA_PYTHON`, else CI's tool environment. Without it the
/// schema check is skipped with a message, unless `TRELLIS_REQUIRE_SEPA_SCHEMA=1` (CI) makes that
/// a failure.
fn sepa_python() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("TRELLIS_SEPA_PYTHON")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cache/trellis-ci-venv/bin/python")))?;
    let usable = std::process::Command::new(&path).args(["-c", "import sepaxml, xmlschema"]).output().is_ok_and(|out| out.status.success());
    if usable {
        return Some(path);
    }
    let required = std::env::var("TRELLIS_REQUIRE_SEPA_SCHEMA").is_ok_and(|v| v == "1");
    assert!(!required, "TRELLIS_REQUIRE_SEPA_SCHEMA=1 but {} cannot import sepaxml and xmlschema", path.display());
    eprintln!("skipped the schema check: no Python with sepaxml and xmlschema (TRELLIS_REQUIRE_SEPA_SCHEMA=1 makes this a failure)");
    None
}

/// The schema's verdict on a document: `Ok` or the validator's complaint.
fn schema_verdict(python: &std::path::Path, xml: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("trellis-sepa-{}-{}", std::process::id(), xml.len()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("payout.xml");
    std::fs::write(&file, xml).expect("write the file");
    let script = "import os, sys, sepaxml, xmlschema\n\
        schema = xmlschema.XMLSchema(os.path.join(os.path.dirname(sepaxml.__file__), 'schemas', 'pain.001.001.09.xsd'))\n\
        schema.validate(sys.argv[1])\n";
    let out = std::process::Command::new(python).arg("-c").arg(script).arg(&file).output().expect("run the validator");
    std::fs::remove_dir_all(&dir).ok();
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// The text of every `<tag>` in `xml`.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.match_indices(&open)
        .map(|(at, _)| {
            let start = at + open.len();
            &xml[start..start + xml[start..].find(&close).expect("closed")]
        })
        .collect()
}

#[tokio::test]
async fn an_approved_run_exports_a_sepa_credit_transfer_that_the_iso_20022_schema_accepts() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    program(&app, &f).await;
    payout_method(&app, &f, &f.d1, IBANS[1]).await;
    let body = json!({"type": "sepa", "account_holder": "Müller & Söhne <Vertrieb> GmbH", "iban": "FR14 2004 1010 0505 0001 3M02 606", "bic": "bnpafrpp"});
    let reply = app.send(reqwest::Method::PUT, &format!("/api/v1/partners/{}/payout-method", f.r1a), Some(&f.owner_key), Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    sale(&app, &f, "INV-1", &f.r1a, 123_455).await; // r1a 24 691 (half-even), d1 6 173
    let created = app.post("/api/v1/payout-runs", &f.finance.token, json!({"currency": "EUR"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let run = created.body["id"].as_str().expect("id").to_owned();
    let total = created.body["total"]["amount_minor"].as_i64().expect("total");
    let export = format!("/api/v1/payout-runs/{run}/export?format=sepa");

    let draft = app.get(&export, &f.finance.token).await;
    assert_eq!(draft.status, 409, "a draft is not yet agreed to be paid: {}", draft.text);
    assert_eq!(app.post(&format!("/api/v1/payout-runs/{run}/approve"), &f.owner_key, json!({})).await.status, 200);
    let no_debtor = app.get(&export, &f.finance.token).await;
    assert_eq!(no_debtor.status, 409, "{}", no_debtor.text);
    assert!(no_debtor.text.contains("sepa_debtor"), "says what to set: {}", no_debtor.text);
    let debtor = json!({"sepa_debtor": {"name": "Acme Software AG", "iban": "DE02 1203 0000 0000 2020 51", "bic": "BYLADEM1001"}});
    let patched = app.send(reqwest::Method::PATCH, "/api/v1/workspace", Some(&f.owner_key), Some(&debtor)).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(app.get(&export, &f.channel_manager.token).await.status, 403, "bank details are for owners, admins and finance");
    assert_eq!(app.get(&export, &f.r1a_admin.token).await.status, 404, "runs are the vendor's");
    let audited_before = app.query(sql!("SELECT id FROM audit_events WHERE action = 'payout_run.exported'")).await.len();

    let file = app.get(&export, &f.finance.token).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert_eq!(file.headers[reqwest::header::CONTENT_TYPE], "application/xml; charset=utf-8");
    let xml = file.text;
    assert!(xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"), "{xml}");
    let cents = |amount: &str| -> i64 {
        let (euros, cents) = amount.split_once('.').expect("two decimals");
        assert_eq!(cents.len(), 2, "{amount}");
        euros.parse::<i64>().expect("euros") * 100 + cents.parse::<i64>().expect("cents")
    };
    let amounts: Vec<i64> = xml
        .match_indices("<InstdAmt Ccy=\"EUR\">")
        .map(|(at, tag)| cents(&xml[at + tag.len()..at + tag.len() + xml[at + tag.len()..].find('<').expect("amount")]))
        .collect();
    assert_eq!(amounts.len(), 2, "one transfer per partner paid: {xml}");
    assert_eq!(amounts.iter().sum::<i64>(), total);
    let control_sums: Vec<i64> = elements(&xml, "CtrlSum").into_iter().map(cents).collect();
    assert_eq!(control_sums, [total, total], "group header and payment carry the run's total");
    assert_eq!(elements(&xml, "NbOfTxs"), ["2", "2"]);
    assert!(elements(&xml, "IBAN").contains(&"FR1420041010050500013M02606") && elements(&xml, "IBAN").contains(&IBANS[1]));
    assert_eq!(elements(&xml, "IBAN")[0], "DE02120300000000202051", "paid from the debtor account");
    assert!(elements(&xml, "Nm").contains(&"Muller + Sohne Vertrieb GmbH"), "names in the EPC character set: {xml}");
    assert!(elements(&xml, "EndToEndId").contains(&f.r1a.as_str().replace('_', "-").as_str()), "{xml}");

    let audited = app.query(sql!("SELECT changes FROM audit_events WHERE action = 'payout_run.exported'")).await;
    assert_eq!(audited.len(), audited_before + 1, "every export is audited");
    let changes: String = audited.last().expect("event").get("changes").expect("changes");
    assert!(changes.contains("\"sepa\"") && changes.contains(&total.to_string()), "{changes}");
    assert!(!changes.contains("0500013M02606") && !changes.contains("2020 51") && !changes.contains("000020205"), "masked: {changes}");

    if let Some(python) = sepa_python() {
        schema_verdict(&python, &xml).unwrap_or_else(|e| panic!("the schema refuses the export: {e}\n{xml}"));
        let broken = xml.replacen("<PmtMtd>TRF</PmtMtd>", "", 1);
        assert!(schema_verdict(&python, &broken).is_err(), "the validator refuses a file without its payment method");
    }
    let paid = app.post(&format!("/api/v1/payout-runs/{run}/mark-paid"), &f.finance.token, json!({})).await;
    assert_eq!(paid.status, 200);
    assert_eq!(app.get(&export, &f.finance.token).await.status, 200, "a paid run's file can be fetched again");
    verified_clean(&app).await;
}
