//! The policies screen: tenants on the left, the selected tenant's policies with their override on the
//! right; `e` enables or disables a policy for the tenant as an override (with a reason), `o` sets an
//! override's action and expiry, `x` clears it, `t` opens the pattern tester.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row};
use ratatui::Frame;

use super::{draw_table, list_title, Outcome, Screen};
use crate::api::{PolicyInfo, Request, TenantInfo};
use crate::dialog::{Dialog, FieldsForm, OverrideForm, PatternTester};
use crate::keys::{self, Binding, Hint, Selection, MOVES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PolicyAction {
    Open,
    SwitchPane,
    Toggle,
    Override,
    ClearOverride,
    TestPattern,
}

const KEYS: &[Binding<PolicyAction>] = &[
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        help: "open tenant",
        action: PolicyAction::Open,
    },
    Binding {
        keys: &[KeyCode::Tab, KeyCode::Left, KeyCode::Right],
        label: "Tab/←→",
        help: "pane",
        action: PolicyAction::SwitchPane,
    },
    Binding {
        keys: &[KeyCode::Char('e')],
        label: "e",
        help: "on/off (override)",
        action: PolicyAction::Toggle,
    },
    Binding {
        keys: &[KeyCode::Char('o')],
        label: "o",
        help: "override",
        action: PolicyAction::Override,
    },
    Binding {
        keys: &[KeyCode::Char('x')],
        label: "x",
        help: "clear override",
        action: PolicyAction::ClearOverride,
    },
    Binding {
        keys: &[KeyCode::Char('t')],
        label: "t",
        help: "test pattern",
        action: PolicyAction::TestPattern,
    },
];

/// Which list of the screen has the keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pane {
    #[default]
    Tenants,
    Policies,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoliciesScreen {
    pub tenants: Vec<TenantInfo>,
    pub tenant_selection: Selection,
    /// The tenant whose policies are shown.
    pub tenant_id: Option<String>,
    pub policies: Vec<PolicyInfo>,
    pub policy_selection: Selection,
    pub focus: Pane,
    pub loaded: bool,
}

fn tenant_text(tenant: &TenantInfo) -> String {
    tenant.tenant_id.clone()
}

fn policy_text(policy: &PolicyInfo) -> String {
    format!(
        "{} {} {} {} {}",
        policy.key(),
        policy.name,
        policy.category,
        policy.action,
        policy.tier
    )
}

impl PoliciesScreen {
    fn visible_tenants(&self) -> Vec<usize> {
        self.tenant_selection.visible(&self.tenants, tenant_text)
    }

    fn visible_policies(&self) -> Vec<usize> {
        self.policy_selection.visible(&self.policies, policy_text)
    }

    fn selected_tenant(&self) -> Option<&TenantInfo> {
        self.visible_tenants()
            .get(self.tenant_selection.selected)
            .and_then(|tenant_idx| self.tenants.get(*tenant_idx))
    }

    pub fn selected_policy(&self) -> Option<&PolicyInfo> {
        self.visible_policies()
            .get(self.policy_selection.selected)
            .and_then(|policy_idx| self.policies.get(*policy_idx))
    }

    /// Takes a new tenant list; asks for the first tenant's policies when none are shown yet.
    pub fn set_tenants(&mut self, tenants: Vec<TenantInfo>) -> Option<Request> {
        self.tenants = tenants;
        self.loaded = true;
        let n_visible = self.visible_tenants().len();
        self.tenant_selection.clamp(n_visible);
        match (&self.tenant_id, self.selected_tenant()) {
            (None, Some(tenant)) => Some(Request::Policies {
                tenant_id: tenant.tenant_id.clone(),
            }),
            _ => None,
        }
    }

    pub fn set_policies(&mut self, tenant_id: String, policies: Vec<PolicyInfo>) {
        if self.tenant_id.as_deref() != Some(tenant_id.as_str()) {
            self.policy_selection = Selection::default();
        }
        self.tenant_id = Some(tenant_id);
        self.policies = policies;
        let n_visible = self.visible_policies().len();
        self.policy_selection.clamp(n_visible);
    }

    fn toggle(&self) -> Outcome {
        let (Some(tenant_id), Some(policy)) = (&self.tenant_id, self.selected_policy()) else {
            return Outcome::Handled;
        };
        Outcome::Dialog(Dialog::OverrideReason(OverrideForm {
            tenant_id: tenant_id.clone(),
            policy_id: policy.key().to_owned(),
            enabled: !policy.effective_enabled(),
            ..OverrideForm::default()
        }))
    }

    fn override_form(&self) -> Outcome {
        let (Some(tenant_id), Some(policy)) = (&self.tenant_id, self.selected_policy()) else {
            return Outcome::Handled;
        };
        let action = policy
            .override_state
            .as_ref()
            .and_then(|state| state.action_override.as_deref());
        Outcome::Dialog(Dialog::Fields(FieldsForm::policy_override(
            tenant_id,
            policy.key(),
            action,
        )))
    }

    fn pattern_tester(&self) -> Outcome {
        let pattern = self
            .selected_policy()
            .and_then(|policy| policy.pattern.clone())
            .unwrap_or_default();
        Outcome::Dialog(Dialog::PatternTester(PatternTester::new(pattern)))
    }

    fn clear_override(&self) -> Outcome {
        let (Some(tenant_id), Some(policy)) = (&self.tenant_id, self.selected_policy()) else {
            return Outcome::Handled;
        };
        if policy.override_state.is_none() {
            return Outcome::Handled;
        }
        Outcome::Dialog(Dialog::Confirm {
            question: format!(
                "Clear the override of {} for tenant {tenant_id}?",
                policy.key()
            ),
            request: Request::ClearOverride {
                tenant_id: tenant_id.clone(),
                policy_id: policy.key().to_owned(),
            },
        })
    }
}

