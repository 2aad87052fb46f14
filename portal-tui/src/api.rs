//! The agent's admin API as the portal sees it: the requests the portal makes, the lenient wire types
//! of the answers, and the HTTP client that turns a request into a reply. Nothing here draws or
//! decides; the app only ever sees `Request` and `Response` values.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// A secret that must not appear in logs, debug output or any screen but the one-time dialog.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for the one-time dialog, the clipboard and the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretText(********)")
    }
}

/// A call the portal makes to the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Health,
    Stats,
    Clients,
    Tenants,
    Policies {
        tenant_id: String,
    },
    AuditTail {
        after: Option<String>,
    },
    AdminLog,
    CreateClient(NewClient),
    SetClientEnabled {
        client_id: String,
        enabled: bool,
    },
    RotateSecret {
        client_id: String,
    },
    DeleteClient {
        client_id: String,
    },
    SetOverride {
        tenant_id: String,
        policy_id: String,
        enabled: bool,
        reason: String,
    },
    ClearOverride {
        tenant_id: String,
        policy_id: String,
    },
    /// `PATCH` of a client's limits; `None` restores the configured default.
    SetClientLimits {
        client_id: String,
        rate_limit_rpm: Option<i64>,
        rate_limit_tpm: Option<i64>,
    },
    /// `GET /api/v1/admin/audit/verify`: walks the audit hash chains.
    AuditVerify,
    /// `PUT` of a tenant's override of a policy from the override form.
    OverridePolicy(PolicyOverride),
    /// `POST /api/v1/static-policies/test` of one sample, for the pattern tester.
    TestPattern {
        pattern: String,
        sample: String,
    },
}

/// When an override ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// An RFC 3339 time, sent as typed.
    At(String),
    /// A duration from the moment the request is made (the runtime reads the clock, not the app).
    In(Duration),
}

/// The fields of the override form, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOverride {
    pub tenant_id: String,
    pub policy_id: String,
    pub action_override: Option<String>,
    pub expires: Option<Expiry>,
    pub reason: String,
}

impl PolicyOverride {
    /// The body of the `PUT`, with a duration turned into a time after `now`.
    pub fn to_json(&self, now: chrono::DateTime<chrono::Utc>) -> Value {
        let mut body = json!({"override_reason": self.reason});
        if let Some(action) = &self.action_override {
            body["action_override"] = json!(action);
        }
        match &self.expires {
            None => {}
            Some(Expiry::At(time)) => body["expires_at"] = json!(time),
            Some(Expiry::In(duration)) => {
                let later = chrono::Duration::from_std(*duration)
                    .ok()
                    .and_then(|duration| now.checked_add_signed(duration))
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
                body["expires_at"] =
                    json!(later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
        }
        body
    }
}

/// What the pattern test endpoint said about one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternOutcome {
    /// The pattern is valid; the byte offsets `(start, end)` of its matches in the sample.
    Matches(Vec<(usize, usize)>),
    /// The agent's reason the pattern is refused.
    Invalid(String),
}

/// Which kind of call a request is, used to keep one poll of each kind in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestKind {
    Health,
    Stats,
    Clients,
    Tenants,
    Policies,
    AuditTail,
    AdminLog,
    CreateClient,
    SetClientEnabled,
    RotateSecret,
    DeleteClient,
    SetOverride,
    ClearOverride,
    SetClientLimits,
    AuditVerify,
    OverridePolicy,
    TestPattern,
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Health => RequestKind::Health,
            Request::Stats => RequestKind::Stats,
            Request::Clients => RequestKind::Clients,
            Request::Tenants => RequestKind::Tenants,
            Request::Policies { .. } => RequestKind::Policies,
            Request::AuditTail { .. } => RequestKind::AuditTail,
            Request::AdminLog => RequestKind::AdminLog,
            Request::CreateClient(_) => RequestKind::CreateClient,
            Request::SetClientEnabled { .. } => RequestKind::SetClientEnabled,
            Request::RotateSecret { .. } => RequestKind::RotateSecret,
            Request::DeleteClient { .. } => RequestKind::DeleteClient,
            Request::SetOverride { .. } => RequestKind::SetOverride,
            Request::ClearOverride { .. } => RequestKind::ClearOverride,
            Request::SetClientLimits { .. } => RequestKind::SetClientLimits,
            Request::AuditVerify => RequestKind::AuditVerify,
            Request::OverridePolicy(_) => RequestKind::OverridePolicy,
            Request::TestPattern { .. } => RequestKind::TestPattern,
        }
    }
}

