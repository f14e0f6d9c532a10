//! The collections the query engine serves and, per property, the `$filter` operators Graph
//! supports on it: the tables the support rules read, kept apart so adding a property is a
//! one-line change.

use crate::error::GraphError;

pub(super) const EQ: u16 = 1;
pub(super) const NE: u16 = 1 << 1;
pub(super) const NOT: u16 = 1 << 2;
pub(super) const GE_LE: u16 = 1 << 3;
pub(super) const IN: u16 = 1 << 4;
pub(super) const STARTS: u16 = 1 << 5;
pub(super) const ENDS: u16 = 1 << 6;
pub(super) const EQ_NULL: u16 = 1 << 7;
pub(super) const ANY: u16 = 1 << 8;

const STR_FULL: u16 = EQ | NE | NOT | GE_LE | IN | STARTS | EQ_NULL;
const ENUMISH: u16 = EQ | NE | NOT | IN;

/// A collection Graph exposes with query options.
#[derive(Debug)]
pub struct EntitySet {
    /// URL segment and `@odata.context` name: `users`, `groups`, `contacts`.
    pub name: &'static str,
    /// Schema type, e.g. `microsoft.graph.user`.
    pub type_name: &'static str,
    /// Resource name in Graph's filter error messages (`User`).
    pub resource: &'static str,
    filterable: &'static [(&'static str, u16)],
    /// Properties kept in an index ([`crate::index`]), so `eq`, `in` and `any(x: x eq …)`
    /// on them don't scan the collection: the ones b2b-convert looks objects up by.
    pub indexed: &'static [&'static str],
    /// Properties returned without `$select`; `None` means all stored ones.
    pub default_select: Option<&'static [&'static str]>,
    /// Whether the directory's advanced-query rules apply: `ne`, `not` and `endsWith` need
    /// `ConsistencyLevel: eventual` and `$count=true`, and `@odata.count` needs both too.
    /// True for directory objects; false for the role-management sets, where Graph
    /// documents `ne` without those conditions.
    pub advanced_queries: bool,
    /// Navigation properties `$expand` may name (none: `$expand` is refused).
    pub expandable: &'static [&'static str],
}

/// `/users`.
pub static USERS: EntitySet = EntitySet {
    name: "users",
    type_name: "microsoft.graph.user",
    resource: "User",
    filterable: &[
        ("id", EQ | NE | NOT | IN),
        ("displayName", STR_FULL),
        ("givenName", STR_FULL),
        ("surname", STR_FULL),
        ("jobTitle", STR_FULL),
        ("department", STR_FULL),
        ("companyName", STR_FULL),
        ("employeeId", STR_FULL),
        ("mailNickname", STR_FULL),
        (
            "userPrincipalName",
            EQ | NE | NOT | GE_LE | IN | STARTS | ENDS,
        ),
        ("mail", STR_FULL | ENDS),
        ("otherMails", ANY | EQ | NOT | GE_LE | IN | STARTS | ENDS),
        ("proxyAddresses", ANY | EQ | NOT | GE_LE | STARTS | ENDS),
        ("identities", ANY | EQ),
        ("userType", ENUMISH | EQ_NULL),
        ("onPremisesSyncEnabled", ENUMISH | EQ_NULL),
        (
            "onPremisesUserPrincipalName",
            EQ | NE | NOT | GE_LE | IN | STARTS,
        ),
        ("onPremisesImmutableId", EQ | NE | NOT | GE_LE | IN),
        ("externalUserState", ENUMISH),
        ("externalUserStateChangeDateTime", ENUMISH),
        ("creationType", ENUMISH),
        ("accountEnabled", ENUMISH),
        ("createdDateTime", ENUMISH | GE_LE | EQ_NULL),
    ],
    indexed: &[
        "id",
        "userPrincipalName",
        "mail",
        "otherMails",
        "proxyAddresses",
    ],
    default_select: Some(&[
        "id",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    ]),
    advanced_queries: true,
    expandable: &[],
};

