//! [`PostgresStore`]: stacks' states in a PostgreSQL database, for a team
//! that shares them; [`backend`] registers `postgres://` URLs with a
//! program's command line.
//!
//! ```no_run
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! # async fn example() -> std::process::ExitCode {
//! // main.rs: then `--state postgres://ci@db.internal/infra` (or
//! // DAFNCK_STATE) keeps the stack's state in that database.
//! dafnck_core::cli::run(infra)
//!     .state_backend(dafnck_stores::postgres::backend())
//!     .await
//! # }
//! ```
//!
//! # The URL
//! libpq's connection URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
//! with its parameters (`connect_timeout`, `application_name`, ...), plus
//! `schema=NAME` (default `dafnck`): the PostgreSQL schema holding the
//! tables, so several teams or projects can share a database. Many stacks
//! share one schema; each is a key in its tables. A password is never
//! printed. tokio-postgres reads neither `.pgpass` nor `PGPASSWORD`, so a
//! password goes in the URL: keep the URL in a CI secret (`DAFNCK_STATE`).
//!
//! # Caveats
//! - **No TLS yet**: the connection is plain TCP (or a Unix socket), so use
//!   it on a trusted network, a VPN or an SSH tunnel; a URL with
//!   `sslmode=require` fails to connect rather than going unencrypted.
//! - Lease times are the database server's clock (`clock_timestamp()`), so
//!   machines whose clocks disagree still agree on when a lease ends.
//!
//! # Guarantees
//! - The tables are created on first use, in one transaction under an
//!   advisory lock (so concurrent first uses do not collide), and their
//!   version is kept in `schema_version`; tables of a newer version than
//!   this code knows are refused with a clear error, never written. Only
//!   the first use needs the right to create a schema; after it, a user
//!   with `USAGE` on the schema and `SELECT, INSERT, UPDATE, DELETE` on
//!   its tables is enough.
//! - `append` inserts a batch in one statement (one round trip, one
//!   commit); a record whose number is already there is refused, so two
//!   writers can never interleave journals.
//! - `read` returns the snapshot and the journal from one statement, so
//!   they are from one moment of the database.
//! - `compact` runs in one transaction: it locks the snapshot row, parses
//!   the old snapshot and the records it drops, and refuses
//!   ([`StateError::Corrupt`] naming the table and row) if they do not
//!   parse, so damaged state is never overwritten; then it replaces the
//!   snapshot and deletes the covered records.
//! - The lock is a row (owner, host, pid, operation, start, lease expiry),
//!   taken with one `INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at
//!   <= now`: PostgreSQL serializes concurrent attempts on the row, so of
//!   any number of runs exactly one gets a free or expired lock, and the
//!   others fail at once with [`StateError::Locked`] naming the holder.
//!   Renewal and release are conditional on the lock's id.
//! - Connecting gives up after `connect_timeout` (default 10 s) with an
//!   error naming `host:port`. A call whose connection is lost under it (a
//!   network blip, a server restart) is run once more on a new connection;
//!   an append, lock or unlock whose first try committed before the
//!   connection went recognizes its own rows, so nothing is written twice
//!   and no run is refused by its own lock.

mod schema;
mod url;

pub use schema::SCHEMA_VERSION;
pub use url::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_SCHEMA};

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::state::envelope::{self, Unit};
use dafnck_core::state::{
    ControlChannel, LockInfo, LockRequest, Message, Record, SnapshotEdits, State, StateError,
    StateHistory, StateLock, StateStore, StoreBackend, Stored, VersionInfo,
};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use url::StoreUrl;

const BACKEND: &str = "postgres";

