//! Delegated (user) access tokens, as a public client such as the Azure CLI holds after a
//! user signs in: the emulator has no interactive sign-in, so tests mint them through
//! `POST /_emulator/tokens/delegated` ([`crate::routes::emulator_tokens`]).
//!
//! They are signed with the same key and carry the same issuer and audience as app tokens,
//! but `idtyp` "user", `scp` (space-separated delegated permissions) instead of `roles`,
//! `oid` = the user's object id, `upn`, `appid`/`azp` = the public client and `appidacr`/
//! `azpacr` "0" (a public client proves nothing about itself). `sub` is pairwise per client,
//! as Entra's is.

use super::error::TokenError;
use super::service::{AccessClaims, GRAPH_RESOURCE, TokenService, derived_guid};
use crate::clock;

/// The Azure CLI's public client id, the default client of delegated tokens.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Who a delegated token is for and what it may do.
#[derive(Debug, Clone)]
pub struct DelegatedGrant<'a> {
    /// The signed-in user's object id.
    pub user_id: &'a str,
    /// The signed-in user's userPrincipalName.
    pub user_principal_name: &'a str,
    /// The public client the user signed in to.
    pub client_id: &'a str,
    /// Delegated permissions consented for the client, e.g. `User.ReadWrite.All`.
    pub scopes: &'a [String],
}

impl TokenService {
    /// A Graph access token for a signed-in user, valid for `lifetime_seconds` from now
    /// (negative: already expired). Returns the token and its `exp`.
    pub fn mint_delegated(
        &self,
        grant: &DelegatedGrant<'_>,
        lifetime_seconds: i64,
    ) -> Result<(String, i64), TokenError> {
        let now = clock::now_seconds();
        let exp = now.saturating_add(lifetime_seconds);
        // An expired token was valid once: its nbf lies before its exp.
        let issued_at = now.min(exp.saturating_sub(60));
        let claims = AccessClaims {
            aud: GRAPH_RESOURCE.to_owned(),
            iss: self.access_issuer(),
            iat: issued_at,
            nbf: issued_at,
            exp,
            tid: self.tenant_id.clone(),
            appid: grant.client_id.to_owned(),
            azp: grant.client_id.to_owned(),
            appidacr: "0".to_owned(),
            azpacr: "0".to_owned(),
            oid: grant.user_id.to_owned(),
            sub: derived_guid(&format!("sub:{}:{}", grant.client_id, grant.user_id)),
            idtyp: "user".to_owned(),
            ver: "1.0".to_owned(),
            roles: None,
            scp: Some(grant.scopes.join(" ")),
            upn: Some(grant.user_principal_name.to_owned()),
            xms_mirid: None,
        };
        Ok((self.sign(&claims)?, exp))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};
    use serde_json::Value;

    use super::*;
    use crate::token::fixture::{TENANT, service, test_cert};

    #[test]
    fn delegated_tokens_carry_scp_and_the_user() {
        let svc = service(&test_cert());
        let scopes = vec![
            "User.ReadWrite.All".to_owned(),
            "User.Invite.All".to_owned(),
        ];
        let grant = DelegatedGrant {
            user_id: "d0000000-0000-4000-8000-000000000001",
            user_principal_name: "admin@contoso.com",
            client_id: AZURE_CLI_CLIENT_ID,
            scopes: &scopes,
        };
        let (token, exp) = svc.mint_delegated(&grant, 3599).unwrap();
        assert!(exp > clock::now_seconds() + 3500);
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        assert_eq!(claims["idtyp"], "user");
        assert_eq!(claims["scp"], "User.ReadWrite.All User.Invite.All");
        assert_eq!(claims["appidacr"], "0");
        assert_eq!(claims["upn"], "admin@contoso.com");
        assert!(claims.get("roles").is_none());

        let mut headers = HeaderMap::new();
        let bearer = |t: &str| HeaderValue::from_str(&format!("Bearer {t}")).unwrap();
        headers.insert(header::AUTHORIZATION, bearer(&token));
        let principal = svc.verify_bearer(&headers).unwrap();
        assert_eq!(principal.app_id, AZURE_CLI_CLIENT_ID);
        assert_eq!(principal.tenant_id, TENANT);
        let user = principal.delegated.as_ref().unwrap();
        assert_eq!(user.user_id, "d0000000-0000-4000-8000-000000000001");
        assert_eq!(user.user_principal_name, "admin@contoso.com");
        assert!(principal.scopes.contains("User.Invite.All"));
        assert!(principal.roles.is_empty());
        assert_eq!(
            principal
                .require_any(&["User.Read.All", "User.ReadWrite.All"])
                .unwrap(),
            "User.ReadWrite.All"
        );

        let (expired, _) = svc.mint_delegated(&grant, -10).unwrap();
        headers.insert(header::AUTHORIZATION, bearer(&expired));
        assert_eq!(
            svc.verify_bearer(&headers).unwrap_err().message,
            "Access token has expired or is not yet valid."
        );
    }
}
