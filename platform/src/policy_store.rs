//! The policies each request is evaluated with: the system catalogue (compiled once at start) plus,
//! per tenant, its overrides of system policies and its custom policies. A tenant's set is loaded
//! from Postgres on first use and cached; a background task polls `policy_revisions` and drops the
//! sets of tenants that changed on any replica, so a change is in force everywhere within about one
//! refresh interval, without a restart. An override's expiry ends its cached set too.
//!
//! A tenant's set also holds its dynamic policies, compiled once, evaluated on the facts of a request.
//!
//! Compilation always, and evaluation of large texts, run on the CPU pool (`cpu.rs`), off the async
//! workers. Both services keep a store: the agent for input checks, the orchestrator for Proxy Mode's
//! dynamic checks and output filtering.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{self, DbError, PgPool, StoredOverride, StoredPolicy};
use axonflow_policy::{
    evaluate_layers, Action, Adjustment, Adjustments, CompileOptions, Decision, DynamicDecision,
    DynamicEngine, DynamicSpec, Engine, Facts, Layer, PolicySpec,
};

use crate::cpu::{CpuPool, JobFailed};

/// Revisions are polled with this much overlap, so that a transaction that committed a little after
/// its revision's clock reading is still seen.
const REVISION_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// One tenant's view of the policies, ready to evaluate.
pub struct TenantPolicies {
    /// Whose policies these are: the owner of their costly evaluations on the CPU pool.
    tenant_id: String,
    revision: i64,
    /// The tenant's own policies; `None` when it has none.
    custom: Option<Engine>,
    system_adjustments: Adjustments,
    /// The earliest expiry among the overrides in force: the set must be rebuilt then.
    valid_until: Option<DateTime<Utc>>,
    /// Ids of the tenant's custom policies that were left out because they no longer compile.
    pub skipped: Vec<String>,
    /// The tenant's enabled dynamic policies; `None` when it has none.
    dynamic: Option<DynamicEngine>,
    /// The tenant's budgets, enforced before calls.
    pub budgets: Vec<db::StoredBudget>,
    /// The tenant's LLM providers (routing), keys sealed.
    pub providers: Vec<db::StoredProvider>,
}

impl TenantPolicies {
    /// Number of enabled custom policies.
    pub fn n_custom(&self) -> usize {
        self.custom.as_ref().map_or(0, Engine::len)
    }

    /// Number of enabled dynamic policies.
    pub fn n_dynamic(&self) -> usize {
        self.dynamic.as_ref().map_or(0, DynamicEngine::len)
    }

    /// The tenant's dynamic policies on the facts of one request (no IO; microseconds).
    pub fn evaluate_dynamic(&self, facts: &Facts<'_>) -> DynamicDecision {
        self.dynamic
            .as_ref()
            .map(|engine| engine.evaluate(facts))
            .unwrap_or_default()
    }
}

/// Why a tenant's policies could not be had: nothing may be decided without them.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("the tenant's policies could not be compiled")]
    Compile,
}

pub struct PolicyStore {
    /// Shared with the warm-up thread (`warm_up_in_background`).
    system: Arc<Engine>,
    options: CompileOptions,
    cpu: CpuPool,
    tenants: RwLock<HashMap<String, Arc<TenantPolicies>>>,
    /// The newest revision seen per tenant (by the refresher or a load).
    known_revisions: RwLock<HashMap<String, i64>>,
}

fn adjustment_of(stored: &StoredOverride) -> Adjustment {
    Adjustment {
        action: stored
            .action_override
            .as_deref()
            .and_then(|a| a.parse::<Action>().ok()),
        enabled: stored.enabled_override,
    }
}

