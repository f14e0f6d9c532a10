//! Signing in with a certificate: a client assertion JWT signed with the application's
//! private key, sent instead of a secret (graph-facts §7; Entra's
//! `certificate-credentials.md`).
//!
//! The certificate file is the one Azure's SDKs read from `AZURE_CLIENT_CERTIFICATE_PATH`:
//! PEM holding the private key and the certificate in any order (and perhaps its
//! chain), or PKCS#12 (`.pfx`) with `AZURE_CLIENT_CERTIFICATE_PASSWORD`. The assertion
//! is PS256 with `x5t#S256` by default, as Entra documents today, or RS256 with the
//! SHA-1 `x5t` on request for tenants configured from the older documentation. With
//! `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` the chain goes in `x5c`, for apps that trust a
//! certificate by subject name and issuer (SNI) instead of by thumbprint.
//!
//! Signing is aws-lc-rs's RSA (the one crypto stack the workspace already builds for
//! TLS); the JWT's two JSON parts are built here because jsonwebtoken's `EncodingKey`
//! takes PKCS#1 DER only, while certificate files carry PKCS#8 as often. PKCS#12 is
//! opened with `p12-keystore` (pure Rust: no OpenSSL on the build machine). Encrypted
//! PEM keys are refused with a pointer to PKCS#12, as Azure's SDKs do. Only RSA keys:
//! Entra signs client assertions with RS256/PS256 only.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source, sign_in};
use super::kind::CredentialKind;
use super::token_endpoint::{Proof, TokenEndpoint};
use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::GraphError;

/// How long an assertion is valid: Entra documents 5–10 minutes (not enforced).
const ASSERTION_LIFETIME: SignedDuration = SignedDuration::from_secs(600);

/// The signature of a client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, the key named by `x5t#S256` (Entra's current docs).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, the key named by the SHA-1 `x5t` (older docs).
    Rs256,
}

impl FromStr for AssertionAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PS256" => Ok(AssertionAlgorithm::Ps256),
            "RS256" => Ok(AssertionAlgorithm::Rs256),
            _ => Err(format!(
                "unknown assertion algorithm {s:?}: expected PS256 or RS256"
            )),
        }
    }
}

impl fmt::Display for AssertionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssertionAlgorithm::Ps256 => "PS256",
            AssertionAlgorithm::Rs256 => "RS256",
        })
    }
}

