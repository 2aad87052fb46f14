//! Dynamic (tenant) policies: conditions over the facts of a request (the query text, the user, the
//! request type, model, provider, estimated tokens and cost, the time, context fields) and what to do
//! when all of them hold (block, redact, warn, log, or route to allowed providers only).
//!
//! Like the static engine: `DynamicEngine::compile` reports every problem of every policy at once
//! with its path (`policies[2].conditions[0].operator`), and `evaluate` does no IO and cannot fail.
//! Text comparisons are case-insensitive: values are lowercased once at compile time, facts once per
//! evaluation. Every `contains` needle on the query runs in one aho-corasick pass.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::compile::{CompileError, CompileErrors};

/// A dynamic policy as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicSpec {
    pub id: String,
    pub name: String,
    /// Higher first when matches are reported.
    pub priority: i32,
    pub enabled: bool,
    /// All must hold; none: the policy applies to every request.
    pub conditions: Vec<ConditionSpec>,
    pub actions: Vec<ActionSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionSpec {
    pub field: String,
    pub operator: String,
    pub value: ConditionValue,
}

/// A condition's value, as the caller's storage gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionValue {
    Text(String),
    Number(f64),
    Bool(bool),
    List(Vec<ConditionValue>),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    /// `block`, `redact`, `warn`, `log` or `route`.
    pub kind: String,
    /// `config.reason` (block).
    pub reason: Option<String>,
    /// `config.allowed_providers` (route).
    pub allowed_providers: Vec<String>,
}

/// The fields a condition may test.
pub const FIELDS: &[&str] = &[
    "query",
    "user.id",
    "user.email",
    "user.role",
    "request_type",
    "model",
    "provider",
    "estimated_tokens",
    "estimated_cost_usd",
    "time.hour",
    "time.weekday",
    "context.<key>",
];

pub const OPERATORS: &[&str] = &[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "regex",
    "in",
    "not_in",
    "greater_than",
    "less_than",
];

pub const ACTIONS: &[&str] = &["block", "redact", "warn", "log", "route"];

/// Longest regex a condition may hold, and the size its compiled form may reach.
const MAX_REGEX_BYTES: usize = 4096;
const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

/// What is known of one request.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub query: &'a str,
    pub user_id: Option<&'a str>,
    pub user_email: Option<&'a str>,
    pub user_role: Option<&'a str>,
    pub request_type: Option<&'a str>,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub estimated_tokens: u64,
    pub estimated_cost_usd: f64,
    /// UTC hour, 0-23.
    pub hour: u32,
    /// UTC weekday, lowercase English (`monday`).
    pub weekday: &'a str,
    /// Context fields by key (nested objects flattened with dots), as text.
    pub context: Option<&'a HashMap<String, String>>,
}

/// What a matched policy asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamicAction {
    Block { reason: Option<String> },
    Redact,
    Warn,
    Log,
    Route { allowed_providers: Vec<String> },
}

impl DynamicAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            DynamicAction::Block { .. } => "block",
            DynamicAction::Redact => "redact",
            DynamicAction::Warn => "warn",
            DynamicAction::Log => "log",
            DynamicAction::Route { .. } => "route",
        }
    }
}

/// One policy whose conditions all held.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicMatch {
    pub policy_id: Arc<str>,
    pub policy_name: Arc<str>,
    pub actions: Arc<[DynamicAction]>,
}

/// Every dynamic policy that matched, highest priority first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamicDecision {
    pub matches: Vec<DynamicMatch>,
}

impl DynamicDecision {
    fn actions(&self) -> impl Iterator<Item = (&DynamicMatch, &DynamicAction)> {
        self.matches
            .iter()
            .flat_map(|m| m.actions.iter().map(move |a| (m, a)))
    }

    /// Why the request is blocked: the first blocking policy's reason (or its name); `None` when
    /// nothing blocks.
    pub fn block_reason(&self) -> Option<String> {
        self.actions().find_map(|(m, action)| match action {
            DynamicAction::Block { reason } => Some(
                reason
                    .clone()
                    .unwrap_or_else(|| format!("{} (dynamic policy)", m.policy_name)),
            ),
            _ => None,
        })
    }

    /// The id of the first matched policy that blocks.
    pub fn blocking_policy(&self) -> Option<&str> {
        self.actions().find_map(|(m, action)| {
            matches!(action, DynamicAction::Block { .. }).then_some(&*m.policy_id)
        })
    }

