//! The periodic signed check of the other service (agent -> orchestrator, orchestrator -> agent):
//! `GET {peer}/internal/v1/ping` with the internal-service signature. Its outcome is shown in
//! `/health`, so that a wrong or missing shared secret is visible before traffic depends on it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::internal_auth::{InternalAuth, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

pub const PING_PATH: &str = "/internal/v1/ping";

/// The last check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// `not_configured` (no URL or no secret), `pending`, `ok`, `unauthorized` (the peer refused the
    /// signature: secrets differ), `unreachable`, or `error` (any other answer).
    pub state: &'static str,
    pub url: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub http_status: Option<u16>,
}

pub struct PeerChecker {
    url: Option<String>,
    auth: Option<InternalAuth>,
    http: reqwest::Client,
    status: RwLock<PeerStatus>,
}

impl PeerChecker {
    pub fn new(
        url: Option<String>,
        auth: Option<InternalAuth>,
        http: reqwest::Client,
    ) -> PeerChecker {
        let state = if url.is_some() && auth.is_some() {
            "pending"
        } else {
            "not_configured"
        };
        PeerChecker {
            status: RwLock::new(PeerStatus {
                state,
                url: url.clone(),
                checked_at: None,
                http_status: None,
            }),
            url,
            auth,
            http,
        }
    }

    pub fn status(&self) -> PeerStatus {
        self.status.read().map(|s| s.clone()).unwrap_or(PeerStatus {
            state: "error",
            url: self.url.clone(),
            checked_at: None,
            http_status: None,
        })
    }

    /// One signed ping; records and returns the outcome.
    pub async fn check_once(&self) -> PeerStatus {
        let (Some(url), Some(auth)) = (&self.url, &self.auth) else {
            return self.status();
        };
        let now = Utc::now();
        let (state, http_status) = match auth.sign("GET", PING_PATH, b"", now.timestamp()) {
            Err(_) => ("error", None),
            Ok(signed) => {
                let sent = self
                    .http
                    .get(format!("{url}{PING_PATH}"))
                    .header(TIMESTAMP_HEADER, signed.timestamp)
                    .header(NONCE_HEADER, signed.nonce)
                    .header(SIGNATURE_HEADER, signed.signature)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        ("ok", Some(response.status().as_u16()))
                    }
                    Ok(response) if response.status().as_u16() == 401 => {
                        ("unauthorized", Some(401))
                    }
                    Ok(response) => ("error", Some(response.status().as_u16())),
                    Err(_) => ("unreachable", None),
                }
            }
        };
        let status = PeerStatus {
            state,
            url: Some(url.clone()),
            checked_at: Some(now),
            http_status,
        };
        let previous = self.status();
        if previous.state != state {
            if state == "ok" {
                tracing::info!(%url, "peer service answers signed calls");
            } else {
                tracing::warn!(%url, state, ?http_status, "peer service check failed");
            }
        }
        if let Ok(mut slot) = self.status.write() {
            *slot = status.clone();
        }
        status
    }

    /// Checks every `interval` while the peer answers, every second while it does not (so that a
    /// peer starting later is seen soon), forever (the caller aborts the task at shutdown).
    pub async fn run_forever(self: Arc<Self>, interval: Duration) {
        if self.url.is_none() || self.auth.is_none() {
            return;
        }
        loop {
            let status = self.check_once().await;
            let pause = if status.state == "ok" {
                interval
            } else {
                interval.min(Duration::from_secs(1))
            };
            tokio::time::sleep(pause).await;
        }
    }
}
