//! Log lines of a service: a request appends its line to a shared buffer and goes on; one thread
//! writes what gathered to standard output every `BUSY_TICK`, in one system call. A request
//! never makes a system call or wakes a thread to log an ordinary line while lines keep coming (a
//! wake-up of an idle core costs more than the whole line); a warning or an error, or the first
//! line after a quiet spell, wakes the writer at once. The buffer is bounded: past `max_pending`
//! bytes, lines are dropped and counted rather than making a request wait on a slow or stalled
//! standard output.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the writer looks for lines while lines come: a line reaches standard output within
/// this (a wake-up of the writer per line would cost the request more than the line).
const BUSY_TICK: Duration = Duration::from_millis(20);
/// How often it looks once nothing came for `IDLE_AFTER_TICKS` ticks (an idle service wakes
/// rarely); the next line wakes it.
const IDLE_TICK: Duration = Duration::from_secs(1);
const IDLE_AFTER_TICKS: u32 = 10;

struct Shared {
    pending: Mutex<Vec<u8>>,
    max_pending: usize,
    dropped: AtomicU64,
    /// `BUSY_TICK` and `IDLE_TICK` (longer in tests).
    ticks: (Duration, Duration),
    /// The writer is idle (looks only every idle tick): the next line wakes it.
    idle: AtomicBool,
    signal: Mutex<Signal>,
    wake: Condvar,
}

#[derive(Default)]
struct Signal {
    /// A line that should not wait for the tick (a warning or an error) is pending.
    urgent: bool,
    /// The service stops: the writer writes what is left and ends.
    stopping: bool,
}

impl Shared {
    fn signal(&self, change: impl FnOnce(&mut Signal)) {
        change(&mut self.signal.lock().unwrap_or_else(PoisonError::into_inner));
        self.wake.notify_all();
    }
}

/// The `MakeWriter` of the log layer: appends each formatted line to the shared buffer.
#[derive(Clone)]
pub struct LineSink {
    shared: Arc<Shared>,
}

/// Writes the last lines and stops the writer thread when dropped.
pub struct LineWriterGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the writer thread (named `thread_name`) writing to `out`.
pub fn start<W: Write + Send + 'static>(
    out: W,
    max_pending: usize,
    thread_name: &str,
) -> std::io::Result<(LineSink, LineWriterGuard)> {
    start_ticking(out, max_pending, thread_name, (BUSY_TICK, IDLE_TICK))
}

