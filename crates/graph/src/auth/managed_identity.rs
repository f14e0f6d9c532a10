//! Signing in as the Azure host's managed identity: no secret anywhere, the platform
//! hands out tokens to code running on it.
//!
//! Two protocols, as Azure's SDKs speak them:
//! - App Service, Functions, Container Apps: `GET $IDENTITY_ENDPOINT?resource=…&api-version=2019-08-01`
//!   with the header `X-IDENTITY-HEADER: $IDENTITY_HEADER`; the answer's `expires_on` is
//!   Unix seconds.
//! - Azure VMs and scale sets, IMDS: `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…`
//!   with `Metadata: true`. The address can be moved with `AZURE_POD_IDENTITY_AUTHORITY_HOST`
//!   (the variable Azure's SDKs read for it), which is how tests reach an emulator.
//!
//! `AZURE_CLIENT_ID` selects a user-assigned identity (`client_id=`); without it the
//! system-assigned one answers. Plain http is allowed for exactly these endpoints on
//! link-local and loopback addresses, never for anything else: the token would travel
//! in clear. A connection refused means there is no such endpoint on this host, which
//! is a configuration fault (said once), not a blip to retry.

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source, sign_in};
use super::kind::CredentialKind;
use super::token_endpoint::{client_or_error, http_client, parse_token, send};
use crate::clock::SharedClock;
use crate::error::{GraphError, auth_error};

/// The IMDS address on every Azure VM.
pub const IMDS_HOST: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// Where the host serves managed-identity tokens.
#[derive(Clone)]
pub enum ManagedIdentityEndpoint {
    /// App Service protocol: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`, a per-host secret.
        header: SecretString,
    },
    /// IMDS at this host (`http://169.254.169.254` or `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    Imds {
        /// The authority, without the token path.
        host: Url,
    },
}

impl fmt::Debug for ManagedIdentityEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentityEndpoint::AppService { endpoint, .. } => f
                .debug_struct("AppService")
                .field("endpoint", &endpoint.as_str())
                .field("header", &"[REDACTED]")
                .finish(),
            ManagedIdentityEndpoint::Imds { host } => f
                .debug_struct("Imds")
                .field("host", &host.as_str())
                .finish(),
        }
    }
}

/// A managed identity's token, from the host's endpoint.
pub struct ManagedIdentityCredential {
    inner: Cached<HostIdentity>,
}

pub(crate) struct HostIdentity {
    endpoint: ManagedIdentityEndpoint,
    resource: String,
    client_id: Option<String>,
    http: Result<reqwest::Client, String>,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.inner.source();
        f.debug_struct("ManagedIdentityCredential")
            .field("endpoint", &source.endpoint)
            .field("client_id", &source.client_id)
            .finish_non_exhaustive()
    }
}

/// Whether plain http to this URL is acceptable: link-local (IMDS) or loopback
/// (App Service's local endpoint, tests).
fn local(url: &Url) -> bool {
    crate::cloud::is_loopback(url)
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_link_local())
}

impl ManagedIdentityCredential {
    /// A credential asking `endpoint` for a token for `resource` (see
    /// [`crate::Endpoints::resource`]); `client_id` picks a user-assigned identity.
    pub fn new(
        endpoint: ManagedIdentityEndpoint,
        resource: &str,
        client_id: Option<&str>,
    ) -> Result<Self, String> {
        let url = match &endpoint {
            ManagedIdentityEndpoint::AppService { endpoint, .. } => endpoint,
            ManagedIdentityEndpoint::Imds { host } => host,
        };
        match url.scheme() {
            "https" => {}
            "http" if local(url) => {}
            _ => {
                return Err(format!(
                    "refusing managed-identity endpoint {url}: plain http is allowed only for link-local and loopback addresses"
                ));
            }
        }
        Ok(ManagedIdentityCredential {
            inner: Cached::new(
                HostIdentity {
                    http: mi_client(local(url)),
                    endpoint,
                    resource: resource.to_owned(),
                    client_id: client_id.map(str::to_owned).filter(|c| !c.is_empty()),
                },
                crate::clock::system(),
            ),
        })
    }

    /// Replace the wall clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.inner.set_clock(clock);
        self
    }
}

/// A short connect timeout: off Azure, IMDS's address often swallows packets, and the
/// operator should hear about it in seconds, not after the 30 s request timeout.
fn mi_client(direct: bool) -> Result<reqwest::Client, String> {
    http_client(
        Duration::from_secs(30),
        Some(Duration::from_secs(3)),
        direct,
    )
}

