//! `/users` operations.

use reqwest::Method;

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use crate::model::{DirectoryRole, User, UserUpdate};
use crate::odata::ListQuery;
use crate::retry::Idempotency;
use crate::throttle::ThrottleScope;

impl GraphClient {
    /// `GET /users/{id or UPN}`; `Ok(None)` on 404. The id is percent-encoded
    /// as one path segment (guest UPNs contain `#EXT#`).
    pub async fn get_user(
        &self,
        id_or_upn: &str,
        select: &[&str],
    ) -> Result<Option<User>, GraphError> {
        non_empty(id_or_upn, "user id")?;
        let pairs: Vec<(&str, String)> = if select.is_empty() {
            Vec::new()
        } else {
            vec![("$select", select.join(","))]
        };
        let url = self.url_with_query(&["users", id_or_upn], &pairs);
        match self.get_json::<User>(url).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /users` with all pages.
    pub async fn list_users(&self, query: &ListQuery) -> Result<Vec<User>, GraphError> {
        let url = self.url_with_query(&["users"], &query.pairs());
        self.get_all(url, query.advanced).await
    }

    /// Every user matching `query`, one page at a time (`$top=999` pages are the
    /// cheapest way to read a whole tenant): `f` sees each page as it arrives.
    pub async fn each_user_page(
        &self,
        query: &ListQuery,
        f: &mut (dyn FnMut(Vec<User>) + Send),
    ) -> Result<(), GraphError> {
        let url = self.url_with_query(&["users"], &query.pairs());
        self.each_page(url, query.advanced, f).await
    }

    /// How many users the tenant has (`GET /users/$count`, an advanced query).
    pub async fn count_users(&self) -> Result<u64, GraphError> {
        let response = self
            .execute(Call {
                eventual: true,
                ..Call::get(self.url(&["users", "$count"]))
            })
            .await?;
        let text = String::from_utf8_lossy(&response.body);
        text.trim().parse().map_err(|_| GraphError::Decode {
            message: format!(
                "`{}` is not a user count",
                text.chars().take(80).collect::<String>()
            ),
            request_id: response.request_id.clone(),
        })
    }

    /// `PATCH /users/{id}` (204). Retried like any idempotent call: the same
    /// body applied twice has the same effect.
    pub async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<(), GraphError> {
        non_empty(user_id, "user id")?;
        let body = serde_json::to_vec(update)
            .map_err(|e| GraphError::InvalidRequest(format!("serializing user update: {e}")))?;
        if body == b"{}" {
            return Err(GraphError::InvalidRequest(
                "user update sets no property".into(),
            ));
        }
        self.execute(Call {
            method: Method::PATCH,
            body: Some(body),
            ..Call::get(self.url(&["users", user_id]))
        })
        .await
        .map(drop)
    }

    /// `POST /users/{id}/revokeSignInSessions`. Idempotent by nature, so
    /// retried like a GET.
    pub async fn revoke_sign_in_sessions(&self, user_id: &str) -> Result<(), GraphError> {
        non_empty(user_id, "user id")?;
        self.execute(Call {
            method: Method::POST,
            idempotency: Idempotency::Idempotent,
            scope: ThrottleScope::Directory,
            ..Call::get(self.url(&["users", user_id, "revokeSignInSessions"]))
        })
        .await
        .map(drop)
    }

    /// Activated directory roles the user holds directly or through groups:
    /// `GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole`
    /// with `ConsistencyLevel: eventual` and `$count=true` (the cast needs both).
    pub async fn user_directory_roles(
        &self,
        user_id: &str,
    ) -> Result<Vec<DirectoryRole>, GraphError> {
        non_empty(user_id, "user id")?;
        let url = self.url_with_query(
            &[
                "users",
                user_id,
                "transitiveMemberOf",
                "microsoft.graph.directoryRole",
            ],
            &[("$count", "true".to_string())],
        );
        self.get_all(url, true).await
    }
}

pub(crate) fn non_empty(value: &str, what: &str) -> Result<(), GraphError> {
    if value.trim().is_empty() {
        Err(GraphError::InvalidRequest(format!("{what} is empty")))
    } else {
        Ok(())
    }
}
