//! The audit screen: a live tail of decisions across tenants (time, client, tenant, verdict, source)
//! and every field of the selected row. The selection follows new rows while it is on the last one.
//! Field filters (tenant, client, verdict, policy, endpoint, last N minutes) narrow the rows already
//! fetched, and the hash chains of the audit trail are verified on demand.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};
use ratatui::Frame;
use serde_json::Value;

use super::{clock_time, draw_table, list_title, Outcome, Screen};
use crate::api::{value_text, AuditRow, Request, VerifyReport};
use crate::dialog::{Dialog, FieldsForm};
use crate::keys::{self, Binding, Hint, Selection, MOVES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DetailAction {
    Filters,
    ClearFilters,
    Verify,
    ScrollDown,
    ScrollUp,
}

const KEYS: &[Binding<DetailAction>] = &[
    Binding {
        keys: &[KeyCode::Char('f')],
        label: "f",
        help: "field filters",
        action: DetailAction::Filters,
    },
    Binding {
        keys: &[KeyCode::Char('F')],
        label: "F",
        help: "clear filters",
        action: DetailAction::ClearFilters,
    },
    Binding {
        keys: &[KeyCode::Char('v')],
        label: "v",
        help: "verify chain",
        action: DetailAction::Verify,
    },
    Binding {
        keys: &[KeyCode::Char('J')],
        label: "J/K",
        help: "scroll decision",
        action: DetailAction::ScrollDown,
    },
    Binding {
        keys: &[KeyCode::Char('K')],
        label: "",
        help: "",
        action: DetailAction::ScrollUp,
    },
];

/// The most rows kept; older ones are dropped as new ones arrive.
pub const MAX_ROWS: usize = 1000;

/// The names of the field filters, in the order of the filter form.
pub const FILTER_FIELDS: [&str; 6] = [
    "tenant", "client", "verdict", "policy", "endpoint", "minutes",
];

/// Filters on the fields of a row; an empty field does not filter. Text fields match a part of the
/// field, case-insensitively; `minutes` keeps the rows at most that many minutes older than the
/// newest row fetched (the tail is live, so the newest row stands for now).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilters {
    pub tenant: String,
    pub client: String,
    pub verdict: String,
    pub policy: String,
    pub endpoint: String,
    pub minutes: Option<u32>,
}

impl AuditFilters {
    /// The filters a filled-in form describes, or what is wrong with it.
    pub fn from_values(values: &[String]) -> Result<Self, String> {
        let text = |field_idx: usize| {
            values
                .get(field_idx)
                .map(|value| value.trim().to_owned())
                .unwrap_or_default()
        };
        let minutes = match text(5) {
            minutes if minutes.is_empty() => None,
            minutes => Some(
                minutes
                    .trim_end_matches('m')
                    .parse::<u32>()
                    .map_err(|_| "minutes must be a whole number".to_owned())?,
            ),
        };
        Ok(Self {
            tenant: text(0),
            client: text(1),
            verdict: text(2),
            policy: text(3),
            endpoint: text(4),
            minutes,
        })
    }

    /// The values of the filter form, in `FILTER_FIELDS` order.
    pub fn values(&self) -> Vec<String> {
        vec![
            self.tenant.clone(),
            self.client.clone(),
            self.verdict.clone(),
            self.policy.clone(),
            self.endpoint.clone(),
            self.minutes.map(|n| n.to_string()).unwrap_or_default(),
        ]
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The active filters as `name=value` words, for the list title.
    pub fn describe(&self) -> String {
        let mut words = Vec::new();
        for (name, value) in FILTER_FIELDS.iter().zip(self.values()) {
            if !value.is_empty() {
                let unit = if *name == "minutes" { "m" } else { "" };
                let name = if *name == "minutes" { "last" } else { name };
                words.push(format!("{name}={value}{unit}"));
            }
        }
        words.join(" ")
    }

    /// Whether a row passes every filter; `newest` is the time of the newest row, in seconds.
    pub fn matches(&self, row: &AuditRow, newest: Option<i64>) -> bool {
        let contains = |field: String, needle: &str| {
            needle.is_empty() || field.to_lowercase().contains(&needle.to_lowercase())
        };
        let recent = match (self.minutes, newest) {
            (None, _) | (Some(_), None) => true,
            (Some(minutes), Some(newest)) => epoch_seconds(&row.timestamp())
                .is_some_and(|time| newest - time <= i64::from(minutes) * 60),
        };
        recent
            && contains(row.tenant_id(), &self.tenant)
            && contains(row.client_id(), &self.client)
            && contains(row.verdict(), &self.verdict)
            && contains(row.policies(), &self.policy)
            && contains(row.source(), &self.endpoint)
    }
}

/// The seconds since 1970 of an RFC 3339 time (`2025-03-01T10:15:00Z`, `...+02:00`, fractions
/// ignored), or `None` when it is not one.
pub fn epoch_seconds(time: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> { time.get(range)?.parse().ok() };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let rest = time
        .get(19..)?
        .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        Some(_) => return None,
    };
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditScreen {
    pub rows: Vec<AuditRow>,
    pub selection: Selection,
    pub filters: AuditFilters,
    /// The last answer of the chain verification, when one was asked for.
    pub verify: Option<VerifyReport>,
    /// The `after` of the next tail call: the id of the newest row seen.
    pub after: Option<String>,
    pub loaded: bool,
    /// How many lines of the decision pane are scrolled away.
    pub detail_scroll: u16,
}

fn filter_text(row: &AuditRow) -> String {
    format!(
        "{} {} {} {} {}",
        row.id(),
        row.client_id(),
        row.tenant_id(),
        row.verdict(),
        row.source()
    )
}

impl AuditScreen {
    /// The rows that pass both the `/` filter and the field filters.
    pub fn visible(&self) -> Vec<usize> {
        let newest = self
            .rows
            .iter()
            .filter_map(|row| epoch_seconds(&row.timestamp()))
            .max();
        self.selection
            .visible(&self.rows, filter_text)
            .into_iter()
            .filter(|row_idx| self.filters.matches(&self.rows[*row_idx], newest))
            .collect()
    }

