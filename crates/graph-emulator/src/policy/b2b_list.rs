//! The B2B management policy: the allow or deny list of domains invitations may go to,
//! served (beta only) by `GET /beta/policies/b2bManagementPolicies`, enforced on
//! `POST /invitations` and again when a pending invitation is redeemed.
//!
//! Facts (redemption-facts.md §3):
//! - The policy is a beta `b2bManagementPolicy` (an stsPolicy): `definition` is a string
//!   collection holding one JSON document (GD beta/resources/b2bmanagementpolicy.md).
//! - The list's schema inside it is only documented by the AzureADPreview instructions:
//!   `{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":
//!   {"AllowedDomains":[],"BlockedDomains":[]}}}` (MicrosoftDocs/azure-docs
//!   articles/active-directory/external-identities/allow-deny-list.md, 2023).
//! - An allow list or a deny list, not both; 25 KB (25,000 characters) for the whole
//!   policy (ED external-id/allow-deny-list.md).
//!
//! Choices (stricter where undocumented):
//! - Every `definition` string must be strict JSON (Graph's own example uses single
//!   quotes, which is not JSON; the emulator refuses it rather than guess).
//! - Both lists non-empty is refused; other members of `B2BManagementPolicy` (`Version`,
//!   other features) are kept and ignored.
//! - A deny-listed domain also blocks its subdomains; an allow-listed domain allows only
//!   itself (each way the narrower reading).

use serde_json::{Map, Value};

use super::defaults;
use crate::tenant::{Invalid, invalid, is_domain_name};

/// Graph's documented size limit of the whole policy, in characters.
const MAX_POLICY_CHARS: usize = 25_000;

const FIELDS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "definition",
    "isOrganizationDefault",
];

/// A parsed B2B management policy.
#[derive(Debug, Clone, PartialEq)]
pub struct B2bManagementPolicy {
    /// The Graph object as served (defaults filled in).
    pub object: Map<String, Value>,
    /// `AllowedDomains`, lower case.
    pub allowed: Vec<String>,
    /// `BlockedDomains`, lower case.
    pub blocked: Vec<String>,
}

/// Whether the list lets invitations go to a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainVerdict {
    /// Invitations may go there.
    Allowed,
    /// The domain (or a parent domain) is on the deny list.
    Denied,
    /// There is an allow list and the domain is not on it.
    NotAllowed,
}

