//! Reaching Graph: endpoints from `--cloud` and the URL overrides, a credential from
//! `--auth` and Azure's environment variables, and the client, signed in.

use anyhow::{Context, bail};
use b2b_convert_core::permissions::{self, MissingPermissions, Need};
use b2b_graph::{
    ClientOptions, Cloud, Endpoints, GraphClient, SecretValue, SignInSettings, TokenClaims,
};

use crate::cli::{CloudArg, ConnectionArgs};

/// A ready Graph client and the tenant it works on.
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: GraphClient,
    /// The tenant id (or domain) given, or the token's tenant.
    pub tenant_id: String,
    /// What the token says about itself (permissions, person), when it is a JWT.
    pub claims: Option<TokenClaims>,
}

impl Connection {
    /// Checks the token's permissions against `needs` before anything is sent that
    /// needs them: a missing one is said now, with every other missing one, instead of
    /// on the first 403 halfway through a run. A token that is not a readable JWT is
    /// not checked (Graph's own refusal then says it).
    pub fn require(&self, needs: &[Need]) -> Result<(), MissingPermissions> {
        let Some(claims) = &self.claims else {
            tracing::info!("the access token is not a readable JWT; permissions not checked");
            return Ok(());
        };
        let check = permissions::check(needs, claims).into_result()?;
        for r in &check.requirements {
            tracing::info!(
                step = r.need.step(),
                permission = r.held.unwrap_or(""),
                "permission"
            );
        }
        for caveat in check.role_caveats() {
            crate::progress::note(format!(
                "Note: {caveat} (Graph checks it; a token does not show it)."
            ));
        }
        Ok(())
    }
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

/// Builds the client from the arguments and Azure's environment variables, and signs in
/// now: a wrong credential is said before any input is read from Graph, and the tenant
/// is taken from the token when it was not given (managed identity, Azure CLI).
pub async fn connect(args: &ConnectionArgs) -> anyhow::Result<Connection> {
    let endpoints = endpoints(args)?;
    let options = client_options(args)?;
    let mut settings = SignInSettings::from_env(|name| std::env::var(name).ok());
    settings.kind = args.auth;
    settings.tenant_id = args.tenant_id.clone().filter(|t| !t.trim().is_empty());
    settings.client_id = args.client_id.clone().filter(|c| !c.trim().is_empty());
    settings.assertion_algorithm = args.certificate_algorithm;
    settings.access_token_file = args.access_token_file.clone();
    if let Some(path) = &args.client_secret_file {
        settings.client_secret = Some(SecretValue::from_file(path)?);
    } else if args.client_secret_stdin {
        settings.client_secret = Some(SecretValue::from_reader(std::io::stdin().lock())?);
    }
    let tokens = settings.build(&endpoints, options.clock.clone())?;
    tracing::info!(credential = %tokens.describe(), "signing in");
    let client =
        GraphClient::new(endpoints, tokens, options).context("cannot build the Graph client")?;
    let claims = client.sign_in().await?;
    let tenant_id = match (
        &settings.tenant_id,
        claims.as_ref().and_then(|c| c.tenant_id.clone()),
    ) {
        (Some(given), _) => given.clone(),
        (None, Some(from_token)) => from_token,
        (None, None) => bail!("no tenant: pass --tenant-id or set AZURE_TENANT_ID"),
    };
    if let Some(claims) = &claims {
        tracing::info!(
            tenant = claims.tenant_id.as_deref().unwrap_or("?"),
            user = claims.user.as_deref().unwrap_or(""),
            permissions = %claims.permissions().join(" "),
            "signed in"
        );
    }
    Ok(Connection {
        client,
        tenant_id,
        claims,
    })
}
