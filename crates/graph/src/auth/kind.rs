//! The ways to sign in, named once: the `--auth` values, the order in which they are
//! tried when none is named, and what to tell an operator when one is refused.
//!
//! The order and the environment variables are those of Azure's own SDKs
//! (`EnvironmentCredential` → `WorkloadIdentityCredential` → `ManagedIdentityCredential`
//! → `AzureCliCredential` in azure-identity's `DefaultAzureCredential`), so a pipeline
//! or VM already set up for them works unchanged.

use std::fmt;
use std::str::FromStr;

/// One way of obtaining a Graph access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// OAuth2 client credentials with a client secret.
    Secret,
    /// OAuth2 client credentials with a certificate-signed client assertion.
    Certificate,
    /// OAuth2 client credentials with a federated token (workload identity federation).
    WorkloadIdentity,
    /// The Azure host's managed identity (App Service protocol or VM IMDS).
    ManagedIdentity,
    /// The Azure CLI's signed-in account (delegated rights).
    AzureCli,
    /// A bearer token obtained elsewhere, read from a file.
    AccessToken,
}

impl CredentialKind {
    /// Every kind, in the order they are tried when none is named. `AccessToken` comes
    /// last and is never picked on its own: it needs `--access-token-file`.
    pub const ALL: [CredentialKind; 6] = [
        CredentialKind::Secret,
        CredentialKind::Certificate,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
        CredentialKind::AzureCli,
        CredentialKind::AccessToken,
    ];

    /// The `--auth` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Secret => "secret",
            CredentialKind::Certificate => "certificate",
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::ManagedIdentity => "managed-identity",
            CredentialKind::AzureCli => "azure-cli",
            CredentialKind::AccessToken => "access-token",
        }
    }

    /// What an operator should do about a refusal of this kind, from Entra's AADSTS
    /// codes when it sent any (codes from Microsoft's error table,
    /// `reference-error-codes.md`).
    pub fn fix(self, error_codes: &[u64]) -> String {
        let has = |code: u64| error_codes.contains(&code);
        if has(90002) || has(90023) {
            return "check AZURE_TENANT_ID (--tenant-id): no tenant of that id or domain exists in this cloud".into();
        }
        if has(700016) {
            return "check AZURE_CLIENT_ID (--client-id) and AZURE_TENANT_ID: no application with that id exists in that tenant".into();
        }
        if has(7000215) || has(7000222) {
            return "the client secret is wrong or has expired: create a new one under App registrations > Certificates & secrets and pass it again".into();
        }
        if has(700027) || has(700023) || has(50027) {
            return "the certificate is not the one registered on the application: upload its public part under App registrations > Certificates & secrets, or point AZURE_CLIENT_CERTIFICATE_PATH at the right file".into();
        }
        if has(70021) || has(700211) || has(700212) || has(700213) {
            return "no federated credential of the application matches this token's issuer, subject and audience: add one under App registrations > Certificates & secrets > Federated credentials".into();
        }
        if has(700024) {
            return match self {
                CredentialKind::WorkloadIdentity => "the federated token in AZURE_FEDERATED_TOKEN_FILE has expired: the platform must refresh the file (or the job ran longer than the token lives)".into(),
                _ => "the client assertion is outside its validity window: check this machine's clock".into(),
            };
        }
        if has(65001) || has(500011) {
            return "the application has no consented permission for Microsoft Graph in this tenant: grant admin consent".into();
        }
        match self {
            CredentialKind::Secret => "check AZURE_CLIENT_SECRET (or --client-secret-file / --client-secret-stdin)".into(),
            CredentialKind::Certificate => "check AZURE_CLIENT_CERTIFICATE_PATH and AZURE_CLIENT_CERTIFICATE_PASSWORD".into(),
            CredentialKind::WorkloadIdentity => "check AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID".into(),
            CredentialKind::ManagedIdentity => "check that this host has a managed identity (and AZURE_CLIENT_ID for a user-assigned one) with Graph permissions granted".into(),
            CredentialKind::AzureCli => "run `az login` (with --tenant for the right tenant) and try again".into(),
            CredentialKind::AccessToken => "get a new access token for Microsoft Graph and write it to the --access-token-file".into(),
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CredentialKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown sign-in kind {s:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in CredentialKind::ALL {
            assert_eq!(kind.as_str().parse::<CredentialKind>(), Ok(kind));
        }
        assert!("password".parse::<CredentialKind>().is_err());
    }

    #[test]
    fn fixes_follow_the_aadsts_code_first() {
        assert!(
            CredentialKind::Certificate
                .fix(&[7000215])
                .contains("client secret")
        );
        assert!(
            CredentialKind::WorkloadIdentity
                .fix(&[700024])
                .contains("AZURE_FEDERATED_TOKEN_FILE")
        );
        assert!(CredentialKind::Certificate.fix(&[700024]).contains("clock"));
        assert!(CredentialKind::AzureCli.fix(&[]).contains("az login"));
    }
}
