//! [`GraphClient`]: construction, options, and the one generic request
//! pipeline every resource method goes through (auth, `client-request-id`,
//! throttle gates, pacing, retries, error mapping, paging).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::auth::TokenSource;
use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::{GraphError, parse_error_body, snippet};
use crate::odata::set_query;
use crate::pacing::Pacer;
use crate::retry::{self, Failure, Idempotency, RetryPolicy, parse_retry_after, should_retry};
use crate::throttle::{ThrottleGates, ThrottleScope};

/// Knobs for a [`GraphClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Retry policy for 429 / 503 / 504 / transport failures.
    pub retry: RetryPolicy,
    /// Per-request timeout, each attempt (`Duration::ZERO` disables it, e.g. for
    /// paused-time tests where a pending timer would fire during real I/O).
    pub timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Invitation requests allowed in any sliding `invitation_window`
    /// (Graph's tenant-wide limit is 150 per 5 s).
    pub invitations_per_window: u32,
    /// Length of the invitation pacing window.
    pub invitation_window: Duration,
    /// Resource units allowed in any sliding `resource_unit_window` (identity and access
    /// reads and writes). Graph's app+tenant bucket is 3,500, 5,000 or 8,000 per 10 s by
    /// tenant size; the default is the smallest, which every tenant allows.
    pub resource_units_per_window: u32,
    /// Length of the resource-unit window.
    pub resource_unit_window: Duration,
    /// Writes allowed in any sliding `write_window` (3,000 per 150 s per app+tenant).
    pub writes_per_window: u32,
    /// Length of the write window.
    pub write_window: Duration,
    /// Seed for retry jitter; `None` picks a random one.
    pub seed: Option<u64>,
    /// The longest `Retry-After` the client waits out. A longer one ends the call
    /// with [`GraphError::ThrottledTooLong`] instead of a silent hang.
    pub max_retry_after: Duration,
    /// The wall clock (for `Retry-After` dates); the system clock by default.
    pub clock: SharedClock,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            user_agent: format!("b2b-convert/{}", env!("CARGO_PKG_VERSION")),
            invitations_per_window: 150,
            // Graph counts a request when it arrives, the pacer when it leaves: two
            // requests 5 s apart here can arrive 4.99 s apart there, so the pacer's
            // window is 100 ms longer than Graph's (2 % of the throughput).
            invitation_window: Duration::from_millis(5_100),
            // The same 2 % margin as the invitation window, for the same reason.
            resource_units_per_window: 3_500,
            resource_unit_window: Duration::from_millis(10_200),
            writes_per_window: 3_000,
            write_window: Duration::from_secs(153),
            seed: None,
            max_retry_after: Duration::from_secs(120),
            clock: crate::clock::system(),
        }
    }
}

/// A wait Graph imposed on one throttle scope, as [`GraphClient::throttle_wait`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWait {
    /// Which of Graph's limits.
    pub scope: &'static str,
    /// How much longer.
    pub remaining: Duration,
}

/// A Microsoft Graph v1.0 client. Cheap to clone: clones share the HTTP
/// connection pool, token source, throttle gates and invitation pacer.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Endpoints,
    api_base: Url,
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    options: ClientOptions,
    gates: ThrottleGates,
    pacer: Pacer,
    units: Pacer,
    writes: Pacer,
    seed: u64,
    calls: AtomicU64,
    stats: Counters,
}

/// What this client has asked of Graph so far (all clones together).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    resource_units: AtomicU64,
    retried: AtomicU64,
}

/// What a client has sent and what Graph charged for it: the figures a benchmark and a
/// `--verbose` summary report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt; a `$batch` counts once).
    pub requests: u64,
    /// Of those, answered 429.
    pub throttled: u64,
    /// Resource units Graph reported charging (`x-ms-resource-unit`).
    pub resource_units: u64,
    /// Requests (and `$batch` items) tried again after a passing fault: a 5xx, a
    /// dropped connection or a timeout (429s are counted in `throttled`).
    pub retried: u64,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_root", &self.inner.endpoints.graph_root().as_str())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// One logical request as the pipeline sees it.
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    /// Send `ConsistencyLevel: eventual`.
    pub eventual: bool,
    /// JSON body bytes.
    pub body: Option<Vec<u8>>,
    pub idempotency: Idempotency,
    pub scope: ThrottleScope,
    /// Invitation pacer slots each attempt consumes.
    pub paced: u32,
    /// Non-2xx statuses whose body the caller handles itself.
    pub accept: &'static [u16],
    /// What the request costs Graph's identity budgets (a `$batch` sums its items);
    /// `None`: computed from the method and URL.
    pub cost: Option<Cost>,
}

