//! Paged lists on pages, with the API's cursor rule (API.md "Lists"): fetch one row more than the
//! page shows; when it arrives, the last shown row's id is the cursor of the next page.

/// Rows per page of every paged list.
pub const PAGE_SIZE: i64 = 50;

/// Rows a list asks its store function for.
pub const FETCH: i64 = PAGE_SIZE + 1;

/// Keeps the first [`PAGE_SIZE`] rows; the next page's cursor when there were more.
pub fn split_page<T>(rows: &mut Vec<T>, cursor_of: impl Fn(&T) -> String) -> Option<String> {
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    if more { rows.last().map(cursor_of) } else { None }
}

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

    #[test]
    fn a_page_of_rows_has_a_cursor_only_when_more_rows_exist() {
        let mut full: Vec<i64> = (0..=PAGE_SIZE).collect();
        assert_eq!(split_page(&mut full, i64::to_string), Some((PAGE_SIZE - 1).to_string()));
        assert_eq!(full.len() as i64, PAGE_SIZE);
        let mut short: Vec<i64> = (0..3).collect();
        assert_eq!(split_page(&mut short, i64::to_string), None);
    }
}