impl RequestKind {
    /// What the call was about, for status lines ("loading clients failed: ...").
    pub fn describe(self) -> &'static str {
        match self {
            RequestKind::Health => "health check",
            RequestKind::Stats => "loading stats",
            RequestKind::Clients => "loading clients",
            RequestKind::Tenants => "loading tenants",
            RequestKind::Policies => "loading policies",
            RequestKind::AuditTail => "audit tail",
            RequestKind::AdminLog => "loading the admin log",
            RequestKind::CreateClient => "creating the client",
            RequestKind::SetClientEnabled => "changing the client",
            RequestKind::RotateSecret => "rotating the secret",
            RequestKind::DeleteClient => "deleting the client",
            RequestKind::SetOverride => "setting the override",
            RequestKind::ClearOverride => "clearing the override",
            RequestKind::SetClientLimits => "changing the limits",
            RequestKind::AuditVerify => "verifying the audit chain",
            RequestKind::OverridePolicy => "setting the override",
            RequestKind::TestPattern => "testing the pattern",
        }
    }
}

/// The body of `POST /api/v1/admin/clients`; empty optional fields are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewClient {
    pub client_id: Option<String>,
    pub name: String,
    pub tenant_id: String,
    pub org_id: Option<String>,
    pub rate_limit_rpm: Option<i64>,
    pub rate_limit_tpm: Option<i64>,
}

impl NewClient {
    fn to_json(&self) -> Value {
        let mut body = json!({"name": self.name, "tenant_id": self.tenant_id});
        if let Some(client_id) = &self.client_id {
            body["client_id"] = json!(client_id);
        }
        if let Some(org_id) = &self.org_id {
            body["org_id"] = json!(org_id);
        }
        if let Some(rpm) = self.rate_limit_rpm {
            body["rate_limit_rpm"] = json!(rpm);
        }
        if let Some(tpm) = self.rate_limit_tpm {
            body["rate_limit_tpm"] = json!(tpm);
        }
        body
    }
}

/// The answer to a request, or why there is none.
#[derive(Debug, Clone)]
pub struct Response {
    pub kind: RequestKind,
    pub result: Result<Reply, ApiError>,
}

/// A successful answer, already parsed.
#[derive(Debug, Clone)]
pub enum Reply {
    Health(Health),
    Stats(Stats),
    Clients(Vec<ClientInfo>),
    Tenants(Vec<TenantInfo>),
    Policies {
        tenant_id: String,
        policies: Vec<PolicyInfo>,
    },
    AuditTail {
        rows: Vec<AuditRow>,
        next_after: Option<String>,
    },
    AdminLog(Vec<AdminEntry>),
    Created {
        client_id: String,
        secret: SecretText,
    },
    Rotated {
        client_id: String,
        secret: SecretText,
    },
    ClientChanged {
        client_id: String,
        enabled: bool,
    },
    ClientDeleted {
        client_id: String,
    },
    OverrideSet {
        tenant_id: String,
        policy_id: String,
        enabled: bool,
    },
    OverrideCleared {
        tenant_id: String,
        policy_id: String,
    },
    ClientLimitsChanged {
        client_id: String,
    },
    AuditVerify(VerifyReport),
    /// The override form's `PUT` succeeded.
    PolicyOverridden {
        tenant_id: String,
        policy_id: String,
    },
    /// The answer of the pattern test for this pattern and sample.
    PatternTested {
        pattern: String,
        sample: String,
        outcome: PatternOutcome,
    },
}

/// Why a request has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The agent could not be reached (connection refused, timeout, DNS).
    Unreachable(String),
    /// The agent refused the admin key (401).
    Unauthorized,
    /// Any other non-success status, with the message of the error body when there is one.
    Status { code: u16, message: String },
    /// The answer was not the JSON expected.
    Decode(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unreachable(reason) => write!(formatter, "agent unreachable: {reason}"),
            ApiError::Unauthorized => formatter.write_str("the admin key was rejected (401)"),
            ApiError::Status { code, message } if message.is_empty() => {
                write!(formatter, "HTTP {code}")
            }
            ApiError::Status { code, message } => write!(formatter, "HTTP {code}: {message}"),
            ApiError::Decode(reason) => write!(formatter, "unexpected answer: {reason}"),
        }
    }
}

fn default_true() -> bool {
    true
}

