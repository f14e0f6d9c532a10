//! `POST /invitations`, paced tenant-wide and never blindly retried.

use reqwest::Method;

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use crate::model::{Invitation, InvitationRequest, InvitedUserRef};
use crate::retry::Idempotency;
use crate::throttle::ThrottleScope;
use crate::users::non_empty;

impl GraphClient {
    /// Convert an existing (internal) user into a B2B user: sets
    /// `invitedUser.id = user_id` and checks the **serialized** body really
    /// contains it before sending. A body without it would be treated by
    /// Graph as a brand-new guest ("The invited user already exists…").
    ///
    /// Fails with [`GraphError::InvalidRequest`] (nothing sent) when
    /// `invitation.invited_user` names a different user.
    pub async fn invite_existing_user(
        &self,
        user_id: &str,
        invitation: &InvitationRequest,
    ) -> Result<Invitation, GraphError> {
        non_empty(user_id, "user id")?;
        if let Some(existing) = &invitation.invited_user
            && existing.id != user_id
        {
            return Err(GraphError::InvalidRequest(format!(
                "invitation targets user {} but {user_id} was asked for",
                existing.id
            )));
        }
        let mut req = invitation.clone();
        req.invited_user = Some(InvitedUserRef {
            id: user_id.to_string(),
            user_principal_name: None,
        });
        let value = serde_json::to_value(&req)
            .map_err(|e| GraphError::InvalidRequest(format!("serializing invitation: {e}")))?;
        let sent_id = value.pointer("/invitedUser/id").and_then(|v| v.as_str());
        if sent_id != Some(user_id) {
            return Err(GraphError::InvalidRequest(format!(
                "serialized invitation lacks invitedUser.id {user_id}; refusing to create a new guest"
            )));
        }
        self.send_invitation(&req, &value).await
    }

    /// General `POST /invitations`.
    pub async fn create_invitation(
        &self,
        invitation: &InvitationRequest,
    ) -> Result<Invitation, GraphError> {
        let value = serde_json::to_value(invitation)
            .map_err(|e| GraphError::InvalidRequest(format!("serializing invitation: {e}")))?;
        self.send_invitation(invitation, &value).await
    }

    async fn send_invitation(
        &self,
        req: &InvitationRequest,
        value: &serde_json::Value,
    ) -> Result<Invitation, GraphError> {
        non_empty(&req.invited_user_email_address, "invitedUserEmailAddress")?;
        non_empty(&req.invite_redirect_url, "inviteRedirectUrl")?;
        if req.reset_redemption == Some(true)
            && req
                .invited_user
                .as_ref()
                .is_none_or(|u| u.id.trim().is_empty())
        {
            return Err(GraphError::InvalidRequest(
                "resetRedemption requires invitedUser.id".into(),
            ));
        }
        let body = serde_json::to_vec(value)
            .map_err(|e| GraphError::InvalidRequest(format!("serializing invitation: {e}")))?;
        let resp = self
            .execute(Call {
                method: Method::POST,
                body: Some(body),
                idempotency: Idempotency::NotIdempotent,
                scope: ThrottleScope::Invitations,
                paced: 1,
                ..Call::get(self.url(&["invitations"]))
            })
            .await?;
        resp.json()
    }
}
