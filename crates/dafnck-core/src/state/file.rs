//! [`FileStore`]: a stack's state in a directory, as a JSON snapshot plus a
//! checksummed, append-only journal.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::model::now_millis;
use super::{LockInfo, LockRequest, Record, State, StateError, StateStore, Stored};

const SNAPSHOT: &str = "snapshot.json";
const JOURNAL: &str = "journal.jsonl";
const LOCK: &str = "lock.json";
const MUTEX: &str = "lock.mutex";
const BACKEND: &str = "file";

/// State kept in files: for each stack, a directory `<root>/<stack>/` with
///
/// - `snapshot.json`: the last compacted [`State`];
/// - `journal.jsonl`: the [`Record`]s appended since, one per line, each
///   line `<crc32 as 8 lowercase hex>\t<record JSON>\n`;
/// - `lock.json`: the stack's lock ([`LockInfo`] plus its lease), if held;
/// - `lock.mutex`: an empty file whose OS lock (`flock`) guards every
///   read-modify-write of the files above, held for milliseconds only.
///
/// # Guarantees
/// - `append` writes all its records with one `write` and one `fdatasync`
///   (group commit) and returns only after that, so appended records are
///   durable; the cost of an append is the size of its records, never the
///   size of the state (`bytes_written` shows it).
/// - `read` never changes a file. A final journal line that is incomplete
///   or fails its checksum is the torn write of a crash and is dropped; a
///   bad line anywhere else, or a snapshot that does not parse, is
///   [`StateError::Corrupt`] naming the file (and line).
/// - `append` removes a torn final line before writing (it was never
///   acknowledged, so nothing is lost), and refuses to append after any
///   other damage.
/// - `compact` replaces the snapshot atomically (temporary file, fsync,
///   rename, directory fsync), then rewrites the journal the same way
///   keeping only the records after the snapshot. A crash between the two
///   leaves the new snapshot with the old journal, whose covered records
///   [`State::replay`] skips. It refuses to overwrite a snapshot or journal
///   it cannot parse.
/// - The lock is a lease in `lock.json`, taken, renewed and released under
///   the `lock.mutex` OS lock, so two processes never both get it. A lease
///   that ran out, or one held on this host by a process that no longer
///   exists, may be taken over.
/// - Appends and compactions of a stack also run under the `lock.mutex` OS
///   lock, so they never interleave, even from several processes.
/// - Reads take no OS lock; they read the journal before the snapshot, so a
///   compaction running at the same time can only make the snapshot newer
///   than the journal, which replay handles.
/// - Stack names must be one plain directory name (not empty, no `/` or
///   `\`, no `..`, not `.`, no control characters); others are refused
///   with [`StateError::Backend`] before any file is touched.
///
/// File work runs on tokio's blocking pool: an append or compaction whose
/// future is dropped still finishes (or fails) there. Clones share their
/// counters and caches.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// This machine's host name as [`LockRequest::for_this_process`] gives it.
    host: String,
    stacks: Mutex<HashMap<String, StackStats>>,
    fsyncs: AtomicU64,
}

