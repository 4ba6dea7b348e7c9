//! Input checks of issue 6 (F7, F8): countries from ISO 3166, contract dates in a sane range,
//! capped lists, websites parsed as URLs, and logos decoded under limits — each refusal is 422
//! and stores nothing.

use serde_json::{Value, json};
use trellis_db::sql;
use trellis_testkit::fixture::Fixture;
use trellis_testkit::{Reply, TestApp};

use crate::profiles::{PNG, PNG_SIGNATURE, upload};

fn fields_of(reply: &Reply) -> Vec<String> {
    reply.body["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect()
}

fn assert_refused(what: &str, reply: &Reply, field: &str) {
    assert_eq!(reply.status, 422, "{what}: {}", reply.text);
    assert!(fields_of(reply).iter().any(|f| f == field || f.starts_with(&format!("{field}."))), "{what}: {}", reply.text);
}

// ---------------------------------------------------------------------------------------------
// F7: countries, dates, lists, websites

#[tokio::test]
async fn a_country_code_that_iso_3166_does_not_assign_is_refused_everywhere() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let partner = format!("/api/v1/partners/{}", f.p3);
    let create = json!({"name": "Nowhere Ltd", "contact_email": "x@nowhere.example", "types": ["reseller"], "country": "XX"});
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Open", "slug": "open-program"})).await;
    assert_eq!(program.status, 201, "{}", program.text);

    let created = app.post("/api/v1/partners", &f.owner.token, create).await;
    let patched = app.patch(&partner, &f.owner.token, json!({"country": "XX"})).await;
    let address = json!([{"label": "HQ", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "XX"}]);
    let profile = app.patch(&format!("{partner}/profile"), &f.owner.token, json!({"addresses": address})).await;
    let territory = app.patch(&format!("{partner}/profile"), &f.owner.token, json!({"territories": {"countries": ["XX"]}})).await;
    let applied = app
        .send(
            reqwest::Method::POST,
            "/api/v1/public/programs/open-program/applications",
            None,
            Some(&json!({"company_name": "Nowhere", "contact_name": "N", "contact_email": "n@nowhere.example", "types": ["reseller"], "country": "XX"})),
        )
        .await;

    assert_refused("POST partner", &created, "country");
    assert_refused("PATCH partner", &patched, "country");
    assert_refused("profile address", &profile, "addresses[0].country");
    assert_refused("territory", &territory, "territories.countries");
    assert_refused("application", &applied, "country");
    assert_eq!(app.get(&partner, &f.owner.token).await.body["country"], "DE", "P3 keeps its country");
    let named = app.query_i64(sql!("SELECT COUNT(*) FROM partners WHERE name LIKE 'Nowhere%'")).await;
    assert_eq!(named, 0, "nothing was stored");
    // A real code still works, upper-cased.
    let ok = app.patch(&partner, &f.owner.token, json!({"country": "at"})).await;
    assert_eq!((ok.status, ok.body["country"].clone()), (200, json!("AT")), "{}", ok.text);
}

#[tokio::test]
async fn contract_dates_outside_1900_to_2199_are_refused() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let contracts = format!("/api/v1/partners/{}/contracts", f.p3);

    for (field, body) in [
        ("starts_on", json!({"title": "Year zero", "starts_on": "0000-01-01"})),
        ("ends_on", json!({"title": "Forever", "starts_on": "2026-01-01", "ends_on": "9999-12-31"})),
        ("renews_on", json!({"title": "Too early", "starts_on": "2026-01-01", "renews_on": "1899-12-31"})),
    ] {
        let reply = app.post(&contracts, &f.owner.token, body).await;

        assert_refused(field, &reply, field);
    }
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) FROM contracts")).await, 0);
    let edge = app.post(&contracts, &f.owner.token, json!({"title": "Edges", "starts_on": "1900-01-01", "ends_on": "2199-12-31"})).await;
    assert_eq!(edge.status, 201, "the range's ends are dates: {}", edge.text);
    let licence = app
        .post(
            &format!("/api/v1/partners/{}/licences", f.p3),
            &f.owner.token,
            json!({"kind": "broker", "number": "L-1", "jurisdiction": "DE", "valid_from": "2026-01-01", "valid_until": "9999-12-31"}),
        )
        .await;
    assert_refused("licence", &licence, "valid_until");
}