/// An application certificate with its private key, ready to sign assertions.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// DER certificates, the key's own first.
    chain: Vec<Vec<u8>>,
    /// The key's certificate validity, Unix seconds.
    not_before: i64,
    not_after: i64,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads a PEM or PKCS#12 file (told apart by content, not by name). The error says
    /// what is wrong with the file, never what is in it.
    pub fn from_file(path: &Path, password: Option<&SecretString>) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let loaded = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
            Self::from_pem(&bytes)
        } else {
            Self::from_pkcs12(&bytes, password)
        };
        loaded.map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A PEM file holding one RSA private key (PKCS#8 or PKCS#1) and its certificate,
    /// in any order, perhaps with the rest of the chain.
    pub fn from_pem(bytes: &[u8]) -> Result<Self, String> {
        let mut keys = Vec::new();
        let mut certificates = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(bytes) {
            let block = block.map_err(|e| format!("not valid PEM: {e}"))?;
            match block.label.as_str() {
                "CERTIFICATE" => certificates.push(block.contents),
                "PRIVATE KEY" => keys.push(
                    RsaKeyPair::from_pkcs8(&block.contents)
                        .map_err(|_| "the private key is not an RSA key (Entra accepts RSA certificates only) or is damaged".to_owned())?,
                ),
                "RSA PRIVATE KEY" => keys.push(
                    RsaKeyPair::from_der(&block.contents)
                        .map_err(|_| "the RSA private key is damaged".to_owned())?,
                ),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err("the private key is encrypted: use a PKCS#12 (.pfx) file with AZURE_CLIENT_CERTIFICATE_PASSWORD, or an unencrypted PEM key".into());
                }
                "EC PRIVATE KEY" => {
                    return Err("the private key is an EC key: Entra accepts RSA certificates only".into());
                }
                _ => {}
            }
        }
        let key = match keys.len() {
            0 => return Err("no private key (expected a PRIVATE KEY or RSA PRIVATE KEY block next to the certificate)".into()),
            1 => keys.remove(0),
            n => return Err(format!("{n} private keys; expected exactly one")),
        };
        Self::assemble(key, certificates)
    }

    /// A PKCS#12 (`.pfx`) file, opened with `password` (none: the empty password).
    pub fn from_pkcs12(bytes: &[u8], password: Option<&SecretString>) -> Result<Self, String> {
        let password = password.map(|p| p.expose_secret()).unwrap_or("");
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password).map_err(|e| {
            format!("cannot open as PKCS#12 (wrong AZURE_CLIENT_CERTIFICATE_PASSWORD, or neither PEM nor PKCS#12): {e}")
        })?;
        let mut keys = Vec::new();
        for bag in &archive.keys {
            keys.push(RsaKeyPair::from_pkcs8(bag.key.as_der()).map_err(|_| {
                "the private key is not an RSA key (Entra accepts RSA certificates only)".to_owned()
            })?);
        }
        let key = match keys.len() {
            0 => return Err("the PKCS#12 file holds no private key".into()),
            1 => keys.remove(0),
            n => {
                return Err(format!(
                    "the PKCS#12 file holds {n} private keys; expected exactly one"
                ));
            }
        };
        let certificates = archive
            .certs
            .iter()
            .map(|b| b.cert.as_der().to_vec())
            .collect();
        Self::assemble(key, certificates)
    }

    /// Puts the key's own certificate first; refuses a file whose certificates do not
    /// include the key's.
    fn assemble(key: RsaKeyPair, certificates: Vec<Vec<u8>>) -> Result<Self, String> {
        let public = key.public_key().as_ref().to_vec();
        let mut leaf = None;
        let mut rest = Vec::new();
        for der in certificates {
            let (_, cert) = x509_parser::parse_x509_certificate(&der)
                .map_err(|e| format!("a certificate does not parse: {e}"))?;
            let matches = cert.public_key().subject_public_key.data.as_ref() == public.as_slice();
            if matches && leaf.is_none() {
                let validity = cert.validity();
                leaf = Some((
                    der.clone(),
                    validity.not_before.timestamp(),
                    validity.not_after.timestamp(),
                ));
            } else {
                rest.push(der);
            }
        }
        let Some((leaf, not_before, not_after)) = leaf else {
            return Err(if rest.is_empty() {
                "no certificate (expected a CERTIFICATE block next to the private key)".into()
            } else {
                "no certificate matches the private key".into()
            });
        };
        let mut chain = vec![leaf];
        chain.extend(rest);
        Ok(ClientCertificate {
            key,
            chain,
            not_before,
            not_after,
        })
    }

    /// base64url SHA-256 of the certificate: `x5t#S256`, and what the portal shows in hex.
    pub fn thumbprint_sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.chain[0]))
    }

    /// base64url SHA-1 of the certificate: `x5t`.
    pub fn thumbprint_sha1(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.chain[0],
        ))
    }

    /// A client assertion for `client_id` addressed to `audience` (the token URL),
    /// valid from `now` for ten minutes.
    pub fn assertion(
        &self,
        algorithm: AssertionAlgorithm,
        client_id: &str,
        audience: &str,
        now: Timestamp,
        send_chain: bool,
    ) -> Result<SecretString, String> {
        let now_s = now.as_second();
        if now_s < self.not_before {
            return Err(format!(
                "the certificate is not valid before {}",
                Timestamp::from_second(self.not_before).unwrap_or(now)
            ));
        }
        if now_s > self.not_after {
            return Err(format!(
                "the certificate expired on {}: renew it and register the new one on the application",
                Timestamp::from_second(self.not_after).unwrap_or(now)
            ));
        }
        let mut header = json!({"alg": algorithm.to_string(), "typ": "JWT"});
        match algorithm {
            AssertionAlgorithm::Ps256 => header["x5t#S256"] = self.thumbprint_sha256().into(),
            AssertionAlgorithm::Rs256 => header["x5t"] = self.thumbprint_sha1().into(),
        }
        if send_chain {
            header["x5c"] = self.chain.iter().map(|der| STANDARD.encode(der)).collect();
        }
        let exp = now
            .checked_add(ASSERTION_LIFETIME)
            .unwrap_or(now)
            .as_second();
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now_s,
            "iat": now_s,
            "exp": exp,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding: &'static dyn signature::RsaEncoding = match algorithm {
            AssertionAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                padding,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig)
        )))
    }
}

/// Client-credentials flow with a certificate-signed client assertion; a fresh
/// assertion for every token request, the token cached and renewed ahead of expiry.
pub struct CertificateCredential {
    inner: Cached<CertificateProof>,
}

pub(crate) struct CertificateProof {
    endpoint: TokenEndpoint,
    certificate: ClientCertificate,
    path: PathBuf,
    algorithm: AssertionAlgorithm,
    send_chain: bool,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proof = self.inner.source();
        f.debug_struct("CertificateCredential")
            .field("client_id", &proof.endpoint.client_id)
            .field("certificate", &proof.certificate)
            .field("algorithm", &proof.algorithm)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// A credential for `client_id` in `tenant` signing with `certificate`, read from
    /// `path` (named in messages).
    pub fn new(
        endpoints: &Endpoints,
        tenant: &str,
        client_id: &str,
        certificate: ClientCertificate,
        path: &Path,
    ) -> Self {
        CertificateCredential {
            inner: Cached::new(
                CertificateProof {
                    endpoint: TokenEndpoint::new(endpoints, tenant, client_id),
                    certificate,
                    path: path.to_owned(),
                    algorithm: AssertionAlgorithm::default(),
                    send_chain: false,
                },
                crate::clock::system(),
            ),
        }
    }

