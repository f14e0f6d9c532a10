//! National clouds and the Graph / Entra endpoint roots (graph-facts §7).
//!
//! [`Endpoints`] can also point at a local emulator; plain `http` is only
//! accepted for loopback hosts so a typo can never send a bearer token over
//! the network unencrypted.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use url::{Host, Url};

use crate::error::GraphError;

/// A Microsoft cloud with its own Graph and login hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Global Azure (also used by GCC moderate).
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// Azure China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// All clouds, in a stable order.
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

    /// Graph host name.
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Global => "graph.microsoft.com",
            Cloud::UsGov => "graph.microsoft.us",
            Cloud::UsGovDod => "dod-graph.microsoft.us",
            Cloud::China => "microsoftgraph.chinacloudapi.cn",
        }
    }

    /// Entra login host name.
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Global => "login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "login.microsoftonline.us",
            // entra-docs names this host; docs-contrib's login.chinacloudapi.cn is older.
            Cloud::China => "login.partner.microsoftonline.cn",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov-dod",
            Cloud::China => "china",
        })
    }
}

impl FromStr for Cloud {
    type Err = GraphError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "global" => Ok(Cloud::Global),
            "usgov" => Ok(Cloud::UsGov),
            "usgov-dod" => Ok(Cloud::UsGovDod),
            "china" => Ok(Cloud::China),
            other => Err(GraphError::InvalidEndpoint(format!(
                "unknown cloud {other:?}; expected one of global, usgov, usgov-dod, china"
            ))),
        }
    }
}

/// Graph and authority roots, both ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    graph: Url,
    authority: Url,
}

impl Endpoints {
    /// The public endpoints of a national cloud.
    pub fn for_cloud(cloud: Cloud) -> Endpoints {
        let graph = https_root(cloud.graph_host());
        let authority = https_root(cloud.login_host());
        Endpoints { graph, authority }
    }

    /// Custom roots, e.g. an emulator on `http://127.0.0.1:8080/`.
    ///
    /// Rules: `https`, or `http` only for loopback (127.0.0.0/8, `::1`,
    /// `localhost`); no credentials, query or fragment; the path is kept as a
    /// prefix and given a trailing `/` so joining relative paths works.
    pub fn new(graph_root: Url, authority_root: Url) -> Result<Endpoints, GraphError> {
        Ok(Endpoints {
            graph: normalise_root(graph_root, "graph")?,
            authority: normalise_root(authority_root, "authority")?,
        })
    }

    /// The Graph root, e.g. `https://graph.microsoft.com/`.
    pub fn graph_root(&self) -> &Url {
        &self.graph
    }

    /// The authority root, e.g. `https://login.microsoftonline.com/`.
    pub fn authority_root(&self) -> &Url {
        &self.authority
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`, with the tenant percent-encoded
    /// as one path segment.
    pub fn token_url(&self, tenant: &str) -> Url {
        let mut url = self.authority.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty()
                .push(tenant)
                .push("oauth2")
                .push("v2.0")
                .push("token");
        }
        url
    }

    /// The OAuth2 scope for app-only Graph tokens.
    ///
    /// For a Microsoft Graph host this is `https://{host}/.default` (tokens are
    /// per cloud); for any other root (an emulator) it is `{graph_root}.default`.
    pub fn scope(&self) -> String {
        let host = self.graph.host_str().unwrap_or_default();
        if Cloud::ALL.iter().any(|c| c.graph_host() == host) {
            format!("https://{host}/.default")
        } else {
            format!("{}.default", self.graph)
        }
    }

    /// The resource identifier token services without scopes ask for (managed identity,
    /// the Azure CLI): the scope without `/.default`, e.g. `https://graph.microsoft.com`.
    pub fn resource(&self) -> String {
        let scope = self.scope();
        scope
            .strip_suffix("/.default")
            .map(str::to_owned)
            .unwrap_or(scope)
    }

    /// The versioned API base, `{graph_root}v1.0/`.
    pub(crate) fn api_base(&self) -> Url {
        let mut url = self.graph.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push("v1.0").push("");
        }
        url
    }

    /// The beta API base, `{graph_root}beta/`: for the few calls v1.0 lacks (Microsoft
    /// may change them; each caller says so).
    pub(crate) fn beta_base(&self) -> Url {
        let mut url = self.graph.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push("beta").push("");
        }
        url
    }

    /// Whether both roots are loopback (used to bypass system proxies).
    pub(crate) fn is_loopback(&self) -> bool {
        is_loopback(&self.graph) && is_loopback(&self.authority)
    }
}

