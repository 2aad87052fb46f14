//! Server-Sent Events read incrementally, per the HTML Living Standard's event stream rules: bytes
//! arrive in any split (inside a line, a CRLF pair or a UTF-8 sequence), lines end in LF, CRLF or
//! CR, `:` lines are comments, `data:` lines (with or without the space) join with `\n`, `event:`
//! and `id:` are kept, `retry:` and unknown fields are ignored, and an event is dispatched at a
//! blank line. An event left unfinished when the stream ends is dropped, as the standard says.
//! Lines and events are bounded: past `max_event_bytes` the stream is refused.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default `message`.
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// The stream broke the bounds or the encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an event stream line or event is longer than {0} bytes")]
    TooLarge(usize),
    #[error("an event stream line is not UTF-8")]
    NotUtf8,
}

/// The reader's state between reads.
#[derive(Debug)]
pub struct SseReader {
    max_event_bytes: usize,
    /// Bytes of the line being read (no terminator).
    line: Vec<u8>,
    /// The previous read ended with CR: a LF starting this one belongs to it.
    after_cr: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    /// Past the start of the stream (where a byte order mark may stand).
    started: bool,
    bom_seen: usize,
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl SseReader {
    pub fn new(max_event_bytes: usize) -> SseReader {
        SseReader {
            max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            has_data: false,
            event: None,
            id: None,
            started: false,
            bom_seen: 0,
        }
    }

    /// Reads `bytes`, appending every event they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = bytes;
        if rest.is_empty() {
            return Ok(());
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        // A byte order mark may open the stream (also split across reads); it is not data.
        if !self.started {
            let wanted = &BOM[self.bom_seen..];
            let n = wanted.len().min(rest.len());
            if rest[..n] == wanted[..n] {
                self.bom_seen += n;
                rest = &rest[n..];
                if self.bom_seen < BOM.len() {
                    return Ok(());
                }
            } else if self.bom_seen > 0 {
                // A partial mark that did not go on: those bytes were data.
                let seen = BOM[..self.bom_seen].to_vec();
                self.started = true;
                self.push(&seen, out)?;
                return self.push(rest, out);
            }
            self.started = true;
        }
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                None => {
                    self.extend_line(rest)?;
                    break;
                }
                Some(at) => {
                    self.extend_line(&rest[..at])?;
                    let terminator = rest[at];
                    rest = &rest[at + 1..];
                    if terminator == b'\r' {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            None => self.after_cr = true,
                            Some(_) => {}
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out)?;
                }
            }
        }
        Ok(())
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max_event_bytes {
            return Err(SseError::TooLarge(self.max_event_bytes));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                    id: self.id.clone(),
                });
            }
            self.has_data = false;
            self.data.clear();
            self.event = None;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(SseError::TooLarge(self.max_event_bytes));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            // An id with a NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut reader = SseReader::new(1 << 20);
        let mut out = Vec::new();
        for piece in pieces {
            reader.push(piece, &mut out).expect("valid stream");
        }
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn every_split_of_a_stream_reads_the_same() {
        let stream = "data: {\"a\":\"h\u{e9}llo\"}\r\n\r\n: keep-alive\n\nevent: ping\nid: 7\nretry: 10\ndata:x\ndata: y\r\rdata: [DONE]\n\n".as_bytes();
        let whole = read_all(&[stream]);
        assert_eq!(
            data(&whole),
            vec!["{\"a\":\"h\u{e9}llo\"}", "x\ny", "[DONE]"]
        );
        assert_eq!(whole[1].event.as_deref(), Some("ping"));
        assert_eq!(whole[1].id.as_deref(), Some("7"));
        for cut in 0..=stream.len() {
            assert_eq!(
                read_all(&[&stream[..cut], &stream[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(read_all(&bytewise), whole);
    }

    #[test]
    fn a_byte_order_mark_and_empty_reads_change_nothing() {
        let stream = "\u{feff}data: a\r\n\r\ndata: b\n\n".as_bytes();
        for cut in 0..=stream.len() {
            let events = read_all(&[&stream[..cut], b"", &stream[cut..]]);
            assert_eq!(data(&events), vec!["a", "b"], "cut at {cut}");
        }
        assert_eq!(
            data(&read_all(&[b"data: a\r", b"", b"\ndata: b\r\n\r\n"])),
            vec!["a\nb"]
        );
    }

    #[test]
    fn unfinished_events_comments_and_empty_data() {
        assert!(read_all(&[b"data: partial"]).is_empty());
        assert!(read_all(&[b": only a comment\n\n"]).is_empty());
        assert_eq!(data(&read_all(&[b"data\n\n"])), vec![""]);
        assert_eq!(data(&read_all(&[b"data:\n\n"])), vec![""]);
        assert!(read_all(&[b"event: x\n\n"]).is_empty());
    }

    #[test]
    fn bounds_and_encoding() {
        let mut reader = SseReader::new(16);
        let mut out = Vec::new();
        assert_eq!(
            reader.push(&[b'a'; 17], &mut out),
            Err(SseError::TooLarge(16))
        );
        let mut reader = SseReader::new(16);
        assert_eq!(
            reader.push(b"data: 0123456789\ndata: 0123456789\n", &mut out),
            Err(SseError::TooLarge(16))
        );
        let mut reader = SseReader::new(64);
        assert_eq!(
            reader.push(b"data: \xff\n\n", &mut out),
            Err(SseError::NotUtf8)
        );
    }
}