    /// Whether a matched policy asks for personal data to be masked.
    pub fn redacts(&self) -> bool {
        self.actions()
            .any(|(_, action)| matches!(action, DynamicAction::Redact))
    }

    /// Whether a static match is masked under this decision: a `redact` match always, and every
    /// piece of personal data (`pii-*`) when a matched dynamic policy redacts.
    pub fn masks(&self, found: &crate::Match) -> bool {
        found.action == crate::Action::Redact
            || (self.redacts() && found.category.starts_with("pii-"))
    }

    /// The providers the request may go to (the intersection of every route action); `None` when no
    /// policy routes.
    pub fn allowed_providers(&self) -> Option<Vec<String>> {
        let mut allowed: Option<Vec<String>> = None;
        for (_, action) in self.actions() {
            if let DynamicAction::Route { allowed_providers } = action {
                allowed = Some(match allowed {
                    None => allowed_providers.clone(),
                    Some(so_far) => so_far
                        .into_iter()
                        .filter(|p| allowed_providers.iter().any(|q| q.eq_ignore_ascii_case(p)))
                        .collect(),
                });
            }
        }
        allowed
    }

    /// Policy ids of the matches, in order.
    pub fn policy_ids(&self) -> Vec<&str> {
        self.matches.iter().map(|m| &*m.policy_id).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Query,
    UserId,
    UserEmail,
    UserRole,
    RequestType,
    Model,
    Provider,
    EstimatedTokens,
    EstimatedCost,
    Hour,
    Weekday,
    Context(String),
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name.trim() {
            "query" => Field::Query,
            "user.id" => Field::UserId,
            "user.email" => Field::UserEmail,
            "user.role" => Field::UserRole,
            "request_type" => Field::RequestType,
            "model" => Field::Model,
            "provider" => Field::Provider,
            "estimated_tokens" => Field::EstimatedTokens,
            "estimated_cost_usd" => Field::EstimatedCost,
            "time.hour" => Field::Hour,
            "time.weekday" => Field::Weekday,
            other => {
                let key = other.strip_prefix("context.")?;
                if key.is_empty() {
                    return None;
                }
                Field::Context(key.to_owned())
            }
        })
    }

    fn is_numeric(&self) -> bool {
        matches!(
            self,
            Field::EstimatedTokens | Field::EstimatedCost | Field::Hour
        )
    }
}

#[derive(Debug, Clone)]
enum Op {
    Equals(String),
    NotEquals(String),
    /// Index of the needle in the query automaton, or the needle itself for other fields.
    Contains(Needle),
    NotContains(Needle),
    StartsWith(String),
    Regex(Regex),
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(f64),
    LessThan(f64),
}

#[derive(Debug, Clone)]
enum Needle {
    Query(usize),
    Text(String),
}

#[derive(Debug, Clone)]
struct Condition {
    field: Field,
    op: Op,
}

struct CompiledDynamic {
    id: Arc<str>,
    name: Arc<str>,
    priority: i32,
    conditions: Vec<Condition>,
    actions: Arc<[DynamicAction]>,
}

/// A compiled set of enabled dynamic policies.
pub struct DynamicEngine {
    policies: Vec<CompiledDynamic>,
    /// Every `contains` needle on the query, lowercased.
    query_needles: Option<AhoCorasick>,
    n_query_needles: usize,
}

impl std::fmt::Debug for DynamicEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicEngine")
            .field("n_policies", &self.policies.len())
            .finish()
    }
}

fn text_of(value: &ConditionValue) -> Option<String> {
    match value {
        ConditionValue::Text(text) => Some(text.to_lowercase()),
        ConditionValue::Number(number) => Some(number_text(*number)),
        ConditionValue::Bool(flag) => Some(flag.to_string()),
        ConditionValue::List(_) | ConditionValue::Null => None,
    }
}

