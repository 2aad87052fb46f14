//! Budgets as both services apply them: calendar periods in UTC, which budgets a request falls
//! under, what a budget has used (a sum over the audit rows of its scope in the current period) and
//! the decision before a call. The agent enforces `block` budgets before calls; the orchestrator
//! serves the budget API.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use crate::db::{self, DbError, PgPool, ScopeColumn, StoredBudget, StoredBudgetAlert};

pub const SCOPES: &[&str] = &["organization", "team", "agent", "workflow", "user"];
pub const PERIODS: &[&str] = &["daily", "weekly", "monthly", "quarterly", "yearly"];
pub const ON_EXCEED: &[&str] = &["warn", "block", "downgrade"];

/// The `[start, end)` of the UTC calendar period containing `now`.
pub fn period_bounds(period: &str, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = now.date_naive();
    let midnight = |date: NaiveDate| Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN));
    let first_of =
        |year: i32, month: u32| NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    let next_month = |year: i32, month: u32, months: u32| {
        let index = year * 12 + month as i32 - 1 + months as i32;
        first_of(index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    };
    let (start, end) = match period {
        "daily" => (day, day + Duration::days(1)),
        "weekly" => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        "quarterly" => {
            let first_month = (day.month() - 1) / 3 * 3 + 1;
            (
                first_of(day.year(), first_month),
                next_month(day.year(), first_month, 3),
            )
        }
        "yearly" => (first_of(day.year(), 1), first_of(day.year() + 1, 1)),
        // monthly, and anything unknown.
        _ => (
            first_of(day.year(), day.month()),
            next_month(day.year(), day.month(), 1),
        ),
    };
    (midnight(start), midnight(end))
}

/// SHA-256 hex of a user id: what audit rows keep (`metadata.user_hash`) instead of the id.
pub fn user_hash(user_id: &str) -> String {
    crate::audit::chain::sha256_hex(user_id)
}

/// Who a request is for, as budgets see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestScope {
    pub org_id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub workflow_id: Option<String>,
}

/// Whether `budget` covers `scope`.
pub fn covers(budget: &StoredBudget, scope: &RequestScope) -> bool {
    let id = budget.scope_id.as_str();
    match budget.scope.as_str() {
        "organization" => id == scope.org_id,
        "team" => id == scope.tenant_id,
        "agent" => id == scope.client_id,
        "user" => scope.user_id.as_deref() == Some(id),
        "workflow" => scope.workflow_id.as_deref() == Some(id),
        _ => false,
    }
}

/// A budget's state now.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetStatus {
    pub used_usd: f64,
    pub remaining_usd: f64,
    pub percentage: f64,
    pub exceeded: bool,
    /// Exceeded and `on_exceed: block`: calls of its scope are refused.
    pub blocking: bool,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

/// What budgets have used, kept briefly per process: checking a budget before every call would
/// otherwise sum its period's audit rows every time. An entry lives `ttl` at most and is forgotten
/// as soon as this process records a cost for the tenant, so a replica sees its own spending at
/// once and the others' within `ttl`. Thresholds already alerted are remembered so an alert is
/// written once per period, not tried on every call. Bounded: full maps are cleared.
#[derive(Debug)]
pub struct SpendCache {
    ttl: std::time::Duration,
    /// tenant -> (budget key -> (read at, used USD)).
    used: Mutex<HashMap<String, TenantSpend>>,
    /// (tenant, budget, threshold, period start) already alerted.
    alerted: Mutex<HashSet<AlertKey>>,
}

/// A tenant's budgets: key -> (read at, used USD).
type TenantSpend = HashMap<String, (Instant, f64)>;
type AlertKey = (String, String, i32, DateTime<Utc>);

const MAX_CACHED_TENANTS: usize = 10_000;
const MAX_CACHED_ALERTS: usize = 100_000;

