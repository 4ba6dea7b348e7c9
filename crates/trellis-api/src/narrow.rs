//! What the document says about input, narrowed to what the server accepts (issue 8): the structs
//! the document is generated from carry plain `String`s, while the edges refuse control characters
//! everywhere (docs/API.md "Input limits"), ids are `prefix_` and 26 base32 characters, a cursor is
//! an id of its list's objects, and some filters are closed vocabularies. Without this the
//! document promises that anything is accepted, and a client (or schemathesis) generated from it
//! sends input that is refused with 422.
//!
//! One pass over the finished document, on the request side only (parameters and the schemas of
//! request bodies; views are answers and stay as they are):
//! - every free string gets a pattern without C0 controls and DEL (newline, carriage return and
//!   tab allowed in the multi-line fields of [`trellis_core::text::MULTILINE_FIELDS`]);
//! - a required, non-nullable string must hold something other than white space (the server
//!   trims it and refuses it when empty);
//! - path ids and `*_id` body fields get their type's id pattern; a malformed path id is 404, a
//!   malformed body id 422;
//! - `cursor` gets the id pattern of its list's objects;
//! - `status` and `type` filters that are parsed (422 on an unknown value) get their enums.

use serde_json::{Map, Value, json};
use trellis_core::roles::{PartnerRole, PartnerScopeSetting, PartnerStatus, PartnerType, VendorRole};
use trellis_incentives::commissions::CommissionKind;
use trellis_incentives::conversions::ConversionKind;
use trellis_incentives::statuses::{CommissionStatus, HoldReason};

/// A text without control characters (C0 and DEL).
pub const SINGLE_LINE: &str = r"^[^\u0000-\u001f\u007f]*$";
/// A multi-line text: no control characters but newline, carriage return and tab.
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$";
/// A single-line text with at least one character that is not white space (Rust's `trim`).
pub const NOT_BLANK: &str =
    r"^[^\u0000-\u001f\u007f]*[^\u0000-\u0020\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f]*$";
/// A multi-line text with at least one character that is not white space.
pub const NOT_BLANK_MULTI_LINE: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*[^\u0000-\u0020\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$";

/// The pattern of an id with `prefix` (trellis_core::id: UUIDv7 in Crockford base32).
pub fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}_[0-7][0-9a-hjkmnp-tv-z]{{25}}$")
}

/// The id prefix of a path parameter: by its name, else by the collection before it.
fn path_id_prefix(path: &str, name: &str) -> Option<&'static str> {
    match name {
        "program_id" => return Some("prg"),
        "run_id" => return Some("pay"),
        "tier_id" => return Some("tir"),
        "step_id" => return Some("stp"),
        "agreement_id" => return Some("agr"),
        "user_id" => return Some("usr"),
        "id" => {}
        _ => return None,
    }
    let collection = path.split("/{id}").next()?.rsplit('/').next()?;
    Some(match collection {
        "partners" => "ptn",
        "programs" => "prg",
        "contracts" => "ctr",
        "licences" => "lic",
        "files" => "fil",
        "applications" => "ptn",
        "invitations" => "inv",
        "profile-change-requests" => "pcr",
        "api-keys" => "key",
        "deals" => "deal",
        "disputes" => "dsp",
        "extension-requests" => "ext",
        "commissions" => "com",
        "conversions" => "cnv",
        "payout-runs" => "pay",
        "referral-links" => "lnk",
        _ => return None,
    })
}