/// Compiles the tenant's policies; a policy that no longer compiles (stored before a validation
/// rule existed, say) is left out and named, rather than failing every request of the tenant.
/// `None` when the ones that compile alone do not compile together: the tenant's requests are then
/// refused rather than let through unchecked (as for dynamic policies).
fn compile_custom(
    rows: &[StoredPolicy],
    options: &CompileOptions,
) -> Option<(Option<Engine>, Vec<String>)> {
    if rows.is_empty() {
        return Some((None, Vec::new()));
    }
    let mut specs: Vec<PolicySpec> = Vec::with_capacity(rows.len());
    let mut skipped = Vec::new();
    for row in rows {
        match row.to_spec() {
            Ok(spec) => specs.push(spec),
            Err(error) => {
                tracing::error!(policy_id = %row.policy_id, %error, "stored tenant policy is invalid; skipped");
                skipped.push(row.policy_id.clone());
            }
        }
    }
    match Engine::compile(&specs, options.clone()) {
        Ok(engine) => Some((Some(engine), skipped)),
        Err(errors) => {
            tracing::error!(%errors, "tenant policies do not compile; compiling them one by one");
            let good: Vec<PolicySpec> = specs
                .into_iter()
                .filter(|spec| {
                    let ok = Engine::compile(std::slice::from_ref(spec), options.clone()).is_ok();
                    if !ok {
                        skipped.push(spec.id.clone());
                    }
                    ok
                })
                .collect();
            match Engine::compile(&good, options.clone()) {
                Ok(engine) => Some((Some(engine), skipped)),
                Err(errors) => {
                    tracing::error!(%errors, "tenant policies do not compile together");
                    None
                }
            }
        }
    }
}

/// Compiles the tenant's dynamic policies; one that no longer compiles is left out and named.
/// `None` when the ones that compile alone do not compile together: the tenant's requests are then
/// refused rather than let through unchecked.
fn compile_dynamic(
    rows: &[db::StoredDynamicPolicy],
) -> Option<(Option<DynamicEngine>, Vec<String>)> {
    if rows.is_empty() {
        return Some((None, Vec::new()));
    }
    let specs: Vec<DynamicSpec> = rows.iter().map(db::StoredDynamicPolicy::to_spec).collect();
    match DynamicEngine::compile(&specs) {
        Ok(engine) => Some((Some(engine), Vec::new())),
        Err(errors) => {
            tracing::error!(%errors, "dynamic policies do not compile; compiling them one by one");
            let mut skipped = Vec::new();
            let good: Vec<DynamicSpec> = specs
                .into_iter()
                .filter(|spec| {
                    let ok = DynamicEngine::compile(std::slice::from_ref(spec)).is_ok();
                    if !ok {
                        skipped.push(spec.id.clone());
                    }
                    ok
                })
                .collect();
            if good.is_empty() {
                return Some((None, skipped));
            }
            match DynamicEngine::compile(&good) {
                Ok(engine) => Some((Some(engine), skipped)),
                Err(errors) => {
                    tracing::error!(%errors, "dynamic policies do not compile together");
                    None
                }
            }
        }
    }
}

impl PolicyStore {
    pub fn new(system: Engine, cpu: CpuPool) -> PolicyStore {
        let options = system.options().clone();
        PolicyStore {
            system: Arc::new(system),
            options,
            cpu,
            tenants: RwLock::new(HashMap::new()),
            known_revisions: RwLock::new(HashMap::new()),
        }
    }

    pub fn system(&self) -> &Engine {
        &self.system
    }

    /// Builds, on a thread of its own, what the policy detectors otherwise build for the first
    /// request that needs it (`Engine::warm_up`: the phone-number metadata alone takes over a
    /// hundred milliseconds). Requests are served meanwhile.
    pub fn warm_up_in_background(&self) {
        let system = Arc::clone(&self.system);
        let spawned = std::thread::Builder::new()
            .name("axonflow-warm-up".to_owned())
            .spawn(move || system.warm_up());
        if let Err(error) = spawned {
            tracing::warn!(%error, "policy warm-up not started; the first requests build what it would");
        }
    }

    /// Where CPU-heavy policy work runs.
    pub fn cpu(&self) -> &CpuPool {
        &self.cpu
    }

    fn cached(&self, tenant_id: &str, now: DateTime<Utc>) -> Option<Arc<TenantPolicies>> {
        let tenants = self.tenants.read().ok()?;
        let entry = tenants.get(tenant_id)?;
        let known = self
            .known_revisions
            .read()
            .ok()
            .and_then(|known| known.get(tenant_id).copied())
            .unwrap_or(0);
        let fresh = entry.revision >= known && entry.valid_until.is_none_or(|until| now < until);
        fresh.then(|| entry.clone())
    }