#[tokio::test]
async fn lists_longer_than_their_documented_caps_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let profile = format!("/api/v1/partners/{}/profile", f.p3);
    let many = |n: usize, prefix: &str| -> Vec<String> { (0..n).map(|i| format!("{prefix} {i}")).collect() };
    let same = |n: usize| -> Vec<&str> { vec!["cloud"; n] };
    let address = json!({"label": "HQ", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "DE"});
    let rule = json!({"metric": "active_users", "op": ">=", "value": 1});
    let question = json!({"id": "q", "label": "Q?", "kind": "select", "options": many(51, "choice")});

    let types_before = app.get(&format!("/api/v1/partners/{}", f.p3), &f.owner.token).await.body["types"].clone();
    let cases: Vec<(&str, Reply)> = vec![
        ("specialisations", app.patch(&profile, &f.owner.token, json!({"specialisations": many(10_000, "spec")})).await),
        ("specialisations", app.patch(&profile, &f.owner.token, json!({"specialisations": same(10_000)})).await),
        ("specialisations", app.patch(&profile, &f.owner.token, json!({"specialisations": ["x".repeat(61)]})).await),
        ("products", app.patch(&profile, &f.owner.token, json!({"products": many(31, "product")})).await),
        ("territories.regions", app.patch(&profile, &f.owner.token, json!({"territories": {"regions": many(51, "region")}})).await),
        ("territories.countries", app.patch(&profile, &f.owner.token, json!({"territories": {"countries": vec!["DE"; 250]}})).await),
        ("addresses", app.patch(&profile, &f.owner.token, json!({"addresses": vec![address; 21]})).await),
        (
            "types",
            app.post(
                "/api/v1/partners",
                &f.owner.token,
                json!({"name": "Typed", "contact_email": "t@typed.example", "types": vec!["reseller"; 10_000]}),
            )
            .await,
        ),
        ("types", app.patch(&format!("/api/v1/partners/{}", f.p3), &f.owner.token, json!({"types": vec!["msp"; 8]})).await),
        (
            "application_questions",
            app.post(
                "/api/v1/programs",
                &f.owner.token,
                json!({"name": "Q", "slug": "many-q", "application_questions": vec![json!({"id": "q", "label": "Q", "kind": "text"}); 31]}),
            )
            .await,
        ),
        (
            "application_questions[0].options",
            app.post("/api/v1/programs", &f.owner.token, json!({"name": "O", "slug": "many-o", "application_questions": [question]})).await,
        ),
    ];
    // Every case is checked before failing, so a run shows each cap that does not hold.
    let mut wrong = Vec::new();
    for (i, (field, reply)) in cases.iter().enumerate() {
        let refused_here = reply.status == 422 && fields_of(reply).iter().any(|f| f == field);
        if !refused_here || reply.text.len() >= 4096 {
            wrong.push(format!("case {i} ({field}): {} with {} bytes", reply.status, reply.text.len()));
        }
    }
    assert!(wrong.is_empty(), "lists over their caps were not refused with one problem:\n{}", wrong.join("\n"));
    let stored = app.get(&profile, &f.owner.token).await;
    assert_eq!(stored.body["specialisations"], json!([]), "nothing was stored");
    assert_eq!(app.get(&format!("/api/v1/partners/{}", f.p3), &f.owner.token).await.body["types"], types_before);
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) FROM programs WHERE slug IN ('many-q', 'many-o')")).await, 0);

    // Tier requirements and application answers are capped too.
    let program = app.post("/api/v1/programs", &f.owner.token, json!({"name": "Tiers", "slug": "tiers-cap"})).await;
    let program_id = program.body["id"].as_str().expect("program").to_owned();
    let tier = app
        .post(
            &format!("/api/v1/programs/{program_id}/tiers"),
            &f.owner.token,
            json!({"name": "Gold", "rank": 1, "requirements": {"all": vec![rule; 10_000]}, "benefits": {"text": "x"}}),
        )
        .await;
    assert_refused("requirements", &tier, "requirements.all");
    assert!(tier.text.len() < 4096, "requirements: one problem, not one per rule");
    let answers: serde_json::Map<String, Value> = (0..1000).map(|i| (format!("q{i}"), json!("a"))).collect();
    let applied = app
        .send(
            reqwest::Method::POST,
            "/api/v1/public/programs/tiers-cap/applications",
            None,
            Some(&json!({"company_name": "Many", "contact_name": "M", "contact_email": "m@many.example", "types": ["reseller"], "answers": answers})),
        )
        .await;
    assert_refused("answers", &applied, "answers");
    assert!(applied.text.len() < 4096, "answers: one problem, not one per answer");
    // The caps themselves are accepted.
    let at_cap = app.patch(&profile, &f.owner.token, json!({"specialisations": many(30, "spec")})).await;
    assert_eq!(at_cap.status, 200, "{}", at_cap.text);
}