/// The id prefix of a list's cursor (the objects it lists; `extract::Cursor<T>` of each handler).
fn cursor_prefix(path: &str) -> Option<&'static str> {
    Some(match path {
        "/api/v1/api-keys" => "key",
        "/api/v1/applications" => "apl",
        "/api/v1/audit-events" => "aud",
        "/api/v1/emails" => "eml",
        "/api/v1/profile-change-requests" => "pcr",
        "/api/v1/partners" | "/api/v1/public/partners" => "ptn",
        "/api/v1/partners/{id}/tier-history" => "tch",
        "/api/v1/deals" => "deal",
        "/api/v1/leads" => "lead",
        "/api/v1/disputes" => "dsp",
        "/api/v1/extension-requests" => "ext",
        "/api/v1/commissions" => "com",
        "/api/v1/conversions" => "cnv",
        "/api/v1/payout-runs" => "pay",
        "/api/v1/referral-links" => "lnk",
        _ => return None,
    })
}

/// The id prefix of a body field holding an id (the request structs parse these as ids).
fn body_id_prefix(field: &str) -> Option<&'static str> {
    Some(match field {
        "file_id" | "logo_file_id" => "fil",
        "program_id" => "prg",
        "tier_id" => "tir",
        "parent_id" | "partner_id" => "ptn",
        "deal_id" => "deal",
        "manager_user_id" => "usr",
        _ => return None,
    })
}

/// The closed vocabulary of a query parameter the handler parses (422 on anything else).
fn query_enum(path: &str, name: &str) -> Option<Vec<&'static str>> {
    match (path, name) {
        ("/api/v1/partners", "status") => Some(PartnerStatus::ALL.iter().map(|s| s.as_str()).collect()),
        ("/api/v1/partners" | "/api/v1/public/partners", "type") => Some(PartnerType::ALL.iter().map(|t| t.as_str()).collect()),
        ("/api/v1/applications", "status") => Some(vec!["applied", "approved", "rejected"]),
        ("/api/v1/emails", "status") => Some(vec!["queued", "sent", "failed", "outbox"]),
        ("/api/v1/profile-change-requests", "status") => Some(vec!["pending", "approved", "rejected", "superseded"]),
        ("/api/v1/deals", "stage") => Some(trellis_deals::deals::DealStage::ALL.iter().map(|s| s.as_str()).collect()),
        ("/api/v1/deals", "source") => Some(trellis_deals::deals::DealSource::ALL.iter().map(|s| s.as_str()).collect()),
        ("/api/v1/deals", "order") => Some(vec!["newest", "oldest"]),
        ("/api/v1/disputes", "status") => Some(vec!["open", "upheld", "overturned"]),
        ("/api/v1/extension-requests", "status") => Some(vec!["open", "approved", "denied"]),
        ("/api/v1/commissions", "status") => Some(CommissionStatus::ALL.iter().map(|s| s.as_str()).collect()),
        ("/api/v1/commissions", "kind") => Some(CommissionKind::ALL.iter().map(|k| k.as_str()).collect()),
        ("/api/v1/commissions", "hold_reason") => Some(HoldReason::ALL.iter().map(|h| h.as_str()).collect()),
        ("/api/v1/commissions", "currency") => Some(trellis_core::values::Currency::codes().collect()),
        ("/api/v1/payout-runs/{id}/export", "format") => Some(vec!["csv", "sepa"]),
        ("/api/v1/conversions", "kind") => Some(ConversionKind::ALL.iter().map(|k| k.as_str()).collect()),
        _ => None,
    }
}

