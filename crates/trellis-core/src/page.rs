//! A page of a list and the one cursor rule of every paged list, API and pages alike (API.md
//! "Pagination"): a store function fetches one row more than the page holds; when that row
//! arrives, more exist, and the last row kept is the cursor of the next page. Ids are
//! time-ordered, so "older than the cursor" is "id less than it".

/// Rows a page holds when the caller names no limit.
pub const DEFAULT_PAGE_SIZE: i64 = 50;

/// The most rows a page holds. The bounds are a store-side safety net only: the API refuses a
/// `limit` outside 1..=500 with 422 (`trellis_api::extract::PageLimit`) rather than clamping it.
pub const MAX_PAGE_SIZE: i64 = 500;

/// Some rows of a list and, when more follow, the cursor that asks for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The rows a page of `limit` holds: 50 unless named, and within 1..=500.
pub fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// The rows a store function fetches for a page of `limit`: one more than the page holds.
pub fn fetch_limit(limit: Option<i64>) -> i64 {
    page_size(limit) + 1
}

impl<T> Page<T> {
    /// The page of `limit` from the rows fetched with [`fetch_limit`]: the extra row only says
    /// that more exist, and `cursor_of` names the last row kept.
    pub fn from_rows(mut rows: Vec<T>, limit: Option<i64>, cursor_of: impl Fn(&T) -> String) -> Self {
        let size = usize::try_from(page_size(limit)).unwrap_or(usize::MAX);
        let more = rows.len() > size;
        rows.truncate(size);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Self { items: rows, next_cursor }
    }

    /// A page with nothing on it (a list filtered by something the caller may not see).
    pub fn empty() -> Self {
        Self { items: Vec::new(), next_cursor: None }
    }

    /// The same page with every item converted (a domain page into the API's views).
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(convert).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_were_fetched_than_it_holds() {
        let full: Vec<i64> = (0..fetch_limit(Some(3))).collect();
        let page = Page::from_rows(full, Some(3), i64::to_string);
        assert_eq!(page, Page { items: vec![0, 1, 2], next_cursor: Some("2".to_owned()) });

        let exact = Page::from_rows(vec![0, 1, 2], Some(3), i64::to_string);
        assert_eq!(exact.next_cursor, None);
        assert_eq!(exact.items.len(), 3);
    }

    #[test]
    fn page_sizes_default_to_50_and_stay_within_1_to_500() {
        assert_eq!(page_size(None), 50);
        assert_eq!(fetch_limit(None), 51);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(fetch_limit(Some(10_000)), 501);
    }
}