    /// The tenant's policies, from the cache or freshly loaded. When the database cannot be reached,
    /// a stale cached set is used rather than none (and the failure logged).
    pub async fn for_tenant(
        self: &Arc<Self>,
        pool: &PgPool,
        tenant_id: &str,
    ) -> Result<Arc<TenantPolicies>, Unavailable> {
        let now = Utc::now();
        if let Some(entry) = self.cached(tenant_id, now) {
            return Ok(entry);
        }
        match db::load_tenant_policy_set(pool, tenant_id).await {
            Ok(set) => {
                let (store, tenant) = (self.clone(), tenant_id.to_owned());
                let compiled = self
                    .cpu
                    .run(crate::cpu::ON_THE_POOL, move || {
                        store.compile_tenant(tenant, set)
                    })
                    .await;
                let Ok(Some(entry)) = compiled else {
                    tracing::error!(%tenant_id, "tenant policy compilation failed");
                    return Err(Unavailable::Compile);
                };
                let entry = Arc::new(entry);
                self.note_revisions(&[(tenant_id.to_owned(), entry.revision)]);
                if let Ok(mut tenants) = self.tenants.write() {
                    tenants.insert(tenant_id.to_owned(), entry.clone());
                }
                Ok(entry)
            }
            Err(error) => {
                let stale = self
                    .tenants
                    .read()
                    .ok()
                    .and_then(|tenants| tenants.get(tenant_id).cloned());
                match stale {
                    Some(entry) => {
                        tracing::warn!(%tenant_id, %error, "cannot reload tenant policies; using the cached set");
                        Ok(entry)
                    }
                    None => Err(Unavailable::Database(error)),
                }
            }
        }
    }

    /// Compiles one tenant's set (CPU work: runs on the CPU pool).
    fn compile_tenant(
        &self,
        tenant_id: String,
        set: db::TenantPolicySet,
    ) -> Option<TenantPolicies> {
        let (custom, mut skipped) = compile_custom(&set.custom, &self.options)?;
        let (dynamic, skipped_dynamic) = compile_dynamic(&set.dynamic)?;
        skipped.extend(skipped_dynamic);
        let by_policy: HashMap<&str, Adjustment> = set
            .overrides
            .iter()
            .map(|o| (o.policy_id.as_str(), adjustment_of(o)))
            .collect();
        Some(TenantPolicies {
            tenant_id,
            revision: set.revision,
            custom,
            system_adjustments: self.system.adjust(&by_policy),
            valid_until: set.overrides.iter().filter_map(|o| o.expires_at).min(),
            skipped,
            dynamic,
            budgets: set.budgets,
            providers: set.providers,
        })
    }

    /// Evaluates each text with the tenant's policies: one decision per text, in order. Large
    /// batches run on the CPU pool.
    pub async fn evaluate_many(
        self: &Arc<Self>,
        tenant: &Arc<TenantPolicies>,
        texts: Vec<String>,
    ) -> Result<Vec<Decision>, JobFailed> {
        let cost = batch_cost(&texts);
        let (store, owned) = (self.clone(), tenant.clone());
        let run = self.cpu.run_for(&tenant.tenant_id, cost, move || {
            texts
                .iter()
                .map(|text| store.evaluate(&owned, text))
                .collect()
        });
        // The request's policy time: the evaluation, and its wait for a CPU slot.
        let started = std::time::Instant::now();
        let decisions = tracing::Instrument::instrument(
            run,
            crate::telemetry::internal_span("axonflow.policy.evaluate"),
        )
        .await;
        crate::metrics::add_policy_time(started.elapsed());
        decisions
    }

    /// The tenant's dynamic policies on `facts`: on the CPU pool when the query is large (regex
    /// conditions scan it).
    pub async fn evaluate_dynamic(
        self: &Arc<Self>,
        tenant: &Arc<TenantPolicies>,
        facts: crate::facts::OwnedFacts,
    ) -> Result<DynamicDecision, JobFailed> {
        if tenant.n_dynamic() == 0 {
            return Ok(DynamicDecision::default());
        }
        let cost = facts.query.len() + 64 * tenant.n_dynamic();
        let owned = tenant.clone();
        let run = self.cpu.run_for(&tenant.tenant_id, cost, move || {
            owned.evaluate_dynamic(&facts.as_facts())
        });
        let started = std::time::Instant::now();
        let decision = tracing::Instrument::instrument(
            run,
            crate::telemetry::internal_span("axonflow.policy.evaluate"),
        )
        .await;
        crate::metrics::add_policy_time(started.elapsed());
        decision
    }