/// The closed vocabulary of a body field the request struct parses (422 on anything else): the
/// field's name (list entries by the list's name) in the schema `schema`.
fn body_enum(schema: &str, field: &str) -> Option<Vec<&'static str>> {
    fn all<T: Copy>(values: &[T], name: fn(T) -> &'static str) -> Option<Vec<&'static str>> {
        Some(values.iter().map(|v| name(*v)).collect())
    }
    match (schema, field) {
        (_, "types") => all(PartnerType::ALL, PartnerType::as_str),
        ("UpdatePartnerRequest", "status") => all(PartnerStatus::ALL, PartnerStatus::as_str),
        ("AttachDealPartnerRequest", "role") => Some(vec!["influence", "referral"]),
        // Nobody is invited as the owner (ownership is handed over with PATCH).
        ("AddMemberRequest", "role") => Some(VendorRole::ALL.iter().filter(|r| **r != VendorRole::Owner).map(|r| r.as_str()).collect()),
        ("UpdateMemberRequest", "role") => all(VendorRole::ALL, VendorRole::as_str),
        (_, "role") => all(PartnerRole::ALL, PartnerRole::as_str),
        (_, "partner_scope") => all(PartnerScopeSetting::ALL, PartnerScopeSetting::as_str),
        (_, "scopes") => Some(vec!["read", "write"]),
        (_, "partner_role") => all(trellis_deals::deals::DealRole::ALL, trellis_deals::deals::DealRole::as_str),
        ("CreateDealRequest" | "UpdateDealRequest", "stage") => {
            all(trellis_deals::deals::DealStage::ALL, trellis_deals::deals::DealStage::as_str)
        }
        ("CreateDealRequest", "source") => all(trellis_deals::deals::DealSource::ALL, trellis_deals::deals::DealSource::as_str),
        ("UploadForm", "purpose") => Some(vec!["logo", "contract", "licence"]),
        ("CreateConversionRequest", "kind") => all(ConversionKind::ALL, ConversionKind::as_str),
        ("CreateConversionRequest", "invoice_status") => Some(vec!["open", "paid"]),
        ("AwardBonusRequest", "kind") => Some(vec!["bonus", "spiff"]),
        ("HoldCommissionRequest", "reason") => Some(vec!["fraud_review", "manual"]),
        ("CreateStepRequest", "kind") => {
            Some(vec!["accept_agreement", "complete_profile", "invite_colleagues", "upload_document", "custom"])
        }
        _ => None,
    }
}

/// A date the server accepts (`trellis_core` dates: 1900-01-01 to 2199-12-31). February 29 of a
/// leap year is accepted too but not described (a pattern cannot tell leap years cheaply).
pub const DATE: &str =
    r"^(19[0-9]{2}|2[01][0-9]{2})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)$";
/// An RFC 3339 time or a date (`?since=` of the audit trail).
pub const DATE_OR_TIME: &str = r"^(19[0-9]{2}|2[01][0-9]{2})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$";
/// A program slug (`trellis_programs::programs::check_slug`; stored lower-case).
pub const SLUG: &str = r"^[A-Za-z0-9][A-Za-z0-9-]{1,58}[A-Za-z0-9]$";
/// A web address of the simplest kind the server accepts (docs/API.md "Input limits": a domain
/// name as host, `https://` assumed without a scheme); the server takes more than this describes.
/// Empty is no website.
pub const WEBSITE: &str = r"^((https?://)?[a-z][a-z0-9]{0,30}(\.[a-z][a-z0-9]{0,30}){0,3}\.[a-z]{2,12}(/[a-z0-9]{1,30}){0,4})?$";