fn start_ticking<W: Write + Send + 'static>(
    out: W,
    max_pending: usize,
    thread_name: &str,
    ticks: (Duration, Duration),
) -> std::io::Result<(LineSink, LineWriterGuard)> {
    let shared = Arc::new(Shared {
        ticks,
        pending: Mutex::new(Vec::with_capacity(64 * 1024)),
        max_pending,
        dropped: AtomicU64::new(0),
        idle: AtomicBool::new(false),
        signal: Mutex::new(Signal::default()),
        wake: Condvar::new(),
    });
    let for_thread = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(thread_name.to_owned())
        .spawn(move || write_forever(&for_thread, out))?;
    Ok((
        LineSink {
            shared: Arc::clone(&shared),
        },
        LineWriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl LineSink {
    /// Lines dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

fn write_forever<W: Write>(shared: &Shared, mut out: W) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut quiet_ticks = 0u32;
    loop {
        let tick = if quiet_ticks >= IDLE_AFTER_TICKS {
            shared.ticks.1
        } else {
            shared.ticks.0
        };
        let stopping = {
            let signal = shared.signal.lock().unwrap_or_else(PoisonError::into_inner);
            let (mut signal, _) = shared
                .wake
                .wait_timeout_while(signal, tick, |signal| !signal.stopping && !signal.urgent)
                .unwrap_or_else(PoisonError::into_inner);
            signal.urgent = false;
            signal.stopping
        };
        {
            let mut pending = shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *pending, &mut batch);
        }
        if batch.is_empty() {
            quiet_ticks = quiet_ticks.saturating_add(1);
            if quiet_ticks == IDLE_AFTER_TICKS {
                shared.idle.store(true, Ordering::SeqCst);
                // A line appended since the swap found the writer busy and woke nobody.
                let pending = shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if !pending.is_empty() {
                    shared.idle.store(false, Ordering::SeqCst);
                    quiet_ticks = 0;
                }
            }
        } else {
            quiet_ticks = 0;
            // A failed write loses these lines; the service goes on (there is nowhere to report it).
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            // A burst's capacity is not kept for ever.
            if batch.capacity() > 1024 * 1024 {
                batch = Vec::with_capacity(64 * 1024);
            } else {
                batch.clear();
            }
        }
        if stopping {
            return;
        }
    }
}

impl Drop for LineWriterGuard {
    fn drop(&mut self) {
        self.shared.signal(|signal| signal.stopping = true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer: whatever the formatter writes for the line is appended.
pub struct LineHandle<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for LineHandle<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending.len() + bytes.len() > self.shared.max_pending {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.extend_from_slice(bytes);
            drop(pending);
            if self.urgent || self.shared.idle.swap(false, Ordering::SeqCst) {
                self.shared.signal(|signal| signal.urgent = true);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LineSink {
    type Writer = LineHandle<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineHandle {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        LineHandle {
            shared: &self.shared,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read while the thread writes to it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// One line, written the way the log formatter writes it: whole, in one `write_all`.
    fn line(sink: &LineSink, text: &str) {
        sink.make_writer()
            .write_all(text.as_bytes())
            .expect("never fails");
    }

    /// Whether `needle` is written within 20 s (far shorter than the 60 s ticks the tests that
    /// need a wake-up use, far longer than a loaded machine takes to wake a thread).
    fn written_soon(out: &Captured, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !text(out).contains(needle) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    fn text(out: &Captured) -> String {
        String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8")
    }

    #[test]
    fn lines_reach_the_output_in_order_soon_and_all_of_them_at_stop() {
        let out = Captured::default();
        let (sink, guard) = start(out.clone(), 1 << 20, "test-log").expect("starts");
        for n in 0..1000 {
            line(&sink, &format!("line {n}\n"));
        }
        // Written by the thread without a stop: within a few ticks.
        assert!(
            written_soon(&out, "line 999\n"),
            "the lines were not written"
        );
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text(&out), expected);
        line(&sink, "last\n");
        drop(guard);
        assert!(text(&out).ends_with("line 999\nlast\n"));
        assert_eq!(sink.dropped(), 0);
    }

    #[test]
    fn warnings_do_not_wait_for_the_tick() {
        use tracing_subscriber::layer::SubscriberExt;
        let out = Captured::default();
        let ticks = (Duration::from_secs(60), Duration::from_secs(60));
        let (sink, guard) = start_ticking(out.clone(), 1 << 20, "test-log", ticks).expect("starts");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("ordinary");
            tracing::warn!("careful");
            assert!(
                written_soon(&out, "careful"),
                "the warning waited for the tick"
            );
        });
        drop(guard);
        let written = text(&out);
        let ordinary = written
            .find("ordinary")
            .expect("the ordinary line is written");
        let careful = written.find("careful").expect("the warning is written");
        assert!(ordinary < careful, "{written}");
    }

    #[test]
    fn the_first_line_after_a_quiet_spell_does_not_wait_for_the_idle_tick() {
        let out = Captured::default();
        let ticks = (Duration::from_millis(1), Duration::from_secs(60));
        let (sink, guard) = start_ticking(out.clone(), 1 << 20, "test-log", ticks).expect("starts");
        std::thread::sleep(Duration::from_millis(u64::from(IDLE_AFTER_TICKS) * 20));
        line(&sink, "after a while\n");
        assert!(
            written_soon(&out, "after a while"),
            "the line waited for the idle tick"
        );
        drop(guard);
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_past_the_bound() {
        /// An output that blocks until the test lets it go.
        struct Stalled(Arc<(Mutex<bool>, Condvar)>, Captured);
        impl Write for Stalled {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let (open, opened) = &*self.0;
                let mut open = open.lock().expect("lock");
                while !*open {
                    open = opened.wait(open).expect("wait");
                }
                self.1.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let out = Captured::default();
        let (sink, guard) =
            start(Stalled(Arc::clone(&gate), out.clone()), 100, "test-log").expect("starts");
        // The first line goes to the (stalled) writer; the buffer then holds 100 bytes at most.
        line(&sink, "first\n");
        std::thread::sleep(BUSY_TICK * 4);
        for n in 0..50 {
            // 10 bytes each: 10 fit.
            line(&sink, &format!("line {n:04}\n"));
        }
        let dropped = sink.dropped();
        *gate.0.lock().expect("lock") = true;
        gate.1.notify_all();
        drop(guard);
        assert_eq!(dropped, 40);
        let expected: String = std::iter::once("first\n".to_owned())
            .chain((0..10).map(|n| format!("line {n:04}\n")))
            .collect();
        assert_eq!(text(&out), expected);
    }
}