#[tokio::test]
async fn websites_are_parsed_as_http_urls_on_a_domain_and_stored_normalised() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    let partner = format!("/api/v1/partners/{}", f.p3);

    for bad in [
        "https://evil.example/\"onmouseover=\"alert(1)",
        "https://evil.example/<script>",
        "https://evil.example/a b",
        "https://evil.example/'x'",
        "javascript:alert(1)",
        "ftp://files.example",
        "https://user:secret@evil.example",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://localhost/",
        "https://",
    ] {
        let reply = app.patch(&partner, &f.owner.token, json!({"website": bad})).await;
        let profile = app.patch(&format!("{partner}/profile"), &f.owner.token, json!({"website": bad})).await;

        assert_refused(bad, &reply, "website");
        assert_refused(bad, &profile, "website");
    }
    assert_eq!(app.get(&partner, &f.owner.token).await.body["website"], Value::Null, "nothing was stored");
    for (given, stored) in [
        ("Example.COM", "https://example.com"),
        ("https://www.example.com/partners?x=1#top", "https://www.example.com/partners?x=1#top"),
        ("http://example.com:8080/", "http://example.com:8080"),
        ("https://bücher.example/", "https://xn--bcher-kva.example"),
    ] {
        let reply = app.patch(&partner, &f.owner.token, json!({"website": given})).await;

        assert_eq!((reply.status, reply.body["website"].as_str()), (200, Some(stored)), "{given}: {}", reply.text);
    }
}

// ---------------------------------------------------------------------------------------------
// F8: logos are decoded under limits

/// The CRC-32 of PNG chunks (ISO 3309), bit by bit: small inputs or a few hundred KB.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Bits into bytes, least significant first (RFC 1951 section 3.1.1).
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, which RFC 1951 packs most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
        self.put(reversed, len);
    }

    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u32::from(byte), 8),
            _ => self.code(0x190 + u32::from(byte) - 144, 9),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A zlib stream (fixed Huffman codes) of `data`, where runs of one byte become copies of 258
/// bytes at distance 1: `repeat` zero bytes follow `data` (a bomb compresses ~1:1300).
fn zlib(data: &[u8], repeat: u64) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(0x78, 8);
    bits.put(0x01, 8);
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman codes
    for &b in data {
        bits.literal(b);
    }
    let mut left = repeat;
    if left > 0 && data.last() != Some(&0) {
        bits.literal(0);
        left -= 1;
    }
    while left >= 258 {
        bits.code(0xC0 + (285 - 280), 8); // length 258
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.literal(0);
    }
    bits.code(0, 7); // end of block
    let mut out = bits.finish();
    // Adler-32 of data followed by `repeat` zeros.
    let (mut a, mut b) = (1u64, 0u64);
    for &x in data {
        a = (a + u64::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    b = (b + (repeat % 65521) * a) % 65521;
    out.extend(((b << 16 | a) as u32).to_be_bytes());
    out
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
    out
}

/// A PNG of `width` × `height` pixels (bit depth, colour type) whose image data is `data`
/// followed by `zeros` zero bytes.
fn png(width: u32, height: u32, depth: u8, colour: u8, data: &[u8], zeros: u64) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([depth, colour, 0, 0, 0]);
    [PNG_SIGNATURE.to_vec(), chunk(b"IHDR", &header), chunk(b"IDAT", &zlib(data, zeros)), chunk(b"IEND", b"")].concat()
}

