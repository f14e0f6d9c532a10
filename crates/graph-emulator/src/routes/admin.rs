//! The emulator's own admin view, outside `/v1.0` and without authentication:
//! `GET /_emulator/state` (the tenant — with group memberships, PIM eligibilities, partner
//! tenants and the live policies —, invitations, emails, request log and its counters)
//! and `POST /_emulator/reset` (back to the tenant file — federated identity credentials
//! added and policies changed while running included —, log and counters cleared).
//!
//! The state document of a 100,000-user tenant is ~46 MB, and building it as a
//! `serde_json::Value` tree peaked at 1.2 GB. So the document is serialized straight from
//! borrowed views of the directory and the log (one byte buffer, no intermediate tree), and
//! a caller can ask for less:
//! - `?section=requests,invitations` — only these sections (comma-separated, repeatable);
//! - `?users=false` (any section name) — everything but that section;
//! - `?top=N&skip=M` — a page of every array section included (`skip` first; `policies`
//!   is an object and always whole);
//! - `?sinceSeq=S` — only request-log entries with `seq > S` (polling a long run).
//!
//! `tenantId`, `requestCount`, `resourceUnits` (RU the throttle charged, as in
//! `x-ms-resource-unit`, refused requests included), `throttled` (429s answered),
//! `requestsDropped`, `requestLogCapacity`, `requestCounts` (the never-dropping
//! per-route counters) and `managedIdentityTokens` (tokens the managed identity endpoints
//! issued) are always present: they are small. Without
//! options the document is the full one, as before. Unknown options or bad values are 400
//! with Graph's error body (stricter than ignoring them: a typo would otherwise silently
//! return 46 MB).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::AppState;
use crate::directory::{Directory, InvitationRecord, MessageRecord};
use crate::error::{GraphError, RequestIds};
use crate::partners::PartnerTenant;
use crate::request_log::{Counter, LogEntry};

/// The array sections of the state document, in document order.
const SECTIONS: &[&str] = &[
    "users",
    "groups",
    "orgContacts",
    "directoryRoles",
    "groupMemberships",
    "roleEligibilityScheduleInstances",
    "partnerTenants",
    "policies",
    "invitations",
    "messages",
    "requests",
];

/// What a caller asked of `GET /_emulator/state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateQuery {
    /// Per entry of [`SECTIONS`]: whether it is included.
    include: [bool; SECTIONS.len()],
    /// Items skipped at the start of every included section.
    skip: usize,
    /// At most this many items per included section.
    top: Option<usize>,
    /// Only request-log entries after this sequence number.
    since_seq: u64,
}

impl Default for StateQuery {
    fn default() -> Self {
        Self {
            include: [true; SECTIONS.len()],
            skip: 0,
            top: None,
            since_seq: 0,
        }
    }
}

impl StateQuery {
    /// Parses the query string (see the module docs).
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut out = Self::default();
        let mut chosen: Option<[bool; SECTIONS.len()]> = None;
        let number = |name: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("'{name}' must be a non-negative integer, not '{value}'"))
        };
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "section" => {
                    let set = chosen.get_or_insert([false; SECTIONS.len()]);
                    for part in value.split(',').filter(|p| !p.is_empty()) {
                        set[section_index(part)?] = true;
                    }
                }
                "top" => {
                    out.top = Some(usize::try_from(number("top", &value)?).unwrap_or(usize::MAX));
                }
                "skip" => {
                    out.skip = usize::try_from(number("skip", &value)?).unwrap_or(usize::MAX);
                }
                "sinceSeq" => out.since_seq = number("sinceSeq", &value)?,
                other => {
                    let index = section_index(other)?;
                    out.include[index] = match value.as_ref() {
                        "true" => true,
                        "false" => false,
                        v => return Err(format!("'{other}' must be true or false, not '{v}'")),
                    };
                }
            }
        }
        if let Some(set) = chosen {
            for (include, chosen) in out.include.iter_mut().zip(set) {
                *include &= chosen;
            }
        }
        Ok(out)
    }

    fn includes(&self, section: &str) -> bool {
        SECTIONS
            .iter()
            .position(|s| *s == section)
            .is_some_and(|i| self.include[i])
    }

    /// The page of `items` this query asks for, or `None` when the section is excluded.
    /// A page is a `Vec` of references: 8 bytes an item, not a copy of the item.
    fn page<'a, T: 'a>(
        &self,
        section: &str,
        items: impl Iterator<Item = &'a T>,
    ) -> Option<Vec<&'a T>> {
        self.includes(section).then(|| {
            items
                .skip(self.skip)
                .take(self.top.unwrap_or(usize::MAX))
                .collect()
        })
    }
}

fn section_index(name: &str) -> Result<usize, String> {
    SECTIONS.iter().position(|s| *s == name).ok_or_else(|| {
        format!(
            "unknown state option or section '{name}' (sections: {}; options: section, top, skip, sinceSeq)",
            SECTIONS.join(", ")
        )
    })
}

/// One directory role as the state document shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleView<'a> {
    id: &'a str,
    display_name: &'a str,
    role_template_id: &'a str,
    description: &'a Option<String>,
    members: &'a [String],
}

/// One group's members and owners as the state document shows them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupLinksView<'a> {
    group_id: &'a str,
    members: &'a [String],
    owners: &'a [String],
}