    /// Sign with this algorithm (default PS256).
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.inner.source_mut().algorithm = algorithm;
        self
    }

    /// Send the certificate chain in `x5c` (`AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`).
    pub fn with_chain(mut self, send_chain: bool) -> Self {
        self.inner.source_mut().send_chain = send_chain;
        self
    }

    /// Replace the wall clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.inner.set_clock(clock);
        self
    }
}

impl Acquire for CertificateProof {
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            let assertion = self
                .certificate
                .assertion(
                    self.algorithm,
                    &self.endpoint.client_id,
                    self.endpoint.url.as_str(),
                    clock.now(),
                    self.send_chain,
                )
                .map_err(|reason| sign_in(self, reason))?;
            self.endpoint
                .request(Proof::Assertion(assertion), clock)
                .await
        })
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::Certificate
    }

    fn describe(&self) -> String {
        format!(
            "certificate {} ({}, AZURE_CLIENT_CERTIFICATE_PATH)",
            self.path.display(),
            self.algorithm
        )
    }
}

delegate_token_source!(CertificateCredential);

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["app".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (key.serialize_pem(), cert.pem())
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn pem_in_either_order_signs_both_algorithms() {
        let (key, cert) = generated();
        for pem in [format!("{key}{cert}"), format!("{cert}\n{key}")] {
            let c = ClientCertificate::from_pem(pem.as_bytes()).unwrap();
            let now = Timestamp::from_second(c.not_before + 60).unwrap();
            let jwt = c
                .assertion(
                    AssertionAlgorithm::Ps256,
                    "app-1",
                    "https://login/t/token",
                    now,
                    false,
                )
                .unwrap();
            let parts: Vec<_> = jwt.expose_secret().split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode(parts[0]);
            assert_eq!(header["alg"], "PS256");
            assert_eq!(header["x5t#S256"], c.thumbprint_sha256());
            assert!(header.get("x5c").is_none());
            let claims = decode(parts[1]);
            assert_eq!(claims["iss"], "app-1");
            assert_eq!(claims["sub"], "app-1");
            assert_eq!(claims["aud"], "https://login/t/token");
            assert_eq!(claims["exp"].as_i64(), Some(now.as_second() + 600));
            let rs = c
                .assertion(AssertionAlgorithm::Rs256, "app-1", "aud", now, true)
                .unwrap();
            let header = decode(rs.expose_secret().split('.').next().unwrap());
            assert_eq!(header["alg"], "RS256");
            assert_eq!(header["x5t"], c.thumbprint_sha1());
            assert_eq!(header["x5c"].as_array().map(Vec::len), Some(1));
        }
    }

    #[test]
    fn bad_pem_files_say_what_is_wrong() {
        let (key, cert) = generated();
        let (other_key, _) = generated();
        let err = |pem: String| {
            ClientCertificate::from_pem(pem.as_bytes())
                .err()
                .unwrap_or_default()
        };
        assert!(err(cert.clone()).contains("no private key"));
        assert!(err(key.clone()).contains("no certificate"));
        assert!(err(format!("{other_key}{cert}")).contains("matches"));
        assert!(err(format!("{key}{other_key}{cert}")).contains("2 private keys"));
        assert!(err("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n".into()).contains("encrypted"));
    }

    #[test]
    fn expired_certificate_is_refused() {
        let (key, cert) = generated();
        let c = ClientCertificate::from_pem(format!("{key}{cert}").as_bytes()).unwrap();
        let late = Timestamp::from_second(c.not_after + 1).unwrap();
        let e = c
            .assertion(AssertionAlgorithm::Ps256, "a", "b", late, false)
            .err()
            .unwrap_or_default();
        assert!(e.contains("expired"), "{e}");
    }

    #[test]
    fn pkcs12_with_and_without_the_right_password() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["app".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8, 2, 3],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let pfx = store.writer("pa55").write().unwrap();
        let password = SecretString::from("pa55");
        let c = ClientCertificate::from_pkcs12(&pfx, Some(&password)).unwrap();
        let pem = ClientCertificate::from_pem(
            format!("{}{}", key.serialize_pem(), cert.pem()).as_bytes(),
        )
        .unwrap();
        assert_eq!(c.thumbprint_sha256(), pem.thumbprint_sha256());
        let wrong = SecretString::from("nope");
        let e = ClientCertificate::from_pkcs12(&pfx, Some(&wrong))
            .err()
            .unwrap_or_default();
        assert!(e.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"), "{e}");
    }
}