impl SpendCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        SpendCache {
            ttl,
            used: Mutex::new(HashMap::new()),
            alerted: Mutex::new(HashSet::new()),
        }
    }

    /// The key of a budget's spending: its scope and period start too, so an edited budget or a
    /// new period is read afresh.
    fn key(budget: &StoredBudget, start: DateTime<Utc>) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            budget.id,
            budget.scope,
            budget.scope_id,
            start.timestamp()
        )
    }

    fn get(&self, budget: &StoredBudget, start: DateTime<Utc>) -> Option<f64> {
        let used = self.used.lock().ok()?;
        let (read_at, usd) = used
            .get(&budget.tenant_id)?
            .get(&Self::key(budget, start))?;
        (read_at.elapsed() < self.ttl).then_some(*usd)
    }

    fn put(&self, budget: &StoredBudget, start: DateTime<Utc>, usd: f64) {
        if let Ok(mut used) = self.used.lock() {
            if used.len() >= MAX_CACHED_TENANTS && !used.contains_key(&budget.tenant_id) {
                used.clear();
            }
            used.entry(budget.tenant_id.clone())
                .or_default()
                .insert(Self::key(budget, start), (Instant::now(), usd));
        }
    }

    /// Forgets what the tenant's budgets used: this process just recorded a cost for it.
    pub fn forget_tenant(&self, tenant_id: &str) {
        if let Ok(mut used) = self.used.lock() {
            used.remove(tenant_id);
        }
    }

    fn alert_key(budget: &StoredBudget, threshold: i32, start: DateTime<Utc>) -> AlertKey {
        (
            budget.tenant_id.clone(),
            budget.id.clone(),
            threshold,
            start,
        )
    }

    /// Whether this process already recorded the alert.
    fn alerted(&self, budget: &StoredBudget, threshold: i32, start: DateTime<Utc>) -> bool {
        self.alerted
            .lock()
            .is_ok_and(|alerted| alerted.contains(&Self::alert_key(budget, threshold, start)))
    }

    fn remember_alert(&self, budget: &StoredBudget, threshold: i32, start: DateTime<Utc>) {
        if let Ok(mut alerted) = self.alerted.lock() {
            if alerted.len() >= MAX_CACHED_ALERTS {
                alerted.clear();
            }
            alerted.insert(Self::alert_key(budget, threshold, start));
        }
    }
}

