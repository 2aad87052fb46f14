//! The portal's state and its one pure transition, `App::update(event) -> Vec<Command>`: keys, ticks
//! and network answers go in; requests to send, text to copy and quitting come out. Nothing here
//! touches the terminal or the network, so every behaviour is tested with plain values.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::api::{ApiError, PatternOutcome, Reply, Request, RequestKind, Response, SecretText};
use crate::dialog::{Dialog, DialogOutcome, FieldsPurpose};
use crate::keys::{self, Binding, Hint, MOVES};
use crate::screens::policies::Pane;
use crate::screens::{
    AdminLogScreen, AuditScreen, ClientsScreen, Outcome, OverviewScreen, PoliciesScreen, Screen,
    ScreenId,
};

/// How often the audit tail is polled.
pub const TAIL_EVERY: Duration = Duration::from_secs(1);
/// How often health and stats are polled.
pub const STATS_EVERY: Duration = Duration::from_secs(5);
/// How often the list of the current screen is reloaded.
pub const LIST_EVERY: Duration = Duration::from_secs(15);
/// The longest wait between two attempts to reach an unreachable agent.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    /// Time passed (the runtime sends one every 250 ms).
    Tick(Instant),
    Response(Response),
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Send(Request),
    /// Copy to the clipboard with OSC 52.
    Copy(SecretText),
    Quit,
}

/// Why the portal stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// The agent refused the admin key on the first call.
    KeyRejected,
}