#[tokio::test]
async fn logos_that_do_not_decode_within_the_limits_are_refused_and_a_normal_logo_is_reencoded_and_served() {
    let app = TestApp::spawn().await;
    let f = Fixture::build(&app).await;
    // 20000 × 20000 one-bit greyscale pixels, all black: 50 MB of image data (filter byte and
    // 2500 bytes a row), 400 MB once decoded to 8 bits a pixel.
    let bomb = png(20_000, 20_000, 1, 0, &[], 20_000 * 2_501);
    // A header declaring 100000 × 100000 RGBA pixels (40 GB) with one row of data.
    let huge = png(100_000, 100_000, 8, 6, &[], 400_001);
    // Within the dimensions but not the memory: 4096 × 4096 RGBA at 16 bits a channel (128 MiB).
    let deep = png(4096, 4096, 16, 6, &[], 4096 * (4096 * 8 + 1));
    // A real 16 × 16 RGB image whose rows are cut short, and one with bytes after its end.
    let rows: Vec<u8> = (0..16u8).flat_map(|y| std::iter::once(0).chain((0..16u8).flat_map(move |x| [x * 16, y * 16, 128]))).collect();
    let logo = png(16, 16, 8, 2, &rows, 0);
    let truncated = png(16, 16, 8, 2, &rows[..rows.len() / 2], 0);
    let with_payload = [logo.as_slice(), b"<script>alert(1)</script>"].concat();
    println!(
        "FIGURE logo_inputs bomb_bytes={} huge_header_bytes={} deep_bytes={} signature_bytes={}",
        bomb.len(),
        huge.len(),
        deep.len(),
        PNG_SIGNATURE.len()
    );
    assert!(bomb.len() < 1024 * 1024 && deep.len() < 1024 * 1024, "the bombs fit under the 1 MiB upload limit");

    for (what, bytes) in [
        ("the 8-byte PNG signature", PNG_SIGNATURE.to_vec()),
        ("a 100000 × 100000 header", huge),
        ("a 20000 × 20000 decompression bomb", bomb),
        ("a 4096 × 4096 image needing 128 MiB", deep),
        ("a truncated image", truncated),
    ] {
        let started = std::time::Instant::now();
        let reply = upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "logo.png", Some("image/png"), &bytes).await;

        println!("FIGURE logo_refused case={what:?} bytes={} ms={}", bytes.len(), started.elapsed().as_millis());
        assert_refused(what, &reply, "file");
    }
    assert_eq!(app.query_i64(sql!("SELECT COUNT(*) FROM files")).await, 0, "refused logos leave no row");
    let blobs = std::fs::read_dir(app.data_dir.join("files")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(blobs, 0, "refused logos leave no blob");

    let uploaded = upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "logo.png", Some("image/png"), &with_payload).await;
    let tiny = upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "tiny.png", Some("image/png"), PNG).await;
    // Built like the bombs (runs of zeros as copies), at a size within the limits: the bombs are
    // refused for their size, not for a broken stream.
    let black = upload(&app, &f.r1a_admin.token, &f.r1a, "logo", "black.png", Some("image/png"), &png(64, 64, 8, 0, &[], 64 * 65)).await;

    assert_eq!(uploaded.status, 201, "{}", uploaded.text);
    assert_eq!(tiny.status, 201, "{}", tiny.text);
    assert_eq!(black.status, 201, "{}", black.text);
    let id = uploaded.body["id"].as_str().expect("id");
    let (status, _, served) = crate::profiles::download(&app, &format!("/api/v1/files/{id}"), Some(&f.r1a_admin.token), None).await;
    assert_eq!(status, 200);
    assert!(served.starts_with(PNG_SIGNATURE), "served as a PNG");
    assert!(!served.windows(8).any(|w| w == b"<script>"), "bytes after the image are not kept");
    assert_eq!(uploaded.body["size"], served.len(), "the stored logo is the re-encoded image");
}
