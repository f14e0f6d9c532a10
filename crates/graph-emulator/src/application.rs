//! An application registration of the tenant file: the client that may ask for tokens, and
//! the credentials it may prove itself with (secret, certificates, federated identities).

use serde::{Deserialize, Serialize};

/// One entry of the tenant file's `applications` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// The application (client) id.
    pub client_id: String,
    /// The client secret, when the app authenticates with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// PEM-encoded X.509 certificates whose keys may sign client assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// Workload identity federation: external tokens the app may present as its client
    /// assertion (Graph's `federatedIdentityCredentials` of an application).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_identity_credentials: Vec<FederatedIdentityCredential>,
    /// Application permissions (app roles) granted with admin consent, e.g. `User.Invite.All`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Entra directory roles assigned to the app's service principal, e.g. `User Administrator`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<String>,
}

/// Most federated identity credentials one application may have (Microsoft's limit,
/// learn.microsoft.com "application-post-federatedidentitycredentials").
pub const MAX_FEDERATED_CREDENTIALS: usize = 20;

/// Graph's `federatedIdentityCredential`: which external tokens (issuer, subject, audience)
/// the app trusts in place of a secret or certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedIdentityCredential {
    /// Unique (per application) name of the credential.
    pub name: String,
    /// The external token's `iss`, matched exactly; [`crate::token::FEDERATION_ISSUER`]
    /// stands for the emulator's own issuer.
    pub issuer: String,
    /// The external token's `sub`, matched exactly (case-sensitive, as Entra does since 2024).
    pub subject: String,
    /// Values the external token's `aud` may take; normally `api://AzureADTokenExchange`.
    pub audiences: Vec<String>,
}

impl FederatedIdentityCredential {
    /// Checks this credential as the next one of an application that already has `others`:
    /// non-empty `name`, `issuer` (an absolute URL), `subject` and `audiences`; a name and an
    /// issuer + subject pair unique in the application (Microsoft's rules, learn.microsoft.com
    /// "workload-identity-federation-considerations"); at most
    /// [`MAX_FEDERATED_CREDENTIALS`]. The error names the field at fault.
    pub fn check(
        &self,
        others: &[FederatedIdentityCredential],
    ) -> Result<(), (&'static str, String)> {
        for (field, value) in [
            ("name", &self.name),
            ("issuer", &self.issuer),
            ("subject", &self.subject),
        ] {
            if value.trim().is_empty() {
                return Err((field, "must not be empty".to_owned()));
            }
        }
        if url::Url::parse(&self.issuer).is_err() {
            return Err(("issuer", "not an absolute URL".to_owned()));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err((
                "audiences",
                "at least one non-empty audience is needed (normally api://AzureADTokenExchange)"
                    .to_owned(),
            ));
        }
        if others.len() >= MAX_FEDERATED_CREDENTIALS {
            return Err((
                "name",
                format!(
                    "an application has at most {MAX_FEDERATED_CREDENTIALS} federated identity credentials"
                ),
            ));
        }
        if others
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&self.name))
        {
            return Err(("name", format!("duplicate name {:?}", self.name)));
        }
        if others
            .iter()
            .any(|o| o.issuer == self.issuer && o.subject == self.subject)
        {
            return Err((
                "subject",
                "another credential of this application has the same issuer and subject".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fic(name: &str, subject: &str) -> FederatedIdentityCredential {
        FederatedIdentityCredential {
            name: name.to_owned(),
            issuer: "https://token.actions.githubusercontent.com".to_owned(),
            subject: subject.to_owned(),
            audiences: vec!["api://AzureADTokenExchange".to_owned()],
        }
    }

    #[test]
    fn credentials_need_every_field_and_unique_names_and_pairs() {
        let first = fic("main", "repo:contoso/b2b:ref:refs/heads/main");
        assert!(first.check(&[]).is_ok());
        let others = [first.clone()];
        assert_eq!(fic("MAIN", "other").check(&others).unwrap_err().0, "name");
        assert_eq!(
            fic("second", &first.subject).check(&others).unwrap_err().0,
            "subject"
        );
        assert_eq!(fic("", "s").check(&[]).unwrap_err().0, "name");
        let mut bad = fic("x", "s");
        bad.issuer = "not a url".into();
        assert_eq!(bad.check(&[]).unwrap_err().0, "issuer");
        bad = fic("x", "s");
        bad.audiences.clear();
        assert_eq!(bad.check(&[]).unwrap_err().0, "audiences");
        let many: Vec<_> = (0..MAX_FEDERATED_CREDENTIALS)
            .map(|i| fic(&format!("n{i}"), &format!("s{i}")))
            .collect();
        assert!(fic("one-more", "s-new").check(&many).is_err());
    }
}