/// What a journal file looked like: its length and modification time. A
/// file with the same of both is taken to hold the same bytes; only an edit
/// that keeps the length within the file system's timestamp granularity
/// could fool this (a `read` that finds damage forgets what it saw, so the
/// next append re-scans). It costs one `fstat` per append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Seen {
    fn of(meta: &fs::Metadata) -> Seen {
        Seen {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

#[derive(Default)]
struct StackStats {
    /// The journal as this store last saw it whole and valid; an append
    /// re-validates the journal unless it still looks like this.
    known: Option<Seen>,
    /// Journal and snapshot bytes this store wrote.
    bytes_written: u64,
}

/// What `lock.json` holds: the lock and the lease it was taken with (so a
/// renewal extends it by the same amount).
#[derive(Serialize, Deserialize)]
struct LockFile {
    #[serde(flatten)]
    info: LockInfo,
    lease_ms: u64,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// A store under `root` (e.g. `.dafnck`); a stack's files live in
    /// `<root>/<stack>/`. Nothing is created until something is written.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileStore {
            inner: Arc::new(Inner {
                root: root.into(),
                host: LockRequest::for_this_process("", std::time::Duration::ZERO).host,
                stacks: Mutex::new(HashMap::new()),
                fsyncs: AtomicU64::new(0),
            }),
        }
    }

    /// The directory holding the stacks.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Journal and snapshot bytes this store (and its clones) wrote for
    /// `stack` since it was made: the measure of the O(N) write guarantee.
    pub fn bytes_written(&self, stack: &str) -> u64 {
        self.inner.stats().get(stack).map_or(0, |s| s.bytes_written)
    }

    /// How many `fsync`/`fdatasync` calls this store (and its clones) made.
    pub fn fsyncs(&self) -> u64 {
        self.inner.fsyncs.load(Ordering::Relaxed)
    }

    /// Runs blocking file work off the async threads (on tokio's blocking
    /// pool; inline when there is no tokio runtime).
    async fn blocking<T, F>(&self, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StateError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        if tokio::runtime::Handle::try_current().is_err() {
            return work(&inner);
        }
        match tokio::task::spawn_blocking(move || work(&inner)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StateError::Backend {
                backend: BACKEND.into(),
                message: format!("the file I/O task did not finish: {e}"),
            }),
        }
    }
}

#[async_trait]
impl StateStore for FileStore {
    fn describe(&self) -> String {
        format!("file {}", self.inner.root.display())
    }

    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        check_stack(stack)?;
        let stack = stack.to_owned();
        self.blocking(move |inner| inner.read(&stack)).await
    }

    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        check_stack(stack)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for record in records {
            let json = serde_json::to_vec(record).map_err(|e| StateError::Backend {
                backend: BACKEND.into(),
                message: format!("cannot serialize journal record {}: {e}", record.seq),
            })?;
            lines.extend_from_slice(format!("{:08x}\t", crc32(&json)).as_bytes());
            lines.extend_from_slice(&json);
            lines.push(b'\n');
        }
        let stack = stack.to_owned();
        self.blocking(move |inner| inner.append(&stack, &lines))
            .await
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        check_stack(stack)?;
        let mut json = serde_json::to_vec_pretty(snapshot).map_err(|e| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("cannot serialize the snapshot of stack {stack:?}: {e}"),
        })?;
        json.push(b'\n');
        let serial = snapshot.serial;
        let stack = stack.to_owned();
        self.blocking(move |inner| inner.compact(&stack, &json, serial))
            .await
    }

    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        check_stack(stack)?;
        let stack = stack.to_owned();
        let request = request.clone();
        self.blocking(move |inner| inner.lock(&stack, &request))
            .await
    }

    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        check_stack(stack)?;
        let stack = stack.to_owned();
        let id = lock.id.clone();
        self.blocking(move |inner| inner.renew(&stack, &id)).await
    }

    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        check_stack(stack)?;
        let stack = stack.to_owned();
        let id = lock_id.to_owned();
        self.blocking(move |inner| inner.unlock(&stack, &id)).await
    }

    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        check_stack(stack)?;
        let path = self.inner.root.join(stack).join(LOCK);
        self.blocking(move |_| Ok(read_lock(&path)?.map(|l| l.info)))
            .await
    }
}

