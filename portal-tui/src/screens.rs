//! The five screens of the portal. Each is a component with `draw`, `handle_key` and `hints` (read
//! from the same binding table as its key dispatch); the app routes keys and answers to them.

mod admin_log;
pub mod audit;
mod clients;
mod overview;
pub mod policies;

pub use admin_log::AdminLogScreen;
pub use audit::AuditScreen;
pub use clients::ClientsScreen;
pub use overview::OverviewScreen;
pub use policies::PoliciesScreen;

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::api::Request;
use crate::dialog::Dialog;
use crate::keys::{Hint, Selection};

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenId {
    Overview,
    Clients,
    Policies,
    Audit,
    AdminLog,
}

impl ScreenId {
    pub const ALL: [ScreenId; 5] = [
        ScreenId::Overview,
        ScreenId::Clients,
        ScreenId::Policies,
        ScreenId::Audit,
        ScreenId::AdminLog,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ScreenId::Overview => "Overview",
            ScreenId::Clients => "Clients",
            ScreenId::Policies => "Policies",
            ScreenId::Audit => "Audit",
            ScreenId::AdminLog => "Admin log",
        }
    }

    pub fn index(self) -> usize {
        match self {
            ScreenId::Overview => 0,
            ScreenId::Clients => 1,
            ScreenId::Policies => 2,
            ScreenId::Audit => 3,
            ScreenId::AdminLog => 4,
        }
    }
}

/// What a key did on a screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The screen has no use for the key.
    Ignored,
    /// The screen changed its own state.
    Handled,
    Request(Request),
    Dialog(Dialog),
}

/// A screen of the portal.
pub trait Screen {
    /// The screen's own keys, for the help bar and the full help.
    fn hints(&self) -> Vec<Hint>;
    fn handle_key(&mut self, key: &KeyEvent) -> Outcome;
    fn draw(&self, frame: &mut Frame, area: Rect);
    /// The list `/` filters, if the screen has one.
    fn selection_mut(&mut self) -> Option<&mut Selection>;
}

/// Draws a table with one selected row; an empty list shows `empty` instead.
pub(crate) fn draw_table(
    frame: &mut Frame,
    area: Rect,
    title: String,
    columns: &[(&str, Constraint)],
    rows: Vec<Row<'static>>,
    selected: Option<usize>,
    empty: &str,
) {
    let block = Block::bordered().title(title);
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(empty.to_owned().dim())).block(block),
            area,
        );
        return;
    }
    let widths: Vec<Constraint> = columns.iter().map(|(_, width)| *width).collect();
    let header: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(block);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A list's title with its filter, when there is one.
pub(crate) fn list_title(
    name: &str,
    selection: &Selection,
    n_visible: usize,
    n_total: usize,
) -> String {
    if selection.filter.is_empty() {
        format!(" {name} ({n_total}) ")
    } else {
        format!(" {name} ({n_visible}/{n_total}) /{} ", selection.filter)
    }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM` (or as given when it is shorter).
pub(crate) fn short_time(time: &str) -> String {
    time.get(..16)
        .map(|head| head.replace('T', " "))
        .unwrap_or_else(|| time.to_owned())
}

/// An RFC 3339 time as `HH:MM:SS`.
pub(crate) fn clock_time(time: &str) -> String {
    time.get(11..19)
        .map(str::to_owned)
        .unwrap_or_else(|| time.to_owned())
}
