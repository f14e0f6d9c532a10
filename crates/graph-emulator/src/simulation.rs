//! Bad-network simulation: latency, jitter, server faults, stalls, cut connections, long
//! `Retry-After`s and an invitation cut-off, so the tool's retry, timeout and resume paths
//! run against something.
//!
//! Everything is off by default. The tenant file's `simulation` section sets it
//! ([`Simulation`]); command-line flags override that section ([`SimulationOverrides`]).
//! [`simulate`] is an axum middleware meant to sit outside every other layer.
//!
//! Choices where Microsoft documents nothing (the stricter one, so the tool is tested
//! against the worse case):
//! - **Which requests:** every request, the token endpoint included, except the emulator's
//!   own `/_emulator/...` admin routes (tests read state there and must not be disturbed).
//! - **Faults are drawn uniformly** among 500 `generalException`, 502 `BadGateway`, 503
//!   `serviceNotAvailable`, 504 `timeout` and a cut connection. Half of the 5xx answers
//!   carry a fractional `Retry-After` (0.500 to 3.000 s); the other half carry none, so
//!   clients need their own backoff too.
//! - **500 and 503 are answered before the request reaches the directory** (nothing
//!   happened). **502, 504 and cut connections are decided after the directory has
//!   processed the request**: the write took effect but the client never learns it (a
//!   gateway that lost the backend's answer can't say whether the backend acted). A tool
//!   that blindly repeats a non-idempotent call sees the consequence (e.g. the second
//!   invitation, the already-changed mail).
//! - **Cut connection:** the response head is sent with a streamed body that fails after a
//!   few bytes, so hyper aborts the connection and the client sees a broken transfer.
//! - **Stalls** (`stallRate`, `stallMs`, default 120,000 ms — longer than b2b-convert's
//!   30 s request timeout and .NET's 100 s `HttpClient` default): a share of the requests
//!   that drew no fault is processed by the directory and then its response is held for
//!   `stallMs` before it is sent. Decided like a 504: after the directory acted, so a
//!   client that gives up can't know the outcome of a write. The stall is drawn
//!   independently of the fault (`stallRate` is a share of all requests; a request that
//!   drew a fault is not stalled as well).
//! - **Long `Retry-After`** (`retryAfterS`): every throttling 429 (the gate's, `$batch`
//!   items' included) and every simulated 503 carries `Retry-After: N` (whole seconds)
//!   instead of its computed or drawn value, to test that a client refuses to wait an
//!   hour. 503 because it is the fault Graph documents with a `Retry-After`
//!   (graph-facts §4); 500/502/504 keep their drawn values.
//! - **`blockInvitesAfter: N`** is carried here but enforced by the invitations route
//!   (`routes::invitations`), which answers Microsoft's anti-abuse block.
//! - **`requestLog: N`** (default 50,000) is carried here too: the size of the request-log
//!   ring ([`crate::request_log`]).
//! - **Reproducible:** with `seed`, every request draws the same number of values (five)
//!   from one seeded generator, so the same sequence of requests gets the same delays,
//!   faults and stalls, whatever the settings.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::error::{GraphError, RequestIds};

/// The tenant file's `simulation` section. Every field is optional; the defaults simulate
/// nothing except Graph's throttling, which is on unless `throttle` is `false`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Simulation {
    /// Fixed delay added before every response, in milliseconds.
    pub latency_ms: u64,
    /// Upper bound of a uniform random extra delay, in milliseconds.
    pub jitter_ms: u64,
    /// Share of requests (0.0 to 1.0) answered with a 5xx or a cut connection.
    pub fault_rate: f64,
    /// Share of requests (0.0 to 1.0) whose response is held for `stall_ms` after the
    /// directory processed them.
    pub stall_rate: f64,
    /// How long a stalled response is held, in milliseconds.
    pub stall_ms: u64,
    /// When set, every 429 and every simulated 503 carries `Retry-After` of this many
    /// seconds.
    pub retry_after_s: Option<u64>,
    /// After this many invitation requests, refuse every further invitation.
    pub block_invites_after: Option<u64>,
    /// Whether Graph's throttling limits apply (default `true`).
    pub throttle: bool,
    /// Seed for the random generator, for reproducible runs.
    pub seed: Option<u64>,
    /// How many request-log entries are kept (a ring; older ones are dropped).
    pub request_log: usize,
}