/// What one request costs in Graph's identity-and-access budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Resource units.
    pub units: u64,
    /// Writes.
    pub writes: u64,
}

impl Call {
    /// The request's cost: invitations have their own budget (the pacer), everything
    /// else is charged resource units, and writes a write as well.
    fn cost(&self) -> Cost {
        if let Some(cost) = self.cost {
            return cost;
        }
        if self.scope == ThrottleScope::Invitations {
            return Cost::default();
        }
        let units =
            crate::pacing::resource_units(self.method.as_str(), self.url.path(), self.url.query());
        let writes = u64::from(self.method != Method::GET);
        Cost { units, writes }
    }
}

impl Call {
    pub(crate) fn get(url: Url) -> Self {
        Call {
            method: Method::GET,
            url,
            eventual: false,
            body: None,
            idempotency: Idempotency::Idempotent,
            scope: ThrottleScope::Directory,
            paced: 0,
            accept: &[],
            cost: None,
        }
    }
}

/// A response the pipeline accepted.
pub(crate) struct Response {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| GraphError::Decode {
            message: format!("{e}; body starts: {}", snippet(&self.body)),
            request_id: self.request_id.clone(),
        })
    }
}

/// One page of a collection: its items and the link to the next page.
#[derive(serde::Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

impl GraphClient {
    /// Build a client. Fails if the options are unusable or the HTTP client
    /// cannot be built (e.g. no TLS roots).
    pub fn new(
        endpoints: Endpoints,
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<GraphClient, GraphError> {
        if options.invitations_per_window == 0 || options.invitation_window.is_zero() {
            return Err(GraphError::InvalidRequest(
                "invitation pacing needs at least 1 request per non-zero window".into(),
            ));
        }
        if options.retry.max_attempts == 0 {
            return Err(GraphError::InvalidRequest(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            // Graph never redirects API calls; refusing redirects keeps the
            // bearer token from following a Location header anywhere.
            .redirect(reqwest::redirect::Policy::none());
        if !options.timeout.is_zero() {
            builder = builder.timeout(options.timeout);
        }
        if endpoints.is_loopback() {
            // An emulator on 127.0.0.1 must not be routed through HTTP(S)_PROXY.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| GraphError::InvalidEndpoint(format!("building HTTP client: {e}")))?;
        let seed = options.seed.unwrap_or_else(|| {
            let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
            a ^ b
        });
        Ok(GraphClient {
            inner: Arc::new(Inner {
                api_base: endpoints.api_base(),
                endpoints,
                http,
                tokens,
                pacer: Pacer::new(options.invitations_per_window, options.invitation_window),
                units: Pacer::new(
                    options.resource_units_per_window,
                    options.resource_unit_window,
                ),
                writes: Pacer::new(options.writes_per_window, options.write_window),
                options,
                gates: ThrottleGates::default(),
                seed,
                calls: AtomicU64::new(0),
                stats: Counters::default(),
            }),
        })
    }

    /// A client signing in with a client secret (OAuth2 client credentials), the token
    /// URL and scope taken from `endpoints`.
    pub fn with_client_secret(
        endpoints: Endpoints,
        tenant: &str,
        client_id: &str,
        secret: secrecy::SecretString,
        options: ClientOptions,
    ) -> Result<GraphClient, GraphError> {
        let credential =
            crate::auth::ClientSecretCredential::new(&endpoints, tenant, client_id, secret)
                .with_clock(options.clock.clone());
        GraphClient::new(endpoints, Arc::new(credential), options)
    }

    /// Signs in now (or uses the cached token) and reads the token's claims: the tenant,
    /// and the permissions it carries. `None` when the token is not a readable JWT.
    /// Fails with [`GraphError::SignIn`] when the credential is refused.
    pub async fn sign_in(&self) -> Result<Option<crate::auth::TokenClaims>, GraphError> {
        let token = self.inner.tokens.token().await?;
        Ok(crate::auth::TokenClaims::decode(
            token.secret.expose_secret(),
        ))
    }

    /// The endpoints this client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// `{graph_root}v1.0/{segments…}`, each segment percent-encoded (so a
    /// UPN holding `#`, `/` or `?` stays one segment).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.api_base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(segments);
        }
        url
    }

    /// A URL relative to the version root (`/users?$filter=…`), percent-encoded as a
    /// `$batch` item's `url` needs it.
    pub fn relative_url(&self, segments: &[&str], query: &crate::odata::ListQuery) -> String {
        let url = self.url_with_query(segments, &query.pairs());
        let base = self.inner.api_base.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base).unwrap_or(url.path());
        match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }

    /// `url` with a query built from `pairs`.
    pub(crate) fn url_with_query(&self, segments: &[&str], pairs: &[(&str, String)]) -> Url {
        let mut url = self.url(segments);
        set_query(&mut url, pairs);
        url
    }

    fn throttled_too_long(
        &self,
        call: &Call,
        path: &str,
        wait: Duration,
        scope: Option<String>,
        request_id: Option<String>,
    ) -> GraphError {
        GraphError::ThrottledTooLong {
            wait,
            cap: self.inner.options.max_retry_after,
            scope: scope.or_else(|| Some(call.scope.name().to_owned())),
            request_id,
            method: call.method.to_string(),
            path: path.to_owned(),
        }
    }

    /// Requests sent so far and what Graph charged for them.
    pub fn stats(&self) -> ClientStats {
        let stats = &self.inner.stats;
        ClientStats {
            requests: stats.requests.load(Ordering::Relaxed),
            throttled: stats.throttled.load(Ordering::Relaxed),
            resource_units: stats.resource_units.load(Ordering::Relaxed),
            retried: stats.retried.load(Ordering::Relaxed),
        }
    }

    /// How long Graph has asked this client to hold back, in the scope that waits
    /// longest: for a progress line ("throttled by Graph, resuming in 38 s").
    pub fn throttle_wait(&self) -> Option<ThrottleWait> {
        ThrottleScope::ALL
            .into_iter()
            .filter_map(|scope| {
                self.inner
                    .gates
                    .remaining(scope)
                    .map(|remaining| ThrottleWait {
                        scope: scope.name(),
                        remaining,
                    })
            })
            .max_by_key(|w| w.remaining)
    }

    /// Retry the jitter of call number `n` would use (see
    /// [`retry::jitter_seed`]).
    fn next_call_seed(&self) -> u64 {
        let n = self.inner.calls.fetch_add(1, Ordering::Relaxed);
        retry::jitter_seed(self.inner.seed, n)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.options.retry
    }

    /// Counts `n` items tried again after a passing fault ($batch items).
    pub(crate) fn count_retried(&self, n: usize) {
        self.inner
            .stats
            .retried
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn gates(&self) -> &ThrottleGates {
        &self.inner.gates
    }

    /// Run one logical request through auth, gates, pacing and retries.
    pub(crate) async fn execute(&self, call: Call) -> Result<Response, GraphError> {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let path = call.url.path().to_string();
        let span = tracing::info_span!(
            "graph_request",
            method = %call.method,
            path = %path,
            client_request_id = %client_request_id,
        );
        self.execute_inner(call, client_request_id, path)
            .instrument(span)
            .await
    }

    async fn execute_inner(
        &self,
        call: Call,
        client_request_id: String,
        path: String,
    ) -> Result<Response, GraphError> {
        let inner = &self.inner;
        let policy = &inner.options.retry;
        let seed = self.next_call_seed();
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            attempt += 1;
            if let Some(wait) = inner.gates.remaining(call.scope)
                && wait > inner.options.max_retry_after
            {
                // Another caller was told to wait longer than this run allows.
                return Err(self.throttled_too_long(&call, &path, wait, None, None));
            }
            let cost = call.cost();
            let _write_pass = if cost.writes > 0 {
                Some(inner.gates.enter(ThrottleScope::Writes).await)
            } else {
                None
            };
            let _pass = inner.gates.enter(call.scope).await;
            for _ in 0..call.paced {
                inner.pacer.acquire().await;
            }
            inner.units.acquire_n(cost.units).await;
            inner.writes.acquire_n(cost.writes).await;
            let token = inner.tokens.token().await?;
            let mut req = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .bearer_auth(token.secret.expose_secret())
                .header("client-request-id", &client_request_id);
            if call.eventual {
                req = req.header("ConsistencyLevel", "eventual");
            }
            if let Some(body) = &call.body {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let (failure, retry_after, error) = match req.send().await {
                Err(e) if e.is_builder() => {
                    // The request could not even be built (a URL too long, say): it
                    // never left, and trying again would fail the same way.
                    return Err(GraphError::InvalidRequest(crate::error::describe(e)));
                }
                Err(e) => {
                    // Only a failed connect proves nothing reached Graph; a
                    // timeout or reset may hit after the server acted.
                    let sent = !e.is_connect();
                    let message = crate::error::describe(e);
                    tracing::debug!(attempt, sent, error = %message, "transport error");
                    (
                        Failure::Transport { sent },
                        None,
                        GraphError::Transport {
                            message,
                            client_request_id: client_request_id.clone(),
                            sent,
                        },
                    )
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let request_id = header_str(&headers, "request-id");
                    if let Some(units) = header_str(&headers, "x-ms-resource-unit")
                        .and_then(|u| u.trim().parse::<u64>().ok())
                    {
                        inner
                            .stats
                            .resource_units
                            .fetch_add(units, Ordering::Relaxed);
                    }
                    if status == 429 {
                        inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, self.inner.options.clock.now()));
                    let body = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) => {
                            let message = crate::error::describe(e);
                            tracing::debug!(attempt, status, error = %message, "reading body failed");
                            let err = GraphError::Transport {
                                message,
                                client_request_id: client_request_id.clone(),
                                sent: true,
                            };
                            if should_retry(Failure::Transport { sent: true }, call.idempotency)
                                && attempt < policy.max_attempts
                                && let Some(d) = self.next_delay(attempt, None, seed, waited)
                            {
                                self.count_retried(1);
                                tracing::info!(
                                    attempt,
                                    status,
                                    delay_ms = d.as_millis() as u64,
                                    "retrying: the answer was cut off"
                                );
                                waited += d;
                                tokio::time::sleep(d).await;
                                continue;
                            }
                            return Err(err);
                        }
                    };
                    tracing::debug!(
                        attempt,
                        status,
                        request_id = request_id.as_deref().unwrap_or(""),
                        "response"
                    );
                    if (200..300).contains(&status) || call.accept.contains(&status) {
                        inner.gates.admitted(call.scope);
                        return Ok(Response {
                            status,
                            request_id,
                            body,
                        });
                    }
                    let parsed = parse_error_body(status, &body);
                    if status == 401 && parsed.code == "InvalidAuthenticationToken" {
                        if !refreshed {
                            // The token was revoked or expired early: one fresh
                            // token, and this attempt does not count.
                            tracing::info!("token rejected, refreshing once");
                            refreshed = true;
                            inner.tokens.invalidate();
                            attempt -= 1;
                            continue;
                        }
                        // A fresh token was refused too: the credential, not this
                        // request, is at fault, and the operator must act.
                        return Err(GraphError::SignIn {
                            credential: inner.tokens.describe(),
                            reason: format!("Graph refused its token: {}", parsed.message),
                            fix: inner
                                .tokens
                                .kind()
                                .map_or_else(|| "get a new token".to_owned(), |k| k.fix(&[])),
                            error_codes: Vec::new(),
                            trace_id: request_id.or(parsed.request_id),
                            correlation_id: None,
                        });
                    }
                    let error = GraphError::Api {
                        status,
                        code: parsed.code,
                        message: parsed.message,
                        request_id: request_id.or(parsed.request_id),
                        client_request_id: client_request_id.clone(),
                        retry_after,
                        method: call.method.to_string(),
                        path: path.clone(),
                    };
                    if status == 429 {
                        // Graph told us to back off: every caller of that budget
                        // holds off, whether or not we retry ourselves. A 429 of the
                        // write budget holds back writes only; reads go on.
                        let hold = retry_after.unwrap_or_else(|| policy.delay(attempt, None, seed));
                        let scope = match header_str(&headers, "x-ms-throttle-scope") {
                            Some(s) if s.contains("/Write/") => ThrottleScope::Writes,
                            _ => call.scope,
                        };
                        inner.gates.block_for(scope, hold);
                    }
                    if let Some(wait) = retry_after.filter(|w| *w > inner.options.max_retry_after)
                        && (status == 429 || crate::retry::is_transient_status(status))
                    {
                        let scope = header_str(&headers, "x-ms-throttle-scope");
                        let request_id = error.request_id().map(str::to_owned);
                        return Err(self.throttled_too_long(&call, &path, wait, scope, request_id));
                    }
                    if status != 429 {
                        inner.gates.admitted(call.scope);
                    }
                    (Failure::Status(status), retry_after, error)
                }
            };
            // Throttling is Graph pacing us, not a failure: it gets its own, larger
            // attempt budget (the total-delay cap still bounds it).
            let limit = if failure == Failure::Status(429) {
                policy.max_throttled_attempts
            } else {
                policy.max_attempts
            };
            if !should_retry(failure, call.idempotency) || attempt >= limit {
                return Err(error);
            }
            let Some(delay) = self.next_delay(attempt, retry_after, seed, waited) else {
                return Err(error);
            };
            if failure == Failure::Status(429) {
                // Expected at Graph's ceiling; visible with -v.
                tracing::info!(
                    attempt,
                    request_id = error.request_id().unwrap_or(""),
                    delay_ms = delay.as_millis() as u64,
                    "throttled, waiting"
                );
            } else {
                // Graph's passing faults are weather: each retry is visible with -v, and
                // the command says how many there were when it is done.
                self.count_retried(1);
                match error.status() {
                    Some(status) => tracing::info!(
                        attempt,
                        status,
                        request_id = error.request_id().unwrap_or(""),
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    ),
                    None => tracing::info!(
                        attempt,
                        error = %error,
                        delay_ms = delay.as_millis() as u64,
                        "retrying after a transport error"
                    ),
                }
            }
            waited += delay;
            tokio::time::sleep(delay).await;
        }
    }

