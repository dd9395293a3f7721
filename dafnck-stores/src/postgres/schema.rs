//! The tables, created on first use and versioned in `schema_version`.

use dafnck_core::state::StateError;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::{db_error, BACKEND};

/// The version of the tables this code reads and writes.
pub const SCHEMA_VERSION: i32 = 3;

/// Version 1: one row per stack's snapshot, one per journal record, one per
/// held lock. JSON is kept as `text`, byte for byte as dafnck wrote it (and
/// because `jsonb` cannot hold a `\u0000` in a string); cast it to `jsonb`
/// to query it.
const V1: &str = r#"
CREATE TABLE {s}.snapshots (
    stack text PRIMARY KEY,
    serial bigint NOT NULL,
    state text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.journal (
    stack text NOT NULL,
    seq bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (stack, seq)
);
CREATE TABLE {s}.locks (
    stack text PRIMARY KEY,
    id text NOT NULL,
    owner text NOT NULL,
    host text NOT NULL,
    pid bigint NOT NULL,
    operation text NOT NULL,
    acquired_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    lease_ms bigint NOT NULL
);
"#;

/// Version 2: rollout commands left for the run holding a stack's lock
/// (`rollout abort NAME` from another machine), taken once each.
const V2: &str = r#"
CREATE TABLE {s}.controls (
    id bigserial PRIMARY KEY,
    stack text NOT NULL,
    resource text NOT NULL,
    message text NOT NULL
);
CREATE INDEX ON {s}.controls (stack, resource);
"#;

/// Version 3: every version of a stack's state (`state history`), the
/// state as that run left it.
const V3: &str = r#"
CREATE TABLE {s}.versions (
    stack text NOT NULL,
    version bigint NOT NULL,
    info text NOT NULL,
    state text NOT NULL,
    PRIMARY KEY (stack, version)
);
"#;

/// Checks the tables' version, or creates the schema and its tables if
/// they are missing. Concurrent first uses (twenty CI jobs at once) take
/// turns on an advisory lock, so exactly one creates the tables. Only the
/// first use needs the right to create a schema; later ones need only
/// `SELECT`, `INSERT`, `UPDATE` and `DELETE` on the tables.
///
/// # Errors
/// [`StateError::Backend`] when the tables are of a newer version than
/// this code knows, or the database refuses.
pub(super) async fn ensure(
    client: &mut Client,
    schema: &str,
    store: &str,
) -> Result<(), StateError> {
    let err = |what: &'static str| move |e: tokio_postgres::Error| db_error(store, what, &e);
    let q = format!("\"{schema}\"");
    // Usually the tables are there: a plain read, which a user with no
    // right to create anything may do.
    match client
        .query_one(&format!("SELECT max(version) FROM {q}.schema_version"), &[])
        .await
    {
        Ok(row) => {
            if let Some(v) = row.get::<_, Option<i32>>(0) {
                // An older version is upgraded below.
                if v >= SCHEMA_VERSION {
                    return check_version(v, store);
                }
            }
        }
        Err(e)
            if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) => {}
        Err(e) => return Err(err("read the schema version")(e)),
    }
    let tx = client.transaction().await.map_err(err("begin"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('dafnck schema ' || $1::text))",
        &[&schema],
    )
    .await
    .map_err(err("lock the schema for setup"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {q};
         CREATE TABLE IF NOT EXISTS {q}.schema_version (
             version integer NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(err("create the schema"))?;
    let row = tx
        .query_one(&format!("SELECT max(version) FROM {q}.schema_version"), &[])
        .await
        .map_err(err("read the schema version"))?;
    let version: Option<i32> = row.get(0);
    let from = version.unwrap_or(0);
    check_version(from, store)?;
    for (v, ddl) in [(1, V1), (2, V2), (3, V3)] {
        if from < v {
            tx.batch_execute(&ddl.replace("{s}", &q))
                .await
                .map_err(err("create the tables"))?;
        }
    }
    if from < SCHEMA_VERSION {
        tx.execute(
            &format!("INSERT INTO {q}.schema_version (version) VALUES ($1)"),
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(err("record the schema version"))?;
        tracing::info!(
            store,
            from,
            to = SCHEMA_VERSION,
            "created or upgraded the state tables"
        );
    }
    tx.commit().await.map_err(err("commit the schema setup"))?;
    Ok(())
}

/// Refuses tables of a newer version than this code knows (an older one is
/// upgraded by [`ensure`]).
fn check_version(version: i32, store: &str) -> Result<(), StateError> {
    if version > SCHEMA_VERSION {
        return Err(StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{store}: the tables are schema version {version}, newer than this program knows ({SCHEMA_VERSION}); a newer dafnck wrote them: upgrade this program's dafnck instead of writing with an older one"
            ),
        });
    }
    Ok(())
}
