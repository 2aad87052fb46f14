//! The fallback journal at `AUDIT_FALLBACK_PATH`: append-only JSON lines, fsync'd before the write
//! returns, holding audit rows Postgres could not take. For replay the file is renamed aside
//! (`<path>.replay-<id>`) and a new one started, so appends never wait on a replay; a replay file is
//! removed only after all its rows are committed. A torn last line (a crash mid-write) is skipped
//! with a warning; an unreadable line in the middle, or a row Postgres refuses, is kept in
//! `<path>.rejected`, never dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One row as journaled: the stored form of a sealed audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalLine {
    pub id: uuid::Uuid,
    pub source: String,
    pub client_id: String,
    pub tenant_id: String,
    pub org_id: String,
    pub provider: String,
    pub model: String,
    pub verdict: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub estimated_cost_usd: String,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    pub trace_id: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub chain_id: String,
    pub chain_seq: i64,
    /// Hex.
    pub prev_hash: String,
    /// Hex.
    pub row_hash: String,
    pub retain_until: chrono::NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("audit journal {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("audit journal line could not be written: {0}")]
    Encode(#[from] serde_json::Error),
}

fn io_error(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What reading one journal file found.
#[derive(Debug, Default)]
pub struct ReadJournal {
    pub lines: Vec<JournalLine>,
    pub torn_last_line: bool,
    /// Lines that are not journal lines (kept in `.rejected` once the file's replay succeeds).
    pub unreadable: Vec<Vec<u8>>,
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// Held (an exclusive lock on `<path>.lock`) for the life of the process: two processes sharing
    /// one journal could lose lines appended to a file the other is replaying.
    _lock: File,
    /// Lines journaled and not yet replayed (including files left by an earlier run).
    backlog: AtomicU64,
}

fn open_append(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error(path, e))
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

impl Journal {
    /// Opens (creating the directory and the file when missing) and proves the directory writable.
    /// An unusable path is an error: the caller refuses to start rather than run without a journal.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        let lock_path = PathBuf::from(format!("{}.lock", path.display()));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io_error(
                    path,
                    std::io::Error::other(
                        "another process uses this journal; give every agent its own AUDIT_FALLBACK_PATH",
                    ),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&lock_path, e)),
        }
        let file = open_append(path)?;
        file.sync_all().map_err(|e| io_error(path, e))?;
        sync_dir(path);
        // Replay renames files next to the journal: the directory itself must be writable.
        let probe = path.with_extension(format!("probe-{}", std::process::id()));
        File::create(&probe).map_err(|e| io_error(&probe, e))?;
        std::fs::remove_file(&probe).map_err(|e| io_error(&probe, e))?;
        let journal = Journal {
            path: path.to_owned(),
            file: Mutex::new(file),
            _lock: lock,
            backlog: AtomicU64::new(0),
        };
        let mut waiting = 0;
        for file in journal.files_to_replay()? {
            waiting += count_lines(&file);
        }
        waiting += count_lines(path);
        journal.backlog.store(waiting, Ordering::Relaxed);
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines waiting for replay.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Relaxed)
    }

    /// Appends `lines` and fsyncs. Blocking: call from a blocking thread.
    pub fn append(&self, lines: &[JournalLine]) -> Result<(), JournalError> {
        let mut buffer = Vec::with_capacity(lines.len() * 700);
        for line in lines {
            serde_json::to_writer(&mut buffer, line)?;
            buffer.push(b'\n');
        }
        let mut file = self
            .file
            .lock()
            .map_err(|_| io_error(&self.path, std::io::Error::other("journal lock poisoned")))?;
        let length = file.metadata().map_err(|e| io_error(&self.path, e))?.len();
        if let Err(error) = file.write_all(&buffer).and_then(|()| file.sync_data()) {
            // A partial write must not leave half a line for the next append to be glued to.
            let _ = file.set_len(length);
            let _ = file.sync_data();
            return Err(io_error(&self.path, error));
        }
        self.backlog
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Moves the current journal aside for replay (when it holds anything) and returns every file
    /// waiting for replay, oldest first. Blocking.
    pub fn take_for_replay(&self) -> Result<Vec<PathBuf>, JournalError> {
        {
            let mut file = self.file.lock().map_err(|_| {
                io_error(&self.path, std::io::Error::other("journal lock poisoned"))
            })?;
            let len = file.metadata().map_err(|e| io_error(&self.path, e))?.len();
            if len > 0 {
                let aside = PathBuf::from(format!(
                    "{}.replay-{}",
                    self.path.display(),
                    uuid::Uuid::now_v7().simple()
                ));
                std::fs::rename(&self.path, &aside).map_err(|e| io_error(&aside, e))?;
                *file = open_append(&self.path)?;
                sync_dir(&self.path);
            }
        }
        self.files_to_replay()
    }

    fn files_to_replay(&self) -> Result<Vec<PathBuf>, JournalError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let prefix = format!(
            "{}.replay-",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| io_error(&dir, e))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Reads a replay file. Blocking.
    pub fn read(&self, file: &Path) -> Result<ReadJournal, JournalError> {
        let text = std::fs::read(file).map_err(|e| io_error(file, e))?;
        let mut read = ReadJournal::default();
        let ends_with_newline = text.last() == Some(&b'\n');
        let raw_lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        let n_lines = raw_lines.len();
        for (idx, raw) in raw_lines.into_iter().enumerate() {
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalLine>(raw) {
                Ok(line) => read.lines.push(line),
                Err(_) if idx + 1 == n_lines && !ends_with_newline => {
                    tracing::warn!(file = %file.display(), "audit journal ends with a torn line (an interrupted write); skipped");
                    read.torn_last_line = true;
                }
                Err(error) => {
                    tracing::error!(file = %file.display(), line = idx + 1, %error, "unreadable audit journal line; it will be kept in the .rejected file");
                    read.unreadable.push(raw.to_vec());
                }
            }
        }
        Ok(read)
    }

    /// Appends lines that can never be stored (unreadable, or refused by Postgres) to
    /// `<path>.rejected`, fsync'd, for an operator to look at. Blocking.
    pub fn reject(&self, raw_lines: &[Vec<u8>]) -> Result<(), JournalError> {
        if raw_lines.is_empty() {
            return Ok(());
        }
        let target = PathBuf::from(format!("{}.rejected", self.path.display()));
        let mut out = open_append(&target)?;
        let mut buffer = Vec::new();
        for raw in raw_lines {
            buffer.extend_from_slice(raw);
            buffer.push(b'\n');
        }
        out.write_all(&buffer)
            .and_then(|()| out.sync_data())
            .map_err(|e| io_error(&target, e))
    }

    /// Removes a replay file whose rows are all committed (after keeping its unreadable lines).
    /// Blocking.
    pub fn finish_replay(&self, file: &Path, read: &ReadJournal) -> Result<(), JournalError> {
        self.reject(&read.unreadable)?;
        std::fs::remove_file(file).map_err(|e| io_error(file, e))?;
        sync_dir(file);
        let n_lines =
            read.lines.len() as u64 + u64::from(read.torn_last_line) + read.unreadable.len() as u64;
        let _ = self
            .backlog
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(n_lines))
            });
        Ok(())
    }
}

fn count_lines(path: &Path) -> u64 {
    File::open(path)
        .map(|file| {
            BufReader::new(file)
                .split(b'\n')
                .filter_map(Result::ok)
                .filter(|l| !l.is_empty())
                .count() as u64
        })
        .unwrap_or(0)
}
