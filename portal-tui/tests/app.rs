//! Tests of `App::update`: key sequences and answers in, state and commands out, with no terminal
//! and no network.

mod common;

use std::time::{Duration, Instant};

use axonflow_portal::api::{
    ApiError, Expiry, NewClient, PatternOutcome, PolicyOverride, Reply, Request, RequestKind,
    Response, SecretText, VerifyReport,
};
use axonflow_portal::app::{App, Command, Event, Exit, Link};
use axonflow_portal::dialog::Dialog;
use axonflow_portal::screens::ScreenId;
use common::{answer, char_key, loaded_app, press};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn type_text(app: &mut App, text: &str) {
    for typed in text.chars() {
        app.update(char_key(typed));
    }
}

fn sent(commands: &[Command]) -> Vec<Request> {
    commands
        .iter()
        .filter_map(|command| match command {
            Command::Send(request) => Some(request.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn number_keys_switch_screens_and_load_their_data() {
    let mut app = loaded_app();
    assert_eq!(app.screen, ScreenId::Overview);
    let commands = app.update(char_key('2'));
    assert_eq!(app.screen, ScreenId::Clients);
    assert_eq!(sent(&commands), vec![Request::Clients]);
    app.update(char_key('3'));
    assert_eq!(app.screen, ScreenId::Policies);
    app.update(char_key('4'));
    assert_eq!(app.screen, ScreenId::Audit);
    let commands = app.update(char_key('5'));
    assert_eq!(app.screen, ScreenId::AdminLog);
    assert_eq!(sent(&commands), vec![Request::AdminLog]);
    app.update(char_key('1'));
    assert_eq!(app.screen, ScreenId::Overview);
}

#[test]
fn q_quits_and_ctrl_c_too() {
    let mut app = loaded_app();
    assert_eq!(app.update(char_key('q')), vec![Command::Quit]);
    assert_eq!(app.exit, Some(Exit::Quit));
    let mut app = loaded_app();
    let control_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.update(control_c), vec![Command::Quit]);
}

#[test]
fn help_opens_and_closes_with_question_mark_or_escape() {
    let mut app = loaded_app();
    app.update(char_key('?'));
    assert!(matches!(app.dialog, Some(Dialog::Help { .. })));
    // Keys do not leak to the screen while a dialog is open.
    assert!(app.update(char_key('q')).is_empty());
    app.update(char_key('?'));
    assert_eq!(app.dialog, None);
    app.update(char_key('?'));
    app.update(press(KeyCode::Esc));
    assert_eq!(app.dialog, None);
}

#[test]
fn filter_narrows_as_typed_enter_keeps_it_escape_clears_it() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    app.update(char_key('j'));
    app.update(char_key('/'));
    assert!(app.filtering);
    type_text(&mut app, "fin");
    assert_eq!(app.clients.selection.filter, "fin");
    assert_eq!(app.clients.visible().len(), 2);
    // While filtering, `q` is text, not quit.
    assert!(app.update(char_key('q')).is_empty());
    app.update(press(KeyCode::Backspace));
    app.update(press(KeyCode::Enter));
    assert!(!app.filtering);
    assert_eq!(app.clients.selection.filter, "fin");
    assert_eq!(
        app.clients
            .selected()
            .map(|client| client.client_id.as_str()),
        Some("billing-svc")
    );
    app.update(char_key('/'));
    app.update(press(KeyCode::Esc));
    assert!(!app.filtering);
    assert_eq!(app.clients.selection.filter, "");
    assert_eq!(app.clients.visible().len(), 3);
}

#[test]
fn new_client_form_moves_with_tab_and_submits_from_any_field() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    app.update(char_key('n'));
    type_text(&mut app, "ci-bot");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "CI bot");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "eng");
    app.update(press(KeyCode::Tab));
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "60");
    app.update(press(KeyCode::BackTab));
    app.update(press(KeyCode::BackTab));
    let Some(Dialog::NewClient(form)) = &app.dialog else {
        panic!("the new-client form is open");
    };
    assert_eq!(form.focus, 2);
    let commands = app.update(press(KeyCode::Enter));
    assert_eq!(app.dialog, None);
    assert_eq!(
        sent(&commands),
        vec![Request::CreateClient(NewClient {
            client_id: Some("ci-bot".to_owned()),
            name: "CI bot".to_owned(),
            tenant_id: "eng".to_owned(),
            org_id: None,
            rate_limit_rpm: Some(60),
            rate_limit_tpm: None,
        })]
    );
}

