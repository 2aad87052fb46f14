//! Dialogs drawn over a screen: the full help, `y/n` confirmations, the new-client form, the override
//! reason, the small field forms (audit filters, client limits, a policy override), the pattern
//! tester and the one-time secret. A dialog takes every key while it is open.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::api::{Expiry, NewClient, PatternOutcome, PolicyOverride, Request, SecretText};
use crate::keys::{self, Binding, Hint};
use crate::screens::audit::{AuditFilters, FILTER_FIELDS};

/// An open dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    /// The full help: every key of the current screen and the global keys.
    Help {
        sections: Vec<(String, Vec<Hint>)>,
    },
    /// A question answered with `y` (the request is sent) or `n`/Esc.
    Confirm {
        question: String,
        request: Request,
    },
    NewClient(NewClientForm),
    /// The reason of an override (a field labelled `reason`).
    OverrideReason(OverrideForm),
    /// A small form of text fields (the audit filters, a client's limits, a policy override).
    Fields(FieldsForm),
    /// A regex and a sample, tested by the agent as they are typed.
    PatternTester(PatternTester),
    /// A secret shown once, in full, on one line.
    Secret {
        client_id: String,
        secret: SecretText,
    },
}

/// What a key did to a dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogOutcome {
    Keep,
    Close,
    Submit(Request),
    /// Send the request and keep the dialog open to show its error (the dialog closes on success).
    Send(Request),
    /// Copy this text to the clipboard (OSC 52).
    Copy(SecretText),
    /// Apply these filters to the audit screen.
    AuditFilters(AuditFilters),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialogAction {
    Close,
    Confirm,
    Submit,
    NextField,
    PreviousField,
    DeleteChar,
    Copy,
}

const HELP_KEYS: &[Binding<DialogAction>] = &[Binding {
    keys: &[KeyCode::Esc, KeyCode::Char('?')],
    label: "?/Esc",
    help: "close",
    action: DialogAction::Close,
}];

const CONFIRM_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        help: "yes",
        action: DialogAction::Confirm,
    },
    Binding {
        keys: &[KeyCode::Char('n'), KeyCode::Esc],
        label: "n/Esc",
        help: "no",
        action: DialogAction::Close,
    },
];

const FORM_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Tab, KeyCode::Down],
        label: "Tab",
        help: "next field",
        action: DialogAction::NextField,
    },
    Binding {
        keys: &[KeyCode::BackTab, KeyCode::Up],
        label: "S-Tab",
        help: "previous field",
        action: DialogAction::PreviousField,
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        help: "create",
        action: DialogAction::Submit,
    },
    Binding {
        keys: &[KeyCode::Backspace],
        label: "Bksp",
        help: "erase",
        action: DialogAction::DeleteChar,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        help: "cancel",
        action: DialogAction::Close,
    },
];

const FIELDS_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Tab, KeyCode::Down],
        label: "Tab",
        help: "next field",
        action: DialogAction::NextField,
    },
    Binding {
        keys: &[KeyCode::BackTab, KeyCode::Up],
        label: "S-Tab",
        help: "previous field",
        action: DialogAction::PreviousField,
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        help: "apply",
        action: DialogAction::Submit,
    },
    Binding {
        keys: &[KeyCode::Backspace],
        label: "Bksp",
        help: "erase",
        action: DialogAction::DeleteChar,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        help: "cancel",
        action: DialogAction::Close,
    },
];

const REASON_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        help: "submit",
        action: DialogAction::Submit,
    },
    Binding {
        keys: &[KeyCode::Backspace],
        label: "Bksp",
        help: "erase",
        action: DialogAction::DeleteChar,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        help: "cancel",
        action: DialogAction::Close,
    },
];

const TESTER_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Tab, KeyCode::BackTab, KeyCode::Down, KeyCode::Up],
        label: "Tab",
        help: "pattern/sample",
        action: DialogAction::NextField,
    },
    Binding {
        keys: &[KeyCode::Backspace],
        label: "Bksp",
        help: "erase",
        action: DialogAction::DeleteChar,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        help: "close",
        action: DialogAction::Close,
    },
];

const SECRET_KEYS: &[Binding<DialogAction>] = &[
    Binding {
        keys: &[KeyCode::Char('c')],
        label: "c",
        help: "copy to clipboard",
        action: DialogAction::Copy,
    },
    Binding {
        keys: &[KeyCode::Esc, KeyCode::Enter],
        label: "Esc/Enter",
        help: "close",
        action: DialogAction::Close,
    },
];