/// A client as `GET /api/v1/admin/clients` lists it (never a secret).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClientInfo {
    pub client_id: String,
    pub name: String,
    pub tenant_id: String,
    pub org_id: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub rate_limit_rpm: Option<i64>,
    pub rate_limit_tpm: Option<i64>,
    #[serde(alias = "last_used")]
    pub last_used_at: Option<String>,
    pub created_at: Option<String>,
}

/// `GET /health`, the parts the overview shows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub deployment_mode: String,
    pub database: String,
    pub uptime_seconds: u64,
    pub audit: AuditQueue,
    /// The agent's last signed check of the orchestrator.
    pub orchestrator: PeerCheck,
}

/// A peer check as `/health` reports it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PeerCheck {
    pub status: String,
    pub checked_at: Option<String>,
}

/// The audit writer's backlog, as `/health` and the stats report it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AuditQueue {
    pub mode: Option<String>,
    pub queue_depth: u64,
    pub journal_backlog: u64,
}

/// `GET /api/v1/admin/stats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub decisions_last_hour: VerdictCounts,
    pub per_minute: Vec<MinuteCounts>,
    pub top_policies: Vec<PolicyMatches>,
    pub denied_share: f64,
    pub audit: AuditQueue,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct VerdictCounts {
    pub allow: u64,
    pub deny: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MinuteCounts {
    pub minute: Value,
    pub allow: u64,
    pub deny: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PolicyMatches {
    pub policy_id: String,
    pub matches: u64,
}

/// A tenant as `GET /api/v1/admin/tenants` lists it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TenantInfo {
    pub tenant_id: String,
    pub clients: u64,
    pub custom_policies: u64,
    pub overrides: u64,
    pub last_activity: Option<String>,
}

/// A policy of a tenant with its override, from `GET /api/v1/admin/tenants/{id}/policies`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PolicyInfo {
    pub id: String,
    /// The stable id (`sys_pii_ssn`) when the answer carries one beside the row id.
    pub policy_id: Option<String>,
    pub name: String,
    pub category: String,
    pub action: String,
    pub severity: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub tier: String,
    /// The regex of a pattern policy.
    pub pattern: Option<String>,
    #[serde(rename = "override")]
    pub override_state: Option<OverrideInfo>,
}

impl PolicyInfo {
    /// The id the portal shows and addresses the policy by: the stable id, else the row id.
    pub fn key(&self) -> &str {
        self.policy_id
            .as_deref()
            .filter(|policy_id| !policy_id.is_empty())
            .unwrap_or(&self.id)
    }

    /// Whether the policy applies for the tenant once its override is taken into account.
    pub fn effective_enabled(&self) -> bool {
        self.override_state
            .as_ref()
            .and_then(|state| state.enabled_override)
            .unwrap_or(self.enabled)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OverrideInfo {
    pub action_override: Option<String>,
    pub enabled_override: Option<bool>,
    pub override_reason: Option<String>,
    pub expires_at: Option<String>,
    pub created_by: Option<String>,
}

/// One decision of the audit trail; the whole row is kept for the detail pane.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub raw: Value,
}

impl AuditRow {
    fn text(&self, names: &[&str]) -> String {
        names
            .iter()
            .find_map(|name| self.raw.get(*name).and_then(value_text))
            .unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.text(&["id", "decision_id"])
    }

    pub fn timestamp(&self) -> String {
        self.text(&["timestamp", "created_at"])
    }

    pub fn client_id(&self) -> String {
        self.text(&["client_id"])
    }

    pub fn tenant_id(&self) -> String {
        self.text(&["tenant_id"])
    }

    pub fn verdict(&self) -> String {
        self.text(&["verdict", "policy_decision"])
    }

    /// The endpoint or source the decision came from.
    pub fn source(&self) -> String {
        self.text(&["endpoint", "source", "request_type"])
    }

