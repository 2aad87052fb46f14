//! Budgets as both services apply them: calendar periods in UTC, which budgets a request falls
//! under, what a budget has used (a sum over the audit rows of its scope in the current period) and
//! the decision before a call. The agent enforces `block` budgets before calls; the orchestrator
//! serves the budget API.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sha2::{Digest, Sha256};
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
    hex::encode(Sha256::digest(user_id.as_bytes()))
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

/// What `budget` has used this period (from the audit rows), and any alert thresholds it crossed
/// recorded once.
pub async fn status(
    pool: &PgPool,
    budget: &StoredBudget,
    now: DateTime<Utc>,
) -> Result<BudgetStatus, DbError> {
    let (start, end) = period_bounds(&budget.period, now);
    let (column, value) = match budget.scope.as_str() {
        "organization" => (ScopeColumn::Org, budget.scope_id.clone()),
        "team" => (ScopeColumn::Tenant, budget.scope_id.clone()),
        "agent" => (ScopeColumn::Client, budget.scope_id.clone()),
        "user" => (ScopeColumn::UserHash, user_hash(&budget.scope_id)),
        _ => (ScopeColumn::Workflow, budget.scope_id.clone()),
    };
    let used = db::spent_usd(pool, &budget.tenant_id, column, &value, start, end).await?;
    let percentage = if budget.limit_usd > 0.0 {
        used / budget.limit_usd * 100.0
    } else {
        0.0
    };
    let exceeded = used >= budget.limit_usd;
    for threshold in &budget.alert_thresholds {
        if percentage >= f64::from(*threshold) {
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
        }
    }
    Ok(BudgetStatus {
        used_usd: used,
        remaining_usd: (budget.limit_usd - used).max(0.0),
        percentage,
        exceeded,
        blocking: exceeded && budget.enabled && budget.on_exceed == "block",
        period_start: start,
        period_end: end,
    })
}

/// The decision before a call: the first enabled budget covering the request that blocks, with its
/// status, or `None` when the call may go. Budgets that only warn are logged.
pub async fn blocking_budget(
    pool: &PgPool,
    budgets: &[StoredBudget],
    scope: &RequestScope,
    now: DateTime<Utc>,
) -> Result<Option<(StoredBudget, BudgetStatus)>, DbError> {
    for budget in budgets.iter().filter(|b| b.enabled && covers(b, scope)) {
        let state = status(pool, budget, now).await?;
        if state.blocking {
            return Ok(Some((budget.clone(), state)));
        }
        if state.exceeded {
            tracing::warn!(budget_id = %budget.id, tenant_id = %budget.tenant_id, on_exceed = %budget.on_exceed, "budget exceeded; the call goes on");
        }
    }
    Ok(None)
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

    #[test]
    fn budgets_cover_their_scope_only() {
        let now = Utc::now();
        let budget = |scope: &str, scope_id: &str| StoredBudget {
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
        };
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