/// The milliseconds since the Unix epoch on the database's clock.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Runs a block on the connection (`client`, a `&mut Client`). When the
/// connection is lost under it (a network blip, a server restart), the
/// connection is reopened and the block runs once more with `retried` set:
/// every block here is safe to repeat, and those whose first try may have
/// committed (append, lock, unlock) check for their own effect. The block's
/// `?` takes database errors and `StateError`s (as `Failure`).
macro_rules! retrying {
    ($store:ident, $what:expr, |$client:ident, $retried:tt| $body:block) => {{
        let mut again = false;
        loop {
            let mut guard = $store.client().await?;
            let result: Result<_, Failure> = async {
                let $client: &mut Client = &mut guard;
                let $retried = again;
                $body
            }
            .await;
            match result {
                Ok(v) => break Ok(v),
                Err(Failure::State(e)) => break Err(e),
                Err(Failure::Db(e)) if !again && connection_lost(&e) => {
                    tracing::warn!(store = %$store.inner.describe, error = %e, "the PostgreSQL connection was lost; reconnecting");
                    drop(guard);
                    // Whatever state the old connection is in, it is not
                    // used again.
                    *$store.inner.client.lock().await = None;
                    again = true;
                }
                Err(Failure::Db(e)) => break Err(db_error(&$store.inner.describe, $what, &e)),
            }
        }
    }};
}

// After `retrying!`, which it uses.
mod lock;

/// The backend of `postgres://` (and `postgresql://`) URLs, to register
/// with `dafnck_core::cli::run(..).state_backend(..)`.
pub fn backend() -> PostgresBackend {
    PostgresBackend
}

/// Opens [`PostgresStore`]s for `postgres://` URLs; see [`backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PostgresBackend;

#[async_trait]
impl StoreBackend for PostgresBackend {
    fn scheme(&self) -> &str {
        BACKEND
    }

    async fn open(&self, url: &str) -> Result<Arc<dyn StateStore>, StateError> {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    }
}

/// Stacks' states in PostgreSQL; see the [module](self) for the URL and
/// the guarantees.
///
/// One connection, shared by clones; calls take turns on it (a run makes
/// few, small calls: appends, a renewal every third of the lease, one
/// compaction).
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: StoreUrl,
    describe: String,
    sql: Sql,
    client: Mutex<Option<Client>>,
}

/// The statements, with the schema filled in.
struct Sql {
    read: String,
    append: String,
    old_snapshot: String,
    covered: String,
    records: String,
    put_snapshot: String,
    drop_covered: String,
    lock: String,
    renew: String,
    unlock: String,
    lock_info: String,
    send_control: String,
    take_controls: String,
    save_version: String,
    versions: String,
    read_version: String,
    drop_versions: String,
    read_snapshot: String,
    reseal_snapshot: String,
}

