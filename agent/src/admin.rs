//! The admin API (`/api/v1/admin/*`), used by the terminal portal: clients (create, list, read,
//! change, rotate the secret, delete), the admin audit log and the audit trail across tenants;
//! tenants with their policies and overrides (`tenants.rs`); the audit tail and decision
//! statistics (`activity.rs`). Bearer `ADMIN_API_KEY`; without a configured key the whole API
//! answers 404. Every change is written to `admin_audit_log` in the same transaction as the change
//! itself. A client secret is shown exactly once, in the answer that created it (create, rotate);
//! only its argon2id hash is stored.

mod activity;
mod tenants;

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use axonflow_platform::config::Secret;
use axonflow_platform::credentials;
use axonflow_platform::db::{self, AdminEntry, AuditQuery, ClientChanges, ClientRecord, DbError};
use axonflow_platform::http::caller::{self, is_valid_scope_id};

use crate::error::{ApiError, ApiJson, Problem};
use crate::state::AppState;
use crate::time::rfc3339;

/// Who made an admin call: the key's fingerprint (the first 8 hex digits of its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminActor(pub String);

pub fn routes() -> Router<AppState> {
    let not_allowed = || async { ApiError::MethodNotAllowed };
    Router::new()
        .route(
            "/api/v1/admin/clients",
            post(create_client).get(list_clients).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/clients/{client_id}",
            get(get_client)
                .patch(update_client)
                .delete(delete_client)
                .fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/clients/{client_id}/rotate",
            post(rotate_secret).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/audit-log",
            get(admin_log).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/llm-audits",
            get(llm_audits).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/audit/verify",
            get(verify_audit).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/audit/maintenance",
            post(maintain_audit).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/audit/tail",
            get(activity::tail).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/stats",
            get(activity::stats).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/tenants",
            get(tenants::list).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/tenants/{tenant_id}/policies",
            get(tenants::policies).fallback(not_allowed),
        )
        .route(
            "/api/v1/admin/tenants/{tenant_id}/policies/{policy_id}/override",
            put(tenants::set_override)
                .delete(tenants::clear_override)
                .fallback(not_allowed),
        )
}

/// The admin layer: 404 when the admin API is off, 401 without the right bearer key.
pub async fn require_admin_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let Some(key) = state.config().common.admin_api_key.as_ref() else {
        return ApiError::NotFound { path }.into_response();
    };
    if !caller::presents_admin_key(request.headers(), key) {
        tracing::warn!(%path, "admin call with a missing or wrong key");
        return ApiError::Unauthorized {
            message: "admin API key required: Authorization: Bearer <ADMIN_API_KEY>".to_owned(),
        }
        .into_response();
    }
    request
        .extensions_mut()
        .insert(AdminActor(caller::admin_actor(key)));
    next.run(request).await
}

fn client_json(client: &ClientRecord) -> Value {
    json!({
        "client_id": client.client_id,
        "name": client.name,
        "tenant_id": client.tenant_id,
        "org_id": client.org_id,
        "enabled": client.enabled,
        "rate_limit_rpm": client.rate_limit_rpm,
        "rate_limit_tpm": client.rate_limit_tpm,
        "tenant_admin": client.tenant_admin,
        "has_secret": client.secret_hash.is_some(),
        "created_at": rfc3339(client.created_at),
        "updated_at": rfc3339(client.updated_at),
    })
}

fn entry(actor: &AdminActor, action: &str, target: &str, details: Value) -> AdminEntry {
    AdminEntry {
        id: Uuid::now_v7(),
        actor: actor.0.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        details,
        created_at: Utc::now(),
    }
}

fn no_client(client_id: &str) -> ApiError {
    ApiError::ResourceNotFound {
        message: format!("no client {client_id:?}"),
    }
}

fn check_limit(problems: &mut Vec<Problem>, field: &str, value: Option<i64>) -> Option<i32> {
    let value = value?;
    match i32::try_from(value) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            problems.push(Problem {
                field: field.to_owned(),
                message: "a positive number per minute (or null for the default)".to_owned(),
            });
            None
        }
    }
}

async fn new_secret_hash() -> Result<(Secret, String), ApiError> {
    let secret = credentials::generate_secret().map_err(|error| {
        tracing::error!(%error, "cannot generate a client secret");
        ApiError::Internal
    })?;
    let to_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || credentials::hash_secret(&to_hash))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|error| {
            tracing::error!(%error, "cannot hash a client secret");
            ApiError::Internal
        })?;
    Ok((secret, hash))
}

#[derive(Debug, Deserialize)]
pub struct CreateClient {
    client_id: Option<String>,
    name: Option<String>,
    tenant_id: Option<String>,
    org_id: Option<String>,
    rate_limit_rpm: Option<i64>,
    rate_limit_tpm: Option<i64>,
    #[serde(default)]
    tenant_admin: bool,
}