/// The fields of the new-client form, in order.
pub const NEW_CLIENT_FIELDS: [&str; 6] = [
    "client_id",
    "name",
    "tenant_id",
    "org_id",
    "rate_limit_rpm",
    "rate_limit_tpm",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewClientForm {
    pub values: [String; 6],
    pub focus: usize,
    pub error: Option<String>,
}

impl NewClientForm {
    /// The request the form describes, or what is wrong with it.
    pub fn to_request(&self) -> Result<Request, String> {
        let text = |field_idx: usize| self.values[field_idx].trim().to_owned();
        let optional = |field_idx: usize| Some(text(field_idx)).filter(|value| !value.is_empty());
        let limit = |field_idx: usize| -> Result<Option<i64>, String> {
            match optional(field_idx) {
                None => Ok(None),
                Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
                    format!("{} must be a whole number", NEW_CLIENT_FIELDS[field_idx])
                }),
            }
        };
        if text(1).is_empty() {
            return Err("name is required".to_owned());
        }
        if text(2).is_empty() {
            return Err("tenant_id is required".to_owned());
        }
        Ok(Request::CreateClient(NewClient {
            client_id: optional(0),
            name: text(1),
            tenant_id: text(2),
            org_id: optional(3),
            rate_limit_rpm: limit(4)?,
            rate_limit_tpm: limit(5)?,
        }))
    }
}

/// The names of the fields of the client limits form.
pub const LIMIT_FIELDS: [&str; 2] = ["rate_limit_rpm", "rate_limit_tpm"];

/// The names of the fields of the policy override form.
pub const OVERRIDE_FIELDS: [&str; 3] = ["action_override", "expires_at", "reason"];

/// The actions an override may set.
pub const OVERRIDE_ACTIONS: [&str; 4] = ["block", "redact", "warn", "log"];

/// What a field form is for.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldsPurpose {
    AuditFilters,
    ClientLimits {
        client_id: String,
    },
    PolicyOverride {
        tenant_id: String,
        policy_id: String,
    },
}

/// An expiry as typed: empty, an RFC 3339 time, or a duration such as `30m`, `2h` or `7d`.
pub fn parse_expiry(text: &str) -> Result<Option<Expiry>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Ok(Some(Expiry::At(text.to_owned())));
    }
    let problem =
        || "expires_at must be an RFC 3339 time or a duration like 30m, 2h, 7d".to_owned();
    let unit_at = text.len().saturating_sub(1);
    let (count, unit) = (text.get(..unit_at).ok_or_else(problem)?, &text[unit_at..]);
    let seconds_per_unit = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(problem()),
    };
    let count: u64 = count.parse().map_err(|_| problem())?;
    if count == 0 {
        return Err(problem());
    }
    let seconds = count.checked_mul(seconds_per_unit).ok_or_else(problem)?;
    Ok(Some(Expiry::In(Duration::from_secs(seconds))))
}

/// A form of a few text fields with a focused one.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldsForm {
    pub purpose: FieldsPurpose,
    pub labels: &'static [&'static str],
    pub values: Vec<String>,
    pub focus: usize,
    pub error: Option<String>,
}

impl FieldsForm {
    /// The audit filter form, filled with the filters in force.
    pub fn audit_filters(filters: &AuditFilters) -> Self {
        Self {
            purpose: FieldsPurpose::AuditFilters,
            labels: &FILTER_FIELDS,
            values: filters.values(),
            focus: 0,
            error: None,
        }
    }

    /// The limits form of a client, filled with its limits (empty for the default).
    pub fn client_limits(client_id: &str, rpm: Option<i64>, tpm: Option<i64>) -> Self {
        let text = |limit: Option<i64>| limit.map(|n| n.to_string()).unwrap_or_default();
        Self {
            purpose: FieldsPurpose::ClientLimits {
                client_id: client_id.to_owned(),
            },
            labels: &LIMIT_FIELDS,
            values: vec![text(rpm), text(tpm)],
            focus: 0,
            error: None,
        }
    }

