//! Clients (enterprise credentials: argon2id hashes only), the admin audit log written in the same
//! transaction as each admin change, client revisions for cache invalidation on every replica, and
//! the nonces of signed internal calls.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{unique_violation, DbError};

/// One client as stored. `secret_hash` is an argon2id PHC string, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    pub tenant_id: String,
    pub org_id: String,
    pub secret_hash: Option<String>,
    pub enabled: bool,
    pub rate_limit_rpm: Option<i32>,
    pub rate_limit_tpm: Option<i32>,
    /// May weaken its own tenant's system policies.
    pub tenant_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to a client; `None` leaves a field as it is. Limits: `Some(None)` clears the limit (the
/// configured default applies again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub rate_limit_rpm: Option<Option<i32>>,
    pub rate_limit_tpm: Option<Option<i32>>,
    pub tenant_admin: Option<bool>,
}

/// One admin action, recorded with the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminEntry {
    pub id: Uuid,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

macro_rules! client_columns {
    () => {
        "client_id, name, tenant_id, org_id, secret_hash, enabled, rate_limit_rpm, rate_limit_tpm, tenant_admin, \
         created_at, updated_at"
    };
}

fn client_from_row(row: &PgRow) -> Result<ClientRecord, sqlx::Error> {
    Ok(ClientRecord {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        tenant_id: row.try_get("tenant_id")?,
        org_id: row.try_get("org_id")?,
        secret_hash: row.try_get("secret_hash")?,
        enabled: row.try_get("enabled")?,
        rate_limit_rpm: row.try_get("rate_limit_rpm")?,
        rate_limit_tpm: row.try_get("rate_limit_tpm")?,
        tenant_admin: row.try_get("tenant_admin")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn bump_client_revision(
    tx: &mut Transaction<'_, Postgres>,
    client_id: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO client_revisions (client_id, revision, changed_at) \
         VALUES ($1, nextval('client_revision_seq'), clock_timestamp()) \
         ON CONFLICT (client_id) DO UPDATE SET revision = EXCLUDED.revision, changed_at = EXCLUDED.changed_at",
    )
    .bind(client_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn insert_admin_entry(
    tx: &mut Transaction<'_, Postgres>,
    entry: &AdminEntry,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO admin_audit_log (id, actor, action, target, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.id)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.details)
    .bind(entry.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records an admin action that changes no client (maintenance, say).
pub async fn record_admin_entry(pool: &PgPool, entry: &AdminEntry) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    insert_admin_entry(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a client change: a new revision for every replica, the admin entry, and the commit of all
/// three together.
async fn finish_change(
    mut tx: Transaction<'_, Postgres>,
    client_id: &str,
    entry: &AdminEntry,
) -> Result<(), DbError> {
    bump_client_revision(&mut tx, client_id).await?;
    insert_admin_entry(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn find_client(pool: &PgPool, client_id: &str) -> Result<Option<ClientRecord>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(client_from_row).transpose()?)
}

pub async fn list_clients(pool: &PgPool) -> Result<Vec<ClientRecord>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients ORDER BY tenant_id, client_id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(client_from_row).collect::<Result<_, _>>()?)
}

/// When each client last made an audited call: one index probe per client (the audit rows'
/// `(client_id, created_at)` index), no scan.
pub async fn clients_last_used(
    pool: &PgPool,
) -> Result<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>, DbError> {
    let rows = sqlx::query(
        "SELECT c.client_id, (SELECT a.created_at FROM llm_call_audits a WHERE a.client_id = c.client_id \
         ORDER BY a.created_at DESC LIMIT 1) AS last_used FROM clients c",
    )
    .fetch_all(pool)
    .await?;
    let mut out = std::collections::HashMap::new();
    for row in &rows {
        let client_id: String = row.try_get("client_id")?;
        let last_used: Option<chrono::DateTime<chrono::Utc>> = row.try_get("last_used")?;
        if let Some(at) = last_used {
            out.insert(client_id, at);
        }
    }
    Ok(out)
}

/// Inserts a client and its admin entry; `AlreadyExists` when the client id is taken.
pub async fn insert_client(
    pool: &PgPool,
    client: &ClientRecord,
    entry: &AdminEntry,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query(concat!(
        "INSERT INTO clients (",
        client_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&client.client_id)
    .bind(&client.name)
    .bind(&client.tenant_id)
    .bind(&client.org_id)
    .bind(&client.secret_hash)
    .bind(client.enabled)
    .bind(client.rate_limit_rpm)
    .bind(client.rate_limit_tpm)
    .bind(client.tenant_admin)
    .bind(client.created_at)
    .bind(client.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, || format!("client {:?}", client.client_id)))?;
    finish_change(tx, &client.client_id, entry).await?;
    Ok(())
}

/// Applies `changes`; `None` when there is no such client.
pub async fn update_client(
    pool: &PgPool,
    client_id: &str,
    changes: &ClientChanges,
    entry: &AdminEntry,
) -> Result<Option<ClientRecord>, DbError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(concat!(
        "UPDATE clients SET name = COALESCE($2, name), enabled = COALESCE($3, enabled), \
         rate_limit_rpm = CASE WHEN $4 THEN $5 ELSE rate_limit_rpm END, \
         rate_limit_tpm = CASE WHEN $6 THEN $7 ELSE rate_limit_tpm END, \
         tenant_admin = COALESCE($8, tenant_admin), updated_at = now() \
         WHERE client_id = $1 RETURNING ",
        client_columns!()
    ))
    .bind(client_id)
    .bind(&changes.name)
    .bind(changes.enabled)
    .bind(changes.rate_limit_rpm.is_some())
    .bind(changes.rate_limit_rpm.flatten())
    .bind(changes.rate_limit_tpm.is_some())
    .bind(changes.rate_limit_tpm.flatten())
    .bind(changes.tenant_admin)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let client = client_from_row(&row)?;
    finish_change(tx, client_id, entry).await?;
    Ok(Some(client))
}

/// Replaces the client's secret hash; `None` when there is no such client.
pub async fn set_client_secret(
    pool: &PgPool,
    client_id: &str,
    secret_hash: &str,
    entry: &AdminEntry,
) -> Result<Option<ClientRecord>, DbError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(concat!(
        "UPDATE clients SET secret_hash = $2, updated_at = now() WHERE client_id = $1 RETURNING ",
        client_columns!()
    ))
    .bind(client_id)
    .bind(secret_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let client = client_from_row(&row)?;
    finish_change(tx, client_id, entry).await?;
    Ok(Some(client))
}

/// Deletes the client; `false` when there was none.
pub async fn delete_client(
    pool: &PgPool,
    client_id: &str,
    entry: &AdminEntry,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    finish_change(tx, client_id, entry).await?;
    Ok(true)
}

/// Client revisions changed after `since` (database clock), and the database clock now.
pub async fn changed_clients(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<(String, i64)>, DateTime<Utc>), DbError> {
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let rows = sqlx::query(
        "SELECT client_id, revision FROM client_revisions WHERE $1::timestamptz IS NULL OR changed_at > $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let changed = rows
        .iter()
        .map(|row| Ok((row.try_get("client_id")?, row.try_get("revision")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((changed, now))
}

/// The client's current revision (0 when it never changed).
pub async fn client_revision(pool: &PgPool, client_id: &str) -> Result<i64, DbError> {
    let revision: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM client_revisions WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
    Ok(revision.unwrap_or(0))
}

/// Admin actions, newest first.
pub async fn list_admin_entries(
    pool: &PgPool,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminEntry>, DbError> {
    let rows = sqlx::query(
        "SELECT id, actor, action, target, details, created_at FROM admin_audit_log \
         ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AdminEntry {
                id: row.try_get("id")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                details: row.try_get("details")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Records a nonce until `expires_at`; `false` when it was already recorded (a replay).
pub async fn claim_nonce(
    pool: &PgPool,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO internal_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
    )
    .bind(nonce)
    .bind(expires_at)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Forgets nonces whose replay window has passed.
pub async fn delete_expired_nonces(pool: &PgPool) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM internal_nonces WHERE expires_at < now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
