//! Who is in which group and who owns it: the `members` and `owners` of the tenant file's
//! groups, kept beside the Graph-shaped group objects (in Graph they are relationships,
//! not properties, and a group object never carries them). They answer
//! `/groups/{id}/members`, `/groups/{id}/owners`, a user's `memberOf`,
//! `transitiveMemberOf` and `ownedObjects` ([`crate::routes::relationships`]).
//!
//! Rules checked when the tenant file is read (paths like `groups[2].members[0]`):
//! members are users or other groups of the tenant, owners are users; no group is its
//! own member; a role-assignable group (`isAssignableToRole: true`) has no groups as
//! members ("Group nesting isn't supported", ED
//! identity/role-based-access-control/groups-concept.md). Duplicates are refused.
//! Transitive membership follows nested groups; a cycle of nested groups is tolerated
//! (each group counted once).

use std::collections::HashSet;

use serde_json::Value;

use crate::hash::{FastMap, FastSet};
use crate::tenant::{Invalid, invalid};

/// One group's relationships as the tenant file gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLinks {
    /// The group's id.
    pub group_id: String,
    /// Object ids of its direct members (users and groups).
    pub members: Vec<String>,
    /// Object ids of its owners (users).
    pub owners: Vec<String>,
}

/// Every group's members and owners.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// Groups in directory order.
    groups: Vec<GroupLinks>,
    /// Lower-cased group id → position in `groups`.
    by_id: FastMap<String, usize>,
}

impl Membership {
    /// From the groups' links, in directory order.
    pub fn new(groups: Vec<GroupLinks>) -> Self {
        let by_id = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.group_id.to_lowercase(), i))
            .collect();
        Self { groups, by_id }
    }

    fn links(&self, group_id: &str) -> Option<&GroupLinks> {
        self.by_id
            .get(&group_id.to_lowercase())
            .map(|i| &self.groups[*i])
    }

    /// The direct members of a group (none for an unknown group).
    pub fn members(&self, group_id: &str) -> &[String] {
        self.links(group_id).map_or(&[], |g| &g.members)
    }

    /// The owners of a group (none for an unknown group).
    pub fn owners(&self, group_id: &str) -> &[String] {
        self.links(group_id).map_or(&[], |g| &g.owners)
    }

    /// The groups `object_id` is a direct member of, in directory order.
    pub fn groups_with_member(&self, object_id: &str) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(object_id)))
            .map(|g| g.group_id.as_str())
            .collect()
    }

    /// The groups `object_id` is a member of directly or through nested groups, in
    /// directory order.
    pub fn transitive_groups(&self, object_id: &str) -> Vec<&str> {
        let mut reached: HashSet<String> = HashSet::new();
        let mut frontier = vec![object_id.to_lowercase()];
        while let Some(id) = frontier.pop() {
            for group in self.groups_with_member(&id) {
                if reached.insert(group.to_lowercase()) {
                    frontier.push(group.to_lowercase());
                }
            }
        }
        self.groups
            .iter()
            .filter(|g| reached.contains(&g.group_id.to_lowercase()))
            .map(|g| g.group_id.as_str())
            .collect()
    }

    /// The groups `user_id` owns, in directory order.
    pub fn groups_owned_by(&self, user_id: &str) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.owners.iter().any(|o| o.eq_ignore_ascii_case(user_id)))
            .map(|g| g.group_id.as_str())
            .collect()
    }

    /// Every group's links, in directory order (for the state document).
    pub fn all(&self) -> &[GroupLinks] {
        &self.groups
    }
}

/// Takes `members` and `owners` out of a tenant file's group object (so the rest can be
/// checked against Graph's schema), as id lists; `here` is the group's JSON path.
pub fn take_links(
    group: &mut serde_json::Map<String, Value>,
    here: &str,
) -> Result<(Vec<String>, Vec<String>), Invalid> {
    let mut take = |key: &str| -> Result<Vec<String>, Invalid> {
        match group.remove(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid(
                        format!("{here}.{key}[{i}]"),
                        "expected an object id (string)",
                    )),
                })
                .collect(),
            Some(_) => Err(invalid(
                format!("{here}.{key}"),
                "expected an array of object ids",
            )),
        }
    };
    Ok((take("members")?, take("owners")?))
}

