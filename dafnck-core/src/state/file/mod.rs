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
use super::{
    envelope, ControlChannel, LockInfo, LockRequest, Message, Record, SnapshotEdits, State,
    StateError, StateHistory, StateLock, StateStore, Stored,
};

mod atomic;
mod controls;
mod format;
mod history;

use format::{scan_journal, scan_journal_stream, Scan, Seq};

const SNAPSHOT: &str = "snapshot.json";
const JOURNAL: &str = "journal.jsonl";
const LOCK: &str = "lock.json";
const CONTROLS: &str = "controls";
const HISTORY: &str = "history";
const MUTEX: &str = "lock.mutex";
const BACKEND: &str = "file";

/// State kept in files: for each stack, a directory `<root>/<stack>/` with
///
/// - `snapshot.json`: the last compacted [`State`], as a unit of the
///   [`envelope`] format (a header line with the format, a checksum and
///   the length, then JSON with one line per resource);
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
///   bad line anywhere else, and a snapshot or history version whose bytes
///   do not match its checksum, is [`StateError::Damaged`] naming the file
///   (and line).
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
    /// The serial of the snapshot this store last wrote, and how its file
    /// looked then.
    compacted: Option<(u64, Seen)>,
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
            lines.extend_from_slice(&envelope::encode_line(&json));
            lines.push(b'\n');
        }
        let stack = stack.to_owned();
        self.blocking(move |inner| inner.append(&stack, &lines))
            .await
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        check_stack(stack)?;
        // A clone shares the resources (`Arc`s); the snapshot is encoded
        // straight into its file, never whole in memory.
        let snapshot = snapshot.clone();
        let stack = stack.to_owned();
        self.blocking(move |inner| inner.compact(&stack, &snapshot))
            .await
    }

    fn locks(&self) -> Option<&dyn StateLock> {
        Some(self)
    }

    fn history(&self) -> Option<&dyn StateHistory> {
        Some(self)
    }

    fn channel(&self) -> Option<&dyn ControlChannel> {
        Some(self)
    }

    fn edits(&self) -> Option<&dyn SnapshotEdits> {
        Some(self)
    }
}

#[async_trait]
impl SnapshotEdits for FileStore {
    async fn read_edited(&self, stack: &str) -> Result<Option<State>, StateError> {
        check_stack(stack)?;
        let path = self.inner.root.join(stack).join(SNAPSHOT);
        self.blocking(move |_| {
            read_optional(&path)?
                .map(|bytes| envelope::decode_state_edited(&bytes, &path.display().to_string()))
                .transpose()
                .map(Option::flatten)
        })
        .await
    }

    async fn accept_edited(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        check_stack(stack)?;
        let bytes = envelope::encode_state(snapshot, true, BACKEND)?;
        let expected = snapshot.clone();
        let dir = self.inner.root.join(stack);
        let stack = stack.to_owned();
        self.blocking(move |inner| {
            let _guard = inner.stack_mutex(&dir)?;
            let path = dir.join(SNAPSHOT);
            let location = path.display().to_string();
            let current = read_optional(&path)?
                .map(|b| envelope::decode_state_unchecked(&b, &location))
                .transpose()?;
            if current.as_ref() != Some(&expected) {
                return Err(edited_under(&location));
            }
            inner.write_atomic(&path, &bytes, true)?;
            inner.add_written(&stack, bytes.len());
            Ok(())
        })
        .await
    }
}

/// The refusal of an accept whose snapshot changed since it was shown.
fn edited_under(location: &str) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message: format!(
            "{location} changed since it was shown; nothing was accepted (run the command again)"
        ),
    }
}

#[async_trait]
impl StateLock for FileStore {
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

#[async_trait]
impl ControlChannel for FileStore {
    async fn send(&self, stack: &str, message: &Message) -> Result<(), StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(CONTROLS);
        let message = message.clone();
        self.blocking(move |inner| controls::send(inner, &dir, &message))
            .await
    }

    async fn take(&self, stack: &str, topic: &str) -> Result<Vec<Message>, StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(CONTROLS);
        let topic = topic.to_owned();
        self.blocking(move |_| controls::take(&dir, &topic)).await
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
            Some((bytes, seen)) => match scan_journal::<Record>(bytes, &journal_path) {
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
            journal: scan.records,
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
            scan_journal::<Seq>(&bytes, &path)?.good_len as u64
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

    fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        let serial = snapshot.serial;
        let dir = self.root.join(stack);
        self.ensure_dir(&dir)?;
        let _guard = self.stack_mutex(&dir)?;
        // Check everything before writing anything: a snapshot or journal
        // that cannot be parsed is never overwritten.
        let snapshot_path = dir.join(SNAPSHOT);
        check_snapshot(&snapshot_path)?;
        let journal_path = dir.join(JOURNAL);
        // The records the new snapshot does not cover, and the old length:
        // the journal is scanned streaming, so only the kept records (none
        // at a run's end) are held, not the journal.
        let kept = match File::open(&journal_path) {
            Ok(file) => {
                let old_len = file
                    .metadata()
                    .map_err(io_err("stat", &journal_path))?
                    .len();
                let mut kept = Vec::new();
                // A torn final line is not kept (it was never acknowledged).
                scan_journal_stream::<Seq>(&file, &journal_path, |record, line| {
                    if record.seq > serial {
                        kept.extend_from_slice(line);
                    }
                })?;
                Some((old_len, kept))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("open", &journal_path)(e)),
        };

        let written = self.write_unit_atomic(&snapshot_path, envelope::Unit::State, |out| {
            envelope::write_state_body(snapshot, true, out, BACKEND)
        })?;
        self.add_written(stack, written);
        let seen = fs::metadata(&snapshot_path).map_err(io_err("stat", &snapshot_path))?;
        self.stats().entry(stack.to_owned()).or_default().compacted =
            Some((serial, Seen::of(&seen)));
        self.set_known(stack, None);
        if let Some((old_len, kept)) = &kept {
            if kept.len() as u64 != *old_len {
                self.write_atomic(&journal_path, kept, true)?;
                self.add_written(stack, kept.len());
            }
            // Either way the journal is now whole and valid.
            let meta = fs::metadata(&journal_path).map_err(io_err("stat", &journal_path))?;
            self.set_known(stack, Some(Seen::of(&meta)));
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
    envelope::decode_state(bytes, &path.display().to_string())
}

/// Refuses a snapshot that must not be overwritten: one whose checksum
/// fails or of a newer format, or (format 1, with no checksum) one that
/// does not parse. A checked body was written whole by a store, so it is
/// not parsed again, and it is checked streaming, not read into memory: a
/// compaction costs the new snapshot, not the old.
fn check_snapshot(path: &Path) -> Result<(), StateError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let location = path.display().to_string();
    if envelope::check_stream(envelope::Unit::State, file, &location)? == 1 {
        let bytes = fs::read(path).map_err(io_err("read", path))?;
        envelope::decode_state(&bytes, &location)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests;