    /// Replaces the field filters; the selection goes to the newest row that passes them.
    pub fn set_filters(&mut self, filters: AuditFilters) {
        self.filters = filters;
        self.detail_scroll = 0;
        self.selection.selected = self.visible().len().saturating_sub(1);
    }

    /// Appends the rows of a tail answer (oldest first).
    pub fn append(&mut self, rows: Vec<AuditRow>, next_after: Option<String>) {
        self.loaded = true;
        let n_visible_before = self.visible().len();
        let following = n_visible_before == 0 || self.selection.selected + 1 >= n_visible_before;
        if let Some(after) = next_after.or_else(|| rows.last().map(AuditRow::id)) {
            if !after.is_empty() {
                self.after = Some(after);
            }
        }
        let n_new = rows.len();
        self.rows.extend(rows);
        let n_dropped = self.rows.len().saturating_sub(MAX_ROWS);
        self.rows.drain(..n_dropped);
        let n_visible = self.visible().len();
        if following && n_new > 0 {
            self.selection.selected = n_visible.saturating_sub(1);
        } else {
            self.selection.clamp(n_visible);
        }
    }

    fn selected(&self) -> Option<&AuditRow> {
        self.visible()
            .get(self.selection.selected)
            .and_then(|row_idx| self.rows.get(*row_idx))
    }
}

impl Screen for AuditScreen {
    fn hints(&self) -> Vec<Hint> {
        keys::hints(KEYS)
            .into_iter()
            .filter(|hint| !hint.label.is_empty())
            .collect()
    }

    fn selection_mut(&mut self) -> Option<&mut Selection> {
        Some(&mut self.selection)
    }

    fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        match keys::lookup(MOVES, key) {
            Some(movement) => {
                let n_visible = self.visible().len();
                self.selection.apply(movement, n_visible);
                self.detail_scroll = 0;
                Outcome::Handled
            }
            None => match keys::lookup(KEYS, key) {
                Some(DetailAction::Filters) => {
                    Outcome::Dialog(Dialog::Fields(FieldsForm::audit_filters(&self.filters)))
                }
                Some(DetailAction::ClearFilters) => {
                    self.set_filters(AuditFilters::default());
                    Outcome::Handled
                }
                Some(DetailAction::Verify) => Outcome::Request(Request::AuditVerify),
                Some(DetailAction::ScrollDown) => {
                    self.detail_scroll = self.detail_scroll.saturating_add(1);
                    Outcome::Handled
                }
                Some(DetailAction::ScrollUp) => {
                    self.detail_scroll = self.detail_scroll.saturating_sub(1);
                    Outcome::Handled
                }
                None => Outcome::Ignored,
            },
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect) {
        let verify_height = u16::from(self.verify.is_some());
        let [list_area, verify_area, detail_area] = Layout::vertical([
            Constraint::Percentage(50),
            Constraint::Length(verify_height),
            Constraint::Percentage(50),
        ])
        .areas(area);
        if let Some(report) = &self.verify {
            frame.render_widget(Paragraph::new(verify_line(report)), verify_area);
        }
        let visible = self.visible();
        let rows = visible
            .iter()
            .map(|row_idx| {
                let row = &self.rows[*row_idx];
                let verdict = row.verdict();
                let verdict_cell = if verdict == "deny" {
                    Cell::from(verdict.red())
                } else {
                    Cell::from(verdict.green())
                };
                Row::new(vec![
                    Cell::from(clock_time(&row.timestamp())),
                    Cell::from(row.client_id()),
                    Cell::from(row.tenant_id()),
                    verdict_cell,
                    Cell::from(row.source()),
                ])
            })
            .collect();
        let empty = if self.loaded {
            "no decisions yet"
        } else {
            "loading the audit tail"
        };
        draw_table(
            frame,
            list_area,
            self.title(visible.len()),
            &[
                ("time", Constraint::Length(8)),
                ("client_id", Constraint::Fill(2)),
                ("tenant", Constraint::Fill(2)),
                ("verdict", Constraint::Length(7)),
                ("source", Constraint::Fill(2)),
            ],
            rows,
            Some(self.selection.selected),
            empty,
        );
        let lines = self.selected().map(detail_lines).unwrap_or_default();
        frame.render_widget(
            Paragraph::new(lines)
                .scroll((self.detail_scroll, 0))
                .block(Block::bordered().title(" Decision (J/K scroll) ")),
            detail_area,
        );
    }
}

impl AuditScreen {
    /// The list's title with the `/` filter and the active field filters.
    fn title(&self, n_visible: usize) -> String {
        let title = list_title("Audit tail", &self.selection, n_visible, self.rows.len());
        if self.filters.is_empty() {
            return title;
        }
        let title = if self.selection.filter.is_empty() {
            format!(" Audit tail ({n_visible}/{}) ", self.rows.len())
        } else {
            title
        };
        format!("{title}[{}] ", self.filters.describe())
    }
}

/// The result of the chain verification on one line.
fn verify_line(report: &VerifyReport) -> Line<'static> {
    let counts = format!(
        " ({} chains, {} rows, {} unchained)",
        report.chains, report.rows, report.unchained_rows
    );
    if report.intact && report.broken.is_empty() {
        Line::from(vec![
            Span::raw(" audit chain: "),
            "ok".green().bold(),
            Span::raw(counts),
        ])
    } else {
        let first = report
            .broken
            .first()
            .map(|link| format!("; first: {}", link.problem))
            .unwrap_or_default();
        Line::from(vec![
            Span::raw(" audit chain: "),
            format!("BROKEN in {} chains", report.broken.len())
                .red()
                .bold(),
            Span::raw(format!("{counts}{first}")),
        ])
    }
}

/// Every field of a row, nested objects flattened into dotted names.
pub fn detail_lines(row: &AuditRow) -> Vec<Line<'static>> {
    const FIRST: [&str; 8] = [
        "timestamp",
        "verdict",
        "client_id",
        "tenant_id",
        "org_id",
        "endpoint",
        "request_type",
        "decision_id",
    ];
    let mut fields = Vec::new();
    flatten("", &row.raw, &mut fields);
    // The order does not depend on how the JSON map keeps its keys: the summary first, then by name.
    fields.sort_by_key(|(name, _)| {
        let rank = FIRST
            .iter()
            .position(|first| first == name)
            .unwrap_or(FIRST.len());
        (rank, name.clone())
    });
    fields
        .into_iter()
        .map(|(name, value)| {
            Line::from(vec![
                Span::raw(format!("{name:<28} ")).cyan(),
                Span::raw(value),
            ])
        })
        .collect()
}

fn flatten(prefix: &str, value: &Value, fields: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) if !members.is_empty() => {
            for (key, member) in members {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, member, fields);
            }
        }
        Value::Null => fields.push((prefix.to_owned(), "-".to_owned())),
        other => fields.push((
            prefix.to_owned(),
            value_text(other).unwrap_or_else(|| other.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_times_become_epoch_seconds() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2025-03-01T10:15:00Z"), Some(1_740_824_100));
        assert_eq!(
            epoch_seconds("2025-03-01T12:15:00.123+02:00"),
            Some(1_740_824_100)
        );
        assert_eq!(epoch_seconds("yesterday"), None);
    }

    #[test]
    fn filters_match_parts_of_fields_and_recent_rows() {
        let row = AuditRow {
            raw: json!({"timestamp": "2025-03-01T10:10:00Z", "tenant_id": "finance",
                        "verdict": "deny", "policy_details": {"policies": ["sys_pii_ssn"]}}),
        };
        let newest = epoch_seconds("2025-03-01T10:15:00Z");
        let filters = |values: &[&str]| {
            let values: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
            AuditFilters::from_values(&values).expect("valid filters")
        };
        assert!(filters(&["FIN", "", "deny", "ssn", "", "5"]).matches(&row, newest));
        assert!(!filters(&["", "", "", "", "", "4"]).matches(&row, newest));
        assert!(!filters(&["", "", "allow"]).matches(&row, newest));
        assert!(AuditFilters::from_values(&vec![String::new(); 5]).is_ok());
        assert!(AuditFilters::from_values(&vec!["x".to_owned(); 6]).is_err());
    }
}
