//! An RSA signing key generated per run, and what a verifier needs of it (decoding key, key
//! id, JWK). The token service signs access tokens with one; the emulator's federation
//! issuer signs external tokens with another, so neither can stand in for the other.

use aws_lc_rs::digest;
use aws_lc_rs::signature::KeyPair as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use super::service::b64url;

/// A fresh RS256 key pair, never written anywhere.
pub(super) struct SigningKey {
    encoding_key: EncodingKey,
    pub(super) decoding_key: DecodingKey,
    pub(super) kid: String,
    jwk_n: String,
    jwk_e: String,
}

impl SigningKey {
    /// Generates a 2048-bit RSA key.
    pub(super) fn generate() -> Result<Self, String> {
        let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| format!("cannot generate a signing key: {e}"))?;
        let encoding_key = EncodingKey::from_rsa_pem(signing.serialize_pem().as_bytes())
            .map_err(|e| format!("cannot load the signing key: {e}"))?;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&signing.serialize_der())
            .map_err(|e| format!("cannot read the signing key: {e}"))?;
        let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let decoding_key = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        let kid = b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &public.n).as_ref());
        Ok(Self {
            encoding_key,
            decoding_key,
            kid,
            jwk_n: b64url(&public.n),
            jwk_e: b64url(&public.e),
        })
    }

    /// Signs `claims` as an RS256 JWT naming this key (`kid`, and `x5t` as Entra's do).
    pub(super) fn sign(
        &self,
        claims: &impl Serialize,
        x5t: bool,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.kid.clone());
        if x5t {
            header.x5t = Some(self.kid.clone());
        }
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
    }

    /// The public key as a JWK, with `extra` members (e.g. `issuer`) added.
    pub(super) fn jwk(&self, extra: &[(&str, &str)]) -> Value {
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": self.jwk_n,
            "e": self.jwk_e,
        });
        if let Some(map) = jwk.as_object_mut() {
            for (k, v) in extra {
                map.insert((*k).to_owned(), Value::String((*v).to_owned()));
            }
        }
        jwk
    }
}