/// The status of `budget` having used `used` USD in the period `[start, end)`.
fn status_of(
    budget: &StoredBudget,
    used: f64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> BudgetStatus {
    let percentage = if budget.limit_usd > 0.0 {
        used / budget.limit_usd * 100.0
    } else {
        0.0
    };
    let exceeded = used >= budget.limit_usd;
    BudgetStatus {
        used_usd: used,
        remaining_usd: (budget.limit_usd - used).max(0.0),
        percentage,
        exceeded,
        blocking: exceeded && budget.enabled && budget.on_exceed == "block",
        period_start: start,
        period_end: end,
    }
}

/// What `budget` has used this period, summed from the audit rows.
async fn used_usd(
    pool: &PgPool,
    budget: &StoredBudget,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<f64, DbError> {
    let (column, value) = match budget.scope.as_str() {
        "organization" => (ScopeColumn::Org, budget.scope_id.clone()),
        "team" => (ScopeColumn::Tenant, budget.scope_id.clone()),
        "agent" => (ScopeColumn::Client, budget.scope_id.clone()),
        "user" => (ScopeColumn::UserHash, user_hash(&budget.scope_id)),
        _ => (ScopeColumn::Workflow, budget.scope_id.clone()),
    };
    db::spent_usd(pool, &budget.tenant_id, column, &value, start, end).await
}

/// Records each alert threshold `status` has crossed, once per period (`cache` skips the ones this
/// process already recorded).
async fn record_alerts(
    pool: &PgPool,
    budget: &StoredBudget,
    status: &BudgetStatus,
    now: DateTime<Utc>,
    cache: Option<&SpendCache>,
) -> Result<(), DbError> {
    let (start, used, percentage) = (status.period_start, status.used_usd, status.percentage);
    for threshold in &budget.alert_thresholds {
        if percentage >= f64::from(*threshold)
            && !cache.is_some_and(|cache| cache.alerted(budget, *threshold, start))
        {
            let alert = StoredBudgetAlert {
                id: Uuid::now_v7(),
                budget_id: budget.id.clone(),
                threshold: *threshold,
                period_start: start,
                percentage_reached: percentage,
                amount_usd: used,
                message: format!(
                    "budget {} reached {percentage:.1}% of {:.4} USD ({threshold}% threshold)",
                    budget.name, budget.limit_usd
                ),
                created_at: now,
            };
            if db::record_budget_alert(pool, &budget.tenant_id, &alert).await? {
                tracing::warn!(budget_id = %budget.id, tenant_id = %budget.tenant_id, threshold, "budget alert threshold reached");
            }
            if let Some(cache) = cache {
                cache.remember_alert(budget, *threshold, start);
            }
        }
    }
    Ok(())
}

/// What `budget` has used this period (from the audit rows, uncached), and any alert thresholds it
/// crossed recorded once.
pub async fn status(
    pool: &PgPool,
    budget: &StoredBudget,
    now: DateTime<Utc>,
) -> Result<BudgetStatus, DbError> {
    let (start, end) = period_bounds(&budget.period, now);
    let status = status_of(
        budget,
        used_usd(pool, budget, start, end).await?,
        start,
        end,
    );
    record_alerts(pool, budget, &status, now, None).await?;
    Ok(status)
}

/// Why a call under an exhausted budget is refused, for block reasons and messages.
pub fn exhausted(budget: &StoredBudget, status: &BudgetStatus) -> String {
    format!(
        "budget {} is exhausted: {:.6} of {:.6} USD used this {} period",
        budget.name, status.used_usd, budget.limit_usd, budget.period
    )
}

/// What the budgets covering a request say before the call.
#[derive(Debug, Clone, Default)]
pub struct BudgetCheck {
    /// The first exhausted `block` budget, with its status: the call is refused.
    pub blocking: Option<(StoredBudget, BudgetStatus)>,
    /// The first exhausted `downgrade` budget: the call goes to a cheaper model where the entry
    /// point chooses the model (Proxy Mode).
    pub downgrading: Option<StoredBudget>,
}

/// Checks the enabled budgets covering the request (spending from `cache` when fresh). Budgets
/// that only warn are logged.
pub async fn check(
    pool: &PgPool,
    cache: &SpendCache,
    budgets: &[StoredBudget],
    scope: &RequestScope,
    now: DateTime<Utc>,
) -> Result<BudgetCheck, DbError> {
    let mut check = BudgetCheck::default();
    for budget in budgets.iter().filter(|b| b.enabled && covers(b, scope)) {
        let (start, end) = period_bounds(&budget.period, now);
        let state = match cache.get(budget, start) {
            Some(used) => status_of(budget, used, start, end),
            None => {
                let used = used_usd(pool, budget, start, end).await?;
                cache.put(budget, start, used);
                let state = status_of(budget, used, start, end);
                record_alerts(pool, budget, &state, now, Some(cache)).await?;
                state
            }
        };
        if !state.exceeded {
            continue;
        }
        if state.blocking {
            check.blocking = Some((budget.clone(), state));
            return Ok(check);
        }
        if budget.on_exceed == "downgrade" && check.downgrading.is_none() {
            check.downgrading = Some(budget.clone());
        }
        tracing::warn!(budget_id = %budget.id, tenant_id = %budget.tenant_id, on_exceed = %budget.on_exceed, "budget exceeded; the call goes on");
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(period: &str, now: &str, start: &str, end: &str) {
        let now: DateTime<Utc> = now.parse().expect("time");
        let (from, to) = period_bounds(period, now);
        assert_eq!(
            (from.to_rfc3339(), to.to_rfc3339()),
            (start.to_owned(), end.to_owned()),
            "{period} {now}"
        );
    }

    #[test]
    fn periods_are_utc_calendar_periods() {
        check(
            "daily",
            "2026-12-02T13:45:00Z",
            "2026-12-02T00:00:00+00:00",
            "2026-12-03T00:00:00+00:00",
        );
        check(
            "weekly",
            "2026-12-02T13:45:00Z",
            "2026-11-30T00:00:00+00:00",
            "2026-12-07T00:00:00+00:00",
        );
        check(
            "monthly",
            "2026-12-31T23:59:59Z",
            "2026-12-01T00:00:00+00:00",
            "2027-01-01T00:00:00+00:00",
        );
        check(
            "quarterly",
            "2026-11-15T00:00:00Z",
            "2026-10-01T00:00:00+00:00",
            "2027-01-01T00:00:00+00:00",
        );
        check(
            "quarterly",
            "2026-02-01T00:00:00Z",
            "2026-01-01T00:00:00+00:00",
            "2026-04-01T00:00:00+00:00",
        );
        check(
            "yearly",
            "2026-06-01T00:00:00Z",
            "2026-01-01T00:00:00+00:00",
            "2027-01-01T00:00:00+00:00",
        );
    }

    fn sample(scope: &str, scope_id: &str) -> StoredBudget {
        let now = Utc::now();
        StoredBudget {
            tenant_id: "t".to_owned(),
            id: "b".to_owned(),
            org_id: "o".to_owned(),
            name: "b".to_owned(),
            scope: scope.to_owned(),
            scope_id: scope_id.to_owned(),
            limit_usd: 1.0,
            period: "monthly".to_owned(),
            on_exceed: "block".to_owned(),
            alert_thresholds: Vec::new(),
            enabled: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn spending_is_reused_briefly_and_forgotten_on_a_new_cost() {
        let cache = SpendCache::new(std::time::Duration::from_millis(200));
        let budget = sample("team", "t");
        let start = period_bounds("monthly", Utc::now()).0;
        assert_eq!(cache.get(&budget, start), None);
        cache.put(&budget, start, 0.5);
        assert_eq!(cache.get(&budget, start), Some(0.5));
        // An edited scope or another period is not the same spending.
        assert_eq!(cache.get(&sample("team", "other"), start), None);
        assert_eq!(cache.get(&budget, start + Duration::days(40)), None);
        cache.forget_tenant("t");
        assert_eq!(cache.get(&budget, start), None);
        cache.put(&budget, start, 0.7);
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert_eq!(cache.get(&budget, start), None, "expired");
        assert!(!cache.alerted(&budget, 80, start));
        cache.remember_alert(&budget, 80, start);
        assert!(cache.alerted(&budget, 80, start));
        assert!(!cache.alerted(&budget, 90, start));
        let status = status_of(&budget, 1.0, start, start + Duration::days(30));
        assert!(status.exceeded && status.blocking);
        assert_eq!(status.remaining_usd, 0.0);
        let status = status_of(&budget, 0.25, start, start + Duration::days(30));
        assert!(!status.exceeded);
        assert!((status.percentage - 25.0).abs() < 1e-9);
    }

    #[test]
    fn budgets_cover_their_scope_only() {
        let budget = sample;
        let scope = RequestScope {
            org_id: "o".to_owned(),
            tenant_id: "t".to_owned(),
            client_id: "app".to_owned(),
            user_id: Some("u1".to_owned()),
            workflow_id: None,
        };
        assert!(covers(&budget("organization", "o"), &scope));
        assert!(covers(&budget("team", "t"), &scope));
        assert!(covers(&budget("agent", "app"), &scope));
        assert!(covers(&budget("user", "u1"), &scope));
        assert!(!covers(&budget("user", "u2"), &scope));
        assert!(!covers(&budget("workflow", "w"), &scope));
        assert!(!covers(&budget("agent", "other"), &scope));
        assert_eq!(user_hash("u1").len(), 64);
    }
}