/// The schema of a field whose value the server checks beyond its type: by the field's name
/// (`field` is its last segment) in the schema `schema`. `None` leaves the generic rules.
fn field_schema(schema: &str, field: &str, nullable: bool) -> Option<Value> {
    let with_null = |mut values: Vec<Value>| {
        if nullable {
            values.push(Value::Null);
        }
        Value::Array(values)
    };
    let string = |extra: Value| {
        let mut map = json!({"type": if nullable { json!(["string", "null"]) } else { json!("string") }});
        if let (Some(map), Value::Object(extra)) = (map.as_object_mut(), extra) {
            map.extend(extra);
        }
        Some(map)
    };
    let codes = |codes: Vec<&'static str>| string(json!({"enum": with_null(codes.into_iter().map(Value::from).collect())}));
    match (schema, field) {
        (_, "email" | "contact_email" | "customer_email") => string(json!({"format": "email", "maxLength": 254})),
        (_, "customer_domain") => string(json!({"pattern": WEBSITE, "maxLength": 500})),
        (_, "expected_close_date") => string(json!({"pattern": DATE})),
        (_, "occurred_at" | "effective_from") => string(json!({"pattern": DATE_OR_TIME})),
        (_, "amount_minor") => Some(
            json!({"type": if nullable { json!(["integer", "null"]) } else { json!("integer") }, "minimum": 0, "maximum": trellis_deals::deals::MAX_AMOUNT_MINOR}),
        ),
        (_, "country") => codes(trellis_directory::countries::COUNTRIES.iter().map(|(code, _)| *code).collect()),
        (_, "currency" | "default_currency") => codes(trellis_core::values::Currency::codes().collect()),
        (_, "slug") => string(json!({"pattern": SLUG})),
        (_, "website") => string(json!({"pattern": WEBSITE, "maxLength": 500})),
        (_, "starts_on" | "valid_from" | "valid_until") => string(json!({"pattern": DATE})),
        // Optional dates: blank is no date (`trellis_records::dates::optional`).
        (_, "ends_on" | "renews_on") => string(json!({"pattern": format!(r"^\s*$|{DATE}")})),
        ("RecordMetricRequest", "value") => {
            Some(json!({"type": ["integer", "boolean"], "description": "An integer or a boolean, as the metric's type says."}))
        }
        (_, "rank") => Some(
            json!({"type": if nullable { json!(["integer", "null"]) } else { json!("integer") }, "minimum": 0, "maximum": 1000, "description": "Higher is better; unique within the program (0 to 1000)."}),
        ),
        (_, "requirements") => Some(requirements_schema()),
        (_, "types") => Some(json!({
            "type": if nullable { json!(["array", "null"]) } else { json!("array") },
            "minItems": 1, "maxItems": 7,
            "items": {"type": "string", "enum": PartnerType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()}
        })),
        (_, "scopes") => Some(json!({
            "type": ["array", "null"], "minItems": 1,
            "items": {"type": "string", "enum": ["read", "write"]}
        })),
        ("QuestionInput", "id") => string(json!({"pattern": "^[a-z0-9_]{1,60}$"})),
        ("QuestionInput", "kind") => string(json!({"enum": ["text", "textarea", "select"]})),
        ("QuestionInput", "options") => Some(json!({
            "type": if nullable { json!(["array", "null"]) } else { json!("array") },
            "maxItems": 50,
            "items": {"type": "string", "maxLength": 200, "pattern": NOT_BLANK}
        })),
        (_, "application_questions") => {
            Some(json!({"type": ["array", "null"], "maxItems": 30, "items": {"$ref": "#/components/schemas/QuestionInput"}}))
        }
        (_, "addresses") => {
            Some(json!({"type": ["array", "null"], "maxItems": 20, "items": {"$ref": "#/components/schemas/AddressInput"}}))
        }
        (_, "specialisations" | "products") => {
            Some(json!({"type": ["array", "null"], "maxItems": 30, "items": {"type": "string", "maxLength": 60, "pattern": NOT_BLANK}}))
        }
        ("TerritoriesInput", "regions") => Some(
            json!({"type": if nullable { json!(["array", "null"]) } else { json!("array") }, "maxItems": 50, "items": {"type": "string", "maxLength": 100, "pattern": NOT_BLANK}}),
        ),
        ("TerritoriesInput", "countries") => Some(json!({
            "type": if nullable { json!(["array", "null"]) } else { json!("array") }, "maxItems": 249,
            "items": {"type": "string", "enum": trellis_directory::countries::COUNTRIES.iter().map(|(code, _)| *code).collect::<Vec<_>>()}
        })),
        (_, "position") => {
            Some(json!({"type": if nullable { json!(["integer", "null"]) } else { json!("integer") }, "minimum": 0, "maximum": 10000}))
        }
        (_, "default_protection_days") => Some(json!({"type": ["integer", "null"], "minimum": 0, "maximum": 3650})),
        (_, "benefits") => Some(json!({
            "type": ["object", "null"],
            "description": "Every field optional; unknown fields are refused.",
            "additionalProperties": false,
            "properties": {
                "text": {"type": "string", "maxLength": 2000, "pattern": MULTI_LINE},
                "commission_override_bps": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "2500 = 25%"},
                "mdf_allowance": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["amount_minor", "currency"],
                    "properties": {
                        "amount_minor": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000_000_i64},
                        "currency": {"type": "string", "enum": trellis_core::values::Currency::codes().collect::<Vec<_>>()}
                    }
                },
                "content_access": {"type": "array", "maxItems": 50, "uniqueItems": true, "items": {"type": "string", "pattern": "^[a-z0-9_-]{1,60}$"}}
            }
        })),
        _ => None,
    }
}