async fn create_client(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    ApiJson(request): ApiJson<CreateClient>,
) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let client_id = match request.client_id {
        Some(id) => id.trim().to_owned(),
        None => credentials::generate_client_id().map_err(|_| ApiError::Internal)?,
    };
    if !credentials::is_valid_client_id(&client_id) {
        problems.push(Problem {
            field: "client_id".to_owned(),
            message: "letters, digits and -_.@, 1 to 128 bytes".to_owned(),
        });
    }
    let name = request.name.unwrap_or_default();
    if name.trim().is_empty() || name.len() > 200 {
        problems.push(Problem {
            field: "name".to_owned(),
            message: "required, at most 200 bytes".to_owned(),
        });
    }
    let tenant_id = request.tenant_id.unwrap_or_default();
    if !is_valid_scope_id(&tenant_id) {
        problems.push(Problem {
            field: "tenant_id".to_owned(),
            message: "required: letters, digits and -_., 1 to 128 bytes".to_owned(),
        });
    }
    let org_id = request
        .org_id
        .unwrap_or_else(|| state.config().common.org_id.clone());
    if !is_valid_scope_id(&org_id) {
        problems.push(Problem {
            field: "org_id".to_owned(),
            message: "letters, digits and -_., 1 to 128 bytes".to_owned(),
        });
    }
    let rpm = check_limit(&mut problems, "rate_limit_rpm", request.rate_limit_rpm);
    let tpm = check_limit(&mut problems, "rate_limit_tpm", request.rate_limit_tpm);
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            message: "the client has problems".to_owned(),
            problems,
        });
    }
    let (secret, hash) = new_secret_hash().await?;
    let now = Utc::now();
    let client = ClientRecord {
        client_id: client_id.clone(),
        name,
        tenant_id,
        org_id,
        secret_hash: Some(hash),
        enabled: true,
        rate_limit_rpm: rpm,
        rate_limit_tpm: tpm,
        tenant_admin: request.tenant_admin,
        created_at: now,
        updated_at: now,
    };
    let log = entry(
        &actor,
        "client.create",
        &client_id,
        json!({"tenant_id": client.tenant_id, "org_id": client.org_id, "name": client.name,
               "rate_limit_rpm": rpm, "rate_limit_tpm": tpm, "tenant_admin": request.tenant_admin}),
    );
    match db::insert_client(state.pool(), &client, &log).await {
        Ok(()) => {}
        Err(DbError::AlreadyExists { what }) => {
            return Err(ApiError::Conflict {
                message: format!("{what} already exists"),
                code: "client_exists",
            })
        }
        Err(error) => return Err(error.into()),
    }
    state.clients().changed(state.pool(), &client_id).await;
    tracing::info!(%client_id, tenant_id = %client.tenant_id, actor = %actor.0, "client created");
    let mut body = client_json(&client);
    body["client_secret"] = json!(secret.expose());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list_clients(State(state): State<AppState>) -> Result<Response, ApiError> {
    let clients = db::list_clients(state.pool()).await?;
    let last_used = db::clients_last_used(state.pool()).await?;
    let listed: Vec<Value> = clients
        .iter()
        .map(|client| {
            let mut json = client_json(client);
            json["last_used_at"] = json!(last_used
                .get(&client.client_id)
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
            json
        })
        .collect();
    Ok(Json(json!({"clients": listed, "count": clients.len()})).into_response())
}

async fn get_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let client = db::find_client(state.pool(), &client_id)
        .await?
        .ok_or_else(|| no_client(&client_id))?;
    Ok(Json(client_json(&client)).into_response())
}

