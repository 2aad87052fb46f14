//! The audit pipeline under faults: Postgres stopped and started under load (both modes), the agent
//! killed with SIGKILL (compliance mode), SIGTERM draining the performance-mode queue, a journal
//! with a torn last line; and tamper evidence, retention and metrics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{
    chat_body, client, fresh_database, metric, post_json, Agent, Cluster, MockUpstream, Reply,
    PROVIDER_KEY,
};
use crate::enterprise::ADMIN_KEY;

/// Decision ids of answered (2xx) calls, and the number of failed calls.
#[derive(Default)]
struct Load {
    acknowledged: Vec<String>,
    failed: usize,
}

/// Runs `workers` loops of chat completions against `base_url` until `stop` is set.
fn start_load(
    base_url: String,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Load>> {
    (0..workers)
        .map(|_| {
            let (base_url, stop) = (base_url.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .expect("client");
                let mut load = Load::default();
                while !stop.load(Ordering::Relaxed) {
                    let sent = http
                        .post(format!("{base_url}/v1/chat/completions"))
                        .header("content-type", "application/json")
                        .header("x-provider-key", PROVIDER_KEY)
                        .body(chat_body("What is 2+2?"))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            let id = response
                                .headers()
                                .get("x-axonflow-decision-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            match id {
                                Some(id) if response.bytes().await.is_ok() => {
                                    load.acknowledged.push(id)
                                }
                                _ => load.failed += 1,
                            }
                        }
                        _ => {
                            load.failed += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                load
            })
        })
        .collect()
}

async fn finish_load(workers: Vec<tokio::task::JoinHandle<Load>>) -> Load {
    let mut total = Load::default();
    for worker in workers {
        let load = worker.await.expect("worker");
        total.acknowledged.extend(load.acknowledged);
        total.failed += load.failed;
    }
    total
}

/// Waits until the agent's queue and journal are empty.
async fn wait_until_flushed(agent: &Agent) {
    for _ in 0..300 {
        let backlog = metric(agent, "axonflow_audit_journal_backlog").await;
        let queued = metric(agent, "axonflow_audit_queue_depth").await;
        if backlog == Some(0) && queued == Some(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the audit journal was not replayed within 30 s; log:\n{}",
        agent.log()
    );
}

/// Every acknowledged decision id has exactly one row.
async fn assert_each_exactly_once(pool: &PgPool, acknowledged: &[String]) {
    let counts: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT id, count(*) FROM llm_call_audits GROUP BY id")
            .fetch_all(pool)
            .await
            .expect("counts");
    let counts: HashMap<String, i64> = counts
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect();
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated rows: {duplicated:?}");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged calls have no audit row: {:?}",
        missing.len(),
        acknowledged.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test]
async fn postgres_outage_under_load_loses_and_duplicates_nothing_in_either_mode() {
    let cluster = Cluster::start();
    let upstream = MockUpstream::start(Reply::completion()).await;
    let base = upstream.base_url();
    for performance in ["false", "true"] {
        let database_url = cluster.fresh_database("fault").await;
        let agent = Agent::start(
            &database_url,
            &[
                ("OPENAI_BASE_URL", base.as_str()),
                ("AGENT_PERFORMANCE_MODE", performance),
            ],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let workers = start_load(agent.base_url.clone(), 4, stop.clone());
        tokio::time::sleep(Duration::from_millis(800)).await;
        cluster.down();
        // Longer than a performance-mode batch's four attempts (1 s each, 0.7 s of pauses).
        tokio::time::sleep(Duration::from_secs(6)).await;
        cluster.up();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        let load = finish_load(workers).await;
        assert!(
            load.acknowledged.len() > 20,
            "mode {performance}: too little load: {}",
            load.acknowledged.len()
        );
        wait_until_flushed(&agent).await;
        let journaled = metric(&agent, "axonflow_audit_rows_journaled_total")
            .await
            .unwrap_or(0);
        let replayed = metric(&agent, "axonflow_audit_rows_replayed_total")
            .await
            .unwrap_or(0);
        assert!(
            journaled > 0,
            "mode {performance}: the outage sent nothing to the journal"
        );
        assert_eq!(
            journaled, replayed,
            "mode {performance}: every journaled row was replayed"
        );
        let log = agent.log();
        assert!(
            log.contains("falling back to the journal"),
            "no fallback log line"
        );
        assert!(
            log.contains("takes audit rows again"),
            "no recovery log line"
        );
        let pool = PgPool::connect(&database_url).await.expect("database");
        assert_each_exactly_once(&pool, &load.acknowledged).await;
        pool.close().await;
    }
}

#[tokio::test]
async fn sigkill_in_compliance_mode_keeps_every_answered_row() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let base = upstream.base_url();
    let database_url = fresh_database().await;
    let journal = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kill-{}.jsonl", Uuid::new_v4().simple()));
    let journal_text = journal.display().to_string();
    let env = [
        ("OPENAI_BASE_URL", base.as_str()),
        ("AUDIT_FALLBACK_PATH", journal_text.as_str()),
    ];
    let mut agent = Agent::start(&database_url, &env);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = start_load(agent.base_url.clone(), 6, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    agent.kill_now();
    stop.store(true, Ordering::Relaxed);
    let load = finish_load(workers).await;
    assert!(
        load.acknowledged.len() > 20,
        "too little load: {}",
        load.acknowledged.len()
    );
    let restarted = Agent::start(&database_url, &env);
    wait_until_flushed(&restarted).await;
    assert_each_exactly_once(&restarted.pool().await, &load.acknowledged).await;
}

#[tokio::test]
async fn sigterm_in_performance_mode_drains_the_queue() {
    let upstream = MockUpstream::start(Reply::completion()).await;
    let base = upstream.base_url();
    let database_url = fresh_database().await;
    // Rows wait up to 5 s for their batch: at SIGTERM the queue holds them.
    let mut agent = Agent::start(
        &database_url,
        &[
            ("OPENAI_BASE_URL", base.as_str()),
            ("AGENT_PERFORMANCE_MODE", "true"),
            ("AXONFLOW_AUDIT_FLUSH_MS", "5000"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let workers = start_load(agent.base_url.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let load = finish_load(workers).await;
    let queued = metric(&agent, "axonflow_audit_queue_depth")
        .await
        .unwrap_or(0);
    assert!(queued > 0, "nothing was queued when SIGTERM came");
    let pool = agent.pool().await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM llm_call_audits")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(
        (before as usize) < load.acknowledged.len(),
        "rows were written before the drain"
    );
    assert!(
        agent.terminate_and_wait(Duration::from_secs(20)),
        "the agent did not exit after SIGTERM"
    );
    assert!(agent.log().contains("audit queue drained"));
    assert_each_exactly_once(&pool, &load.acknowledged).await;
    // Queued rows are linked into their chain by the writer: the chain of every row verifies.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .arg("verify-audit")
        .env_clear()
        .env("DATABASE_URL", &database_url)
        .output()
        .expect("runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("\"broken\":[]"), "{report}");
}

fn journal_line(seq: i64, prev: [u8; 32]) -> axonflow_platform::audit::journal::JournalLine {
    let created_at = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros())
        .expect("now");
    let mut line = axonflow_platform::audit::journal::JournalLine {
        id: Uuid::now_v7(),
        source: "openai_gateway".to_owned(),
        client_id: "journal-app".to_owned(),
        tenant_id: "default".to_owned(),
        org_id: "local-dev-org".to_owned(),
        provider: "openai".to_owned(),
        model: "gpt-4o-mini".to_owned(),
        verdict: "allow".to_owned(),
        prompt_tokens: 14,
        completion_tokens: 7,
        total_tokens: 21,
        estimated_cost_usd: "0.0000063000".to_owned(),
        latency_ms: 12,
        http_status: Some(200),
        trace_id: None,
        metadata: json!({"verdict": "allow", "policies": []}),
        created_at,
        chain_id: "default/journal-test".to_owned(),
        chain_seq: seq,
        prev_hash: hex::encode(prev),
        row_hash: String::new(),
        retain_until: created_at.date_naive(),
    };
    line.row_hash = hex::encode(axonflow_platform::audit::hash_line(&prev, &line));
    line
}

#[tokio::test]
async fn a_journal_with_a_torn_last_line_replays_the_rest() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("torn-{}", Uuid::new_v4().simple()));
    let journal = dir.join("nested").join("audit_fallback.jsonl");
    std::fs::create_dir_all(journal.parent().expect("parent")).expect("dir");
    let mut prev = axonflow_platform::audit::chain::GENESIS;
    let mut text = String::new();
    let mut ids = Vec::new();
    for seq in 1..=3 {
        let line = journal_line(seq, prev);
        prev = hex::decode(&line.row_hash)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        ids.push(line.id.to_string());
        text.push_str(&serde_json::to_string(&line).expect("json"));
        text.push('\n');
    }
    // A row Postgres refuses (its verdict breaks a CHECK): set aside, never blocking the others.
    let mut refused = journal_line(1, axonflow_platform::audit::chain::GENESIS);
    refused.verdict = "maybe".to_owned();
    refused.chain_id = "default/refused-test".to_owned();
    text.push_str(&serde_json::to_string(&refused).expect("json"));
    text.push('\n');
    text.push_str(r#"{"id":"0192f000-0000-7000-8000-00000000dead","source":"openai_ga"#);
    std::fs::write(&journal, text).expect("write journal");

    let journal_text = journal.display().to_string();
    let agent = Agent::start(
        &fresh_database().await,
        &[
            ("AUDIT_FALLBACK_PATH", journal_text.as_str()),
            ("ADMIN_API_KEY", ADMIN_KEY),
        ],
    );
    wait_until_flushed(&agent).await;
    assert_each_exactly_once(&agent.pool().await, &ids).await;
    assert!(
        agent.log().contains("torn line"),
        "no warning about the torn line"
    );
    assert_eq!(
        metric(&agent, "axonflow_audit_rows_rejected_total").await,
        Some(1)
    );
    let rejected =
        std::fs::read_to_string(format!("{}.rejected", journal.display())).expect("rejected file");
    assert!(rejected.contains(&refused.id.to_string()), "{rejected}");
    assert_eq!(std::fs::metadata(&journal).expect("journal kept").len(), 0);
    let leftovers: Vec<_> = std::fs::read_dir(journal.parent().expect("dir"))
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".replay-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let report = admin_get(&agent, "/api/v1/admin/audit/verify").await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["rows"], 3);

    let shared = std::process::Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .env_clear()
        .env("DATABASE_URL", fresh_database().await)
        .env("PORT", "0")
        .env("AUDIT_FALLBACK_PATH", &journal_text)
        .output()
        .expect("runs");
    assert!(
        !shared.status.success(),
        "a second agent on the same journal must not start"
    );
    assert!(String::from_utf8_lossy(&shared.stderr).contains("another process uses this journal"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .env_clear()
        .env("DATABASE_URL", fresh_database().await)
        .env("PORT", "0")
        .env("AUDIT_FALLBACK_PATH", "/proc/axonflow/journal.jsonl")
        .output()
        .expect("runs");
    assert!(
        !output.status.success(),
        "an unwritable journal path must stop start-up"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("AUDIT_FALLBACK_PATH"));
}

async fn admin_get(agent: &Agent, path: &str) -> Value {
    let response = client()
        .get(agent.url(path))
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn the_hash_chain_reports_the_first_edited_or_deleted_row() {
    let agent = Agent::start(&fresh_database().await, &[("ADMIN_API_KEY", ADMIN_KEY)]);
    let mut ids = Vec::new();
    for n in 0..6 {
        let (_, body) = post_json(
            &agent,
            "/api/policy/pre-check",
            json!({"client_id": "chain-app", "query": format!("question {n}")}),
        )
        .await;
        ids.push(body["decision_id"].as_str().expect("id").to_owned());
    }
    let intact = admin_get(&agent, "/api/v1/admin/audit/verify").await;
    assert_eq!(
        (
            intact["intact"].clone(),
            intact["rows"].clone(),
            intact["chains"].clone()
        ),
        (json!(true), json!(6), json!(1)),
        "{intact}"
    );

    let pool = agent.pool().await;
    sqlx::query("UPDATE llm_call_audits SET model = 'tampered' WHERE id = $1")
        .bind(ids[2].parse::<Uuid>().expect("uuid"))
        .execute(&pool)
        .await
        .expect("edit");
    let edited = admin_get(&agent, "/api/v1/admin/audit/verify").await;
    assert_eq!(edited["intact"], false);
    assert_eq!(edited["broken"][0]["chain_seq"], 3);
    assert_eq!(edited["broken"][0]["decision_id"], ids[2].as_str());
    assert!(edited["broken"][0]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("edited")));

    sqlx::query("UPDATE llm_call_audits SET model = '' WHERE id = $1")
        .bind(ids[2].parse::<Uuid>().expect("uuid"))
        .execute(&pool)
        .await
        .expect("restore");
    sqlx::query("DELETE FROM llm_call_audits WHERE id = $1")
        .bind(ids[4].parse::<Uuid>().expect("uuid"))
        .execute(&pool)
        .await
        .expect("delete");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .arg("verify-audit")
        .env_clear()
        .env("DATABASE_URL", &agent.database_url)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "a broken chain exits 1");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["broken"][0]["chain_seq"], 6, "{report}");
    assert!(
        report["broken"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("rows 5..5")),
        "{report}"
    );
}

#[tokio::test]
async fn retention_drops_whole_expired_partitions_and_keeps_the_rest() {
    let agent = Agent::start(&fresh_database().await, &[("ADMIN_API_KEY", ADMIN_KEY)]);
    let (_, plain) = post_json(&agent, "/api/policy/pre-check", json!({"query": "hello"})).await;
    let (_, medical) = post_json(
        &agent,
        "/api/policy/pre-check",
        json!({"query": "SSN 123-45-6789"}),
    )
    .await;
    let pool = agent.pool().await;
    let keep = |id: &Value| {
        let pool = pool.clone();
        let id: Uuid = id.as_str().expect("id").parse().expect("uuid");
        async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT (retain_until - created_at::date) / 30 FROM llm_call_audits WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row")
        }
    };
    // About 12 months by default, 72 for HIPAA (the SSN policy's framework).
    assert!((12..=12).contains(&keep(&plain["decision_id"]).await));
    assert!((72..=73).contains(&keep(&medical["decision_id"]).await));

    for month in ["2015-01-01", "2020-06-01"] {
        sqlx::query("SELECT axonflow_ensure_audit_partition($1::date)")
            .bind(month)
            .execute(&pool)
            .await
            .expect("partition");
    }
    for (created, retain) in [
        ("2015-01-10T00:00:00Z", "2016-01-10"),
        ("2015-01-20T00:00:00Z", "2020-01-20"),
        ("2020-06-10T00:00:00Z", "2027-06-10"),
    ] {
        sqlx::query(
            "INSERT INTO llm_call_audits (id, source, client_id, tenant_id, org_id, provider, model, verdict, created_at, retain_until) \
             VALUES ($1, 'pre_check', 'old', 'default', 'o', '', '', 'allow', $2::timestamptz, $3::date)",
        )
        .bind(Uuid::now_v7())
        .bind(created)
        .bind(retain)
        .execute(&pool)
        .await
        .expect("old row");
    }
    let response = client()
        .post(agent.url("/api/v1/admin/audit/maintenance"))
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.expect("json");
    assert_eq!(
        result["partitions_dropped"],
        json!(["llm_call_audits_y2015m01"]),
        "{result}"
    );
    let partitions: Vec<&str> = result["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        partitions.contains(&"llm_call_audits_y2020m06"),
        "EU AI Act rows are kept: {partitions:?}"
    );
    assert!(partitions.contains(&"llm_call_audits_default"));
    let remaining: i64 = sqlx::query_scalar("SELECT count(*) FROM llm_call_audits")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(remaining, 3, "the two current rows and the 2020 row");
    let size: i32 =
        sqlx::query_scalar("SELECT pg_column_size(a.*) FROM llm_call_audits a WHERE id = $1")
            .bind(
                plain["decision_id"]
                    .as_str()
                    .expect("id")
                    .parse::<Uuid>()
                    .expect("uuid"),
            )
            .fetch_one(&pool)
            .await
            .expect("size");
    assert!(size < 600, "a plain pre-check row takes {size} bytes");
}

#[tokio::test]
async fn hostile_values_are_stored_and_keep_the_chain_intact() {
    let agent = Agent::start(&fresh_database().await, &[("ADMIN_API_KEY", ADMIN_KEY)]);
    let (_, context) = post_json(
        &agent,
        "/api/policy/pre-check",
        json!({"client_id": "odd-app", "query": "hello"}),
    )
    .await;
    // Out of the INTEGER range, NUL characters (refused by TEXT and JSONB), numbers Postgres spells
    // differently: none may keep a row out of the table or break its hash.
    let body = json!({
        "context_id": context["context_id"], "client_id": "odd-app", "provider": "open\u{0}ai", "model": "gpt\u{0}x",
        "response_summary": "nul \u{0} inside",
        "token_usage": {"prompt_tokens": 3_000_000_000u64, "completion_tokens": 1, "total_tokens": 4_000_000_000u64},
        "latency_ms": 4_000_000_000u64,
        "metadata": {"k\u{0}": "v\u{0}", "big": 1e16, "zero": -0.0, "whole": 12.0},
    });
    let (status, audited) = post_json(&agent, "/api/audit/llm-call", body).await;
    assert_eq!(status, StatusCode::OK, "{audited}");
    let id: Uuid = audited["audit_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let pool = agent.pool().await;
    let (prompt, latency, model): (i32, i32, String) = sqlx::query_as(
        "SELECT prompt_tokens, latency_ms, model FROM llm_call_audits WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("stored, not journaled");
    assert_eq!((prompt, latency), (i32::MAX, i32::MAX));
    assert_eq!(model, "gpt\u{fffd}x");
    assert_eq!(
        metric(&agent, "axonflow_audit_journal_backlog").await,
        Some(0)
    );
    let report = admin_get(&agent, "/api/v1/admin/audit/verify").await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["rows"], 2);
}

#[tokio::test]
async fn a_refused_journal_row_is_never_dropped_while_rejected_cannot_take_it() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("unkept-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let journal = dir.join("audit_fallback.jsonl");
    let good = journal_line(1, axonflow_platform::audit::chain::GENESIS);
    let mut refused = journal_line(1, axonflow_platform::audit::chain::GENESIS);
    refused.verdict = "maybe".to_owned();
    refused.chain_id = "default/unkept-test".to_owned();
    let text = format!(
        "{}\n{}\n",
        serde_json::to_string(&good).expect("json"),
        serde_json::to_string(&refused).expect("json")
    );
    std::fs::write(&journal, text).expect("write journal");
    // A directory where `.rejected` would be: the refused row cannot be kept there.
    let rejected = PathBuf::from(format!("{}.rejected", journal.display()));
    std::fs::create_dir(&rejected).expect("block .rejected");

    let journal_text = journal.display().to_string();
    let agent = Agent::start(
        &fresh_database().await,
        &[("AUDIT_FALLBACK_PATH", journal_text.as_str())],
    );
    let pool = agent.pool().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_each_exactly_once(&pool, &[good.id.to_string()]).await;
    let waiting: String = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        waiting.contains(&refused.id.to_string()),
        "the refused row must wait in a journal file, not vanish"
    );

    // Once `.rejected` can take it, the next replay keeps it there and empties the journal.
    std::fs::remove_dir(&rejected).expect("unblock");
    wait_until_flushed(&agent).await;
    let kept = std::fs::read_to_string(&rejected).expect("rejected file");
    assert!(kept.contains(&refused.id.to_string()), "{kept}");
    assert_each_exactly_once(&pool, &[good.id.to_string()]).await;
}

/// Waits until some session waits for a lock (the maintenance call has reached the parent's lock).
async fn wait_for_a_lock_waiter(pool: &PgPool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(pool)
        .await
        .expect("pg_locks");
        if waiting > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "nobody waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn partition_maintenance_never_deadlocks_with_ddl_on_the_parent() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let pool = agent.pool().await;
    // An old month whose row is kept until 2030 (so the agent's own maintenance leaves it alone),
    // created with its row at once (an empty past month would be dropped as soon as it exists).
    let mut old = pool.begin().await.expect("begin");
    sqlx::query("SELECT axonflow_ensure_audit_partition('2015-01-01'::date)")
        .execute(&mut *old)
        .await
        .expect("old partition");
    sqlx::query(
        "INSERT INTO llm_call_audits (id, source, client_id, tenant_id, org_id, provider, model, verdict, created_at, retain_until) \
         VALUES ($1, 'pre_check', 'old', 'default', 'o', '', '', 'allow', '2015-01-10T00:00:00Z', '2030-01-10')",
    )
    .bind(Uuid::now_v7())
    .execute(&mut *old)
    .await
    .expect("old row");
    old.commit().await.expect("commit");

    // DDL on the parent locks it first, then its partitions, the way ALTER TABLE does. Maintenance
    // that read a partition before asking for the parent would deadlock here (one side aborted).
    for (call, partition) in [
        (
            "SELECT axonflow_ensure_audit_partition('2031-03-01'::date)",
            "llm_call_audits_default",
        ),
        (
            "SELECT axonflow_drop_audit_partition('llm_call_audits_y2015m01', '2031-01-01'::date)",
            "llm_call_audits_y2015m01",
        ),
    ] {
        let mut ddl = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE ONLY llm_call_audits IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *ddl)
            .await
            .expect("parent");
        let maintenance = tokio::spawn({
            let pool = pool.clone();
            async move { sqlx::query_scalar::<_, bool>(call).fetch_one(&pool).await }
        });
        wait_for_a_lock_waiter(&pool).await;
        sqlx::query(&format!("LOCK TABLE {partition} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut *ddl)
            .await
            .unwrap_or_else(|e| panic!("{call}: the DDL side was aborted: {e}"));
        ddl.commit().await.expect("commit");
        let done = maintenance
            .await
            .expect("joins")
            .unwrap_or_else(|e| panic!("{call}: maintenance was aborted: {e}"));
        assert!(done, "{call} did its work once the DDL committed");
    }
}
