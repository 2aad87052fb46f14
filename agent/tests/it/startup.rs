//! Start-up behaviour: the production boot guard, health, concurrent migrations.

use std::process::Command;

use serde_json::Value;

use crate::common::{client, fresh_database, Agent};

#[test]
fn production_with_the_dev_org_refuses_to_boot() {
    let output = Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .env_clear()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("DEPLOYMENT_KIND", "production")
        .env("ORG_ID", "local-dev-org")
        .output()
        .expect("run the agent");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DEPLOYMENT_KIND=production") && stderr.contains("ORG_ID=local-dev-org"),
        "{stderr}"
    );
}

#[test]
fn bad_configuration_lists_every_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .env_clear()
        .env("PORT", "http")
        .env("PII_ACTION", "explode")
        .output()
        .expect("run the agent");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in ["PORT", "PII_ACTION", "DATABASE_URL"] {
        assert!(
            stderr.contains(variable),
            "{variable} missing from: {stderr}"
        );
    }
}

#[tokio::test]
async fn health_reports_capabilities_and_sdk_compatibility() {
    let agent = Agent::start(&fresh_database().await, &[]);
    let health: Value = client()
        .get(agent.url("/health"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["service"], "axonflow-agent");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["database"], "ok");
    let capabilities: Vec<&str> = health["capabilities"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(capabilities.contains(&"openai_gateway"), "{capabilities:?}");
    assert!(health["sdk_compatibility"]["min_sdk_version"]["python"].is_string());
    assert!(health["sdk_compatibility"]["recommended_sdk_version"]["python"].is_string());
}

#[tokio::test]
async fn agent_and_orchestrator_migrate_the_same_database_at_once() {
    let database_url = fresh_database().await;
    // The orchestrator is a sibling binary of the same workspace build (`cargo test --workspace`).
    let orchestrator_bin = std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent"))
        .with_file_name("axonflow-orchestrator");
    assert!(
        orchestrator_bin.exists(),
        "build the workspace first: {}",
        orchestrator_bin.display()
    );
    // The orchestrator migrates while the first agent starts: both take the migration lock.
    let mut orchestrator = Command::new(orchestrator_bin)
        .env_clear()
        .env("DATABASE_URL", &database_url)
        .env("PORT", "0")
        .env("AXONFLOW_BIND_ADDRESS", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the orchestrator (cargo builds it with the workspace)");
    let agents: Vec<Agent> = (0..2).map(|_| Agent::start(&database_url, &[])).collect();
    for agent in &agents {
        let health: Value = client()
            .get(agent.url("/health"))
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("json");
        assert_eq!(health["database"], "ok");
    }
    let pool = agents[0].pool().await;
    let n_system: i64 =
        sqlx::query_scalar("SELECT count(*) FROM static_policies WHERE tier = 'system'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(
        n_system,
        axonflow_policy::system_policies().len() as i64,
        "seeded once, not per process"
    );
    assert!(
        orchestrator.try_wait().expect("status").is_none(),
        "the orchestrator is still running"
    );
    let _ = orchestrator.kill();
    let _ = orchestrator.wait();
}
