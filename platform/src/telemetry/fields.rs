//! The fields of a log line: the message, then `name=value` pairs, as the default format writes
//! them, with every control character of a value escaped (`\n`, `\r`, `\t`, `\u{1b}`...). Values
//! come from callers: a model name, a client id, an upstream's error. Written raw, a line break
//! in one starts a line of its own that reads as the service's (a forged entry), and an escape
//! sequence drives the terminal of whoever reads the log. Nothing is styled: the services log
//! without ANSI colours, and the default visitor paid for styling even when it was off.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// The `FormatFields` of the services' log lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            out: Escaping(writer),
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'writer> {
    out: Escaping<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // Fields the `log` bridge adds are what the line already says (target, file, line).
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        let name = name.strip_prefix("r#").unwrap_or(name);
        // The separator and the name are the service's own: written as they are.
        let lead = self.out.0.write_str(separator).and_then(|()| {
            if name == "message" {
                Ok(())
            } else {
                self.out.0.write_str(name)?;
                self.out.0.write_str("=")
            }
        });
        self.result = lead.and_then(|()| write!(self.out, "{value:?}"));
    }
}

/// Writes through to the line, each control character (and the Unicode line and paragraph
/// separators) as an escape.
struct Escaping<'writer>(Writer<'writer>);

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Whether `text` may hold a character to escape: a byte below 0x20, DEL, or the first byte of
/// U+0080-U+00BF (the C1 controls among them) or of U+2000-U+2FFF (the separators among them). One
/// pass with no early exit, which compiles to wide compares: most values hold none of these.
fn may_need_escape(text: &str) -> bool {
    text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
    })
}

impl Write for Escaping<'_> {
    fn write_str(&mut self, mut text: &str) -> fmt::Result {
        if !may_need_escape(text) {
            return self.0.write_str(text);
        }
        while let Some(at) = text.find(needs_escape) {
            self.0.write_str(&text[..at])?;
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            text = &text[at + c.len_utf8()..];
        }
        self.0.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `emit` logs, formatted as the services format them.
    fn logged(emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_target(true)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn a_value_cannot_start_a_line_or_drive_a_terminal() {
        let model = "gpt-4o\n2026-12-03T00:00:00Z  INFO forged: line\r\x1b[31m\u{85}\u{2028}end\t.";
        let out = logged(|| {
            tracing::info!(model = %model, client = ?model, count = 3, "forwarded");
            tracing::warn!(error = %"a\nb", "upstream said {}", "x\ny");
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(!out.contains('\x1b') && !out.contains('\r') && !out.contains('\u{85}'));
        assert!(!out.contains('\u{2028}'), "{out}");
        assert!(
            lines[0].ends_with(
                "forwarded model=gpt-4o\\n2026-12-03T00:00:00Z  INFO forged: line\\r\\u{1b}[31m\
                 \\u{85}\\u{2028}end\\t. client=\"gpt-4o\\n2026-12-03T00:00:00Z  INFO forged: \
                 line\\r\\u{1b}[31m\\u{85}\\u{2028}end\\t.\" count=3"
            ),
            "{out}"
        );
        assert!(
            lines[1].ends_with("upstream said x\\ny error=a\\nb"),
            "{out}"
        );
        assert!(lines[1].contains(" WARN "), "{out}");
    }

    #[test]
    fn the_quick_test_passes_every_character_that_needs_an_escape() {
        let mut needing = 0;
        for code in 0..=0x10_ffff_u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            if needs_escape(c) {
                needing += 1;
                let mut buffer = [0u8; 4];
                assert!(may_need_escape(c.encode_utf8(&mut buffer)), "{code:#x}");
            }
        }
        // C0 (32), DEL, C1 (32) and the two separators.
        assert_eq!(needing, 67);
        assert!(!may_need_escape("plain text, é, ü, 日本"));
    }

    #[test]
    fn plain_values_are_written_as_the_default_format_writes_them() {
        let out = logged(|| {
            tracing::info!(decision_id = %"01a2", verdict = "allow", r#type = 7, "chat completion forwarded");
        });
        assert!(
            out.trim_end().ends_with(
                "INFO axonflow_platform::telemetry::fields::tests: chat completion forwarded \
                 decision_id=01a2 verdict=\"allow\" type=7"
            ),
            "{out}"
        );
        assert_eq!(out.matches('\n').count(), 1);
    }
}