    /// The policies the decision names, as the JSON text of its policy fields.
    pub fn policies(&self) -> String {
        ["policy_details", "policies_triggered", "policies"]
            .iter()
            .filter_map(|name| self.raw.get(*name))
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `GET /api/v1/admin/audit/verify`: the state of the audit hash chains.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct VerifyReport {
    pub intact: bool,
    pub chains: u64,
    pub rows: u64,
    pub unchained_rows: u64,
    pub broken: Vec<BrokenLink>,
}

/// The first broken link of a chain (an edited or deleted row).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BrokenLink {
    pub chain_id: Value,
    pub chain_seq: Value,
    pub decision_id: Value,
    pub problem: String,
}

/// An entry of `GET /api/v1/admin/audit-log`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AdminEntry {
    pub id: Value,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub created_at: String,
}

/// A JSON scalar as text (strings without quotes); `None` for null, arrays and objects.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The items of the array under `key` that parse; an item of another shape is skipped, not fatal.
fn lenient_list<T: DeserializeOwned>(body: &Value, key: &str) -> Vec<T> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| serde_json::from_value(item.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|error| ApiError::Decode(error.to_string()))
}

fn secret_of(body: &Value) -> Result<(String, SecretText), ApiError> {
    let client_id = body
        .get("client_id")
        .and_then(value_text)
        .unwrap_or_default();
    let secret = body
        .get("client_secret")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::Decode("no client_secret in the answer".to_owned()))?;
    Ok((client_id, SecretText::new(secret)))
}

/// The message of an error body, whatever its shape (`{error: {message}}`, `{message}`, `{error}`).
fn error_message(body: &Value) -> String {
    let nested = body.get("error").and_then(|error| error.get("message"));
    [nested, body.get("message"), body.get("error")]
        .into_iter()
        .flatten()
        .find_map(value_text)
        .unwrap_or_default()
}

