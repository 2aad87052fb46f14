//! The portal's event loop: one `tokio::select!` over terminal events, network answers (from spawned
//! request tasks, through a channel) and a tick. Requests never run inside key handling; the terminal
//! is restored on every way out, a panic included.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use base64::Engine as _;
use crossterm::event::{DisableMouseCapture, Event as TerminalEvent, EventStream};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::api::{ApiClient, Response, SecretText};
use crate::app::{App, Command, Event, Exit};
use crate::config::Config;
use crate::ui;

/// How often the app gets a tick (polls, backoff, the retry countdown).
const TICK: Duration = Duration::from_millis(250);

/// Puts the terminal back: main screen, cursor visible, mouse reporting off, raw mode off.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal when dropped, so an early return or an error leaves it usable.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Restores the terminal before the panic message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

/// Runs the portal until the user quits or the admin key is refused.
pub async fn run(config: Config) -> io::Result<Exit> {
    let client = ApiClient::new(&config.url, config.admin_key.clone())
        .map_err(|problem| io::Error::new(io::ErrorKind::InvalidInput, problem))?;
    install_panic_hook();
    terminal::enable_raw_mode()?;
    let _guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;

    let mut app = App::new(config.url.clone(), Instant::now());
    let (answers, mut answers_in) = mpsc::unbounded_channel::<Response>();
    let mut terminal_events = EventStream::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    loop {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let commands = tokio::select! {
            terminal_event = terminal_events.next() => match terminal_event {
                Some(Ok(TerminalEvent::Key(key))) => app.update(Event::Key(key)),
                // A resize is redrawn at the top of the loop; other events change nothing.
                Some(Ok(_)) => Vec::new(),
                Some(Err(error)) => return Err(error),
                None => return Ok(Exit::Quit),
            },
            Some(response) = answers_in.recv() => app.update(Event::Response(response)),
            _ = ticks.tick() => app.update(Event::Tick(Instant::now())),
        };
        for command in commands {
            match command {
                Command::Quit => return Ok(app.exit.unwrap_or(Exit::Quit)),
                Command::Send(request) => {
                    let client = client.clone();
                    let answers = answers.clone();
                    tokio::spawn(async move {
                        let response = client.execute(request).await;
                        // The receiver is gone only when the portal is exiting.
                        let _ = answers.send(response);
                    });
                }
                Command::Copy(secret) => copy_to_clipboard(&secret)?,
            }
        }
    }
}

/// Asks the terminal to put the text on the clipboard (OSC 52); terminals without it ignore it.
fn copy_to_clipboard(secret: &SecretText) -> io::Result<()> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret.expose());
    let mut stdout = io::stdout();
    write!(stdout, "\x1b]52;c;{encoded}\x07")?;
    stdout.flush()
}
