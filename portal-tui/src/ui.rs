//! Draws the whole frame from the app's state: the header (screens and the agent's URL), the current
//! screen, the status line, the help bar and an open dialog. Drawing only reads the state.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Link};
use crate::keys::Hint;
use crate::screens::ScreenId;

pub fn draw(frame: &mut Frame, app: &App) {
    let [header, body, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app);
    app.current().draw(frame, body);
    frame.render_widget(Paragraph::new(status_line(app)), status);
    frame.render_widget(Paragraph::new(help_line(app, help.width)), help);
    if let Some(dialog) = &app.dialog {
        dialog.draw(frame, body);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let (mark, mark_style) = match app.link {
        Link::Up => ("●", Style::new().green()),
        Link::Connecting => ("○", Style::new().yellow()),
        Link::Down { .. } => ("●", Style::new().red()),
    };
    let right = Line::from(vec![
        Span::raw(" "),
        Span::styled(mark, mark_style),
        Span::raw(format!(" {} ", app.url)),
    ]);
    let mut tabs = Vec::new();
    for screen in ScreenId::ALL {
        let label = format!(" {} {}", screen.index() + 1, screen.title());
        tabs.push(if screen == app.screen {
            Span::styled(
                label,
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            )
        } else {
            Span::raw(label)
        });
    }
    let brand = Span::styled(" AxonFlow ", Style::new().bold().black().on_cyan());
    let tabs_width: usize = tabs.iter().map(Span::width).sum();
    // The name of the product goes first when the screen is too narrow for all three.
    let mut left = Vec::new();
    if tabs_width + brand.width() + right.width() <= usize::from(area.width) {
        left.push(brand);
    }
    left.extend(tabs);
    let right_width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(Paragraph::new(right).right_aligned(), right_area);
}

fn status_line(app: &App) -> Line<'static> {
    if app.filtering {
        let filter = app.current_filter().unwrap_or_default();
        return Line::from(vec![
            Span::styled("/", Style::new().bold().yellow()),
            Span::raw(format!("{filter}_")),
        ]);
    }
    if let Link::Down {
        retry_at, reason, ..
    } = &app.link
    {
        let wait = retry_at.saturating_duration_since(app.now).as_secs();
        return Line::from(
            format!(" agent unreachable, retrying in {wait}s: {reason}")
                .white()
                .on_red(),
        );
    }
    match &app.status {
        Some(status) if status.error => Line::from(format!(" {}", status.text).red()),
        Some(status) => Line::from(format!(" {}", status.text)),
        None => Line::from(""),
    }
}

/// The keys that work now; when they do not all fit, the last ones give way to `?` (the full help).
fn help_line(app: &App, width: u16) -> Line<'static> {
    let hint_spans = |hint: &Hint| {
        [
            Span::styled(format!(" {}", hint.label), Style::new().cyan().bold()),
            Span::raw(format!(" {} ", hint.help)),
        ]
    };
    let hints = app.hints();
    let help = hints.iter().find(|hint| hint.label == "?").copied();
    let width_of = |hint: &Hint| hint_spans(hint).iter().map(Span::width).sum::<usize>();
    let reserved = help.as_ref().map_or(0, width_of);
    let mut spans = Vec::new();
    let mut used = 0;
    for hint in hints.iter().filter(|hint| Some(**hint) != help) {
        let needed = width_of(hint);
        if used + needed + reserved > usize::from(width) {
            break;
        }
        used += needed;
        spans.extend(hint_spans(hint));
    }
    if let Some(help) = help {
        spans.extend(hint_spans(&help));
    }
    Line::from(spans)
}