/// The state document, borrowed from the directory and the log while both are locked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateView<'a> {
    tenant_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<&'a Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<&'a Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_contacts: Option<Vec<&'a Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    directory_roles: Option<Vec<RoleView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_memberships: Option<Vec<GroupLinksView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_eligibility_schedule_instances: Option<Vec<&'a Map<String, Value>>>,
    /// `Some(None)`: partners are not modelled (shown as `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_tenants: Option<Option<Vec<&'a PartnerTenant>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invitations: Option<Vec<&'a InvitationRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<&'a MessageRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<Vec<&'a LogEntry>>,
    request_count: u64,
    resource_units: u64,
    throttled: u64,
    requests_dropped: u64,
    request_log_capacity: usize,
    request_counts: Vec<Counter<'a>>,
    managed_identity_tokens: u64,
}

/// Locks the directory (read) and then the log — the order every other reader uses —
/// and hands the borrowed document to `f`.
fn with_view<R>(app: &AppState, query: &StateQuery, f: impl FnOnce(&StateView<'_>) -> R) -> R {
    let dir = app.dir.read();
    let log = app.log.lock();
    let totals = app.throttle.totals();
    let dir: &Directory = &dir;
    let view = StateView {
        tenant_id: &dir.tenant_id,
        users: query.page("users", dir.users.iter()),
        groups: query.page("groups", dir.groups.iter()),
        org_contacts: query.page("orgContacts", dir.org_contacts.iter()),
        directory_roles: query.page("directoryRoles", dir.roles.iter()).map(|roles| {
            roles
                .into_iter()
                .map(|r| RoleView {
                    id: &r.id,
                    display_name: &r.display_name,
                    role_template_id: &r.role_template_id,
                    description: &r.description,
                    members: &r.members,
                })
                .collect()
        }),
        group_memberships: query
            .page("groupMemberships", dir.membership.all().iter())
            .map(|links| {
                links
                    .into_iter()
                    .map(|g| GroupLinksView {
                        group_id: &g.group_id,
                        members: &g.members,
                        owners: &g.owners,
                    })
                    .collect()
            }),
        role_eligibility_schedule_instances: query.page(
            "roleEligibilityScheduleInstances",
            dir.role_eligibility.iter(),
        ),
        partner_tenants: query.includes("partnerTenants").then(|| {
            dir.partner_tenants.as_ref().map(|partners| {
                partners
                    .iter()
                    .skip(query.skip)
                    .take(query.top.unwrap_or(usize::MAX))
                    .collect()
            })
        }),
        policies: query.includes("policies").then(|| dir.policies.to_json()),
        invitations: query.page("invitations", dir.invitations.iter()),
        messages: query.page("messages", dir.messages.iter()),
        requests: query.page(
            "requests",
            log.entries().iter().filter(|e| e.seq > query.since_seq),
        ),
        request_count: log.total(),
        resource_units: totals.resource_units,
        throttled: totals.throttled,
        requests_dropped: log.dropped(),
        request_log_capacity: log.capacity(),
        request_counts: log.counters().collect(),
        managed_identity_tokens: app.tokens.managed_identity_token_count(),
    };
    f(&view)
}

/// The state document as a JSON value (for [`crate::RunningEmulator::state`]).
pub fn state_value(app: &AppState, query: &StateQuery) -> Value {
    with_view(app, query, |view| {
        serde_json::to_value(view).unwrap_or_default()
    })
}

/// `GET /_emulator/state[?section=…&users=false&top=&skip=&sinceSeq=]`.
pub async fn state(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = match StateQuery::parse(query.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            let ids = ids.map_or_else(
                || RequestIds::from_headers(&Default::default()),
                |Extension(ids)| ids,
            );
            return GraphError::bad_request(message).into_response_with(&ids);
        }
    };
    // Serialized into one buffer while the locks are held: no `Value` tree in between.
    match with_view(&app, &query, |view| serde_json::to_vec(view)) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("state document: {e}"),
        )
            .into_response(),
    }
}

/// `POST /_emulator/reset`.
pub async fn reset(State(app): State<AppState>) -> Response {
    *app.dir.write() = Directory::new(&app.tenant);
    app.log.lock().clear();
    app.throttle.reset_totals();
    app.tokens.reset_managed_identity_token_count();
    app.tokens.reset_federated_identity_credentials();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_flags_and_paging() {
        let q = StateQuery::parse(Some("section=requests,invitations&top=5&skip=2")).unwrap();
        assert!(q.includes("requests") && q.includes("invitations"));
        assert!(!q.includes("users"));
        assert_eq!((q.top, q.skip), (Some(5), 2));
        let q = StateQuery::parse(Some("users=false&sinceSeq=10")).unwrap();
        assert!(!q.includes("users") && q.includes("groups"));
        assert_eq!(q.since_seq, 10);
        assert_eq!(StateQuery::parse(None).unwrap(), StateQuery::default());
        for bad in ["usres=false", "top=-1", "users=no", "section=widgets"] {
            assert!(StateQuery::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_skip_then_take() {
        let q = StateQuery::parse(Some("top=2&skip=1")).unwrap();
        let items = [1, 2, 3, 4];
        assert_eq!(q.page("users", items.iter()), Some(vec![&2, &3]));
        let q = StateQuery::parse(Some("users=false")).unwrap();
        assert_eq!(q.page("users", items.iter()), None);
    }
}
