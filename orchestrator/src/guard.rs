//! Who may write: providers, dynamic policies and budgets are open in community mode without
//! `ADMIN_API_KEY` (logged as a warning); otherwise they need the admin key or, in enterprise mode,
//! a client flagged `tenant_admin` (acting on its own tenant, the only one it reaches). Reads need
//! ordinary credentials and show only the caller's tenant.

use axonflow_platform::http::api_error::ApiError;
use axonflow_platform::http::caller::{Caller, Rights};

/// Refuses (403) a write by a caller without the rights to make it.
pub fn require_write(caller: &Caller, what: &str) -> Result<(), ApiError> {
    match caller.rights {
        Rights::Admin | Rights::TenantAdmin => Ok(()),
        Rights::None if caller.may_administer() => {
            tracing::warn!(actor = %caller.actor, what, "write without admin rights: set ADMIN_API_KEY to require them");
            Ok(())
        }
        Rights::None => Err(ApiError::Forbidden {
            message: format!(
                "changing {what} needs admin rights: Authorization: Bearer <ADMIN_API_KEY>, or in enterprise \
                 mode a client with tenant_admin"
            ),
            code: "admin_rights_required",
        }),
    }
}
