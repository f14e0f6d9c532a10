//! One client-credentials token request, checked in the order Entra answers: tenant, form,
//! grant type, client, credential (secret, certificate assertion or federated token), scope;
//! only then is a token minted.
//!
//! Which kind a `client_assertion` is: one whose header names a certificate thumbprint
//! (`x5t` or `x5t#S256`) and whose `iss` is the client id is a certificate credential
//! ([`super::assertion`]); every other one is a federated token ([`super::federation`]).
//! Entra documents no rule; this one keeps every certificate refusal the certificate path
//! had, and sends a token from an external issuer to the federated credentials.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::assertion::JWT_BEARER;
use super::error::TokenError;
use super::service::{Client, ClientAuth, TOKEN_LIFETIME_SECONDS, TokenService};
use crate::clock;

/// The form fields of a token request; a duplicated field is an error.
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if fields.contains_key(name.as_ref()) {
            return Err(TokenError::new(
                "invalid_request",
                9000411,
                format!(
                    "The request is not properly formatted. The parameter '{name}' is duplicated."
                ),
            ));
        }
        fields.insert(name.into_owned(), value.into_owned());
    }
    Ok(fields)
}

/// `Authorization: Basic` credentials (client id and secret are form-url-encoded first,
/// RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Whether a client assertion is a certificate credential (see the module docs); anything
/// unreadable goes down the certificate path, whose checks name the problem.
fn is_certificate_assertion(assertion: &str, client_id: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return true;
    };
    if header.x5t.is_none() && header.x5t_s256.is_none() {
        return false;
    }
    let issuer = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(assertion)
        .ok()
        .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned));
    issuer.is_none_or(|iss| iss.eq_ignore_ascii_case(client_id))
}

impl TokenService {
    fn check_tenant(&self, tenant: &str) -> Result<(), TokenError> {
        if ["common", "organizations", "consumers"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant))
        {
            return Err(TokenError::new(
                "invalid_request",
                9001023,
                "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            ));
        }
        if self.is_this_tenant(tenant) {
            Ok(())
        } else {
            Err(TokenError::new(
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
            ))
        }
    }

    /// The resource `scope` names: one value, `<resource>/.default`, for Graph or the
    /// emulator itself.
    fn check_scope(&self, scope: &str) -> Result<String, TokenError> {
        let values: Vec<&str> = scope.split_whitespace().collect();
        let [value] = values.as_slice() else {
            return Err(TokenError::new(
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            ));
        };
        let Some(resource) = value.strip_suffix("/.default") else {
            return Err(TokenError::new(
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {value} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        };
        let resource = resource.trim_end_matches('/');
        self.audiences()
            .into_iter()
            .find(|aud| aud.eq_ignore_ascii_case(resource))
            .ok_or_else(|| {
                TokenError::new(
                    "invalid_resource",
                    500011,
                    format!("The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", self.tenant_id),
                )
            })
    }

    pub(super) fn client(&self, client_id: &str) -> Result<&Client, TokenError> {
        self.clients
            .get(&client_id.to_ascii_lowercase())
            .ok_or_else(|| {
                TokenError::new(
                    "unauthorized_client",
                    700016,
                    format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", self.tenant_id),
                )
            })
    }

    fn check_secret(client: &Client, secret: &str) -> Result<(), TokenError> {
        let ok = client.app.client_secret.as_deref().is_some_and(|expected| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                secret.as_bytes(),
            )
            .is_ok()
        });
        if ok {
            Ok(())
        } else {
            Err(TokenError::new(
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    client.app.client_id
                ),
            ))
        }
    }

    /// Handles one token request (form body already read). Returns the JSON success body.
    pub(crate) fn issue(
        &self,
        tenant: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, TokenError> {
        self.check_tenant(tenant)?;
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        // Entra only reads form bodies; anything else looks like an empty form.
        let form = if is_form {
            parse_form(body)?
        } else {
            HashMap::new()
        };
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());

        let grant_type = field("grant_type").ok_or_else(|| TokenError::missing("grant_type"))?;
        if grant_type != "client_credentials" {
            return Err(TokenError::new(
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant_type}'."),
            ));
        }

