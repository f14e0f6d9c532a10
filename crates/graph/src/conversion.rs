//! `POST /beta/users/{id}/convertExternalToInternalMemberUser`: turning an external user
//! back into an internal member, for users converted to B2B by mistake.
//!
//! Beta only (Microsoft: "APIs under the /beta version in Microsoft Graph are subject to
//! change"; microsoft-graph-docs-contrib api-reference/beta/api/
//! user-convertexternaltointernalmemberuser.md). Body: `userPrincipalName` and
//! `passwordProfile` for cloud users, nothing for users synced from on-premises (whose UPN
//! and password the on-premises directory masters), optional `mail`; answer 200
//! `conversionUserDetails`. Permissions: User-ConvertToInternal.ReadWrite.All (least) or
//! User.ReadWrite.All; a delegated caller must also hold at least User Administrator.
//!
//! The call is one-way, like `POST /invitations`: it is retried only on 429 and when the
//! connection was never made. A 5xx, a timeout or a cut connection after sending leaves
//! the outcome unknown ([`GraphError::outcome_unknown`]); the caller settles it by reading
//! the user back, never by sending it again blindly.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use crate::model::PasswordProfile;
use crate::retry::Idempotency;
use crate::throttle::ThrottleScope;
use crate::users::non_empty;

/// The body of `convertExternalToInternalMemberUser`; only `Some` fields are sent, and a
/// request with none sends no body at all (the synced-user form).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertToInternalRequest {
    /// The new UPN, in a verified (non-federated) domain; cloud users only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// The new password and whether it must be changed at next sign-in; cloud users only.
    /// The password is a secret: never in `Debug` output, only in the serialized body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_profile: Option<PasswordProfile>,
    /// A new mail address in a verified domain (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

/// `microsoft.graph.conversionUserDetails`: what Graph answers after a conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversionUserDetails {
    /// Display name.
    pub display_name: Option<String>,
    /// The user's UPN after the conversion.
    pub user_principal_name: Option<String>,
    /// The user's mail after the conversion.
    pub mail: Option<String>,
    /// When the user was converted. Kept as Graph's text: one of Microsoft's examples has
    /// no time zone (`9999-12-31T23:59:59.9999999`), and the value is only recorded. The
    /// resource page's table calls it `convertedToInternalDateTime`, its JSON
    /// `convertedToInternalUserDateTime`; both are read.
    #[serde(alias = "convertedToInternalDateTime")]
    pub converted_to_internal_user_date_time: Option<String>,
}

impl GraphClient {
    /// `POST {graph_root}beta/users/{id}/convertExternalToInternalMemberUser` (beta):
    /// converts an external user into an internal member. Never retried once it may have
    /// reached Graph (see the module docs).
    pub async fn convert_external_to_internal(
        &self,
        user_id: &str,
        request: &ConvertToInternalRequest,
    ) -> Result<ConversionUserDetails, GraphError> {
        non_empty(user_id, "user id")?;
        if request
            .password_profile
            .as_ref()
            .is_some_and(|p| p.password.is_none())
        {
            return Err(GraphError::InvalidRequest(
                "a passwordProfile without a password".into(),
            ));
        }
        let body = if *request == ConvertToInternalRequest::default() {
            None
        } else {
            Some(serde_json::to_vec(request).map_err(|e| {
                GraphError::InvalidRequest(format!("serializing the conversion: {e}"))
            })?)
        };
        let mut url = self.endpoints().beta_base();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend([
                "users",
                user_id,
                "convertExternalToInternalMemberUser",
            ]);
        }
        let response = self
            .execute(Call {
                method: Method::POST,
                body,
                idempotency: Idempotency::NotIdempotent,
                scope: ThrottleScope::Directory,
                ..Call::get(url)
            })
            .await?;
        response.json()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::SecretString;
    use serde_json::json;
    use url::Url;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::{ClientOptions, ClientSecretCredential, Endpoints, RetryPolicy};

    const CONVERT: &str = "/beta/users/u1/convertExternalToInternalMemberUser";