fn number_of(value: &ConditionValue) -> Option<f64> {
    match value {
        ConditionValue::Number(number) if number.is_finite() => Some(*number),
        ConditionValue::Text(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// `3` for 3.0, else the shortest form.
fn number_text(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{number:.0}")
    } else {
        number.to_string()
    }
}

impl DynamicEngine {
    /// Compiles the enabled policies of `specs` (disabled ones are checked too). Fails with every
    /// problem at once.
    pub fn compile(specs: &[DynamicSpec]) -> Result<DynamicEngine, CompileErrors> {
        let mut errors = Vec::new();
        let mut needles: Vec<String> = Vec::new();
        let mut policies = Vec::new();
        for (policy_idx, spec) in specs.iter().enumerate() {
            let mut error = |field: String, message: String| {
                errors.push(CompileError {
                    path: format!("policies[{policy_idx}].{field}"),
                    policy_id: spec.id.clone(),
                    message,
                });
            };
            if spec.name.trim().is_empty() {
                error("name".to_owned(), "must not be empty".to_owned());
            }
            let mut conditions = Vec::new();
            for (condition_idx, condition) in spec.conditions.iter().enumerate() {
                let at = |part: &str| format!("conditions[{condition_idx}].{part}");
                let Some(field) = Field::parse(&condition.field) else {
                    error(
                        at("field"),
                        format!(
                            "unknown field {:?} (known: {})",
                            condition.field,
                            FIELDS.join(", ")
                        ),
                    );
                    continue;
                };
                let operator = condition.operator.trim().to_ascii_lowercase();
                let value = &condition.value;
                let text = || text_of(value);
                let list = || match value {
                    ConditionValue::List(items) => {
                        items.iter().map(text_of).collect::<Option<Vec<_>>>()
                    }
                    _ => None,
                };
                let op = match operator.as_str() {
                    "equals" => text().map(Op::Equals),
                    "not_equals" => text().map(Op::NotEquals),
                    "contains" | "not_contains" => text().filter(|t| !t.is_empty()).map(|t| {
                        let needle = if field == Field::Query {
                            needles.push(t);
                            Needle::Query(needles.len() - 1)
                        } else {
                            Needle::Text(t)
                        };
                        if operator == "contains" {
                            Op::Contains(needle)
                        } else {
                            Op::NotContains(needle)
                        }
                    }),
                    "starts_with" => text().filter(|t| !t.is_empty()).map(Op::StartsWith),
                    "regex" => match value {
                        ConditionValue::Text(pattern) if pattern.len() <= MAX_REGEX_BYTES => {
                            match RegexBuilder::new(pattern)
                                .case_insensitive(true)
                                .size_limit(REGEX_SIZE_LIMIT)
                                .build()
                            {
                                Ok(regex) => Some(Op::Regex(regex)),
                                Err(source) => {
                                    error(at("value"), format!("invalid regex: {source}"));
                                    continue;
                                }
                            }
                        }
                        _ => None,
                    },
                    "in" => list().filter(|l| !l.is_empty()).map(Op::In),
                    "not_in" => list().filter(|l| !l.is_empty()).map(Op::NotIn),
                    "greater_than" => number_of(value).map(Op::GreaterThan),
                    "less_than" => number_of(value).map(Op::LessThan),
                    _ => {
                        error(
                            at("operator"),
                            format!(
                                "unknown operator {:?} (known: {})",
                                condition.operator,
                                OPERATORS.join(", ")
                            ),
                        );
                        continue;
                    }
                };
                match op {
                    Some(op) => conditions.push(Condition { field, op }),
                    None => error(
                        at("value"),
                        match operator.as_str() {
                            "in" | "not_in" => "needs a non-empty list of values".to_owned(),
                            "greater_than" | "less_than" => "needs a number".to_owned(),
                            "regex" => {
                                format!("needs a pattern of at most {MAX_REGEX_BYTES} bytes")
                            }
                            "contains" | "not_contains" | "starts_with" => {
                                "needs a non-empty text".to_owned()
                            }
                            _ => "needs a text, number or boolean".to_owned(),
                        },
                    ),
                }
            }
            if spec.actions.is_empty() {
                error(
                    "actions".to_owned(),
                    format!("needs at least one action ({})", ACTIONS.join(", ")),
                );
            }
            let mut actions = Vec::new();
            for (action_idx, action) in spec.actions.iter().enumerate() {
                let kind = action.kind.trim().to_ascii_lowercase();
                match kind.as_str() {
                    "block" => actions.push(DynamicAction::Block {
                        reason: action.reason.clone().filter(|r| !r.trim().is_empty()),
                    }),
                    "redact" => actions.push(DynamicAction::Redact),
                    "warn" => actions.push(DynamicAction::Warn),
                    "log" => actions.push(DynamicAction::Log),
                    "route" if action.allowed_providers.is_empty() => error(
                        format!("actions[{action_idx}].config.allowed_providers"),
                        "a route action needs a non-empty list of provider names".to_owned(),
                    ),
                    "route" => actions.push(DynamicAction::Route {
                        allowed_providers: action.allowed_providers.clone(),
                    }),
                    _ => error(
                        format!("actions[{action_idx}].type"),
                        format!(
                            "unknown action {:?} (known: {})",
                            action.kind,
                            ACTIONS.join(", ")
                        ),
                    ),
                }
            }
            if spec.enabled {
                policies.push(CompiledDynamic {
                    id: spec.id.as_str().into(),
                    name: spec.name.as_str().into(),
                    priority: spec.priority,
                    conditions,
                    actions: actions.into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(CompileErrors(errors));
        }
        policies.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let query_needles = if needles.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&needles)
                    .map_err(|source| {
                        CompileErrors(vec![CompileError {
                            path: "policies".to_owned(),
                            policy_id: String::new(),
                            message: format!("contains needles do not compile: {source}"),
                        }])
                    })?,
            )
        };
        Ok(DynamicEngine {
            policies,
            query_needles,
            n_query_needles: needles.len(),
        })
    }

    /// Number of enabled policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Every policy whose conditions all hold for `facts`, highest priority first.
    pub fn evaluate(&self, facts: &Facts<'_>) -> DynamicDecision {
        if self.policies.is_empty() {
            return DynamicDecision::default();
        }
        let query = facts.query.to_lowercase();
        let mut found = vec![false; self.n_query_needles];
        if let Some(needles) = &self.query_needles {
            for hit in needles.find_overlapping_iter(&query) {
                found[hit.pattern().as_usize()] = true;
            }
        }
        let lower = |value: Option<&str>| value.map(str::to_lowercase);
        let known = Known {
            query,
            found,
            user_id: lower(facts.user_id),
            user_email: lower(facts.user_email),
            user_role: lower(facts.user_role),
            request_type: lower(facts.request_type),
            model: lower(facts.model),
            provider: lower(facts.provider),
            weekday: facts.weekday.to_lowercase(),
        };
        let matches = self
            .policies
            .iter()
            .filter(|policy| {
                policy
                    .conditions
                    .iter()
                    .all(|condition| holds(condition, &known, facts))
            })
            .map(|policy| DynamicMatch {
                policy_id: policy.id.clone(),
                policy_name: policy.name.clone(),
                actions: policy.actions.clone(),
            })
            .collect();
        DynamicDecision { matches }
    }
}

/// The facts as compared: lowercased once.
struct Known {
    query: String,
    found: Vec<bool>,
    user_id: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    request_type: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    weekday: String,
}

fn holds(condition: &Condition, known: &Known, facts: &Facts<'_>) -> bool {
    let number = match condition.field {
        Field::EstimatedTokens => Some(facts.estimated_tokens as f64),
        Field::EstimatedCost => Some(facts.estimated_cost_usd),
        Field::Hour => Some(f64::from(facts.hour)),
        _ => None,
    };
    let context_value;
    let text: Option<&str> = match &condition.field {
        Field::Query => Some(&known.query),
        Field::UserId => known.user_id.as_deref(),
        Field::UserEmail => known.user_email.as_deref(),
        Field::UserRole => known.user_role.as_deref(),
        Field::RequestType => known.request_type.as_deref(),
        Field::Model => known.model.as_deref(),
        Field::Provider => known.provider.as_deref(),
        Field::Weekday => Some(&known.weekday),
        Field::Context(key) => {
            context_value = facts
                .context
                .and_then(|context| context.get(key))
                .map(|v| v.to_lowercase());
            context_value.as_deref()
        }
        Field::EstimatedTokens | Field::EstimatedCost | Field::Hour => None,
    };
    let number_text_value = number.map(number_text);
    let text = text.or(number_text_value.as_deref());
    let as_number = || number.or_else(|| text.and_then(|t| t.trim().parse::<f64>().ok()));
    let equal = |wanted: &str| match (condition.field.is_numeric(), as_number()) {
        (true, Some(value)) => wanted.parse::<f64>().is_ok_and(|w| w == value),
        _ => text == Some(wanted),
    };
    match &condition.op {
        Op::Equals(wanted) => equal(wanted),
        Op::NotEquals(wanted) => !equal(wanted),
        Op::Contains(needle) => contains(needle, text, known),
        Op::NotContains(needle) => !contains(needle, text, known),
        Op::StartsWith(prefix) => text.is_some_and(|t| t.starts_with(prefix.as_str())),
        Op::Regex(regex) => {
            // The query is matched as sent (the regex is case-insensitive), other fields lowercased.
            let subject = match condition.field {
                Field::Query => Some(facts.query),
                _ => text,
            };
            subject.is_some_and(|s| regex.is_match(s))
        }
        Op::In(values) => values.iter().any(|v| equal(v)),
        Op::NotIn(values) => !values.iter().any(|v| equal(v)),
        Op::GreaterThan(limit) => as_number().is_some_and(|n| n > *limit),
        Op::LessThan(limit) => as_number().is_some_and(|n| n < *limit),
    }
}

fn contains(needle: &Needle, text: Option<&str>, known: &Known) -> bool {
    match needle {
        Needle::Query(idx) => known.found.get(*idx).copied().unwrap_or(false),
        Needle::Text(needle) => text.is_some_and(|t| t.contains(needle.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> ConditionValue {
        ConditionValue::Text(value.to_owned())
    }

    fn condition(field: &str, operator: &str, value: ConditionValue) -> ConditionSpec {
        ConditionSpec {
            field: field.to_owned(),
            operator: operator.to_owned(),
            value,
        }
    }

    fn action(kind: &str) -> ActionSpec {
        ActionSpec {
            kind: kind.to_owned(),
            reason: None,
            allowed_providers: Vec::new(),
        }
    }

    fn policy(id: &str, conditions: Vec<ConditionSpec>, kind: &str) -> DynamicSpec {
        DynamicSpec {
            id: id.to_owned(),
            name: id.to_owned(),
            priority: 0,
            enabled: true,
            conditions,
            actions: vec![action(kind)],
        }
    }

    fn facts(query: &str) -> Facts<'_> {
        Facts {
            query,
            weekday: "monday",
            hour: 10,
            ..Facts::default()
        }
    }

    #[track_caller]
    fn check(condition: ConditionSpec, facts: &Facts<'_>, expected: bool) {
        let engine = DynamicEngine::compile(&[policy("p", vec![condition.clone()], "block")])
            .expect("valid");
        assert_eq!(
            !engine.evaluate(facts).matches.is_empty(),
            expected,
            "{condition:?}"
        );
    }

    #[test]
    fn operators_over_text_are_case_insensitive() {
        let f = facts("Please EXPORT the Customer table");
        check(condition("query", "contains", text("export")), &f, true);
        check(condition("query", "contains", text("delete")), &f, false);
        check(condition("query", "not_contains", text("delete")), &f, true);
        check(condition("query", "starts_with", text("please")), &f, true);
        check(condition("query", "regex", text(r"export\s+the")), &f, true);
        check(
            condition("query", "equals", text("please export the customer table")),
            &f,
            true,
        );
        let mut with_user = facts("hi");
        with_user.user_role = Some("Contractor");
        with_user.user_email = Some("Jane@Example.com");
        check(
            condition("user.role", "equals", text("contractor")),
            &with_user,
            true,
        );
        check(
            condition("user.role", "not_equals", text("contractor")),
            &with_user,
            false,
        );
        check(
            condition(
                "user.role",
                "in",
                ConditionValue::List(vec![text("admin"), text("contractor")]),
            ),
            &with_user,
            true,
        );
        check(
            condition(
                "user.role",
                "not_in",
                ConditionValue::List(vec![text("admin")]),
            ),
            &with_user,
            true,
        );
        check(
            condition("user.email", "contains", text("@example.com")),
            &with_user,
            true,
        );
        // A fact that is not known: positive operators fail, negative ones hold.
        check(
            condition("user.id", "equals", text("u1")),
            &with_user,
            false,
        );
        check(
            condition("user.id", "not_equals", text("u1")),
            &with_user,
            true,
        );
    }

    #[test]
    fn numbers_times_and_context() {
        let mut context = HashMap::new();
        context.insert("department".to_owned(), "Finance".to_owned());
        context.insert("risk.score".to_owned(), "0.9".to_owned());
        let mut f = facts("hi");
        f.estimated_tokens = 1200;
        f.estimated_cost_usd = 0.25;
        f.hour = 22;
        f.weekday = "Saturday";
        f.context = Some(&context);
        check(
            condition(
                "estimated_tokens",
                "greater_than",
                ConditionValue::Number(1000.0),
            ),
            &f,
            true,
        );
        check(
            condition("estimated_tokens", "less_than", text("1000")),
            &f,
            false,
        );
        check(
            condition("estimated_tokens", "equals", ConditionValue::Number(1200.0)),
            &f,
            true,
        );
        check(
            condition(
                "estimated_cost_usd",
                "greater_than",
                ConditionValue::Number(0.2),
            ),
            &f,
            true,
        );
        check(
            condition("time.hour", "greater_than", ConditionValue::Number(20.0)),
            &f,
            true,
        );
        check(
            condition(
                "time.weekday",
                "in",
                ConditionValue::List(vec![text("saturday"), text("sunday")]),
            ),
            &f,
            true,
        );
        check(
            condition("context.department", "equals", text("finance")),
            &f,
            true,
        );
        check(
            condition(
                "context.risk.score",
                "greater_than",
                ConditionValue::Number(0.5),
            ),
            &f,
            true,
        );
        check(condition("context.missing", "equals", text("x")), &f, false);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = DynamicSpec {
            id: "bad".to_owned(),
            name: " ".to_owned(),
            priority: 0,
            enabled: true,
            conditions: vec![
                condition("user.shoe_size", "equals", text("9")),
                condition("query", "resembles", text("x")),
                condition("query", "regex", text("(")),
                condition("estimated_tokens", "greater_than", text("many")),
                condition("user.role", "in", text("admin")),
            ],
            actions: vec![action("explode"), action("route")],
        };
        let errors = DynamicEngine::compile(&[bad]).expect_err("invalid").0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "policies[0].name",
                "policies[0].conditions[0].field",
                "policies[0].conditions[1].operator",
                "policies[0].conditions[2].value",
                "policies[0].conditions[3].value",
                "policies[0].conditions[4].value",
                "policies[0].actions[0].type",
                "policies[0].actions[1].config.allowed_providers",
            ]
        );
        let no_action = DynamicSpec {
            actions: Vec::new(),
            ..policy("p", Vec::new(), "block")
        };
        assert_eq!(
            DynamicEngine::compile(&[no_action])
                .expect_err("no action")
                .0[0]
                .path,
            "policies[0].actions"
        );
    }

    #[test]
    fn decisions_say_what_to_do() {
        let mut block = policy(
            "after_hours",
            vec![condition(
                "time.hour",
                "greater_than",
                ConditionValue::Number(20.0),
            )],
            "block",
        );
        block.actions[0].reason = Some("no LLM calls after 8 pm".to_owned());
        block.priority = 10;
        let mut route_a = policy("eu_only", Vec::new(), "route");
        route_a.actions[0].allowed_providers = vec!["azure-eu".to_owned(), "ollama".to_owned()];
        let mut route_b = policy("local_only", Vec::new(), "route");
        route_b.actions[0].allowed_providers = vec!["ollama".to_owned()];
        let redact = policy(
            "mask",
            vec![condition("query", "contains", text("customer"))],
            "redact",
        );
        let mut disabled = policy("off", Vec::new(), "block");
        disabled.enabled = false;
        let engine =
            DynamicEngine::compile(&[route_a, redact, block, route_b, disabled]).expect("valid");
        assert_eq!(engine.len(), 4);
        let mut f = facts("customer list");
        f.hour = 22;
        let decision = engine.evaluate(&f);
        assert_eq!(
            decision.policy_ids(),
            ["after_hours", "eu_only", "local_only", "mask"]
        );
        assert_eq!(
            decision.block_reason().as_deref(),
            Some("no LLM calls after 8 pm")
        );
        assert!(decision.redacts());
        assert_eq!(
            decision.allowed_providers(),
            Some(vec!["ollama".to_owned()])
        );
        f.hour = 9;
        f.query = "weather";
        let calm = engine.evaluate(&f);
        assert_eq!(calm.block_reason(), None);
        assert!(!calm.redacts());
        assert!(DynamicEngine::compile(&[])
            .expect("empty")
            .evaluate(&f)
            .matches
            .is_empty());
    }
}
