//! Reaching Graph: endpoints from `--cloud` and the URL overrides, a token source from
//! the environment, and the client.

use anyhow::{Context, bail};
use b2b_graph::{ClientOptions, Cloud, Endpoints, GraphClient};
use secrecy::SecretString;

use crate::cli::{CloudArg, ConnectionArgs};

/// A ready Graph client and the tenant it works on.
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: GraphClient,
    /// The tenant id (or domain) given.
    pub tenant_id: String,
}

/// The endpoints selected by `--cloud`, `--graph-url` and `--authority-url`.
pub fn endpoints(args: &ConnectionArgs) -> anyhow::Result<Endpoints> {
    let cloud = match args.cloud {
        CloudArg::Global => Cloud::Global,
        CloudArg::Usgov => Cloud::UsGov,
        CloudArg::UsgovDod => Cloud::UsGovDod,
        CloudArg::China => Cloud::China,
    };
    let defaults = Endpoints::for_cloud(cloud);
    if args.graph_url.is_none() && args.authority_url.is_none() {
        return Ok(defaults);
    }
    let graph = args
        .graph_url
        .clone()
        .unwrap_or_else(|| defaults.graph_root().clone());
    let authority = args
        .authority_url
        .clone()
        .unwrap_or_else(|| defaults.authority_root().clone());
    Endpoints::new(graph, authority).context("invalid --graph-url or --authority-url")
}

/// The client's knobs from `--request-timeout` and `--max-retry-after`.
pub fn client_options(args: &ConnectionArgs) -> anyhow::Result<ClientOptions> {
    let duration = |d: jiff::SignedDuration, flag: &str| {
        std::time::Duration::try_from(d)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("{flag} must be longer than zero"))
    };
    Ok(ClientOptions {
        timeout: duration(args.request_timeout, "--request-timeout")?,
        max_retry_after: duration(args.max_retry_after, "--max-retry-after")?,
        ..ClientOptions::default()
    })
}

/// Builds the client from the arguments and `AZURE_CLIENT_SECRET`.
pub fn connect(args: &ConnectionArgs) -> anyhow::Result<Connection> {
    let Some(tenant_id) = args.tenant_id.clone().filter(|t| !t.trim().is_empty()) else {
        bail!("no tenant: pass --tenant-id or set AZURE_TENANT_ID");
    };
    let Some(client_id) = args.client_id.clone().filter(|c| !c.trim().is_empty()) else {
        bail!("no application: pass --client-id or set AZURE_CLIENT_ID");
    };
    let secret = std::env::var("AZURE_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .context("no credential: set AZURE_CLIENT_SECRET to the app's client secret")?;
    let endpoints = endpoints(args)?;
    let client = GraphClient::with_client_secret(
        endpoints,
        &tenant_id,
        &client_id,
        SecretString::from(secret),
        client_options(args)?,
    )
    .context("cannot build the Graph client")?;
    Ok(Connection { client, tenant_id })
}