/// The metrics tier requirements are written over (docs/API.md "Tiers, requirements and
/// evaluation"; `GET /api/v1/metrics` lists the registry, and a test compares the two).
pub const INTEGER_METRICS: &[&str] =
    &["active_users", "months_in_program", "won_deals_12m", "won_revenue_12m", "customer_references", "marketing_activities"];
/// The yes/no metrics (compared with `=` and `!=` only).
pub const BOOLEAN_METRICS: &[&str] = &["compliant", "business_plan_approved"];

/// `{"all": [{"metric", "op", "value"}]}`: an integer metric with any comparison and a whole
/// number, a yes/no metric with `=` or `!=` and a boolean; at most 20 rules.
fn requirements_schema() -> Value {
    json!({
        "type": ["object", "null"],
        "description": "`{\"all\": [{\"metric\": \"active_users\", \"op\": \">=\", \"value\": 3}, {\"metric\": \"compliant\", \"op\": \"=\", \"value\": true}]}`; metrics come from `GET /api/v1/metrics`.",
        "additionalProperties": false,
        "properties": {"all": {"type": "array", "maxItems": 20, "items": {"oneOf": [
            {"type": "object", "additionalProperties": false, "required": ["metric", "op", "value"], "properties": {
                "metric": {"type": "string", "enum": INTEGER_METRICS},
                "op": {"type": "string", "enum": [">=", ">", "<=", "<", "=", "!="]},
                "value": {"type": "integer"}
            }},
            {"type": "object", "additionalProperties": false, "required": ["metric", "op", "value"], "properties": {
                "metric": {"type": "string", "enum": BOOLEAN_METRICS},
                "op": {"type": "string", "enum": ["=", "!="]},
                "value": {"type": "boolean"}
            }}
        ]}}}
    })
}

/// Fields whose text the server trims and refuses when empty also where the schema lets them be
/// left out or null (`Validation::text` rather than `optional_text`), by schema and field.
fn not_blank(schema: &str, field: &str) -> bool {
    matches!(
        (schema, field),
        (
            "UpdateWorkspaceRequest"
                | "UpdatePartnerRequest"
                | "UpdateProgramRequest"
                | "UpdateTierRequest"
                | "CreateApiKeyRequest"
                | "CreatePartnerKeyRequest"
                | "SepaDebtorInput",
            "name"
        ) | (
            _,
            "title"
                | "number"
                | "jurisdiction"
                | "legal_name"
                | "company_name"
                | "contact_name"
                | "body"
                | "label"
                | "line1"
                | "city"
                | "postal_code"
        ) | ("CreateLicenceRequest" | "UpdateLicenceRequest", "kind")
            | ("OverrideTierRequest" | "RejectChangeRequest" | "RejectRequest", "reason")
    )
}

