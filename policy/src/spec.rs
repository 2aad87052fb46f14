//! The policy model: what a policy says, before compilation. Plain data, built by callers from their
//! own storage (the database, a test table, the system catalogue).

use std::fmt;
use std::str::FromStr;

/// One policy as stored: what to look for and what to do when it is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// Stable human-readable id such as `sys_pii_ssn`; what decisions report.
    pub id: String,
    pub name: String,
    pub description: String,
    /// For example `pii-us`, `security-sqli`.
    pub category: String,
    pub tier: Tier,
    pub detector: DetectorSpec,
    pub action: Action,
    pub severity: Severity,
    /// Higher runs first when matches are reported in order of importance.
    pub priority: i32,
    pub enabled: bool,
    pub tags: Vec<String>,
    /// Compliance frameworks a match implicates (`HIPAA`, `GDPR`, `RBI`...).
    pub frameworks: Vec<String>,
}

/// How a policy finds its matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectorSpec {
    /// A built-in validated detector, by name (see `builtin_detector_names`).
    Builtin(String),
    /// A regular expression (Rust `regex` syntax, linear time).
    Regex(String),
    /// Case-insensitive whole-word keywords.
    Keywords(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    System,
    Organization,
    Tenant,
}

/// What happens when a policy matches. Ordered from the strongest to the weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Block,
    Redact,
    Warn,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

/// A string that names no known tier, action or severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?} (expected one of: {})",
            self.kind,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

macro_rules! string_enum {
    ($ty:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownValue { kind: $kind, value: value.to_owned(), expected: Self::ALL }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(Tier, "tier", { System => "system", Organization => "organization", Tenant => "tenant" });
string_enum!(Action, "action", { Block => "block", Redact => "redact", Warn => "warn", Log => "log" });
string_enum!(Severity, "severity", { Critical => "critical", High => "high", Medium => "medium", Low => "low" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_reject_unknown_values() {
        for text in Action::ALL {
            let action: Action = text.parse().expect("listed actions parse");
            assert_eq!(action.as_str(), *text);
        }
        assert_eq!("BLOCK".parse::<Action>(), Ok(Action::Block));
        let error = "deny"
            .parse::<Action>()
            .expect_err("deny is a verdict, not an action");
        assert_eq!(
            error.to_string(),
            r#"unknown action "deny" (expected one of: block, redact, warn, log)"#
        );
        assert_eq!("tenant".parse::<Tier>(), Ok(Tier::Tenant));
        assert!("urgent".parse::<Severity>().is_err());
    }
}
