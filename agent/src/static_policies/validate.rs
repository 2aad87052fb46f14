//! Custom policies as clients submit them: the request fields, the checks a policy must pass before
//! it is stored (every problem at once, with its field), and the engine's own compilation of it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use axonflow_platform::db::StoredPolicy;
use axonflow_policy::{Action, CompileOptions, Engine, Severity};

use crate::error::{ApiError, Problem};

/// Custom policies one tenant may hold.
pub const MAX_TENANT_POLICIES: usize = 500;
pub const MAX_PATTERN_BYTES: usize = 4096;
const MAX_KEYWORDS: usize = 500;
/// Longest reason given for a change.
pub const MAX_REASON_BYTES: usize = 1000;

/// A policy as a client submits it (create) or changes it (update: every field optional).
#[derive(Debug, Default, Deserialize)]
pub struct PolicyFields {
    /// Why the change is made (recorded in the change log).
    pub reason: Option<String>,
    pub policy_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub detector_kind: Option<String>,
    pub pattern: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub severity: Option<String>,
    pub enabled: Option<bool>,
    pub action: Option<String>,
    pub priority: Option<i32>,
    pub tags: Option<Vec<String>>,
    pub frameworks: Option<Vec<String>>,
    pub organization_id: Option<String>,
}

pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

pub fn check_action(problems: &mut Problems, action: &str) {
    if action == "require_approval" {
        problems.add(
            "action",
            "require_approval is not supported: there is no approval queue; use block, redact, warn or log",
        );
    } else if let Err(error) = action.parse::<Action>() {
        problems.add("action", error.to_string());
    }
}

fn check_list(problems: &mut Problems, field: &str, items: &[String], max_items: usize) {
    if items.len() > max_items {
        problems.add(field, format!("at most {max_items} entries"));
    }
    if items.iter().any(|t| t.trim().is_empty() || t.len() > 64) {
        problems.add(field, "entries must be non-empty and at most 64 bytes");
    }
}

/// Checks `policy` (a custom policy about to be stored) and compiles it as the engine would.
pub fn validate(policy: &StoredPolicy, options: &CompileOptions) -> Vec<Problem> {
    let mut problems = Problems(Vec::new());
    if policy.name.trim().is_empty() || policy.name.len() > 200 {
        problems.add("name", "required, at most 200 bytes");
    }
    let category_ok = !policy.category.is_empty()
        && policy.category.len() <= 64
        && policy
            .category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if !category_ok {
        problems.add(
            "category",
            "required: lowercase letters, digits, '-' and '_', at most 64 bytes (e.g. pii-us, security-sqli)",
        );
    }
    match policy.tier.as_str() {
        "tenant" => {}
        "system" => problems.add(
            "tier",
            "system policies ship with the product and cannot be created; use tier tenant",
        ),
        "organization" => problems.add(
            "tier",
            "organization-tier policies are not supported yet; use tier tenant",
        ),
        other => problems.add("tier", format!("unknown tier {other:?} (expected tenant)")),
    }
    let policy_id_ok = !policy.policy_id.is_empty()
        && policy.policy_id.len() <= 64
        && policy
            .policy_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !policy_id_ok {
        problems.add(
            "policy_id",
            "lowercase letters, digits and '_', 1 to 64 bytes",
        );
    } else if policy.policy_id.starts_with("sys_") {
        problems.add(
            "policy_id",
            "the sys_ prefix is reserved for system policies",
        );
    }
    match policy.detector_kind.as_str() {
        "regex" => {
            if policy.pattern.len() > MAX_PATTERN_BYTES {
                problems.add("pattern", format!("at most {MAX_PATTERN_BYTES} bytes"));
            }
        }
        "keywords" => {
            if policy.keywords.len() > MAX_KEYWORDS {
                problems.add("keywords", format!("at most {MAX_KEYWORDS} keywords"));
            }
            if policy.keywords.iter().any(|k| k.len() > 200) {
                problems.add("keywords", "each keyword at most 200 bytes");
            }
        }
        "builtin" => problems.add(
            "detector_kind",
            "built-in detectors are system policies; override those instead",
        ),
        other => problems.add(
            "detector_kind",
            format!("unknown detector kind {other:?} (expected regex or keywords)"),
        ),
    }
    check_action(&mut problems, &policy.action);
    if let Err(error) = policy.severity.parse::<Severity>() {
        problems.add("severity", error.to_string());
    }
    if !(-1000..=1000).contains(&policy.priority) {
        problems.add("priority", "between -1000 and 1000");
    }
    check_list(&mut problems, "tags", &policy.tags, 32);
    check_list(&mut problems, "frameworks", &policy.frameworks, 32);
    if problems.0.is_empty() {
        match policy.to_spec() {
            Ok(spec) => {
                if let Err(errors) = Engine::compile(&[spec], options.clone()) {
                    for error in errors.0 {
                        let field = if error.path.ends_with("keywords") {
                            "keywords"
                        } else if error.path.ends_with("pattern") {
                            "pattern"
                        } else {
                            error.path.rsplit('.').next().unwrap_or("policy")
                        };
                        problems.add(field, error.message);
                    }
                }
            }
            Err(error) => problems.add("policy", error.to_string()),
        }
    }
    problems.0
}