impl Sql {
    fn new(schema: &str) -> Sql {
        let s = format!("\"{schema}\"");
        let lock_columns = "id, owner, host, pid, operation, acquired_at, expires_at";
        Sql {
            read: format!(
                "SELECT 0 AS part, serial AS seq, state AS body FROM {s}.snapshots WHERE stack = $1
                 UNION ALL
                 SELECT 1, seq, record FROM {s}.journal WHERE stack = $1
                 ORDER BY part, seq"
            ),
            append: format!(
                "INSERT INTO {s}.journal (stack, seq, record)
                 SELECT $1, seq, record FROM unnest($2::bigint[], $3::text[]) AS r(seq, record)"
            ),
            old_snapshot: format!(
                "SELECT serial, state FROM {s}.snapshots WHERE stack = $1 FOR UPDATE"
            ),
            covered: format!(
                "SELECT seq, record FROM {s}.journal WHERE stack = $1 AND seq <= $2 ORDER BY seq FOR UPDATE"
            ),
            records: format!(
                "SELECT seq, record FROM {s}.journal WHERE stack = $1 AND seq = ANY($2) ORDER BY seq"
            ),
            put_snapshot: format!(
                "INSERT INTO {s}.snapshots (stack, serial, state) VALUES ($1, $2, $3)
                 ON CONFLICT (stack) DO UPDATE
                 SET serial = EXCLUDED.serial, state = EXCLUDED.state, updated_at = now()"
            ),
            drop_covered: format!("DELETE FROM {s}.journal WHERE stack = $1 AND seq <= $2"),
            lock: format!(
                "INSERT INTO {s}.locks AS l
                     (stack, id, owner, host, pid, operation, acquired_at, expires_at, lease_ms)
                 SELECT $1, $2, $3, $4, $5, $6, now.ms, now.ms + $7, $7
                 FROM (SELECT {NOW_MS} AS ms) AS now
                 ON CONFLICT (stack) DO UPDATE
                 SET id = EXCLUDED.id, owner = EXCLUDED.owner, host = EXCLUDED.host,
                     pid = EXCLUDED.pid, operation = EXCLUDED.operation,
                     acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at,
                     lease_ms = EXCLUDED.lease_ms
                 WHERE l.expires_at <= EXCLUDED.acquired_at
                 RETURNING {lock_columns}"
            ),
            renew: format!(
                "UPDATE {s}.locks SET expires_at = {NOW_MS} + lease_ms
                 WHERE stack = $1 AND id = $2
                 RETURNING {lock_columns}"
            ),
            unlock: format!("DELETE FROM {s}.locks WHERE stack = $1 AND id = $2"),
            lock_info: format!("SELECT {lock_columns} FROM {s}.locks WHERE stack = $1"),
            save_version: format!(
                "INSERT INTO {s}.versions (stack, version, info, state) VALUES ($1, $2, $3, $4)"
            ),
            versions: format!(
                "SELECT version, info FROM {s}.versions WHERE stack = $1 ORDER BY version"
            ),
            read_version: format!(
                "SELECT state FROM {s}.versions WHERE stack = $1 AND version = $2"
            ),
            drop_versions: format!(
                "DELETE FROM {s}.versions WHERE stack = $1 AND version = ANY($2)
                 AND version < (SELECT max(version) FROM {s}.versions WHERE stack = $1)"
            ),
            read_snapshot: format!("SELECT state FROM {s}.snapshots WHERE stack = $1"),
            reseal_snapshot: format!(
                "UPDATE {s}.snapshots SET state = $2, updated_at = now() WHERE stack = $1"
            ),
            send_control: format!(
                "INSERT INTO {s}.controls (stack, resource, message) VALUES ($1, $2, $3)"
            ),
            take_controls: format!(
                "DELETE FROM {s}.controls WHERE stack = $1 AND resource = $2 RETURNING id, message"
            ),
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("store", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database `url` names and creates or checks the
    /// tables (see the [module](self) for the URL).
    ///
    /// # Errors
    /// [`StateError::Backend`] for a bad URL, a database that cannot be
    /// reached within the connect timeout (naming `host:port`), a refused
    /// login, or tables of a newer schema version.
    pub async fn connect(url: &str) -> Result<PostgresStore, StateError> {
        let url = StoreUrl::parse(url)?;
        let describe = url.describe();
        let store = PostgresStore {
            inner: Arc::new(Inner {
                sql: Sql::new(&url.schema),
                url,
                describe,
                client: Mutex::new(None),
            }),
        };
        let mut client = store.open_connection().await?;
        schema::ensure(&mut client, &store.inner.url.schema, &store.inner.describe).await?;
        *store.inner.client.lock().await = Some(client);
        Ok(store)
    }

    /// The PostgreSQL schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.inner.url.schema
    }

    async fn open_connection(&self) -> Result<Client, StateError> {
        let url = &self.inner.url;
        let unreachable = |why: String| {
            StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "cannot connect to PostgreSQL at {} (database {:?}): {why}; is the server running and reachable from here?",
                url.endpoints,
                url.config.get_dbname().or(url.config.get_user()).unwrap_or("postgres"),
            ),
        }
        };
        // The URL's connect_timeout bounds the TCP connect only; this bounds
        // the whole handshake, so a server that accepts and then says
        // nothing cannot hang the run either.
        let connecting = url.config.connect(NoTls);
        let (client, connection) = match tokio::time::timeout(url.connect_timeout, connecting).await
        {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(unreachable(error_text(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {:?} (connect_timeout)",
                    url.connect_timeout
                )))
            }
        };
        let describe = self.inner.describe.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(store = %describe, error = %e, "the PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// The connection, reopened if it was dropped; calls take turns on it.
    async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, StateError> {
        let mut guard = self.inner.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.open_connection().await?);
        }
        MutexGuard::try_map(guard, Option::as_mut).map_err(|_| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("{}: no connection", self.inner.describe),
        })
    }

    /// A row, for messages: `<store>, table <schema>.<table>, row <row>`.
    fn location(&self, table: &str, row: &str) -> String {
        format!(
            "{}, table {}.{table}, row {row}",
            self.inner.describe, self.inner.url.schema
        )
    }

    fn corrupt(&self, table: &str, row: String, message: String) -> StateError {
        StateError::Corrupt {
            location: self.location(table, &row),
            message,
        }
    }

    fn parse_snapshot(&self, stack: &str, serial: i64, body: &str) -> Result<State, StateError> {
        let row = || format!("stack = {stack:?}");
        let state = envelope::decode_state(body.as_bytes(), &self.location("snapshots", &row()))?;
        if i64::try_from(state.serial).ok() != Some(serial) {
            return Err(self.corrupt(
                "snapshots",
                row(),
                format!(
                    "the row's serial is {serial} but its snapshot's is {}",
                    state.serial
                ),
            ));
        }
        Ok(state)
    }

    fn parse_record(&self, stack: &str, seq: i64, body: &str) -> Result<Record, StateError> {
        let row = || format!("(stack = {stack:?}, seq = {seq})");
        let json =
            envelope::decode_line(body.as_bytes()).map_err(|message| StateError::Damaged {
                location: self.location("journal", &row()),
                message,
            })?;
        let record: Record = serde_json::from_slice(json).map_err(|e| {
            self.corrupt("journal", row(), format!("the record does not parse: {e}"))
        })?;
        if i64::try_from(record.seq).ok() != Some(seq) {
            return Err(self.corrupt(
                "journal",
                row(),
                format!("the row's seq is {seq} but its record's is {}", record.seq),
            ));
        }
        Ok(record)
    }
}

