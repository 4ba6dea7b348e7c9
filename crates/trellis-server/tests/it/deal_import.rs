//! Imports of the vendor's direct opportunities from CRM exports (API.md "Importing direct
//! opportunities"): column mapping, amounts and dates, a preview that writes nothing, row errors
//! that refuse the whole file, idempotency by external id, the conflict a partner's later
//! registration meets, who may import, and the console page.

use reqwest::header::COOKIE;
use serde_json::{Value, json};
use trellis_db::sql;
use trellis_deals::conflicts::ConflictKind;
use trellis_deals::deals::{self, NewDeal};
use trellis_identity::RequestMeta;
use trellis_testkit::TestApp;
use trellis_testkit::fixture::Fixture;

use crate::pages::{csrf_field, sign_in};

const SALESFORCE: &str =
    "\u{feff}Opportunity ID,Account Name,Amount,Opportunity Currency,Close Date,Stage,Website,Billing Country,Description
006A000001,Acme Robotics GmbH,\"12,500.00\",EUR,12/31/2026,Needs Analysis,https://www.acme-robotics.example,Germany,\"Two lines,
with a comma\"
006A000002,Globex Corporation,9800,USD,2026-11-15,Proposal/Price Quote,globex.example,US,
006A000003,Initech,4000,EUR,01/15/2026,Closed Won,initech.example,DE,
";

const HUBSPOT: &str = "Record ID,Deal Name,Company name,Amount,Close Date,Deal Stage,Company Domain Name
9001,Acme renewal,Umbrella Industries,2500.5,2026-10-01 00:00,qualifiedtobuy,umbrella.example
9002,New logo,Hooli,\"1,000\",31.12.2026,Contract Sent,hooli.example
";

async fn deal_count(app: &TestApp, f: &Fixture) -> i64 {
    app.query_i64(sql!("SELECT COUNT(*) AS n FROM deals WHERE workspace_id = $1", f.workspace_id.to_string())).await
}

async fn preview(app: &TestApp, token: &str, csv: &str) -> Value {
    let reply = app.post("/api/v1/deals/import", token, json!({"csv": csv, "dry_run": true})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn field_of<'a>(preview: &'a Value, header: &str) -> Option<&'a str> {
    preview["columns"].as_array()?.iter().find(|c| c["header"] == header)?["field"].as_str()
}