    /// The override form of a tenant's policy, with the action of its current override.
    pub fn policy_override(tenant_id: &str, policy_id: &str, action: Option<&str>) -> Self {
        Self {
            purpose: FieldsPurpose::PolicyOverride {
                tenant_id: tenant_id.to_owned(),
                policy_id: policy_id.to_owned(),
            },
            labels: &OVERRIDE_FIELDS,
            values: vec![
                action.unwrap_or_default().to_owned(),
                String::new(),
                String::new(),
            ],
            focus: 0,
            error: None,
        }
    }

    fn title(&self) -> String {
        match &self.purpose {
            FieldsPurpose::AuditFilters => " Audit filters ".to_owned(),
            FieldsPurpose::ClientLimits { client_id } => format!(" Limits of {client_id} "),
            FieldsPurpose::PolicyOverride {
                tenant_id,
                policy_id,
            } => format!(" Override {policy_id} for {tenant_id} "),
        }
    }

    fn note(&self) -> &'static str {
        match self.purpose {
            FieldsPurpose::AuditFilters => {
                "Empty fields do not filter; minutes keeps the last N minutes."
            }
            FieldsPurpose::ClientLimits { .. } => "An empty limit restores the default.",
            FieldsPurpose::PolicyOverride { .. } => {
                "action: block|redact|warn|log or empty; expires: RFC 3339, 30m, 2h, 7d or empty."
            }
        }
    }

    /// What submitting the form does, or what is wrong with it.
    fn submit(&self) -> Result<DialogOutcome, String> {
        match &self.purpose {
            FieldsPurpose::AuditFilters => {
                AuditFilters::from_values(&self.values).map(DialogOutcome::AuditFilters)
            }
            FieldsPurpose::ClientLimits { client_id } => {
                let limit = |field_idx: usize| -> Result<Option<i64>, String> {
                    let value = self.values[field_idx].trim();
                    if value.is_empty() {
                        return Ok(None);
                    }
                    match value.parse::<i64>() {
                        Ok(n) if n > 0 => Ok(Some(n)),
                        _ => Err(format!(
                            "{} must be a positive whole number",
                            LIMIT_FIELDS[field_idx]
                        )),
                    }
                };
                Ok(DialogOutcome::Submit(Request::SetClientLimits {
                    client_id: client_id.clone(),
                    rate_limit_rpm: limit(0)?,
                    rate_limit_tpm: limit(1)?,
                }))
            }
            FieldsPurpose::PolicyOverride {
                tenant_id,
                policy_id,
            } => {
                let value = |field_idx: usize| {
                    self.values
                        .get(field_idx)
                        .map(|value| value.trim().to_owned())
                        .unwrap_or_default()
                };
                let action = value(0);
                if !action.is_empty() && !OVERRIDE_ACTIONS.contains(&action.as_str()) {
                    return Err(
                        "action_override must be block, redact, warn, log or empty".to_owned()
                    );
                }
                let expires = parse_expiry(&value(1))?;
                let reason = value(2);
                if reason.is_empty() {
                    return Err("a reason is required".to_owned());
                }
                Ok(DialogOutcome::Send(Request::OverridePolicy(
                    PolicyOverride {
                        tenant_id: tenant_id.clone(),
                        policy_id: policy_id.clone(),
                        action_override: Some(action).filter(|action| !action.is_empty()),
                        expires,
                        reason,
                    },
                )))
            }
        }
    }
}

/// How long the tester waits after the last edit before it asks the agent.
pub const TEST_DEBOUNCE: Duration = Duration::from_millis(200);

/// The pattern tester: a regex and a sample, with the agent's answer for the last pair tested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatternTester {
    pub pattern: String,
    pub sample: String,
    /// 0 is the pattern, 1 the sample.
    pub focus: usize,
    /// Whether a field changed since the last tick.
    edited: bool,
    /// When the fields, quiet since the tick that saw the last edit, are tested.
    due: Option<Instant>,
    /// The pattern and sample of the last request sent.
    pub sent: Option<(String, String)>,
    /// The answer for the current pattern and sample, once it arrived.
    pub outcome: Option<PatternOutcome>,
}

