//! An offline, faithful Microsoft Graph tenant (the "emulator") for testing b2b-convert.
//!
//! It serves the Entra ID token endpoints and the Graph v1.0 calls the tool makes (users,
//! groups, contacts, directory roles, domains, invitations, `$batch`), with Graph's status
//! codes, error bodies, advanced-query rules, permissions and throttling. Where Graph's
//! behaviour is undocumented, the emulator is stricter, and the module that implements the
//! rule says so in its docs. A partner redeems an invitation at `{root}redeem/{token}`;
//! `GET /_emulator/state` shows the whole tenant, the invitations, the emails sent and a log
//! of the last `/v1.0` requests (a bounded ring) with per-route counters.
//!
//! Sign-in: client secrets, certificate assertions and federated tokens (workload identity
//! federation, with the emulator as the external issuer at `{root}_federation`) at the token
//! endpoint; delegated user tokens with `scp` minted at `POST /_emulator/tokens/delegated`
//! (what the Azure CLI would hold); and, with [`EmulatorConfig::managed_identity`], the
//! App Service and IMDS managed identity endpoints on a second listener
//! ([`RunningEmulator::managed_identity`]). See [`token`] and
//! [`routes::managed_identity`].
//!
//! Pre-flight surface: partner tenants ([`partners`], `findTenantInformationByDomainName`),
//! the external-collaboration policies ([`policy`]: authorization policy, cross-tenant
//! access, email OTP, the beta B2B allow/deny list), PIM eligibilities ([`eligibility`],
//! [`role_definitions`]) and group members and owners ([`membership`]); invitations are
//! refused and redemption acted out by those policies.
//!
//! Modules: [`tenant`] (the tenant file) with its [`application`] and [`managed_identity`]
//! entries, [`schema`] (Graph's v1.0 schema), [`directory`]
//! (live state) and its [`index`], [`query`] (OData options), [`routes`] (handlers), [`request_log`]; the gate
//! helper's [`token`], [`gate`], [`throttle`], [`simulation`]; the HTTP edge: [`limits`]
//! (size limits, Graph's body on every refusal), [`serve`] (accept loop) and [`tls`].

pub mod application;
mod clock;
pub mod directory;
pub mod eligibility;
pub mod error;
pub mod gate;
mod hash;
pub mod index;
pub mod limits;
pub mod managed_identity;
pub mod membership;
pub mod partners;
pub mod policy;
pub mod principal;
pub mod query;
pub mod request_log;
pub mod role_definitions;
pub mod routes;
pub mod schema;
pub mod serve;
pub mod simulation;
pub mod tenant;
pub mod throttle;
pub mod tls;
pub mod token;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use url::Url;

pub use application::{Application, FederatedIdentityCredential};
pub use managed_identity::{ManagedIdentity, ManagedIdentityKind};
pub use simulation::{Simulation, SimulationOverrides};
pub use tenant::{Tenant, TenantError};

use crate::directory::Directory;
use crate::gate::Gate;
use crate::request_log::RequestLog;
use crate::routes::AppState;
use crate::simulation::SimulationState;
use crate::throttle::Throttle;
use crate::token::TokenService;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA written to this directory.
    pub tls_dir: Option<PathBuf>,
    /// Command-line overrides of the tenant file's `simulation` section.
    pub overrides: SimulationOverrides,
    /// Also serve the managed identity endpoints (App Service and IMDS protocols) on a
    /// second listener: same IP, a free port, plain HTTP even when `tls_dir` is set (the
    /// real endpoints are local HTTP). See [`RunningEmulator::managed_identity`].
    pub managed_identity: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_dir: None,
            overrides: SimulationOverrides::default(),
            managed_identity: false,
        }
    }
}

/// Where a workload finds the emulator's managed identity endpoints: what its host would
/// put in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentityEndpoint {
    /// `IDENTITY_ENDPOINT` of the App Service protocol: `http://127.0.0.1:P/msi/token`.
    pub identity_endpoint: Url,
    /// `IDENTITY_HEADER`: the `X-IDENTITY-HEADER` value, a secret generated per run.
    pub identity_header: String,
    /// What `AZURE_POD_IDENTITY_AUTHORITY_HOST` is set to for the IMDS protocol:
    /// `http://127.0.0.1:P`; clients append `/metadata/identity/oauth2/token`.
    pub imds_authority_host: Url,
}