impl Inner {
    fn stats(&self) -> MutexGuard<'_, HashMap<String, StackStats>> {
        // Every update under this lock is a plain assignment or addition.
        self.stacks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self, stack: &str) -> Option<Seen> {
        self.stats().get(stack).and_then(|s| s.known)
    }

    fn set_known(&self, stack: &str, seen: Option<Seen>) {
        self.stats().entry(stack.to_owned()).or_default().known = seen;
    }

    fn add_written(&self, stack: &str, bytes: usize) {
        self.stats()
            .entry(stack.to_owned())
            .or_default()
            .bytes_written += bytes as u64;
    }

    fn sync(&self, file: &File, path: &Path, data_only: bool) -> Result<(), StateError> {
        let result = if data_only {
            file.sync_data()
        } else {
            file.sync_all()
        };
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        result.map_err(io_err("fsync", path))
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), StateError> {
        let file = File::open(dir).map_err(io_err("open directory", dir))?;
        self.sync(&file, dir, false)
    }

    /// Creates `dir` and its missing parents, making each new entry durable.
    fn ensure_dir(&self, dir: &Path) -> Result<(), StateError> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut current = Some(dir);
        while let Some(d) = current {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d);
            current = d.parent();
        }
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        for d in missing.iter().rev() {
            self.sync_dir(parent_dir(d))?;
        }
        Ok(())
    }

    /// Takes the stack's OS lock; released when the guard drops.
    fn stack_mutex(&self, dir: &Path) -> Result<MutexFile, StateError> {
        let path = dir.join(MUTEX);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open", &path))?;
        // A blocking flock: held by a live process for one critical section
        // at most, and released by the kernel when its holder dies.
        file.lock().map_err(io_err("lock", &path))?;
        Ok(MutexFile(file))
    }

    fn read(&self, stack: &str) -> Result<Stored, StateError> {
        let dir = self.root.join(stack);
        // The journal first: a compaction that happens between the two
        // reads then gives a newer snapshot and an older journal, whose
        // extra records replay skips. The other order could lose records.
        let journal_path = dir.join(JOURNAL);
        let journal = read_journal(&journal_path)?;
        let snapshot_path = dir.join(SNAPSHOT);
        let snapshot = read_optional(&snapshot_path)?
            .map(|bytes| parse_snapshot(&bytes, &snapshot_path))
            .transpose()?;
        let scan = match &journal {
            Some((bytes, seen)) => match scan_journal(bytes, &journal_path) {
                Ok(scan) => {
                    // Remember the file only if it was whole and valid.
                    let clean = scan.good_len == bytes.len();
                    self.set_known(stack, seen.filter(|_| clean));
                    scan
                }
                Err(e) => {
                    self.set_known(stack, None);
                    return Err(e);
                }
            },
            None => Scan::default(),
        };
        Ok(Stored {
            snapshot,
            journal: scan.lines.into_iter().map(|l| l.record).collect(),
        })
    }

    fn append(&self, stack: &str, lines: &[u8]) -> Result<(), StateError> {
        let dir = self.root.join(stack);
        self.ensure_dir(&dir)?;
        let _guard = self.stack_mutex(&dir)?;
        let path = dir.join(JOURNAL);
        let existed = path.try_exists().map_err(io_err("stat", &path))?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let seen = Seen::of(&file.metadata().map_err(io_err("stat", &path))?);
        let len = seen.len;
        // Re-validate unless the journal is exactly as this store last saw
        // it: never append after a damaged line.
        let good = if self.known(stack) == Some(seen) {
            len
        } else {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes)
                .map_err(io_err("read", &path))?;
            scan_journal(&bytes, &path)?.good_len as u64
        };
        self.set_known(stack, None);
        if good < len {
            // A torn final line from a crashed append: it was never
            // acknowledged, so dropping it loses nothing. The fdatasync
            // below makes the new length durable with the new lines.
            file.set_len(good).map_err(io_err("truncate", &path))?;
        }
        let written = file
            .write_all(lines)
            .map_err(io_err("write", &path))
            .and_then(|()| self.sync(&file, &path, true));
        if let Err(e) = written {
            // Best effort: leave no partial batch behind. If this fails too,
            // the next read drops the torn line and the next append cuts it.
            let _ = file.set_len(good);
            return Err(e);
        }
        if !existed {
            self.sync_dir(&dir)?;
        }
        // Under the stack's OS lock no other writer can have appended since.
        let seen = Seen::of(&file.metadata().map_err(io_err("stat", &path))?);
        self.set_known(stack, Some(seen));
        self.add_written(stack, lines.len());
        Ok(())
    }

    fn compact(&self, stack: &str, snapshot: &[u8], serial: u64) -> Result<(), StateError> {
        let dir = self.root.join(stack);
        self.ensure_dir(&dir)?;
        let _guard = self.stack_mutex(&dir)?;
        // Check everything before writing anything: a snapshot or journal
        // that cannot be parsed is never overwritten.
        let snapshot_path = dir.join(SNAPSHOT);
        if let Some(bytes) = read_optional(&snapshot_path)? {
            parse_snapshot(&bytes, &snapshot_path)?;
        }
        let journal_path = dir.join(JOURNAL);
        let journal = read_optional(&journal_path)?;
        let kept = match &journal {
            Some(bytes) => {
                let scan = scan_journal(bytes, &journal_path)?;
                let mut kept = Vec::new();
                for line in scan.lines.iter().filter(|l| l.record.seq > serial) {
                    kept.extend_from_slice(&bytes[line.start..line.end]);
                }
                Some(kept)
            }
            None => None,
        };

        self.write_atomic(&snapshot_path, snapshot, true)?;
        self.add_written(stack, snapshot.len());
        self.set_known(stack, None);
        if let (Some(old), Some(kept)) = (&journal, &kept) {
            if kept.len() != old.len() {
                self.write_atomic(&journal_path, kept, true)?;
                self.add_written(stack, kept.len());
            }
            // Either way the journal is now whole and valid.
            let meta = fs::metadata(&journal_path).map_err(io_err("stat", &journal_path))?;
            self.set_known(stack, Some(Seen::of(&meta)));
        }
        Ok(())
    }

    /// Replaces `path` with `bytes`: a temporary file, fsynced, renamed over
    /// it; the directory is fsynced too when `durable_rename`.
    fn write_atomic(
        &self,
        path: &Path,
        bytes: &[u8],
        durable_rename: bool,
    ) -> Result<(), StateError> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(bytes).map_err(io_err("write", &tmp))?;
        self.sync(&file, &tmp, false)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        if durable_rename {
            self.sync_dir(parent_dir(path))?;
        }
        Ok(())
    }

    fn write_lock(&self, path: &Path, lock: &LockFile) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(lock).map_err(|e| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("cannot serialize the lock: {e}"),
        })?;
        // The file is fsynced before the rename so lock.json is never seen
        // empty; the rename itself need not survive a crash of this machine,
        // which also ends the processes holding its locks.
        self.write_atomic(path, &json, false)
    }

    /// Whether `holder` is a process of this host that no longer exists.
    fn holder_is_dead(&self, holder: &LockInfo) -> bool {
        // Only on a host with /proc. A pid that was reused by an unrelated
        // process reads as alive: the lock then waits for its lease, which is
        // safe. A process of another pid namespace reporting the same host
        // name would read as dead; dafnck runs are not expected to share a
        // state directory across containers with the same host name.
        holder.host == self.host
            && Path::new("/proc/self").exists()
            && !Path::new(&format!("/proc/{}", holder.pid)).exists()
    }

    fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        let dir = self.root.join(stack);
        self.ensure_dir(&dir)?;
        let _guard = self.stack_mutex(&dir)?;
        let path = dir.join(LOCK);
        if let Some(held) = read_lock(&path)? {
            if !held.info.is_expired() && !self.holder_is_dead(&held.info) {
                return Err(StateError::Locked {
                    stack: stack.to_owned(),
                    holder: Box::new(held.info),
                });
            }
        }
        let info = LockInfo::grant(request);
        let lease_ms = u64::try_from(request.lease.as_millis()).unwrap_or(u64::MAX);
        self.write_lock(
            &path,
            &LockFile {
                info: info.clone(),
                lease_ms,
            },
        )?;
        Ok(info)
    }

    fn renew(&self, stack: &str, id: &str) -> Result<LockInfo, StateError> {
        let lost = || StateError::LockLost {
            stack: stack.to_owned(),
            id: id.to_owned(),
        };
        let dir = self.root.join(stack);
        if !dir.is_dir() {
            return Err(lost());
        }
        let _guard = self.stack_mutex(&dir)?;
        let path = dir.join(LOCK);
        match read_lock(&path)? {
            Some(mut held) if held.info.id == id => {
                held.info.expires_at = now_millis().saturating_add(held.lease_ms);
                self.write_lock(&path, &held)?;
                Ok(held.info)
            }
            _ => Err(lost()),
        }
    }

    fn unlock(&self, stack: &str, id: &str) -> Result<(), StateError> {
        let lost = || StateError::LockLost {
            stack: stack.to_owned(),
            id: id.to_owned(),
        };
        let dir = self.root.join(stack);
        if !dir.is_dir() {
            return Err(lost());
        }
        let _guard = self.stack_mutex(&dir)?;
        let path = dir.join(LOCK);
        match read_lock(&path)? {
            Some(held) if held.info.id == id => {
                fs::remove_file(&path).map_err(io_err("remove", &path))
            }
            _ => Err(lost()),
        }
    }
}

