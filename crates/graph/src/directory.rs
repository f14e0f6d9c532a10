//! Directory-wide reads: groups, org contacts, domains, directory roles.

use crate::client::GraphClient;
use crate::error::GraphError;
use crate::model::{DirectoryObject, DirectoryRole, Domain, GroupMember};
use crate::odata::ListQuery;
use crate::users::non_empty;

impl GraphClient {
    /// `GET /groups` with all pages.
    pub async fn list_groups(&self, query: &ListQuery) -> Result<Vec<DirectoryObject>, GraphError> {
        let url = self.url_with_query(&["groups"], &query.pairs());
        self.get_all(url, query.advanced).await
    }

    /// Every group matching `query`, one page at a time.
    pub async fn each_group_page(
        &self,
        query: &ListQuery,
        f: &mut (dyn FnMut(Vec<DirectoryObject>) + Send),
    ) -> Result<(), GraphError> {
        let url = self.url_with_query(&["groups"], &query.pairs());
        self.each_page(url, query.advanced, f).await
    }

    /// Every direct member of a group (`GET /groups/{id}/members`), one page at a
    /// time; `query.select` names the user properties wanted (Graph leaves out those a
    /// member's type lacks). Nested groups appear as members, not expanded.
    pub async fn each_group_member_page(
        &self,
        group_id: &str,
        query: &ListQuery,
        f: &mut (dyn FnMut(Vec<GroupMember>) + Send),
    ) -> Result<(), GraphError> {
        non_empty(group_id, "group id")?;
        let url = self.url_with_query(&["groups", group_id, "members"], &query.pairs());
        self.each_page(url, query.advanced, f).await
    }

    /// Every organisational contact matching `query`, one page at a time.
    pub async fn each_org_contact_page(
        &self,
        query: &ListQuery,
        f: &mut (dyn FnMut(Vec<DirectoryObject>) + Send),
    ) -> Result<(), GraphError> {
        let url = self.url_with_query(&["contacts"], &query.pairs());
        self.each_page(url, query.advanced, f).await
    }

    /// `GET /contacts` (organisational contacts) with all pages.
    pub async fn list_org_contacts(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<DirectoryObject>, GraphError> {
        let url = self.url_with_query(&["contacts"], &query.pairs());
        self.get_all(url, query.advanced).await
    }

    /// `GET /domains`.
    pub async fn list_domains(&self) -> Result<Vec<Domain>, GraphError> {
        self.get_all(self.url(&["domains"]), false).await
    }

    /// `GET /directoryRoles` (activated roles only).
    pub async fn list_directory_roles(&self) -> Result<Vec<DirectoryRole>, GraphError> {
        self.get_all(self.url(&["directoryRoles"]), false).await
    }

    /// `GET /directoryRoles/{id}/members` with all pages.
    pub async fn list_directory_role_members(
        &self,
        role_id: &str,
    ) -> Result<Vec<DirectoryObject>, GraphError> {
        non_empty(role_id, "role id")?;
        self.get_all(self.url(&["directoryRoles", role_id, "members"]), false)
            .await
    }
}
