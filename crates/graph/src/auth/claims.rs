//! Reading an access token's claims for diagnostics: who it is for, what it grants and
//! when it lapses. Microsoft says not to validate Graph tokens on the client (graph-facts
//! §7), and nothing here does: the signature is not checked and nothing is decided from
//! these claims that Graph would not refuse anyway. They let `apply` say which permission
//! is missing before it changes anything, and an access-token file say when it lapses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

/// What an access token says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// Application permissions (`roles`) of an app-only token.
    pub roles: Vec<String>,
    /// Delegated scopes (`scp`, space-separated) of a token acting for a person.
    pub scopes: Vec<String>,
    /// `aud`: the resource the token is for.
    pub audience: Option<String>,
    /// `appid` (v1) or `azp` (v2): the application that asked for it.
    pub app_id: Option<String>,
    /// `tid`: the tenant.
    pub tenant_id: Option<String>,
    /// `upn` or `unique_name`: the person, for a delegated token.
    pub user: Option<String>,
    /// `exp`.
    pub expires_at: Option<Timestamp>,
}

#[derive(serde::Deserialize)]
struct Raw {
    #[serde(default)]
    roles: Vec<String>,
    scp: Option<String>,
    aud: Option<serde_json::Value>,
    appid: Option<String>,
    azp: Option<String>,
    tid: Option<String>,
    upn: Option<String>,
    unique_name: Option<String>,
    exp: Option<i64>,
}

impl TokenClaims {
    /// The claims of a JWT access token; `None` when it is not a readable JWT (Entra may
    /// hand out opaque tokens for other resources, never for Graph today).
    ///
    /// ```
    /// use b2b_graph::TokenClaims;
    /// // header.payload.signature with payload {"roles":["User.Invite.All"],"exp":1800000000}
    /// let jwt = "e30.eyJyb2xlcyI6WyJVc2VyLkludml0ZS5BbGwiXSwiZXhwIjoxODAwMDAwMDAwfQ.c2ln";
    /// let claims = TokenClaims::decode(jwt).unwrap();
    /// assert_eq!(claims.roles, ["User.Invite.All"]);
    /// assert!(!claims.is_delegated());
    /// ```
    pub fn decode(token: &str) -> Option<TokenClaims> {
        let mut parts = token.trim().split('.');
        let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let raw: Raw = serde_json::from_slice(&bytes).ok()?;
        Some(TokenClaims {
            roles: raw.roles,
            scopes: raw
                .scp
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            audience: match raw.aud {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Array(a)) => {
                    a.first().and_then(|v| v.as_str()).map(str::to_owned)
                }
                _ => None,
            },
            app_id: raw.appid.or(raw.azp),
            tenant_id: raw.tid,
            user: raw.upn.or(raw.unique_name),
            expires_at: raw.exp.and_then(|e| Timestamp::from_second(e).ok()),
        })
    }

    /// Whether the token acts for a signed-in person (delegated `scp`) rather than as an
    /// application (`roles`).
    pub fn is_delegated(&self) -> bool {
        !self.scopes.is_empty() || self.user.is_some()
    }

    /// The permissions it carries: scopes for a delegated token, roles for an app token.
    pub fn permissions(&self) -> &[String] {
        if self.is_delegated() {
            &self.scopes
        } else {
            &self.roles
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn delegated_and_app_tokens() {
        let d = TokenClaims::decode(&jwt(
            r#"{"scp":"User.ReadWrite.All User.Invite.All","upn":"admin@contoso.com","aud":"https://graph.microsoft.com","appid":"04b0","exp":1800000000}"#,
        ))
        .unwrap();
        assert!(d.is_delegated());
        assert_eq!(d.permissions(), ["User.ReadWrite.All", "User.Invite.All"]);
        assert_eq!(d.user.as_deref(), Some("admin@contoso.com"));
        assert_eq!(d.expires_at.map(|t| t.as_second()), Some(1_800_000_000));
        let a = TokenClaims::decode(&jwt(r#"{"roles":["User.Read.All"],"azp":"app"}"#)).unwrap();
        assert!(!a.is_delegated());
        assert_eq!(a.permissions(), ["User.Read.All"]);
        assert_eq!(a.app_id.as_deref(), Some("app"));
        assert_eq!(TokenClaims::decode("opaque-token"), None);
        assert_eq!(TokenClaims::decode("a.!!.c"), None);
    }
}