/// Default `stallMs`: longer than the usual client timeouts (b2b-convert 30 s, .NET
/// `HttpClient` 100 s).
pub const DEFAULT_STALL_MS: u64 = 120_000;

impl Default for Simulation {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            fault_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: DEFAULT_STALL_MS,
            retry_after_s: None,
            block_invites_after: None,
            throttle: true,
            seed: None,
            request_log: crate::request_log::DEFAULT_CAPACITY,
        }
    }
}

/// Command-line overrides of [`Simulation`]; `None` keeps the tenant file's value.
#[derive(Default, Clone, Debug)]
pub struct SimulationOverrides {
    /// `--latency-ms`.
    pub latency_ms: Option<u64>,
    /// `--jitter-ms`.
    pub jitter_ms: Option<u64>,
    /// `--fault-rate`.
    pub fault_rate: Option<f64>,
    /// `--stall-rate`.
    pub stall_rate: Option<f64>,
    /// `--stall-ms`.
    pub stall_ms: Option<u64>,
    /// `--retry-after-s`.
    pub retry_after_s: Option<u64>,
    /// `--request-log`.
    pub request_log: Option<usize>,
    /// `--block-invites-after`.
    pub block_invites_after: Option<u64>,
    /// `--no-throttle`: turns throttling off whatever the tenant file says.
    pub no_throttle: bool,
}

impl Simulation {
    /// The tenant file's settings with the command-line flags laid over them.
    pub fn with_overrides(mut self, overrides: &SimulationOverrides) -> Self {
        if let Some(v) = overrides.latency_ms {
            self.latency_ms = v;
        }
        if let Some(v) = overrides.jitter_ms {
            self.jitter_ms = v;
        }
        if let Some(v) = overrides.fault_rate {
            self.fault_rate = v;
        }
        if let Some(v) = overrides.stall_rate {
            self.stall_rate = v;
        }
        if let Some(v) = overrides.stall_ms {
            self.stall_ms = v;
        }
        if let Some(v) = overrides.retry_after_s {
            self.retry_after_s = Some(v);
        }
        if let Some(v) = overrides.request_log {
            self.request_log = v;
        }
        if let Some(v) = overrides.block_invites_after {
            self.block_invites_after = Some(v);
        }
        if overrides.no_throttle {
            self.throttle = false;
        }
        self
    }

    /// Checks the values a tenant file or flag can get wrong (`faultRate` or `stallRate`
    /// outside 0..=1).
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("faultRate", self.fault_rate),
            ("stallRate", self.stall_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "simulation.{name} must be between 0 and 1, got {rate}"
                ));
            }
        }
        Ok(())
    }
}

/// What [`simulate`] does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 `generalException`, before the request is processed.
    InternalError,
    /// 502 `BadGateway`, after the request was processed.
    BadGateway,
    /// 503 `serviceNotAvailable`, before the request is processed.
    ServiceUnavailable,
    /// 504 `timeout`, after the request was processed.
    GatewayTimeout,
    /// The connection breaks mid-response, after the request was processed.
    CutConnection,
}

/// One request's draw: the delay, the fault (if any), the `Retry-After` for a 5xx and
/// the stall.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Latency plus jitter.
    pub delay: Duration,
    /// The fault to inject, if any.
    pub fault: Option<Fault>,
    /// Fractional seconds for a 5xx's `Retry-After`, when it gets one.
    pub retry_after: Option<f64>,
    /// How long to hold the response after the directory processed the request (only
    /// for requests without a fault).
    pub stall: Option<Duration>,
}

/// The running simulation: settings and the seeded generator.
pub struct SimulationState {
    config: Simulation,
    rng: Mutex<fastrand::Rng>,
    /// Faults and stalls switched off (latency stays): the weather cleared up.
    calm: std::sync::atomic::AtomicBool,
}