impl HostIdentity {
    /// The token request for this host's protocol, and the endpoint as the operator
    /// is told it.
    fn request(&self, http: &reqwest::Client) -> (reqwest::RequestBuilder, String) {
        match &self.endpoint {
            ManagedIdentityEndpoint::AppService { endpoint, header } => {
                let mut url = endpoint.clone();
                url.query_pairs_mut()
                    .append_pair("api-version", "2019-08-01")
                    .append_pair("resource", &self.resource);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                let shown = endpoint.as_str().to_owned();
                (
                    http.get(url)
                        .header("X-IDENTITY-HEADER", header.expose_secret()),
                    shown,
                )
            }
            ManagedIdentityEndpoint::Imds { host } => {
                let mut url = host.clone();
                url.set_path(IMDS_PATH);
                url.query_pairs_mut()
                    .append_pair("api-version", "2018-02-01")
                    .append_pair("resource", &self.resource);
                if let Some(id) = &self.client_id {
                    url.query_pairs_mut().append_pair("client_id", id);
                }
                let shown = host.as_str().trim_end_matches('/').to_owned();
                (http.get(url).header("Metadata", "true"), shown)
            }
        }
    }
}

impl Acquire for HostIdentity {
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let http = client_or_error(&self.http, &client_request_id)?;
            let (request, shown) = self.request(http);
            let asked_at = clock.now();
            let (status, body) = match send(
                request,
                &client_request_id,
                "managed identity token request",
            )
            .await
            {
                Err(GraphError::Transport {
                    sent: false,
                    message,
                    ..
                }) => {
                    // The innermost cause says it ("Connection refused"); the layers of
                    // the HTTP stack above it add nothing for an operator.
                    let cause = message.rsplit(": ").next().unwrap_or(&message);
                    return Err(sign_in(
                        self,
                        format!(
                            "no managed-identity endpoint answers at {shown} ({cause}); is this an Azure host with a managed identity?"
                        ),
                    ));
                }
                other => other?,
            };
            // IMDS answers 404 and 410 while it starts and asks to be retried (Azure's
            // IMDS guidance); treat them as a blip.
            let imds = matches!(self.endpoint, ManagedIdentityEndpoint::Imds { .. });
            if imds && matches!(status, 404 | 410) {
                return Err(GraphError::Transport {
                    message: format!("IMDS answered {status} (starting up)"),
                    client_request_id,
                    sent: true,
                });
            }
            if !(200..300).contains(&status) {
                return Err(auth_error(status, &body));
            }
            parse_token(&body, asked_at)
        })
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::ManagedIdentity
    }

    fn describe(&self) -> String {
        let which = match &self.client_id {
            Some(id) => format!("user-assigned AZURE_CLIENT_ID={id}"),
            None => "system-assigned".to_owned(),
        };
        match &self.endpoint {
            ManagedIdentityEndpoint::AppService { endpoint, .. } => {
                format!("managed identity ({which}, IDENTITY_ENDPOINT={endpoint})")
            }
            ManagedIdentityEndpoint::Imds { host } => format!(
                "managed identity ({which}, IMDS at {})",
                host.as_str().trim_end_matches('/')
            ),
        }
    }
}

delegate_token_source!(ManagedIdentityCredential);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_local_endpoints() {
        let imds = |host: &str| {
            ManagedIdentityCredential::new(
                ManagedIdentityEndpoint::Imds {
                    host: Url::parse(host).unwrap(),
                },
                "https://graph.microsoft.com",
                None,
            )
        };
        assert!(imds(IMDS_HOST).is_ok());
        assert!(imds("http://127.0.0.1:9999").is_ok());
        assert!(imds("https://mi.example.com").is_ok());
        assert!(imds("http://mi.example.com").is_err());
        assert!(imds("http://10.0.0.1").is_err());
    }

    #[test]
    fn describes_which_identity_without_the_header() {
        let c = ManagedIdentityCredential::new(
            ManagedIdentityEndpoint::AppService {
                endpoint: Url::parse("http://127.0.0.1:41741/msi/token").unwrap(),
                header: SecretString::from("hdr-secret"),
            },
            "https://graph.microsoft.com",
            Some("mi-1"),
        )
        .unwrap();
        let d = crate::TokenSource::describe(&c);
        assert!(d.contains("user-assigned AZURE_CLIENT_ID=mi-1"), "{d}");
        assert!(!format!("{c:?}{d}").contains("hdr-secret"));
    }
}
