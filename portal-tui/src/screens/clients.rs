//! The clients screen: every client with its tenant, org, state, limits and last use; create, rotate
//! the secret of, enable or disable, change the limits of, and delete a client.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Row;
use ratatui::Frame;

use super::{draw_table, list_title, short_time, Outcome, Screen};
use crate::api::{ClientInfo, Request};
use crate::dialog::{Dialog, FieldsForm, NewClientForm};
use crate::keys::{self, Binding, Hint, Selection, MOVES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAction {
    New,
    Rotate,
    Toggle,
    Limits,
    Delete,
}

const KEYS: &[Binding<ClientAction>] = &[
    Binding {
        keys: &[KeyCode::Char('n')],
        label: "n",
        help: "new client",
        action: ClientAction::New,
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        help: "rotate secret",
        action: ClientAction::Rotate,
    },
    Binding {
        keys: &[KeyCode::Char('e')],
        label: "e",
        help: "enable/disable",
        action: ClientAction::Toggle,
    },
    Binding {
        keys: &[KeyCode::Char('l')],
        label: "l",
        help: "limits",
        action: ClientAction::Limits,
    },
    Binding {
        keys: &[KeyCode::Char('d')],
        label: "d",
        help: "delete",
        action: ClientAction::Delete,
    },
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientsScreen {
    pub clients: Vec<ClientInfo>,
    pub selection: Selection,
    pub loaded: bool,
}

fn filter_text(client: &ClientInfo) -> String {
    format!(
        "{} {} {} {}",
        client.client_id, client.name, client.tenant_id, client.org_id
    )
}

impl ClientsScreen {
    pub fn visible(&self) -> Vec<usize> {
        self.selection.visible(&self.clients, filter_text)
    }

    pub fn selected(&self) -> Option<&ClientInfo> {
        let visible = self.visible();
        visible
            .get(self.selection.selected)
            .and_then(|client_idx| self.clients.get(*client_idx))
    }

    pub fn set_clients(&mut self, clients: Vec<ClientInfo>) {
        let selected_id = self.selected().map(|client| client.client_id.clone());
        self.clients = clients;
        self.loaded = true;
        let visible = self.visible();
        if let Some(selected_id) = selected_id {
            if let Some(position) = visible
                .iter()
                .position(|client_idx| self.clients[*client_idx].client_id == selected_id)
            {
                self.selection.selected = position;
            }
        }
        self.selection.clamp(visible.len());
    }
}

impl Screen for ClientsScreen {
    fn hints(&self) -> Vec<Hint> {
        keys::hints(KEYS)
    }

    fn selection_mut(&mut self) -> Option<&mut Selection> {
        Some(&mut self.selection)
    }

    fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        if let Some(movement) = keys::lookup(MOVES, key) {
            let n_visible = self.visible().len();
            self.selection.apply(movement, n_visible);
            return Outcome::Handled;
        }
        let Some(action) = keys::lookup(KEYS, key) else {
            return Outcome::Ignored;
        };
        if action == ClientAction::New {
            return Outcome::Dialog(Dialog::NewClient(NewClientForm::default()));
        }
        let Some(client) = self.selected() else {
            return Outcome::Handled;
        };
        let client_id = client.client_id.clone();
        match action {
            ClientAction::New => Outcome::Handled,
            ClientAction::Rotate => Outcome::Dialog(Dialog::Confirm {
                question: format!(
                    "Rotate the secret of client {client_id}? Its current secret stops working."
                ),
                request: Request::RotateSecret { client_id },
            }),
            ClientAction::Toggle => Outcome::Request(Request::SetClientEnabled {
                enabled: !client.enabled,
                client_id,
            }),
            ClientAction::Limits => Outcome::Dialog(Dialog::Fields(FieldsForm::client_limits(
                &client_id,
                client.rate_limit_rpm,
                client.rate_limit_tpm,
            ))),
            ClientAction::Delete => Outcome::Dialog(Dialog::Confirm {
                question: format!("Delete client {client_id}? Its calls will be refused."),
                request: Request::DeleteClient { client_id },
            }),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect) {
        let visible = self.visible();
        let limit =
            |value: Option<i64>| value.map_or_else(|| "default".to_owned(), |n| n.to_string());
        let rows = visible
            .iter()
            .map(|client_idx| {
                let client = &self.clients[*client_idx];
                Row::new(vec![
                    client.client_id.clone(),
                    client.name.clone(),
                    client.tenant_id.clone(),
                    client.org_id.clone(),
                    if client.enabled { "yes" } else { "no" }.to_owned(),
                    limit(client.rate_limit_rpm),
                    limit(client.rate_limit_tpm),
                    client
                        .last_used_at
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), short_time),
                ])
            })
            .collect();
        let empty = if self.loaded {
            "no clients (n creates one)"
        } else {
            "loading clients"
        };
        draw_table(
            frame,
            area,
            list_title(
                "Clients",
                &self.selection,
                visible.len(),
                self.clients.len(),
            ),
            &[
                ("client_id", Constraint::Fill(3)),
                ("name", Constraint::Fill(2)),
                ("tenant", Constraint::Fill(2)),
                ("org", Constraint::Fill(2)),
                ("on", Constraint::Length(3)),
                ("rpm", Constraint::Length(7)),
                ("tpm", Constraint::Length(7)),
                ("last used", Constraint::Length(16)),
            ],
            rows,
            Some(self.selection.selected),
            empty,
        );
    }
}