    /// The delay before the next attempt, or `None` if the total budget
    /// would be exceeded.
    pub(crate) fn next_delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        seed: u64,
        waited: Duration,
    ) -> Option<Duration> {
        let policy = &self.inner.options.retry;
        let d = policy.delay(attempt, retry_after, seed);
        (waited + d <= policy.max_total_delay).then_some(d)
    }

    /// A fresh jitter seed for a caller-driven retry loop ($batch).
    pub(crate) fn call_seed(&self) -> u64 {
        self.next_call_seed()
    }

    /// Pace `n` invitation requests (used by $batch items).
    pub(crate) async fn pace(&self, n: usize) {
        for _ in 0..n {
            self.inner.pacer.acquire().await;
        }
    }

    /// GET a JSON resource.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, GraphError> {
        self.execute(Call::get(url)).await?.json()
    }

    /// GET every page of a collection, following `@odata.nextLink` verbatim
    /// and resending `ConsistencyLevel` on each page.
    pub(crate) async fn get_all<T: DeserializeOwned + Send>(
        &self,
        first: Url,
        eventual: bool,
    ) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        self.each_page(first, eventual, &mut |page: Vec<T>| out.extend(page))
            .await?;
        Ok(out)
    }

    /// Hands every page of a collection to `f` as it arrives, so a caller reading a
    /// whole tenant holds one page at a time, never the whole collection.
    pub(crate) async fn each_page<T: DeserializeOwned>(
        &self,
        first: Url,
        eventual: bool,
        f: &mut (dyn FnMut(Vec<T>) + Send),
    ) -> Result<(), GraphError> {
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        loop {
            let resp = self
                .execute(Call {
                    eventual,
                    ..Call::get(url.clone())
                })
                .await?;
            let page: Page<T> = resp.json()?;
            f(page.value);
            let Some(link) = page.next_link else {
                return Ok(());
            };
            let next = self.check_next_link(&link, resp.request_id.as_deref())?;
            if !seen.insert(next.as_str().to_string()) {
                return Err(GraphError::Decode {
                    message: format!("@odata.nextLink repeats: {link}"),
                    request_id: resp.request_id,
                });
            }
            url = next;
        }
    }

    /// A nextLink must stay on the Graph root: the bearer token goes with it.
    pub(crate) fn check_next_link(
        &self,
        link: &str,
        request_id: Option<&str>,
    ) -> Result<Url, GraphError> {
        let root = self.inner.endpoints.graph_root();
        let bad = |why: &str| GraphError::Decode {
            message: format!("refusing @odata.nextLink {link}: {why}"),
            request_id: request_id.map(str::to_string),
        };
        let url = Url::parse(link).map_err(|e| bad(&e.to_string()))?;
        if url.origin() != root.origin() || !url.path().starts_with(root.path()) {
            return Err(bad("not under the Graph root"));
        }
        Ok(url)
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
