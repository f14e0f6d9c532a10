//! Cross-tenant access settings for B2B collaboration: checking a configuration's target
//! lists, and deciding what the settings say about inviting someone from a partner tenant.
//!
//! The rules (sources in redemption-facts.md §2):
//! - A partner configuration's `null` properties inherit the default's
//!   (GD v1.0/resources/crosstenantaccesspolicyconfigurationpartner.md). Inheritance is
//!   per property down to `usersAndGroups` and `applications`: a partner that sets only
//!   `b2bCollaborationInbound.usersAndGroups` takes `applications` from the default.
//! - A target configuration is `{accessType: allowed | blocked, targets: [{target,
//!   targetType}]}`. `allowed` + a group lets only that group in; `blocked` + a group
//!   keeps only that group out (GD v1.0/resources/crosstenantaccesspolicy-overview.md,
//!   "Interpreting the API response"). `AllUsers` / `AllApplications` name everyone.
//! - Inbound default settings can't target users or groups
//!   (ED external-id/cross-tenant-access-settings-b2b-collaboration.md): a default whose
//!   inbound `usersAndGroups` names anything but `AllUsers` is refused.
//!
//! What an invitation sees ([`Inbound`]): blocked when the resolved inbound settings keep
//! out all users or all applications; "depends on the user" when they name particular
//! users or groups of the partner (Entra can only check those when the partner's user
//! signs in, which is why the invitation itself goes through); allowed otherwise.
//!
//! Stricter choices: `accessType` must be `allowed` or `blocked` (`unknownFutureValue` is
//! refused), `targets` must not be empty, user, group and application targets must be
//! GUIDs unless they are `AllUsers` (user) or `AllApplications`, `Office365`,
//! `AllMicrosoftApps` (application), and `AllUsers` / `AllApplications` must be the only
//! target of their list.

use serde_json::{Map, Value};

use crate::tenant::{Invalid, invalid};

/// The B2B settings of a configuration, each a `crossTenantAccessPolicyB2BSetting`.
pub const B2B_SETTINGS: &[&str] = &[
    "b2bCollaborationInbound",
    "b2bCollaborationOutbound",
    "b2bDirectConnectInbound",
    "b2bDirectConnectOutbound",
];

/// What the cross-tenant access settings say about inviting a partner's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Everyone may be invited and use the tenant's applications.
    Allowed,
    /// All of the partner's users, or all of the tenant's applications, are blocked.
    Blocked,
    /// Some of the partner's users or groups are let in or kept out: known only when the
    /// user signs in.
    DependsOnUser,
}

/// Who a target configuration lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    All,
    Nobody,
    Some,
}

fn reach(config: Option<&Value>, everyone: &str) -> Reach {
    let Some(config) = config else {
        // Nothing configured anywhere: the service default, allowed.
        return Reach::All;
    };
    let all = config
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| t.get("target").and_then(Value::as_str) == Some(everyone));
    match (config.get("accessType").and_then(Value::as_str), all) {
        (Some("allowed"), true) => Reach::All,
        (Some("blocked"), true) => Reach::Nobody,
        _ => Reach::Some,
    }
}

fn non_null(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// The `part` (`usersAndGroups` or `applications`) of `setting` that applies to a
/// partner: the partner's own, else the default's.
pub fn resolve<'a>(
    default: &'a Map<String, Value>,
    partner: Option<&'a Map<String, Value>>,
    setting: &str,
    part: &str,
) -> Option<&'a Value> {
    let own = partner
        .and_then(|p| non_null(p.get(setting)))
        .and_then(|s| non_null(s.get(part)));
    own.or_else(|| non_null(default.get(setting)).and_then(|s| non_null(s.get(part))))
}