/// Whether the agent answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Up,
    Down {
        attempts: u32,
        retry_at: Instant,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobalAction {
    Show(ScreenId),
    Help,
    Filter,
    Quit,
}

/// The keys that work on every screen; entries with an empty label are left out of the help bar.
const GLOBAL_KEYS: &[Binding<GlobalAction>] = &[
    Binding {
        keys: &[KeyCode::Char('1')],
        label: "1-5",
        help: "screens",
        action: GlobalAction::Show(ScreenId::Overview),
    },
    Binding {
        keys: &[KeyCode::Char('2')],
        label: "",
        help: "",
        action: GlobalAction::Show(ScreenId::Clients),
    },
    Binding {
        keys: &[KeyCode::Char('3')],
        label: "",
        help: "",
        action: GlobalAction::Show(ScreenId::Policies),
    },
    Binding {
        keys: &[KeyCode::Char('4')],
        label: "",
        help: "",
        action: GlobalAction::Show(ScreenId::Audit),
    },
    Binding {
        keys: &[KeyCode::Char('5')],
        label: "",
        help: "",
        action: GlobalAction::Show(ScreenId::AdminLog),
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        help: "filter",
        action: GlobalAction::Filter,
    },
    Binding {
        keys: &[KeyCode::Char('?')],
        label: "?",
        help: "help",
        action: GlobalAction::Help,
    },
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        help: "quit",
        action: GlobalAction::Quit,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterAction {
    Keep,
    Clear,
    Erase,
}

/// The keys while a filter is typed (any other printable key is part of the filter).
const FILTER_KEYS: &[Binding<FilterAction>] = &[
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        help: "keep filter",
        action: FilterAction::Keep,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        help: "clear filter",
        action: FilterAction::Clear,
    },
    Binding {
        keys: &[KeyCode::Backspace],
        label: "Bksp",
        help: "erase",
        action: FilterAction::Erase,
    },
];

/// The whole state of the portal.
#[derive(Debug, Clone)]
pub struct App {
    /// The agent's URL, shown in the header.
    pub url: String,
    pub screen: ScreenId,
    pub overview: OverviewScreen,
    pub clients: ClientsScreen,
    pub policies: PoliciesScreen,
    pub audit: AuditScreen,
    pub admin_log: AdminLogScreen,
    pub dialog: Option<Dialog>,
    /// Whether keys go to the filter of the current list.
    pub filtering: bool,
    pub status: Option<Status>,
    pub link: Link,
    pub exit: Option<Exit>,
    pub now: Instant,
    started: bool,
    /// Whether a health check sent as a retry of an outage is on its way.
    probing: bool,
    next_stats: Instant,
    next_tail: Instant,
    next_list: Instant,
    in_flight: BTreeMap<RequestKind, u32>,
}

impl App {
    pub fn new(url: impl Into<String>, now: Instant) -> Self {
        Self {
            url: url.into(),
            screen: ScreenId::Overview,
            overview: OverviewScreen::default(),
            clients: ClientsScreen::default(),
            policies: PoliciesScreen::default(),
            audit: AuditScreen::default(),
            admin_log: AdminLogScreen::default(),
            dialog: None,
            filtering: false,
            status: None,
            link: Link::Connecting,
            exit: None,
            now,
            started: false,
            probing: false,
            next_stats: now,
            next_tail: now,
            next_list: now,
            in_flight: BTreeMap::new(),
        }
    }

    pub fn current(&self) -> &dyn Screen {
        match self.screen {
            ScreenId::Overview => &self.overview,
            ScreenId::Clients => &self.clients,
            ScreenId::Policies => &self.policies,
            ScreenId::Audit => &self.audit,
            ScreenId::AdminLog => &self.admin_log,
        }
    }

    fn current_mut(&mut self) -> &mut dyn Screen {
        match self.screen {
            ScreenId::Overview => &mut self.overview,
            ScreenId::Clients => &mut self.clients,
            ScreenId::Policies => &mut self.policies,
            ScreenId::Audit => &mut self.audit,
            ScreenId::AdminLog => &mut self.admin_log,
        }
    }

    /// The filter of the current list, if the screen has a list.
    pub fn current_filter(&self) -> Option<&str> {
        let selection = match self.screen {
            ScreenId::Overview => return None,
            ScreenId::Clients => &self.clients.selection,
            ScreenId::Policies => match self.policies.focus {
                Pane::Tenants => &self.policies.tenant_selection,
                Pane::Policies => &self.policies.policy_selection,
            },
            ScreenId::Audit => &self.audit.selection,
            ScreenId::AdminLog => &self.admin_log.selection,
        };
        Some(&selection.filter)
    }

    /// The keys that work now, for the help bar.
    pub fn hints(&self) -> Vec<Hint> {
        if let Some(dialog) = &self.dialog {
            return dialog.hints();
        }
        if self.filtering {
            return keys::hints(FILTER_KEYS);
        }
        let mut hints = self.current().hints();
        hints.extend(
            keys::hints(GLOBAL_KEYS)
                .into_iter()
                .filter(|hint| !hint.label.is_empty()),
        );
        hints
    }

    /// The full help: global keys, movement, filter, and the current screen's keys.
    fn help_sections(&self) -> Vec<(String, Vec<Hint>)> {
        const NUMBERS: [&str; 5] = ["1", "2", "3", "4", "5"];
        let mut global: Vec<Hint> = ScreenId::ALL
            .iter()
            .map(|screen| Hint {
                label: NUMBERS[screen.index()],
                help: screen.title(),
            })
            .collect();
        global.extend(keys::hints(GLOBAL_KEYS).into_iter().skip(5));
        let mut sections = vec![
            ("Everywhere".to_owned(), global),
            ("Lists".to_owned(), keys::hints(MOVES)),
            ("While filtering".to_owned(), keys::hints(FILTER_KEYS)),
        ];
        let screen_hints = self.current().hints();
        if !screen_hints.is_empty() {
            sections.push((self.screen.title().to_owned(), screen_hints));
        }
        sections
    }

    pub fn update(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Key(key) => self.on_key(&key),
            Event::Tick(now) => self.on_tick(now),
            Event::Response(response) => self.on_response(response),
        }
    }

    fn on_key(&mut self, key: &KeyEvent) -> Vec<Command> {
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        if let Some(dialog) = &mut self.dialog {
            return match dialog.handle_key(key) {
                DialogOutcome::Keep => Vec::new(),
                DialogOutcome::Close => {
                    self.dialog = None;
                    Vec::new()
                }
                DialogOutcome::Submit(request) => {
                    self.dialog = None;
                    self.set_status(format!("{}…", request.kind().describe()), false);
                    self.send(request)
                }
                DialogOutcome::Send(request) => {
                    self.set_status(format!("{}…", request.kind().describe()), false);
                    self.send(request)
                }
                DialogOutcome::Copy(secret) => {
                    self.set_status("secret sent to the clipboard (OSC 52)", false);
                    vec![Command::Copy(secret)]
                }
                DialogOutcome::AuditFilters(filters) => {
                    self.dialog = None;
                    self.audit.set_filters(filters);
                    Vec::new()
                }
            };
        }
        if self.filtering {
            return self.on_filter_key(key);
        }
        match keys::lookup(GLOBAL_KEYS, key) {
            Some(GlobalAction::Quit) => self.quit(),
            Some(GlobalAction::Help) => {
                self.dialog = Some(Dialog::Help {
                    sections: self.help_sections(),
                });
                Vec::new()
            }
            Some(GlobalAction::Filter) => {
                if self.current_mut().selection_mut().is_some() {
                    self.filtering = true;
                }
                Vec::new()
            }
            Some(GlobalAction::Show(screen)) => self.show(screen),
            None => match self.current_mut().handle_key(key) {
                Outcome::Ignored | Outcome::Handled => Vec::new(),
                Outcome::Request(request) => {
                    if request == Request::AuditVerify {
                        self.set_status(format!("{}…", request.kind().describe()), false);
                    }
                    self.send(request)
                }
                Outcome::Dialog(dialog) => {
                    self.dialog = Some(dialog);
                    Vec::new()
                }
            },
        }
    }

    fn on_filter_key(&mut self, key: &KeyEvent) -> Vec<Command> {
        let action = keys::lookup(FILTER_KEYS, key);
        let typed = match key.code {
            KeyCode::Char(typed) if !key.modifiers.contains(KeyModifiers::CONTROL) => Some(typed),
            _ => None,
        };
        let Some(selection) = self.current_mut().selection_mut() else {
            self.filtering = false;
            return Vec::new();
        };
        match (action, typed) {
            (Some(FilterAction::Keep), _) => {
                selection.selected = 0;
                self.filtering = false;
            }
            (Some(FilterAction::Clear), _) => {
                selection.filter.clear();
                self.filtering = false;
            }
            (Some(FilterAction::Erase), _) => {
                selection.filter.pop();
                selection.selected = 0;
            }
            (None, Some(typed)) => {
                selection.filter.push(typed);
                selection.selected = 0;
            }
            (None, None) => {
                // Movement keys still move while the filter is typed.
                self.current_mut().handle_key(key);
            }
        }
        Vec::new()
    }

    fn quit(&mut self) -> Vec<Command> {
        self.exit = Some(Exit::Quit);
        vec![Command::Quit]
    }

    fn show(&mut self, screen: ScreenId) -> Vec<Command> {
        self.screen = screen;
        self.next_list = self.now + LIST_EVERY;
        self.screen_refresh()
    }

    /// The requests that reload what the current screen shows.
    fn screen_refresh(&mut self) -> Vec<Command> {
        match self.screen {
            ScreenId::Overview => [Request::Health, Request::Stats]
                .into_iter()
                .flat_map(|request| self.poll(request))
                .collect(),
            ScreenId::Clients => self.poll(Request::Clients),
            ScreenId::Policies => {
                let mut commands = self.poll(Request::Tenants);
                if let Some(tenant_id) = self.policies.tenant_id.clone() {
                    commands.extend(self.poll(Request::Policies { tenant_id }));
                }
                commands
            }
            ScreenId::Audit => Vec::new(),
            ScreenId::AdminLog => self.poll(Request::AdminLog),
        }
    }

    fn refresh_all(&mut self) -> Vec<Command> {
        let mut commands = Vec::new();
        for request in [
            Request::Clients,
            Request::Health,
            Request::Stats,
            Request::Tenants,
            Request::AdminLog,
            Request::AuditTail {
                after: self.audit.after.clone(),
            },
        ] {
            commands.extend(self.poll(request));
        }
        if let Some(tenant_id) = self.policies.tenant_id.clone() {
            commands.extend(self.poll(Request::Policies { tenant_id }));
        }
        self.next_stats = self.now + STATS_EVERY;
        self.next_tail = self.now + TAIL_EVERY;
        self.next_list = self.now + LIST_EVERY;
        commands
    }

    /// Sends a request unless one of its kind is already on its way (for polls).
    fn poll(&mut self, request: Request) -> Vec<Command> {
        if self.in_flight.get(&request.kind()).copied().unwrap_or(0) > 0 {
            return Vec::new();
        }
        self.send(request)
    }

    fn send(&mut self, request: Request) -> Vec<Command> {
        *self.in_flight.entry(request.kind()).or_insert(0) += 1;
        vec![Command::Send(request)]
    }

    fn on_tick(&mut self, now: Instant) -> Vec<Command> {
        self.now = now;
        if !self.started {
            self.started = true;
            return self.refresh_all();
        }
        let mut commands = Vec::new();
        if let Some(Dialog::PatternTester(tester)) = &mut self.dialog {
            if let Some(request) = tester.on_tick(now) {
                commands.extend(self.send(request));
            }
        }
        if let Link::Down { retry_at, .. } = &self.link {
            if now < *retry_at || self.probing {
                return commands;
            }
            let probe = self.poll(Request::Health);
            self.probing = !probe.is_empty();
            commands.extend(probe);
            return commands;
        }
        if now >= self.next_tail {
            self.next_tail = now + TAIL_EVERY;
            let after = self.audit.after.clone();
            commands.extend(self.poll(Request::AuditTail { after }));
        }
        if now >= self.next_stats {
            self.next_stats = now + STATS_EVERY;
            commands.extend(self.poll(Request::Health));
            commands.extend(self.poll(Request::Stats));
        }
        if now >= self.next_list {
            self.next_list = now + LIST_EVERY;
            commands.extend(self.screen_refresh());
        }
        commands
    }

    fn on_response(&mut self, response: Response) -> Vec<Command> {
        if let Some(count) = self.in_flight.get_mut(&response.kind) {
            *count = count.saturating_sub(1);
        }
        let kind = response.kind;
        if let Err(error) = &response.result {
            self.show_in_dialog(kind, error);
        }
        let was_probe = kind == RequestKind::Health && std::mem::take(&mut self.probing);
        let mut commands = Vec::new();
        let reply = match response.result {
            Err(ApiError::Unreachable(reason)) => {
                self.link = match &self.link {
                    Link::Down {
                        attempts, retry_at, ..
                    } => {
                        // Only a retry counts as an attempt; other failures of the same outage do not.
                        let (attempts, retry_at) = if was_probe {
                            (attempts + 1, self.now + backoff(attempts + 1))
                        } else {
                            (*attempts, *retry_at)
                        };
                        Link::Down {
                            attempts,
                            retry_at,
                            reason,
                        }
                    }
                    Link::Up | Link::Connecting => Link::Down {
                        attempts: 1,
                        retry_at: self.now + backoff(1),
                        reason,
                    },
                };
                return Vec::new();
            }
            Err(error) => {
                commands.extend(self.agent_answered());
                if error == ApiError::Unauthorized
                    && kind == RequestKind::Clients
                    && !self.clients.loaded
                {
                    self.exit = Some(Exit::KeyRejected);
                    return vec![Command::Quit];
                }
                self.set_status(format!("{} failed: {error}", kind.describe()), true);
                return commands;
            }
            Ok(reply) => reply,
        };
        commands.extend(self.agent_answered());
        commands.extend(self.apply(reply));
        commands
    }

    /// Shows a failure in the dialog that made the request: the override form, the pattern tester.
    fn show_in_dialog(&mut self, kind: RequestKind, error: &ApiError) {
        match (kind, &mut self.dialog) {
            (RequestKind::OverridePolicy, Some(Dialog::Fields(form)))
                if matches!(form.purpose, FieldsPurpose::PolicyOverride { .. }) =>
            {
                form.error = Some(error.to_string());
            }
            (RequestKind::TestPattern, Some(Dialog::PatternTester(tester))) => {
                tester.outcome = Some(PatternOutcome::Invalid(error.to_string()));
            }
            _ => {}
        }
    }

    /// The agent answered: an outage is over, and what was missed is reloaded.
    fn agent_answered(&mut self) -> Vec<Command> {
        let was_down = matches!(self.link, Link::Down { .. });
        self.link = Link::Up;
        if was_down {
            self.set_status("the agent answers again", false);
            self.refresh_all()
        } else {
            Vec::new()
        }
    }

    fn apply(&mut self, reply: Reply) -> Vec<Command> {
        match reply {
            Reply::Health(health) => {
                self.overview.health = Some(health);
                Vec::new()
            }
            Reply::Stats(stats) => {
                self.overview.stats = Some(stats);
                Vec::new()
            }
            Reply::Clients(clients) => {
                self.clients.set_clients(clients);
                Vec::new()
            }
            Reply::Tenants(tenants) => match self.policies.set_tenants(tenants) {
                Some(request) => self.poll(request),
                None => Vec::new(),
            },
            Reply::Policies {
                tenant_id,
                policies,
            } => {
                self.policies.set_policies(tenant_id, policies);
                Vec::new()
            }
            Reply::AuditTail { rows, next_after } => {
                self.audit.append(rows, next_after);
                Vec::new()
            }
            Reply::AdminLog(entries) => {
                self.admin_log.set_entries(entries);
                Vec::new()
            }
            Reply::Created { client_id, secret } => {
                self.set_status(format!("client {client_id} created"), false);
                self.dialog = Some(Dialog::Secret { client_id, secret });
                self.after_change(&[Request::Clients, Request::Tenants])
            }
            Reply::Rotated { client_id, secret } => {
                self.set_status(format!("secret of {client_id} rotated"), false);
                self.dialog = Some(Dialog::Secret { client_id, secret });
                self.after_change(&[Request::Clients])
            }
            Reply::ClientChanged { client_id, enabled } => {
                let state = if enabled { "enabled" } else { "disabled" };
                self.set_status(format!("client {client_id} {state}"), false);
                self.after_change(&[Request::Clients])
            }
            Reply::ClientDeleted { client_id } => {
                self.set_status(format!("client {client_id} deleted"), false);
                self.after_change(&[Request::Clients, Request::Tenants])
            }
            Reply::OverrideSet {
                tenant_id,
                policy_id,
                enabled,
            } => {
                let state = if enabled { "enabled" } else { "disabled" };
                self.set_status(format!("{policy_id} {state} for {tenant_id}"), false);
                self.after_change(&[Request::Tenants, Request::Policies { tenant_id }])
            }
            Reply::ClientLimitsChanged { client_id } => {
                self.set_status(format!("limits of {client_id} changed"), false);
                self.after_change(&[Request::Clients])
            }
            Reply::AuditVerify(report) => {
                let text = if report.intact && report.broken.is_empty() {
                    format!("audit chain verified: {} chains intact", report.chains)
                } else {
                    format!("audit chain BROKEN in {} chains", report.broken.len())
                };
                let broken = !report.broken.is_empty() || !report.intact;
                self.set_status(text, broken);
                self.audit.verify = Some(report);
                Vec::new()
            }
            Reply::PolicyOverridden {
                tenant_id,
                policy_id,
            } => {
                if matches!(
                    &self.dialog,
                    Some(Dialog::Fields(form)) if matches!(form.purpose, FieldsPurpose::PolicyOverride { .. })
                ) {
                    self.dialog = None;
                }
                self.set_status(
                    format!("override of {policy_id} set for {tenant_id}"),
                    false,
                );
                self.after_change(&[Request::Tenants, Request::Policies { tenant_id }])
            }
            Reply::PatternTested {
                pattern,
                sample,
                outcome,
            } => {
                if let Some(Dialog::PatternTester(tester)) = &mut self.dialog {
                    tester.answered(&pattern, &sample, outcome);
                }
                Vec::new()
            }
            Reply::OverrideCleared {
                tenant_id,
                policy_id,
            } => {
                self.set_status(
                    format!("override of {policy_id} cleared for {tenant_id}"),
                    false,
                );
                self.after_change(&[Request::Tenants, Request::Policies { tenant_id }])
            }
        }
    }

    /// Reloads what a change touched, and the admin log that records it.
    fn after_change(&mut self, requests: &[Request]) -> Vec<Command> {
        requests
            .iter()
            .cloned()
            .chain([Request::AdminLog])
            .flat_map(|request| self.send(request))
            .collect()
    }

    fn set_status(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
        });
    }
}

/// The wait before attempt `attempts + 1`: 1 s, 2 s, 4 s... up to `MAX_BACKOFF`.
pub fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(5);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}