/// The most characters a text field holds (`Validation::text`'s `max`), by schema and field.
fn max_length(schema: &str, field: &str) -> Option<u64> {
    Some(match (schema, field) {
        ("CreateApiKeyRequest" | "CreatePartnerKeyRequest" | "CreateTierRequest" | "UpdateTierRequest", "name") => 100,
        ("SepaDebtorInput", "name") => 70,
        (_, "name" | "title" | "legal_name" | "company_name" | "contact_name" | "line1" | "line2") => 200,
        ("CreateProgramRequest" | "UpdateProgramRequest" | "CreateDealRequest" | "UpdateDealRequest", "description") => 5000,
        ("CreateDealRequest", "customer_name" | "external_id") => 200,
        (_, "description") => 2000,
        ("RejectRequest", "reason") => 2000,
        (_, "reason" | "note") => 1000,
        ("PublishAgreementRequest", "body") => 100_000,
        ("QuestionInput", "label") => 300,
        (_, "jurisdiction" | "number" | "label" | "city" | "region") => 100,
        ("CreateLicenceRequest" | "UpdateLicenceRequest", "kind") => 100,
        (_, "postal_code") => 20,
        _ => return None,
    })
}

/// Narrows the document (see the module's documentation). It works on the JSON because utoipa's
/// types do not read a 3.1 document back.
pub fn narrow(document: &mut Value) {
    let mut request_schemas = Vec::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for operation in item.values_mut() {
                for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                    narrow_parameter(path, parameter);
                }
                if let Some(content) = operation.pointer("/requestBody/content").and_then(Value::as_object) {
                    for media in content.values() {
                        if let Some(name) = media.pointer("/schema/$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
                            request_schemas.push(name.to_owned());
                        }
                    }
                }
            }
        }
    }
    // The schemas of request bodies and the input schemas they refer to.
    let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = request_schemas.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            collect_refs(schema, &mut request_schemas);
        }
    }
    for name in seen {
        if let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
            match name.as_str() {
                // Missing texts are read as empty and refused (with every other field at once).
                "ApplicationRequest" => {
                    schema.insert("required".into(), json!(["company_name", "contact_name", "contact_email", "types"]));
                }
                // Missing texts are read as empty and refused.
                "PublishAgreementRequest" => {
                    schema.insert("required".into(), json!(["title", "body"]));
                }
                "CreateStepRequest" => {
                    schema.insert("required".into(), json!(["kind", "title"]));
                }
                "RejectRequest" => {
                    schema.insert("required".into(), json!(["reason"]));
                }
                // Parts other than these are refused (422), like unknown JSON fields.
                "UploadForm" | "LogoForm" => {
                    schema.insert("additionalProperties".into(), json!(false));
                }
                "CreatePartnerRequest" => {
                    schema.insert("dependentRequired".into(), json!({"tier_id": ["program_id"]}));
                }
                // A select needs its choices.
                "QuestionInput" => {
                    schema.insert("required".into(), json!(["id", "label", "kind"]));
                    schema.insert("if".into(), json!({"properties": {"kind": {"const": "select"}}, "required": ["kind"]}));
                    schema.insert(
                        "then".into(),
                        json!({"required": ["options"], "properties": {"options": {"type": "array", "minItems": 1}}}),
                    );
                }
                _ => {}
            }
        }
        if let Some(schema) = schemas.get_mut(&name) {
            narrow_schema(&name, schema, "", false);
        }
    }
}