impl B2bManagementPolicy {
    /// What the list says about `domain`.
    pub fn verdict(&self, domain: &str) -> DomainVerdict {
        let domain = domain.to_ascii_lowercase();
        let under = |listed: &String| {
            domain == *listed
                || domain
                    .strip_suffix(listed.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        };
        if self.blocked.iter().any(under) {
            DomainVerdict::Denied
        } else if !self.allowed.is_empty() && !self.allowed.contains(&domain) {
            DomainVerdict::NotAllowed
        } else {
            DomainVerdict::Allowed
        }
    }
}

/// Parses the tenant file's `b2bManagementPolicy` (`path` names it in errors).
pub fn parse(value: &Value, path: &str) -> Result<B2bManagementPolicy, Invalid> {
    let Value::Object(given) = value else {
        return Err(invalid(path, "expected an object"));
    };
    if let Some(key) = given.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            format!("{path}.{key}"),
            format!(
                "not a property of b2bManagementPolicy ({})",
                FIELDS.join(", ")
            ),
        ));
    }
    for key in ["id", "displayName", "description"] {
        if given.get(key).is_some_and(|v| !v.is_string()) {
            return Err(invalid(format!("{path}.{key}"), "expected a string"));
        }
    }
    if given
        .get("isOrganizationDefault")
        .is_some_and(|v| !v.is_boolean())
    {
        return Err(invalid(
            format!("{path}.isOrganizationDefault"),
            "expected a Boolean",
        ));
    }
    let definition = given
        .get("definition")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            invalid(
                format!("{path}.definition"),
                "required: an array of JSON strings",
            )
        })?;
    let mut allowed = Vec::new();
    let mut blocked = Vec::new();
    let mut size = 0;
    for (i, item) in definition.iter().enumerate() {
        let here = format!("{path}.definition[{i}]");
        let text = item
            .as_str()
            .ok_or_else(|| invalid(&here, "expected a string holding JSON"))?;
        size += text.chars().count();
        let document: Value = serde_json::from_str(text)
            .map_err(|e| invalid(&here, format!("not JSON (single quotes are not JSON): {e}")))?;
        let policy = document
            .get("B2BManagementPolicy")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(&here, "expected {\"B2BManagementPolicy\": {...}}"))?;
        let Some(lists) = policy.get("InvitationsAllowedAndBlockedDomainsPolicy") else {
            continue;
        };
        let lists = lists.as_object().ok_or_else(|| {
            invalid(
                &here,
                "InvitationsAllowedAndBlockedDomainsPolicy must be an object",
            )
        })?;
        if let Some(key) = lists
            .keys()
            .find(|k| *k != "AllowedDomains" && *k != "BlockedDomains")
        {
            return Err(invalid(
                &here,
                format!(
                    "InvitationsAllowedAndBlockedDomainsPolicy.{key}: only AllowedDomains and BlockedDomains"
                ),
            ));
        }
        for (key, out) in [
            ("AllowedDomains", &mut allowed),
            ("BlockedDomains", &mut blocked),
        ] {
            let domains = match lists.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(domains)) => domains,
                Some(_) => return Err(invalid(&here, format!("{key} must be an array"))),
            };
            for domain in domains {
                match domain.as_str() {
                    Some(d) if is_domain_name(d) => out.push(d.to_ascii_lowercase()),
                    _ => {
                        return Err(invalid(
                            &here,
                            format!("{key}: {domain} is not a domain name"),
                        ));
                    }
                }
            }
        }
    }
    if !allowed.is_empty() && !blocked.is_empty() {
        return Err(invalid(
            format!("{path}.definition"),
            "an allow list or a deny list, not both",
        ));
    }
    if size > MAX_POLICY_CHARS {
        return Err(invalid(
            format!("{path}.definition"),
            format!("{size} characters; the policy may have at most {MAX_POLICY_CHARS}"),
        ));
    }
    let mut object = defaults::b2b_management_policy();
    object.extend(given.clone());
    Ok(B2bManagementPolicy {
        object,
        allowed,
        blocked,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(allowed: &[&str], blocked: &[&str]) -> Value {
        let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
            {"AllowedDomains": allowed, "BlockedDomains": blocked}}});
        json!({"definition": [document.to_string()]})
    }

    #[test]
    fn deny_list_blocks_domains_and_subdomains() {
        let p = parse(&policy(&[], &["Treyresearch.net"]), "p").unwrap();
        assert_eq!(p.verdict("treyresearch.net"), DomainVerdict::Denied);
        assert_eq!(p.verdict("eu.TREYRESEARCH.net"), DomainVerdict::Denied);
        assert_eq!(p.verdict("notreyresearch.net"), DomainVerdict::Allowed);
        assert_eq!(p.object["isOrganizationDefault"], true);
    }

    #[test]
    fn allow_list_allows_only_its_domains() {
        let p = parse(&policy(&["fabrikam.com"], &[]), "p").unwrap();
        assert_eq!(p.verdict("Fabrikam.com"), DomainVerdict::Allowed);
        assert_eq!(p.verdict("eu.fabrikam.com"), DomainVerdict::NotAllowed);
        let empty = parse(&policy(&[], &[]), "p").unwrap();
        assert_eq!(empty.verdict("anything.com"), DomainVerdict::Allowed);
    }

    #[test]
    fn refuses_what_entra_refuses() {
        let err = |v: Value| parse(&v, "policies.b2bManagementPolicy").unwrap_err();
        assert!(err(policy(&["a.com"], &["b.com"])).1.contains("not both"));
        let (path, message) = err(json!({"definition": ["{'B2BManagementPolicy':{'Version':1}}"]}));
        assert_eq!(path, "policies.b2bManagementPolicy.definition[0]");
        assert!(message.contains("single quotes"));
        assert!(err(json!({"definition": []})).1.contains("required"));
        assert!(
            err(policy(&["not a domain"], &[]))
                .1
                .contains("not a domain name")
        );
        let big: Vec<String> = (0..2000)
            .map(|i| format!("domain{i}.example.com"))
            .collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        assert!(err(policy(&[], &big)).1.contains("at most 25000"));
        assert_eq!(
            err(json!({"definition": ["{}"], "colour": 1})).0,
            "policies.b2bManagementPolicy.colour"
        );
        // Graph's documented example without a list is fine.
        let p = parse(
            &json!({"definition": ["{\"B2BManagementPolicy\":{\"Version\":1}}"]}),
            "p",
        )
        .unwrap();
        assert_eq!(p.verdict("x.com"), DomainVerdict::Allowed);
    }
}
