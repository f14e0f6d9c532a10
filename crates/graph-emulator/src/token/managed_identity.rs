//! Managed identity tokens, whatever the host protocol: which identity a request names (or
//! the host's default one), which resource it may ask for, and the app-only token minted
//! for it. The two protocols' wire forms (App Service and IMDS) live in
//! [`crate::routes::managed_identity`].
//!
//! Tokens: `appid`/`azp` = the identity's client id, `idtyp` "app", `appidacr`/`azpacr` "2"
//! (the platform proves the identity, as a certificate would), `roles` and directory roles
//! from the tenant file, `oid`/`sub` = the identity's service principal (derived from the
//! client id, stable across runs), `xms_mirid` = the resource id of a user-assigned
//! identity (`/subscriptions/00000000-…/resourcegroups/emulator/providers/
//! Microsoft.ManagedIdentity/userAssignedIdentities/{clientId}`, invented: the tenant file
//! has no Azure resources). Lifetime 24 hours (86,399 s), as managed identity tokens have
//! (Azure DevOps' workload identity troubleshooting page, quoted in Azure/azure-cli#28915).
//!
//! The resource must be one the token endpoint serves: Graph (`https://graph.microsoft.com`,
//! a trailing slash allowed) or the emulator's own root, compared like the token endpoint's
//! `scope`; the token's `aud` is that resource without the slash.

use std::sync::atomic::Ordering;

use super::error::TokenError;
use super::service::{Identity, TokenService};
use crate::clock;
use crate::managed_identity::ManagedIdentityKind;

/// Lifetime of a managed identity token, in seconds.
pub const MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS: i64 = 86399;