/// `/groups`.
pub static GROUPS: EntitySet = EntitySet {
    name: "groups",
    type_name: "microsoft.graph.group",
    resource: "Group",
    filterable: &[
        ("id", EQ | NE | NOT | IN),
        ("displayName", STR_FULL),
        ("mail", STR_FULL | ENDS),
        ("mailNickname", STR_FULL),
        ("proxyAddresses", ANY | EQ | NOT | GE_LE | STARTS | ENDS),
        ("groupTypes", ANY | EQ | NOT),
        ("mailEnabled", ENUMISH | EQ_NULL),
        ("securityEnabled", ENUMISH),
        // group.md: "Supports $filter (eq, ne, not)".
        ("isAssignableToRole", EQ | NE | NOT),
    ],
    indexed: &["id", "mail", "proxyAddresses"],
    default_select: None,
    advanced_queries: true,
    expandable: &[],
};

/// `/contacts` (orgContact).
pub static CONTACTS: EntitySet = EntitySet {
    name: "contacts",
    type_name: "microsoft.graph.orgContact",
    resource: "OrgContact",
    filterable: &[
        ("id", EQ | NE | NOT | IN),
        ("displayName", STR_FULL),
        ("givenName", STR_FULL),
        ("surname", STR_FULL),
        ("mail", STR_FULL | ENDS),
        ("mailNickname", STR_FULL),
        ("proxyAddresses", ANY | EQ | NOT | GE_LE | STARTS | ENDS),
    ],
    indexed: &["id", "mail", "proxyAddresses"],
    default_select: None,
    advanced_queries: true,
    expandable: &[],
};

/// `/roleManagement/directory/roleEligibilityScheduleInstances` (PIM eligibilities). The
/// filterable properties and their operators are unifiedroleeligibilityscheduleinstance.md's
/// ("Supports `$filter` (`eq`, `ne`)", plus `eq null` on the two scope ids); `$expand`
/// takes `roleDefinition` (the other navigation properties are not implemented: 400).
pub static ROLE_ELIGIBILITY_INSTANCES: EntitySet = EntitySet {
    name: "roleManagement/directory/roleEligibilityScheduleInstances",
    type_name: "microsoft.graph.unifiedRoleEligibilityScheduleInstance",
    resource: "UnifiedRoleEligibilityScheduleInstance",
    filterable: &[
        ("principalId", EQ | NE),
        ("roleDefinitionId", EQ | NE),
        ("memberType", EQ | NE),
        ("roleEligibilityScheduleId", EQ | NE),
        ("directoryScopeId", EQ | NE | EQ_NULL),
        ("appScopeId", EQ | NE | EQ_NULL),
    ],
    indexed: &["id", "principalId"],
    default_select: Some(&[
        "id",
        "principalId",
        "roleDefinitionId",
        "directoryScopeId",
        "appScopeId",
        "startDateTime",
        "endDateTime",
        "memberType",
        "roleEligibilityScheduleId",
    ]),
    advanced_queries: false,
    expandable: &["roleDefinition"],
};

impl EntitySet {
    pub(super) fn ops(&self, property: &str) -> u16 {
        self.filterable
            .iter()
            .find(|(p, _)| *p == property)
            .map_or(0, |(_, o)| *o)
    }

    pub(super) fn unsupported(&self, property: &str) -> GraphError {
        GraphError::unsupported_query(format!(
            "Unsupported or invalid query filter clause specified for property '{property}' of resource '{}'.",
            self.resource
        ))
    }
}

/// User properties Graph returns only from `GET /users/{id}` (user.md: "Supported only on
/// the Get user API").
pub(super) const SINGLE_USER_ONLY: &[&str] = &[
    "aboutMe",
    "birthday",
    "hireDate",
    "interests",
    "mailboxSettings",
    "mySite",
    "pastProjects",
    "preferredName",
    "responsibilities",
    "schools",
    "skills",
    "print",
];