/// Root URL of a hard-coded Microsoft host.
#[allow(clippy::expect_used)]
fn https_root(host: &'static str) -> Url {
    // Only called with the constant host names above, which always parse;
    // a failure here is a programming error caught by the unit tests.
    Url::parse(&format!("https://{host}/")).expect("constant cloud host parses")
}

/// Whether a URL points at this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn normalise_root(mut url: Url, what: &str) -> Result<Url, GraphError> {
    let bad = |why: &str| GraphError::InvalidEndpoint(format!("{what} root {url}: {why}"));
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(bad("plain http is only allowed for loopback hosts")),
        _ => return Err(bad("scheme must be https")),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(bad("not a base URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.query().is_some() {
        return Err(bad("must not contain a query"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn cloud_hosts() {
        let e = Endpoints::for_cloud(Cloud::Global);
        assert_eq!(e.graph_root().as_str(), "https://graph.microsoft.com/");
        assert_eq!(
            e.authority_root().as_str(),
            "https://login.microsoftonline.com/"
        );
        assert_eq!(e.scope(), "https://graph.microsoft.com/.default");
        let e = Endpoints::for_cloud(Cloud::UsGov);
        assert_eq!(e.graph_root().as_str(), "https://graph.microsoft.us/");
        assert_eq!(
            e.authority_root().as_str(),
            "https://login.microsoftonline.us/"
        );
        let e = Endpoints::for_cloud(Cloud::UsGovDod);
        assert_eq!(e.graph_root().as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(e.scope(), "https://dod-graph.microsoft.us/.default");
        let e = Endpoints::for_cloud(Cloud::China);
        assert_eq!(
            e.graph_root().as_str(),
            "https://microsoftgraph.chinacloudapi.cn/"
        );
        assert_eq!(
            e.authority_root().as_str(),
            "https://login.partner.microsoftonline.cn/"
        );
    }

    #[test]
    fn cloud_from_str_and_display_round_trip() {
        for c in Cloud::ALL {
            assert_eq!(c.to_string().parse::<Cloud>().unwrap(), c);
        }
        assert_eq!("USGOV-DOD".parse::<Cloud>().unwrap(), Cloud::UsGovDod);
        assert!("germany".parse::<Cloud>().is_err());
    }

    #[test]
    fn token_url_and_api_base() {
        let e = Endpoints::for_cloud(Cloud::Global);
        assert_eq!(
            e.token_url("contoso.onmicrosoft.com").as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            e.token_url("a/b?c").as_str(),
            "https://login.microsoftonline.com/a%2Fb%3Fc/oauth2/v2.0/token"
        );
        assert_eq!(e.api_base().as_str(), "https://graph.microsoft.com/v1.0/");
        assert_eq!(e.beta_base().as_str(), "https://graph.microsoft.com/beta/");
        let prefixed =
            Endpoints::new(u("http://127.0.0.1:8080/graph"), u("http://127.0.0.1:8080")).unwrap();
        assert_eq!(
            prefixed.beta_base().as_str(),
            "http://127.0.0.1:8080/graph/beta/"
        );
    }

    #[test]
    fn loopback_http_accepted_and_normalised() {
        let e =
            Endpoints::new(u("http://127.0.0.1:8080"), u("http://localhost:8080/auth")).unwrap();
        assert_eq!(e.graph_root().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(e.authority_root().as_str(), "http://localhost:8080/auth/");
        assert_eq!(e.scope(), "http://127.0.0.1:8080/.default");
        assert_eq!(
            e.token_url("t1").as_str(),
            "http://localhost:8080/auth/t1/oauth2/v2.0/token"
        );
        assert_eq!(e.api_base().as_str(), "http://127.0.0.1:8080/v1.0/");
        assert!(e.is_loopback());
        assert!(Endpoints::new(u("http://127.5.6.7/"), u("http://[::1]:9/")).is_ok());
    }

    #[test]
    fn non_loopback_http_and_odd_urls_refused() {
        let auth = u("https://login.microsoftonline.com/");
        for bad in [
            "http://10.0.0.1",
            "http://graph.microsoft.com/",
            "ftp://127.0.0.1/",
            "https://graph.microsoft.com/?x=1",
            "https://graph.microsoft.com/#frag",
            "https://user:pw@graph.microsoft.com/",
        ] {
            let r = Endpoints::new(u(bad), auth.clone());
            assert!(
                matches!(r, Err(GraphError::InvalidEndpoint(_))),
                "{bad} should be refused"
            );
        }
    }
}