impl PatternTester {
    /// A tester with this pattern; something to test is due once the sample is typed.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            ..Self::default()
        }
    }

    fn edit(&mut self) {
        self.edited = true;
        self.due = None;
        self.outcome = None;
    }

    /// Debounces edits: a tick that sees an edit starts a quiet period of `TEST_DEBOUNCE`; the first
    /// tick after it ends sends one test, unless more was typed in between.
    pub fn on_tick(&mut self, now: Instant) -> Option<Request> {
        if std::mem::take(&mut self.edited) {
            self.due = Some(now + TEST_DEBOUNCE);
            return None;
        }
        match self.due {
            Some(due) if now >= due => {
                self.due = None;
                if self.pattern.is_empty() || self.sample.is_empty() {
                    return None;
                }
                let pair = (self.pattern.clone(), self.sample.clone());
                if self.sent.as_ref() == Some(&pair) && self.outcome.is_some() {
                    return None;
                }
                self.sent = Some(pair.clone());
                Some(Request::TestPattern {
                    pattern: pair.0,
                    sample: pair.1,
                })
            }
            _ => None,
        }
    }

    /// Takes an answer if it is for what the fields hold now (a late answer is dropped).
    pub fn answered(&mut self, pattern: &str, sample: &str, outcome: PatternOutcome) {
        if self.pattern == pattern && self.sample == sample {
            self.outcome = Some(outcome);
        }
    }

    /// The sample cut into pieces, each with whether it is part of a match; the byte offsets of the
    /// agent are moved to character boundaries (and into the sample) first.
    pub fn highlighted(&self) -> Vec<(String, bool)> {
        let Some(PatternOutcome::Matches(spans)) = &self.outcome else {
            return vec![(self.sample.clone(), false)];
        };
        let sample = self.sample.as_str();
        let floor = |mut offset: usize| {
            offset = offset.min(sample.len());
            while !sample.is_char_boundary(offset) {
                offset -= 1;
            }
            offset
        };
        let ceil = |mut offset: usize| {
            offset = offset.min(sample.len());
            while !sample.is_char_boundary(offset) {
                offset += 1;
            }
            offset
        };
        let mut pieces = Vec::new();
        let mut at = 0;
        for (start, end) in spans {
            let start = floor(*start).max(at);
            let end = ceil(*end).max(start);
            if start > at {
                pieces.push((sample[at..start].to_owned(), false));
            }
            if end > start {
                pieces.push((sample[start..end].to_owned(), true));
            }
            at = end;
        }
        if at < sample.len() {
            pieces.push((sample[at..].to_owned(), false));
        }
        pieces
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverrideForm {
    pub tenant_id: String,
    pub policy_id: String,
    /// The state the override sets.
    pub enabled: bool,
    pub reason: String,
    pub error: Option<String>,
}

impl Dialog {
    fn bindings(&self) -> &'static [Binding<DialogAction>] {
        match self {
            Dialog::Help { .. } => HELP_KEYS,
            Dialog::Confirm { .. } => CONFIRM_KEYS,
            Dialog::NewClient(_) => FORM_KEYS,
            Dialog::OverrideReason(_) => REASON_KEYS,
            Dialog::Fields(_) => FIELDS_KEYS,
            Dialog::PatternTester(_) => TESTER_KEYS,
            Dialog::Secret { .. } => SECRET_KEYS,
        }
    }

    /// The keys of this dialog, for the help bar.
    pub fn hints(&self) -> Vec<Hint> {
        keys::hints(self.bindings())
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> DialogOutcome {
        let action = keys::lookup(self.bindings(), key);
        match self {
            Dialog::Help { .. } => match action {
                Some(DialogAction::Close) => DialogOutcome::Close,
                _ => DialogOutcome::Keep,
            },
            Dialog::Confirm { request, .. } => match action {
                Some(DialogAction::Confirm) => DialogOutcome::Submit(request.clone()),
                Some(DialogAction::Close) => DialogOutcome::Close,
                _ => DialogOutcome::Keep,
            },
            Dialog::Secret { secret, .. } => match action {
                Some(DialogAction::Copy) => DialogOutcome::Copy(secret.clone()),
                Some(DialogAction::Close) => DialogOutcome::Close,
                _ => DialogOutcome::Keep,
            },
            Dialog::NewClient(form) => match action {
                Some(DialogAction::Close) => DialogOutcome::Close,
                Some(DialogAction::NextField) => {
                    form.focus = (form.focus + 1) % NEW_CLIENT_FIELDS.len();
                    DialogOutcome::Keep
                }
                Some(DialogAction::PreviousField) => {
                    form.focus =
                        (form.focus + NEW_CLIENT_FIELDS.len() - 1) % NEW_CLIENT_FIELDS.len();
                    DialogOutcome::Keep
                }
                Some(DialogAction::DeleteChar) => {
                    form.values[form.focus].pop();
                    DialogOutcome::Keep
                }
                Some(DialogAction::Submit) => match form.to_request() {
                    Ok(request) => DialogOutcome::Submit(request),
                    Err(problem) => {
                        form.error = Some(problem);
                        DialogOutcome::Keep
                    }
                },
                _ => {
                    if let Some(typed) = typed_char(key) {
                        form.values[form.focus].push(typed);
                        form.error = None;
                    }
                    DialogOutcome::Keep
                }
            },
            Dialog::Fields(form) => match action {
                Some(DialogAction::Close) => DialogOutcome::Close,
                Some(DialogAction::NextField) => {
                    form.focus = (form.focus + 1) % form.labels.len();
                    DialogOutcome::Keep
                }
                Some(DialogAction::PreviousField) => {
                    form.focus = (form.focus + form.labels.len() - 1) % form.labels.len();
                    DialogOutcome::Keep
                }
                Some(DialogAction::DeleteChar) => {
                    if let Some(value) = form.values.get_mut(form.focus) {
                        value.pop();
                    }
                    DialogOutcome::Keep
                }
                Some(DialogAction::Submit) => match form.submit() {
                    Ok(outcome) => outcome,
                    Err(problem) => {
                        form.error = Some(problem);
                        DialogOutcome::Keep
                    }
                },
                _ => {
                    if let (Some(typed), Some(value)) =
                        (typed_char(key), form.values.get_mut(form.focus))
                    {
                        value.push(typed);
                        form.error = None;
                    }
                    DialogOutcome::Keep
                }
            },
            Dialog::PatternTester(tester) => match action {
                Some(DialogAction::Close) => DialogOutcome::Close,
                Some(DialogAction::NextField) => {
                    tester.focus = 1 - tester.focus.min(1);
                    DialogOutcome::Keep
                }
                Some(DialogAction::DeleteChar) => {
                    let field = if tester.focus == 0 {
                        &mut tester.pattern
                    } else {
                        &mut tester.sample
                    };
                    if field.pop().is_some() {
                        tester.edit();
                    }
                    DialogOutcome::Keep
                }
                _ => {
                    if let Some(typed) = typed_char(key) {
                        if tester.focus == 0 {
                            tester.pattern.push(typed);
                        } else {
                            tester.sample.push(typed);
                        }
                        tester.edit();
                    }
                    DialogOutcome::Keep
                }
            },
            Dialog::OverrideReason(form) => match action {
                Some(DialogAction::Close) => DialogOutcome::Close,
                Some(DialogAction::DeleteChar) => {
                    form.reason.pop();
                    DialogOutcome::Keep
                }
                Some(DialogAction::Submit) if form.reason.trim().is_empty() => {
                    form.error = Some("a reason is required".to_owned());
                    DialogOutcome::Keep
                }
                Some(DialogAction::Submit) => DialogOutcome::Submit(Request::SetOverride {
                    tenant_id: form.tenant_id.clone(),
                    policy_id: form.policy_id.clone(),
                    enabled: form.enabled,
                    reason: form.reason.trim().to_owned(),
                }),
                _ => {
                    if let Some(typed) = typed_char(key) {
                        form.reason.push(typed);
                        form.error = None;
                    }
                    DialogOutcome::Keep
                }
            },
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        match self {
            Dialog::Help { sections } => {
                // Two columns: the first two sections on the left, the others on the right.
                let column = |sections: &[(String, Vec<Hint>)]| -> Vec<Line<'static>> {
                    let mut lines = Vec::new();
                    for (title, hints) in sections {
                        lines.push(Line::from(title.clone().bold()));
                        for hint in hints {
                            lines.push(Line::from(vec![
                                Span::styled(format!(" {:<10}", hint.label), Style::new().cyan()),
                                Span::raw(hint.help),
                            ]));
                        }
                    }
                    lines
                };
                let split = sections.len().min(2);
                let left = column(&sections[..split]);
                let right = column(&sections[split..]);
                let height = u16::try_from(left.len().max(right.len()) + 2).unwrap_or(u16::MAX);
                let popup = centered(area, 78, height);
                frame.render_widget(Clear, popup);
                let block = Block::bordered().title(" Help ");
                let inner = block.inner(popup);
                frame.render_widget(block, popup);
                let [left_area, right_area] =
                    Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                        .areas(inner);
                frame.render_widget(Paragraph::new(left), left_area);
                frame.render_widget(Paragraph::new(right), right_area);
            }
            Dialog::Confirm { question, .. } => {
                let lines = vec![
                    Line::from(question.clone()),
                    Line::from(""),
                    Line::from("y/n".bold()),
                ];
                draw_box(frame, centered(area, 60, 7), " Confirm ", lines);
            }
            Dialog::NewClient(form) => {
                let mut lines = Vec::new();
                for (field_idx, label) in NEW_CLIENT_FIELDS.iter().enumerate() {
                    let focused = field_idx == form.focus;
                    let marker = if focused { "> " } else { "  " };
                    let cursor = if focused { "_" } else { "" };
                    let label_style = if focused {
                        Style::new().add_modifier(Modifier::BOLD).yellow()
                    } else {
                        Style::new()
                    };
                    lines.push(Line::from(vec![
                        Span::styled(format!("{marker}{label:<15}"), label_style),
                        Span::raw(format!("{}{cursor}", form.values[field_idx])),
                    ]));
                }
                lines.push(Line::from(""));
                lines.push(match &form.error {
                    Some(problem) => Line::from(problem.clone().red()),
                    None => {
                        Line::from("Empty client_id, org_id and limits use the defaults.".dim())
                    }
                });
                draw_box(frame, centered(area, 64, 10), " New client ", lines);
            }
            Dialog::Fields(form) => {
                let width = form
                    .labels
                    .iter()
                    .map(|label| label.chars().count() + 1)
                    .max()
                    .unwrap_or(0)
                    .max(15);
                let mut lines = Vec::new();
                for (field_idx, label) in form.labels.iter().enumerate() {
                    let focused = field_idx == form.focus;
                    let marker = if focused { "> " } else { "  " };
                    let cursor = if focused { "_" } else { "" };
                    let label_style = if focused {
                        Style::new().add_modifier(Modifier::BOLD).yellow()
                    } else {
                        Style::new()
                    };
                    let value = form.values.get(field_idx).cloned().unwrap_or_default();
                    lines.push(Line::from(vec![
                        Span::styled(format!("{marker}{label:<width$}"), label_style),
                        Span::raw(format!("{value}{cursor}")),
                    ]));
                }
                lines.push(Line::from(""));
                lines.push(match &form.error {
                    Some(problem) => Line::from(problem.clone().red()),
                    None => Line::from(form.note().dim()),
                });
                let height = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
                draw_box(frame, centered(area, 64, height), &form.title(), lines);
            }
            Dialog::PatternTester(tester) => {
                let field = |field_idx: usize, label: &str, value: &str| {
                    let focused = field_idx == tester.focus;
                    let marker = if focused { "> " } else { "  " };
                    let cursor = if focused { "_" } else { "" };
                    let label_style = if focused {
                        Style::new().add_modifier(Modifier::BOLD).yellow()
                    } else {
                        Style::new()
                    };
                    Line::from(vec![
                        Span::styled(format!("{marker}{label:<9}"), label_style),
                        Span::raw(format!("{value}{cursor}")),
                    ])
                };
                let mut lines = vec![
                    field(0, "pattern", &tester.pattern),
                    field(1, "sample", &tester.sample),
                    Line::from(""),
                ];
                let mut found = vec![Span::raw("  matches  ")];
                for (piece, matched) in tester.highlighted() {
                    found.push(if matched {
                        Span::styled(piece, Style::new().reversed().green())
                    } else {
                        Span::raw(piece)
                    });
                }
                lines.push(Line::from(found));
                lines.push(match &tester.outcome {
                    Some(PatternOutcome::Invalid(reason)) => Line::from(reason.clone().red()),
                    Some(PatternOutcome::Matches(spans)) if spans.is_empty() => {
                        Line::from("no match".dim())
                    }
                    Some(PatternOutcome::Matches(spans)) => {
                        Line::from(format!("{} match(es)", spans.len()).green())
                    }
                    None if tester.pattern.is_empty() || tester.sample.is_empty() => {
                        Line::from("Type a pattern and a sample; the agent tests them.".dim())
                    }
                    None => Line::from("testing…".dim()),
                });
                let height = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
                draw_box(frame, centered(area, 72, height), " Pattern tester ", lines);
            }
            Dialog::OverrideReason(form) => {
                let verb = if form.enabled { "Enable" } else { "Disable" };
                let lines = vec![
                    Line::from(format!(
                        "{verb} {} for tenant {} (an override).",
                        form.policy_id, form.tenant_id
                    )),
                    Line::from(""),
                    Line::from(vec![
                        Span::styled("reason: ", Style::new().bold().yellow()),
                        Span::raw(format!("{}_", form.reason)),
                    ]),
                    match &form.error {
                        Some(problem) => Line::from(problem.clone().red()),
                        None => Line::from(""),
                    },
                ];
                draw_box(frame, centered(area, 70, 7), " Override ", lines);
            }
            Dialog::Secret { client_id, secret } => {
                let width = u16::try_from(secret.expose().chars().count() + 4)
                    .unwrap_or(u16::MAX)
                    .max(60);
                let lines = vec![
                    Line::from(format!("Secret of client {client_id}:")),
                    Line::from(""),
                    Line::from(secret.expose().to_owned().bold()),
                    Line::from(""),
                    Line::from("It will not be shown again: copy it now (c)."),
                ];
                let popup = centered(area, width, 8);
                frame.render_widget(Clear, popup);
                frame.render_widget(
                    Paragraph::new(lines).block(Block::bordered().title(" Client secret ")),
                    popup,
                );
            }
        }
    }
}

/// A printable character typed without Control or Alt.
fn typed_char(key: &KeyEvent) -> Option<char> {
    use crossterm::event::KeyModifiers;
    match key.code {
        KeyCode::Char(typed)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(typed)
        }
        _ => None,
    }
}

