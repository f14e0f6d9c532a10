//! Workload identity federation: the emulator's own external OIDC issuer (the only one it
//! trusts, since it can reach no other), the tokens it mints for tests, and the check of a
//! federated token presented as an application's `client_assertion`.
//!
//! The issuer is `{root}_federation`; its discovery document is at
//! `{root}_federation/.well-known/openid-configuration` and its keys at
//! `{root}_federation/keys`. Since that URL holds the port, which a tenant file written
//! before start can't know, a credential's `issuer` may also be [`FEDERATION_ISSUER`]
//! (`https://emulator.invalid/_federation`, a reserved name that can't be a real issuer):
//! it stands for this emulator's issuer, whatever its address. Credentials can also be
//! added while running ([`crate::routes::federated_credentials`]). Its RS256 key is generated per run (on first use) and is not the
//! access-token key, so neither kind of token can pass for the other.
//!
//! A federated assertion is checked in this order: `iss` names one of the app's federated
//! identity credentials (else AADSTS700211), the issuer is this emulator's (else 700211
//! too: stricter, since the emulator cannot fetch another issuer's keys), the signature
//! (700027), `sub` equals a credential's subject for that issuer, case-sensitively (700213),
//! `aud` is one of that credential's audiences (700212), and `exp`/`nbf` with 60 s of skew
//! (700024). Missing `iss`, `sub`, `aud`, `exp` or `nbf` is 90014 (stricter: external
//! issuers usually send both times, and this one always does).
//!
//! Sources for the codes and texts (seen in real responses quoted in public issues; the
//! codes are not in Microsoft's error table): 700211 Azure/azure-workload-identity#1200;
//! 700213 Azure/login#482 and dotnet/maui#31978; 700212 in a quoted response of a Java test
//! fixture and several deployment guides; 700024 for federated tokens
//! Azure/azure-workload-identity#693 and risingwavelabs/risingwave#17123, all `invalid_client`
//! (401). Case-sensitive subject matching: Entra's breaking-change notice quoted in
//! Azure/login#517. 700027 for a bad signature of a federated token is not confirmed (it is
//! the certificate path's code).

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ASSERTION_SKEW_SECONDS;
use super::error::TokenError;
use super::service::{Client, TokenService};
use crate::application::FederatedIdentityCredential;
use crate::clock;

/// The audience Entra expects in federated tokens (Graph's documented default).
pub const FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// In a federated identity credential, stands for this emulator's own issuer
/// (`{root}_federation`), whose port a tenant file can't know.
pub const FEDERATION_ISSUER: &str = "https://emulator.invalid/_federation";

/// `credential` with [`FEDERATION_ISSUER`] replaced by `own_issuer`.
pub(super) fn with_own_issuer(
    mut credential: FederatedIdentityCredential,
    own_issuer: &str,
) -> FederatedIdentityCredential {
    if credential.issuer == FEDERATION_ISSUER {
        credential.issuer = own_issuer.to_owned();
    }
    credential
}

/// The claims of a token minted by the emulator's federation issuer.
#[derive(Debug, Serialize)]
struct FederatedClaims<'a> {
    iss: String,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

#[derive(Debug, Deserialize)]
struct PresentedClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

fn invalid_client(code: u32, description: String) -> TokenError {
    TokenError::new("invalid_client", code, description)
}