/// `PATCH` takes `enabled`, `name`, `tenant_admin` and the limits, where `null` restores the
/// configured default.
async fn update_client(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let mut changes = ClientChanges::default();
    for (field, value) in &body {
        match (field.as_str(), value) {
            ("enabled", Value::Bool(enabled)) => changes.enabled = Some(*enabled),
            ("tenant_admin", Value::Bool(flag)) => changes.tenant_admin = Some(*flag),
            ("name", Value::String(name)) if !name.trim().is_empty() && name.len() <= 200 => {
                changes.name = Some(name.clone());
            }
            ("rate_limit_rpm", Value::Null) => changes.rate_limit_rpm = Some(None),
            ("rate_limit_tpm", Value::Null) => changes.rate_limit_tpm = Some(None),
            ("rate_limit_rpm", value) => {
                changes.rate_limit_rpm =
                    Some(check_limit(&mut problems, "rate_limit_rpm", value.as_i64().or(Some(0))));
            }
            ("rate_limit_tpm", value) => {
                changes.rate_limit_tpm =
                    Some(check_limit(&mut problems, "rate_limit_tpm", value.as_i64().or(Some(0))));
            }
            (other, _) => problems.push(Problem {
                field: other.to_owned(),
                message: "not a changeable field with a valid value (enabled, name, rate_limit_rpm, rate_limit_tpm, tenant_admin)"
                    .to_owned(),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            message: "the change has problems".to_owned(),
            problems,
        });
    }
    let log = entry(
        &actor,
        "client.update",
        &client_id,
        Value::Object(body.clone()),
    );
    let client = db::update_client(state.pool(), &client_id, &changes, &log)
        .await?
        .ok_or_else(|| no_client(&client_id))?;
    state.clients().changed(state.pool(), &client_id).await;
    tracing::info!(%client_id, actor = %actor.0, "client updated");
    Ok(Json(client_json(&client)).into_response())
}

async fn rotate_secret(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let (secret, hash) = new_secret_hash().await?;
    let log = entry(&actor, "client.rotate_secret", &client_id, json!({}));
    let client = db::set_client_secret(state.pool(), &client_id, &hash, &log)
        .await?
        .ok_or_else(|| no_client(&client_id))?;
    state.clients().changed(state.pool(), &client_id).await;
    tracing::info!(%client_id, actor = %actor.0, "client secret rotated");
    Ok(Json(json!({
        "client_id": client.client_id,
        "client_secret": secret.expose(),
        "rotated_at": rfc3339(client.updated_at),
    }))
    .into_response())
}

async fn delete_client(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let log = entry(&actor, "client.delete", &client_id, json!({}));
    if !db::delete_client(state.pool(), &client_id, &log).await? {
        return Err(no_client(&client_id));
    }
    state.clients().changed(state.pool(), &client_id).await;
    tracing::info!(%client_id, actor = %actor.0, "client deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn paging(params: &HashMap<String, String>) -> Result<(i64, i64), ApiError> {
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        match params.get(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(
                    format!("{name}={v:?} is not a whole number"),
                    "invalid_parameter",
                )
            }),
        }
    };
    let (limit, offset) = (number("limit", 100)?, number("offset", 0)?);
    if !(1..=1000).contains(&limit) || offset < 0 {
        return Err(ApiError::bad_request(
            "limit must be 1-1000 and offset at least 0",
            "invalid_parameter",
        ));
    }
    Ok((limit, offset))
}

/// `GET /api/v1/admin/audit-log`: admin actions, newest first.
async fn admin_log(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, offset) = paging(&params)?;
    let entries = db::list_admin_entries(state.pool(), limit, offset).await?;
    Ok(Json(json!({
        "entries": entries.iter().map(|e| json!({
            "id": e.id, "actor": e.actor, "action": e.action, "target": e.target,
            "details": e.details, "created_at": rfc3339(e.created_at),
        })).collect::<Vec<_>>(),
        "limit": limit,
        "offset": offset,
    }))
    .into_response())
}

/// `GET /api/v1/admin/llm-audits?tenant_id&client_id&limit&offset`: the audit trail across tenants.
async fn llm_audits(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, offset) = paging(&params)?;
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let query = AuditQuery {
        tenant_id: text("tenant_id"),
        client_id: text("client_id"),
        limit,
        offset,
        ..AuditQuery::default()
    };
    let (rows, total) = db::search_audits(state.pool(), &query).await?;
    Ok(Json(json!({
        "entries": rows.iter().map(crate::audit_api::entry_json).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    }))
    .into_response())
}

/// The JSON of a chain verification.
pub fn verify_report_json(report: &axonflow_platform::audit::chain::VerifyReport) -> Value {
    json!({
        "intact": report.broken.is_empty(),
        "chains": report.chains,
        "rows": report.rows,
        "unchained_rows": report.unchained,
        "broken": report.broken.iter().map(|b| json!({
            "chain_id": b.chain_id,
            "chain_seq": b.chain_seq,
            "decision_id": b.decision_id,
            "problem": b.problem,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/admin/audit/verify?tenant_id`: walks the hash chains and reports the first broken
/// link of each (an edited or deleted row).
async fn verify_audit(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let tenant = params.get("tenant_id").filter(|t| !t.is_empty());
    let report =
        axonflow_platform::audit::verify_chains(state.pool(), tenant.map(String::as_str)).await?;
    Ok(Json(verify_report_json(&report)).into_response())
}

/// `POST /api/v1/admin/audit/maintenance`: creates the coming monthly partitions and drops those
/// whose rows are all past retention (what every agent also does hourly).
async fn maintain_audit(
    State(state): State<AppState>,
    Extension(actor): Extension<AdminActor>,
) -> Result<Response, ApiError> {
    let (created, dropped) = axonflow_platform::audit::maintain_partitions(state.pool()).await?;
    db::record_admin_entry(
        state.pool(),
        &entry(
            &actor,
            "audit.maintenance",
            "llm_call_audits",
            json!({"partitions_created": created, "partitions_dropped": dropped}),
        ),
    )
    .await?;
    let partitions = db::audit_partitions(state.pool()).await?;
    Ok(Json(json!({
        "partitions_created": created,
        "partitions_dropped": dropped,
        "partitions": partitions,
    }))
    .into_response())
}
