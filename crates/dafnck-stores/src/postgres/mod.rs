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
//!   error naming `host:port`; a dropped connection is reopened on the
//!   next call.

mod schema;
mod url;

pub use schema::SCHEMA_VERSION;
pub use url::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_SCHEMA};

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::state::{
    LockInfo, LockRequest, Record, State, StateError, StateStore, StoreBackend, Stored,
};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls};

use url::StoreUrl;

const BACKEND: &str = "postgres";

/// The milliseconds since the Unix epoch on the database's clock.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

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
    put_snapshot: String,
    drop_covered: String,
    lock: String,
    renew: String,
    unlock: String,
    lock_info: String,
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

    fn err(&self, what: &'static str) -> impl Fn(tokio_postgres::Error) -> StateError + '_ {
        move |e| db_error(&self.inner.describe, what, &e)
    }

    fn corrupt(&self, table: &str, row: String, message: String) -> StateError {
        StateError::Corrupt {
            location: format!(
                "{}, table {}.{table}, row {row}",
                self.inner.describe, self.inner.url.schema
            ),
            message,
        }
    }

    fn parse_snapshot(&self, stack: &str, serial: i64, body: &str) -> Result<State, StateError> {
        let row = || format!("stack = {stack:?}");
        let state: State = serde_json::from_str(body).map_err(|e| {
            self.corrupt(
                "snapshots",
                row(),
                format!("the snapshot does not parse: {e}"),
            )
        })?;
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
        let record: Record = serde_json::from_str(body).map_err(|e| {
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
        let rows = {
            let client = self.client().await?;
            client
                .query(&self.inner.sql.read, &[&stack])
                .await
                .map_err(self.err("read the state"))?
        };
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
            let body = serde_json::to_string(record).map_err(|e| StateError::Backend {
                backend: BACKEND.into(),
                message: format!("cannot serialize journal record {}: {e}", record.seq),
            })?;
            seqs.push(seq);
            bodies.push(body);
        }
        let client = self.client().await?;
        match client
            .execute(&self.inner.sql.append, &[&stack, &seqs, &bodies])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Err(StateError::Backend {
                    backend: BACKEND.into(),
                    message: format!(
                        "{}: stack {stack:?} already has a journal record numbered {}..={}; another run wrote this stack (nothing was appended)",
                        self.inner.describe,
                        seqs[0],
                        seqs[seqs.len() - 1]
                    ),
                })
            }
            Err(e) => Err(self.err("append to the journal")(e)),
        }
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        let body = serde_json::to_string(snapshot).map_err(|e| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("cannot serialize the snapshot of stack {stack:?}: {e}"),
        })?;
        let serial = i64::try_from(snapshot.serial).map_err(|_| StateError::Backend {
            backend: BACKEND.into(),
            message: format!("snapshot serial {} is too large", snapshot.serial),
        })?;
        let sql = &self.inner.sql;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.err("begin"))?;
        // Check before writing: what cannot be parsed is never overwritten
        // or deleted. Dropping `tx` on an error rolls it back.
        if let Some(old) = tx
            .query_opt(&sql.old_snapshot, &[&stack])
            .await
            .map_err(self.err("read the snapshot"))?
        {
            self.parse_snapshot(stack, old.get(0), old.get(1))?;
        }
        for row in tx
            .query(&sql.covered, &[&stack, &serial])
            .await
            .map_err(self.err("read the journal"))?
        {
            self.parse_record(stack, row.get(0), row.get(1))?;
        }
        tx.execute(&sql.put_snapshot, &[&stack, &serial, &body])
            .await
            .map_err(self.err("write the snapshot"))?;
        tx.execute(&sql.drop_covered, &[&stack, &serial])
            .await
            .map_err(self.err("drop compacted journal records"))?;
        tx.commit().await.map_err(self.err("commit the compaction"))
    }

    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        let id = dafnck_core::state::new_id();
        let lease_ms = i64::try_from(request.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let pid = i64::from(request.pid);
        let sql = &self.inner.sql;
        let client = self.client().await?;
        // A holder that releases between the refused insert and the look at
        // who holds it leaves no row: try again.
        for _ in 0..5 {
            let taken = client
                .query_opt(
                    &sql.lock,
                    &[
                        &stack,
                        &id,
                        &request.owner,
                        &request.host,
                        &pid,
                        &request.operation,
                        &lease_ms,
                    ],
                )
                .await
                .map_err(self.err("take the lock"))?;
            if let Some(row) = taken {
                return lock_of(&row);
            }
            let held = client
                .query_opt(&sql.lock_info, &[&stack])
                .await
                .map_err(self.err("read the lock"))?;
            if let Some(row) = held {
                return Err(StateError::Locked {
                    stack: stack.to_owned(),
                    holder: Box::new(lock_of(&row)?),
                });
            }
        }
        Err(StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: the lock of stack {stack:?} changed hands five times while taking it; try again",
                self.inner.describe
            ),
        })
    }

    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&self.inner.sql.renew, &[&stack, &lock.id])
            .await
            .map_err(self.err("renew the lock"))?;
        match row {
            Some(row) => lock_of(&row),
            None => Err(StateError::LockLost {
                stack: stack.to_owned(),
                id: lock.id.clone(),
            }),
        }
    }

    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        let client = self.client().await?;
        let deleted = client
            .execute(&self.inner.sql.unlock, &[&stack, &lock_id])
            .await
            .map_err(self.err("release the lock"))?;
        if deleted == 1 {
            Ok(())
        } else {
            Err(StateError::LockLost {
                stack: stack.to_owned(),
                id: lock_id.to_owned(),
            })
        }
    }

    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        let client = self.client().await?;
        client
            .query_opt(&self.inner.sql.lock_info, &[&stack])
            .await
            .map_err(self.err("read the lock"))?
            .map(|row| lock_of(&row))
            .transpose()
    }
}

/// A lock row (`id, owner, host, pid, operation, acquired_at, expires_at`).
fn lock_of(row: &tokio_postgres::Row) -> Result<LockInfo, StateError> {
    let pid: i64 = row.get(3);
    let millis = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok(LockInfo {
        id: row.get(0),
        owner: row.get(1),
        host: row.get(2),
        pid: u32::try_from(pid).unwrap_or(0),
        operation: row.get(4),
        acquired_at: millis(5),
        expires_at: millis(6),
    })
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
