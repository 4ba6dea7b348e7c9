//! OpenID Connect, the relying party's side of the protocol (ADR 0026): the provider's metadata
//! and keys, the authorization code exchange, and the checks an ID token or a logout token must
//! pass. [`crate::sso`] holds the product's rules (connections, who may link what, sessions).
//!
//! Written by hand rather than with a general JOSE library: Trellis accepts two algorithms
//! (RS256 and ES256, verified with `ring`), never `none` or a shared-secret HMAC, and nothing else
//! of JOSE (no encrypted tokens, no embedded keys, no `jku`/`x5u` fetched from the token).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde::Deserialize;
use serde_json::{Map, Value};
use trellis_core::Timestamp;

/// The signature algorithms accepted, whatever the provider or the token says.
pub const ALLOWED_ALGORITHMS: &[&str] = &["RS256", "ES256"];
/// How far clocks may disagree when checking `exp`, `iat` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;
/// How long a provider's metadata and keys are reused before being read again.
const METADATA_SECONDS: i64 = 3600;
/// The event a back-channel logout token carries (OpenID Connect Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a provider's answer was not accepted. Written to the log and the sign-in history; the
/// person sees a plain sentence ([`Refusal::to_person`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The provider could not be reached or answered something unusable.
    Provider(String),
    /// The token endpoint refused the code (a replayed or expired code: `invalid_grant`).
    TokenEndpoint(String),
    Malformed(&'static str),
    Algorithm(String),
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    Nonce,
    Subject,
    Event,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Provider(why) => write!(f, "the identity provider is unusable: {why}"),
            Refusal::TokenEndpoint(error) => write!(f, "the token endpoint refused the code: {error}"),
            Refusal::Malformed(what) => write!(f, "malformed token: {what}"),
            Refusal::Algorithm(alg) => write!(f, "signature algorithm {alg:?} is not accepted"),
            Refusal::UnknownKey => f.write_str("no key of the provider verifies the token"),
            Refusal::Signature => f.write_str("the token's signature is wrong"),
            Refusal::Issuer => f.write_str("the token was issued by another issuer"),
            Refusal::Audience => f.write_str("the token is meant for another client"),
            Refusal::Expired => f.write_str("the token has expired"),
            Refusal::NotYetValid => f.write_str("the token is not valid yet"),
            Refusal::Nonce => f.write_str("the token's nonce does not match this sign-in"),
            Refusal::Subject => f.write_str("the token names no subject"),
            Refusal::Event => f.write_str("the token is not a back-channel logout token"),
        }
    }
}

/// What a provider publishes at `/.well-known/openid-configuration` (the parts used).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// A provider as last read: its metadata and signing keys.
#[derive(Debug, Clone)]
pub struct Provider {
    pub metadata: Metadata,
    keys: Vec<Jwk>,
    fetched_at: Timestamp,
}

