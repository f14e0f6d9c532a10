//! Certificate credentials: the registered certificates, parsed once at start, and the
//! check of the client assertions (JWTs) signed with them. The stricter choices this check
//! makes are listed in the [`crate::token`] docs.

use aws_lc_rs::digest;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::error::TokenError;
use super::service::{Client, TokenService, b64url};

/// Clock skew allowed on a client assertion's `exp` and `nbf`, in seconds.
pub const ASSERTION_SKEW_SECONDS: i64 = 60;
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered certificate, parsed once at start.
pub(super) struct Certificate {
    x5t: String,
    x5t_s256: String,
    sha1_hex: String,
    key: DecodingKey,
    not_before: i64,
    not_after: i64,
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

pub(super) fn parse_certificate(pem: &str) -> Result<Certificate, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if pem.label != "CERTIFICATE" {
        return Err(format!(
            "expected a CERTIFICATE PEM block, found {}",
            pem.label
        ));
    }
    let der = pem.contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => DecodingKey::from_rsa_raw_components(
            strip_leading_zeros(rsa.modulus),
            strip_leading_zeros(rsa.exponent),
        ),
        Ok(_) => return Err("only RSA certificates can sign client assertions".into()),
        Err(e) => return Err(format!("unreadable public key: {e}")),
    };
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let sha256 = digest::digest(&digest::SHA256, &der);
    Ok(Certificate {
        x5t: b64url(sha1.as_ref()),
        x5t_s256: b64url(sha256.as_ref()),
        sha1_hex: sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
        key,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

impl TokenService {
    /// Verifies a client assertion (certificate credential) for `client` as sent to the
    /// token endpoint of `tenant`, at time `now` (Unix seconds).
    pub(super) fn check_assertion(
        &self,
        client: &Client,
        assertion: &str,
        tenant: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let malformed = || {
            TokenError::new(
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            )
        };
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
        let signature_failure = |reason: &str, thumbprint: &str| {
            TokenError::new(
                "invalid_client",
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    client.app.client_id
                ),
            )
        };
        // Each algorithm names its key with its own thumbprint (certificate-credentials.md).
        let (thumbprint, by_sha256) = match header.alg {
            Algorithm::RS256 => (header.x5t.clone(), false),
            Algorithm::PS256 => (header.x5t_s256.clone(), true),
            _ => {
                return Err(signature_failure(
                    "The algorithm is not supported; use PS256 with x5t#S256 or RS256 with x5t",
                    "",
                ));
            }
        };
        let Some(thumbprint) = thumbprint else {
            return Err(signature_failure(
                if by_sha256 {
                    "The x5t#S256 header is missing"
                } else {
                    "The x5t header is missing"
                },
                "",
            ));
        };
        let certificate = client.certificates.iter().find(|c| {
            if by_sha256 {
                c.x5t_s256 == thumbprint
            } else {
                c.x5t == thumbprint
            }
        });
        let Some(certificate) = certificate else {
            return Err(signature_failure("The key was not found.", &thumbprint));
        };
        let found = || {
            let fmt = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .map(|t| t.strftime("%m/%d/%Y %H:%M:%S").to_string())
                    .unwrap_or_default()
            };
            format!(
                "Found key 'Start={}, End={}'",
                fmt(certificate.not_before),
                fmt(certificate.not_after)
            )
        };
        if now < certificate.not_before || now > certificate.not_after {
            return Err(signature_failure(
                &format!(
                    "The key was found but is not valid at this time. {}",
                    found()
                ),
                &certificate.sha1_hex,
            ));
        }

        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<AssertionClaims>(
            assertion,
            &certificate.key,
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => signature_failure(
                &format!(
                    "The provided signature value did not match the expected signature value., {}",
                    found()
                ),
                &certificate.sha1_hex,
            ),
            _ => malformed(),
        })?
        .claims;

        let client_id = &client.app.client_id;
        match (&claims.iss, &claims.sub) {
            (Some(iss), Some(sub)) if iss != sub => {
                return Err(TokenError::new(
                    "invalid_client",
                    50048,
                    "Subject mismatches Issuer claim in the client assertion.",
                ));
            }
            (Some(iss), Some(_)) if !iss.eq_ignore_ascii_case(client_id) => {
                return Err(TokenError::new(
                    "invalid_client",
                    700021,
                    "Client assertion application identifier doesn't match 'client_id' parameter.",
                ));
            }
            (Some(_), Some(_)) => {}
            (None, _) => return Err(missing_claim("iss")),
            (_, None) => return Err(missing_claim("sub")),
        }
        if claims.jti.as_deref().is_none_or(str::is_empty) {
            return Err(missing_claim("jti"));
        }

        let expected = [
            self.token_endpoint(&self.tenant_id),
            self.token_endpoint(tenant),
        ];
        let audiences: Vec<&str> = match &claims.aud {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => return Err(missing_claim("aud")),
        };
        if !audiences
            .iter()
            .any(|aud| expected.iter().any(|e| e.eq_ignore_ascii_case(aud)))
        {
            return Err(TokenError::new(
                "invalid_client",
                50012,
                format!(
                    "Client assertion audience claim does not match Realm issuer. Expected '{}'.",
                    expected[0]
                ),
            ));
        }

        let (Some(exp), Some(nbf)) = (claims.exp, claims.nbf) else {
            return Err(missing_claim(if claims.exp.is_none() {
                "exp"
            } else {
                "nbf"
            }));
        };
        if now > exp + ASSERTION_SKEW_SECONDS || now + ASSERTION_SKEW_SECONDS < nbf {
            let fmt = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| t.to_string())
            };
            return Err(TokenError::new(
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                    fmt(now),
                    fmt(nbf),
                    fmt(exp)
                ),
            ));
        }
        Ok(())
    }
}