impl Screen for PoliciesScreen {
    fn hints(&self) -> Vec<Hint> {
        keys::hints(KEYS)
    }

    fn selection_mut(&mut self) -> Option<&mut Selection> {
        Some(match self.focus {
            Pane::Tenants => &mut self.tenant_selection,
            Pane::Policies => &mut self.policy_selection,
        })
    }

    fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        if let Some(movement) = keys::lookup(MOVES, key) {
            match self.focus {
                Pane::Tenants => {
                    let n_visible = self.visible_tenants().len();
                    self.tenant_selection.apply(movement, n_visible);
                }
                Pane::Policies => {
                    let n_visible = self.visible_policies().len();
                    self.policy_selection.apply(movement, n_visible);
                }
            }
            return Outcome::Handled;
        }
        match keys::lookup(KEYS, key) {
            None => Outcome::Ignored,
            Some(PolicyAction::SwitchPane) => {
                self.focus = match self.focus {
                    Pane::Tenants => Pane::Policies,
                    Pane::Policies => Pane::Tenants,
                };
                Outcome::Handled
            }
            Some(PolicyAction::Open) => match (self.focus, self.selected_tenant()) {
                (Pane::Tenants, Some(tenant)) => {
                    let tenant_id = tenant.tenant_id.clone();
                    self.focus = Pane::Policies;
                    Outcome::Request(Request::Policies { tenant_id })
                }
                _ => Outcome::Handled,
            },
            Some(PolicyAction::Toggle) => self.toggle(),
            Some(PolicyAction::Override) => self.override_form(),
            Some(PolicyAction::ClearOverride) => self.clear_override(),
            Some(PolicyAction::TestPattern) => self.pattern_tester(),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect) {
        let [tenants_area, policies_area] =
            Layout::horizontal([Constraint::Percentage(30), Constraint::Percentage(70)])
                .areas(area);
        let [table_area, detail_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(policies_area);
        let focus_mark = |pane: Pane| if self.focus == pane { "▶" } else { "" };

        let visible_tenants = self.visible_tenants();
        let tenant_rows = visible_tenants
            .iter()
            .map(|tenant_idx| {
                let tenant = &self.tenants[*tenant_idx];
                Row::new(vec![
                    tenant.tenant_id.clone(),
                    tenant.clients.to_string(),
                    tenant.overrides.to_string(),
                ])
            })
            .collect();
        draw_table(
            frame,
            tenants_area,
            format!(
                "{}{}",
                focus_mark(Pane::Tenants),
                list_title(
                    "Tenants",
                    &self.tenant_selection,
                    visible_tenants.len(),
                    self.tenants.len()
                )
            ),
            &[
                ("tenant", Constraint::Fill(1)),
                ("cli", Constraint::Length(3)),
                ("ovr", Constraint::Length(3)),
            ],
            tenant_rows,
            Some(self.tenant_selection.selected),
            if self.loaded {
                "no tenants"
            } else {
                "loading tenants"
            },
        );

        let visible_policies = self.visible_policies();
        let policy_rows = visible_policies
            .iter()
            .map(|policy_idx| {
                let policy = &self.policies[*policy_idx];
                let overridden = if policy.override_state.is_some() {
                    "*"
                } else {
                    ""
                };
                let state = if policy.effective_enabled() {
                    "on"
                } else {
                    "off"
                };
                let action = policy
                    .override_state
                    .as_ref()
                    .and_then(|state| state.action_override.clone())
                    .unwrap_or_else(|| policy.action.clone());
                Row::new(vec![
                    policy.key().to_owned(),
                    action,
                    policy.severity.clone(),
                    format!("{state}{overridden}"),
                ])
            })
            .collect();
        let tenant_name = self.tenant_id.clone().unwrap_or_else(|| "-".to_owned());
        draw_table(
            frame,
            table_area,
            format!(
                "{}{}",
                focus_mark(Pane::Policies),
                list_title(
                    &format!("Policies of {tenant_name}"),
                    &self.policy_selection,
                    visible_policies.len(),
                    self.policies.len()
                )
            ),
            &[
                ("policy", Constraint::Fill(1)),
                ("action", Constraint::Length(7)),
                ("severity", Constraint::Length(8)),
                ("on", Constraint::Length(4)),
            ],
            policy_rows,
            Some(self.policy_selection.selected),
            if self.tenant_id.is_some() {
                "no policies"
            } else {
                "select a tenant (Enter)"
            },
        );

        let detail = match self.selected_policy() {
            None => vec![Line::from("* = overridden for this tenant".dim())],
            Some(policy) => {
                let mut lines = vec![Line::from(format!(
                    "{} | {} | tier {}",
                    policy.name, policy.category, policy.tier
                ))];
                match &policy.override_state {
                    None => lines.push(Line::from("no override".dim())),
                    Some(state) => {
                        lines.push(Line::from(format!(
                            "override by {}: {}",
                            state.created_by.as_deref().unwrap_or("-"),
                            state.override_reason.as_deref().unwrap_or("-")
                        )));
                        lines.push(Line::from(format!(
                            "expires {}",
                            state.expires_at.as_deref().unwrap_or("never")
                        )));
                    }
                }
                lines
            }
        };
        frame.render_widget(
            Paragraph::new(detail).block(Block::bordered().title(" Policy ")),
            detail_area,
        );
    }
}
