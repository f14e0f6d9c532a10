//! Graph's throttling, modelled on graph-facts.md §5 (Microsoft's
//! `concepts/throttling-limits.md` and `concepts/throttling.md`).
//!
//! Limits applied:
//! - **Invitation manager:** any request on `/invitations`, 150 requests per 5 s per
//!   tenant, for all apps together.
//! - **Identity and access** (everything else the emulator serves): resource units (RU)
//!   per app+tenant, sized by the tenant's user count (S < 50 users: 3,500; M ≤ 500:
//!   5,000; L: 8,000 per 10 s); 150,000 RU per 20 s per app; writes 3,000 per 150 s per
//!   app+tenant, 35,000 per 5 min per app (the newer, lower figure) and 18,000 per 5 min
//!   per tenant.
//! - **Global:** 130,000 requests per 10 s per app.
//!
//! Costs: `GET` on `/users` or `/users/{id}` 2 RU, `memberOf`/`transitiveMemberOf` 2,
//! other `GET`s 1; writes 1 RU plus 1 write; `$select` −1, `$expand` +1, `$top` < 20 −1,
//! never below 1. `POST /$batch` itself costs nothing: its inner requests are each
//! admitted on their own (the `$batch` handler runs them through [`crate::gate::gate`]).
//!
//! Stricter choices where Microsoft documents the limit but not the algorithm:
//! - **Sliding windows, not token buckets:** no more than the limit in *any* window of
//!   the stated length, so a client can never burst past it.
//! - **Throttled requests count** (as Microsoft says), in every window the request
//!   belongs to.
//! - **A request sent before its `Retry-After` has passed is throttled again**, even if
//!   it would fit, and pushes the wait further out.
//! - `Retry-After` is the real time until the request would fit, in fractional seconds
//!   rounded up to the millisecond (`2.128`); waiting exactly that long succeeds if
//!   nothing else arrives meanwhile.
//! - `GET /users/{id}` costs 2 like the list (the docs name only "users").
//! - Invitations also get `x-ms-throttle-scope` (`Tenant/InvitationManager/{app}/{tenant}`)
//!   and `x-ms-throttle-information`, which Microsoft documents only for identity and
//!   access; clients must not rely on them being absent.
//!
//! Time comes from `tokio::time::Instant`, so `start_paused` tests control it; the pure
//! [`Throttle::admit_at`] takes the instant explicitly.
//!
//! The throttle also keeps running totals ([`Throttle::totals`]: RU charged, requests
//! refused), shown in the state document, so a benchmark can report what a run cost in
//! Graph's currency. Refused requests' RU count, as they do against the quota.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use tokio::time::Instant;

use crate::error::GraphError;

/// What a request costs and which limits it falls under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// Any request on `/invitations` (invitation manager).
    Invitations,
    /// Identity and access: users, groups, directory roles, role management...
    Identity {
        /// Resource units.
        resource_units: u64,
        /// Whether the request also spends one write.
        write: bool,
    },
    /// The `$batch` envelope: free; its inner requests are admitted one by one.
    Batch,
}

/// Strips the API version and trailing slash: `/v1.0/users/x/` → `/users/x`.
fn graph_path(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    for prefix in ["/v1.0", "/beta"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return rest;
        }
    }
    path
}

/// Classifies a Graph request (method, path with or without `/v1.0`, raw query).
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> Workload {
    let path = graph_path(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.first().copied() {
        Some(first) if first.eq_ignore_ascii_case("invitations") => return Workload::Invitations,
        Some("$batch") | Some("%24batch") => return Workload::Batch,
        _ => {}
    }
    if method != Method::GET && method != Method::HEAD {
        return Workload::Identity {
            resource_units: 1,
            write: true,
        };
    }
    let is_users = |s: &str| s.eq_ignore_ascii_case("users");
    let is_membership = |s: &&str| {
        s.eq_ignore_ascii_case("memberOf") || s.eq_ignore_ascii_case("transitiveMemberOf")
    };
    let mut cost: i64 = if segments.iter().any(is_membership)
        || (segments.len() <= 2 && segments.first().is_some_and(|s| is_users(s)))
    {
        2
    } else {
        1
    };
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match name.to_ascii_lowercase().as_str() {
            "$select" => cost -= 1,
            "$expand" => cost += 1,
            "$top" if value.trim().parse::<u64>().is_ok_and(|top| top < 20) => cost -= 1,
            _ => {}
        }
    }
    Workload::Identity {
        resource_units: cost.max(1).unsigned_abs(),
        write: false,
    }
}

