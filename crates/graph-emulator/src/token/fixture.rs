//! The tenant, application and self-signed certificate the token tests share, so that the
//! tests of each step (assertion, request, bearer check) build the service and sign
//! assertions the same way.

use aws_lc_rs::digest;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use url::Url;

use super::federation::FEDERATION_AUDIENCE;
use super::service::{TokenService, b64url};
use crate::application::{Application, FederatedIdentityCredential};
use crate::managed_identity::{ManagedIdentity, ManagedIdentityKind};

pub(super) const TENANT: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";
pub(super) const APP: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
pub(super) const SYSTEM_MI: &str = "a0000000-0000-4000-8000-00000000005a";
pub(super) const USER_MI: &str = "a0000000-0000-4000-8000-0000000000a1";
pub(super) const USER_MI_2: &str = "a0000000-0000-4000-8000-0000000000a2";
const ROOT: &str = "https://127.0.0.1:8443";

pub(super) struct TestCert {
    pub(super) pem: String,
    pub(super) der: Vec<u8>,
    pub(super) key: EncodingKey,
}

pub(super) fn test_cert() -> TestCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["b2b-convert-test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    TestCert {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        key: EncodingKey::from_rsa_pem(key.serialize_pem().as_bytes()).unwrap(),
    }
}

pub(super) fn service(cert: &TestCert) -> TokenService {
    let app = Application {
        client_id: APP.to_owned(),
        client_secret: Some("s3cret".to_owned()),
        certificates: vec![cert.pem.clone()],
        federated_identity_credentials: vec![],
        roles: vec!["User.Read.All".to_owned()],
        directory_roles: vec!["User Administrator".to_owned()],
    };
    TokenService::new(
        &Url::parse(ROOT).unwrap(),
        TENANT,
        &["contoso.com".to_owned()],
        &[app],
        &[],
    )
    .unwrap()
}

/// An app trusting the emulator's federation issuer for subject `repo:contoso/b2b`, and
/// GitHub's issuer for the same subject (which the emulator cannot verify).
pub(super) fn federated_service() -> TokenService {
    let credential = |name: &str, issuer: String| FederatedIdentityCredential {
        name: name.to_owned(),
        issuer,
        subject: "repo:contoso/b2b".to_owned(),
        audiences: vec![FEDERATION_AUDIENCE.to_owned()],
    };
    let app = Application {
        client_id: APP.to_owned(),
        client_secret: None,
        certificates: vec![],
        federated_identity_credentials: vec![
            credential("emulator", format!("{ROOT}/_federation")),
            credential(
                "github",
                "https://token.actions.githubusercontent.com".to_owned(),
            ),
        ],
        roles: vec!["User.Read.All".to_owned()],
        directory_roles: vec![],
    };
    TokenService::new(&Url::parse(ROOT).unwrap(), TENANT, &[], &[app], &[]).unwrap()
}

/// A service with these managed identities, each with User.Read.All and User Administrator.
pub(super) fn mi_service(identities: &[(&str, ManagedIdentityKind)]) -> TokenService {
    let identities: Vec<ManagedIdentity> = identities
        .iter()
        .map(|(client_id, kind)| ManagedIdentity {
            client_id: (*client_id).to_owned(),
            kind: *kind,
            roles: vec!["User.Read.All".to_owned()],
            directory_roles: vec!["User Administrator".to_owned()],
        })
        .collect();
    TokenService::new(&Url::parse(ROOT).unwrap(), TENANT, &[], &[], &identities).unwrap()
}

pub(super) fn assertion(
    cert: &TestCert,
    alg: Algorithm,
    claims: Value,
    tweak: impl FnOnce(&mut Header),
) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("JWT".to_owned());
    match alg {
        Algorithm::PS256 => {
            header.x5t_s256 = Some(b64url(digest::digest(&digest::SHA256, &cert.der).as_ref()))
        }
        _ => {
            header.x5t = Some(b64url(
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der).as_ref(),
            ))
        }
    }
    tweak(&mut header);
    jsonwebtoken::encode(&header, &claims, &cert.key).unwrap()
}

pub(super) fn good_claims(svc: &TokenService, now: i64) -> Value {
    json!({
        "aud": svc.token_endpoint(TENANT),
        "iss": APP, "sub": APP,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now, "exp": now + 600,
    })
}
