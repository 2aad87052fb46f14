//! The admin log screen: who changed what (time, actor, action, target) with the selected entry's
//! details.

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::{draw_table, list_title, short_time, Outcome, Screen};
use serde_json::Value;

use crate::api::{value_text, AdminEntry};
use crate::keys::{self, Hint, Selection, MOVES};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminLogScreen {
    pub entries: Vec<AdminEntry>,
    pub selection: Selection,
    pub loaded: bool,
}

fn filter_text(entry: &AdminEntry) -> String {
    format!(
        "{} {} {} {}",
        entry.actor, entry.action, entry.target, entry.details
    )
}

impl AdminLogScreen {
    pub fn visible(&self) -> Vec<usize> {
        self.selection.visible(&self.entries, filter_text)
    }

    pub fn set_entries(&mut self, entries: Vec<AdminEntry>) {
        self.entries = entries;
        self.loaded = true;
        let n_visible = self.visible().len();
        self.selection.clamp(n_visible);
    }
}

impl Screen for AdminLogScreen {
    fn hints(&self) -> Vec<Hint> {
        Vec::new()
    }

    fn selection_mut(&mut self) -> Option<&mut Selection> {
        Some(&mut self.selection)
    }

    fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        match keys::lookup(MOVES, key) {
            Some(movement) => {
                let n_visible = self.visible().len();
                self.selection.apply(movement, n_visible);
                Outcome::Handled
            }
            None => Outcome::Ignored,
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect) {
        let [list_area, detail_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(4)]).areas(area);
        let visible = self.visible();
        let rows = visible
            .iter()
            .map(|entry_idx| {
                let entry = &self.entries[*entry_idx];
                Row::new(vec![
                    short_time(&entry.created_at),
                    entry.actor.clone(),
                    entry.action.clone(),
                    entry.target.clone(),
                ])
            })
            .collect();
        let empty = if self.loaded {
            "no admin actions yet"
        } else {
            "loading the admin log"
        };
        draw_table(
            frame,
            list_area,
            list_title(
                "Admin log",
                &self.selection,
                visible.len(),
                self.entries.len(),
            ),
            &[
                ("time", Constraint::Length(16)),
                ("actor", Constraint::Length(18)),
                ("action", Constraint::Length(22)),
                ("target", Constraint::Fill(1)),
            ],
            rows,
            Some(self.selection.selected),
            empty,
        );
        let details = visible
            .get(self.selection.selected)
            .and_then(|entry_idx| self.entries.get(*entry_idx))
            .map(|entry| details_text(&entry.details))
            .unwrap_or_default();
        frame.render_widget(
            Paragraph::new(details)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(" Details ")),
            detail_area,
        );
    }
}

/// The details of an entry as `name: value` pairs in name order (whatever order the JSON map keeps).
fn details_text(details: &Value) -> String {
    let Value::Object(members) = details else {
        return value_text(details).unwrap_or_default();
    };
    let mut pairs: Vec<String> = members
        .iter()
        .map(|(name, value)| {
            format!(
                "{name}: {}",
                value_text(value).unwrap_or_else(|| value.to_string())
            )
        })
        .collect();
    pairs.sort();
    pairs.join(", ")
}
