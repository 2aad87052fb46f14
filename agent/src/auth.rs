//! Who is calling: one layer around every route resolves a `Caller` (see
//! `axonflow_platform::http::caller` for the rules of both modes and of the admin key) and answers
//! 401 in the endpoint's own shape (OpenAI's on `/v1/*`) when it cannot.
//!
//! The admin API (`/api/v1/admin/*`, bearer `ADMIN_API_KEY`) and internal calls (`/internal/*`,
//! signed with the service secret) have layers of their own and get no `Caller`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use axonflow_platform::http::caller::{self, CallerRejection, CallerSettings};
pub use axonflow_platform::http::caller::{Caller, Rights, DEFAULT_TENANT};

use crate::error::{ApiError, BodyLimit, OpenAiError};
use crate::state::AppState;

/// Routes that answer without credentials in every mode.
pub const PUBLIC_PATHS: &[&str] = &["/health"];

fn has_own_layer(path: &str) -> bool {
    path == "/api/v1/admin" || path.starts_with("/api/v1/admin/") || path.starts_with("/internal/")
}

fn refusal(path: &str, rejection: CallerRejection) -> Response {
    match (path.starts_with("/v1/"), rejection) {
        (true, CallerRejection::Unauthorized(message)) => {
            OpenAiError::Unauthorized { message }.into_response()
        }
        (false, CallerRejection::Unauthorized(message)) => {
            ApiError::Unauthorized { message }.into_response()
        }
        (true, CallerRejection::Unavailable) => OpenAiError::PoliciesUnavailable.into_response(),
        (false, CallerRejection::Unavailable) => ApiError::Unavailable.into_response(),
    }
}

/// Resolves the caller and stores it in the request's extensions, or answers 401.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    request
        .extensions_mut()
        .insert(BodyLimit(state.config().max_body_bytes));
    let path = request.uri().path().to_owned();
    if has_own_layer(&path) {
        return next.run(request).await;
    }
    let resolved = caller::attach(
        CallerSettings::of(&state.config().common),
        state.clients(),
        state.pool(),
        &mut request,
        PUBLIC_PATHS.contains(&path.as_str()),
    )
    .await;
    match resolved {
        Ok(()) => next.run(request).await,
        Err(rejection) => {
            tracing::info!(%path, "request refused: no valid credentials");
            refusal(&path, rejection)
        }
    }
}
