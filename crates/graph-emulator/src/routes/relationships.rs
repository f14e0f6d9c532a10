//! Directory-object relationships: what a user belongs to and owns, who is in and owns a
//! group — the reads that find a member or owner of a role-assignable group.
//!
//! | route | permissions, least first |
//! |---|---|
//! | `GET /v1.0/users/{id}/memberOf` | app: Directory.Read.All, Directory.ReadWrite.All; delegated: User.Read.All, GroupMember.Read.All, Directory.Read.All, Directory.ReadWrite.All |
//! | `GET /v1.0/users/{id}/transitiveMemberOf` | User.Read.All, GroupMember.Read.All, Group.Read.All, Directory.Read.All, Directory.ReadWrite.All |
//! | `GET /v1.0/users/{id}/ownedObjects` | app: not supported (403); delegated: User.Read.All, User.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All |
//! | `GET /v1.0/groups/{id}/members`, `/groups/{id}/owners` | GroupMember.Read.All, Group.Read.All, Directory.Read.All, GroupMember.ReadWrite.All, Group.ReadWrite.All |
//!
//! A delegated caller reading their own object also passes with User.Read. Sources (GD =
//! microsoft-graph-docs-contrib/api-reference/v1.0): user-list-memberof.md (the live page:
//! another user's memberships take Directory.Read.All for an app),
//! includes/permissions/user-list-transitivememberof-permissions.md,
//! includes/permissions/user-list-ownedobjects-permissions.md ("Application: Not
//! supported"; an older page listed User.Read.All — stricter: refused), group-list-owners.md
//! and group-list-members.md.
//!
//! Answers: `{"@odata.context": …#directoryObjects, "value": [...]}` with each object's
//! `@odata.type` (`#microsoft.graph.user`, `group`, `directoryRole`). Users have their
//! default properties, groups all stored ones, roles theirs; `$select` picks among the
//! properties of those three types (a name none of them has is 400). Memberships list
//! groups (nested ones too for `transitiveMemberOf`) and the activated directory roles the
//! user holds. "Limited information" (every list page's include): an object whose type the
//! caller may not read comes back with only `@odata.type` and `id`, every other property
//! `null` — users need User.Read.All, User.ReadBasic.All, User.ReadWrite.All or
//! Directory.*; groups GroupMember.*, Group.* or Directory.*; roles
//! RoleManagement.Read.Directory, RoleManagement.Read.All, RoleManagement.ReadWrite.Directory
//! or Directory.*. Paging: `$top` (default 100, 1–999) with `@odata.nextLink`;
//! `@odata.count` with `$count=true` and `ConsistencyLevel: eventual`.
//!
//! Stricter: `$filter`, `$search`, `$orderby` and OData casts (other than the existing
//! `transitiveMemberOf/microsoft.graph.directoryRole`) are not implemented: 400.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::roles::role_json;
use super::{AppState, Ctx, json};
use crate::directory::{Directory, text};
use crate::error::GraphError;
use crate::principal::Principal;
use crate::query::{self, EntitySet, GROUPS, QueryOptions, USERS};
use crate::schema::schema;

const USER_TYPE_READ: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_TYPE_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const ROLE_TYPE_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

const GROUP_RELATIONSHIP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
];

const TYPES: &[&str] = &[
    "microsoft.graph.user",
    "microsoft.graph.group",
    "microsoft.graph.directoryRole",
];

/// One object of a relationship, as stored.
enum Item {
    User(usize),
    Group(usize),
    Role(usize),
}

fn require(
    ctx: &Ctx,
    key: &str,
    app_only: Option<&[&'static str]>,
    delegated: &[&'static str],
) -> Result<(), GraphError> {
    match &ctx.principal.delegated {
        Some(user) => {
            let own = user.user_id.eq_ignore_ascii_case(key)
                || user.user_principal_name.eq_ignore_ascii_case(key);
            let mut permissions: Vec<&'static str> = Vec::new();
            if own {
                permissions.push("User.Read");
            }
            permissions.extend_from_slice(delegated);
            let p = ctx.principal.require_any(&permissions)?;
            ctx.permission(p);
            Ok(())
        }
        None => match app_only {
            Some(permissions) => ctx.require(permissions).map(|_| ()),
            None => Err(GraphError::denied()),
        },
    }
}

fn options(raw: Option<&str>) -> Result<QueryOptions, GraphError> {
    let opts = query::parse_options(raw)?;
    if opts.filter.is_some() {
        return Err(GraphError::unsupported_query(
            "Query option '$filter' is not supported on this relationship by this emulator.",
        ));
    }
    for name in opts.select.iter().flatten() {
        let known = TYPES
            .iter()
            .any(|t| schema().property(t, name).is_some_and(|p| !p.navigation));
        if !known {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.directoryObject'."
            )));
        }
    }
    Ok(opts)
}