/// The OS lock on `lock.mutex`; closing the file releases it.
struct MutexFile(File);

impl Drop for MutexFile {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Refuses stack names that are not a single plain path component.
fn check_stack(stack: &str) -> Result<(), StateError> {
    let why = if stack.is_empty() {
        "it is empty"
    } else if stack.contains('/') || stack.contains('\\') {
        "it contains a path separator"
    } else if stack.contains("..") || stack == "." {
        "it contains `..` or is `.`"
    } else if stack.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(StateError::Backend {
        backend: BACKEND.into(),
        message: format!("invalid stack name {stack:?}: {why}; a stack name is one directory name"),
    })
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A journal's bytes, and what the file looked like if it did not change
/// while being read.
type JournalBytes = (Vec<u8>, Option<Seen>);

/// The journal's bytes and what the file looked like, or `None` when it
/// does not exist.
fn read_journal(path: &Path) -> Result<Option<JournalBytes>, StateError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let before = Seen::of(&file.metadata().map_err(io_err("stat", path))?);
    let mut bytes = Vec::with_capacity(before.len as usize);
    file.read_to_end(&mut bytes).map_err(io_err("read", path))?;
    let after = Seen::of(&file.metadata().map_err(io_err("stat", path))?);
    let stable = before == after && after.len == bytes.len() as u64;
    Ok(Some((bytes, stable.then_some(after))))
}

/// The file's bytes, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn parse_snapshot(bytes: &[u8], path: &Path) -> Result<State, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        location: if e.line() > 0 {
            format!("{}:{}:{}", path.display(), e.line(), e.column())
        } else {
            path.display().to_string()
        },
        message: format!("the snapshot does not parse: {e}"),
    })
}