        let basic = basic_credentials(headers);
        let client_id = match (field("client_id"), &basic) {
            (Some(form_id), Some((basic_id, _))) if !form_id.eq_ignore_ascii_case(basic_id) => {
                return Err(TokenError::new(
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. The client_id in the body doesn't match the one in the Authorization header.",
                ));
            }
            (Some(form_id), _) => form_id.to_owned(),
            (None, Some((basic_id, _))) => basic_id.clone(),
            (None, None) => return Err(TokenError::missing("client_id")),
        };
        let scope = field("scope").ok_or_else(|| TokenError::missing("scope"))?;
        if let Some(claims) = form.get("claims")
            && serde_json::from_str::<Value>(claims).is_err()
        {
            return Err(TokenError::new(
                "invalid_request",
                90100,
                "The parameter 'claims' is empty or not valid.",
            ));
        }

        let client = self.client(&client_id)?;
        let secret = field("client_secret").or(basic.as_ref().map(|(_, s)| s.as_str()));
        let assertion = field("client_assertion");
        let auth = match (secret, assertion) {
            (Some(_), Some(_)) => {
                return Err(TokenError::new(
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. Send either 'client_secret' or 'client_assertion', not both.",
                ));
            }
            (None, None) => {
                return Err(TokenError::new(
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                ));
            }
            (Some(secret), None) => {
                Self::check_secret(client, secret)?;
                ClientAuth::Secret
            }
            (None, Some(assertion)) => {
                match field("client_assertion_type") {
                    None => return Err(TokenError::missing("client_assertion_type")),
                    Some(JWT_BEARER) => {}
                    Some(_) => {
                        return Err(TokenError::new(
                            "invalid_request",
                            9002313,
                            format!(
                                "Invalid request. Request is malformed or invalid. 'client_assertion_type' must be '{JWT_BEARER}'."
                            ),
                        ));
                    }
                }
                let now = clock::now_seconds();
                if is_certificate_assertion(assertion, &client.app.client_id) {
                    self.check_assertion(client, assertion, tenant, now)?;
                    ClientAuth::Certificate
                } else {
                    self.check_federated(client, assertion, now)?;
                    ClientAuth::Federated
                }
            }
        };
        let audience = self.check_scope(scope)?;
        let token = self.mint(client, &audience, auth, clock::now_seconds())?;
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};
    use jsonwebtoken::Algorithm;

    use super::*;
    use crate::token::GRAPH_RESOURCE;
    use crate::token::fixture::{APP, TENANT, assertion, good_claims, service, test_cert};

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    #[test]
    fn token_requests() {
        let cert = test_cert();
        let svc = service(&cert);
        let issue = |tenant: &str, body: &str| svc.issue(tenant, &form_headers(), body.as_bytes());
        let ok = format!(
            "grant_type=client_credentials&client_id={APP}&client_secret=s3cret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&claims=%7B%7D"
        );
        let value = issue(TENANT, &ok).unwrap();
        assert_eq!(value["token_type"], "Bearer");
        assert_eq!(value["expires_in"], 3599);
        let value = issue("Contoso.com", &ok).unwrap();
        let token = value["access_token"].as_str().unwrap();

        let err = |tenant: &str, body: &str| issue(tenant, body).unwrap_err().code;
        assert_eq!(err("fabrikam.com", &ok), 90002);
        assert_eq!(err("common", &ok), 9001023);
        assert_eq!(err(TENANT, &ok.replace("s3cret", "wrong")), 7000215);
        assert_eq!(
            err(
                TENANT,
                &ok.replace(APP, "00000000-0000-0000-0000-000000000001")
            ),
            700016
        );
        assert_eq!(
            err(TENANT, &ok.replace("&client_secret=s3cret", "")),
            7000218
        );
        assert_eq!(
            err(TENANT, &ok.replace("client_credentials", "password")),
            70003
        );
        assert_eq!(
            err(TENANT, &ok.replace("grant_type=client_credentials&", "")),
            900144
        );
        assert_eq!(
            err(TENANT, &ok.replace("%2F.default", "%2FUser.Read.All")),
            1002012
        );
        assert_eq!(
            err(
                TENANT,
                &ok.replace("graph.microsoft.com", "vault.azure.net")
            ),
            500011
        );
        assert_eq!(
            err(TENANT, &ok.replace("%2F.default", "%2F.default+openid")),
            70011
        );
        assert_eq!(err(TENANT, &format!("{ok}&scope=x")), 9000411);
        assert_eq!(
            err(TENANT, &ok.replace("claims=%7B%7D", "claims=%7B")),
            90100
        );
        assert_eq!(
            svc.issue(TENANT, &HeaderMap::new(), ok.as_bytes())
                .unwrap_err()
                .code,
            900144,
            "a body that isn't a form is not read"
        );
        let status = issue(TENANT, &ok.replace("s3cret", "wrong"))
            .unwrap_err()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // HTTP Basic client authentication.
        let mut headers = form_headers();
        let basic = STANDARD.encode(format!("{APP}:s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        let body =
            "grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
        svc.issue(TENANT, &headers, body.as_bytes()).unwrap();

        // The token works, and carries what Graph tokens carry.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let principal = svc.verify_bearer(&headers).unwrap();
        assert_eq!(principal.app_id, APP);
        assert_eq!(principal.tenant_id, TENANT);
        assert!(principal.roles.contains("User.Read.All"));
        assert!(principal.has_directory_role(&["User Administrator"]));
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
        assert_eq!(claims["aud"], GRAPH_RESOURCE);
        assert_eq!(claims["appidacr"], "1");
        assert_eq!(claims["azp"], APP);
        assert!(claims["oid"].as_str().is_some());
    }

    #[test]
    fn federated_assertions_get_tokens_with_acr_2() {
        let svc = crate::token::fixture::federated_service();
        let assertion_for = |subject: &str| {
            let jwt = svc
                .mint_federated(subject, crate::token::FEDERATION_AUDIENCE, 600)
                .unwrap();
            format!(
                "grant_type=client_credentials&client_id={APP}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_assertion_type={}&client_assertion={jwt}",
                JWT_BEARER.replace(':', "%3A")
            )
        };
        let value = svc
            .issue(
                TENANT,
                &form_headers(),
                assertion_for("repo:contoso/b2b").as_bytes(),
            )
            .unwrap();
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(
            value["access_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims["appidacr"], "2");
        assert_eq!(claims["appid"], APP);
        let err = svc
            .issue(
                TENANT,
                &form_headers(),
                assertion_for("repo:other").as_bytes(),
            )
            .unwrap_err();
        assert_eq!((err.code, err.status()), (700213, StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn assertions_are_told_apart_by_thumbprint_and_issuer() {
        let cert = test_cert();
        let svc = service(&cert);
        let now = clock::now_seconds();
        let jwt = assertion(&cert, Algorithm::PS256, good_claims(&svc, now), |_| {});
        assert!(is_certificate_assertion(&jwt, APP));
        assert!(is_certificate_assertion(&jwt, &APP.to_uppercase()));
        assert!(!is_certificate_assertion(&jwt, "another-client"));
        let no_thumbprint = assertion(&cert, Algorithm::RS256, good_claims(&svc, now), |h| {
            h.x5t = None
        });
        assert!(!is_certificate_assertion(&no_thumbprint, APP));
        assert!(is_certificate_assertion("garbage", APP));
    }

    #[test]
    fn certificate_token_has_acr_2() {
        let cert = test_cert();
        let svc = service(&cert);
        let now = clock::now_seconds();
        let jwt = assertion(&cert, Algorithm::PS256, good_claims(&svc, now), |_| {});
        let body = format!(
            "grant_type=client_credentials&client_id={APP}&scope=https%3A%2F%2F127.0.0.1%3A8443%2F.default&client_assertion_type={}&client_assertion={jwt}",
            JWT_BEARER.replace(':', "%3A")
        );
        let value = svc.issue(TENANT, &form_headers(), body.as_bytes()).unwrap();
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(
            value["access_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims["appidacr"], "2");
        assert_eq!(claims["aud"], "https://127.0.0.1:8443");
    }
}