/// The tenant's RU quota per app per 10 s, by user count (S/M/L).
pub fn resource_unit_limit(tenant_user_count: usize) -> u64 {
    match tenant_user_count {
        0..50 => 3_500,
        50..=500 => 5_000,
        _ => 8_000,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Invitations { tenant: String },
    AppGlobal { app: String },
    AppTenantRu { app: String, tenant: String },
    AppRu { app: String },
    AppTenantWrites { app: String, tenant: String },
    AppWrites { app: String },
    TenantWrites { tenant: String },
}

impl Key {
    fn limit(&self, ru_limit: u64) -> (u64, Duration) {
        match self {
            Key::Invitations { .. } => (150, Duration::from_secs(5)),
            Key::AppGlobal { .. } => (130_000, Duration::from_secs(10)),
            Key::AppTenantRu { .. } => (ru_limit, Duration::from_secs(10)),
            Key::AppRu { .. } => (150_000, Duration::from_secs(20)),
            Key::AppTenantWrites { .. } => (3_000, Duration::from_secs(150)),
            Key::AppWrites { .. } => (35_000, Duration::from_secs(300)),
            Key::TenantWrites { .. } => (18_000, Duration::from_secs(300)),
        }
    }

    /// `x-ms-throttle-scope` and `x-ms-throttle-information` for this limit.
    fn describe(&self, app: &str, tenant: &str) -> (String, &'static str) {
        let (scope, limit, info) = match self {
            Key::Invitations { .. } => ("Tenant", "InvitationManager", "RequestLimitExceeded"),
            Key::AppGlobal { .. } => ("Application", "Global", "RequestLimitExceeded"),
            Key::AppTenantRu { .. } => (
                "Tenant_Application",
                "ReadWrite",
                "ResourceUnitLimitExceeded",
            ),
            Key::AppRu { .. } => ("Application", "ReadWrite", "ResourceUnitLimitExceeded"),
            Key::AppTenantWrites { .. } => ("Tenant_Application", "Write", "WriteLimitExceeded"),
            Key::AppWrites { .. } => ("Application", "Write", "WriteLimitExceeded"),
            Key::TenantWrites { .. } => ("Tenant", "Write", "WriteLimitExceeded"),
        };
        (format!("{scope}/{limit}/{app}/{tenant}"), info)
    }
}

/// One sliding window: what was spent when, and until when it is closed after a 429.
#[derive(Debug)]
struct Window {
    limit: u64,
    period: Duration,
    entries: VecDeque<(Instant, u64)>,
    used: u64,
    blocked_until: Option<Instant>,
}

impl Window {
    fn new(limit: u64, period: Duration) -> Self {
        Self {
            limit,
            period,
            entries: VecDeque::new(),
            used: 0,
            blocked_until: None,
        }
    }

    /// Drops what has left the window; an entry at `t` leaves at exactly `t + period`.
    fn prune(&mut self, now: Instant) {
        while let Some(&(at, cost)) = self.entries.front() {
            if at + self.period > now {
                break;
            }
            self.entries.pop_front();
            self.used -= cost;
        }
        if self.blocked_until.is_some_and(|until| until <= now) {
            self.blocked_until = None;
        }
    }

    fn fits(&self, cost: u64) -> bool {
        self.used + cost <= self.limit
    }

    fn record(&mut self, now: Instant, cost: u64) {
        match self.entries.back_mut() {
            // Requests in the same instant share an entry, which keeps big windows small.
            Some((at, spent)) if *at == now => *spent += cost,
            _ => self.entries.push_back((now, cost)),
        }
        self.used += cost;
    }

    /// How long until a request of `cost` fits, counting what is recorded now.
    fn wait_for(&self, now: Instant, cost: u64) -> Duration {
        let blocked = self
            .blocked_until
            .map(|until| until.saturating_duration_since(now))
            .unwrap_or_default();
        if self.fits(cost) {
            return blocked;
        }
        if cost > self.limit {
            return blocked.max(self.period);
        }
        let need = self.used + cost - self.limit;
        let mut freed = 0;
        for &(at, spent) in &self.entries {
            freed += spent;
            if freed >= need {
                return blocked.max((at + self.period).saturating_duration_since(now));
            }
        }
        blocked.max(self.period)
    }
}

/// A refused request: how long to wait and which limit was hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttled {
    /// Time until the request would be admitted.
    pub retry_after: Duration,
    /// `x-ms-throttle-scope`, e.g. `Tenant_Application/ReadWrite/{app}/{tenant}`.
    pub scope: String,
    /// `x-ms-throttle-information`, e.g. `ResourceUnitLimitExceeded`.
    pub information: &'static str,
}