#[test]
fn a_created_secret_is_shown_once_in_a_dialog() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    let commands = app.update(answer(Reply::Created {
        client_id: "ci-bot".to_owned(),
        secret: SecretText::new("very-secret-value"),
    }));
    assert!(sent(&commands).contains(&Request::Clients));
    assert!(matches!(app.dialog, Some(Dialog::Secret { .. })));
    let commands = app.update(char_key('c'));
    assert_eq!(
        commands,
        vec![Command::Copy(SecretText::new("very-secret-value"))]
    );
    app.update(press(KeyCode::Esc));
    assert_eq!(app.dialog, None);
    assert!(!format!("{app:?}").contains("very-secret-value"));
}

#[test]
fn rotate_asks_first_and_sends_only_on_yes() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    app.update(char_key('j'));
    assert!(app.update(char_key('r')).is_empty());
    assert!(matches!(app.dialog, Some(Dialog::Confirm { .. })));
    assert!(app.update(char_key('n')).is_empty());
    assert_eq!(app.dialog, None);
    app.update(char_key('r'));
    let commands = app.update(char_key('y'));
    assert_eq!(
        sent(&commands),
        vec![Request::RotateSecret {
            client_id: "support-bot".to_owned()
        }]
    );
}

#[test]
fn delete_confirms_and_enable_toggles_at_once() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    app.update(press(KeyCode::End));
    let commands = app.update(char_key('e'));
    assert_eq!(
        sent(&commands),
        vec![Request::SetClientEnabled {
            client_id: "legacy-etl".to_owned(),
            enabled: true
        }]
    );
    app.update(char_key('d'));
    app.update(press(KeyCode::Esc));
    assert_eq!(app.dialog, None);
    app.update(char_key('d'));
    let commands = app.update(char_key('y'));
    assert_eq!(
        sent(&commands),
        vec![Request::DeleteClient {
            client_id: "legacy-etl".to_owned()
        }]
    );
}

#[test]
fn a_policy_override_asks_for_a_reason() {
    let mut app = loaded_app();
    app.update(char_key('3'));
    app.update(press(KeyCode::Enter));
    app.update(char_key('e'));
    let Some(Dialog::OverrideReason(form)) = &app.dialog else {
        panic!("the reason dialog is open");
    };
    assert_eq!(form.policy_id, "sys_pii_ssn");
    assert!(!form.enabled);
    type_text(&mut app, "false positives");
    let commands = app.update(press(KeyCode::Enter));
    assert_eq!(
        sent(&commands),
        vec![Request::SetOverride {
            tenant_id: "finance".to_owned(),
            policy_id: "sys_pii_ssn".to_owned(),
            enabled: false,
            reason: "false positives".to_owned(),
        }]
    );
}

#[test]
fn the_first_tick_loads_everything_and_ticks_poll_the_tail() {
    let start = Instant::now();
    let mut app = App::new("http://localhost:8080", start);
    let first = sent(&app.update(Event::Tick(start)));
    assert!(first.contains(&Request::Clients));
    assert!(first.contains(&Request::AuditTail { after: None }));
    app.update(common::answer(Reply::AuditTail {
        rows: common::audit_rows(),
        next_after: Some("0195-0003".to_owned()),
    }));
    let later = sent(&app.update(Event::Tick(start + Duration::from_millis(1100))));
    assert!(later.contains(&Request::AuditTail {
        after: Some("0195-0003".to_owned())
    }));
}

#[test]
fn new_audit_rows_arrive_without_a_key_and_the_selection_follows() {
    let mut app = loaded_app();
    app.update(char_key('4'));
    assert_eq!(app.audit.selection.selected, 2);
    let mut more = common::audit_rows();
    more.truncate(1);
    app.update(answer(Reply::AuditTail {
        rows: more,
        next_after: None,
    }));
    assert_eq!(app.audit.rows.len(), 4);
    assert_eq!(app.audit.selection.selected, 3);
}

#[test]
fn a_refused_key_on_the_first_client_list_exits() {
    let mut app = App::new("http://localhost:8080", Instant::now());
    let commands = app.update(Event::Response(Response {
        kind: RequestKind::Clients,
        result: Err(ApiError::Unauthorized),
    }));
    assert_eq!(commands, vec![Command::Quit]);
    assert_eq!(app.exit, Some(Exit::KeyRejected));
}