/// A rectangle of at most `width` x `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    popup
}

fn draw_box(frame: &mut Frame, popup: Rect, title: &str, lines: Vec<Line<'static>>) {
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title.to_owned())),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn a_limit_that_is_not_a_number_keeps_the_form_open() {
        let mut dialog = Dialog::NewClient(NewClientForm {
            values: [
                String::new(),
                "n".to_owned(),
                "t".to_owned(),
                String::new(),
                "many".to_owned(),
                String::new(),
            ],
            ..NewClientForm::default()
        });
        assert_eq!(
            dialog.handle_key(&press(KeyCode::Enter)),
            DialogOutcome::Keep
        );
        let Dialog::NewClient(form) = dialog else {
            panic!("the form stays open");
        };
        assert_eq!(
            form.error.as_deref(),
            Some("rate_limit_rpm must be a whole number")
        );
    }

    #[test]
    fn an_override_needs_a_reason() {
        let mut dialog = Dialog::OverrideReason(OverrideForm {
            tenant_id: "t".to_owned(),
            policy_id: "p".to_owned(),
            ..OverrideForm::default()
        });
        assert_eq!(
            dialog.handle_key(&press(KeyCode::Enter)),
            DialogOutcome::Keep
        );
        dialog.handle_key(&press(KeyCode::Char('x')));
        assert_eq!(
            dialog.handle_key(&press(KeyCode::Enter)),
            DialogOutcome::Submit(Request::SetOverride {
                tenant_id: "t".to_owned(),
                policy_id: "p".to_owned(),
                enabled: false,
                reason: "x".to_owned(),
            })
        );
    }

    #[test]
    fn spans_off_character_boundaries_are_widened_not_a_panic() {
        let mut tester = PatternTester::new("é+");
        tester.sample = "aéé b".to_owned();
        // The agent's offsets are bytes: `é` is 2 bytes; 2 and 4 fall inside characters.
        tester.answered(
            "é+",
            "aéé b",
            PatternOutcome::Matches(vec![(2, 4), (3, 99)]),
        );
        assert_eq!(
            tester.highlighted(),
            vec![
                ("a".to_owned(), false),
                ("éé".to_owned(), true),
                (" b".to_owned(), true)
            ]
        );
    }

    #[test]
    fn expiries_are_times_or_durations() {
        assert_eq!(parse_expiry(" "), Ok(None));
        assert_eq!(
            parse_expiry("30m"),
            Ok(Some(Expiry::In(Duration::from_secs(1800))))
        );
        assert_eq!(
            parse_expiry("7d"),
            Ok(Some(Expiry::In(Duration::from_secs(7 * 86_400))))
        );
        assert_eq!(
            parse_expiry("2025-04-01T00:00:00+02:00"),
            Ok(Some(Expiry::At("2025-04-01T00:00:00+02:00".to_owned())))
        );
        for bad in ["0h", "h", "2w", "tomorrow", "é", "-1d"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