impl Throttled {
    /// Graph's 429 `TooManyRequests` with `Retry-After`, `x-ms-throttle-scope` and
    /// `x-ms-throttle-information` (the body's `innerError.code` "429" is added by the
    /// gate, which renders it).
    pub fn to_error(&self) -> GraphError {
        GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
        )
        .with_header("retry-after", &format_retry_after(self.retry_after))
        .with_header("x-ms-throttle-scope", &self.scope)
        .with_header("x-ms-throttle-information", self.information)
    }
}

/// The throttle's answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// `Some` when the request must be answered with 429.
    pub throttled: Option<Throttled>,
    /// Headers for the response either way (`x-ms-resource-unit`,
    /// `x-ms-throttle-limit-percentage`).
    pub headers: Vec<(&'static str, String)>,
}

/// Seconds with three decimals, rounded up to the millisecond, at least `0.001`.
pub fn format_retry_after(wait: Duration) -> String {
    let millis = wait.as_nanos().div_ceil(1_000_000).max(1);
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// Graph's throttling state for one emulator.
#[derive(Debug)]
pub struct Throttle {
    enabled: bool,
    ru_limit: u64,
    windows: Mutex<HashMap<Key, Window>>,
    /// RU charged (`x-ms-resource-unit` of every admitted or refused request).
    resource_units: AtomicU64,
    /// Requests answered with 429.
    throttled: AtomicU64,
}

/// The throttle's running totals since start or [`Throttle::reset_totals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Resource units charged, refused requests included.
    pub resource_units: u64,
    /// Requests refused with 429.
    pub throttled: u64,
}