fn group_position(dir: &Directory, id: &str) -> Result<usize, GraphError> {
    dir.groups
        .index()
        .lookup("id", id)
        .and_then(|p| p.first().copied())
        .ok_or_else(|| GraphError::not_found(id))
}

/// The stored object an id names: a user or a group.
fn item_for(dir: &Directory, id: &str) -> Option<Item> {
    if let Some(&p) = dir.users.index().lookup("id", id).and_then(<[_]>::first) {
        return Some(Item::User(p));
    }
    dir.groups
        .index()
        .lookup("id", id)
        .and_then(<[_]>::first)
        .map(|&p| Item::Group(p))
}

fn selected(select: Option<&[String]>, type_name: &str) -> Option<Vec<String>> {
    select.map(|names| {
        names
            .iter()
            .filter(|n| schema().property(type_name, n).is_some())
            .cloned()
            .collect()
    })
}

fn project(
    object: &Map<String, Value>,
    set: &EntitySet,
    select: Option<&[String]>,
) -> Map<String, Value> {
    let names = selected(select, set.type_name);
    query::project(object, set, names.as_deref())
}

fn render(dir: &Directory, item: &Item, select: Option<&[String]>, who: &Principal) -> Value {
    let (type_name, readable, mut fields) = match item {
        Item::User(p) => (
            "user",
            USER_TYPE_READ,
            project(&dir.users[*p], &USERS, select),
        ),
        Item::Group(p) => (
            "group",
            GROUP_TYPE_READ,
            project(&dir.groups[*p], &GROUPS, select),
        ),
        Item::Role(i) => {
            let full = role_json(&dir.roles[*i]);
            let full = full.as_object().cloned().unwrap_or_default();
            let fields = match selected(select, "microsoft.graph.directoryRole") {
                Some(names) => names
                    .into_iter()
                    .map(|n| {
                        let v = full.get(&n).cloned().unwrap_or(Value::Null);
                        (n, v)
                    })
                    .collect(),
                None => full,
            };
            ("directoryRole", ROLE_TYPE_READ, fields)
        }
    };
    if who.require_any(readable).is_err() {
        for (name, value) in fields.iter_mut() {
            if name != "id" {
                *value = Value::Null;
            }
        }
        let id = match item {
            Item::User(p) => text(&dir.users[*p], "id"),
            Item::Group(p) => text(&dir.groups[*p], "id"),
            Item::Role(i) => Some(dir.roles[*i].id.as_str()),
        };
        fields.insert("id".into(), json!(id));
    }
    let mut out = Map::new();
    out.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{type_name}")),
    );
    out.extend(fields);
    Value::Object(out)
}

fn answer(
    app: &AppState,
    ctx: &Ctx,
    dir: &Directory,
    items: &[Item],
    opts: &QueryOptions,
    path: &str,
) -> Result<Response, GraphError> {
    let values = items
        .iter()
        .map(|item| render(dir, item, opts.select.as_deref(), &ctx.principal))
        .collect();
    let count = opts.count && query::is_eventual(&ctx.headers);
    let body = query::page_values(
        values,
        opts,
        &format!("{}v1.0/{path}", app.root),
        format!("{}v1.0/$metadata#directoryObjects", app.root),
        count,
    )?;
    Ok(json(StatusCode::OK, body))
}