#[tokio::test]
async fn salesforce_and_hubspot_exports_preview_with_their_columns_recognised_and_nothing_written() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let before = deal_count(&app, &f).await;

    let sf = preview(&app, &f.owner.token, SALESFORCE).await;
    assert_eq!(field_of(&sf, "Opportunity ID"), Some("external_id"));
    assert_eq!(field_of(&sf, "Account Name"), Some("customer_name"));
    assert_eq!(field_of(&sf, "Opportunity Currency"), Some("currency"));
    assert_eq!(field_of(&sf, "Website"), Some("customer_domain"));
    assert_eq!(field_of(&sf, "Billing Country"), Some("country"));
    let rows = sf["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["amount_minor"], 1_250_000);
    assert_eq!(rows[0]["currency"], "EUR");
    assert_eq!(rows[0]["expected_close_date"], "2026-12-31");
    assert_eq!(rows[0]["stage"], "qualification");
    assert_eq!(rows[0]["country"], "DE");
    assert_eq!(rows[0]["action"], "create");
    assert_eq!(rows[1]["line"], 4, "the quoted line break belongs to line 2's row");
    assert_eq!((rows[1]["amount_minor"].as_i64(), rows[1]["currency"].as_str()), (Some(980_000), Some("USD")));
    assert_eq!(rows[1]["stage"], "proposal");
    assert_eq!(rows[1]["country"], "US");
    assert_eq!(rows[2]["action"], "skipped", "closed in the CRM: {}", rows[2]);
    assert_eq!(sf["counts"], json!({"create": 2, "unchanged": 0, "skipped": 1, "error": 0}));

    let hs = preview(&app, &f.owner.token, HUBSPOT).await;
    assert_eq!(field_of(&hs, "Record ID"), Some("external_id"));
    assert_eq!(field_of(&hs, "Company name"), Some("customer_name"));
    assert_eq!(field_of(&hs, "Deal Name"), None, "the company, not the deal's title, is the customer");
    assert_eq!(field_of(&hs, "Company Domain Name"), Some("customer_domain"));
    let rows = hs["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["customer_name"], "Umbrella Industries");
    assert_eq!(rows[0]["amount_minor"], 250_050);
    assert_eq!(rows[0]["currency"], "EUR", "the workspace's currency when the file names none");
    assert_eq!(rows[0]["expected_close_date"], "2026-10-01");
    assert_eq!(rows[0]["stage"], "qualification");
    assert_eq!((rows[1]["amount_minor"].as_i64(), rows[1]["expected_close_date"].as_str()), (Some(100_000), Some("2026-12-31")));
    assert_eq!(rows[1]["stage"], "closing");

    // An explicit mapping for headers nobody recognises.
    let custom = "Ref;Client;Sum\nX-1;Wayne Enterprises;100\n";
    let reply = app
        .post(
            "/api/v1/deals/import",
            &f.owner.token,
            json!({"csv": custom, "dry_run": true, "mapping": {"external_id": "Ref", "customer_name": "Client", "amount": "Sum"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["rows"][0]["amount_minor"], 10_000);
    let unmapped = app.post("/api/v1/deals/import", &f.owner.token, json!({"csv": custom, "dry_run": true})).await;
    assert_eq!(unmapped.status, 422, "{}", unmapped.text);
    assert!(unmapped.text.contains("mapping.external_id"), "{}", unmapped.text);

    assert_eq!(deal_count(&app, &f).await, before, "a preview writes nothing");
}

#[tokio::test]
async fn a_file_with_bad_rows_shows_the_row_errors_and_imports_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let csv = "external_id,customer_name,amount,currency,expected_close_date,stage
A-1,Good Customer,100,EUR,2026-05-01,prospecting
A-2,,abc,EUR,2026-02-30,somewhere
A-1,Repeated,100,XXX,,
";
    let before = deal_count(&app, &f).await;
    let body = preview(&app, &f.owner.token, csv).await;
    assert_eq!(body["counts"], json!({"create": 1, "unchanged": 0, "skipped": 0, "error": 2}));
    let fields = |i: usize| -> Vec<String> {
        body["rows"][i]["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect()
    };
    assert_eq!(fields(0), Vec::<String>::new());
    for field in ["customer_name", "amount", "expected_close_date", "stage"] {
        assert!(fields(1).contains(&field.to_owned()), "{field}: {}", body["rows"][1]);
    }
    assert!(fields(2).contains(&"external_id".to_owned()) && fields(2).contains(&"currency".to_owned()), "{}", body["rows"][2]);
    assert!(body["rows"][2]["errors"].to_string().contains("repeats line 2"), "{}", body["rows"][2]);

    let refused = app.post("/api/v1/deals/import", &f.owner.token, json!({"csv": csv})).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("line 3"), "{}", refused.text);
    assert_eq!(deal_count(&app, &f).await, before, "nothing of a file with errors is written");

    let too_many = format!("external_id,customer_name,amount\n{}", (0..5_001).map(|i| format!("R{i},C{i},1\n")).collect::<String>());
    let reply = app.post("/api/v1/deals/import", &f.owner.token, json!({"csv": too_many, "dry_run": true})).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("5000 rows"), "{}", reply.text);
}

#[tokio::test]
async fn an_import_creates_open_direct_opportunities_and_the_same_file_again_creates_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let before = deal_count(&app, &f).await;
    let reply = app.post("/api/v1/deals/import", &f.channel_manager.token, json!({"csv": SALESFORCE})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!((reply.body["created"].as_u64(), reply.body["skipped"].as_u64()), (Some(2), Some(1)));
    let ids: Vec<String> = reply.body["deals"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(deal_count(&app, &f).await, before + 2);
    let rows = app
        .query(sql!(
            "SELECT source, status, partner_id, external_id, amount_minor, index_seq, customer_domain FROM deals WHERE workspace_id = $1 AND id = $2",
            f.workspace_id.to_string(),
            ids[0].clone()
        ))
        .await;
    let row = &rows[0];
    assert_eq!(row.get::<String>("source").expect("source"), "direct");
    assert_eq!(row.get::<String>("status").expect("status"), "approved", "a direct opportunity is open at once");
    assert_eq!(row.get::<Option<String>>("partner_id").expect("partner"), None);
    assert_eq!(row.get::<Option<String>>("external_id").expect("external id").as_deref(), Some("006A000001"));
    assert_eq!(row.get::<i64>("amount_minor").expect("amount"), 1_250_000);
    assert_eq!(
        row.get::<Option<String>>("customer_domain").expect("domain").as_deref(),
        Some("www.acme-robotics.example"),
        "stored as a registration stores it"
    );
    assert!(row.get::<i64>("index_seq").expect("seq") > 0, "stamped into the conflict index");
    let events = |action: &'static str| {
        app.query_i64(sql!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = $1 AND action = $2",
            f.workspace_id.to_string(),
            action
        ))
    };
    assert_eq!(events("deal.imported").await, 1);
    assert_eq!(events("deal.registered").await, 2);

    let again = app.post("/api/v1/deals/import", &f.channel_manager.token, json!({"csv": SALESFORCE})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!((again.body["created"].as_u64(), again.body["unchanged"].as_u64()), (Some(0), Some(2)));
    assert_eq!(deal_count(&app, &f).await, before + 2, "re-importing creates nothing");
    let shown = preview(&app, &f.owner.token, SALESFORCE).await;
    assert_eq!(shown["rows"][0]["action"], "unchanged");
    assert_eq!(shown["rows"][0]["deal_id"], ids[0].as_str());
}

#[tokio::test]
async fn a_partner_registering_an_imported_customer_conflicts_with_the_direct_pipeline() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let reply = app.post("/api/v1/deals/import", &f.owner.token, json!({"csv": SALESFORCE})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let imported = reply.body["deals"][0].as_str().expect("id").to_owned();

    let ctx = &app.state.ctx;
    let owner = trellis_identity::auth::authenticate_bearer(ctx, &f.owner.token, None, &RequestMeta::default()).await.expect("owner");
    let program = trellis_programs::programs::create(
        ctx,
        &owner,
        trellis_programs::NewProgram {
            name: "Resell".into(),
            slug: "import-resell".into(),
            deal_registration: Some(true),
            ..Default::default()
        },
    )
    .await
    .expect("program");
    trellis_programs::enrollments::enroll(
        ctx,
        &owner,
        &f.p3,
        trellis_programs::enrollments::NewEnrollment { program_id: program.id.clone(), tier_id: None },
    )
    .await
    .expect("enrolled");
    let input = NewDeal {
        customer_name: "ACME Robotics".into(),
        customer_domain: Some("https://acme-robotics.example/contact".into()),
        amount_minor: Some(500_000),
        partner_id: Some(f.p3.clone()),
        ..NewDeal::default()
    };
    let detail = deals::register(ctx, &owner, input).await.expect("registered");
    let kinds: Vec<(ConflictKind, Option<String>)> =
        detail.conflicts.iter().map(|c| (c.kind, c.deal_id.as_ref().map(ToString::to_string))).collect();
    assert!(kinds.contains(&(ConflictKind::DirectPipeline, Some(imported))), "{kinds:?}");
    assert_eq!(detail.deal.status, trellis_deals::statuses::DealStatus::UnderReview);
}

#[tokio::test]
async fn partners_and_staff_who_record_no_opportunities_may_not_import() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    for token in [&f.d1_admin.token, &f.r1a_admin.token, &f.viewer.token, &f.finance.token] {
        for dry_run in [true, false] {
            let reply = app.post("/api/v1/deals/import", token, json!({"csv": HUBSPOT, "dry_run": dry_run})).await;
            assert_eq!(reply.status, 403, "{}", reply.text);
        }
    }
    let page = sign_in(&app, &f.d1_admin.email).await.get("/console/deals/import").await;
    assert_eq!(page.status, 404);
}

/// A multipart form as a browser sends it: text fields, and the file when given.
fn multipart(csrf: &str, file: Option<&str>, pasted: &str) -> (String, String) {
    let boundary = "deal-import-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n");
    body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csv\"\r\n\r\n{pasted}\r\n"));
    let (name, content) = match file {
        Some(content) => ("export.csv", content),
        None => ("", ""),
    };
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The value of the confirm form's hidden `csv` field, unescaped as a browser does.
fn hidden_csv(html: &str) -> Option<String> {
    let marker = r#"<input type="hidden" name="csv" value=""#;
    let start = html.find(marker)? + marker.len();
    let raw = html[start..].split('"').next()?;
    Some(
        raw.replace("&#13;", "\r")
            .replace("&#10;", "\n")
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn the_console_page_previews_a_chosen_file_and_imports_it_on_confirmation() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let session = sign_in(&app, &f.admin.email).await;
    let page = session.get("/console/deals/import").await;
    assert_eq!(page.status, 200, "{}", page.text);
    crate::pages::assert_safe_page("/console/deals/import", &page);
    let csrf = csrf_field(&page.text).expect("csrf");
    let before = deal_count(&app, &f).await;

    let send = |content_type: String, body: String| {
        app.client
            .post(format!("{}/console/deals/import/preview", app.base_url))
            .header(COOKIE, session.cookie())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // Nothing chosen: the form again, with its error.
    let (ct, body) = multipart(&csrf, None, "");
    let empty = send(ct, body).await.expect("sent");
    assert_eq!(empty.status().as_u16(), 422);

    // A file with a bad row: its error beside the row, and no confirm button.
    let (ct, body) = multipart(&csrf, Some("Record ID,Company name,Amount\n1,Umbrella,abc\n"), "");
    let bad = send(ct, body).await.expect("sent").text().await.expect("text");
    assert!(bad.contains("is not an amount"), "{bad}");
    assert!(!bad.contains(r#"action="/console/deals/import" "#) && hidden_csv(&bad).is_none(), "{bad}");

    let (ct, body) = multipart(&csrf, Some(SALESFORCE), "");
    let previewed = send(ct, body).await.expect("sent");
    assert_eq!(previewed.status().as_u16(), 200);
    let html = previewed.text().await.expect("text");
    assert!(html.contains("Account Name → customer name"), "{html}");
    assert!(html.contains("Acme Robotics GmbH") && html.contains("Skipped"), "{html}");
    assert_eq!(deal_count(&app, &f).await, before, "the preview writes nothing");
    let carried = hidden_csv(&html).expect("the confirm form carries the file");

    let done = session.submit("/console/deals/import", &[("csv", &carried)]).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(deal_count(&app, &f).await, before + 2);
    let location = done.headers.get("location").and_then(|v| v.to_str().ok()).expect("location").to_owned();
    let result = session.get(&location).await;
    assert!(result.text.contains("Imported: 2 new direct opportunities"), "{}", result.text);

    // Pasted text works as a file does; the same rows again are already imported.
    let (ct, body) = multipart(&csrf, None, SALESFORCE);
    let again = send(ct, body).await.expect("sent").text().await.expect("text");
    assert!(again.contains("Already imported") && again.contains("nothing new to import"), "{again}");
}