#[test]
fn an_unreachable_agent_is_retried_with_backoff_and_keys_keep_working() {
    let start = Instant::now();
    let mut app = App::new("http://localhost:8080", start);
    // Every request of the first tick fails; the outage counts as one attempt.
    for request in sent(&app.update(Event::Tick(start))) {
        app.update(Event::Response(Response {
            kind: request.kind(),
            result: Err(ApiError::Unreachable("Connection refused".to_owned())),
        }));
    }
    assert!(matches!(app.link, Link::Down { attempts: 1, .. }));
    // No retry before the backoff has passed; keys still work.
    assert!(sent(&app.update(Event::Tick(start + Duration::from_millis(500)))).is_empty());
    for request in sent(&app.update(char_key('2'))) {
        app.update(Event::Response(Response {
            kind: request.kind(),
            result: Err(ApiError::Unreachable("Connection refused".to_owned())),
        }));
    }
    assert_eq!(app.screen, ScreenId::Clients);
    assert!(matches!(app.link, Link::Down { attempts: 1, .. }));
    let probe = sent(&app.update(Event::Tick(start + Duration::from_millis(1100))));
    assert_eq!(probe, vec![Request::Health]);
    app.update(Event::Response(Response {
        kind: RequestKind::Health,
        result: Err(ApiError::Unreachable("Connection refused".to_owned())),
    }));
    let Link::Down {
        attempts, retry_at, ..
    } = &app.link
    else {
        panic!("still down");
    };
    assert_eq!(*attempts, 2);
    assert_eq!(
        retry_at.saturating_duration_since(start + Duration::from_millis(1100)),
        Duration::from_secs(2)
    );
    // The agent answers: the outage is over and everything is reloaded.
    let commands = app.update(answer(Reply::Health(common::health())));
    assert_eq!(app.link, Link::Up);
    assert!(sent(&commands).contains(&Request::Clients));
}

#[test]
fn audit_field_filters_narrow_the_rows_and_show_in_the_title() {
    let mut app = loaded_app();
    app.update(char_key('4'));
    assert_eq!(app.audit.visible().len(), 3);
    app.update(char_key('f'));
    assert!(matches!(app.dialog, Some(Dialog::Fields(_))));
    // The tenant field first, then verdict two fields on.
    type_text(&mut app, "fin");
    app.update(press(KeyCode::Tab));
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "allow");
    let commands = app.update(press(KeyCode::Enter));
    assert!(commands.is_empty());
    assert_eq!(app.dialog, None);
    assert_eq!(app.audit.filters.tenant, "fin");
    assert_eq!(app.audit.filters.verdict, "allow");
    assert_eq!(app.audit.visible(), vec![0, 2]);
    // The form opens again with the filters in force; a bad minutes value keeps it open.
    app.update(char_key('f'));
    app.update(press(KeyCode::BackTab));
    type_text(&mut app, "soon");
    app.update(press(KeyCode::Enter));
    let Some(Dialog::Fields(form)) = &app.dialog else {
        panic!("the filter form stays open");
    };
    assert_eq!(
        form.error.as_deref(),
        Some("minutes must be a whole number")
    );
    app.update(press(KeyCode::Esc));
    assert_eq!(app.audit.filters.minutes, None);
    // Rows at most 1 minute older than the newest one (10:13:05): 10:12:05 and 10:13:05.
    app.update(char_key('F'));
    assert!(app.audit.filters.is_empty());
    app.update(char_key('f'));
    app.update(press(KeyCode::BackTab));
    type_text(&mut app, "1");
    app.update(press(KeyCode::Enter));
    assert_eq!(app.audit.filters.minutes, Some(1));
    assert_eq!(app.audit.visible(), vec![1, 2]);
    // The policy field matches the policies a decision names.
    app.update(char_key('F'));
    app.update(char_key('f'));
    for _ in 0..3 {
        app.update(press(KeyCode::Tab));
    }
    type_text(&mut app, "ssn");
    app.update(press(KeyCode::Enter));
    assert_eq!(app.audit.visible(), vec![1]);
}

#[test]
fn v_verifies_the_audit_chain_and_keeps_the_result() {
    let mut app = loaded_app();
    app.update(char_key('4'));
    let commands = app.update(char_key('v'));
    assert_eq!(sent(&commands), vec![Request::AuditVerify]);
    let report: VerifyReport = serde_json::from_value(serde_json::json!({
        "intact": false, "chains": 2, "rows": 40, "unchained_rows": 0,
        "broken": [{"chain_id": "finance", "chain_seq": 7, "decision_id": "0195-0002",
                    "problem": "row hash mismatch"}]
    }))
    .expect("a report parses");
    app.update(answer(Reply::AuditVerify(report)));
    let verify = app.audit.verify.as_ref().expect("the report is kept");
    assert_eq!(verify.broken.len(), 1);
    let status = app.status.as_ref().expect("a status");
    assert!(status.error);
    assert_eq!(status.text, "audit chain BROKEN in 1 chains");
}

