//! Paged lists on pages: the store functions answer a `trellis_core::Page` (the API's cursor
//! rule, API.md "Lists"), and the pages link its cursor.

/// Rows per page of every paged list.
pub const PAGE_SIZE: i64 = trellis_core::page::DEFAULT_PAGE_SIZE;

/// `path?name=value&…` with blank values left out and everything percent-encoded.
pub fn page_url(path: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> =
        params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// Encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_encode_values_and_skip_blank_ones() {
        assert_eq!(page_url("/x", &[("q", "a b&c/é"), ("type", ""), ("cursor", "ptn_1")]), "/x?q=a%20b%26c%2F%C3%A9&cursor=ptn_1");
        assert_eq!(page_url("/x", &[("q", "")]), "/x");
    }
}
