//! Where a referral link may send people: only to the workspace's allowed domains, so `/r/{code}`
//! is never an open redirect (issue 11). The raw text is parsed as a browser parses it (the WHATWG
//! URL standard, `url`), the parsed host is compared — never the text — and the link stores and
//! redirects to the parsed URL's serialisation, so what was checked is what the browser follows.

use url::{Host, Url};

/// Why a destination is refused (the sentence the API and the page show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

const MAX_LENGTH: usize = 2_000;

/// Checks `raw` against the workspace's allowed domains (each allows itself and its subdomains)
/// and answers the URL to store. Refused: anything but http(s); user information
/// (`https://example.com@evil.test`); IP addresses; a host outside the list after IDNA mapping,
/// so a look-alike (`exаmple.com` with a Cyrillic `а`) is compared as the punycode it is; control
/// characters, spaces and backslashes in the text (a browser reads `\` as `/`).
pub fn check(raw: &str, allowed: &[String]) -> Result<Url, Refused> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Refused("a destination URL is required".into()));
    }
    if text.len() > MAX_LENGTH {
        return Err(Refused(format!("must be at most {MAX_LENGTH} characters")));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return Err(Refused("must not contain spaces, control characters or backslashes".into()));
    }
    let url = Url::parse(text).map_err(|e| Refused(format!("must be an absolute http or https URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused("must be an http or https URL".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused("must not carry a user name or password".into()));
    }
    let host = match url.host() {
        Some(Host::Domain(host)) => host.trim_end_matches('.').to_owned(),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => return Err(Refused("must name a domain, not an IP address".into())),
        None => return Err(Refused("must name a domain".into())),
    };
    if allowed.is_empty() {
        return Err(Refused("the workspace allows no destination domains yet: an admin adds them in the workspace settings".into()));
    }
    if allowed.iter().any(|domain| is_within(&host, domain)) {
        Ok(url)
    } else {
        Err(Refused(format!("{host} is not one of the workspace's allowed domains ({})", allowed.join(", "))))
    }
}

/// `host` is `domain` or one of its subdomains (label-wise: `notexample.com` is not within
/// `example.com`). Both are ASCII and lowercase here: the URL parser maps hosts to punycode, and
/// the workspace's list holds parsed domain names.
fn is_within(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

/// A link's `Location` before its click id: the destination with the link's UTM parameters added
/// (those the destination does not set itself), built once when the link enters the table, so
/// that a redirect only appends the click id (no URL parsing per visit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Up to the query, ending in `?` or `&`.
    before_click: String,
    /// `#…` when the destination has a fragment (it follows the query).
    fragment: String,
}

impl Location {
    pub fn new(destination: &Url, utm: &[(&'static str, String)]) -> Self {
        let mut url = destination.clone();
        let fragment = url.fragment().map(|f| format!("#{f}")).unwrap_or_default();
        url.set_fragment(None);
        let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let missing: Vec<_> = utm.iter().filter(|(name, _)| !present.iter().any(|p| p == name)).collect();
        if !missing.is_empty() {
            let mut query = url.query_pairs_mut();
            for (name, value) in missing {
                query.append_pair(name, value);
            }
        }
        let mut before_click: String = url.into();
        if !before_click.ends_with(['?', '&']) {
            before_click.push(if before_click.contains('?') { '&' } else { '?' });
        }
        Self { before_click, fragment }
    }

    /// The redirect's `Location` for one click. Click ids are `clk_` and lowercase base32: they
    /// need no escaping in a query.
    pub fn with_click(&self, click_id: &str) -> String {
        debug_assert!(click_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        let mut location = String::with_capacity(self.before_click.len() + 14 + click_id.len() + self.fragment.len());
        location.push_str(&self.before_click);
        location.push_str("trellis_click=");
        location.push_str(click_id);
        location.push_str(&self.fragment);
        location
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["example.com".to_owned(), "shop.example.org".to_owned()]
    }

    #[test]
    fn allowed_domains_and_their_subdomains_pass_and_are_stored_as_parsed() {
        for ok in [
            "https://example.com",
            "https://www.example.com/pricing?plan=pro#top",
            "http://EXAMPLE.com./a",
            "https://eu.shop.example.org/x",
        ] {
            assert!(check(ok, &allowed()).is_ok(), "{ok} should pass");
        }
        assert_eq!(check("https://Example.COM/a%20b", &allowed()).map(String::from).as_deref(), Ok("https://example.com/a%20b"));
    }

    #[test]
    fn the_usual_open_redirect_tricks_are_refused() {
        let tricks = [
            // user information: the host is what follows the @
            "https://example.com@evil.test/",
            "https://example.com:pass@evil.test/",
            "https://evil.test@example.com/",
            // backslashes: browsers read them as slashes
            "https://example.com\\@evil.test",
            "https:\\\\evil.test",
            "/\\evil.test",
            // protocol-relative and relative
            "//evil.test",
            "/path",
            "evil.test",
            // other schemes
            "javascript:alert(1)//example.com",
            "data:text/html,<script>alert(1)</script>",
            "ftp://example.com/file",
            "file:///etc/passwd",
            // encoded slashes and dots do not change the host
            "https://evil.test%2F@example.com",
            "https://evil.test%2fexample.com",
            "https://example.com%2e.evil.test/",
            // suffix and prefix look-alikes
            "https://notexample.com",
            "https://example.com.evil.test",
            "https://example.co",
            // IDN look-alike: a Cyrillic а in "exаmple"
            "https://ex\u{0430}mple.com",
            // IP addresses, even ones that might serve the site
            "https://93.184.215.14/",
            "https://[::1]/",
            "http://2130706433/",
            // whitespace and control characters
            "https://example.com/\n.evil.test",
            "https://evil.test\t.example.com",
            " https://evil.test ",
        ];
        for trick in tricks {
            assert!(check(trick, &allowed()).is_err(), "{trick:?} must be refused");
        }
    }

    #[test]
    fn nothing_passes_an_empty_list() {
        assert!(check("https://example.com", &[]).is_err());
    }

    #[test]
    fn the_location_keeps_the_destination_and_adds_utm_and_the_click() {
        let url = check("https://example.com/p?utm_source=own", &allowed()).expect("allowed");
        let utm = [("utm_source", "partner".to_owned()), ("utm_medium", "referral".to_owned())];
        assert_eq!(
            Location::new(&url, &utm).with_click("clk_abc"),
            "https://example.com/p?utm_source=own&utm_medium=referral&trellis_click=clk_abc"
        );
        let bare = check("https://example.com/p#pricing", &allowed()).expect("allowed");
        assert_eq!(Location::new(&bare, &[]).with_click("clk_abc"), "https://example.com/p?trellis_click=clk_abc#pricing");
        let empty_query = check("https://example.com/p?", &allowed()).expect("allowed");
        assert_eq!(
            Location::new(&empty_query, &utm[1..]).with_click("clk_abc"),
            "https://example.com/p?utm_medium=referral&trellis_click=clk_abc"
        );
    }
}