/// The managed identity listener while it runs.
struct ManagedIdentityServer {
    endpoint: ManagedIdentityEndpoint,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The simulation settings are invalid.
    #[error("invalid simulation settings: {0}")]
    Simulation(String),
    /// The token service could not be set up (keys, applications).
    #[error("token service: {0}")]
    Token(String),
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A running emulator; dropping it leaves the server running until the runtime ends, so call
/// [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    url: Url,
    tenant_id: String,
    ca_pem: Option<PathBuf>,
    app: AppState,
    weather: Arc<SimulationState>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: Option<tokio::task::JoinHandle<()>>,
    managed_identity: Option<ManagedIdentityServer>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("url", &self.url)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The root URL, e.g. `http://127.0.0.1:PORT/` (`https://` with TLS).
    pub fn url(&self) -> Url {
        self.url.clone()
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The CA certificate clients must trust, when serving TLS.
    pub fn ca_pem(&self) -> Option<&Path> {
        self.ca_pem.as_deref()
    }

    /// The issuer URL of the emulator's federation issuer (`{root}_federation`), for the
    /// `issuer` of federated identity credentials.
    pub fn federation_issuer(&self) -> String {
        self.app.tokens.federation_issuer()
    }

    /// Adds a federated identity credential to a registered application while running
    /// (the same as `POST /_emulator/applications/{clientId}/federatedIdentityCredentials`);
    /// an error names the unknown application or the field at fault.
    pub fn add_federated_identity_credential(
        &self,
        client_id: &str,
        credential: FederatedIdentityCredential,
    ) -> Result<(), String> {
        self.app
            .tokens
            .add_federated_identity_credential(client_id, credential)
    }

    /// The managed identity endpoints, when started with
    /// [`EmulatorConfig::managed_identity`].
    pub fn managed_identity(&self) -> Option<ManagedIdentityEndpoint> {
        self.managed_identity.as_ref().map(|m| m.endpoint.clone())
    }

    /// The token service, for tests that need a token the endpoint never issues (an
    /// expired one, via `mint_expired_for_tests`).
    #[doc(hidden)]
    pub fn token_service(&self) -> &TokenService {
        &self.app.tokens
    }

    /// The admin document, the same as `GET /_emulator/state`.
    pub fn state(&self) -> serde_json::Value {
        self.app.state_document()
    }

    /// Part of the admin document, the same as `GET /_emulator/state?{query}` (e.g.
    /// `section=requests&sinceSeq=100`); an error names a bad option.
    pub fn state_query(&self, query: &str) -> Result<serde_json::Value, String> {
        let query = routes::admin::StateQuery::parse(Some(query))?;
        Ok(routes::admin::state_value(&self.app, &query))
    }

    /// Changes the tenant's policies while running: `replace` = `PUT /_emulator/policies`
    /// (the whole section), else `PATCH` (only the sections `policies` names). An error
    /// names the JSON path at fault, and nothing changes then.
    pub fn set_policies(&self, policies: &serde_json::Value, replace: bool) -> Result<(), String> {
        routes::emulator_policies::apply(&self.app, policies, replace)
    }

    /// Stops injecting faults and stalls (latency and throttling stay): for a test that
    /// resumes a run once Graph has recovered.
    pub fn calm(&self) {
        self.weather.calm();
    }

    /// Stops accepting connections and waits for the server tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(server) = self.managed_identity.take() {
            let _ = server.stop.send(());
            let _ = server.task.await;
        }
    }
}