impl SimulationState {
    /// Starts a simulation; a `faultRate` or `stallRate` outside 0..=1 is clamped.
    pub fn new(config: &Simulation) -> Self {
        let mut config = config.clone();
        let clamp = |rate: f64| {
            if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            }
        };
        config.fault_rate = clamp(config.fault_rate);
        config.stall_rate = clamp(config.stall_rate);
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Self {
            config,
            rng: Mutex::new(rng),
            calm: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Stops injecting faults and stalls from now on, as Graph recovering from an
    /// incident would; latency and throttling stay. For tests that resume a run.
    pub fn calm(&self) {
        self.calm.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The settings in force.
    pub fn config(&self) -> &Simulation {
        &self.config
    }

    /// Draws the next request's plan. Always draws five values, whatever the settings,
    /// so a seeded run stays reproducible when only one setting changes.
    pub fn plan(&self) -> Plan {
        let (jitter, fault_draw, kind_draw, retry_draw, stall_draw) = {
            // A poisoned lock only means another request panicked mid-draw; the
            // generator state is still usable.
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            (
                rng.u64(0..=self.config.jitter_ms),
                rng.f64(),
                rng.u8(0..5),
                rng.f64(),
                rng.f64(),
            )
        };
        let delay = Duration::from_millis(self.config.latency_ms.saturating_add(jitter));
        let calm = self.calm.load(std::sync::atomic::Ordering::SeqCst);
        let fault = (!calm && fault_draw < self.config.fault_rate).then_some(match kind_draw {
            0 => Fault::InternalError,
            1 => Fault::BadGateway,
            2 => Fault::ServiceUnavailable,
            3 => Fault::GatewayTimeout,
            _ => Fault::CutConnection,
        });
        // Half of the 5xx answers carry a Retry-After between 0.5 and 3 s; with
        // `retryAfterS`, every 503 carries that instead.
        let retry_after = match fault {
            Some(Fault::CutConnection) | None => None,
            Some(Fault::ServiceUnavailable) if self.config.retry_after_s.is_some() => {
                self.config.retry_after_s.map(|s| s as f64)
            }
            Some(_) if retry_draw < 0.5 => Some(0.5 + retry_draw * 5.0),
            Some(_) => None,
        };
        let stall = (!calm && fault.is_none() && stall_draw < self.config.stall_rate)
            .then(|| Duration::from_millis(self.config.stall_ms));
        Plan {
            delay,
            fault,
            retry_after,
            stall,
        }
    }
}

fn is_admin_path(path: &str) -> bool {
    path.starts_with("/_emulator")
}

fn fault_error(fault: Fault, retry_after: Option<f64>) -> GraphError {
    let error = match fault {
        Fault::InternalError => GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An unspecified error has occurred.",
        ),
        Fault::BadGateway => GraphError::new(
            StatusCode::BAD_GATEWAY,
            "BadGateway",
            "The gateway received an invalid response from the upstream service.",
        ),
        Fault::ServiceUnavailable => GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Retry the request after a delay.",
        ),
        Fault::GatewayTimeout | Fault::CutConnection => GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "The operation timed out before it could be completed.",
        ),
    };
    match retry_after {
        // A whole number (a `retryAfterS`) is sent as one, the way the mode documents it.
        Some(seconds) if seconds.fract() == 0.0 => {
            error.with_header("retry-after", &format!("{seconds:.0}"))
        }
        Some(seconds) => error.with_header("retry-after", &format!("{seconds:.3}")),
        None => error,
    }
}

/// Keeps the head of `response` but replaces its body with a stream that breaks after a
/// few bytes; hyper then aborts the connection instead of finishing the message.
async fn cut(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut prefix = bytes.slice(..bytes.len().min(8));
    if prefix.is_empty() {
        prefix = Bytes::from_static(b"{\"");
    }
    // A 204 or 304 can't carry a body, and the point is a body that never completes.
    if parts.status == StatusCode::NO_CONTENT || parts.status == StatusCode::NOT_MODIFIED {
        parts.status = StatusCode::OK;
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(prefix),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection cut",
        )),
    ];
    Response::from_parts(parts, Body::from_stream(futures::stream::iter(chunks)))
}