#[async_trait]
impl StateStore for PostgresStore {
    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        let sql = &self.inner.sql.read;
        let rows = retrying!(self, "read the state", |client, _| {
            Ok(client.query(sql, &[&stack]).await?)
        })?;
        let mut stored = Stored::default();
        for row in rows {
            let part: i32 = row.get(0);
            let seq: i64 = row.get(1);
            let body: &str = row.get(2);
            if part == 0 {
                stored.snapshot = Some(self.parse_snapshot(stack, seq, body)?);
            } else {
                stored.journal.push(self.parse_record(stack, seq, body)?);
            }
        }
        Ok(stored)
    }

    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(records.len());
        let mut bodies = Vec::with_capacity(records.len());
        for record in records {
            let seq = i64::try_from(record.seq).map_err(|_| StateError::Backend {
                backend: BACKEND.into(),
                message: format!("journal record number {} is too large", record.seq),
            })?;
            let json = serde_json::to_vec(record).map_err(|e| StateError::Backend {
                backend: BACKEND.into(),
                message: format!("cannot serialize journal record {}: {e}", record.seq),
            })?;
            seqs.push(seq);
            bodies.push(text(envelope::encode_line(&json)));
        }
        let (seqs, bodies) = (&seqs, &bodies);
        let sql = &self.inner.sql;
        let duplicate = |mine: bool| StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: stack {stack:?} already has {} journal record numbered {}..={}; \
                 another run wrote this stack (nothing was appended)",
                self.inner.describe,
                if mine { "a different" } else { "a" },
                seqs[0],
                seqs[seqs.len() - 1]
            ),
        };
        retrying!(self, "append to the journal", |client, retried| {
            match client.execute(&sql.append, &[&stack, seqs, bodies]).await {
                Ok(_) => Ok(()),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    if !retried {
                        return Err(Failure::State(duplicate(false)));
                    }
                    // The first try may have committed before the
                    // connection was lost: then the rows are ours.
                    let rows = client.query(&sql.records, &[&stack, seqs]).await?;
                    let ours = rows.len() == seqs.len()
                        && rows
                            .iter()
                            .zip(bodies.iter())
                            .all(|(row, body)| row.get::<_, &str>(1) == body.as_str());
                    if ours {
                        Ok(())
                    } else {
                        Err(Failure::State(duplicate(true)))
                    }
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        let body = text(envelope::encode_state(snapshot, false, BACKEND)?);
        let serial = i64::try_from(snapshot.serial).map_err(|_| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("snapshot serial {} is too large", snapshot.serial),
        })?;
        let (sql, body, serial) = (&self.inner.sql, &body, &serial);
        // Replacing the snapshot and dropping the records it covers again
        // gives the same rows, so a retry after a lost connection is safe.
        retrying!(self, "compact the journal", |client, _| {
            let tx = client.transaction().await?;
            // Check before writing: what cannot be parsed is never
            // overwritten or deleted. Dropping `tx` rolls it back.
            if let Some(old) = tx.query_opt(&sql.old_snapshot, &[&stack]).await? {
                self.parse_snapshot(stack, old.get(0), old.get(1))?;
            }
            for row in tx.query(&sql.covered, &[&stack, serial]).await? {
                self.parse_record(stack, row.get(0), row.get(1))?;
            }
            tx.execute(&sql.put_snapshot, &[&stack, serial, body])
                .await?;
            tx.execute(&sql.drop_covered, &[&stack, serial]).await?;
            tx.commit().await?;
            Ok(())
        })
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
impl SnapshotEdits for PostgresStore {
    async fn read_edited(&self, stack: &str) -> Result<Option<State>, StateError> {
        let sql = &self.inner.sql.read_snapshot;
        let row = retrying!(self, "read the snapshot", |client, _| {
            Ok(client.query_opt(sql, &[&stack]).await?)
        })?;
        let location = self.location("snapshots", &format!("stack = {stack:?}"));
        row.map(|row| envelope::decode_state_edited(row.get::<_, &str>(0).as_bytes(), &location))
            .transpose()
            .map(Option::flatten)
    }

    async fn accept_edited(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        let body = &text(envelope::encode_state(snapshot, false, BACKEND)?);
        let sql = &self.inner.sql;
        let location = &self.location("snapshots", &format!("stack = {stack:?}"));
        retrying!(self, "accept the edited snapshot", |client, _| {
            let tx = client.transaction().await?;
            let current = match tx.query_opt(&sql.old_snapshot, &[&stack]).await? {
                Some(row) => Some(envelope::decode_state_unchecked(
                    row.get::<_, &str>(1).as_bytes(),
                    location,
                )?),
                None => None,
            };
            // A retry after a first try that committed finds the same
            // state, sealed, and writes the same row again.
            match current {
                Some(current) if current == *snapshot => {}
                Some(_) => {
                    return Err(Failure::State(StateError::Backend {
                        backend: BACKEND.into(),
                        message: format!(
                            "{location} changed since it was shown; nothing was accepted (run the command again)"
                        ),
                    }))
                }
                None => {
                    return Err(Failure::State(StateError::Backend {
                        backend: BACKEND.into(),
                        message: format!("{location}: there is no snapshot to accept"),
                    }))
                }
            }
            tx.execute(&sql.reseal_snapshot, &[&stack, body]).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

#[async_trait]
impl StateHistory for PostgresStore {
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        let encode = |what: &str, r: Result<Vec<u8>, serde_json::Error>| {
            r.map_err(|e| StateError::Backend {
                backend: BACKEND.into(),
                message: format!("cannot serialize {what}: {e}"),
            })
        };
        let info_json = encode("a version's entry", serde_json::to_vec(info))?;
        let info_text = text(envelope::encode(Unit::Version, &info_json));
        let state_text = text(envelope::encode_state(state, false, BACKEND)?);
        let version = i64::try_from(info.version).map_err(|_| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("version {} is too large", info.version),
        })?;
        let sql = &self.inner.sql.save_version;
        let (info_text, state_text) = (&info_text, &state_text);
        retrying!(self, "save a version of the state", |client, retried| {
            match client
                .execute(sql, &[&stack, &version, info_text, state_text])
                .await
            {
                Ok(_) => Ok(()),
                // A first try that committed before its connection was lost.
                Err(e) if retried && e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(()),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    Err(Failure::State(StateError::Backend {
                        backend: BACKEND.into(),
                        message: format!(
                            "{}: stack {stack:?} already has version {version}",
                            self.inner.describe
                        ),
                    }))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        let sql = &self.inner.sql.versions;
        let rows = retrying!(self, "list the versions", |client, _| {
            Ok(client.query(sql, &[&stack]).await?)
        })?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.get(0);
                let info: &str = row.get(1);
                envelope::decode_json(
                    Unit::Version,
                    info.as_bytes(),
                    &self.location(
                        "versions",
                        &format!("(stack = {stack:?}, version = {version}), column info"),
                    ),
                    "the version's entry",
                )
            })
            .collect()
    }

    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        let Ok(v) = i64::try_from(version) else {
            return Ok(None);
        };
        let sql = &self.inner.sql.read_version;
        let row = retrying!(self, "read a version of the state", |client, _| {
            Ok(client.query_opt(sql, &[&stack, &v]).await?)
        })?;
        row.map(|row| {
            let body: &str = row.get(0);
            envelope::decode_state(
                body.as_bytes(),
                &self.location(
                    "versions",
                    &format!("(stack = {stack:?}, version = {version}), column state"),
                ),
            )
        })
        .transpose()
    }

    /// One statement: the newest version is kept by the statement itself.
    async fn drop_versions(&self, stack: &str, versions: &[u64]) -> Result<(), StateError> {
        let numbers: Vec<i64> = versions
            .iter()
            .filter_map(|v| i64::try_from(*v).ok())
            .collect();
        let (sql, numbers) = (&self.inner.sql.drop_versions, &numbers);
        retrying!(self, "drop versions of the state", |client, _| {
            client.execute(sql, &[&stack, numbers]).await?;
            Ok(())
        })
    }
}

#[async_trait]
impl ControlChannel for PostgresStore {
    async fn send(&self, stack: &str, message: &Message) -> Result<(), StateError> {
        let body = serde_json::to_string(message).map_err(|e| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("cannot serialize a control message: {e}"),
        })?;
        let (sql, resource, body) = (&self.inner.sql.send_control, &message.topic, &body);
        retrying!(self, "leave a control message", |client, _| {
            client.execute(sql, &[&stack, resource, body]).await?;
            Ok(())
        })
    }

    async fn take(&self, stack: &str, topic: &str) -> Result<Vec<Message>, StateError> {
        let sql = &self.inner.sql.take_controls;
        let mut rows = retrying!(self, "take control messages", |client, _| {
            Ok(client.query(sql, &[&stack, &topic]).await?)
        })?;
        rows.sort_by_key(|r| r.get::<_, i64>(0));
        rows.iter()
            .map(|row| {
                let id: i64 = row.get(0);
                let body: String = row.get(1);
                serde_json::from_str(&body).map_err(|e| StateError::Corrupt {
                    location: format!("{}, table controls, row {id}", self.inner.describe),
                    message: format!("not a control message: {e}"),
                })
            })
            .collect()
    }
}

/// A unit's bytes as the `text` a column holds: always UTF-8, since the
/// header is ASCII and the body JSON.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Why a call failed: the database (retried once when the connection was
/// lost) or dafnck's own verdict.
enum Failure {
    Db(tokio_postgres::Error),
    State(StateError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::State(e)
    }
}

/// Whether the connection was lost under a call (closed, reset, or ended by
/// the server), so it may be tried again on a new one.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// A lock row (`id, owner, host, pid, operation, acquired_at, expires_at`).
fn lock_of(row: &tokio_postgres::Row) -> LockInfo {
    let pid: i64 = row.get(3);
    let millis = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    LockInfo {
        id: row.get(0),
        owner: row.get(1),
        host: row.get(2),
        pid: u32::try_from(pid).unwrap_or(0),
        operation: row.get(4),
        acquired_at: millis(5),
        expires_at: millis(6),
    }
}

/// A database error, with the server's message and detail when it sent one.
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.code().code(), db.message()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

fn db_error(store: &str, what: &str, e: &tokio_postgres::Error) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message: format!("{store}: cannot {what}: {}", error_text(e)),
    }
}