#[test]
fn l_edits_the_limits_of_a_client_with_a_patch() {
    let mut app = loaded_app();
    app.update(char_key('2'));
    app.update(char_key('l'));
    let Some(Dialog::Fields(form)) = &app.dialog else {
        panic!("the limits form opens");
    };
    assert_eq!(form.values, vec!["120".to_owned(), "120000".to_owned()]);
    app.update(press(KeyCode::Backspace));
    app.update(press(KeyCode::Backspace));
    app.update(press(KeyCode::Backspace));
    type_text(&mut app, "x");
    app.update(press(KeyCode::Enter));
    let Some(Dialog::Fields(form)) = &app.dialog else {
        panic!("a bad limit keeps the form open");
    };
    assert_eq!(
        form.error.as_deref(),
        Some("rate_limit_rpm must be a positive whole number")
    );
    app.update(press(KeyCode::Backspace));
    type_text(&mut app, "60");
    // An emptied limit goes back to the default (null).
    app.update(press(KeyCode::Tab));
    for _ in 0..6 {
        app.update(press(KeyCode::Backspace));
    }
    let commands = app.update(press(KeyCode::Enter));
    assert_eq!(app.dialog, None);
    assert_eq!(
        sent(&commands),
        vec![Request::SetClientLimits {
            client_id: "billing-svc".to_owned(),
            rate_limit_rpm: Some(60),
            rate_limit_tpm: None,
        }]
    );
    let commands = app.update(answer(Reply::ClientLimitsChanged {
        client_id: "billing-svc".to_owned(),
    }));
    assert_eq!(sent(&commands), vec![Request::Clients, Request::AdminLog]);
    assert_eq!(
        app.status.as_ref().map(|status| status.text.as_str()),
        Some("limits of billing-svc changed")
    );
}

fn open_policies_of_finance() -> App {
    let mut app = loaded_app();
    app.update(char_key('3'));
    app.update(press(KeyCode::Enter));
    app
}

#[test]
fn o_sends_an_override_with_action_expiry_and_reason_and_keeps_errors_in_the_form() {
    let mut app = open_policies_of_finance();
    app.update(char_key('o'));
    assert!(matches!(app.dialog, Some(Dialog::Fields(_))));
    type_text(&mut app, "allow");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "2h");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "noisy");
    // An action the agent does not know is refused in the form.
    assert!(sent(&app.update(press(KeyCode::Enter))).is_empty());
    let Some(Dialog::Fields(form)) = &app.dialog else {
        panic!("the form stays open");
    };
    assert_eq!(
        form.error.as_deref(),
        Some("action_override must be block, redact, warn, log or empty")
    );
    app.update(press(KeyCode::Tab));
    for _ in 0..5 {
        app.update(press(KeyCode::Backspace));
    }
    type_text(&mut app, "warn");
    let change = PolicyOverride {
        tenant_id: "finance".to_owned(),
        policy_id: "sys_pii_ssn".to_owned(),
        action_override: Some("warn".to_owned()),
        expires: Some(Expiry::In(Duration::from_secs(2 * 3600))),
        reason: "noisy".to_owned(),
    };
    assert_eq!(
        sent(&app.update(press(KeyCode::Enter))),
        vec![Request::OverridePolicy(change.clone())]
    );

    // A 422 is shown in the form, which stays open.
    app.update(Event::Response(Response {
        kind: RequestKind::OverridePolicy,
        result: Err(ApiError::Status {
            code: 422,
            message: "the override has 1 problem(s): expires_at: must be in the future".to_owned(),
        }),
    }));
    let Some(Dialog::Fields(form)) = &app.dialog else {
        panic!("the form stays open after an error");
    };
    assert_eq!(
        form.error.as_deref(),
        Some("HTTP 422: the override has 1 problem(s): expires_at: must be in the future")
    );

    // Success closes the form and reloads the tenant's policies and the admin log.
    let reloads = sent(&app.update(answer(Reply::PolicyOverridden {
        tenant_id: "finance".to_owned(),
        policy_id: "sys_pii_ssn".to_owned(),
    })));
    assert_eq!(app.dialog, None);
    assert_eq!(
        reloads,
        vec![
            Request::Tenants,
            Request::Policies {
                tenant_id: "finance".to_owned()
            },
            Request::AdminLog,
        ]
    );
}