fn read_lock(path: &Path) -> Result<Option<LockFile>, StateError> {
    read_optional(path)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                location: path.display().to_string(),
                message: format!("the lock file does not parse ({e}); remove it by hand if no run holds the lock"),
            })
        })
        .transpose()
}

/// A valid journal line: its record and its bytes (with the `\n`).
struct Line {
    record: Record,
    start: usize,
    end: usize,
}

/// A journal's valid lines, and where they end (anything after is a torn
/// final line).
#[derive(Default)]
struct Scan {
    lines: Vec<Line>,
    good_len: usize,
}

/// Parses a journal. A final line that is incomplete or bad is a torn
/// write and ends the scan; a bad line followed by more is corruption.
fn scan_journal(bytes: &[u8], path: &Path) -> Result<Scan, StateError> {
    let mut scan = Scan::default();
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let Some(newline) = bytes[start..].iter().position(|&b| b == b'\n') else {
            break; // no newline: an append that did not finish
        };
        let end = start + newline + 1;
        match parse_line(&bytes[start..end - 1]) {
            Ok(record) => scan.lines.push(Line { record, start, end }),
            Err(_) if end == bytes.len() => break, // torn final line
            Err(message) => {
                return Err(StateError::Corrupt {
                    location: format!("{}:{line_no}", path.display()),
                    message,
                })
            }
        }
        start = end;
        scan.good_len = end;
    }
    Ok(scan)
}

