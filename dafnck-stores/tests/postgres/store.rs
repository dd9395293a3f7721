//! The store itself: conformance, schemas, damaged rows, versions,
//! unreachable servers, dropped connections, rights.

use std::time::Duration;

use dafnck_core::state::StateLock;
use dafnck_core::state::{
    self, testing, Entry, LockRequest, Record, State, StateError, StateStore, Stored,
};
use dafnck_core::testing::FakeCloud;
use dafnck_stores::postgres::PostgresStore;

use super::race::RACERS;
use super::{engine, program, raw, schema_of, url_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes() {
    let Some(url) = url_for("conformance") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let checked = testing::conformance(&store).await;
    assert!(
        checked.lock && checked.history && checked.channel,
        "{checked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_messages_are_carried() {
    let Some(url) = url_for("controls") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    testing::check_channel(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_tables_are_upgraded_in_place() {
    let Some(url) = url_for("upgrade") else {
        return;
    };
    let schema = schema_of(&url);
    let store = PostgresStore::connect(&url).await.unwrap();
    let record = Record {
        seq: 1,
        at: 1,
        entry: Entry::Init {
            lineage: "kept".into(),
        },
    };
    store
        .append("dev", std::slice::from_ref(&record))
        .await
        .unwrap();
    drop(store);
    // What version 1 of the tables looked like.
    raw(&url)
        .await
        .batch_execute(&format!(
            "DROP TABLE \"{schema}\".controls; DROP TABLE \"{schema}\".versions;
             DELETE FROM \"{schema}\".schema_version;
             INSERT INTO \"{schema}\".schema_version (version) VALUES (1);"
        ))
        .await
        .unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(store.read("dev").await.unwrap().journal, vec![record]);
    testing::check_channel(&store).await;
    testing::check_history(&store).await;
    let versions: Vec<i32> = raw(&url)
        .await
        .query(
            &format!("SELECT version FROM \"{schema}\".schema_version ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_share_a_schema_and_schemas_keep_apart() {
    let Some(url) = url_for("schemas") else {
        return;
    };
    let other_url = url_for("schemas").unwrap();
    let a = PostgresStore::connect(&url).await.unwrap();
    let again = PostgresStore::connect(&url).await.unwrap();
    let other = PostgresStore::connect(&other_url).await.unwrap();
    let record = |seq| Record {
        seq,
        at: 1,
        entry: Entry::Init {
            lineage: format!("lineage-{seq}"),
        },
    };
    a.append("dev", &[record(1)]).await.unwrap();
    a.append("prod", &[record(1), record(2)]).await.unwrap();
    assert_eq!(again.read("dev").await.unwrap().journal, vec![record(1)]);
    assert_eq!(again.read("prod").await.unwrap().journal.len(), 2);
    assert_eq!(other.read("dev").await.unwrap(), Stored::default());
    assert!(a.describe().contains(&schema_of(&url)), "{}", a.describe());
    // The tables were created once; a second store found them.
    let n: i64 = raw(&url)
        .await
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{}\".schema_version",
                schema_of(&url)
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // Appending a record number that is there already is refused.
    let e = again.append("dev", &[record(1)]).await.unwrap_err();
    assert!(
        e.to_string().contains("already has a journal record"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_row_is_named_and_never_overwritten() {
    let Some(url) = url_for("corrupt") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let cloud = FakeCloud::new();
    let engine = engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    engine.up(program("a"), false).await.unwrap();
    let schema = schema_of(&url);
    let db = raw(&url).await;
    let damaged = r#"{"stack":"dev","serial":"#;
    db.execute(
        &format!("UPDATE \"{schema}\".snapshots SET state = $1 WHERE stack = 'dev'"),
        &[&damaged],
    )
    .await
    .unwrap();

    let e = store.read("dev").await.unwrap_err();
    let StateError::Corrupt { location, message } = &e else {
        panic!("expected Corrupt, got {e:?}");
    };
    assert!(
        location.contains(&format!("{schema}.snapshots")) && location.contains("stack = \"dev\""),
        "{location}"
    );
    assert!(message.contains("does not parse"), "{message}");
    let e = engine
        .up(program("b"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is corrupt") && e.contains("snapshots"), "{e}");
    let e = store
        .compact("dev", &State::empty("dev"))
        .await
        .unwrap_err();
    assert!(matches!(e, StateError::Corrupt { .. }), "{e:?}");
    let kept: String = db
        .query_one(
            &format!("SELECT state FROM \"{schema}\".snapshots WHERE stack = 'dev'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, damaged, "the damaged row was left as it was");
    // The failed up released its lock.
    assert_eq!(store.lock_info("dev").await.unwrap(), None);

    // A damaged journal row is named by stack and seq.
    let record = Record {
        seq: 1,
        at: 1,
        entry: Entry::Init {
            lineage: "l".into(),
        },
    };
    store.append("other", &[record]).await.unwrap();
    db.execute(
        &format!("UPDATE \"{schema}\".journal SET record = 'not json' WHERE stack = 'other'"),
        &[],
    )
    .await
    .unwrap();
    let e = store.read("other").await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("{schema}.journal")) && e.contains("seq = 1"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_a_newer_schema_version_are_refused() {
    let Some(url) = url_for("version") else {
        return;
    };
    PostgresStore::connect(&url).await.unwrap();
    raw(&url)
        .await
        .execute(
            &format!(
                "INSERT INTO \"{}\".schema_version (version) VALUES (99)",
                schema_of(&url)
            ),
            &[],
        )
        .await
        .unwrap();
    let e = PostgresStore::connect(&url).await.unwrap_err().to_string();
    assert!(
        e.contains("schema version 99") && e.contains("newer than this program knows (3)"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_naming_host_and_port() {
    // A port nobody listens on: refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = PostgresStore::connect(&format!("postgres://u:pw@127.0.0.1:{port}/db"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}"))
            && !e.contains("pw"),
        "{e}"
    );

    // A server that accepts and never answers: the connect timeout ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let e = PostgresStore::connect(&format!(
        "postgres://u@127.0.0.1:{port}/db?connect_timeout=1"
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("no answer within 1s"),
        "{e}"
    );
    held.abort();
}

/// Twenty stores connecting at once to a fresh schema: one creates the
/// tables, the others wait for it and find them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_uses_create_the_tables_once() {
    let Some(url) = url_for("firstuse") else {
        return;
    };
    let connects = (0..RACERS).map(|_| {
        let url = url.clone();
        async move { PostgresStore::connect(&url).await.map(|_| ()) }
    });
    for result in futures_join_all(connects).await {
        result.unwrap();
    }
    let n: i64 = raw(&url)
        .await
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{}\".schema_version",
                schema_of(&url)
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

/// Runs futures concurrently on the runtime and collects their outputs.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_reopened_on_the_next_call() {
    let Some(url) = url_for("reconnect") else {
        return;
    };
    let name = format!("dafnck_{}", schema_of(&url));
    let store = PostgresStore::connect(&format!("{url}&application_name={name}"))
        .await
        .unwrap();
    let record = Record {
        seq: 1,
        at: 1,
        entry: Entry::Init {
            lineage: "l".into(),
        },
    };
    store
        .append("dev", std::slice::from_ref(&record))
        .await
        .unwrap();
    let killed: i64 = raw(&url)
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap() as i64;
    assert_eq!(killed, 1, "the store's one connection was terminated");
    // The call that meets the dead connection may fail; the next reopens it.
    let mut failures = 0;
    let stored = loop {
        match store.read("dev").await {
            Ok(stored) => break stored,
            Err(e) => {
                failures += 1;
                assert!(failures < 3, "the connection was not reopened: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(stored.journal, vec![record]);
}

/// After the first use created the tables, a user that may only read and
/// write rows (no right to create anything) can use the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_create_rights_uses_existing_tables() {
    let Some(url) = url_for("grants") else {
        return;
    };
    let schema = schema_of(&url);
    PostgresStore::connect(&url).await.unwrap();
    let role = format!("r_{schema}");
    raw(&url)
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA \"{schema}\" TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO {role};"
        ))
        .await
        .unwrap();
    let config: tokio_postgres::Config = url.split_once('?').unwrap().0.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("a TCP test server, not {other:?}"),
    };
    let limited = format!(
        "postgres://{role}@{host}:{}/{}?schema={schema}",
        config.get_ports()[0],
        config.get_dbname().unwrap_or("postgres")
    );
    let store = PostgresStore::connect(&limited).await.unwrap();
    let lock = store
        .lock(
            "dev",
            &LockRequest::for_this_process("up", Duration::from_secs(60)),
        )
        .await
        .unwrap();
    store
        .append(
            "dev",
            &[Record {
                seq: 1,
                at: 1,
                entry: Entry::Init {
                    lineage: "l".into(),
                },
            }],
        )
        .await
        .unwrap();
    let state = state::load(&store, "dev").await.unwrap();
    store.compact("dev", &state).await.unwrap();
    store.unlock("dev", &lock.id).await.unwrap();
    // And it cannot create a schema of its own: first use needs the right.
    let e = PostgresStore::connect(&format!("{}_new", limited))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("permission denied"), "{e}");
}

/// Runs `op` while `table` is locked by another session, so it waits on
/// the server; ends the store's session (`application_name = name`) under
/// it, then lets the table go. Returns what `op` returned.
async fn lose_connection_during<T: Send + 'static>(
    url: &str,
    name: &str,
    table: &str,
    op: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let mut blocker = raw(url).await;
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .await
        .unwrap();
    let task = tokio::spawn(op);
    let admin = raw(url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never waited on {table}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    task.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_connection_is_lost_midway_is_retried_on_a_new_one() {
    let Some(url) = url_for("midway") else {
        return;
    };
    let schema = schema_of(&url);
    let name = format!("dafnck_{schema}");
    let store = PostgresStore::connect(&format!("{url}&application_name={name}"))
        .await
        .unwrap();
    let record = Record {
        seq: 1,
        at: 1,
        entry: Entry::Init {
            lineage: "l".into(),
        },
    };

    let (s, r) = (store.clone(), record.clone());
    let appended =
        lose_connection_during(&url, &name, &format!("\"{schema}\".journal"), async move {
            s.append("dev", &[r]).await
        })
        .await;
    appended.expect("the append was retried on a new connection");
    assert_eq!(store.read("dev").await.unwrap().journal, vec![record]);

    let s = store.clone();
    let locked = lose_connection_during(&url, &name, &format!("\"{schema}\".locks"), async move {
        s.lock(
            "dev",
            &LockRequest::for_this_process("up", Duration::from_secs(60)),
        )
        .await
    })
    .await
    .expect("the lock was retried on a new connection");
    assert_eq!(store.lock_info("dev").await.unwrap(), Some(locked.clone()));

    let s = store.clone();
    let id = locked.id.clone();
    lose_connection_during(&url, &name, &format!("\"{schema}\".locks"), async move {
        s.unlock("dev", &id).await
    })
    .await
    .expect("the unlock was retried on a new connection");
    assert_eq!(store.lock_info("dev").await.unwrap(), None);
}
