//! The query options of one request: decoding `$select`, `$filter`, `$top`, `$count` and
//! `$skiptoken`, refusing the ones Graph would refuse, and the opaque paging token bound to
//! the other options.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use base64::Engine;

use super::entity::{EntitySet, SINGLE_USER_ONLY};
use super::filter::{Expr, parse_filter};
use crate::error::GraphError;
use crate::schema::schema;

/// The decoded query options of one request.
#[derive(Debug, Default, Clone)]
pub struct QueryOptions {
    /// `$select`, split on commas.
    pub select: Option<Vec<String>>,
    /// `$filter`, parsed.
    pub filter: Option<Expr>,
    filter_text: Option<String>,
    /// `$top`.
    pub top: Option<usize>,
    /// `$count=true`.
    pub count: bool,
    /// `$expand`, split on commas (only where the caller allowed it).
    pub expand: Vec<String>,
    pub(super) skiptoken: Option<String>,
    /// Every option as sent (for nextLink), minus `$skiptoken`.
    raw: Vec<(String, String)>,
}

/// Parses a raw query string. Unknown `$` options and unimplemented ones (`$expand`
/// included) are 400.
pub fn parse_options(raw_query: Option<&str>) -> Result<QueryOptions, GraphError> {
    parse(raw_query, None)
}

/// Like [`parse_options`], but `$expand` may name the navigation properties in `allowed`
/// (each at most once, without nested options); anything else in it is 400.
pub fn parse_options_expanding(
    raw_query: Option<&str>,
    allowed: &[&str],
) -> Result<QueryOptions, GraphError> {
    parse(raw_query, Some(allowed))
}

fn parse(raw_query: Option<&str>, expandable: Option<&[&str]>) -> Result<QueryOptions, GraphError> {
    let mut opts = QueryOptions::default();
    let mut seen = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        let key = key.into_owned();
        let value = value.into_owned();
        let lower = key.to_ascii_lowercase();
        if !lower.starts_with('$') {
            // Graph ignores custom query parameters.
            continue;
        }
        if seen.insert(lower.clone(), ()).is_some() {
            return Err(GraphError::bad_request(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            )));
        }
        match lower.as_str() {
            "$select" => {
                opts.select = Some(
                    value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
            }
            "$filter" => {
                opts.filter = Some(parse_filter(&value)?);
                opts.filter_text = Some(value.clone());
            }
            "$top" => {
                let n: i64 = value.trim().parse().map_err(|_| {
                    GraphError::bad_request(format!(
                        "Invalid value '{value}' for $top query option."
                    ))
                })?;
                if !(1..=999).contains(&n) {
                    return Err(GraphError::bad_request(format!(
                        "Invalid page size specified: '{n}'. Must be between 1 and 999 inclusive."
                    )));
                }
                opts.top = usize::try_from(n).ok();
            }
            "$count" => match value.to_ascii_lowercase().as_str() {
                "true" => opts.count = true,
                "false" => opts.count = false,
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid value '{value}' for $count query option."
                    )));
                }
            },
            "$skiptoken" => {
                opts.skiptoken = Some(value);
                continue;
            }
            "$expand" if expandable.is_some() => {
                let allowed = expandable.unwrap_or_default();
                for name in value.split(',').map(str::trim) {
                    if !allowed.contains(&name) || opts.expand.iter().any(|e| e == name) {
                        return Err(GraphError::bad_request(format!(
                            "Parsing OData Select and Expand failed: '{name}' can't be expanded here (expandable: {}).",
                            allowed.join(", ")
                        )));
                    }
                    opts.expand.push(name.to_owned());
                }
            }
            "$orderby" | "$search" | "$expand" | "$skip" => {
                return Err(GraphError::unsupported_query(format!(
                    "Query option '{key}' is not supported by this emulator."
                )));
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Query option '{key}' is not allowed."
                )));
            }
        }
        opts.raw.push((key, value));
    }
    Ok(opts)
}

impl QueryOptions {
    fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.filter_text.hash(&mut h);
        self.select.hash(&mut h);
        self.top.hash(&mut h);
        self.count.hash(&mut h);
        self.expand.hash(&mut h);
        h.finish()
    }

    pub(super) fn start_position(&self) -> Result<usize, GraphError> {
        let Some(token) = &self.skiptoken else {
            return Ok(0);
        };
        let bad = || GraphError::bad_request("Invalid $skiptoken value.");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (pos, fp) = text.split_once(':').ok_or_else(bad)?;
        let pos: usize = pos.parse().map_err(|_| bad())?;
        let fp = u64::from_str_radix(fp, 16).map_err(|_| bad())?;
        if fp != self.fingerprint() {
            return Err(bad());
        }
        Ok(pos)
    }

    pub(super) fn next_link(&self, base: &str, position: usize) -> String {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{position}:{:x}", self.fingerprint()));
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.raw {
            s.append_pair(k, v);
        }
        s.append_pair("$skiptoken", &token);
        format!("{base}?{}", s.finish())
    }

    /// Refuses `$select` of the user properties Graph serves only on a single user
    /// (`GET /users/{id}`), when listing.
    pub fn check_list_select(&self, set: &EntitySet) -> Result<(), GraphError> {
        if set.name != "users" {
            return Ok(());
        }
        for name in self.select.iter().flatten() {
            if SINGLE_USER_ONLY.contains(&name.as_str()) {
                return Err(GraphError::bad_request(format!(
                    "The property '{name}' is supported only when retrieving a single user."
                )));
            }
        }
        Ok(())
    }

    /// Checks `$select` names against the type; 400 for unknown ones.
    pub fn check_select(&self, type_name: &str) -> Result<(), GraphError> {
        for name in self.select.iter().flatten() {
            let known = schema()
                .property(type_name, name)
                .is_some_and(|p| !p.navigation);
            if !known {
                return Err(GraphError::bad_request(format!(
                    "Could not find a property named '{name}' on type '{type_name}'."
                )));
            }
        }
        Ok(())
    }
}

/// Whether the request carries `ConsistencyLevel: eventual`.
pub fn is_eventual(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::{Lit, Op};

    #[test]
    fn top_and_options_are_validated() {
        assert!(parse_options(Some("$top=999")).is_ok());
        assert_eq!(
            parse_options(Some("$top=1000")).unwrap_err().code,
            "Request_BadRequest"
        );
        assert_eq!(
            parse_options(Some("$top=0")).unwrap_err().code,
            "Request_BadRequest"
        );
        assert!(parse_options(Some("$bogus=1")).is_err());
        assert!(parse_options(Some("$expand=roleDefinition")).is_err());
        let o = parse_options_expanding(Some("$expand=roleDefinition"), &["roleDefinition"]);
        assert_eq!(o.unwrap().expand, vec!["roleDefinition".to_owned()]);
        for bad in [
            "principal",
            "roleDefinition($select=id)",
            "roleDefinition,roleDefinition",
        ] {
            let q = format!("$expand={bad}");
            assert!(
                parse_options_expanding(Some(&q), &["roleDefinition"]).is_err(),
                "{bad}"
            );
        }
        let o = parse_options(Some("$filter=mail%20eq%20%27a%2Bb%40c.com%27")).unwrap();
        assert_eq!(
            o.filter,
            Some(Expr::Compare {
                path: vec!["mail".into()],
                op: Op::Eq,
                value: Lit::Str("a+b@c.com".into())
            })
        );
    }
}
