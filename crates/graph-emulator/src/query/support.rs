//! Which `$filter` clauses Graph supports: each clause is checked against the property's
//! operators, its type and the advanced-query rules before anything is evaluated, so an
//! unsupported filter is refused rather than answered on a best-effort basis.

use super::entity::{ANY, ENDS, EQ, EQ_NULL, EntitySet, GE_LE, IN, NE, NOT, STARTS};
use super::filter::{Expr, Lit, Op};
use crate::error::GraphError;
use crate::schema::schema;

/// Largest `in (...)` list accepted (Graph's directory limit; stricter where unsure).
const MAX_IN_VALUES: usize = 15;

pub(super) fn check(
    expr: &Expr,
    set: &EntitySet,
    lambda: Option<(&str, &str)>,
    negated: bool,
    advanced: &mut bool,
) -> Result<(), GraphError> {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            check(a, set, lambda, negated, advanced)?;
            check(b, set, lambda, negated, advanced)
        }
        Expr::Not(inner) => {
            if lambda.is_some() {
                return Err(set.unsupported(lambda.map_or("", |l| l.0)));
            }
            *advanced = true;
            check(inner, set, lambda, true, advanced)
        }
        Expr::Any {
            property,
            var,
            body,
        } => {
            if lambda.is_some() {
                return Err(set.unsupported(property));
            }
            let ops = known(set, property)?;
            if ops & ANY == 0 {
                return Err(set.unsupported(property));
            }
            if negated && ops & NOT == 0 {
                return Err(set.unsupported(property));
            }
            if property == "identities" {
                return check_identities(body, var, set);
            }
            check(body, set, Some((property, var)), false, advanced)
        }
        Expr::Compare { path, op, value } => {
            let (property, ops) = resolve(path, set, lambda)?;
            let needed = match (op, value) {
                (Op::Eq, Lit::Null) => EQ_NULL,
                (Op::Eq, _) => EQ,
                (Op::Ne, _) => {
                    *advanced = true;
                    NE
                }
                (Op::Ge | Op::Le, _) => GE_LE,
                (Op::Gt | Op::Lt, _) => 0,
            };
            if needed == 0 || ops & needed == 0 || (negated && ops & NOT == 0) {
                return Err(set.unsupported(&property));
            }
            check_literal(set, &property, lambda.is_some(), value)
        }
        Expr::In { path, values } => {
            let (property, ops) = resolve(path, set, lambda)?;
            if ops & IN == 0 || (negated && ops & NOT == 0) {
                return Err(set.unsupported(&property));
            }
            if values.len() > MAX_IN_VALUES {
                return Err(GraphError::unsupported_query(format!(
                    "Too many values in the 'in' clause: at most {MAX_IN_VALUES} are supported."
                )));
            }
            for v in values {
                check_literal(set, &property, lambda.is_some(), v)?;
            }
            Ok(())
        }
        Expr::Call { ends, path, .. } => {
            let (property, ops) = resolve(path, set, lambda)?;
            let needed = if *ends {
                *advanced = true;
                ENDS
            } else {
                STARTS
            };
            if ops & needed == 0 || (negated && ops & NOT == 0) {
                return Err(set.unsupported(&property));
            }
            let string_typed = schema()
                .property(set.type_name, &property)
                .is_some_and(|p| p.ty.contains("Edm.String"));
            if !string_typed {
                return Err(set.unsupported(&property));
            }
            Ok(())
        }
    }
}

fn known(set: &EntitySet, property: &str) -> Result<u16, GraphError> {
    if schema().property(set.type_name, property).is_none() {
        return Err(GraphError::bad_request(format!(
            "Could not find a property named '{property}' on type '{}'.",
            set.type_name
        )));
    }
    Ok(set.ops(property))
}

/// The property a comparison path names and its supported operators.
fn resolve(
    path: &[String],
    set: &EntitySet,
    lambda: Option<(&str, &str)>,
) -> Result<(String, u16), GraphError> {
    match (lambda, path) {
        (Some((property, var)), [v]) if v == var => {
            Ok((property.to_owned(), known(set, property)?))
        }
        (Some((property, _)), _) => Err(set.unsupported(property)),
        (None, [property]) => {
            let ops = known(set, property)?;
            if ops & ANY != 0 {
                // A collection compared directly instead of through any().
                return Err(set.unsupported(property));
            }
            Ok((property.clone(), ops))
        }
        (None, _) => Err(set.unsupported(&path.join("/"))),
    }
}