fn memberships(
    app: &AppState,
    ctx: &Ctx,
    key: &str,
    raw: Option<&str>,
    transitive: bool,
) -> Result<Response, GraphError> {
    if transitive {
        require(
            ctx,
            key,
            Some(&[
                "User.Read.All",
                "GroupMember.Read.All",
                "Group.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ]),
            &[
                "User.Read.All",
                "GroupMember.Read.All",
                "Group.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        )?;
    } else {
        require(
            ctx,
            key,
            Some(&["Directory.Read.All", "Directory.ReadWrite.All"]),
            &[
                "User.Read.All",
                "GroupMember.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        )?;
    }
    let segment = if transitive {
        "transitiveMemberOf"
    } else {
        "memberOf"
    };
    user_relationship(app, ctx, key, raw, segment, |dir, user_id| {
        let groups = if transitive {
            dir.membership.transitive_groups(user_id)
        } else {
            dir.membership.groups_with_member(user_id)
        };
        let mut items = groups_at(dir, groups);
        items.extend(
            dir.roles
                .iter()
                .enumerate()
                .filter(|(_, r)| r.members.iter().any(|m| m.eq_ignore_ascii_case(user_id)))
                .map(|(i, _)| Item::Role(i)),
        );
        items
    })
}

/// Answers a read of one user's relationship (`segment`): the user found by id or UPN,
/// then the objects `items` lists for that user's id.
fn user_relationship(
    app: &AppState,
    ctx: &Ctx,
    key: &str,
    raw: Option<&str>,
    segment: &str,
    items: impl FnOnce(&Directory, &str) -> Vec<Item>,
) -> Result<Response, GraphError> {
    let opts = options(raw)?;
    let dir = app.dir.read();
    let index = ctx.target_user(&dir, key)?;
    let user_id = text(&dir.users[index], "id").unwrap_or_default().to_owned();
    let items = items(&dir, &user_id);
    answer(
        app,
        ctx,
        &dir,
        &items,
        &opts,
        &format!("users/{user_id}/{segment}"),
    )
}

/// The stored groups of `ids`, in their order (an id no group has is left out).
fn groups_at<'a>(dir: &Directory, ids: impl IntoIterator<Item = &'a str>) -> Vec<Item> {
    ids.into_iter()
        .filter_map(|g| group_position(dir, g).ok())
        .map(Item::Group)
        .collect()
}

/// `GET /users/{id}/memberOf`.
pub async fn member_of(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = memberships(&app, &ctx, &key, raw.as_deref(), false);
    ctx.finish(result)
}

/// `GET /users/{id}/transitiveMemberOf`.
pub async fn transitive_member_of(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = memberships(&app, &ctx, &key, raw.as_deref(), true);
    ctx.finish(result)
}

/// `GET /users/{id}/ownedObjects`.
pub async fn owned_objects(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        require(
            &ctx,
            &key,
            None,
            &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        )?;
        user_relationship(
            &app,
            &ctx,
            &key,
            raw.as_deref(),
            "ownedObjects",
            |dir, user_id| groups_at(dir, dir.membership.groups_owned_by(user_id)),
        )
    })();
    ctx.finish(result)
}

fn group_relationship(
    app: &AppState,
    ctx: &Ctx,
    id: &str,
    raw: Option<&str>,
    owners: bool,
) -> Result<Response, GraphError> {
    ctx.require(GROUP_RELATIONSHIP_READ)?;
    let opts = options(raw)?;
    let dir = app.dir.read();
    let position = group_position(&dir, id)?;
    let group_id = text(&dir.groups[position], "id")
        .unwrap_or_default()
        .to_owned();
    let ids = if owners {
        dir.membership.owners(&group_id)
    } else {
        dir.membership.members(&group_id)
    };
    let items: Vec<Item> = ids.iter().filter_map(|m| item_for(&dir, m)).collect();
    let segment = if owners { "owners" } else { "members" };
    answer(
        app,
        ctx,
        &dir,
        &items,
        &opts,
        &format!("groups/{group_id}/{segment}"),
    )
}

/// `GET /groups/{id}/members`.
pub async fn group_members(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = group_relationship(&app, &ctx, &id, raw.as_deref(), false);
    ctx.finish(result)
}

/// `GET /groups/{id}/owners`.
pub async fn group_owners(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = group_relationship(&app, &ctx, &id, raw.as_deref(), true);
    ctx.finish(result)
}
