//! `GET /tenantRelationships/findTenantInformationByDomainName(domainName='{domain}')`:
//! which Entra tenant verified a domain (GD
//! v1.0/api/tenantrelationship-findtenantinformationbydomainname.md). Answers from the
//! tenant file's `partnerTenants` ([`crate::partners`]) and, for the tenant's own verified
//! domains, the tenant itself.
//!
//! Permission: CrossTenantInformation.ReadBasic.All (delegated or application; the
//! signed-in user needs no role). 200 with a `tenantInformation` (`tenantId`,
//! `federationBrandName`, `displayName`, `defaultDomainName`) and Graph's
//! `@odata.context`.
//!
//! Choices where Microsoft documents nothing:
//! - A domain no tenant verified is 404 `Request_ResourceNotFound` with Graph's generic
//!   wording. Microsoft's own `Resolve-EntraIdTenant` treats an HTTP 404 as "not found"
//!   (microsoftgraph/entra-powershell, Resolve-EntraIdTenant.ps1); the body's code is
//!   unconfirmed.
//! - The tenant's own domains answer with its own tenant: display name and default
//!   domain are the tenant's default domain (the emulator has no organization name) and
//!   its initial domain.
//! - The function segment is matched exactly (name, parameter name, single quotes; `''`
//!   inside the literal is a quote); anything else is the unknown-segment 400.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::invitations::organisation;
use super::{AppState, Ctx, json};
use crate::error::GraphError;

const FUNCTION: &str = "findTenantInformationByDomainName";

/// The domain named by `findTenantInformationByDomainName(domainName='…')`.
fn domain_parameter(segment: &str) -> Option<String> {
    let literal = segment
        .strip_prefix(FUNCTION)?
        .strip_prefix("(domainName='")?
        .strip_suffix("')")?;
    // A lone quote would have ended the literal.
    if literal.replace("''", "").contains('\'') {
        return None;
    }
    Some(literal.replace("''", "'"))
}

/// `GET /tenantRelationships/{function}`.
pub async fn function(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(segment): Path<String>,
) -> Response {
    let result = (|| {
        let Some(domain) = domain_parameter(&segment) else {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Resource not found for the segment '{segment}'."),
            ));
        };
        ctx.require(&["CrossTenantInformation.ReadBasic.All"])?;
        let dir = app.dir.read();
        let information: Value = if dir.is_verified_domain(&domain) {
            json!({
                "tenantId": dir.tenant_id,
                "federationBrandName": null,
                "displayName": organisation(&dir),
                "defaultDomainName": dir.initial_domain,
            })
        } else {
            dir.partner_for_domain(&domain)
                .map(|p| p.tenant_information())
                .ok_or_else(|| GraphError::not_found(&domain))?
        };
        let mut body = json!({
            "@odata.context": format!("{}v1.0/$metadata#microsoft.graph.tenantInformation", app.root)
        });
        if let (Some(out), Value::Object(fields)) = (body.as_object_mut(), information) {
            out.extend(fields);
        }
        Ok(json(StatusCode::OK, body))
    })();
    ctx.finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_function_call() {
        assert_eq!(
            domain_parameter("findTenantInformationByDomainName(domainName='fabrikam.com')"),
            Some("fabrikam.com".into())
        );
        assert_eq!(
            domain_parameter("findTenantInformationByDomainName(domainName='o''x.com')"),
            Some("o'x.com".into())
        );
        for bad in [
            "findTenantInformationByDomainName(domainName=fabrikam.com)",
            "findtenantinformationbydomainname(domainName='fabrikam.com')",
            "findTenantInformationByDomainName(domain='fabrikam.com')",
            "findTenantInformationByDomainName(domainName='a'b')",
            "findTenantInformationByTenantId(tenantId='x')",
        ] {
            assert_eq!(domain_parameter(bad), None, "{bad}");
        }
    }
}