/// Binds `config.listen`, then serves the tenant in a spawned task.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use graph_emulator::{EmulatorConfig, Tenant, start};
///
/// let emulator = start(Tenant::demo(), EmulatorConfig::default()).await.unwrap();
/// assert_eq!(emulator.tenant_id(), "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c");
/// assert!(emulator.url().as_str().starts_with("http://127.0.0.1:"));
/// assert_eq!(emulator.state()["users"].as_array().unwrap().len(), 31);
/// emulator.shutdown().await;
/// # });
/// ```
pub async fn start(
    tenant: Tenant,
    config: EmulatorConfig,
) -> Result<RunningEmulator, EmulatorError> {
    let simulation = tenant
        .simulation()
        .clone()
        .with_overrides(&config.overrides);
    simulation.validate().map_err(EmulatorError::Simulation)?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| EmulatorError::Bind {
            addr: config.listen,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| EmulatorError::Bind {
        addr: config.listen,
        error,
    })?;
    let scheme = if config.tls_dir.is_some() {
        "https"
    } else {
        "http"
    };
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = Url::parse(&format!("{scheme}://{host}:{}/", addr.port()))
        .map_err(|e| EmulatorError::Token(format!("bad root URL: {e}")))?;

    let tokens = Arc::new(
        TokenService::new(
            &url,
            tenant.tenant_id(),
            tenant.verified_domains(),
            tenant.applications(),
            tenant.managed_identities(),
        )
        .map_err(EmulatorError::Token)?,
    );
    let managed_identity = if config.managed_identity {
        Some(start_managed_identity(addr.ip(), &host, tokens.clone()).await?)
    } else {
        None
    };
    let dir = Arc::new(RwLock::new(Directory::new(&tenant)));
    let throttle = Arc::new(Throttle::new(simulation.throttle, tenant.user_count()));
    let gate_state = Gate {
        tokens: tokens.clone(),
        throttle: throttle.clone(),
        retry_after_s: simulation.retry_after_s,
        dir: dir.clone(),
    };
    let tenant_id = tenant.tenant_id().to_owned();
    let app = AppState {
        dir,
        log: Arc::new(Mutex::new(RequestLog::new(simulation.request_log))),
        tenant: Arc::new(tenant),
        root: url.to_string(),
        tokens,
        block_invites_after: simulation.block_invites_after,
        throttle,
    };
    let weather = Arc::new(SimulationState::new(&simulation));
    let router = routes::router(app.clone(), gate_state, weather.clone());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let (ca_pem, acceptor) = match &config.tls_dir {
        Some(dir) => {
            let prepared = tls::prepare(dir).map_err(EmulatorError::Tls)?;
            (
                Some(prepared.ca_pem),
                Some(tokio_rustls::TlsAcceptor::from(prepared.config)),
            )
        }
        None => (None, None),
    };
    let task = Some(tokio::spawn(serve::serve(
        listener, router, acceptor, shutdown,
    )));
    Ok(RunningEmulator {
        url,
        tenant_id,
        ca_pem,
        app,
        weather,
        stop,
        task,
        managed_identity,
    })
}

/// Binds the managed identity listener on `ip`, port 0, and serves both protocols there
/// over plain HTTP until the emulator shuts down.
async fn start_managed_identity(
    ip: std::net::IpAddr,
    host: &str,
    tokens: Arc<TokenService>,
) -> Result<ManagedIdentityServer, EmulatorError> {
    let listen = SocketAddr::new(ip, 0);
    let bind_error = |error| EmulatorError::Bind {
        addr: listen,
        error,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    let bad_url =
        |e: url::ParseError| EmulatorError::Token(format!("bad managed identity URL: {e}"));
    let authority = Url::parse(&format!("http://{host}:{port}")).map_err(bad_url)?;
    let identity_endpoint = authority
        .join(routes::managed_identity::APP_SERVICE_PATH)
        .map_err(bad_url)?;
    // A fresh secret per run, as the platform rotates IDENTITY_HEADER.
    let identity_header = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let router = routes::managed_identity::router(routes::managed_identity::ManagedIdentityState {
        tokens,
        identity_header: Arc::from(identity_header.as_str()),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve::serve(listener, router, None, shutdown));
    Ok(ManagedIdentityServer {
        endpoint: ManagedIdentityEndpoint {
            identity_endpoint,
            identity_header,
            imds_authority_host: authority,
        },
        stop,
        task,
    })
}