/// Checks the links against the tenant's users and groups: `groups[i]` is
/// `links[i]`, with `role_assignable[i]` its `isAssignableToRole`.
pub fn check(
    links: &[GroupLinks],
    role_assignable: &[bool],
    user_ids: &FastSet<&str>,
) -> Result<(), Invalid> {
    let group_ids: FastSet<String> = links.iter().map(|g| g.group_id.to_lowercase()).collect();
    for (i, group) in links.iter().enumerate() {
        let mut seen: HashSet<String> = HashSet::new();
        for (j, member) in group.members.iter().enumerate() {
            let here = format!("groups[{i}].members[{j}]");
            let lower = member.to_lowercase();
            let is_group = group_ids.contains(&lower);
            if !is_group && !user_ids.contains(member.as_str()) {
                return Err(invalid(
                    here,
                    format!("no user or group with id {member:?}"),
                ));
            }
            if lower == group.group_id.to_lowercase() {
                return Err(invalid(here, "a group can't be its own member"));
            }
            if is_group && role_assignable.get(i).copied().unwrap_or(false) {
                return Err(invalid(
                    here,
                    "a role-assignable group can't have groups as members",
                ));
            }
            if !seen.insert(lower) {
                return Err(invalid(here, format!("duplicate member {member:?}")));
            }
        }
        let mut seen: HashSet<String> = HashSet::new();
        for (j, owner) in group.owners.iter().enumerate() {
            let here = format!("groups[{i}].owners[{j}]");
            if !user_ids.contains(owner.as_str()) {
                return Err(invalid(here, format!("no user with id {owner:?}")));
            }
            if !seen.insert(owner.to_lowercase()) {
                return Err(invalid(here, format!("duplicate owner {owner:?}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(id: &str, members: &[&str], owners: &[&str]) -> GroupLinks {
        GroupLinks {
            group_id: id.into(),
            members: members.iter().map(|s| (*s).to_owned()).collect(),
            owners: owners.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn transitive_membership_follows_nesting_once() {
        let m = Membership::new(vec![
            links("G1", &["u1", "G2"], &["u9"]),
            links("G2", &["u2", "G3"], &[]),
            links("G3", &["G1", "u1"], &[]),
        ]);
        assert_eq!(m.groups_with_member("U1"), vec!["G1", "G3"]);
        assert_eq!(m.transitive_groups("u2"), vec!["G1", "G2", "G3"]);
        assert_eq!(m.transitive_groups("nobody"), Vec::<&str>::new());
        assert_eq!(m.groups_owned_by("u9"), vec!["G1"]);
        assert_eq!(m.members("g2"), ["u2".to_owned(), "G3".to_owned()]);
        assert!(m.owners("missing").is_empty());
    }

    #[test]
    fn checks_members_and_owners() {
        let users: FastSet<&str> = ["u1", "u2"].into_iter().collect();
        let ok = [links("G1", &["u1", "G2"], &["u2"]), links("G2", &[], &[])];
        assert!(check(&ok, &[false, true], &users).is_ok());
        let err = |l: &[GroupLinks], ra: &[bool]| check(l, ra, &users).unwrap_err();
        assert_eq!(err(&ok, &[true, false]).0, "groups[0].members[1]");
        assert!(
            err(&[links("G1", &["x"], &[])], &[false])
                .1
                .contains("no user or group")
        );
        assert!(
            err(&[links("G1", &["G1"], &[])], &[false])
                .1
                .contains("own member")
        );
        assert!(
            err(&[links("G1", &["u1", "u1"], &[])], &[false])
                .1
                .contains("duplicate")
        );
        assert_eq!(
            err(&[links("G1", &[], &["G1"])], &[false]).0,
            "groups[0].owners[0]"
        );
    }
}