/// What the inbound B2B collaboration settings say about inviting a user of the partner
/// whose configuration is `partner` (`None`: no partner configuration, the default
/// applies).
pub fn b2b_collaboration_inbound(
    default: &Map<String, Value>,
    partner: Option<&Map<String, Value>>,
) -> Inbound {
    let setting = "b2bCollaborationInbound";
    let users = reach(
        resolve(default, partner, setting, "usersAndGroups"),
        "AllUsers",
    );
    let apps = reach(
        resolve(default, partner, setting, "applications"),
        "AllApplications",
    );
    if users == Reach::Nobody || apps == Reach::Nobody {
        Inbound::Blocked
    } else if users == Reach::Some {
        Inbound::DependsOnUser
    } else {
        Inbound::Allowed
    }
}

/// Checks the B2B settings of a default (`is_default`) or partner configuration already
/// checked against the schema; `path` names it in errors.
pub fn check(config: &Map<String, Value>, path: &str, is_default: bool) -> Result<(), Invalid> {
    for setting in B2B_SETTINGS {
        let Some(Value::Object(b2b)) = config.get(*setting) else {
            continue;
        };
        for (part, everyone, kinds) in [
            ("usersAndGroups", "AllUsers", &["user", "group"][..]),
            ("applications", "AllApplications", &["application"][..]),
        ] {
            let Some(target_config) = non_null(b2b.get(part)) else {
                continue;
            };
            let here = format!("{path}.{setting}.{part}");
            check_target_configuration(target_config, &here, everyone, kinds)?;
            if is_default && *setting == "b2bCollaborationInbound" && part == "usersAndGroups" {
                let only_all_users = target_config
                    .get("targets")
                    .and_then(Value::as_array)
                    .is_some_and(|t| {
                        t.iter()
                            .all(|x| x.get("target").and_then(Value::as_str) == Some("AllUsers"))
                    });
                if !only_all_users {
                    return Err(invalid(
                        format!("{here}.targets"),
                        "inbound default settings can't target particular users or groups (only AllUsers)",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_target_configuration(
    config: &Value,
    path: &str,
    everyone: &str,
    kinds: &[&str],
) -> Result<(), Invalid> {
    match config.get("accessType").and_then(Value::as_str) {
        Some("allowed" | "blocked") => {}
        _ => {
            return Err(invalid(
                format!("{path}.accessType"),
                "must be \"allowed\" or \"blocked\"",
            ));
        }
    }
    let targets = config
        .get("targets")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid(format!("{path}.targets"), "must name at least one target"))?;
    let special: &[&str] = if kinds.contains(&"application") {
        &["AllApplications", "Office365", "AllMicrosoftApps"]
    } else {
        &["AllUsers"]
    };
    for (i, target) in targets.iter().enumerate() {
        let here = format!("{path}.targets[{i}]");
        let kind = target.get("targetType").and_then(Value::as_str);
        if !kind.is_some_and(|k| kinds.contains(&k)) {
            return Err(invalid(
                format!("{here}.targetType"),
                format!("must be one of {}", kinds.join(", ")),
            ));
        }
        let name = target.get("target").and_then(Value::as_str).unwrap_or("");
        let known = special.contains(&name) && (name != "AllUsers" || kind == Some("user"));
        if !known && uuid::Uuid::parse_str(name).is_err() {
            return Err(invalid(
                format!("{here}.target"),
                format!(
                    "must be an object id (GUID) or one of {}",
                    special.join(", ")
                ),
            ));
        }
        if name == everyone && targets.len() > 1 {
            return Err(invalid(
                format!("{here}.target"),
                format!("{everyone} must be the only target"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::defaults;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn setting(users: Value, apps: Value) -> Value {
        json!({"usersAndGroups": users, "applications": apps})
    }

    fn users(access: &str, target: &str, kind: &str) -> Value {
        json!({"accessType": access, "targets": [{"target": target, "targetType": kind}]})
    }

    fn apps(access: &str, target: &str) -> Value {
        json!({"accessType": access, "targets": [{"target": target, "targetType": "application"}]})
    }

    const G1: &str = "11111111-1111-4111-8111-111111111111";

    #[test]
    fn the_service_default_allows_everyone() {
        let default = defaults::cross_tenant_default();
        assert_eq!(b2b_collaboration_inbound(&default, None), Inbound::Allowed);
        let partner = defaults::cross_tenant_partner(G1);
        assert_eq!(
            b2b_collaboration_inbound(&default, Some(&partner)),
            Inbound::Allowed,
            "null inherits the default"
        );
    }

    #[test]
    fn a_partner_overrides_the_default_part_by_part() {
        let mut default = defaults::cross_tenant_default();
        default.insert(
            "b2bCollaborationInbound".into(),
            setting(
                users("blocked", "AllUsers", "user"),
                apps("blocked", "AllApplications"),
            ),
        );
        assert_eq!(b2b_collaboration_inbound(&default, None), Inbound::Blocked);
        // The partner lets all its users in but says nothing of applications: still blocked.
        let partner = map(json!({"tenantId": G1, "b2bCollaborationInbound":
            {"usersAndGroups": users("allowed", "AllUsers", "user"), "applications": null}}));
        assert_eq!(
            b2b_collaboration_inbound(&default, Some(&partner)),
            Inbound::Blocked
        );
        let partner = map(json!({"tenantId": G1, "b2bCollaborationInbound": setting(
            users("allowed", "AllUsers", "user"), apps("allowed", "AllApplications"))}));
        assert_eq!(
            b2b_collaboration_inbound(&default, Some(&partner)),
            Inbound::Allowed
        );
    }

    #[test]
    fn targets_invert_with_the_access_type() {
        let default = defaults::cross_tenant_default();
        let with = |u: Value, a: Value| {
            let partner = map(json!({"tenantId": G1, "b2bCollaborationInbound": setting(u, a)}));
            b2b_collaboration_inbound(&default, Some(&partner))
        };
        // allowed + g1: everyone outside g1 is blocked; blocked + g1: only g1 is.
        assert_eq!(
            with(
                users("allowed", G1, "group"),
                apps("allowed", "AllApplications")
            ),
            Inbound::DependsOnUser
        );
        assert_eq!(
            with(
                users("blocked", G1, "group"),
                apps("allowed", "AllApplications")
            ),
            Inbound::DependsOnUser
        );
        assert_eq!(
            with(
                users("allowed", "AllUsers", "user"),
                apps("blocked", "AllApplications")
            ),
            Inbound::Blocked
        );
        // Only some applications: the user can still be invited to those.
        assert_eq!(
            with(users("allowed", "AllUsers", "user"), apps("allowed", G1)),
            Inbound::Allowed
        );
        assert_eq!(
            with(users("allowed", "AllUsers", "user"), apps("blocked", G1)),
            Inbound::Allowed
        );
    }

    #[test]
    fn checks_target_lists() {
        let ok = map(json!({"b2bCollaborationInbound": setting(
            users("blocked", G1, "group"), apps("allowed", "Office365"))}));
        assert!(check(&ok, "p", false).is_ok());
        let (path, message) = check(&ok, "d", true).unwrap_err();
        assert_eq!(path, "d.b2bCollaborationInbound.usersAndGroups.targets");
        assert!(message.contains("only AllUsers"));
        for (bad, at) in [
            (
                json!({"accessType": "unknownFutureValue", "targets": [{"target": "AllUsers", "targetType": "user"}]}),
                "accessType",
            ),
            (json!({"accessType": "allowed", "targets": []}), "targets"),
            (users("allowed", "AllUsers", "group"), "targets[0].target"),
            (users("allowed", "bob", "user"), "targets[0].target"),
            (users("allowed", G1, "application"), "targets[0].targetType"),
            (
                json!({"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}, {"target": G1, "targetType": "group"}]}),
                "targets[0].target",
            ),
        ] {
            let config = map(json!({"b2bCollaborationOutbound": {"usersAndGroups": bad}}));
            let (path, _) = check(&config, "p", false).unwrap_err();
            assert_eq!(
                path,
                format!("p.b2bCollaborationOutbound.usersAndGroups.{at}")
            );
        }
    }
}