impl Provider {
    /// When the metadata and keys were read.
    pub fn read_at(&self) -> Timestamp {
        self.fetched_at
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // reqwest is built without a default TLS provider; ring is the one the tree already has.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with the ring TLS provider")
    })
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Provider>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Provider>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Whether an issuer address is acceptable: HTTPS, or plain HTTP to this machine only (a provider
/// running beside Trellis in development and tests).
pub fn issuer_is_acceptable(issuer: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(issuer) else { return false };
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

/// The provider of `issuer`, from the cache when read less than an hour ago.
pub async fn provider(issuer: &str, now: Timestamp) -> Result<Arc<Provider>, Refusal> {
    let cached = cache().lock().expect("provider cache").get(issuer).cloned();
    if let Some(provider) = cached.filter(|p| p.fetched_at.plus_seconds(METADATA_SECONDS) > now) {
        return Ok(provider);
    }
    refresh(issuer, now).await
}

/// Reads the provider's metadata and keys again (a token signed with a key not seen yet: the
/// provider rotated its keys).
pub async fn refresh(issuer: &str, now: Timestamp) -> Result<Arc<Provider>, Refusal> {
    if !issuer_is_acceptable(issuer) {
        return Err(Refusal::Provider("the issuer must be an https:// address".into()));
    }
    let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let metadata: Metadata = get_json(&discovery).await?;
    // OpenID Connect Discovery 1.0 §4.3: the issuer published must be the one configured.
    if metadata.issuer != issuer {
        return Err(Refusal::Provider(format!("the provider calls itself {:?}", metadata.issuer)));
    }
    for endpoint in [&metadata.authorization_endpoint, &metadata.token_endpoint, &metadata.jwks_uri] {
        if !issuer_is_acceptable(endpoint.split('?').next().unwrap_or_default()) {
            return Err(Refusal::Provider(format!("endpoint {endpoint:?} is not https")));
        }
    }
    let keys: JwkSet = get_json(&metadata.jwks_uri).await?;
    let provider = Arc::new(Provider { metadata, keys: keys.keys, fetched_at: now });
    cache().lock().expect("provider cache").insert(issuer.to_owned(), provider.clone());
    Ok(provider)
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, Refusal> {
    let reply = client().get(url).send().await.map_err(|e| Refusal::Provider(format!("{url}: {e}")))?;
    if !reply.status().is_success() {
        return Err(Refusal::Provider(format!("{url}: HTTP {}", reply.status())));
    }
    reply.json().await.map_err(|e| Refusal::Provider(format!("{url}: {e}")))
}

/// Exchanges an authorization code for the ID token (RFC 6749 §4.1.3 with PKCE's verifier,
/// RFC 7636 §4.5; the client authenticates with HTTP Basic).
pub async fn exchange_code(
    provider: &Provider,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<String, Refusal> {
    #[derive(Deserialize)]
    struct TokenReply {
        #[serde(default)]
        id_token: Option<String>,
        #[serde(default)]
        error: Option<String>,
    }
    let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri), ("code_verifier", verifier)];
    let reply = client()
        .post(&provider.metadata.token_endpoint)
        .basic_auth(form_encode(client_id), Some(form_encode(client_secret)))
        .form(&form)
        .send()
        .await
        .map_err(|e| Refusal::Provider(format!("token endpoint: {e}")))?;
    let status = reply.status();
    let body: TokenReply = reply.json().await.map_err(|e| Refusal::Provider(format!("token endpoint: HTTP {status}: {e}")))?;
    match (status.is_success(), body.id_token, body.error) {
        (true, Some(id_token), _) => Ok(id_token),
        (_, _, Some(error)) => Err(Refusal::TokenEndpoint(error)),
        _ => Err(Refusal::Provider(format!("token endpoint: HTTP {status} without an ID token"))),
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic authentication.
fn form_encode(text: &str) -> String {
    reqwest::Url::parse_with_params("x:/", [("v", text)])
        .ok()
        .and_then(|url| url.query().map(|q| q.trim_start_matches("v=").to_owned()))
        .unwrap_or_default()
}

/// A token's signature checked against the provider's keys; answers its claims. A token whose
/// key is not among them is [`Refusal::UnknownKey`] (the caller reads the keys again, once).
pub fn verify_signature(token: &str, provider: &Provider) -> Result<Map<String, Value>, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Refusal::Malformed("not three parts"));
    };
    let header: Map<String, Value> = decode_json(header)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !ALLOWED_ALGORITHMS.contains(&alg.as_str()) {
        return Err(Refusal::Algorithm(alg));
    }
    if header.contains_key("crit") {
        return Err(Refusal::Malformed("critical header extensions are not understood"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let kty = if alg == "RS256" { "RSA" } else { "EC" };
    // A token without a key id may be checked against each key of the right type (providers with
    // one key often leave `kid` out).
    let candidates: Vec<&Jwk> = provider
        .keys
        .iter()
        .filter(|k| k.kty == kty && k.usage.as_deref().is_none_or(|u| u == "sig") && k.alg.as_deref().is_none_or(|a| a == alg))
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .collect();
    if candidates.is_empty() {
        return Err(Refusal::UnknownKey);
    }
    let message = format!("{}.{}", token.split('.').next().unwrap_or_default(), payload);
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Refusal::Malformed("signature encoding"))?;
    if !candidates.iter().any(|key| key_verifies(key, &alg, message.as_bytes(), &sig)) {
        return Err(Refusal::Signature);
    }
    decode_json(payload)
}

fn key_verifies(key: &Jwk, alg: &str, message: &[u8], sig: &[u8]) -> bool {
    let bytes = |field: &Option<String>| field.as_deref().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    match alg {
        "RS256" => {
            let (Some(n), Some(e)) = (bytes(&key.n), bytes(&key.e)) else { return false };
            signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig).is_ok()
        }
        "ES256" => {
            let (Some(x), Some(y)) = (bytes(&key.x), bytes(&key.y)) else { return false };
            if key.crv.as_deref() != Some("P-256") || x.len() != 32 || y.len() != 32 {
                return false;
            }
            let point = [&[4u8][..], &x, &y].concat();
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig).is_ok()
        }
        _ => false,
    }
}

fn decode_json(part: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| Refusal::Malformed("base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed("JSON object"))
}

/// What Trellis uses of an ID token that passed [`check_id_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub subject: String,
    pub email: Option<String>,
    /// `true` only when the provider said so; absent counts as unverified.
    pub email_verified: bool,
    pub name: Option<String>,
    pub sid: Option<String>,
}

/// OpenID Connect Core 1.0 §3.1.3.7: issuer, audience (and `azp` when there are several), expiry,
/// issue and not-before times, the nonce of this sign-in, a subject.
pub fn check_id_token(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<IdClaims, Refusal> {
    check_issuer_and_audience(claims, issuer, client_id)?;
    let now = now.micros() / 1_000_000;
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(Refusal::Malformed("exp"))?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(Refusal::Expired);
    }
    check_times(claims, now)?;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(Refusal::Nonce);
    }
    let subject = subject(claims)?.ok_or(Refusal::Subject)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let name = text("name").or_else(|| {
        let full = [text("given_name"), text("family_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        (!full.is_empty()).then_some(full)
    });
    Ok(IdClaims {
        subject,
        email: text("email").map(|e| e.to_lowercase()),
        // Some providers send the boolean as a string.
        email_verified: matches!(claims.get("email_verified"), Some(Value::Bool(true)))
            || claims.get("email_verified").and_then(Value::as_str) == Some("true"),
        name,
        sid: text("sid"),
    })
}

/// What a back-channel logout token names: a session of the provider, a subject, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub subject: Option<String>,
    pub sid: Option<String>,
}

/// OpenID Connect Back-Channel Logout 1.0 §2.6: issuer, audience, `iat`, the logout event, a
/// `jti`, `sub` or `sid`, and no `nonce` (which would make it usable as an ID token elsewhere).
pub fn check_logout_token(claims: &Map<String, Value>, issuer: &str, client_id: &str, now: Timestamp) -> Result<LogoutClaims, Refusal> {
    check_issuer_and_audience(claims, issuer, client_id)?;
    let now = now.micros() / 1_000_000;
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
        && exp + LEEWAY_SECONDS <= now
    {
        return Err(Refusal::Expired);
    }
    claims.get("iat").and_then(Value::as_i64).ok_or(Refusal::Malformed("iat"))?;
    check_times(claims, now)?;
    let is_logout = claims
        .get("events")
        .and_then(Value::as_object)
        .is_some_and(|events| events.get(BACKCHANNEL_LOGOUT_EVENT).is_some_and(Value::is_object));
    if !is_logout {
        return Err(Refusal::Event);
    }
    if claims.contains_key("nonce") {
        return Err(Refusal::Malformed("a logout token carries no nonce"));
    }
    claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or(Refusal::Malformed("jti"))?;
    let sid = claims.get("sid").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let subject = subject(claims)?;
    if sid.is_none() && subject.is_none() {
        return Err(Refusal::Subject);
    }
    Ok(LogoutClaims { subject, sid })
}

fn check_issuer_and_audience(claims: &Map<String, Value>, issuer: &str, client_id: &str) -> Result<(), Refusal> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(Refusal::Issuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&client_id) {
        return Err(Refusal::Audience);
    }
    // Several audiences: the party the token was issued to must be this client.
    if audiences.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(client_id) {
        return Err(Refusal::Audience);
    }
    Ok(())
}

fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), Refusal> {
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(Refusal::Malformed("iat"))?;
    if iat > now + LEEWAY_SECONDS {
        return Err(Refusal::NotYetValid);
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && nbf > now + LEEWAY_SECONDS
    {
        return Err(Refusal::NotYetValid);
    }
    Ok(())
}

fn subject(claims: &Map<String, Value>) -> Result<Option<String>, Refusal> {
    match claims.get("sub") {
        None => Ok(None),
        Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= 255 => Ok(Some(sub.clone())),
        Some(_) => Err(Refusal::Subject),
    }
}

/// RFC 7636 §4.2: the S256 code challenge of a verifier.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    const NOW: i64 = 1_800_000_000;

    fn now() -> Timestamp {
        Timestamp::from_micros(NOW * 1_000_000)
    }

    fn good() -> Value {
        json!({"iss": "https://idp.example", "aud": "trellis", "sub": "u1", "exp": NOW + 300, "iat": NOW, "nonce": "n1", "email": "Ada@Northwind.example", "email_verified": true})
    }

    #[test]
    fn an_id_token_passes_only_with_the_right_issuer_audience_times_nonce_and_subject() {
        let ok = check_id_token(&claims(good()), "https://idp.example", "trellis", "n1", now()).expect("good token");
        assert_eq!((ok.subject.as_str(), ok.email.as_deref(), ok.email_verified), ("u1", Some("ada@northwind.example"), true));
        let with = |key: &str, value: Value| {
            let mut c = good();
            c[key] = value;
            check_id_token(&claims(c), "https://idp.example", "trellis", "n1", now())
        };
        assert_eq!(with("iss", json!("https://evil.example")), Err(Refusal::Issuer));
        assert_eq!(with("aud", json!("someone-else")), Err(Refusal::Audience));
        assert_eq!(with("aud", json!(["trellis", "other"])), Err(Refusal::Audience), "several audiences need azp");
        assert_eq!(with("exp", json!(NOW - LEEWAY_SECONDS)), Err(Refusal::Expired));
        assert!(with("exp", json!(NOW - LEEWAY_SECONDS + 1)).is_ok(), "within the leeway");
        assert_eq!(with("iat", json!(NOW + LEEWAY_SECONDS + 1)), Err(Refusal::NotYetValid));
        assert_eq!(with("nbf", json!(NOW + LEEWAY_SECONDS + 1)), Err(Refusal::NotYetValid));
        assert_eq!(with("nonce", json!("other")), Err(Refusal::Nonce));
        assert_eq!(with("sub", json!("")), Err(Refusal::Subject));
        assert!(!with("email_verified", json!(false)).expect("token").email_verified);
        assert!(!with("email_verified", Value::Null).expect("token").email_verified);
        let mut azp = good();
        azp["aud"] = json!(["trellis", "other"]);
        azp["azp"] = json!("trellis");
        assert!(check_id_token(&claims(azp), "https://idp.example", "trellis", "n1", now()).is_ok());
    }

    #[test]
    fn a_logout_token_needs_the_event_a_jti_a_subject_or_session_and_no_nonce() {
        let good = json!({"iss": "https://idp.example", "aud": "trellis", "iat": NOW, "jti": "j1", "sid": "s1",
                          "events": {BACKCHANNEL_LOGOUT_EVENT: {}}});
        let ok = check_logout_token(&claims(good.clone()), "https://idp.example", "trellis", now()).expect("good");
        assert_eq!(ok, LogoutClaims { subject: None, sid: Some("s1".into()) });
        let without = |key: &str| {
            let mut c = good.clone();
            c.as_object_mut().expect("object").remove(key);
            check_logout_token(&claims(c), "https://idp.example", "trellis", now())
        };
        assert_eq!(without("events"), Err(Refusal::Event));
        assert_eq!(without("jti"), Err(Refusal::Malformed("jti")));
        assert_eq!(without("sid"), Err(Refusal::Subject));
        let mut nonce = good.clone();
        nonce["nonce"] = json!("n");
        assert!(check_logout_token(&claims(nonce), "https://idp.example", "trellis", now()).is_err());
    }

    #[test]
    fn only_rs256_and_es256_are_accepted_and_a_forged_signature_is_refused() {
        let provider = Provider {
            metadata: Metadata { issuer: "i".into(), authorization_endpoint: "a".into(), token_endpoint: "t".into(), jwks_uri: "j".into() },
            keys: Vec::new(),
            fetched_at: now(),
        };
        let token = |alg: &str| {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string());
            let payload = URL_SAFE_NO_PAD.encode(good().to_string());
            format!("{header}.{payload}.")
        };
        assert_eq!(verify_signature(&token("none"), &provider), Err(Refusal::Algorithm("none".into())));
        assert_eq!(verify_signature(&token("HS256"), &provider), Err(Refusal::Algorithm("HS256".into())));
        assert_eq!(verify_signature(&token("RS256"), &provider), Err(Refusal::UnknownKey));
        assert_eq!(verify_signature("a.b", &provider), Err(Refusal::Malformed("not three parts")));
    }

    #[test]
    fn an_es256_signature_verifies_and_a_changed_payload_or_another_key_does_not() {
        use ring::signature::KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let key_pair = |rng: &ring::rand::SystemRandom| {
            let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, rng).expect("key");
            signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng).expect("key pair")
        };
        let signer = key_pair(&rng);
        let jwk = |pair: &signature::EcdsaKeyPair, kid: &str| {
            let point = pair.public_key().as_ref();
            Jwk {
                kty: "EC".into(),
                kid: Some(kid.into()),
                alg: None,
                usage: Some("sig".into()),
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
            }
        };
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "k1"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(good().to_string());
        let signed = signer.sign(&rng, format!("{header}.{payload}").as_bytes()).expect("signature");
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signed.as_ref()));
        let provider = |keys: Vec<Jwk>| Provider {
            metadata: Metadata { issuer: "i".into(), authorization_endpoint: "a".into(), token_endpoint: "t".into(), jwks_uri: "j".into() },
            keys,
            fetched_at: now(),
        };
        let claims = verify_signature(&token, &provider(vec![jwk(&signer, "k1")])).expect("verifies");
        assert_eq!(claims["sub"], "u1");
        let changed =
            format!("{header}.{}.{}", URL_SAFE_NO_PAD.encode(json!({"sub": "admin"}).to_string()), token.rsplit('.').next().expect("sig"));
        assert_eq!(verify_signature(&changed, &provider(vec![jwk(&signer, "k1")])), Err(Refusal::Signature));
        assert_eq!(verify_signature(&token, &provider(vec![jwk(&key_pair(&rng), "k1")])), Err(Refusal::Signature));
        assert_eq!(verify_signature(&token, &provider(vec![jwk(&signer, "k2")])), Err(Refusal::UnknownKey), "rotated: read the keys again");
    }

    #[test]
    fn issuers_are_https_or_this_machine() {
        assert!(issuer_is_acceptable("https://login.example.com/tenant"));
        assert!(issuer_is_acceptable("http://127.0.0.1:8123"));
        assert!(!issuer_is_acceptable("http://idp.example"));
        assert!(!issuer_is_acceptable("https://idp.example/?x=1"));
        assert!(!issuer_is_acceptable("javascript:alert(1)"));
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // SHA-256 then base64url without padding, as computed by Python's hashlib and base64.
        assert_eq!(code_challenge("dBjftJeZ4CVP-mJ0kl8DK7lxQtYdg1RYEbIgM8WqXt0"), "vA9xXKi9Qj75YTXOqCfVidSvtVXCI3ja_hHpyztTVOY");
    }
}
