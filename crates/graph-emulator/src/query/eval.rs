//! Evaluating a parsed `$filter` against one stored object, with Graph's case-insensitive
//! string comparisons and `null` for anything absent.

use serde_json::{Map, Value};

use super::filter::{Expr, Lit, Op};

fn lower(v: &Value) -> Option<String> {
    v.as_str().map(str::to_lowercase)
}

fn compare(actual: &Value, op: Op, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (actual, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (_, Lit::Null) | (Value::Null, _) => None,
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Value::String(a), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Value::String(a), Lit::Bare(b)) => {
            match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                (Ok(x), Ok(y)) => Some(x.cmp(&y)),
                _ => None,
            }
        }
        _ => None,
    };
    match op {
        Op::Eq => ord == Some(Ordering::Equal),
        Op::Ne => ord != Some(Ordering::Equal),
        Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ord == Some(Ordering::Greater),
        Op::Lt => ord == Some(Ordering::Less),
    }
}

impl Expr {
    /// Whether `object` matches; `bound` is the lambda variable and its current element.
    pub fn eval(&self, object: &Map<String, Value>, bound: Option<(&str, &Value)>) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(object, bound) || b.eval(object, bound),
            Expr::And(a, b) => a.eval(object, bound) && b.eval(object, bound),
            Expr::Not(a) => !a.eval(object, bound),
            Expr::Compare { path, op, value } => compare(lookup(object, path, bound), *op, value),
            Expr::In { path, values } => {
                let actual = lookup(object, path, bound);
                values.iter().any(|v| compare(actual, Op::Eq, v))
            }
            Expr::Call { ends, path, value } => {
                let affix = value.to_lowercase();
                lower(lookup(object, path, bound)).is_some_and(|s| {
                    if *ends {
                        s.ends_with(&affix)
                    } else {
                        s.starts_with(&affix)
                    }
                })
            }
            Expr::Any {
                property,
                var,
                body,
            } => object
                .get(property)
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items
                        .iter()
                        .any(|item| body.eval(object, Some((var, item))))
                }),
        }
    }
}

/// The value at `path` (`null` when absent), borrowed: a scan looks up a property of every
/// object, and cloning each value it compares cost more than the comparison.
fn lookup<'a>(
    object: &'a Map<String, Value>,
    path: &[String],
    bound: Option<(&str, &'a Value)>,
) -> &'a Value {
    static NULL: Value = Value::Null;
    let (mut current, rest) = match (bound, path.first()) {
        (Some((var, element)), Some(first)) if first == var => (element, &path[1..]),
        (_, Some(first)) => match object.get(first) {
            Some(v) => (v, &path[1..]),
            None => return &NULL,
        },
        (_, None) => return &NULL,
    };
    for segment in rest {
        match current.get(segment) {
            Some(v) => current = v,
            None => return &NULL,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use crate::query::filter::parse_filter;
    use crate::query::fixture::user;

    fn matches(filter: &str) -> bool {
        parse_filter(filter).unwrap().eval(&user(), None)
    }

    #[test]
    fn evaluates_the_supported_operators_case_insensitively() {
        assert!(matches("mail eq 'ann@fabrikam.com'"));
        assert!(matches("displayName eq 'O''Brien'"));
        assert!(!matches("mail ne 'ANN@FABRIKAM.COM'"));
        assert!(matches("startsWith(mail,'ANN')"));
        assert!(matches("endswith(userPrincipalName,'@contoso.com')"));
        assert!(matches("userType in ('Guest','member')"));
        assert!(matches("jobTitle eq null"));
        assert!(!matches("mail eq null"));
        assert!(matches(
            "accountEnabled eq true and not(userType eq 'Guest')"
        ));
        assert!(matches("proxyAddresses/any(x:x eq 'smtp:a@contoso.com')"));
        assert!(matches("proxyAddresses/any(x:startsWith(x,'SMTP:ann'))"));
        assert!(matches("otherMails/any(m:m eq 'Ann.Private@outlook.com')"));
        assert!(!matches("otherMails/any(m:m eq 'nobody@outlook.com')"));
        assert!(matches(
            "identities/any(c:c/issuerAssignedId eq 'ann@x.com' and c/issuer eq 'contoso.onmicrosoft.com')"
        ));
        assert!(matches(
            "(mail eq 'x@y.com' or upn eq 'z') or userPrincipalName eq 'ann@contoso.com'"
        ));
        assert!(matches("createdDateTime ge 2024-01-01T00:00:00Z"));
    }
}
