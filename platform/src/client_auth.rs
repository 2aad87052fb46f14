//! Enterprise client authentication. Client records are cached per client id and dropped when
//! `client_revisions` shows a change made on any replica (or, on this agent, at once). A secret is
//! checked with argon2id on a blocking thread, at most `MAX_CONCURRENT_VERIFICATIONS` at a time; a
//! secret that verified is remembered as its SHA-256 next to the hash it verified against, so later
//! requests with the same secret skip argon2 until the client's hash changes. An unknown client is
//! verified against a decoy hash, so it costs the same and answers the same as a wrong secret.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::Secret;
use crate::credentials::{self, Presented};
use crate::db::{self, ClientRecord, DbError, PgPool};

/// Argon2 uses 19 MiB per verification; this bounds the memory and keeps the cores for requests.
const MAX_CONCURRENT_VERIFICATIONS: usize = 2;
const REVISION_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);
/// Longest a request waits for a verification slot.
const VERIFICATION_WAIT: Duration = Duration::from_secs(5);

static DECOY_HASH: LazyLock<String> = LazyLock::new(credentials::decoy_hash);

/// Why a request was not authenticated. All of them answer the same 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Unknown client, wrong secret or disabled client: indistinguishable to the caller.
    BadCredentials,
    /// The client store could not be read and nothing was cached, or every verification slot
    /// stayed busy: 503, retry.
    Unavailable,
}

struct Cached {
    /// `None`: known not to exist (at `revision`).
    record: Option<Arc<ClientRecord>>,
    revision: i64,
    /// SHA-256 of secrets that verified against `record.secret_hash`.
    verified: Vec<[u8; 32]>,
}

pub struct ClientStore {
    cache: RwLock<HashMap<String, Cached>>,
    known_revisions: RwLock<HashMap<String, i64>>,
    verifications: Arc<Semaphore>,
}

fn digest(secret: &Secret) -> [u8; 32] {
    Sha256::digest(secret.expose().as_bytes()).into()
}

impl Default for ClientStore {
    fn default() -> Self {
        ClientStore::new()
    }
}

impl ClientStore {
    pub fn new() -> ClientStore {
        ClientStore {
            cache: RwLock::new(HashMap::new()),
            known_revisions: RwLock::new(HashMap::new()),
            verifications: Arc::new(Semaphore::new(MAX_CONCURRENT_VERIFICATIONS)),
        }
    }

    fn known_revision(&self, client_id: &str) -> i64 {
        self.known_revisions
            .read()
            .ok()
            .and_then(|known| known.get(client_id).copied())
            .unwrap_or(0)
    }

    /// The cached record (or known absence), if still current; `Some(None)` is a known absence.
    fn cached(
        &self,
        client_id: &str,
        digest: &[u8; 32],
    ) -> Option<(Option<Arc<ClientRecord>>, bool)> {
        let cache = self.cache.read().ok()?;
        let entry = cache.get(client_id)?;
        if entry.revision < self.known_revision(client_id) {
            return None;
        }
        Some((entry.record.clone(), entry.verified.contains(digest)))
    }

    /// The client's record, from the cache or the database.
    async fn record(
        &self,
        pool: &PgPool,
        client_id: &str,
        digest: &[u8; 32],
    ) -> Result<(Option<Arc<ClientRecord>>, bool), DbError> {
        if let Some(found) = self.cached(client_id, digest) {
            return Ok(found);
        }
        let revision = db::client_revision(pool, client_id).await?;
        let record = db::find_client(pool, client_id).await?.map(Arc::new);
        // Only clients that exist are remembered: caching absences would let anyone fill memory
        // with made-up client ids.
        if record.is_some() {
            self.note_revisions(&[(client_id.to_owned(), revision)]);
            if let Ok(mut cache) = self.cache.write() {
                cache.insert(
                    client_id.to_owned(),
                    Cached {
                        record: record.clone(),
                        revision,
                        verified: Vec::new(),
                    },
                );
            }
        }
        Ok((record, false))
    }