fn missing_claim(name: &str) -> TokenError {
    TokenError::new(
        "invalid_client",
        90014,
        format!(
            "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
        ),
    )
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::super::fixture::{APP, TENANT, assertion, good_claims, service, test_cert};
    use super::*;
    use crate::clock;

    fn code(result: Result<(), TokenError>) -> u32 {
        result.unwrap_err().code
    }

    #[test]
    fn assertion_checks() {
        let cert = test_cert();
        let svc = service(&cert);
        let client = svc.client(APP).unwrap();
        let now = clock::now_seconds();

        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let jwt = assertion(&cert, alg, good_claims(&svc, now), |_| {});
            svc.check_assertion(client, &jwt, TENANT, now).unwrap();
        }
        // The domain form of the endpoint is accepted when the request used the domain.
        let mut claims = good_claims(&svc, now);
        claims["aud"] = json!(svc.token_endpoint("contoso.com"));
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        svc.check_assertion(client, &jwt, "contoso.com", now)
            .unwrap();

        // Expired (beyond the skew) and not yet valid.
        let mut claims = good_claims(&svc, now);
        claims["exp"] = json!(now - ASSERTION_SKEW_SECONDS - 1);
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700024);
        let mut claims = good_claims(&svc, now);
        claims["nbf"] = json!(now + 3600);
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700024);

        // Wrong audience.
        let mut claims = good_claims(&svc, now);
        claims["aud"] = json!("https://login.microsoftonline.com/x/oauth2/v2.0/token");
        let jwt = assertion(&cert, Algorithm::RS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 50012);

        // x5t of another certificate, PS256 with only x5t, wrong algorithm.
        let jwt = assertion(&cert, Algorithm::RS256, good_claims(&svc, now), |h| {
            h.x5t = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
        });
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700027);
        let jwt = assertion(&cert, Algorithm::PS256, good_claims(&svc, now), |h| {
            h.x5t = h.x5t_s256.take()
        });
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700027);
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(&svc, now),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert_eq!(code(svc.check_assertion(client, &hs, TENANT, now)), 700027);

        // Signed by another key that claims the registered certificate's thumbprint.
        let other = test_cert();
        let forged = {
            let mut header = Header::new(Algorithm::PS256);
            header.x5t_s256 = Some(b64url(digest::digest(&digest::SHA256, &cert.der).as_ref()));
            jsonwebtoken::encode(&header, &good_claims(&svc, now), &other.key).unwrap()
        };
        let err = svc
            .check_assertion(client, &forged, TENANT, now)
            .unwrap_err();
        assert_eq!(err.code, 700027);
        assert!(
            err.description.contains("did not match"),
            "{}",
            err.description
        );

        // Claims: sub ≠ iss, iss ≠ client, jti missing.
        let mut claims = good_claims(&svc, now);
        claims["sub"] = json!("someone-else");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 50048);
        let mut claims = good_claims(&svc, now);
        claims["iss"] = json!("other");
        claims["sub"] = json!("other");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700021);
        let mut claims = good_claims(&svc, now);
        claims.as_object_mut().unwrap().remove("jti");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 90014);

        assert_eq!(
            code(svc.check_assertion(client, "not-a-jwt", TENANT, now)),
            50027
        );
    }
}