fn collect_refs(schema: &Value, into: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
                into.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

fn narrow_parameter(path: &str, parameter: &mut Value) {
    let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let location = parameter.get("in").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else { return };
    if !is_free_string(schema) {
        return;
    }
    if location == "path"
        && let Some(prefix) = path_id_prefix(path, &name)
    {
        schema.insert("pattern".into(), json!(id_pattern(prefix)));
    } else if name == "cursor"
        && let Some(prefix) = cursor_prefix(path)
    {
        schema.insert("pattern".into(), json!(id_pattern(prefix)));
    } else if path == "/api/v1/deals" && name == "status" {
        // One status or several, separated by commas.
        let one = format!("({})", trellis_deals::statuses::DealStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("|"));
        schema.insert("pattern".into(), json!(format!("^{one}(,{one})*$")));
    } else if path == "/api/v1/leads" && name == "status" {
        let one = format!("({})", trellis_leads::statuses::LeadStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("|"));
        schema.insert("pattern".into(), json!(format!("^{one}(,{one})*$")));
    } else if name == "since" {
        schema.insert("pattern".into(), json!(DATE_OR_TIME));
    } else if name == "country" {
        let codes: Vec<&str> = trellis_directory::countries::COUNTRIES.iter().map(|(code, _)| *code).collect();
        schema.insert("enum".into(), json!(codes));
    } else if let Some(values) = query_enum(path, &name) {
        schema.insert("enum".into(), json!(values));
    } else {
        schema.insert("pattern".into(), json!(SINGLE_LINE));
    }
}

/// A string schema without enum, format or pattern (nullable or not).
fn is_free_string(schema: &Map<String, Value>) -> bool {
    let string = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    string && !schema.contains_key("enum") && !schema.contains_key("format") && !schema.contains_key("pattern")
}

/// Whether null is allowed, by `type` or by a `oneOf` with `{"type": "null"}`.
fn nullable_any(schema: &Map<String, Value>) -> bool {
    nullable(schema)
        || schema.get("oneOf").and_then(Value::as_array).is_some_and(|a| a.iter().any(|s| s.get("type") == Some(&json!("null"))))
}

fn nullable(schema: &Map<String, Value>) -> bool {
    matches!(schema.get("type"), Some(Value::Array(types)) if types.iter().any(|t| t == "null"))
}

/// Narrows the schema at `field` (a path such as `addresses.line1`); `required` when its object
/// requires it.
fn narrow_schema(name: &str, schema: &mut Value, field: &str, required: bool) {
    let last = field.rsplit('.').next().unwrap_or(field).to_owned();
    let last = last.as_str();
    if !field.is_empty()
        && let Some(replacement) = field_schema(name, last, schema.as_object().is_some_and(nullable_any))
    {
        // Keep the field's own description when the replacement has none.
        let description = schema.get("description").cloned();
        *schema = replacement;
        if let (Some(description), Some(map)) = (description, schema.as_object_mut()) {
            map.entry("description").or_insert(description);
        }
        return;
    }
    let Some(map) = schema.as_object_mut() else { return };
    if is_free_string(map)
        && let Some(values) = body_enum(name, last)
    {
        // A nullable field's null stays valid.
        let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
        if nullable(map) {
            values.push(Value::Null);
        }
        map.insert("enum".into(), Value::Array(values));
    } else if is_free_string(map) {
        let multiline = trellis_core::text::is_multiline(field);
        let pattern = if let Some(prefix) = body_id_prefix(last) {
            id_pattern(prefix)
        } else if (required && !nullable(map)) || not_blank(name, last) {
            map.insert("minLength".into(), json!(1));
            (if multiline { NOT_BLANK_MULTI_LINE } else { NOT_BLANK }).to_owned()
        } else {
            (if multiline { MULTI_LINE } else { SINGLE_LINE }).to_owned()
        };
        map.insert("pattern".into(), json!(pattern));
        if let Some(max) = max_length(name, last) {
            map.insert("maxLength".into(), json!(max));
        }
    }
    let required_fields: Vec<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
        for (property_name, property) in properties.iter_mut() {
            let path = if field.is_empty() { property_name.clone() } else { format!("{field}.{property_name}") };
            narrow_schema(name, property, &path, required_fields.contains(property_name));
        }
    }
    if let Some(items) = map.get_mut("items") {
        // An entry of a list is required text when the list is.
        narrow_schema(name, items, field, false);
    }
    if let Some(values) = map.get_mut("additionalProperties").filter(|v| v.is_object()) {
        narrow_schema(name, values, &format!("{field}.*"), false);
    }
    if let Some(names) = map.get_mut("propertyNames") {
        narrow_schema(name, names, field, false);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for alternative in map.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            narrow_schema(name, alternative, field, required);
        }
    }
}