    async fn setup(timeout: Duration) -> (MockServer, GraphClient) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/t1/oauth2/v2.0/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "tok-1"})))
            .mount(&server)
            .await;
        let root = Url::parse(&server.uri()).unwrap();
        let endpoints = Endpoints::new(root.clone(), root).unwrap();
        let credential =
            ClientSecretCredential::new(&endpoints, "t1", "app-1", SecretString::from("s"))
                .with_timeout(Duration::ZERO);
        let options = ClientOptions {
            retry: RetryPolicy {
                max_attempts: 4,
                max_throttled_attempts: 4,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_total_delay: Duration::from_secs(5),
            },
            timeout,
            seed: Some(7),
            ..ClientOptions::default()
        };
        let client = GraphClient::new(endpoints, Arc::new(credential), options).unwrap();
        (server, client)
    }

    fn cloud_request() -> ConvertToInternalRequest {
        ConvertToInternalRequest {
            user_principal_name: Some("adele.vance@contoso.com".into()),
            password_profile: Some(PasswordProfile {
                password: Some(SecretString::from("Xq7!never-logged")),
                force_change_password_next_sign_in: Some(true),
                force_change_password_next_sign_in_with_mfa: None,
            }),
            mail: None,
        }
    }

    fn converted() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#microsoft.graph.conversionUserDetails",
            "displayName": "Adele Vance",
            "userPrincipalName": "adele.vance@contoso.com",
            "convertedToInternalUserDateTime": "2024-02-05T20:16:37.5012924Z",
            "mail": "adele@fabrikam.com"
        }))
    }

    async fn sent(server: &MockServer) -> Vec<wiremock::Request> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == CONVERT)
            .collect()
    }

    #[tokio::test]
    async fn posts_the_body_to_the_beta_url_and_reads_the_details() {
        let (server, client) = setup(Duration::ZERO).await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(converted())
            .mount(&server)
            .await;
        let details = client
            .convert_external_to_internal("u1", &cloud_request())
            .await
            .unwrap();
        assert_eq!(
            details.user_principal_name.as_deref(),
            Some("adele.vance@contoso.com")
        );
        assert_eq!(
            details.converted_to_internal_user_date_time.as_deref(),
            Some("2024-02-05T20:16:37.5012924Z")
        );
        let requests = sent(&server).await;
        assert_eq!(requests.len(), 1);
        let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(
            body,
            json!({"userPrincipalName": "adele.vance@contoso.com",
                   "passwordProfile": {"password": "Xq7!never-logged", "forceChangePasswordNextSignIn": true}})
        );
        assert!(
            !format!("{:?}", cloud_request()).contains("never-logged"),
            "the password never shows in Debug output"
        );
    }

    #[tokio::test]
    async fn a_synced_user_gets_no_body() {
        let (server, client) = setup(Duration::ZERO).await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(converted())
            .mount(&server)
            .await;
        client
            .convert_external_to_internal("u1", &ConvertToInternalRequest::default())
            .await
            .unwrap();
        let requests = sent(&server).await;
        assert!(requests[0].body.is_empty());
        assert!(requests[0].headers.get("content-type").is_none());
    }

    #[tokio::test]
    async fn not_retried_on_5xx_and_outcome_unknown() {
        for status in [500u16, 502, 503, 504] {
            let (server, client) = setup(Duration::ZERO).await;
            Mock::given(method("POST"))
                .and(path(CONVERT))
                .respond_with(ResponseTemplate::new(status).set_body_json(
                    json!({"error": {"code": "serviceUnavailable", "message": "later"}}),
                ))
                .mount(&server)
                .await;
            let error = client
                .convert_external_to_internal("u1", &cloud_request())
                .await
                .unwrap_err();
            assert!(error.outcome_unknown(), "{status}: {error}");
            assert_eq!(sent(&server).await.len(), 1, "{status} was retried");
        }
    }

    #[tokio::test]
    async fn not_retried_after_a_timeout() {
        let (server, client) = setup(Duration::from_millis(200)).await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(converted().set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        let error = client
            .convert_external_to_internal("u1", &cloud_request())
            .await
            .unwrap_err();
        assert!(error.outcome_unknown(), "{error}");
        assert_eq!(sent(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn retried_on_429() {
        let (server, client) = setup(Duration::ZERO).await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "0.01")
                    .set_body_json(
                        json!({"error": {"code": "TooManyRequests", "message": "slow"}}),
                    ),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(converted())
            .mount(&server)
            .await;
        client
            .convert_external_to_internal("u1", &cloud_request())
            .await
            .unwrap();
        assert_eq!(sent(&server).await.len(), 2);
    }

    #[tokio::test]
    async fn a_refusal_is_graphs_error_and_a_profile_without_password_is_not_sent() {
        let (server, client) = setup(Duration::ZERO).await;
        Mock::given(method("POST"))
            .and(path(CONVERT))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
                "code": "badRequest",
                "message": "The user authentication is already internal and is not eligible for conversion."}})))
            .mount(&server)
            .await;
        let error = client
            .convert_external_to_internal("u1", &cloud_request())
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(400));
        assert_eq!(error.code(), Some("badRequest"));
        assert!(!error.outcome_unknown());

        let mut request = cloud_request();
        if let Some(profile) = &mut request.password_profile {
            profile.password = None;
        }
        let error = client
            .convert_external_to_internal("u1", &request)
            .await
            .unwrap_err();
        assert!(matches!(error, GraphError::InvalidRequest(_)), "{error}");
        assert_eq!(sent(&server).await.len(), 1, "nothing more was sent");
    }
}
