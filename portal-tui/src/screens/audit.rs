//! The audit screen: a live tail of decisions across tenants (time, client, tenant, verdict, source)
//! and every field of the selected row. The selection follows new rows while it is on the last one.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row};
use ratatui::Frame;
use serde_json::Value;

use super::{clock_time, draw_table, list_title, Outcome, Screen};
use crate::api::{value_text, AuditRow};
use crate::keys::{self, Binding, Hint, Selection, MOVES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DetailAction {
    ScrollDown,
    ScrollUp,
}

const KEYS: &[Binding<DetailAction>] = &[
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditScreen {
    pub rows: Vec<AuditRow>,
    pub selection: Selection,
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
    pub fn visible(&self) -> Vec<usize> {
        self.selection.visible(&self.rows, filter_text)
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
        let [list_area, detail_area] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
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
            list_title(
                "Audit tail",
                &self.selection,
                visible.len(),
                self.rows.len(),
            ),
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
