//! Paged lists on pages: the store functions answer a `trellis_core::Page` (the API's cursor
//! rule, API.md "Lists"), and the pages link its cursor.
//!
//! [`ListState`] is the list component every console list uses (partners now; deals, leads and
//! commissions with their issues): it reads the page's filters, sort, cursor and position from the
//! query, and answers the links and words around the table ([`ListView`]: "Showing 51–100 of
//! 2,340", first and next page, the export of the same filters) and its sortable column heads
//! ([`ColumnHead`]), which `lists.html` renders.

use crate::display;
use crate::forms::FormData;

/// Rows per page of every paged list.
pub const PAGE_SIZE: i64 = trellis_core::page::DEFAULT_PAGE_SIZE;

/// Matching rows counted at most (a count costs at most this many index entries): "of 10,000+".
pub const COUNT_CAP: i64 = 10_000;

/// The state of a list page, read from its query.
pub struct ListState {
    path: &'static str,
    /// The filters as `(name, value)`, blank ones included; carried by every link.
    filters: Vec<(&'static str, String)>,
    /// The sort's code; `default_sort` is left out of links.
    sort: &'static str,
    default_sort: &'static str,
    cursor: Option<String>,
    /// Where this page starts in the list, carried by the page links for "Showing 51–100" only:
    /// the cursor decides which rows come.
    offset: usize,
}

/// What the page shows around its table.
pub struct ListView {
    /// "Showing 51–100 of 2,340".
    pub showing: String,
    pub next_page: Option<String>,
    pub first_page: Option<String>,
}

/// A column head; `sort_href` when the list sorts by it.
pub struct ColumnHead {
    pub label: &'static str,
    pub sort_href: Option<String>,
    /// `aria-sort`: "ascending", "descending" or "none".
    pub aria_sort: &'static str,
}

/// A sort a column offers: its code and whether it is ascending.
pub struct SortOrder {
    pub code: &'static str,
    pub ascending: bool,
}

impl ListState {
    /// `sorts` are the codes the list accepts; an unknown or missing `sort` is `default_sort`.
    pub fn read(
        path: &'static str,
        query: &FormData,
        filters: Vec<(&'static str, String)>,
        sorts: &[&'static str],
        default_sort: &'static str,
    ) -> Self {
        let sort = query.optional("sort").and_then(|s| sorts.iter().copied().find(|known| *known == s)).unwrap_or(default_sort);
        let cursor = query.optional("cursor").map(str::to_owned);
        let offset = if cursor.is_some() { query.optional("from").and_then(|n| n.parse().ok()).unwrap_or(0).min(10_000_000) } else { 0 };
        Self { path, filters, sort, default_sort, cursor, offset }
    }

    pub fn sort(&self) -> &'static str {
        self.sort
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether any filter is set (the empty list then offers to show everything).
    pub fn is_filtered(&self) -> bool {
        self.filters.iter().any(|(_, v)| !v.is_empty())
    }

    /// The list at `path` with these filters, `sort`, and optionally a cursor and position.
    fn url(&self, path: &str, sort: &str, cursor: Option<(&str, usize)>) -> String {
        let mut params: Vec<(&str, String)> = self.filters.iter().map(|(k, v)| (*k, v.clone())).collect();
        if sort != self.default_sort {
            params.push(("sort", sort.to_owned()));
        }
        if let Some((cursor, from)) = cursor {
            params.push(("cursor", cursor.to_owned()));
            params.push(("from", from.to_string()));
        }
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        page_url(path, &borrowed)
    }

    /// The same filters and sort at another path (an export, a bulk action's return).
    pub fn url_at(&self, path: &str) -> String {
        self.url(path, self.sort, None)
    }

    /// The words and links around a page of `shown` rows of `total` matching ones (counted up to
    /// [`COUNT_CAP`]); `noun` names the rows ("partners").
    pub fn view(&self, shown: usize, total: i64, next_cursor: Option<String>, noun: &str) -> ListView {
        let total_text = if total > COUNT_CAP { format!("{}+", display::thousands(COUNT_CAP)) } else { display::thousands(total) };
        let showing = if shown == 0 {
            format!("No {noun} of {total_text} on this page")
        } else {
            format!(
                "Showing {}–{} of {total_text} {noun}",
                display::thousands(self.offset as i64 + 1),
                display::thousands((self.offset + shown) as i64)
            )
        };
        ListView {
            showing,
            next_page: next_cursor.map(|c| self.url(self.path, self.sort, Some((&c, self.offset + shown)))),
            first_page: self.cursor.as_ref().map(|_| self.url(self.path, self.sort, None)),
        }
    }

    /// [`Self::view`] for a list that is not counted (newest first, a page at a time).
    pub fn uncounted_view(&self, shown: usize, next_cursor: Option<String>, noun: &str) -> ListView {
        let more = next_cursor.is_some();
        let mut view = self.view(shown, 0, next_cursor, noun);
        view.showing = if shown == 0 {
            format!("No {noun} on this page")
        } else {
            format!("{shown} {noun}, newest first{}", if more { "; more follow" } else { "" })
        };
        view
    }

    /// A column head that sorts by `first` on the first click and toggles to `second`.
    pub fn column(&self, label: &'static str, first: SortOrder, second: SortOrder) -> ColumnHead {
        let (aria_sort, next) = if self.sort == first.code {
            (if first.ascending { "ascending" } else { "descending" }, second.code)
        } else if self.sort == second.code {
            (if second.ascending { "ascending" } else { "descending" }, first.code)
        } else {
            ("none", first.code)
        };
        ColumnHead { label, sort_href: Some(self.url(self.path, next, None)), aria_sort }
    }

    /// A column head the list does not sort by.
    pub fn plain_column(label: &'static str) -> ColumnHead {
        ColumnHead { label, sort_href: None, aria_sort: "none" }
    }
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

    fn state(query: &[(&str, &str)]) -> ListState {
        let query = FormData::from_pairs(query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        let filters = vec![("q", query.value("q").to_owned()), ("status", query.value("status").to_owned())];
        ListState::read("/l", &query, filters, &["newest", "name", "name_desc"], "newest")
    }

    #[test]
    fn a_list_page_says_where_it_is_and_links_its_neighbours_with_the_same_filters_and_sort() {
        let first = state(&[("q", "acme"), ("sort", "name")]);
        let view = first.view(50, 2340, Some("ptn_9".to_owned()), "partners");
        assert_eq!(view.showing, "Showing 1–50 of 2,340 partners");
        assert_eq!(view.next_page.as_deref(), Some("/l?q=acme&sort=name&cursor=ptn_9&from=50"));
        assert_eq!(view.first_page, None);
        let second = state(&[("q", "acme"), ("sort", "name"), ("cursor", "ptn_9"), ("from", "50")]);
        let view = second.view(50, 20_000, None, "partners");
        assert_eq!(view.showing, "Showing 51–100 of 10,000+ partners");
        assert_eq!(view.first_page.as_deref(), Some("/l?q=acme&sort=name"));
        assert_eq!(second.url_at("/l/export"), "/l/export?q=acme&sort=name");
        // An unknown sort is the default one, which links leave out.
        assert_eq!(state(&[("sort", "salary")]).sort(), "newest");
    }

    #[test]
    fn a_sortable_column_toggles_its_direction_and_says_which_it_is() {
        let name = |s: &ListState| {
            s.column("Name", SortOrder { code: "name", ascending: true }, SortOrder { code: "name_desc", ascending: false })
        };
        let unsorted = name(&state(&[]));
        assert_eq!((unsorted.aria_sort, unsorted.sort_href.as_deref()), ("none", Some("/l?sort=name")));
        let ascending = name(&state(&[("sort", "name"), ("status", "active")]));
        assert_eq!((ascending.aria_sort, ascending.sort_href.as_deref()), ("ascending", Some("/l?status=active&sort=name_desc")));
        let descending = name(&state(&[("sort", "name_desc")]));
        assert_eq!((descending.aria_sort, descending.sort_href.as_deref()), ("descending", Some("/l?sort=name")));
    }

    #[test]
    fn page_urls_encode_values_and_skip_blank_ones() {
        assert_eq!(page_url("/x", &[("q", "a b&c/é"), ("type", ""), ("cursor", "ptn_1")]), "/x?q=a%20b%26c%2F%C3%A9&cursor=ptn_1");
        assert_eq!(page_url("/x", &[("q", "")]), "/x");
    }
}