impl Throttle {
    /// `enabled: false` still reports costs but never refuses; the RU quota is sized by
    /// the tenant's user count.
    pub fn new(enabled: bool, tenant_user_count: usize) -> Self {
        Self {
            enabled,
            ru_limit: resource_unit_limit(tenant_user_count),
            windows: Mutex::new(HashMap::new()),
            resource_units: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// RU charged and requests refused so far.
    pub fn totals(&self) -> Totals {
        Totals {
            resource_units: self.resource_units.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the totals (`POST /_emulator/reset`); the windows are left alone, as a
    /// reset of the tenant does not give an app its quota back.
    pub fn reset_totals(&self) {
        self.resource_units.store(0, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
    }

    /// Admits (or throttles) one request of `app` in `tenant` now.
    pub fn admit(&self, app: &str, tenant: &str, workload: &Workload) -> Admission {
        self.admit_at(Instant::now(), app, tenant, workload)
    }

    /// [`Throttle::admit`] at an explicit instant.
    pub fn admit_at(
        &self,
        now: Instant,
        app: &str,
        tenant: &str,
        workload: &Workload,
    ) -> Admission {
        let app_l = app.to_ascii_lowercase();
        let tenant_l = tenant.to_ascii_lowercase();
        let mut charges: Vec<(Key, u64)> = Vec::new();
        let mut headers = Vec::new();
        match workload {
            Workload::Batch => {
                return Admission {
                    throttled: None,
                    headers,
                };
            }
            Workload::Invitations => {
                charges.push((
                    Key::Invitations {
                        tenant: tenant_l.clone(),
                    },
                    1,
                ));
            }
            Workload::Identity {
                resource_units,
                write,
            } => {
                headers.push(("x-ms-resource-unit", resource_units.to_string()));
                self.resource_units
                    .fetch_add(*resource_units, Ordering::Relaxed);
                charges.push((
                    Key::AppTenantRu {
                        app: app_l.clone(),
                        tenant: tenant_l.clone(),
                    },
                    *resource_units,
                ));
                charges.push((Key::AppRu { app: app_l.clone() }, *resource_units));
                if *write {
                    charges.push((
                        Key::AppTenantWrites {
                            app: app_l.clone(),
                            tenant: tenant_l.clone(),
                        },
                        1,
                    ));
                    charges.push((Key::AppWrites { app: app_l.clone() }, 1));
                    charges.push((
                        Key::TenantWrites {
                            tenant: tenant_l.clone(),
                        },
                        1,
                    ));
                }
            }
        }
        charges.push((Key::AppGlobal { app: app_l }, 1));

        // A poisoned lock only means a panic elsewhere; the windows are still consistent
        // because every update below is a plain field write.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let ru_limit = self.ru_limit;
        let mut refused = false;
        for (key, cost) in &charges {
            let (limit, period) = key.limit(ru_limit);
            let window = windows
                .entry(key.clone())
                .or_insert_with(|| Window::new(limit, period));
            window.prune(now);
            if window.blocked_until.is_some() || !window.fits(*cost) {
                refused = true;
            }
        }
        refused &= self.enabled;
        // Throttled requests count too (throttling.md: "avoid immediate retries").
        for (key, cost) in &charges {
            if let Some(window) = windows.get_mut(key) {
                window.record(now, *cost);
            }
        }
        if let Some(window) = windows.get(&charges[0].0)
            && matches!(charges[0].0, Key::AppTenantRu { .. })
        {
            let share = window.used as f64 / window.limit as f64;
            if share > 0.8 {
                headers.push(("x-ms-throttle-limit-percentage", format!("{share:.2}")));
            }
        }
        if !refused {
            return Admission {
                throttled: None,
                headers,
            };
        }
        self.throttled.fetch_add(1, Ordering::Relaxed);

        let mut worst: Option<(Duration, &Key)> = None;
        for (key, cost) in &charges {
            let Some(window) = windows.get_mut(key) else {
                continue;
            };
            let wait = window.wait_for(now, *cost);
            if wait.is_zero() {
                continue;
            }
            // Closed until the wait is over: an early retry is throttled again.
            window.blocked_until = Some(now + wait);
            if worst.is_none_or(|(w, _)| wait > w) {
                worst = Some((wait, key));
            }
        }
        let (retry_after, key) = match worst {
            Some(found) => found,
            // Unreachable in practice (refused means some window has a wait), but a 429
            // must always carry a usable Retry-After.
            None => (Duration::from_millis(1), &charges[0].0),
        };
        let (scope, information) = key.describe(app, tenant);
        Admission {
            throttled: Some(Throttled {
                retry_after,
                scope,
                information,
            }),
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
    const TENANT: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";

    fn ru(method: Method, path: &str, query: Option<&str>) -> u64 {
        match classify(&method, path, query) {
            Workload::Identity { resource_units, .. } => resource_units,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn costs() {
        assert_eq!(ru(Method::GET, "/v1.0/users", None), 2);
        assert_eq!(ru(Method::GET, "/users/abc", None), 2);
        assert_eq!(ru(Method::GET, "/v1.0/users", Some("$select=id,mail")), 1);
        assert_eq!(
            ru(Method::GET, "/v1.0/users", Some("%24select=id&%24top=5")),
            1,
            "never below 1"
        );
        assert_eq!(ru(Method::GET, "/v1.0/users", Some("$top=999")), 2);
        assert_eq!(ru(Method::GET, "/v1.0/users", Some("$expand=manager")), 3);
        assert_eq!(
            ru(
                Method::GET,
                "/v1.0/users/x/transitiveMemberOf/microsoft.graph.directoryRole",
                None
            ),
            2
        );
        assert_eq!(ru(Method::GET, "/v1.0/directoryRoles", None), 1);
        assert_eq!(
            ru(
                Method::GET,
                "/v1.0/roleManagement/directory/roleAssignments",
                Some("$top=10")
            ),
            1
        );
        assert_eq!(
            classify(&Method::PATCH, "/v1.0/users/x", Some("$select=id")),
            Workload::Identity {
                resource_units: 1,
                write: true
            }
        );
        assert_eq!(
            classify(&Method::POST, "/v1.0/invitations", None),
            Workload::Invitations
        );
        assert_eq!(
            classify(&Method::GET, "/invitations/", None),
            Workload::Invitations
        );
        assert_eq!(
            classify(&Method::POST, "/v1.0/$batch", None),
            Workload::Batch
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(resource_unit_limit(10), 3_500);
        assert_eq!(resource_unit_limit(50), 5_000);
        assert_eq!(resource_unit_limit(500), 5_000);
        assert_eq!(resource_unit_limit(501), 8_000);
    }

    #[test]
    fn retry_after_format() {
        assert_eq!(
            format_retry_after(Duration::from_micros(2_127_001)),
            "2.128"
        );
        assert_eq!(format_retry_after(Duration::from_secs(5)), "5.000");
        assert_eq!(format_retry_after(Duration::ZERO), "0.001");
    }

    #[test]
    fn invitation_manager_window() {
        let throttle = Throttle::new(true, 10);
        let t0 = Instant::now();
        for i in 0..150u64 {
            let at = t0 + Duration::from_millis(i * 10);
            let a = throttle.admit_at(at, APP, TENANT, &Workload::Invitations);
            assert!(a.throttled.is_none(), "request {i}");
        }
        // Tenant-wide: another app is throttled too. 151st request at 2 s.
        let at = t0 + Duration::from_secs(2);
        let t = throttle
            .admit_at(at, "other-app", TENANT, &Workload::Invitations)
            .throttled
            .unwrap();
        assert_eq!(
            t.scope,
            format!("Tenant/InvitationManager/other-app/{TENANT}")
        );
        // The window holds 151 entries; two must leave: the second, at t0+10ms, leaves at 5.01 s.
        assert_eq!(t.retry_after, Duration::from_millis(3010));
        assert_eq!(format_retry_after(t.retry_after), "3.010");
        // Early retry: throttled again, and it counts, so the wait grows.
        let early = throttle
            .admit_at(
                at + Duration::from_secs(1),
                APP,
                TENANT,
                &Workload::Invitations,
            )
            .throttled
            .unwrap();
        assert!(early.retry_after > Duration::from_millis(2010), "{early:?}");
        // Waiting it out works.
        let later = at + Duration::from_secs(1) + early.retry_after;
        assert!(
            throttle
                .admit_at(later, APP, TENANT, &Workload::Invitations)
                .throttled
                .is_none()
        );
        // Another tenant is unaffected.
        assert!(
            throttle
                .admit_at(at, APP, "other-tenant", &Workload::Invitations)
                .throttled
                .is_none()
        );
    }

    #[test]
    fn resource_units_and_headers() {
        let throttle = Throttle::new(true, 10); // S: 3,500 RU / 10 s
        let t0 = Instant::now();
        let get_users = Workload::Identity {
            resource_units: 2,
            write: false,
        };
        for _ in 0..1_400 {
            assert!(
                throttle
                    .admit_at(t0, APP, TENANT, &get_users)
                    .throttled
                    .is_none()
            );
        }
        // 2,800 of 3,500 = 0.8: not above, no percentage header yet.
        let a = throttle.admit_at(t0, APP, TENANT, &get_users);
        assert!(
            a.headers
                .iter()
                .any(|(n, v)| *n == "x-ms-resource-unit" && v == "2")
        );
        assert!(
            a.headers
                .iter()
                .any(|(n, _)| *n == "x-ms-throttle-limit-percentage")
        );
        for _ in 0..349 {
            assert!(
                throttle
                    .admit_at(t0, APP, TENANT, &get_users)
                    .throttled
                    .is_none()
            );
        }
        let t = throttle
            .admit_at(t0, APP, TENANT, &get_users)
            .throttled
            .unwrap();
        assert_eq!(
            t.scope,
            format!("Tenant_Application/ReadWrite/{APP}/{TENANT}")
        );
        assert_eq!(t.information, "ResourceUnitLimitExceeded");
        assert_eq!(t.retry_after, Duration::from_secs(10));
        // Another app in the same tenant has its own bucket.
        assert!(
            throttle
                .admit_at(t0, "other", TENANT, &get_users)
                .throttled
                .is_none()
        );
    }

    #[test]
    fn writes_per_app_and_tenant() {
        let throttle = Throttle::new(true, 10_000);
        let t0 = Instant::now();
        let patch = Workload::Identity {
            resource_units: 1,
            write: true,
        };
        for i in 0..3_000u64 {
            let at = t0 + Duration::from_millis(i * 40); // 120 s, under the RU limit
            assert!(
                throttle
                    .admit_at(at, APP, TENANT, &patch)
                    .throttled
                    .is_none(),
                "{i}"
            );
        }
        let t = throttle
            .admit_at(t0 + Duration::from_secs(121), APP, TENANT, &patch)
            .throttled
            .unwrap();
        assert_eq!(t.information, "WriteLimitExceeded");
        assert_eq!(t.scope, format!("Tenant_Application/Write/{APP}/{TENANT}"));
        // Two entries (the first two writes, at 0 and 40 ms) must leave: at 150.04 s.
        assert_eq!(t.retry_after, Duration::from_millis(29_040));
    }

    #[test]
    fn totals_count_resource_units_and_refusals() {
        let throttle = Throttle::new(true, 10); // 3,500 RU per 10 s
        let t0 = Instant::now();
        let get_users = Workload::Identity {
            resource_units: 2,
            write: false,
        };
        for _ in 0..1_751 {
            throttle.admit_at(t0, APP, TENANT, &get_users);
        }
        throttle.admit_at(t0, APP, TENANT, &Workload::Invitations);
        throttle.admit_at(t0, APP, TENANT, &Workload::Batch);
        // The 1,751st request is refused, and still charged.
        assert_eq!(
            throttle.totals(),
            Totals {
                resource_units: 3_502,
                throttled: 1
            }
        );
        throttle.reset_totals();
        assert_eq!(throttle.totals(), Totals::default());
    }

    #[test]
    fn disabled_never_refuses() {
        let throttle = Throttle::new(false, 10);
        let t0 = Instant::now();
        for _ in 0..500 {
            let a = throttle.admit_at(t0, APP, TENANT, &Workload::Invitations);
            assert!(a.throttled.is_none());
        }
        let a = throttle.admit_at(
            t0,
            APP,
            TENANT,
            &Workload::Identity {
                resource_units: 1,
                write: false,
            },
        );
        assert!(a.headers.iter().any(|(n, _)| *n == "x-ms-resource-unit"));
    }

    #[tokio::test(start_paused = true)]
    async fn paused_clock_drives_admit() {
        let throttle = Throttle::new(true, 10);
        for _ in 0..150 {
            assert!(
                throttle
                    .admit(APP, TENANT, &Workload::Invitations)
                    .throttled
                    .is_none()
            );
        }
        let t = throttle
            .admit(APP, TENANT, &Workload::Invitations)
            .throttled
            .unwrap();
        assert_eq!(t.retry_after, Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(
            throttle
                .admit(APP, TENANT, &Workload::Invitations)
                .throttled
                .is_none()
        );
    }
}