/// Middleware: delays the response, injects the planned fault or stall. Put it outside
/// the gate and the routes.
pub async fn simulate(
    State(state): State<Arc<SimulationState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if is_admin_path(&path) {
        return next.run(request).await;
    }
    let plan = state.plan();
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let ids = request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_else(|| RequestIds::from_headers(request.headers()));

    if let Some(fault @ (Fault::InternalError | Fault::ServiceUnavailable)) = plan.fault {
        return fault_error(fault, plan.retry_after).into_response_with(&ids);
    }

    let response = next.run(request).await;
    match plan.fault {
        Some(fault @ (Fault::BadGateway | Fault::GatewayTimeout)) => {
            fault_error(fault, plan.retry_after).into_response_with(&ids)
        }
        Some(Fault::CutConnection) => cut(response).await,
        _ => {
            if let Some(stall) = plan.stall {
                // The directory has acted (the handler ran on its own task, see
                // `routes::request_ids`); only the answer is late.
                tokio::time::sleep(stall).await;
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn defaults_throttle_on_everything_else_off() {
        let s: Simulation = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Simulation::default());
        assert!(s.throttle);
        assert_eq!(s.latency_ms, 0);
        assert_eq!(s.fault_rate, 0.0);
        assert!(
            serde_json::from_str::<Simulation>(r#"{"latencyMS":1}"#).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn flags_override_the_tenant_file() {
        let file: Simulation = serde_json::from_str(
            r#"{"latencyMs":10,"jitterMs":5,"faultRate":0.1,"blockInvitesAfter":3,"seed":7}"#,
        )
        .unwrap();
        let merged = file.clone().with_overrides(&SimulationOverrides {
            latency_ms: Some(50),
            fault_rate: Some(0.0),
            no_throttle: true,
            ..Default::default()
        });
        assert_eq!(merged.latency_ms, 50);
        assert_eq!(merged.jitter_ms, 5, "unset flag keeps the file's value");
        assert_eq!(merged.fault_rate, 0.0);
        assert_eq!(merged.block_invites_after, Some(3));
        assert!(!merged.throttle);
        assert_eq!(merged.seed, Some(7));
        assert_eq!(
            file.clone().with_overrides(&SimulationOverrides::default()),
            file
        );
    }

    #[test]
    fn validate_refuses_bad_fault_rate() {
        let s = Simulation {
            fault_rate: 1.5,
            ..Default::default()
        };
        assert!(s.validate().is_err());
        assert!(Simulation::default().validate().is_ok());
    }

    #[test]
    fn seeded_plans_repeat_and_respect_bounds() {
        let config = Simulation {
            latency_ms: 100,
            jitter_ms: 50,
            fault_rate: 0.5,
            seed: Some(42),
            ..Default::default()
        };
        let a = SimulationState::new(&config);
        let b = SimulationState::new(&config);
        let plans_a: Vec<Plan> = (0..200).map(|_| a.plan()).collect();
        let plans_b: Vec<Plan> = (0..200).map(|_| b.plan()).collect();
        assert_eq!(plans_a, plans_b);
        let faults = plans_a.iter().filter(|p| p.fault.is_some()).count();
        assert!((60..140).contains(&faults), "about half faulted: {faults}");
        for kind in [
            Fault::InternalError,
            Fault::BadGateway,
            Fault::ServiceUnavailable,
            Fault::GatewayTimeout,
            Fault::CutConnection,
        ] {
            assert!(plans_a.iter().any(|p| p.fault == Some(kind)), "{kind:?}");
        }
        assert!(plans_a.iter().any(|p| p.retry_after.is_some()));
        assert!(plans_a.iter().any(|p| p.fault.is_some()
            && p.fault != Some(Fault::CutConnection)
            && p.retry_after.is_none()));
        for p in &plans_a {
            assert!(p.delay >= Duration::from_millis(100) && p.delay <= Duration::from_millis(150));
            if let Some(r) = p.retry_after {
                assert!((0.5..=3.0).contains(&r));
            }
        }
    }

    #[test]
    fn stalls_only_without_faults_and_retry_after_s_fixes_503s() {
        let config = Simulation {
            fault_rate: 0.5,
            stall_rate: 0.5,
            stall_ms: 900,
            retry_after_s: Some(3600),
            seed: Some(9),
            ..Default::default()
        };
        let state = SimulationState::new(&config);
        let plans: Vec<Plan> = (0..400).map(|_| state.plan()).collect();
        assert!(
            plans
                .iter()
                .any(|p| p.stall == Some(Duration::from_millis(900)))
        );
        assert!(plans.iter().all(|p| p.stall.is_none() || p.fault.is_none()));
        let unavailable: Vec<&Plan> = plans
            .iter()
            .filter(|p| p.fault == Some(Fault::ServiceUnavailable))
            .collect();
        assert!(!unavailable.is_empty());
        assert!(unavailable.iter().all(|p| p.retry_after == Some(3600.0)));
        assert_eq!(
            fault_error(Fault::ServiceUnavailable, Some(3600.0)).headers["retry-after"],
            "3600"
        );
        // The same seed with stalls off draws the same faults: five draws a request.
        let calm = SimulationState::new(&Simulation {
            stall_rate: 0.0,
            ..config
        });
        let faults: Vec<Option<Fault>> = (0..400).map(|_| calm.plan().fault).collect();
        assert_eq!(faults, plans.iter().map(|p| p.fault).collect::<Vec<_>>());
    }

    #[test]
    fn no_faults_when_rate_is_zero() {
        let s = SimulationState::new(&Simulation::default());
        assert!((0..1000).all(|_| s.plan().fault.is_none()));
    }

    /// Serves a counter route behind `simulate` and returns its URL and hit counter.
    async fn serve(config: Simulation) -> (String, Arc<AtomicU64>) {
        use axum::routing::{get, post};
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let counter2 = hits.clone();
        let app = axum::Router::new()
            .route(
                "/v1.0/users",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    axum::Json(serde_json::json!({"value": []}))
                }),
            )
            .route(
                "/v1.0/invitations",
                post(move || async move {
                    counter2.fetch_add(1, Ordering::SeqCst);
                    StatusCode::CREATED
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(SimulationState::new(&config)),
                simulate,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    #[tokio::test]
    async fn faults_over_http() {
        let (url, hits) = serve(Simulation {
            fault_rate: 1.0,
            seed: Some(3),
            ..Default::default()
        })
        .await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut cuts = 0;
        let mut statuses = std::collections::BTreeSet::new();
        let mut processed_expected = 0;
        for _ in 0..60 {
            match client.get(format!("{url}/v1.0/users")).send().await {
                Err(_) => {
                    cuts += 1;
                    processed_expected += 1;
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.bytes().await {
                        Err(_) => {
                            cuts += 1;
                            processed_expected += 1;
                        }
                        Ok(_) => {
                            if status == 502 || status == 504 {
                                processed_expected += 1;
                            }
                            statuses.insert(status);
                        }
                    }
                }
            }
        }
        assert!(cuts > 0, "some connections were cut");
        assert_eq!(
            statuses.into_iter().collect::<Vec<_>>(),
            vec![500, 502, 503, 504]
        );
        // 502s, 504s and cuts happen after the route ran; 500s and 503s before.
        assert_eq!(hits.load(Ordering::SeqCst), processed_expected);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_uses_tokio_time() {
        let state = SimulationState::new(&Simulation {
            latency_ms: 250,
            ..Default::default()
        });
        let before = tokio::time::Instant::now();
        let plan = state.plan();
        tokio::time::sleep(plan.delay).await;
        assert_eq!(before.elapsed(), Duration::from_millis(250));
    }
}
