//! Snapshot tests of every screen and dialog, drawn into a `TestBackend` at 80x24 and 120x40 with fixed
//! data; the snapshots live in `tests/snapshots/`.

mod common;

use axonflow_portal::api::{
    ApiError, PatternOutcome, Reply, RequestKind, Response, SecretText, VerifyReport,
};
use axonflow_portal::app::{App, Event};
use axonflow_portal::dialog::Dialog;
use axonflow_portal::ui;
use common::{answer, char_key, loaded_app, press};
use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn render(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| ui::draw(frame, app))
        .expect("drawing into a test buffer");
    terminal.backend().clone()
}

fn snapshot_at_both_sizes(name: &str, app: &App) {
    for (width, height) in SIZES {
        insta::assert_snapshot!(
            format!("{name}_{width}x{height}"),
            render(app, width, height)
        );
    }
}

fn on_screen(key: char) -> App {
    let mut app = loaded_app();
    app.update(char_key(key));
    app
}

#[test]
fn overview() {
    snapshot_at_both_sizes("overview", &on_screen('1'));
}

#[test]
fn clients() {
    snapshot_at_both_sizes("clients", &on_screen('2'));
}

#[test]
fn policies() {
    let mut app = on_screen('3');
    app.update(press(KeyCode::Enter));
    app.update(char_key('j'));
    snapshot_at_both_sizes("policies", &app);
}

#[test]
fn audit() {
    snapshot_at_both_sizes("audit", &on_screen('4'));
}

#[test]
fn admin_log() {
    snapshot_at_both_sizes("admin_log", &on_screen('5'));
}

#[test]
fn filtering_clients() {
    let mut app = on_screen('2');
    app.update(char_key('/'));
    for typed in "fin".chars() {
        app.update(char_key(typed));
    }
    insta::assert_snapshot!("clients_filtering_80x24", render(&app, 80, 24));
}

#[test]
fn help_dialog() {
    let mut app = on_screen('2');
    app.update(char_key('?'));
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
}

#[test]
fn new_client_form() {
    let mut app = on_screen('2');
    app.update(char_key('n'));
    for typed in "ci-bot".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::Tab));
    insta::assert_snapshot!("new_client_80x24", render(&app, 80, 24));
}

#[test]
fn rotate_confirmation() {
    let mut app = on_screen('2');
    app.update(char_key('r'));
    insta::assert_snapshot!("rotate_confirm_80x24", render(&app, 80, 24));
}

#[test]
fn secret_dialog() {
    let mut app = on_screen('2');
    app.dialog = Some(Dialog::Secret {
        client_id: "ci-bot".to_owned(),
        secret: SecretText::new("afs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"),
    });
    insta::assert_snapshot!("secret_80x24", render(&app, 80, 24));
}

#[test]
fn override_reason_dialog() {
    let mut app = on_screen('3');
    app.update(press(KeyCode::Enter));
    app.update(char_key('e'));
    for typed in "false positives".chars() {
        app.update(char_key(typed));
    }
    insta::assert_snapshot!("override_reason_80x24", render(&app, 80, 24));
}

#[test]
fn agent_unreachable_status() {
    let mut app = on_screen('2');
    app.update(Event::Response(Response {
        kind: RequestKind::Clients,
        result: Err(ApiError::Unreachable("Connection refused".to_owned())),
    }));
    insta::assert_snapshot!("unreachable_80x24", render(&app, 80, 24));
}

#[test]
fn audit_filter_form() {
    let mut app = on_screen('4');
    app.update(char_key('f'));
    for typed in "finance".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::BackTab));
    app.update(char_key('3'));
    app.update(char_key('0'));
    insta::assert_snapshot!("audit_filters_80x24", render(&app, 80, 24));
}

#[test]
fn audit_filtered_and_verified() {
    let mut app = on_screen('4');
    app.update(char_key('f'));
    for typed in "finance".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::Tab));
    app.update(press(KeyCode::Tab));
    for typed in "allow".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::Enter));
    app.update(char_key('v'));
    let report: VerifyReport = serde_json::from_value(serde_json::json!({
        "intact": true, "chains": 2, "rows": 3, "unchained_rows": 0, "broken": []
    }))
    .expect("a report parses");
    app.update(answer(Reply::AuditVerify(report)));
    insta::assert_snapshot!("audit_filtered_verified_80x24", render(&app, 80, 24));
}

#[test]
fn client_limits_form() {
    let mut app = on_screen('2');
    app.update(char_key('l'));
    insta::assert_snapshot!("client_limits_80x24", render(&app, 80, 24));
}

#[test]
fn policy_override_form() {
    let mut app = on_screen('3');
    app.update(press(KeyCode::Enter));
    app.update(char_key('o'));
    for typed in "warn".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::Tab));
    for typed in "7d".chars() {
        app.update(char_key(typed));
    }
    app.update(press(KeyCode::Tab));
    for typed in "false positives".chars() {
        app.update(char_key(typed));
    }
    insta::assert_snapshot!("policy_override_80x24", render(&app, 80, 24));
}

#[test]
fn pattern_tester_with_a_match() {
    let mut app = on_screen('3');
    app.update(press(KeyCode::Enter));
    app.update(char_key('t'));
    app.update(press(KeyCode::Tab));
    let sample = "ssn 123-45-6789, not 12-345";
    for typed in sample.chars() {
        app.update(char_key(typed));
    }
    app.update(answer(Reply::PatternTested {
        pattern: r"\b\d{3}-\d{2}-\d{4}\b".to_owned(),
        sample: sample.to_owned(),
        outcome: PatternOutcome::Matches(vec![(4, 15)]),
    }));
    let backend = render(&app, 80, 24);
    // The match is drawn reversed; the rest of the sample is not.
    let buffer = backend.buffer();
    let row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buffer[(x, *y)].symbol())
                .collect::<String>()
                .contains("matches  ssn")
        })
        .expect("the highlighted sample is drawn");
    let reversed: String = (0..80)
        .filter(|x| {
            buffer[(*x, row)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        })
        .map(|x| buffer[(x, row)].symbol().to_owned())
        .collect();
    assert_eq!(reversed, "123-45-6789");
    insta::assert_snapshot!("pattern_tester_80x24", backend);
}