#[test]
fn an_override_expiry_is_a_time_or_a_duration() {
    let mut app = open_policies_of_finance();
    app.update(char_key('o'));
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "2025-04-01T00:00:00Z");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "audit");
    let sent_now = sent(&app.update(press(KeyCode::Enter)));
    let [Request::OverridePolicy(change)] = sent_now.as_slice() else {
        panic!("one override is sent: {sent_now:?}");
    };
    assert_eq!(change.action_override, None);
    assert_eq!(
        change.expires,
        Some(Expiry::At("2025-04-01T00:00:00Z".to_owned()))
    );

    let mut app = open_policies_of_finance();
    app.update(char_key('o'));
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "soon");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "audit");
    assert!(sent(&app.update(press(KeyCode::Enter))).is_empty());
}

fn tests_sent(commands: &[Command]) -> Vec<Request> {
    sent(commands)
        .into_iter()
        .filter(|request| request.kind() == RequestKind::TestPattern)
        .collect()
}

#[test]
fn the_pattern_tester_asks_once_typing_stops_and_highlights_the_matches() {
    let start = Instant::now();
    let mut app = open_policies_of_finance();
    app.update(Event::Tick(start));
    app.update(char_key('t'));
    let Some(Dialog::PatternTester(tester)) = &app.dialog else {
        panic!("t opens the tester");
    };
    assert_eq!(tester.pattern, r"\b\d{3}-\d{2}-\d{4}\b");
    app.update(press(KeyCode::Tab));
    let tick = |app: &mut App, millis: u64| {
        tests_sent(&app.update(Event::Tick(start + Duration::from_millis(millis))))
    };
    type_text(&mut app, "ssn ");
    assert!(tick(&mut app, 250).is_empty());
    // Typing goes on: the quiet period starts again.
    type_text(&mut app, "123-45-6789");
    assert!(tick(&mut app, 500).is_empty());
    assert!(tick(&mut app, 600).is_empty());
    let request = Request::TestPattern {
        pattern: r"\b\d{3}-\d{2}-\d{4}\b".to_owned(),
        sample: "ssn 123-45-6789".to_owned(),
    };
    assert_eq!(tick(&mut app, 750), vec![request]);
    assert!(tick(&mut app, 1000).is_empty());
    assert!(tick(&mut app, 1250).is_empty());

    // A late answer for an older sample is dropped; the answer for the fields is shown.
    app.update(answer(Reply::PatternTested {
        pattern: r"\b\d{3}-\d{2}-\d{4}\b".to_owned(),
        sample: "ssn ".to_owned(),
        outcome: PatternOutcome::Matches(vec![]),
    }));
    app.update(answer(Reply::PatternTested {
        pattern: r"\b\d{3}-\d{2}-\d{4}\b".to_owned(),
        sample: "ssn 123-45-6789".to_owned(),
        outcome: PatternOutcome::Matches(vec![(4, 15)]),
    }));
    let Some(Dialog::PatternTester(tester)) = &app.dialog else {
        panic!("the tester stays open");
    };
    assert_eq!(
        tester.highlighted(),
        vec![("ssn ".to_owned(), false), ("123-45-6789".to_owned(), true)]
    );
}

#[test]
fn an_invalid_pattern_shows_the_agents_reason() {
    let start = Instant::now();
    let mut app = open_policies_of_finance();
    app.update(Event::Tick(start));
    app.update(char_key('t'));
    for _ in 0..30 {
        app.update(press(KeyCode::Backspace));
    }
    type_text(&mut app, "(");
    app.update(press(KeyCode::Tab));
    type_text(&mut app, "a");
    app.update(Event::Tick(start + Duration::from_millis(250)));
    let commands = app.update(Event::Tick(start + Duration::from_millis(500)));
    assert_eq!(
        tests_sent(&commands),
        vec![Request::TestPattern {
            pattern: "(".to_owned(),
            sample: "a".to_owned()
        }]
    );
    let reason = "invalid regex: unclosed group".to_owned();
    app.update(answer(Reply::PatternTested {
        pattern: "(".to_owned(),
        sample: "a".to_owned(),
        outcome: PatternOutcome::Invalid(reason.clone()),
    }));
    let Some(Dialog::PatternTester(tester)) = &app.dialog else {
        panic!("the tester stays open");
    };
    assert_eq!(tester.outcome, Some(PatternOutcome::Invalid(reason)));
    app.update(press(KeyCode::Esc));
    assert_eq!(app.dialog, None);
}