    /// Verifies on a blocking thread. The permit moves into the blocking work, so a caller that
    /// goes away does not free a slot while its argon2 still runs; a caller that cannot get a slot
    /// within `VERIFICATION_WAIT` is refused like a wrong secret.
    async fn verify_blocking(&self, secret: &Secret, phc: String) -> Result<bool, Rejection> {
        let permit = match tokio::time::timeout(
            VERIFICATION_WAIT,
            self.verifications.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                tracing::warn!("secret verification queue full; request refused");
                return Err(Rejection::Unavailable);
            }
        };
        let secret = secret.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let verified = credentials::verify_secret(&secret, &phc);
            drop(permit);
            verified
        })
        .await
        .unwrap_or(false))
    }

    /// Authenticates presented credentials.
    pub async fn authenticate(
        &self,
        pool: &PgPool,
        presented: &Presented,
    ) -> Result<Arc<ClientRecord>, Rejection> {
        let digest = digest(&presented.secret);
        let (record, already_verified) =
            match self.record(pool, &presented.client_id, &digest).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::error!(%error, "cannot read client credentials");
                    return Err(Rejection::Unavailable);
                }
            };
        let Some(record) = record else {
            // Same work as a wrong secret.
            self.verify_blocking(&presented.secret, DECOY_HASH.clone())
                .await?;
            return Err(Rejection::BadCredentials);
        };
        let verified = if already_verified {
            true
        } else {
            match record.secret_hash.clone() {
                Some(phc) => self.verify_blocking(&presented.secret, phc).await?,
                None => {
                    self.verify_blocking(&presented.secret, DECOY_HASH.clone())
                        .await?;
                    false
                }
            }
        };
        if !verified {
            return Err(Rejection::BadCredentials);
        }
        if !already_verified {
            if let Ok(mut cache) = self.cache.write() {
                if let Some(entry) = cache.get_mut(&presented.client_id) {
                    let same_record = entry
                        .record
                        .as_ref()
                        .is_some_and(|r| r.secret_hash == record.secret_hash);
                    if same_record && entry.verified.len() < 8 {
                        entry.verified.push(digest);
                    }
                }
            }
        }
        if !record.enabled {
            return Err(Rejection::BadCredentials);
        }
        Ok(record)
    }

    /// After a change made through this agent: takes note of the client's new revision and drops
    /// its cached record, so that the change applies to the next request here, even if a lookup
    /// that read the old record finishes afterwards.
    pub async fn changed(&self, pool: &PgPool, client_id: &str) {
        match db::client_revision(pool, client_id).await {
            Ok(revision) => self.note_revisions(&[(client_id.to_owned(), revision)]),
            Err(error) => tracing::warn!(%error, %client_id, "cannot read the new client revision"),
        }
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(client_id);
        }
    }

    pub fn note_revisions(&self, revisions: &[(String, i64)]) {
        if revisions.is_empty() {
            return;
        }
        if let Ok(mut known) = self.known_revisions.write() {
            for (client_id, revision) in revisions {
                let slot = known.entry(client_id.clone()).or_insert(0);
                *slot = (*slot).max(*revision);
            }
        }
    }

    /// Polls for client changes made by any replica, forever (aborted at shutdown).
    pub async fn refresh_forever(self: Arc<Self>, pool: PgPool, interval: Duration) {
        let mut since: Option<DateTime<Utc>> = None;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            match db::changed_clients(&pool, since).await {
                Ok((changed, db_now)) => {
                    if failing {
                        tracing::info!("client revisions readable again");
                        failing = false;
                    }
                    self.note_revisions(&changed);
                    since = Some(db_now - REVISION_LOOKBACK);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot poll client revisions; cached credentials stay in force");
                        failing = true;
                    }
                }
            }
        }
    }
}