    /// `evaluate_many` for one text.
    pub async fn evaluate_one(
        self: &Arc<Self>,
        tenant: &Arc<TenantPolicies>,
        text: String,
    ) -> Result<Decision, JobFailed> {
        let mut decisions = self.evaluate_many(tenant, vec![text]).await?;
        Ok(decisions.pop().unwrap_or_else(Decision::allow_nothing))
    }

    /// Evaluates `text` with the system catalogue (as the tenant adjusted it) and the tenant's own
    /// policies: one decision. Inline: callers with large texts use `evaluate_many`.
    pub fn evaluate(&self, tenant: &TenantPolicies, text: &str) -> Decision {
        let started = std::time::Instant::now();
        let decision = self.evaluate_layers(tenant, text);
        if let Some(metrics) = crate::metrics::metrics() {
            metrics.observe_policy_eval(started.elapsed());
        }
        decision
    }

    fn evaluate_layers(&self, tenant: &TenantPolicies, text: &str) -> Decision {
        let system = Layer {
            engine: &self.system,
            adjustments: Some(&tenant.system_adjustments),
        };
        match &tenant.custom {
            Some(custom) => evaluate_layers(
                &[
                    system,
                    Layer {
                        engine: custom,
                        adjustments: None,
                    },
                ],
                text,
            ),
            None => evaluate_layers(&[system], text),
        }
    }

    /// Number of policies a tenant's evaluation runs (static and dynamic).
    pub fn n_evaluated(&self, tenant: &TenantPolicies) -> usize {
        self.system.len() + tenant.n_custom() + tenant.n_dynamic()
    }

    /// After a change written through this agent: takes note of the tenant's new revision and
    /// drops its cached set, so that its very next request here uses the change, even if a load
    /// that read the old policies finishes afterwards (other replicas follow within their refresh
    /// interval).
    pub async fn changed(&self, pool: &PgPool, tenant_id: &str) {
        match db::tenant_policy_revision(pool, tenant_id).await {
            Ok(revision) => self.note_revisions(&[(tenant_id.to_owned(), revision)]),
            Err(error) => tracing::warn!(%error, %tenant_id, "cannot read the new policy revision"),
        }
        if let Ok(mut tenants) = self.tenants.write() {
            tenants.remove(tenant_id);
        }
    }

    /// Records revisions seen; cached sets older than them are reloaded on next use.
    pub fn note_revisions(&self, revisions: &[(String, i64)]) {
        if revisions.is_empty() {
            return;
        }
        if let Ok(mut known) = self.known_revisions.write() {
            for (tenant_id, revision) in revisions {
                let slot = known.entry(tenant_id.clone()).or_insert(0);
                *slot = (*slot).max(*revision);
            }
        }
    }

    /// Polls for revisions changed by any replica, forever (the caller aborts the task at
    /// shutdown). Also clears old rate limit windows and expired internal-call nonces about once a minute.
    pub async fn refresh_forever(self: Arc<Self>, pool: PgPool, interval: Duration) {
        let mut since: Option<DateTime<Utc>> = None;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_cleanup = std::time::Instant::now();
        let mut failing = false;
        loop {
            ticker.tick().await;
            match db::changed_revisions(&pool, since).await {
                Ok((changed, db_now)) => {
                    if failing {
                        tracing::info!("policy revisions readable again");
                        failing = false;
                    }
                    self.note_revisions(&changed);
                    since = Some(db_now - REVISION_LOOKBACK);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot poll policy revisions; cached policies stay in force");
                        failing = true;
                    }
                }
            }
            if last_cleanup.elapsed() >= Duration::from_secs(60) {
                last_cleanup = std::time::Instant::now();
                if let Err(error) = db::delete_old_rate_windows(&pool).await {
                    tracing::warn!(%error, "cannot clear old rate limit windows");
                }
                if let Err(error) = db::delete_expired_nonces(&pool).await {
                    tracing::warn!(%error, "cannot clear expired internal-call nonces");
                }
            }
        }
    }
}

