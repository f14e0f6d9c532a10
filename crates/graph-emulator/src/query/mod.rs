//! Graph's OData query options for directory collections (`$filter`, `$select`, `$top`,
//! `$count`, `$skiptoken`): parsing, the per-property support rules, advanced-query rules,
//! evaluation, projection and paging. One engine serves `/users`, `/groups`, `/contacts`
//! and `/roleManagement/directory/roleEligibilityScheduleInstances`.
//!
//! Rules and choices (graph-facts.md §2 and §4; stricter where undocumented):
//! - Query values are decoded as `application/x-www-form-urlencoded` (like ASP.NET): a
//!   literal `+` must be sent as `%2B`, or it becomes a space.
//! - String comparisons are case-insensitive. `ne`, `not` and `endsWith` need
//!   `ConsistencyLevel: eventual` and `$count=true`, else 400 `Request_UnsupportedQuery`.
//! - Every property has an explicit list of supported operators; anything else is 400
//!   `Request_UnsupportedQuery`, never a best effort. `gt`/`lt` are supported nowhere.
//! - `identities/any(...)` accepts only `issuerAssignedId eq .. and issuer eq ..`, or `issuer
//!   eq` alone for `google.com`, `facebook.com`, `mail`, `phone`; `signInType eq
//!   'userPrincipalName'` is refused.
//! - `$orderby`, `$search` and `$skip` are not implemented and answer 400 (stricter than
//!   Graph for `$orderby`/`$search`, which exist there); `$expand` too, except on the sets
//!   that name expandable navigation properties ([`EntitySet::expandable`]), and then only
//!   those, without nested options.
//! - The role-management set ([`ROLE_ELIGIBILITY_INSTANCES`]) is not a directory-object
//!   set: `ne` needs no advanced query there and `$count=true` alone gives `@odata.count`.
//! - `$skiptoken` is opaque (base64 of a position and a digest of the other options); a token
//!   sent with different options is refused.
//! - Listing users refuses `$select` of the properties Graph serves only on a single user
//!   (aboutMe, birthday, hireDate, interests, mailboxSettings, mySite, pastProjects,
//!   preferredName, responsibilities, schools, skills, print) with 400.
//! - A property absent from the stored object is returned as `null`, `[]` for collections, or
//!   Graph's default for non-nullable values (`0001-01-01T00:00:00Z`, `false`, `0`).
//! - A `$filter` may have at most 100 clauses (ASP.NET OData's default node count) and 32
//!   levels of nesting.
//! - `$top` below 1 or above 999 is 400; an `in (...)` list takes at most 15 values.
//! - `eq`, `in` and `any(x: x eq …)` on the indexed properties ([`EntitySet::indexed`]) are
//!   answered from the index ([`plan`]) with exactly the scan's result; anything else scans.

mod entity;
mod eval;
mod filter;
#[cfg(test)]
mod fixture;
mod options;
mod plan;
mod response;
mod support;

pub use entity::{CONTACTS, EntitySet, GROUPS, ROLE_ELIGIBILITY_INSTANCES, USERS};
pub use filter::{Expr, Lit, Op, parse_filter};
pub use options::{QueryOptions, is_eventual, parse_options, parse_options_expanding};
pub use response::{context, count, list, list_with, page_values, project};
