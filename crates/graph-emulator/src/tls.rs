//! HTTPS for the emulator (`--tls DIR`), for clients that refuse plain HTTP: Microsoft's
//! SDKs (azure-identity, msgraph-sdk) and azure_identity for Rust among them.
//!
//! At start a throwaway CA and a server certificate for `localhost`, `127.0.0.1` and `::1`
//! signed by it are generated with rcgen; the CA certificate is written to `DIR/ca.pem`
//! so a test can trust it (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, reqwest's
//! `add_root_certificate`). A separate CA rather than one self-signed leaf because some
//! verifiers (webpki, OpenSSL with strict flags) refuse an end-entity certificate as its
//! own trust anchor. Nothing private is written to disk.
//!
//! Serving is tokio-rustls + hyper-util, both already in the build through axum and
//! reqwest, so this adds no crates (axum-server would add one and its own accept loop);
//! the accept loop is [`crate::serve`]'s, shared with plain HTTP. rustls uses the
//! aws-lc-rs provider explicitly, so no process-wide default provider is needed.
//! HTTP/1.1 and HTTP/2 are offered via ALPN.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A generated server identity: the rustls config and where the CA was written.
pub struct Prepared {
    /// Server config with the certificate chain and ALPN set.
    pub config: Arc<ServerConfig>,
    /// `DIR/ca.pem`.
    pub ca_pem: PathBuf,
}

/// Generates the CA and server certificate, writes `dir/ca.pem` (creating `dir`) and
/// builds the rustls server config.
pub fn prepare(dir: &Path) -> Result<Prepared, String> {
    let ca_key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| format!("CA params: {e}"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "graph-emulator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| format!("CA certificate: {e}"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(|e| format!("server key: {e}"))?;
    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|e| format!("server params: {e}"))?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| format!("server certificate: {e}"))?;

    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, ca_cert.pem())
        .map_err(|e| format!("write {}: {e}", ca_pem.display()))?;

    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(leaf_cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|e| format!("TLS config: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Prepared {
        config: Arc::new(config),
        ca_pem,
    })
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, in a spawned task.
/// Returns once the certificate is ready (the `ca.pem` path); connections still open at
/// shutdown are dropped.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    dir: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<PathBuf, String> {
    let prepared = prepare(dir)?;
    tokio::spawn(crate::serve::serve(
        listener,
        app,
        Some(TlsAcceptor::from(prepared.config)),
        shutdown,
    ));
    Ok(prepared.ca_pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_https_trusted_by_the_written_ca() {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let ca = serve_tls(listener, app, dir.path(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        assert_eq!(ca, dir.path().join("ca.pem"));
        let pem = std::fs::read(&ca).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .no_proxy()
            .build()
            .unwrap();
        for host in ["127.0.0.1", "localhost"] {
            let body = client
                .get(format!("https://{host}:{port}/ping"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, "pong");
        }
        // Without the CA the certificate is not trusted.
        let untrusting = reqwest::Client::builder()
            .tls_certs_only(Vec::<reqwest::Certificate>::new())
            .no_proxy()
            .build()
            .unwrap();
        assert!(
            untrusting
                .get(format!("https://127.0.0.1:{port}/ping"))
                .send()
                .await
                .is_err()
        );
        stop.send(()).unwrap();
    }
}