/// How a request names its identity (at most one of the protocol's id parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentitySelector<'a> {
    /// No id parameter: the host's default identity.
    Default,
    /// `client_id`.
    ClientId(&'a str),
    /// `principal_id` / `object_id`: the service principal's object id.
    ObjectId(&'a str),
    /// `mi_res_id`: the Azure resource id of a user-assigned identity.
    ResourceId(&'a str),
}

/// Which identity a request without an id parameter gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultIdentity {
    /// Only the system-assigned one (App Service: "If all ID parameters are omitted, the
    /// system-assigned identity is used").
    SystemAssigned,
    /// The system-assigned one, else the only user-assigned one (IMDS: `client_id` is
    /// "Required, if your VM has multiple user-assigned managed identities").
    SystemOrSoleUserAssigned,
}

/// A minted managed identity token and what the protocols report about it.
#[derive(Debug, Clone)]
pub(crate) struct ManagedIdentityToken {
    pub(crate) access_token: String,
    pub(crate) client_id: String,
    pub(crate) not_before: i64,
    pub(crate) expires_on: i64,
}

impl TokenService {
    /// The identity a request names, if the tenant has it.
    pub(super) fn find_identity(
        &self,
        selector: IdentitySelector<'_>,
        default: DefaultIdentity,
    ) -> Option<&Identity> {
        let mut all = self.identities.values();
        match selector {
            IdentitySelector::ClientId(id) => self.identities.get(&id.to_ascii_lowercase()),
            IdentitySelector::ObjectId(id) => all.find(|i| i.object_id.eq_ignore_ascii_case(id)),
            IdentitySelector::ResourceId(id) => all.find(|i| {
                i.resource_id
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(id))
            }),
            IdentitySelector::Default => {
                let system = self
                    .identities
                    .values()
                    .find(|i| i.identity.kind == ManagedIdentityKind::SystemAssigned);
                match (system, default) {
                    (Some(system), _) => Some(system),
                    (None, DefaultIdentity::SystemAssigned) => None,
                    (None, DefaultIdentity::SystemOrSoleUserAssigned) => {
                        let mut user_assigned = self.identities.values();
                        match (user_assigned.next(), user_assigned.next()) {
                            (Some(only), None) => Some(only),
                            _ => None,
                        }
                    }
                }
            }
        }
    }

    /// The audience for a requested `resource`, or Entra's AADSTS500011.
    pub(crate) fn managed_identity_audience(&self, resource: &str) -> Result<String, TokenError> {
        let trimmed = resource.trim_end_matches('/');
        self.audiences()
            .into_iter()
            .find(|aud| !trimmed.is_empty() && aud.eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| {
                TokenError::new(
                    "invalid_resource",
                    500011,
                    format!("The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", self.tenant_id),
                )
            })
    }

    /// A token for the identity `selector` names (`None` when there is no such identity),
    /// for `audience` (from [`TokenService::managed_identity_audience`]).
    pub(crate) fn mint_managed_identity(
        &self,
        selector: IdentitySelector<'_>,
        default: DefaultIdentity,
        audience: &str,
    ) -> Option<Result<ManagedIdentityToken, TokenError>> {
        let identity = self.find_identity(selector, default)?;
        let now = clock::now_seconds();
        let mut claims = self.app_claims(
            &identity.identity.client_id,
            &identity.object_id,
            "2",
            audience,
            now,
            MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS,
            &identity.identity.roles,
        );
        claims.xms_mirid = identity.resource_id.clone();
        let expires_on = claims.exp;
        Some(self.sign(&claims).map(|access_token| {
            self.managed_identity_tokens.fetch_add(1, Ordering::Relaxed);
            ManagedIdentityToken {
                access_token,
                client_id: identity.identity.client_id.clone(),
                not_before: now,
                expires_on,
            }
        }))
    }

    /// Managed identity tokens issued since start or the last reset.
    pub fn managed_identity_token_count(&self) -> u64 {
        self.managed_identity_tokens.load(Ordering::Relaxed)
    }

    /// Sets the managed identity token count back to zero (`POST /_emulator/reset`).
    pub fn reset_managed_identity_token_count(&self) {
        self.managed_identity_tokens.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::managed_identity::ManagedIdentityKind::{SystemAssigned, UserAssigned};
    use crate::token::fixture::{SYSTEM_MI, USER_MI, USER_MI_2, mi_service};

    fn client_of(
        svc: &TokenService,
        selector: IdentitySelector<'_>,
        default: DefaultIdentity,
    ) -> Option<String> {
        svc.find_identity(selector, default)
            .map(|i| i.identity.client_id.clone())
    }

    #[test]
    fn identities_are_selected_by_any_id_or_by_default() {
        let svc = mi_service(&[
            (SYSTEM_MI, SystemAssigned),
            (USER_MI, UserAssigned),
            (USER_MI_2, UserAssigned),
        ]);
        let d = DefaultIdentity::SystemAssigned;
        assert_eq!(
            client_of(&svc, IdentitySelector::Default, d).unwrap(),
            SYSTEM_MI
        );
        assert_eq!(
            client_of(&svc, IdentitySelector::ClientId(&USER_MI.to_uppercase()), d).unwrap(),
            USER_MI
        );
        let object_id = svc.identities[USER_MI_2].object_id.clone();
        assert_eq!(
            client_of(&svc, IdentitySelector::ObjectId(&object_id), d).unwrap(),
            USER_MI_2
        );
        let resource = svc.identities[USER_MI].resource_id.clone().unwrap();
        assert_eq!(
            client_of(&svc, IdentitySelector::ResourceId(&resource), d).unwrap(),
            USER_MI
        );
        assert!(
            client_of(
                &svc,
                IdentitySelector::ClientId("00000000-0000-0000-0000-000000000000"),
                d
            )
            .is_none()
        );

        // Without a system-assigned identity: App Service finds none, IMDS the only
        // user-assigned one (and none when there are two).
        let imds = DefaultIdentity::SystemOrSoleUserAssigned;
        let svc = mi_service(&[(USER_MI, UserAssigned), (USER_MI_2, UserAssigned)]);
        assert!(client_of(&svc, IdentitySelector::Default, d).is_none());
        assert!(client_of(&svc, IdentitySelector::Default, imds).is_none());
        let svc = mi_service(&[(USER_MI, UserAssigned)]);
        assert!(client_of(&svc, IdentitySelector::Default, d).is_none());
        assert_eq!(
            client_of(&svc, IdentitySelector::Default, imds).unwrap(),
            USER_MI
        );
    }

    #[test]
    fn tokens_are_app_only_with_the_identity_roles() {
        let svc = mi_service(&[(SYSTEM_MI, SystemAssigned), (USER_MI, UserAssigned)]);
        let audience = svc
            .managed_identity_audience("https://graph.microsoft.com/")
            .unwrap();
        assert_eq!(audience, "https://graph.microsoft.com");
        assert_eq!(
            svc.managed_identity_audience("https://vault.azure.net")
                .unwrap_err()
                .code,
            500011
        );
        let token = svc
            .mint_managed_identity(
                IdentitySelector::ClientId(USER_MI),
                DefaultIdentity::SystemAssigned,
                &audience,
            )
            .unwrap()
            .unwrap();
        assert_eq!(token.client_id, USER_MI);
        assert_eq!(
            token.expires_on - token.not_before,
            MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS
        );
        let claims: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(&token.access_token).unwrap();
        assert_eq!(claims["appid"], USER_MI);
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(claims["appidacr"], "2");
        assert!(claims["xms_mirid"].as_str().unwrap().ends_with(USER_MI));
        assert_eq!(svc.managed_identity_token_count(), 1);

        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {}", token.access_token).parse().unwrap(),
        );
        let principal = svc.verify_bearer(&headers).unwrap();
        assert_eq!(principal.app_id, USER_MI);
        assert!(principal.roles.contains("User.Read.All"));
        assert!(principal.has_directory_role(&["User Administrator"]));
        assert!(principal.delegated.is_none());
    }
}
