//! Email addresses as the invitation API accepts them.
//!
//! Graph refuses an `invitedUserEmailAddress` holding any of
//! `~ ! # $ % ^ & * ( ) + = [ ] { } \ / | ; : " < > ? ,`; `.` and `-` are fine except at
//! the start or end of the user name; `_` is allowed anywhere (graph-facts.md §1, from
//! Microsoft's `resources/invitation.md`). Checking this before anything is sent turns a
//! mid-run 400 into a plan-time `invalid_email` with the reason spelled out. Messages
//! quote at most 80 characters of the address, so a pasted paragraph stays readable.

use crate::input::quoted;

/// Characters Graph refuses anywhere in an invited address.
pub const FORBIDDEN: &[char] = &[
    '~', '!', '#', '$', '%', '^', '&', '*', '(', ')', '+', '=', '[', ']', '{', '}', '\\', '/', '|',
    ';', ':', '"', '<', '>', '?', ',',
];

/// Checks an address; the error says what is wrong in words an admin can act on.
///
/// ```
/// use b2b_convert_core::email::check_address;
/// assert!(check_address("adele@fabrikam.com").is_ok());
/// assert!(check_address("o'brien@fabrikam.com").is_ok());
/// assert!(check_address("adele+b2b@fabrikam.com").is_err());
/// ```
pub fn check_address(address: &str) -> Result<(), String> {
    if address.chars().any(char::is_whitespace) {
        return Err("contains white space".into());
    }
    // Graph refuses them, and an error quoting them would be unreadable (fuzzing found
    // an address of control characters accepted up to the domain check).
    if address.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    if let Some(c) = address.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(format!(
            "contains `{c}`, which Graph does not accept in an invited address"
        ));
    }
    if !address.is_ascii() {
        return Err("contains non-ASCII characters, which Graph does not accept in mail".into());
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("has no `@`".into());
    };
    if local.is_empty() {
        return Err("has nothing before the `@`".into());
    }
    if local.contains('@') {
        return Err("has more than one `@`".into());
    }
    if local.len() > 64 {
        return Err("has a user name longer than 64 characters".into());
    }
    for edge in [local.chars().next(), local.chars().last()]
        .into_iter()
        .flatten()
    {
        if edge == '.' || edge == '-' {
            return Err(format!("the user name starts or ends with `{edge}`"));
        }
    }
    if local.contains("..") {
        return Err("the user name has two dots in a row".into());
    }
    check_domain(domain)
}

/// Checks a bare domain name (`--upn-domain`, a `--map-email` template's domain) by the
/// rules an invited address's domain must meet.
///
/// ```
/// use b2b_convert_core::email::check_domain_name;
/// assert!(check_domain_name("fabrikam.com").is_ok());
/// assert!(check_domain_name("fabrikam").is_err());
/// assert!(check_domain_name("ann@fabrikam.com").is_err());
/// ```
pub fn check_domain_name(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("the domain is empty".into());
    }
    check_domain(domain)
}

fn check_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("has no domain after the `@`".into());
    }
    if domain.len() > 253 {
        return Err("has a domain longer than 253 characters".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("the domain `{}` has no dot", quoted(domain)));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "the domain `{}` is not a valid host name",
                quoted(domain)
            ));
        }
    }
    Ok(())
}

/// The domain part of an address, lower-cased (`None` without an `@`).
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
}

/// Whether `domain` is `parent` or a subdomain of it, without regard to case (and
/// without allocating: it runs for every row against every verified or listed domain).
///
/// ```
/// use b2b_convert_core::email::is_within;
/// assert!(is_within("eu.Contoso.com", "contoso.com"));
/// assert!(is_within("contoso.com", "CONTOSO.com"));
/// assert!(!is_within("notcontoso.com", "contoso.com"));
/// ```
pub fn is_within(domain: &str, parent: &str) -> bool {
    let (d, p) = (domain.as_bytes(), parent.as_bytes());
    if d.len() == p.len() {
        return d.eq_ignore_ascii_case(p);
    }
    d.len() > p.len()
        && d[d.len() - p.len() - 1] == b'.'
        && d[d.len() - p.len()..].eq_ignore_ascii_case(p)
}

/// Graph compares directory addresses without regard to case.
pub fn same_address(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "a@b.co",
            "first.last@fabrikam.com",
            "first_last@sub.fabrikam.co.uk",
            "o'brien@fabrikam.com",
            "x-y@fabrikam-partners.com",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_graph_refuses() {
        for (bad, why) in [
            ("adele+x@fabrikam.com", "`+`"),
            ("a,b@fabrikam.com", "`,`"),
            ("miriam graham@proseware", "white space"),
            ("nobody", "no `@`"),
            ("@fabrikam.com", "nothing before"),
            (".adele@fabrikam.com", "starts or ends with `.`"),
            ("adele-@fabrikam.com", "starts or ends with `-`"),
            ("adele@fabrikam", "no dot"),
            ("adele@fab_rikam.com", "not a valid host name"),
            ("adèle@fabrikam.com", "non-ASCII"),
            ("a@b@c.com", "more than one"),
        ] {
            let err = check_address(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn messages_quote_at_most_80_characters_of_a_domain() {
        let long = format!("a@{}", "d".repeat(300));
        let err = check_address(&long).unwrap_err();
        assert!(err.contains("longer than 253"), "{err}");
        let err = check_address(&format!("a@{}", "d_".repeat(100))).unwrap_err();
        assert!(err.contains("d_…"), "{err}");
        assert!(err.len() < 150, "{err}");
    }

    #[test]
    fn control_characters_are_refused_in_a_short_sentence() {
        // The input fuzzing found (fuzz/ check_address): NULs and DC3s around an `@`.
        let found = format!("\0@Dl\0\0{}\0\0\u{10}\0\u{2}\0", "\u{13}".repeat(66));
        assert_eq!(
            check_address(&found),
            Err("contains control characters".to_owned())
        );
        assert!(check_address("ade\u{1}le@fabrikam.com").is_err());
    }

    #[test]
    fn domains_compare_lowercase() {
        assert_eq!(domain_of("A@Contoso.COM").as_deref(), Some("contoso.com"));
        assert!(same_address("A@Contoso.com", "a@contoso.COM"));
    }
}
