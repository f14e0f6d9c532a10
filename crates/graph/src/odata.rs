//! OData query helpers: string literals for `$filter`, list queries, and
//! RFC 3986 percent-encoding of query values.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// Quote a value as an OData string literal: wrap in `'` and double every `'`
/// inside (`O'Brien` → `'O''Brien'`). Use it for **every** value placed in a
/// `$filter`.
pub fn odata_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Everything but RFC 3986 unreserved characters is encoded, so `'`, `&`,
/// `#`, `+`, `=`, spaces (`%20`, never `+`) and non-ASCII survive intact.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Set `url`'s query to the given pairs, values percent-encoded per RFC 3986.
/// Keys are our own constants (`$filter`, `$select`, …) and kept literal.
pub(crate) fn set_query(url: &mut Url, pairs: &[(&str, String)]) {
    if pairs.is_empty() {
        url.set_query(None);
        return;
    }
    let q = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&");
    url.set_query(Some(&q));
}

/// Parameters of a collection GET (`/users`, `/groups`, `/contacts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// `$filter` expression; build literals with [`odata_string`].
    pub filter: Option<String>,
    /// `$select` properties.
    pub select: Vec<String>,
    /// `$top` page size (Graph caps directory objects at 999).
    pub top: Option<u32>,
    /// Advanced query: sends `ConsistencyLevel: eventual` on every page and
    /// `$count=true` (needed for `ne`, `not`, `endsWith`, casts).
    pub advanced: bool,
}

impl ListQuery {
    /// An empty query (all objects, default properties).
    pub fn new() -> Self {
        ListQuery::default()
    }

    /// Set `$filter`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Set `$select`.
    pub fn select(mut self, props: &[&str]) -> Self {
        self.select = props.iter().map(|p| (*p).to_string()).collect();
        self
    }

    /// Set `$top`.
    pub fn top(mut self, top: u32) -> Self {
        self.top = Some(top);
        self
    }

    /// Turn advanced-query mode on.
    pub fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }

    /// Query pairs in a stable order.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(f) = &self.filter {
            p.push(("$filter", f.clone()));
        }
        if !self.select.is_empty() {
            p.push(("$select", self.select.join(",")));
        }
        if let Some(t) = self.top {
            p.push(("$top", t.to_string()));
        }
        if self.advanced {
            p.push(("$count", "true".to_string()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Inverse of [`odata_string`], as an OData parser would read the literal.
    fn unquote(lit: &str) -> Option<String> {
        let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                // Inside a literal a quote must be doubled.
                if chars.next() != Some('\'') {
                    return None;
                }
            }
            out.push(c);
        }
        Some(out)
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(odata_string("O'Brien"), "'O''Brien'");
        assert_eq!(odata_string(""), "''");
        assert_eq!(odata_string("''"), "''''''");
        assert_eq!(odata_string("a&b#c+d é"), "'a&b#c+d é'");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let mut url = Url::parse("https://graph.microsoft.com/v1.0/users").unwrap();
        let q = ListQuery::new()
            .filter(format!("mail eq {}", odata_string("o'b+x&y#z@ex.com é")))
            .select(&["id", "mail"])
            .top(999)
            .advanced();
        set_query(&mut url, &q.pairs());
        assert_eq!(
            url.query().unwrap(),
            "$filter=mail%20eq%20%27o%27%27b%2Bx%26y%23z%40ex.com%20%C3%A9%27&$select=id%2Cmail&$top=999&$count=true"
        );
        let decoded: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(decoded[0].1, "mail eq 'o''b+x&y#z@ex.com é'");
    }

    proptest! {
        #[test]
        fn quoting_round_trips(s in any::<String>()) {
            let lit = odata_string(&s);
            prop_assert_eq!(unquote(&lit), Some(s));
        }

        #[test]
        fn encoded_filter_decodes_to_original(s in any::<String>()) {
            let mut url = Url::parse("https://graph.microsoft.com/v1.0/users").unwrap();
            let filter = format!("mail eq {}", odata_string(&s));
            set_query(&mut url, &[("$filter", filter.clone())]);
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(pairs, vec![("$filter".to_string(), filter)]);
        }
    }
}