fn parse_line(line: &[u8]) -> Result<Record, String> {
    let (Some(hex), Some(b'\t'), Some(json)) = (line.get(..8), line.get(8), line.get(9..)) else {
        return Err("the line is not `<crc32>\\t<record>`".into());
    };
    let stated = std::str::from_utf8(hex)
        .ok()
        .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("the line does not start with a checksum (8 lowercase hex digits)")?;
    let actual = crc32(json);
    if stated != actual {
        return Err(format!(
            "checksum mismatch: the line says {stated:08x}, its record hashes to {actual:08x}"
        ));
    }
    serde_json::from_slice(json).map_err(|e| format!("the record does not parse: {e}"))
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::state::{Entry, ResourceState};
    use crate::value::Value;

    fn put(seq: u64, name: &str) -> Record {
        Record {
            seq,
            at: 1_700_000_000_000 + seq,
            entry: Entry::Put {
                resource: ResourceState {
                    name: name.into(),
                    type_name: "fake:t:T".into(),
                    id: format!("{name}-id"),
                    inputs: Value::Map(BTreeMap::from([(
                        "size".to_owned(),
                        Value::Int(seq as i64),
                    )])),
                    outputs: Value::Null,
                    dependencies: vec![],
                    protect: false,
                    retain_on_delete: false,
                    location: None,
                },
            },
        }
    }

    fn journal_of(dir: &Path, stack: &str) -> PathBuf {
        dir.join(stack).join(JOURNAL)
    }

    fn append_raw(path: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn stack_names_are_checked() {
        for bad in ["", "a/b", "..", "a..b", ".", "a\nb", "a\0b", "a\\b"] {
            let err = check_stack(bad).unwrap_err().to_string();
            assert!(err.contains("invalid stack name"), "{bad:?}: {err}");
        }
        for good in ["dev", "prod-eu.1", ".hidden", "my_stack"] {
            check_stack(good).unwrap();
        }
    }

    #[tokio::test]
    async fn invalid_stack_names_touch_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path().join("state"));
        let err = store.append("../escape", &[put(1, "a")]).await.unwrap_err();
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        assert!(store.read("a/b").await.is_err());
        assert!(!tmp.path().join("state").exists());
        assert!(!tmp.path().join("escape").exists());
    }

    #[tokio::test]
    async fn layout_and_line_format() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path().join(".dafnck"));
        store
            .append("dev", &[put(1, "a"), put(2, "b")])
            .await
            .unwrap();
        let text = fs::read_to_string(journal_of(store.root(), "dev")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for (line, seq) in lines.iter().zip(1..) {
            let (crc, json) = line.split_once('\t').unwrap();
            assert_eq!(crc, format!("{:08x}", crc32(json.as_bytes())));
            let record: Record = serde_json::from_str(json).unwrap();
            assert_eq!(record.seq, seq);
        }
        assert!(text.ends_with('\n'));
        let mut snap = State::empty("dev");
        snap.serial = 1;
        store.compact("dev", &snap).await.unwrap();
        let on_disk: State =
            serde_json::from_slice(&fs::read(store.root().join("dev").join(SNAPSHOT)).unwrap())
                .unwrap();
        assert_eq!(on_disk, snap);
        assert!(!store.root().join("dev").join("snapshot.json.tmp").exists());
        let stored = store.read("dev").await.unwrap();
        assert_eq!(stored.journal, vec![put(2, "b")]);
    }

    #[tokio::test]
    async fn torn_tail_is_dropped_on_read_and_cut_on_append() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        store
            .append("dev", &[put(1, "a"), put(2, "b")])
            .await
            .unwrap();
        let path = journal_of(tmp.path(), "dev");
        let good = fs::read(&path).unwrap();

        // A crash mid-write: a partial line without its newline.
        append_raw(&path, b"1234abcd\t{\"seq\":3,\"at\":");
        let torn = fs::read(&path).unwrap();
        assert_eq!(
            store.read("dev").await.unwrap().journal,
            vec![put(1, "a"), put(2, "b")]
        );
        // A fresh store (no cached length) reads the same.
        let fresh = FileStore::new(tmp.path());
        assert_eq!(fresh.read("dev").await.unwrap().journal.len(), 2);
        assert_eq!(
            fs::read(&path).unwrap(),
            torn,
            "read must not modify the journal"
        );

        store.append("dev", &[put(3, "c")]).await.unwrap();
        let after = fs::read(&path).unwrap();
        assert!(after.starts_with(&good));
        assert_eq!(after.iter().filter(|&&b| b == b'\n').count(), 3);
        assert_eq!(
            store.read("dev").await.unwrap().journal,
            vec![put(1, "a"), put(2, "b"), put(3, "c")]
        );

        // A complete final line whose checksum fails is torn too; the fresh
        // store has not seen the file's current length and re-scans it.
        let mut bad = format!("{:08x}\t", 0u32).into_bytes();
        bad.extend_from_slice(&serde_json::to_vec(&put(4, "d")).unwrap());
        bad.push(b'\n');
        append_raw(&path, &bad);
        assert_eq!(fresh.read("dev").await.unwrap().journal.len(), 3);
        fresh.append("dev", &[put(4, "d")]).await.unwrap();
        let journal = store.read("dev").await.unwrap().journal;
        assert_eq!(
            journal.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(journal[3], put(4, "d"));
    }

    #[tokio::test]
    async fn damage_before_the_last_line_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        store
            .append("dev", &[put(1, "a"), put(2, "b"), put(3, "c")])
            .await
            .unwrap();
        let path = journal_of(tmp.path(), "dev");
        let mut bytes = fs::read(&path).unwrap();
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        // Flip a letter inside the second record's JSON.
        let at = second + 9 + bytes[second + 9..].iter().position(|&b| b == b'a').unwrap();
        bytes[at] = b'b';
        fs::write(&path, &bytes).unwrap();

        let err = store.read("dev").await.unwrap_err();
        match &err {
            StateError::Corrupt { location, message } => {
                assert!(location.ends_with("journal.jsonl:2"), "{location}");
                assert!(message.contains("checksum"), "{message}");
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        // Appending after the damage is refused, whatever this store saw.
        let err = store.append("dev", &[put(4, "d")]).await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        let err = FileStore::new(tmp.path())
            .append("dev", &[put(4, "d")])
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        let mut snap = State::empty("dev");
        snap.serial = 1;
        assert!(matches!(
            store.compact("dev", &snap).await,
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert!(!tmp.path().join("dev").join(SNAPSHOT).exists());
    }

    #[tokio::test]
    async fn an_unparsable_snapshot_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        store.append("dev", &[put(1, "a")]).await.unwrap();
        let snapshot = tmp.path().join("dev").join(SNAPSHOT);
        let garbage = b"{\n  \"stack\": \"dev\",\n  \"serial\": oops\n}\n".to_vec();
        fs::write(&snapshot, &garbage).unwrap();
        let journal = fs::read(journal_of(tmp.path(), "dev")).unwrap();

        match store.read("dev").await.unwrap_err() {
            StateError::Corrupt { location, .. } => {
                assert!(location.contains("snapshot.json:3:"), "{location}")
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        let mut snap = State::empty("dev");
        snap.serial = 1;
        let err = store.compact("dev", &snap).await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("snapshot.json"), "{err}");
        assert_eq!(fs::read(&snapshot).unwrap(), garbage);
        assert_eq!(fs::read(journal_of(tmp.path(), "dev")).unwrap(), journal);
        assert!(!tmp.path().join("dev").join("snapshot.json.tmp").exists());
    }

    #[tokio::test]
    async fn a_crash_between_snapshot_and_journal_rewrite_reads_fine() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        let records: Vec<Record> = (1..=4).map(|i| put(i, &format!("r{i}"))).collect();
        store.append("dev", &records).await.unwrap();
        let before = crate::state::load(&store, "dev").await.unwrap();
        // What a crash after the snapshot's rename leaves: a new snapshot and
        // the old journal.
        let snap = State::replay(
            "dev",
            Stored {
                snapshot: None,
                journal: records[..2].to_vec(),
            },
            "test",
        )
        .unwrap();
        fs::write(
            tmp.path().join("dev").join(SNAPSHOT),
            serde_json::to_vec(&snap).unwrap(),
        )
        .unwrap();
        assert_eq!(crate::state::load(&store, "dev").await.unwrap(), before);
        // Compacting again finishes the job.
        store.compact("dev", &snap).await.unwrap();
        assert_eq!(
            store.read("dev").await.unwrap().journal,
            records[2..].to_vec()
        );
        assert_eq!(crate::state::load(&store, "dev").await.unwrap(), before);
    }

    #[tokio::test]
    async fn a_lock_of_a_dead_process_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();

        let mut dead = LockRequest::for_this_process("up", Duration::from_secs(3600));
        dead.pid = dead_pid;
        let stale = store.lock("dev", &dead).await.unwrap();
        let me = LockRequest::for_this_process("destroy", Duration::from_secs(60));
        let taken = store.lock("dev", &me).await.unwrap();
        assert_ne!(taken.id, stale.id);
        assert_eq!(store.lock_info("dev").await.unwrap(), Some(taken.clone()));
        assert!(matches!(
            store.renew("dev", &stale).await,
            Err(StateError::LockLost { .. })
        ));

        // A live holder keeps it.
        match store.lock("dev", &dead).await {
            Err(StateError::Locked { holder, .. }) => assert_eq!(*holder, taken),
            other => panic!("expected Locked, got {other:?}"),
        }
        // A dead pid on another host says nothing: wait for the lease.
        store.unlock("dev", &taken.id).await.unwrap();
        let mut elsewhere = dead.clone();
        elsewhere.host = format!("not-{}", dead.host);
        let remote = store.lock("dev", &elsewhere).await.unwrap();
        match store.lock("dev", &me).await {
            Err(StateError::Locked { holder, .. }) => assert_eq!(*holder, remote),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn renew_keeps_the_original_lease() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path());
        let req = LockRequest::for_this_process("up", Duration::from_secs(30));
        let lock = store.lock("dev", &req).await.unwrap();
        let before = now_millis();
        let renewed = store.renew("dev", &lock).await.unwrap();
        assert_eq!(renewed.id, lock.id);
        assert!(renewed.expires_at >= before + 30_000);
        assert!(renewed.expires_at <= now_millis() + 30_000);
        // Renew and unlock of a stack never written lose nothing and create nothing.
        assert!(matches!(
            store.renew("nope", &lock).await,
            Err(StateError::LockLost { .. })
        ));
        assert!(matches!(
            store.unlock("nope", &lock.id).await,
            Err(StateError::LockLost { .. })
        ));
        assert!(!tmp.path().join("nope").exists());
    }

    #[tokio::test]
    async fn appends_cost_their_own_size_and_one_fsync() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::new(tmp.path().join(".dafnck"));
        let n = 300u64;
        store.append("dev", &[put(1, "r")]).await.unwrap();
        let first = store.bytes_written("dev");
        let fsyncs = store.fsyncs();
        for seq in 2..=n {
            store.append("dev", &[put(seq, "r")]).await.unwrap();
        }
        let total = store.bytes_written("dev");
        // Each line is the same size give or take the digits of seq: the
        // total is linear in N, nowhere near N^2/2 lines.
        assert!(
            total <= n * (first + 8),
            "{total} bytes for {n} records of ~{first}"
        );
        assert!(
            total >= n * first,
            "{total} bytes for {n} records of ~{first}"
        );
        assert_eq!(
            total,
            fs::metadata(journal_of(store.root(), "dev")).unwrap().len()
        );
        assert_eq!(store.fsyncs() - fsyncs, n - 1, "one fsync per append");

        // A batch is one fsync too.
        let fsyncs = store.fsyncs();
        let batch: Vec<Record> = (n + 1..=n + 50).map(|s| put(s, "r")).collect();
        store.append("dev", &batch).await.unwrap();
        assert_eq!(store.fsyncs() - fsyncs, 1);
        assert_eq!(
            store.read("dev").await.unwrap().journal.len() as u64,
            n + 50
        );
    }
}