pub fn invalid(problems: Vec<Problem>) -> ApiError {
    ApiError::invalid("the policy", problems)
}

/// `tenant_` + the name's letters and digits + a short unique suffix.
fn generated_policy_id(name: &str, id: Uuid) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    slug = slug
        .split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    slug.truncate(40);
    let suffix: String = id.simple().to_string().chars().rev().take(8).collect();
    if slug.is_empty() {
        format!("tenant_{suffix}")
    } else {
        format!("tenant_{slug}_{suffix}")
    }
}

fn keywords_pattern(keywords: &[String]) -> String {
    keywords.join(", ")
}

/// A new custom policy of `tenant_id` from the submitted fields, with defaults for what is missing.
pub fn new_policy(fields: PolicyFields, tenant_id: &str, now: DateTime<Utc>) -> StoredPolicy {
    let id = Uuid::now_v7();
    let keywords = fields.keywords.unwrap_or_default();
    let detector_kind = fields.detector_kind.unwrap_or_else(|| {
        if !keywords.is_empty() && fields.pattern.is_none() {
            "keywords".to_owned()
        } else {
            "regex".to_owned()
        }
    });
    let name = fields.name.unwrap_or_default();
    let pattern = if detector_kind == "keywords" {
        keywords_pattern(&keywords)
    } else {
        fields.pattern.unwrap_or_default()
    };
    StoredPolicy {
        id,
        policy_id: fields
            .policy_id
            .unwrap_or_else(|| generated_policy_id(&name, id)),
        tenant_id: Some(tenant_id.to_owned()),
        organization_id: fields.organization_id,
        name,
        description: fields.description.unwrap_or_default(),
        category: fields.category.unwrap_or_default(),
        tier: fields.tier.unwrap_or_else(|| "tenant".to_owned()),
        detector_kind,
        pattern,
        keywords,
        action: fields.action.unwrap_or_else(|| "block".to_owned()),
        severity: fields.severity.unwrap_or_else(|| "medium".to_owned()),
        priority: fields.priority.unwrap_or(50),
        enabled: fields.enabled.unwrap_or(true),
        tags: fields.tags.unwrap_or_default(),
        frameworks: fields.frameworks.unwrap_or_default(),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Applies `fields` onto `policy` (an update), returning the problems found.
pub fn apply_update(
    policy: &mut StoredPolicy,
    fields: PolicyFields,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let mut problems = Problems(Vec::new());
    if fields
        .policy_id
        .as_ref()
        .is_some_and(|id| id != &policy.policy_id)
    {
        problems.add(
            "policy_id",
            "cannot be changed; create a new policy instead",
        );
    }
    if fields
        .tier
        .as_ref()
        .is_some_and(|tier| tier != &policy.tier)
    {
        problems.add("tier", "cannot be changed");
    }
    if let Some(name) = fields.name {
        policy.name = name;
    }
    if let Some(description) = fields.description {
        policy.description = description;
    }
    if let Some(category) = fields.category {
        policy.category = category;
    }
    if let Some(kind) = fields.detector_kind {
        policy.detector_kind = kind;
    }
    if let Some(keywords) = fields.keywords {
        policy.keywords = keywords;
        if policy.detector_kind == "keywords" {
            policy.pattern = keywords_pattern(&policy.keywords);
        }
    }
    if let Some(pattern) = fields.pattern {
        if policy.detector_kind != "keywords" {
            policy.pattern = pattern;
        }
    }
    if let Some(severity) = fields.severity {
        policy.severity = severity;
    }
    if let Some(enabled) = fields.enabled {
        policy.enabled = enabled;
    }
    if let Some(action) = fields.action {
        policy.action = action;
    }
    if let Some(priority) = fields.priority {
        policy.priority = priority;
    }
    if let Some(tags) = fields.tags {
        policy.tags = tags;
    }
    if let Some(frameworks) = fields.frameworks {
        policy.frameworks = frameworks;
    }
    policy.version += 1;
    policy.updated_at = now;
    problems.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_readable() {
        let id = Uuid::now_v7();
        let generated = generated_policy_id("Project Falcon codes!", id);
        assert!(
            generated.starts_with("tenant_project_falcon_codes_"),
            "{generated}"
        );
        assert!(generated
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        assert!(generated_policy_id("€€€", id).starts_with("tenant_"));
    }
}