/// What evaluating `texts` costs, in bytes of prose (see `CpuPool::run`). Each text costs a
/// little besides its content: many tiny texts are work too. A short text dense with quotes or
/// escapes can cost as much as a long one of prose.
fn batch_cost(texts: &[String]) -> usize {
    let by_length = texts
        .iter()
        .map(|text| text.len().saturating_add(64))
        .fold(0, usize::saturating_add);
    // The weighed cost is never below the length: a batch heavy by its length alone goes to the
    // heavy lane without reading it a second time. Below that, weighing (a fraction of a
    // nanosecond a byte) keeps a megabyte dense with quotes out of the ordinary lane, where it
    // would hold the slot JSON prompts and documents wait for.
    if by_length >= crate::cpu::HEAVY_BYTES {
        return by_length;
    }
    texts
        .iter()
        .map(|text| axonflow_policy::evaluation_cost(text).saturating_add(64))
        .fold(0, usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::INLINE_BYTES;

    fn stored(policy_id: &str, pattern: &str) -> StoredPolicy {
        let now = chrono::Utc::now();
        StoredPolicy {
            id: uuid::Uuid::now_v7(),
            policy_id: policy_id.to_owned(),
            tenant_id: Some("t".to_owned()),
            organization_id: None,
            name: policy_id.to_owned(),
            description: String::new(),
            category: "custom".to_owned(),
            tier: "tenant".to_owned(),
            detector_kind: "regex".to_owned(),
            pattern: pattern.to_owned(),
            keywords: Vec::new(),
            action: "block".to_owned(),
            severity: "high".to_owned(),
            priority: 0,
            enabled: true,
            tags: Vec::new(),
            frameworks: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn custom_policies_that_do_not_compile_together_fail_closed() {
        let options = CompileOptions::default();
        // One that does not compile is left out and named; the others still apply.
        let (engine, skipped) =
            compile_custom(&[stored("a", "secret"), stored("b", "(")], &options)
                .expect("compiles without b");
        assert_eq!(skipped, ["b"]);
        assert_eq!(engine.expect("an engine").len(), 1);
        // Each compiles alone, not together (the same id twice): no engine that silently drops them.
        assert!(compile_custom(&[stored("a", "one"), stored("a", "two")], &options).is_none());
    }

    #[test]
    fn prose_is_evaluated_inline_and_short_texts_dense_with_quotes_are_not() {
        // A support question of 1.5 KB, in two texts: inline.
        let question =
            "Hi! I ordered a blue waterproof jacket last Tuesday together with two pairs \
            of hiking socks, and the order page still says it is being prepared. Could you tell me \
            what the usual delivery time is at the moment, and whether it can be sent by express? ";
        let prose = vec![question.repeat(3), question.repeat(3)];
        assert!(prose.iter().map(String::len).sum::<usize>() > 1400);
        assert!(
            batch_cost(&prose) < INLINE_BYTES / 4,
            "{}",
            batch_cost(&prose)
        );
        // Two kilobytes of `' or '`, or of URL-encoded quotes, take milliseconds to judge: the pool.
        for unit in [
            "' or '",
            "%27%20or%20%271 ",
            "&#39; or &apos;1 ",
            "x' OR 1=1 -- ; ",
        ] {
            let dense = vec![unit.repeat(2048 / unit.len())];
            assert!(dense[0].len() <= 2048);
            assert!(
                batch_cost(&dense) >= INLINE_BYTES,
                "{unit}: {}",
                batch_cost(&dense)
            );
        }
        // A long text is costly by its length alone.
        assert!(batch_cost(&[question.repeat(200)]) >= INLINE_BYTES);
        // A megabyte of `"&` is heavy though its length is not; a long text heavy by its length
        // alone is not weighed.
        assert!(batch_cost(&["\"&".repeat(512 * 1024)]) >= crate::cpu::HEAVY_BYTES);
        assert!(batch_cost(&["\"&".repeat(128 * 1024)]) >= crate::cpu::HEAVY_BYTES);
        assert!(batch_cost(&[question.repeat(64)]) < crate::cpu::HEAVY_BYTES);
        assert_eq!(
            batch_cost(&[question.repeat(30_000)]),
            question.len() * 30_000 + 64
        );
        // Many tiny texts are work too.
        let many = vec![String::new(); INLINE_BYTES / 64];
        assert!(batch_cost(&many) >= INLINE_BYTES);
        assert_eq!(batch_cost(&[]), 0);
    }
}
