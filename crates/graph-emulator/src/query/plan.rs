//! Query planning: which objects a `$filter` *can* match, read from the collection's index
//! ([`crate::index`]) instead of scanning every object.
//!
//! Why a superset and not the answer: the engine evaluates the whole filter on each
//! candidate, in directory order, exactly as the scan would. So a plan only has to never
//! leave out an object the filter matches; every rule (operators, types, advanced
//! queries) is still checked before planning, and the answer (objects, order, paging,
//! `@odata.count`) is the scan's. A filter part the index can't serve (`startsWith`,
//! `ne`, `not`, a property without an index) makes the whole plan `None`, unless it is
//! one side of an `and` whose other side narrows the search: then the scan runs.

use super::filter::{Expr, Lit, Op};
use crate::index::CollectionIndex;

/// Positions (ascending, no repeats) that include every object `expr` matches, or `None`
/// when the index can't narrow the search.
pub(super) fn candidates(expr: &Expr, index: &CollectionIndex) -> Option<Vec<usize>> {
    match expr {
        Expr::Or(a, b) => Some(union(vec![candidates(a, index)?, candidates(b, index)?])),
        Expr::And(a, b) => match (candidates(a, index), candidates(b, index)) {
            (Some(x), Some(y)) => Some(intersection(&x, &y)),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Expr::Compare { path, .. } | Expr::In { path, .. } => {
            let [property] = path.as_slice() else {
                return None;
            };
            lookup_all(index, property, &equal_values(expr, property)?)
        }
        Expr::Any {
            property,
            var,
            body,
        } => lookup_all(index, property, &equal_values(body, var)?),
        Expr::Not(_) | Expr::Call { .. } => None,
    }
}

/// The strings `expr` requires `name` (a property or the lambda variable) to equal, one of
/// which must hold for `expr` to be true; `None` when `expr` doesn't pin `name` down.
fn equal_values<'a>(expr: &'a Expr, name: &str) -> Option<Vec<&'a str>> {
    match expr {
        Expr::Compare {
            path,
            op: Op::Eq,
            value: Lit::Str(s),
        } if is_name(path, name) => Some(vec![s.as_str()]),
        Expr::In { path, values } if is_name(path, name) => values
            .iter()
            .map(|v| match v {
                Lit::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        Expr::Or(a, b) => {
            let mut values = equal_values(a, name)?;
            values.extend(equal_values(b, name)?);
            Some(values)
        }
        // Both sides hold, so either side's values bound the matches.
        Expr::And(a, b) => equal_values(a, name).or_else(|| equal_values(b, name)),
        _ => None,
    }
}

fn is_name(path: &[String], name: &str) -> bool {
    matches!(path, [only] if only == name)
}

fn lookup_all(index: &CollectionIndex, property: &str, values: &[&str]) -> Option<Vec<usize>> {
    let lists = values
        .iter()
        .map(|v| index.lookup(property, v).map(<[usize]>::to_vec))
        .collect::<Option<Vec<_>>>()?;
    Some(union(lists))
}

fn union(lists: Vec<Vec<usize>>) -> Vec<usize> {
    let mut all: Vec<usize> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn intersection(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .copied()
        .filter(|p| large.binary_search(p).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::index::Collection;
    use crate::query::USERS;
    use crate::query::filter::parse_filter;

    fn users() -> Collection {
        let objects = [
            json!({"id": "0", "userPrincipalName": "a@contoso.com", "mail": "x@fabrikam.com"}),
            json!({"id": "1", "userPrincipalName": "b@contoso.com", "otherMails": ["X@fabrikam.com"]}),
            json!({"id": "2", "userPrincipalName": "c@contoso.com",
                   "proxyAddresses": ["smtp:x@FABRIKAM.com", "SMTP:c@contoso.com"]}),
            json!({"id": "3", "userPrincipalName": "x@fabrikam.com", "userType": "Guest"}),
        ];
        Collection::new(
            objects.into_iter().filter_map(|o| o.as_object().cloned()),
            USERS.indexed,
        )
    }

    fn plan(filter: &str) -> Option<Vec<usize>> {
        let users = users();
        candidates(&parse_filter(filter).unwrap(), users.index())
    }

    #[test]
    fn serves_eq_in_any_and_their_combinations() {
        assert_eq!(plan("mail eq 'X@Fabrikam.com'"), Some(vec![0]));
        assert_eq!(
            plan(
                "userPrincipalName eq 'x@fabrikam.com' or mail eq 'x@fabrikam.com' or \
                 proxyAddresses/any(p:p eq 'smtp:x@fabrikam.com') or \
                 otherMails/any(p:p eq 'x@fabrikam.com')"
            ),
            Some(vec![0, 1, 2, 3])
        );
        assert_eq!(plan("id in ('3', '1', 'none')"), Some(vec![1, 3]));
        assert_eq!(
            plan("otherMails/any(m:m eq 'x@fabrikam.com' or m eq 'nobody')"),
            Some(vec![1])
        );
        // One indexed side of an `and` narrows the search; the other is evaluated later.
        assert_eq!(
            plan("userType eq 'Guest' and userPrincipalName eq 'x@fabrikam.com'"),
            Some(vec![3])
        );
        assert_eq!(plan("mail eq 'x@fabrikam.com' and id eq '1'"), Some(vec![]));
    }

    #[test]
    fn falls_back_to_the_scan_when_the_index_cannot_narrow() {
        for filter in [
            "startsWith(mail,'x')",
            "userType eq 'Guest'",
            "mail eq 'x@fabrikam.com' or userType eq 'Guest'",
            "mail eq null",
            "proxyAddresses/any(p:startsWith(p,'smtp:'))",
            "not(mail eq 'x@fabrikam.com')",
            "identities/any(c:c/issuerAssignedId eq 'a' and c/issuer eq 'b')",
        ] {
            assert_eq!(plan(filter), None, "{filter}");
        }
    }
}