fn no_record(what: &str, value: &str) -> TokenError {
    let code = match what {
        "issuer" => 700211,
        "audience" => 700212,
        _ => 700213,
    };
    invalid_client(
        code,
        format!(
            "No matching federated identity record found for presented assertion {what} '{value}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        ),
    )
}

fn missing_claim(name: &str) -> TokenError {
    invalid_client(
        90014,
        format!(
            "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
        ),
    )
}

impl TokenService {
    /// The issuer URL of the emulator's federation issuer, `{root}_federation`.
    pub fn federation_issuer(&self) -> String {
        format!("{}_federation", self.base)
    }

    /// The federation issuer's OpenID configuration.
    pub(crate) fn federation_discovery(&self) -> Value {
        let issuer = self.federation_issuer();
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/keys"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"],
        })
    }

    /// The federation issuer's JWKS.
    pub(crate) fn federation_jwks(&self) -> Result<Value, String> {
        Ok(json!({"keys": [self.federation_key()?.jwk(&[])]}))
    }

    /// Adds a federated identity credential to a registered application while the emulator
    /// runs (as Graph's `POST /applications/{id}/federatedIdentityCredentials` would), checked
    /// like the tenant file's. Errors name the unknown application or the field at fault.
    pub fn add_federated_identity_credential(
        &self,
        client_id: &str,
        credential: FederatedIdentityCredential,
    ) -> Result<(), String> {
        let client = self
            .clients
            .get(&client_id.to_ascii_lowercase())
            .ok_or_else(|| format!("no application with client id '{client_id}'"))?;
        let credential = with_own_issuer(credential, &self.federation_issuer());
        let mut credentials = client.federated.write();
        credential
            .check(&credentials)
            .map_err(|(field, message)| format!("{field}: {message}"))?;
        credentials.push(credential);
        Ok(())
    }

    /// Puts every application's federated identity credentials back to the tenant file's
    /// (`POST /_emulator/reset`).
    pub fn reset_federated_identity_credentials(&self) {
        for client in self.clients.values() {
            *client.federated.write() = self.tenant_file_credentials(&client.app);
        }
    }

    /// An application's federated identity credentials from the tenant file, with
    /// [`FEDERATION_ISSUER`] resolved.
    pub(super) fn tenant_file_credentials(
        &self,
        app: &crate::application::Application,
    ) -> Vec<FederatedIdentityCredential> {
        let own = self.federation_issuer();
        app.federated_identity_credentials
            .iter()
            .map(|c| with_own_issuer(c.clone(), &own))
            .collect()
    }

    /// A token from the federation issuer for `subject` and `audience`, valid for
    /// `lifetime_seconds` from now (negative: already expired).
    pub fn mint_federated(
        &self,
        subject: &str,
        audience: &str,
        lifetime_seconds: i64,
    ) -> Result<String, String> {
        let now = clock::now_seconds();
        // An expired token was valid once: its nbf lies before its exp.
        let issued_at = now.min(now.saturating_add(lifetime_seconds).saturating_sub(60));
        let claims = FederatedClaims {
            iss: self.federation_issuer(),
            sub: subject,
            aud: audience,
            iat: issued_at,
            nbf: issued_at,
            exp: now.saturating_add(lifetime_seconds),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        self.federation_key()?
            .sign(&claims, false)
            .map_err(|e| format!("cannot sign the federated token: {e}"))
    }

    /// Verifies a federated token presented as `client`'s assertion at time `now` (see the
    /// module docs for the order of the checks).
    pub(super) fn check_federated(
        &self,
        client: &Client,
        assertion: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let malformed = || invalid_client(50027, "JWT token is invalid or malformed.".to_owned());
        jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
        let presented: PresentedClaims =
            jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| malformed())?;
        let issuer = presented.iss.ok_or_else(|| missing_claim("iss"))?;
        let credentials: Vec<FederatedIdentityCredential> = client
            .federated
            .read()
            .iter()
            .filter(|c| c.issuer == issuer)
            .cloned()
            .collect();
        if credentials.is_empty() || issuer != self.federation_issuer() {
            return Err(no_record("issuer", &issuer));
        }

        let signature_failure = || {
            invalid_client(
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The key was not found or the provided signature value did not match the expected signature value., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    client.app.client_id
                ),
            )
        };
        // No key yet means the issuer never signed anything in this run.
        let key = self.federation_key_if_any().ok_or_else(signature_failure)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(assertion, &key.decoding_key, &validation)
            .map_err(|_| signature_failure())?;

        let subject = presented.sub.ok_or_else(|| missing_claim("sub"))?;
        let credentials: Vec<_> = credentials
            .into_iter()
            .filter(|c| c.subject == subject)
            .collect();
        if credentials.is_empty() {
            return Err(no_record("subject", &subject));
        }
        let audiences: Vec<&str> = match &presented.aud {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => return Err(missing_claim("aud")),
        };
        let matched = credentials
            .iter()
            .any(|c| c.audiences.iter().any(|a| audiences.contains(&a.as_str())));
        if !matched {
            return Err(no_record("audience", &audiences.join(",")));
        }

        let exp = presented.exp.ok_or_else(|| missing_claim("exp"))?;
        let nbf = presented.nbf.ok_or_else(|| missing_claim("nbf"))?;
        if now > exp + ASSERTION_SKEW_SECONDS || now + ASSERTION_SKEW_SECONDS < nbf {
            let fmt = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| t.to_string())
            };
            return Err(invalid_client(
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

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::token::fixture::{APP, federated_service};

    fn code(result: Result<(), TokenError>) -> u32 {
        result.unwrap_err().code
    }

    #[test]
    fn federated_tokens_match_issuer_subject_and_audience() {
        let svc = federated_service();
        let client = svc.client(APP).unwrap();
        let now = clock::now_seconds();
        let mint = |sub: &str, aud: &str, life: i64| svc.mint_federated(sub, aud, life).unwrap();

        svc.check_federated(
            client,
            &mint("repo:contoso/b2b", FEDERATION_AUDIENCE, 600),
            now,
        )
        .unwrap();
        // Expired beyond the skew, wrong subject (also by case), wrong audience.
        assert_eq!(
            code(svc.check_federated(
                client,
                &mint("repo:contoso/b2b", FEDERATION_AUDIENCE, -120),
                now
            )),
            700024
        );
        assert_eq!(
            code(svc.check_federated(
                client,
                &mint("repo:contoso/other", FEDERATION_AUDIENCE, 600),
                now
            )),
            700213
        );
        assert_eq!(
            code(svc.check_federated(
                client,
                &mint("repo:Contoso/b2b", FEDERATION_AUDIENCE, 600),
                now
            )),
            700213
        );
        assert_eq!(
            code(svc.check_federated(client, &mint("repo:contoso/b2b", "api://other", 600), now)),
            700212
        );

        // Another issuer (even one a credential names) and a forged signature.
        let foreign = |iss: &str| {
            let claims = json!({"iss": iss, "sub": "repo:contoso/b2b", "aud": FEDERATION_AUDIENCE,
                "nbf": now, "exp": now + 600});
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"k"),
            )
            .unwrap()
        };
        assert_eq!(
            code(svc.check_federated(
                client,
                &foreign("https://token.actions.githubusercontent.com"),
                now
            )),
            700211
        );
        assert_eq!(
            code(svc.check_federated(client, &foreign("https://elsewhere.example"), now)),
            700211
        );
        assert_eq!(
            code(svc.check_federated(client, &foreign(&svc.federation_issuer()), now)),
            700027
        );
        assert_eq!(code(svc.check_federated(client, "junk", now)), 50027);

        // A credential added while running counts at once; reset forgets it.
        let added = FederatedIdentityCredential {
            name: "added".into(),
            issuer: svc.federation_issuer(),
            subject: "system:serviceaccount:b2b:convert".into(),
            audiences: vec![FEDERATION_AUDIENCE.into()],
        };
        let k8s = mint(
            "system:serviceaccount:b2b:convert",
            FEDERATION_AUDIENCE,
            600,
        );
        assert_eq!(code(svc.check_federated(client, &k8s, now)), 700213);
        svc.add_federated_identity_credential(APP, added.clone())
            .unwrap();
        svc.check_federated(client, &k8s, now).unwrap();
        assert!(
            svc.add_federated_identity_credential(APP, added)
                .unwrap_err()
                .starts_with("name:")
        );
        assert!(
            svc.add_federated_identity_credential(
                "00000000-0000-0000-0000-000000000000",
                FederatedIdentityCredential {
                    name: "x".into(),
                    issuer: svc.federation_issuer(),
                    subject: "s".into(),
                    audiences: vec!["a".into()],
                }
            )
            .is_err()
        );
        svc.reset_federated_identity_credentials();
        assert_eq!(code(svc.check_federated(client, &k8s, now)), 700213);
        // The placeholder issuer stands for the emulator's own.
        let placeholder = FederatedIdentityCredential {
            name: "placeholder".into(),
            issuer: FEDERATION_ISSUER.into(),
            subject: "system:serviceaccount:b2b:convert".into(),
            audiences: vec![FEDERATION_AUDIENCE.into()],
        };
        svc.add_federated_identity_credential(APP, placeholder)
            .unwrap();
        svc.check_federated(client, &k8s, now).unwrap();
        svc.reset_federated_identity_credentials();

        // The discovery document points at the keys, which verify the minted token.
        let doc = svc.federation_discovery();
        assert_eq!(doc["issuer"], "https://127.0.0.1:8443/_federation");
        assert_eq!(doc["jwks_uri"], "https://127.0.0.1:8443/_federation/keys");
        assert_eq!(svc.federation_jwks().unwrap()["keys"][0]["kty"], "RSA");
    }
}
