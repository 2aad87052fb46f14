//! The overview screen: the agent's health, decisions per minute, the most matched policies, the
//! share of denied decisions and the audit writer's backlog.

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline};
use ratatui::Frame;

use super::{Outcome, Screen};
use crate::api::{Health, Stats};
use crate::keys::{Hint, Selection};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverviewScreen {
    pub health: Option<Health>,
    pub stats: Option<Stats>,
}

impl Screen for OverviewScreen {
    fn hints(&self) -> Vec<Hint> {
        Vec::new()
    }

    fn handle_key(&mut self, _key: &KeyEvent) -> Outcome {
        Outcome::Ignored
    }

    fn selection_mut(&mut self) -> Option<&mut Selection> {
        None
    }

    fn draw(&self, frame: &mut Frame, area: Rect) {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length(7),
            Constraint::Min(5),
            Constraint::Length(7),
        ])
        .areas(area);
        let [health_area, audit_area] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        frame.render_widget(
            Paragraph::new(self.health_lines()).block(Block::bordered().title(" Agent ")),
            health_area,
        );
        frame.render_widget(
            Paragraph::new(self.audit_lines()).block(Block::bordered().title(" Audit writer ")),
            audit_area,
        );
        self.draw_decisions(frame, middle);
        frame.render_widget(
            Paragraph::new(self.top_policy_lines(bottom.height.saturating_sub(2)))
                .block(Block::bordered().title(" Top policies (last hour) ")),
            bottom,
        );
    }
}

impl OverviewScreen {
    fn health_lines(&self) -> Vec<Line<'static>> {
        match &self.health {
            None => vec![Line::from("waiting for /health".dim())],
            Some(health) => {
                let status = if health.status == "healthy" {
                    health.status.clone().green()
                } else {
                    health.status.clone().red()
                };
                vec![
                    Line::from(vec!["status    ".into(), status]),
                    Line::from(format!("version   {}", health.version)),
                    Line::from(format!("mode      {}", health.deployment_mode)),
                    Line::from(format!(
                        "database  {}   up {}",
                        health.database,
                        uptime(health.uptime_seconds)
                    )),
                    Line::from(vec![
                        "orchestr. ".into(),
                        match health.orchestrator.status.as_str() {
                            "" => "-".dim(),
                            "ok" => "ok (signed check)".green(),
                            other => other.to_owned().red(),
                        },
                    ]),
                ]
            }
        }
    }

    fn audit_lines(&self) -> Vec<Line<'static>> {
        let queue = self
            .stats
            .as_ref()
            .map(|stats| &stats.audit)
            .or(self.health.as_ref().map(|health| &health.audit));
        match queue {
            None => vec![Line::from("no data yet".dim())],
            Some(queue) => {
                let mode = self
                    .health
                    .as_ref()
                    .and_then(|health| health.audit.mode.clone())
                    .unwrap_or_else(|| "-".to_owned());
                vec![
                    Line::from(format!("mode             {mode}")),
                    Line::from(format!("queue depth      {}", queue.queue_depth)),
                    Line::from(format!("journal backlog  {}", queue.journal_backlog)),
                ]
            }
        }
    }

    fn draw_decisions(&self, frame: &mut Frame, area: Rect) {
        let Some(stats) = &self.stats else {
            frame.render_widget(
                Paragraph::new(Line::from("waiting for /api/v1/admin/stats".dim()))
                    .block(Block::bordered().title(" Decisions per minute ")),
                area,
            );
            return;
        };
        let hour = &stats.decisions_last_hour;
        let share = if stats.denied_share <= 1.0 {
            stats.denied_share * 100.0
        } else {
            stats.denied_share
        };
        let title = format!(
            " Decisions per minute: last hour {} allowed, {} denied ({share:.1}% denied) ",
            hour.allow, hour.deny
        );
        let data: Vec<u64> = stats
            .per_minute
            .iter()
            .map(|minute| minute.allow + minute.deny)
            .collect();
        let n_shown = usize::from(area.width.saturating_sub(2));
        let data = &data[data.len().saturating_sub(n_shown)..];
        frame.render_widget(
            Sparkline::default()
                .data(data)
                .block(Block::bordered().title(title))
                .cyan(),
            area,
        );
    }

    fn top_policy_lines(&self, n_lines: u16) -> Vec<Line<'static>> {
        let Some(stats) = &self.stats else {
            return vec![Line::from("no data yet".dim())];
        };
        if stats.top_policies.is_empty() {
            return vec![Line::from("no policy matched".dim())];
        }
        stats
            .top_policies
            .iter()
            .take(usize::from(n_lines))
            .map(|policy| Line::from(format!("{:>7}  {}", policy.matches, policy.policy_id)))
            .collect()
    }
}

/// A duration in seconds as `3d 4h`, `5h 12m` or `7m`.
fn uptime(seconds: u64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}