/// The answer of the pattern test for its single input: the spans, or why the pattern is refused.
fn pattern_outcome(body: &Value) -> PatternOutcome {
    if body.get("valid").and_then(Value::as_bool) == Some(false) {
        let reason = body
            .get("error")
            .and_then(value_text)
            .unwrap_or_else(|| "invalid pattern".to_owned());
        return PatternOutcome::Invalid(reason);
    }
    let spans = body
        .pointer("/matches/0/spans")
        .and_then(Value::as_array)
        .map(|spans| {
            spans
                .iter()
                .filter_map(|span| {
                    let start = span.get(0).and_then(Value::as_u64)?;
                    let end = span.get(1).and_then(Value::as_u64)?;
                    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    PatternOutcome::Matches(spans)
}

/// The HTTP client of the admin API.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: Url,
    admin_key: SecretText,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ApiClient")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(base_url: &str, admin_key: SecretText) -> Result<Self, String> {
        let base_url =
            Url::parse(base_url).map_err(|error| format!("invalid URL {base_url:?}: {error}"))?;
        if base_url.cannot_be_a_base() {
            return Err(format!("invalid URL {base_url}: not an http(s) base"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Self {
            http,
            base_url,
            admin_key,
        })
    }

    /// Makes the call and parses its answer; never panics, every failure is an `ApiError`.
    pub async fn execute(&self, request: Request) -> Response {
        let kind = request.kind();
        let result = self.answer(request).await;
        Response { kind, result }
    }

    async fn answer(&self, request: Request) -> Result<Reply, ApiError> {
        const ADMIN: [&str; 3] = ["api", "v1", "admin"];
        match request {
            Request::Health => {
                let body = self.call(Method::GET, &["health"], &[], None).await?;
                Ok(Reply::Health(parse(body)?))
            }
            Request::Stats => {
                let body = self
                    .call(Method::GET, &[&ADMIN[..], &["stats"]].concat(), &[], None)
                    .await?;
                Ok(Reply::Stats(parse(body)?))
            }
            Request::Clients => {
                let path = [&ADMIN[..], &["clients"]].concat();
                let body = self.call(Method::GET, &path, &[], None).await?;
                Ok(Reply::Clients(lenient_list(&body, "clients")))
            }
            Request::Tenants => {
                let path = [&ADMIN[..], &["tenants"]].concat();
                let body = self.call(Method::GET, &path, &[], None).await?;
                Ok(Reply::Tenants(lenient_list(&body, "tenants")))
            }
            Request::Policies { tenant_id } => {
                let path = [&ADMIN[..], &["tenants", &tenant_id, "policies"]].concat();
                let body = self.call(Method::GET, &path, &[], None).await?;
                Ok(Reply::Policies {
                    policies: lenient_list(&body, "policies"),
                    tenant_id,
                })
            }
            Request::AuditTail { after } => {
                let path = [&ADMIN[..], &["audit", "tail"]].concat();
                let mut query = vec![("limit", "200".to_owned())];
                if let Some(after) = after {
                    query.push(("after", after));
                }
                let body = self.call(Method::GET, &path, &query, None).await?;
                let rows = body
                    .get("rows")
                    .and_then(Value::as_array)
                    .map(|rows| {
                        rows.iter()
                            .filter(|row| row.is_object())
                            .map(|row| AuditRow { raw: row.clone() })
                            .collect()
                    })
                    .unwrap_or_default();
                let next_after = body.get("next_after").and_then(value_text);
                Ok(Reply::AuditTail { rows, next_after })
            }
            Request::AdminLog => {
                let path = [&ADMIN[..], &["audit-log"]].concat();
                let query = [("limit", "200".to_owned())];
                let body = self.call(Method::GET, &path, &query, None).await?;
                Ok(Reply::AdminLog(lenient_list(&body, "entries")))
            }
            Request::CreateClient(new_client) => {
                let path = [&ADMIN[..], &["clients"]].concat();
                let body = self
                    .call(Method::POST, &path, &[], Some(new_client.to_json()))
                    .await?;
                let (client_id, secret) = secret_of(&body)?;
                Ok(Reply::Created { client_id, secret })
            }
            Request::SetClientEnabled { client_id, enabled } => {
                let path = [&ADMIN[..], &["clients", &client_id]].concat();
                let body = json!({"enabled": enabled});
                self.call(Method::PATCH, &path, &[], Some(body)).await?;
                Ok(Reply::ClientChanged { client_id, enabled })
            }
            Request::RotateSecret { client_id } => {
                let path = [&ADMIN[..], &["clients", &client_id, "rotate"]].concat();
                let body = self.call(Method::POST, &path, &[], None).await?;
                let (answered_id, secret) = secret_of(&body)?;
                let client_id = if answered_id.is_empty() {
                    client_id
                } else {
                    answered_id
                };
                Ok(Reply::Rotated { client_id, secret })
            }
            Request::DeleteClient { client_id } => {
                let path = [&ADMIN[..], &["clients", &client_id]].concat();
                self.call(Method::DELETE, &path, &[], None).await?;
                Ok(Reply::ClientDeleted { client_id })
            }
            Request::SetOverride {
                tenant_id,
                policy_id,
                enabled,
                reason,
            } => {
                let path = [
                    &ADMIN[..],
                    &["tenants", &tenant_id, "policies", &policy_id, "override"],
                ]
                .concat();
                let body = json!({"enabled_override": enabled, "override_reason": reason});
                self.call(Method::PUT, &path, &[], Some(body)).await?;
                Ok(Reply::OverrideSet {
                    tenant_id,
                    policy_id,
                    enabled,
                })
            }
            Request::ClearOverride {
                tenant_id,
                policy_id,
            } => {
                let path = [
                    &ADMIN[..],
                    &["tenants", &tenant_id, "policies", &policy_id, "override"],
                ]
                .concat();
                self.call(Method::DELETE, &path, &[], None).await?;
                Ok(Reply::OverrideCleared {
                    tenant_id,
                    policy_id,
                })
            }
            Request::SetClientLimits {
                client_id,
                rate_limit_rpm,
                rate_limit_tpm,
            } => {
                let path = [&ADMIN[..], &["clients", &client_id]].concat();
                let body =
                    json!({"rate_limit_rpm": rate_limit_rpm, "rate_limit_tpm": rate_limit_tpm});
                self.call(Method::PATCH, &path, &[], Some(body)).await?;
                Ok(Reply::ClientLimitsChanged { client_id })
            }
            Request::AuditVerify => {
                let path = [&ADMIN[..], &["audit", "verify"]].concat();
                let body = self.call(Method::GET, &path, &[], None).await?;
                Ok(Reply::AuditVerify(parse(body)?))
            }
            Request::OverridePolicy(change) => {
                let path = [
                    &ADMIN[..],
                    &[
                        "tenants",
                        &change.tenant_id,
                        "policies",
                        &change.policy_id,
                        "override",
                    ],
                ]
                .concat();
                let body = change.to_json(chrono::Utc::now());
                self.call(Method::PUT, &path, &[], Some(body)).await?;
                Ok(Reply::PolicyOverridden {
                    tenant_id: change.tenant_id,
                    policy_id: change.policy_id,
                })
            }
            Request::TestPattern { pattern, sample } => {
                let path = ["api", "v1", "static-policies", "test"];
                let body = json!({"pattern": pattern, "inputs": [sample]});
                let body = self.call(Method::POST, &path, &[], Some(body)).await?;
                let outcome = pattern_outcome(&body);
                Ok(Reply::PatternTested {
                    pattern,
                    sample,
                    outcome,
                })
            }
        }
    }

    /// One HTTP exchange; path segments are percent-encoded, the answer is JSON (or null when empty).
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let mut url = self.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| ApiError::Decode("the agent URL cannot take a path".to_owned()))?;
            path.pop_if_empty();
            path.extend(segments);
        }
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(self.admin_key.expose());
        if !query.is_empty() {
            builder = builder.query(query);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let response = builder.send().await.map_err(|error| {
            if error.is_connect() || error.is_timeout() || error.is_request() {
                ApiError::Unreachable(root_cause(&error))
            } else {
                ApiError::Decode(root_cause(&error))
            }
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ApiError::Unreachable(root_cause(&error)))?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(ApiError::Unauthorized);
        }
        if !status.is_success() {
            return Err(ApiError::Status {
                code: status.as_u16(),
                message: error_message(&body),
            });
        }
        Ok(body)
    }
}

/// The innermost cause of an error, which names what went wrong ("Connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_items_of_another_shape_and_ignore_unknown_fields() {
        let body = json!({"clients": [
            {"client_id": "a", "tenant_id": "t", "extra": 1},
            {"client_id": 5},
        ]});
        let clients: Vec<ClientInfo> = lenient_list(&body, "clients");
        assert_eq!(clients.len(), 1);
        assert_eq!(clients[0].client_id, "a");
        assert!(clients[0].enabled);
    }

    #[test]
    fn policy_override_decides_the_effective_state() {
        let policy: PolicyInfo = serde_json::from_value(json!({
            "id": "sys_pii_ssn", "enabled": true,
            "override": {"enabled_override": false, "override_reason": "test"}
        }))
        .expect("a policy parses");
        assert!(!policy.effective_enabled());
        assert_eq!(policy.key(), "sys_pii_ssn");
    }

    #[test]
    fn a_policy_with_both_ids_is_addressed_by_its_stable_id() {
        let policy: PolicyInfo = serde_json::from_value(json!({
            "id": "d65c70d3-f445-4ccc-bfb3-9a688c80a74f", "policy_id": "sys_pii_aadhaar"
        }))
        .expect("a policy parses");
        assert_eq!(policy.key(), "sys_pii_aadhaar");
    }

    #[test]
    fn error_messages_are_found_in_either_shape() {
        assert_eq!(
            error_message(&json!({"error": {"message": "nope"}})),
            "nope"
        );
        assert_eq!(error_message(&json!({"error": "bad"})), "bad");
        assert_eq!(error_message(&Value::Null), "");
    }

    #[test]
    fn a_verify_report_parses() {
        let report: VerifyReport = parse(json!({
            "intact": false, "chains": 2, "rows": 10, "unchained_rows": 0,
            "broken": [{"chain_id": "t1", "chain_seq": 4, "decision_id": "d", "problem": "hash mismatch"}]
        }))
        .expect("a report parses");
        assert!(!report.intact);
        assert_eq!(report.broken.len(), 1);
        assert_eq!(report.broken[0].problem, "hash mismatch");
    }

    #[test]
    fn a_duration_expiry_becomes_a_time_after_now() {
        let now = chrono::DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .expect("a time parses")
            .with_timezone(&chrono::Utc);
        let change = PolicyOverride {
            tenant_id: "t".to_owned(),
            policy_id: "p".to_owned(),
            action_override: Some("warn".to_owned()),
            expires: Some(Expiry::In(Duration::from_secs(2 * 3600))),
            reason: "r".to_owned(),
        };
        assert_eq!(
            change.to_json(now),
            json!({"override_reason": "r", "action_override": "warn",
                   "expires_at": "2025-03-01T12:00:00Z"})
        );
    }

    #[test]
    fn pattern_answers_give_spans_or_the_reason() {
        let matched =
            json!({"valid": true, "matches": [{"matched": true, "spans": [[0, 3], [5, 8]]}]});
        assert_eq!(
            pattern_outcome(&matched),
            PatternOutcome::Matches(vec![(0, 3), (5, 8)])
        );
        let invalid =
            json!({"valid": false, "error": "invalid regex: unclosed group", "matches": []});
        assert_eq!(
            pattern_outcome(&invalid),
            PatternOutcome::Invalid("invalid regex: unclosed group".to_owned())
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = SecretText::new("s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
    }
}
