//! The check of the access tokens the service issued, run on every Graph request: the
//! caller is whoever a valid token names, and any other token gets Graph's 401 with its
//! `WWW-Authenticate` challenge.
//!
//! An app-only token (`idtyp` "app") must name a registered application or managed
//! identity by its `appid`; their directory roles come from the tenant file. A delegated
//! token (`idtyp` "user") names its user by `oid`/`upn` and its public client by `appid`,
//! which need not be registered (the Azure CLI is Microsoft's app); the user's directory
//! roles are looked up by the gate.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, StatusCode, header};
use jsonwebtoken::{Algorithm, Validation};

use super::service::{AccessClaims, TokenService};
use crate::clock;
use crate::error::GraphError;
use crate::principal::{DelegatedUser, Principal};

impl TokenService {
    /// Checks the `Authorization: Bearer` header of a Graph request and returns the caller.
    ///
    /// Failures are Graph's 401 `InvalidAuthenticationToken` with a `WWW-Authenticate`
    /// challenge.
    // GraphError is large, but this signature is the one the routes and the gate share.
    #[allow(clippy::result_large_err)]
    pub fn verify_bearer(&self, headers: &HeaderMap) -> Result<Principal, GraphError> {
        let unauthorized = |message: &str| {
            let challenge = format!(
                "Bearer realm=\"\", authorization_uri=\"{}{}/oauth2/v2.0/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                self.base, self.tenant_id
            );
            GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
            .with_header("www-authenticate", &challenge)
        };
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            // A bare "Bearer" or an empty header: nothing to check.
            None if value.eq_ignore_ascii_case("bearer") || value.is_empty() => "",
            _ => return Err(unauthorized("Access token is empty.")),
        };
        if token.is_empty() {
            return Err(unauthorized("Access token is empty."));
        }
        if token.split('.').count() != 3 {
            return Err(unauthorized(
                "CompactToken parsing failed with error code: 80049217",
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = match jsonwebtoken::decode::<AccessClaims>(
            token,
            &self.key.decoding_key,
            &validation,
        ) {
            Ok(data) => data.claims,
            Err(e) => {
                return Err(unauthorized(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        "Access token validation failure. Invalid signature."
                    }
                    _ => "Access token validation failure.",
                }));
            }
        };
        let now = clock::now_seconds();
        // Graph gives no skew to its own tokens' expiry: stricter than most validators.
        if now >= claims.exp || now < claims.nbf {
            return Err(unauthorized(
                "Access token has expired or is not yet valid.",
            ));
        }
        if !self.audiences().contains(&claims.aud) {
            return Err(unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        if claims.iss != self.access_issuer() || claims.tid != self.tenant_id {
            return Err(unauthorized(
                "Access token validation failure. Invalid issuer.",
            ));
        }
        let roles = claims
            .roles
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeSet<_>>();
        let key = claims.appid.to_ascii_lowercase();
        if claims.idtyp == "user" {
            let scopes: BTreeSet<String> = claims
                .scp
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if scopes.is_empty() || !roles.is_empty() {
                return Err(unauthorized("Access token validation failure."));
            }
            return Ok(Principal {
                app_id: claims.appid,
                tenant_id: claims.tid,
                roles,
                scopes,
                directory_roles: BTreeSet::new(),
                delegated: Some(DelegatedUser {
                    user_id: claims.oid,
                    user_principal_name: claims.upn.unwrap_or_default(),
                }),
            });
        }
        let (app_id, directory_roles) = if let Some(client) = self.clients.get(&key) {
            (&client.app.client_id, &client.app.directory_roles)
        } else if let Some(identity) = self.identities.get(&key) {
            (
                &identity.identity.client_id,
                &identity.identity.directory_roles,
            )
        } else {
            return Err(unauthorized("Access token validation failure."));
        };
        Ok(Principal {
            app_id: app_id.clone(),
            tenant_id: claims.tid,
            roles,
            scopes: BTreeSet::new(),
            directory_roles: directory_roles.iter().cloned().collect(),
            delegated: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::token::fixture::{APP, service, test_cert};

    #[test]
    fn bearer_refusals() {
        let cert = test_cert();
        let svc = service(&cert);
        let check = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            let err = svc.verify_bearer(&headers).unwrap_err();
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
            assert_eq!(err.code, "InvalidAuthenticationToken");
            assert!(err.headers.contains_key("www-authenticate"));
            err.message
        };
        assert_eq!(check(None), "Access token is empty.");
        assert_eq!(check(Some("Bearer ")), "Access token is empty.");
        assert!(check(Some("Bearer abc")).contains("CompactToken"));
        let expired = svc.mint_expired_for_tests(APP).unwrap();
        assert_eq!(
            check(Some(&format!("Bearer {expired}"))),
            "Access token has expired or is not yet valid."
        );
        // A token from another emulator instance (another key) is a forgery here.
        let other = service(&cert);
        let foreign = other.mint_for_tests(APP).unwrap();
        assert!(
            check(Some(&format!("Bearer {foreign}")))
                .starts_with("Access token validation failure")
        );
        assert!(svc.mint_for_tests("unknown").is_none());
    }
}