fn check_literal(
    set: &EntitySet,
    property: &str,
    element: bool,
    value: &Lit,
) -> Result<(), GraphError> {
    let ty = schema()
        .property(set.type_name, property)
        .map(|p| p.ty.clone())
        .unwrap_or_default();
    let ty = if element {
        ty.trim_start_matches("Collection(")
            .trim_end_matches(')')
            .to_owned()
    } else {
        ty
    };
    let ok = match value {
        Lit::Null => !element,
        Lit::Bool(_) => ty == "Edm.Boolean",
        Lit::Str(_) => ty == "Edm.String" || ty == "Edm.Guid",
        Lit::Bare(b) => ty == "Edm.DateTimeOffset" && b.parse::<jiff::Timestamp>().is_ok(),
    };
    if ok {
        Ok(())
    } else {
        let found = match value {
            Lit::Null => "null",
            Lit::Bool(_) => "Edm.Boolean",
            Lit::Str(_) => "Edm.String",
            Lit::Bare(_) => "Edm.DateTimeOffset",
        };
        Err(GraphError::bad_request(format!(
            "A binary operator with incompatible types was detected. Found operand types '{ty}' and '{found}' for operator kind 'Equal'."
        )))
    }
}

fn check_identities(body: &Expr, var: &str, set: &EntitySet) -> Result<(), GraphError> {
    let field = |e: &Expr| -> Option<(String, String)> {
        match e {
            Expr::Compare {
                path,
                op: Op::Eq,
                value: Lit::Str(s),
            } if path.len() == 2 && path[0] == var => Some((path[1].clone(), s.clone())),
            _ => None,
        }
    };
    let fields: Vec<(String, String)> = match body {
        Expr::And(a, b) => [field(a), field(b)].into_iter().flatten().collect(),
        single => field(single).into_iter().collect(),
    };
    let expected = if matches!(body, Expr::And(..)) { 2 } else { 1 };
    if fields.len() != expected {
        return Err(set.unsupported("identities"));
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_str())
    };
    if fields
        .iter()
        .any(|(f, v)| f == "signInType" && v.eq_ignore_ascii_case("userPrincipalName"))
    {
        return Err(set.unsupported("identities"));
    }
    match (get("issuerAssignedId"), get("issuer"), fields.len()) {
        (Some(_), Some(_), 2) => Ok(()),
        (None, Some(issuer), 1)
            if ["google.com", "facebook.com", "mail", "phone"]
                .iter()
                .any(|i| i.eq_ignore_ascii_case(issuer)) =>
        {
            Ok(())
        }
        _ => Err(set.unsupported("identities")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::entity::USERS;
    use crate::query::filter::parse_filter;

    fn checked(filter: &str) -> Result<bool, GraphError> {
        let e = parse_filter(filter)?;
        let mut adv = false;
        check(&e, &USERS, None, false, &mut adv)?;
        Ok(adv)
    }

    #[test]
    fn marks_advanced_operators() {
        assert!(!checked("mail eq 'a'").unwrap());
        assert!(checked("mail ne 'a'").unwrap());
        assert!(checked("not(mail eq 'a')").unwrap());
        assert!(checked("endsWith(mail,'a')").unwrap());
        assert!(checked("proxyAddresses/any(x:endsWith(x,'@a.com'))").unwrap());
        assert!(!checked("proxyAddresses/any(x:startsWith(x,'smtp:'))").unwrap());
    }

    #[test]
    fn refuses_unsupported_clauses() {
        for f in [
            "proxyAddresses/any(x:x ne 'a')",
            "proxyAddresses eq 'a'",
            "mail gt 'a'",
            "endsWith(displayName,'a')",
            "identities/any(c:c/signInType eq 'userPrincipalName')",
            "identities/any(c:c/issuer eq 'contoso.com')",
            "accountEnabled ge true",
            "proxyAddresses/any(x:x in ('a','b'))",
            "externalUserState eq null",
        ] {
            let e = checked(f).unwrap_err();
            assert_eq!(e.code, "Request_UnsupportedQuery", "{f}");
        }
        let e = checked("mial eq 'a'").unwrap_err();
        assert_eq!(e.code, "Request_BadRequest");
        let e = checked("accountEnabled eq 'true'").unwrap_err();
        assert_eq!(e.code, "Request_BadRequest");
    }
}
