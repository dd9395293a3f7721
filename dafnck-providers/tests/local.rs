//! The local provider against this machine: real files, real processes,
//! real HTTP on 127.0.0.1, driven through the engine.
#![cfg(feature = "local")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dafnck_core::drift::DriftKind;
use dafnck_core::engine::Engine;
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::Value;
use dafnck_providers::local::{
    self, http, Command, CommandOutputs, Directory, File, FileOutputs, Service, ServiceGroup,
    ServiceGroupOutputs, ServiceOutputs,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

fn engine(work: &Path) -> Engine {
    Engine::new(
        "test",
        MemoryStore::new(),
        Providers::new().with(local::Provider::new(work)),
    )
}

async fn outputs<T: serde::de::DeserializeOwned>(engine: &Engine, name: &str) -> T {
    let state = engine.state().await.unwrap();
    let r = state
        .resources
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not recorded"));
    r.outputs.deserialize_into().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

// ---------------------------------------------------------------- files

fn site(content: &'static str) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let dir = stack.add(
            "site",
            Directory {
                path: "site".into(),
                mode: Some(0o750),
            },
        );
        stack.add_with(
            "index",
            File {
                path: "site/index.html".into(),
                content: content.into(),
                mode: Some(0o640),
            },
            Options::new().depends_on(&dir),
        );
        Ok(())
    }
}

#[tokio::test]
async fn files_and_directories_are_created_repaired_and_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let engine = engine(work);
    let index = work.join("site/index.html");

    engine.up(site("hello"), false).await.unwrap();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "hello");
    assert_eq!(mode(&index), 0o640);
    assert_eq!(mode(&work.join("site")), 0o750);
    let out: FileOutputs = outputs(&engine, "index").await;
    assert_eq!(out.path, index.to_string_lossy());
    assert_eq!(
        out.sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert!(!engine.drift().await.unwrap().has_drift());
    assert!(!engine
        .preview(site("hello"), true)
        .await
        .unwrap()
        .plan
        .has_changes());

    // Out-of-band edits: content and modes.
    std::fs::write(&index, "defaced").unwrap();
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(work.join("site"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let drift = engine.drift().await.unwrap();
    let file = drift.get("index").expect("the file drifted");
    assert_eq!(file.kind, DriftKind::Changed);
    let fields: Vec<_> = file.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["content", "mode"]);
    assert_eq!(file.fields[0].actual, Value::from("defaced".to_string()));
    let dir = drift.get("site").expect("the directory drifted");
    assert_eq!(dir.fields[0].field, "mode");
    assert_eq!(dir.fields[0].actual, Value::Int(0o700));

    engine.up(site("hello"), true).await.unwrap();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "hello");
    assert_eq!(mode(&index), 0o640);
    assert_eq!(mode(&work.join("site")), 0o750);
    assert!(!engine.drift().await.unwrap().has_drift());

    // Deleted out of band: reported, then recreated.
    std::fs::remove_file(&index).unwrap();
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.get("index").unwrap().kind, DriftKind::Deleted);
    assert!(drift.get("site").is_none());
    engine.up(site("hello"), true).await.unwrap();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "hello");

    // A change of content is an in-place update.
    engine.up(site("hello, world"), false).await.unwrap();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), "hello, world");
    let after: FileOutputs = outputs(&engine, "index").await;
    assert_ne!(after.sha256, out.sha256);

    engine.destroy().await.unwrap();
    assert_eq!(files_under(work), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_directory_holding_unmanaged_files_is_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine(tmp.path());
    let program = |stack: &mut Stack| {
        stack.add(
            "data",
            Directory {
                path: "data".into(),
                mode: None,
            },
        );
        Ok(())
    };
    engine.up(program, false).await.unwrap();
    std::fs::write(tmp.path().join("data/precious"), "keep me").unwrap();
    let e = engine.destroy().await.unwrap_err().to_string();
    assert!(e.contains("is not empty"), "{e}");
    assert!(tmp.path().join("data/precious").exists());
}

#[tokio::test]
async fn an_existing_file_is_imported_by_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("app.conf"), "port = 1\n").unwrap();
    let engine = engine(tmp.path());
    let program = |content: &'static str| {
        move |stack: &mut Stack| {
            stack.add_with(
                "conf",
                File {
                    path: "app.conf".into(),
                    content: content.into(),
                    mode: None,
                },
                Options::new().import("app.conf"),
            );
            Ok(())
        }
    };
    engine.up(program("port = 1\n"), false).await.unwrap();
    let state = engine.state().await.unwrap();
    assert_eq!(
        state.resources["conf"].id,
        tmp.path().join("app.conf").to_string_lossy()
    );
    // Adopted as it was; a later change of content is an update.
    engine.up(program("port = 2\n"), false).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("app.conf")).unwrap(),
        "port = 2\n"
    );
}

// ---------------------------------------------------------------- commands

fn command(c: Command) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let made = stack.add("made", c);
        stack.export("stdout", made.out().stdout);
        Ok(())
    }
}

fn marker(trigger: &str, update: Option<&str>) -> Command {
    Command {
        create: "echo created >> runs.txt; echo '  hello  '".into(),
        update: update.map(str::to_owned),
        delete: Some("rm runs.txt".into()),
        env: BTreeMap::from([("WHO".into(), "dafnck".into())]),
        triggers: BTreeMap::from([("version".into(), trigger.into())]),
        ..Default::default()
    }
}

#[tokio::test]
async fn commands_run_on_create_update_and_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let engine = engine(work);
    let runs = || std::fs::read_to_string(work.join("runs.txt")).unwrap_or_default();

    let report = engine.up(command(marker("1", None)), false).await.unwrap();
    let out: CommandOutputs = outputs(&engine, "made").await;
    assert_eq!(out.stdout, "hello");
    assert_eq!(report.outputs["stdout"], Value::from("hello".to_string()));
    assert_eq!(runs(), "created\n");

    // Nothing to read back but the record: no drift, nothing to do, and a
    // refresh keeps the stdout.
    assert!(!engine.drift().await.unwrap().has_drift());
    engine.refresh().await.unwrap();
    let out: CommandOutputs = outputs(&engine, "made").await;
    assert_eq!(out.stdout, "hello");
    assert!(!engine
        .preview(command(marker("1", None)), true)
        .await
        .unwrap()
        .plan
        .has_changes());

    // A new trigger runs `create` again when there is no `update`...
    engine.up(command(marker("2", None)), false).await.unwrap();
    assert_eq!(runs(), "created\ncreated\n");
    // ...and `update` when there is one, with `env`.
    let update = "echo updated >> runs.txt; echo \"updated by $WHO\"";
    engine
        .up(command(marker("3", Some(update))), false)
        .await
        .unwrap();
    assert_eq!(runs(), "created\ncreated\nupdated\n");
    let out: CommandOutputs = outputs(&engine, "made").await;
    assert_eq!(out.stdout, "updated by dafnck");

    // A change of `delete` alone runs nothing.
    let mut quiet = marker("3", Some(update));
    quiet.delete = Some("rm runs.txt; echo deleted > deleted.txt".into());
    engine.up(command(quiet), false).await.unwrap();
    assert_eq!(runs(), "created\ncreated\nupdated\n");

    engine.destroy().await.unwrap();
    assert_eq!(files_under(work), vec![PathBuf::from("deleted.txt")]);
}

#[tokio::test]
async fn a_failing_command_fails_its_step_with_code_and_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine(tmp.path());
    let failing = Command {
        create: "echo starting; echo 'cannot reach the database' >&2; exit 7".into(),
        ..Default::default()
    };
    let e = engine
        .up(command(failing), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("exited with code 7"), "{e}");
    assert!(e.contains("cannot reach the database"), "{e}");
    assert!(engine.state().await.unwrap().resources.is_empty());
    assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_crashed_create_is_found_again_by_its_token() {
    use dafnck_core::provider::{CreateRequest, ReadRequest};
    use dafnck_core::Provider as _;
    let tmp = tempfile::tempdir().unwrap();
    let provider = local::Provider::new(tmp.path());
    let inputs = Value::from_serialize(&Command {
        create: "echo made".into(),
        ..Default::default()
    })
    .unwrap();
    let created = provider
        .create(CreateRequest {
            name: "made".into(),
            stack: "test".into(),
            type_name: "local:exec:Command".into(),
            inputs: inputs.clone(),
            token: "token-1".into(),
        })
        .await
        .unwrap();
    let read = |token: &str| ReadRequest {
        name: "made".into(),
        stack: "test".into(),
        type_name: "local:exec:Command".into(),
        id: None,
        token: Some(token.into()),
        inputs: inputs.clone(),
    };
    let found = provider.read(read("token-1")).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.outputs, created.outputs);
    assert_eq!(provider.read(read("token-2")).await.unwrap(), None);
}

// ---------------------------------------------------------------- services

/// Kills, when dropped, every process a test may have left: those it
/// registered and those the provider's records name.
struct Reaper {
    work: PathBuf,
    pids: Mutex<Vec<u32>>,
}

impl Reaper {
    fn new(work: &Path) -> Self {
        Reaper {
            work: work.to_path_buf(),
            pids: Mutex::new(Vec::new()),
        }
    }

    fn watch(&self, pid: u32) {
        self.pids.lock().unwrap().push(pid);
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let mut pids = self.pids.lock().unwrap().clone();
        if let Ok(entries) = std::fs::read_dir(self.work.join(".dafnck-local/services")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let record: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(pid) = record["outputs"]["pid"].as_u64() {
                    pids.push(pid as u32);
                }
            }
        }
        for pid in pids {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `/proc/<pid>` shows a live process: not a zombie, or a zombie
/// leader some of whose threads are still exiting (they still hold its
/// files, and the provider counts it as running until they are gone).
fn alive(pid: u32) -> bool {
    let live = |stat_file: std::path::PathBuf| match std::fs::read_to_string(stat_file) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..].trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        }
        Err(_) => false,
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    live(proc_dir.join("stat"))
        || std::fs::read_dir(proc_dir.join("task"))
            .map(|tasks| tasks.flatten().any(|t| live(t.path().join("stat"))))
            .unwrap_or(false)
}

async fn wait_dead(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The processes whose command line is exactly `args`.
fn processes_running(args: &[&str]) -> Vec<u32> {
    let want: String = args.iter().map(|a| format!("{a}\0")).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
                && alive(*pid)
        })
        .collect()
}

fn http_server(port: u16, env: &[(&str, &str)]) -> Service {
    Service {
        name: "web".into(),
        command: "python3".into(),
        args: [
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ]
        .map(String::from)
        .to_vec(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        dir: Some("www".into()),
        port,
        health_path: Some("/".into()),
        startup_timeout_secs: 20,
        stop_timeout_secs: 5,
    }
}

fn serve(service: Service) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let web = stack.add("web", service);
        stack.export("url", web.out().url);
        Ok(())
    }
}

async fn get(port: u16, path: &str) -> http::Response {
    http::get(port, path, Duration::from_secs(5)).await.unwrap()
}

#[tokio::test]
async fn a_service_starts_is_restarted_when_killed_and_on_change_and_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let reaper = Reaper::new(work);
    std::fs::create_dir(work.join("www")).unwrap();
    std::fs::write(work.join("www/hello.txt"), "hi from disk").unwrap();
    let engine = engine(work);
    let port = free_port();

    let report = engine
        .up(serve(http_server(port, &[])), false)
        .await
        .unwrap();
    let first: ServiceOutputs = outputs(&engine, "web").await;
    reaper.watch(first.pid);
    assert!(alive(first.pid));
    assert_eq!(first.url, format!("http://127.0.0.1:{port}"));
    assert_eq!(report.outputs["url"], Value::from(first.url.clone()));
    let r = get(port, "/hello.txt").await;
    assert_eq!((r.status, r.body.as_str()), (200, "hi from disk"));
    assert!(Path::new(&first.log_file).exists());
    assert!(!engine.drift().await.unwrap().has_drift());

    // Killed out of band: drift says deleted; up with refresh restarts it.
    killpg(Pid::from_raw(first.pid as i32), Signal::SIGKILL).unwrap();
    wait_dead(first.pid).await;
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.get("web").unwrap().kind, DriftKind::Deleted);
    engine
        .up(serve(http_server(port, &[])), true)
        .await
        .unwrap();
    let second: ServiceOutputs = outputs(&engine, "web").await;
    reaper.watch(second.pid);
    assert_ne!(second.pid, first.pid);
    assert_eq!(get(port, "/hello.txt").await.status, 200);
    assert!(!engine.drift().await.unwrap().has_drift());

    // A change of env restarts it: a new process, the old one gone.
    engine
        .up(serve(http_server(port, &[("RELEASE", "2")])), false)
        .await
        .unwrap();
    let third: ServiceOutputs = outputs(&engine, "web").await;
    reaper.watch(third.pid);
    assert_ne!(third.pid, second.pid);
    assert!(!alive(second.pid));
    let environ = std::fs::read(format!("/proc/{}/environ", third.pid)).unwrap();
    assert!(
        environ.split(|b| *b == 0).any(|kv| kv == b"RELEASE=2"),
        "the new process has the new env"
    );
    assert_eq!(get(port, "/hello.txt").await.status, 200);
    let log = std::fs::read_to_string(&third.log_file).unwrap();
    assert_eq!(
        log.matches("--- dafnck: starting python3").count(),
        3,
        "{log}"
    );

    // Destroy: the process is gone and nothing is left behind.
    engine.destroy().await.unwrap();
    assert!(!alive(third.pid));
    assert!(http::get(port, "/", Duration::from_millis(500))
        .await
        .is_err());
    assert_eq!(
        files_under(work),
        vec![PathBuf::from("www"), PathBuf::from("www/hello.txt")]
    );
}

#[tokio::test]
async fn a_service_whose_program_does_not_exist_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let _reaper = Reaper::new(tmp.path());
    let engine = engine(tmp.path());
    let service = Service {
        name: "ghost".into(),
        command: "dafnck-no-such-program".into(),
        port: free_port(),
        ..Default::default()
    };
    let e = engine
        .up(serve(service), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot start `dafnck-no-such-program`"), "{e}");
    assert!(e.contains("no such program on PATH"), "{e}");
    assert_eq!(files_under(tmp.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_service_that_never_gets_healthy_is_stopped_and_its_log_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let _reaper = Reaper::new(tmp.path());
    let engine = engine(tmp.path());
    let service = Service {
        name: "sleeper".into(),
        command: "sh".into(),
        args: vec![
            "-c".into(),
            "echo warming up the flux capacitor; exec sleep 6171".into(),
        ],
        port: free_port(),
        startup_timeout_secs: 2,
        stop_timeout_secs: 2,
        ..Default::default()
    };
    let started = Instant::now();
    let e = engine
        .up(serve(service), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(e.contains("did not answer 2xx within 2s"), "{e}");
    assert!(e.contains("the process was stopped"), "{e}");
    assert!(e.contains("warming up the flux capacitor"), "{e}");
    assert!(processes_running(&["sleep", "6171"]).is_empty());
    assert!(engine.state().await.unwrap().resources.is_empty());
}

#[tokio::test]
async fn a_service_that_exits_during_startup_reports_its_exit_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let _reaper = Reaper::new(tmp.path());
    let engine = engine(tmp.path());
    let service = Service {
        name: "crasher".into(),
        command: "sh".into(),
        args: vec!["-c".into(), "echo 'config file missing' >&2; exit 3".into()],
        port: free_port(),
        ..Default::default()
    };
    let started = Instant::now();
    let e = engine
        .up(serve(service), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(e.contains("exited with code 3 during startup"), "{e}");
    assert!(e.contains("config file missing"), "{e}");
}

#[tokio::test]
async fn a_service_refuses_a_port_someone_else_listens_on() {
    let tmp = tempfile::tempdir().unwrap();
    let _reaper = Reaper::new(tmp.path());
    let engine = engine(tmp.path());
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    std::fs::create_dir(tmp.path().join("www")).unwrap();
    let e = engine
        .up(serve(http_server(port, &[])), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{e}"
    );
    drop(squatter);
}

#[tokio::test]
async fn a_service_on_port_zero_gets_a_free_port_filled_into_its_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let _reaper = Reaper::new(work);
    std::fs::create_dir(work.join("www")).unwrap();
    std::fs::write(work.join("www/hello.txt"), "hi").unwrap();
    let engine = engine(work);
    let mut service = http_server(0, &[("LISTEN", "127.0.0.1:{port}")]);
    service.args[2] = "{port}".into();
    engine.up(serve(service.clone()), false).await.unwrap();
    let out: ServiceOutputs = outputs(&engine, "web").await;
    assert_ne!(out.port, 0);
    assert_eq!(out.url, format!("http://127.0.0.1:{}", out.port));
    assert_eq!(get(out.port, "/hello.txt").await.body, "hi");
    let environ = std::fs::read(format!("/proc/{}/environ", out.pid)).unwrap();
    let want = format!("LISTEN=127.0.0.1:{}", out.port);
    assert!(environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes()));
    // Unchanged inputs: no restart, the same port.
    let plan = engine.preview(serve(service), false).await.unwrap().plan;
    assert!(!plan.has_changes());
    engine.destroy().await.unwrap();
    assert!(!alive(out.pid));
}

fn group(replicas: u16, release: &str) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    let g = ServiceGroup {
        name: "web".into(),
        replicas,
        command: "python3".into(),
        args: ["-m", "http.server", "{port}", "--bind", "127.0.0.1"]
            .map(String::from)
            .to_vec(),
        env: BTreeMap::from([("RELEASE".to_string(), release.to_string())]),
        dir: Some("www".into()),
        health_path: Some("/".into()),
        startup_timeout_secs: 20,
        stop_timeout_secs: 5,
    };
    move |stack| {
        stack.add("web", g);
        Ok(())
    }
}

fn pids(g: &ServiceGroupOutputs) -> Vec<u32> {
    g.instances.iter().map(|i| i.pid).collect()
}

#[tokio::test]
async fn a_service_group_runs_its_replicas_heals_scales_restarts_and_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let _reaper = Reaper::new(work);
    std::fs::create_dir(work.join("www")).unwrap();
    std::fs::write(work.join("www/hello.txt"), "hi").unwrap();
    let engine = engine(work);

    engine.up(group(3, "1"), false).await.unwrap();
    let first: ServiceGroupOutputs = outputs(&engine, "web").await;
    assert_eq!(first.instances.len(), 3);
    let mut ports = first.ports.clone();
    ports.dedup();
    assert_eq!(ports.len(), 3, "one port each: {:?}", first.ports);
    for (i, port) in first.ports.iter().enumerate() {
        assert!(alive(first.instances[i].pid));
        assert_eq!(get(*port, "/hello.txt").await.body, "hi");
    }
    assert_eq!(
        first.addresses()[0],
        format!("127.0.0.1:{}", first.ports[0])
    );
    assert!(!engine.drift().await.unwrap().has_drift());

    // One replica killed: drift shows two running; up starts a third and
    // leaves the survivors alone.
    let dead = first.instances[1].pid;
    killpg(Pid::from_raw(dead as i32), Signal::SIGKILL).unwrap();
    wait_dead(dead).await;
    let drift = engine.drift().await.unwrap();
    let d = drift.get("web").expect("drift of web");
    assert_eq!(d.kind, DriftKind::Changed);
    engine.up(group(3, "1"), true).await.unwrap();
    let healed: ServiceGroupOutputs = outputs(&engine, "web").await;
    assert_eq!(healed.instances.len(), 3);
    assert_eq!(healed.instances[0].pid, first.instances[0].pid);
    assert_eq!(healed.instances[2].pid, first.instances[2].pid);
    assert_ne!(healed.instances[1].pid, dead);
    assert!(!engine.drift().await.unwrap().has_drift());

    // Scaled to four: one more process, the others untouched.
    engine.up(group(4, "1"), false).await.unwrap();
    let scaled: ServiceGroupOutputs = outputs(&engine, "web").await;
    assert_eq!(pids(&scaled)[..3], pids(&healed)[..]);
    assert!(alive(scaled.instances[3].pid));

    // Another environment: every replica restarted with it.
    engine.up(group(4, "2"), false).await.unwrap();
    let restarted: ServiceGroupOutputs = outputs(&engine, "web").await;
    for (old, new) in pids(&scaled).into_iter().zip(pids(&restarted)) {
        assert_ne!(old, new);
        assert!(!alive(old));
        let environ = std::fs::read(format!("/proc/{new}/environ")).unwrap();
        assert!(environ.split(|b| *b == 0).any(|kv| kv == b"RELEASE=2"));
    }

    engine.destroy().await.unwrap();
    for pid in pids(&restarted) {
        assert!(!alive(pid));
    }
    assert_eq!(
        files_under(work),
        vec![PathBuf::from("www"), PathBuf::from("www/hello.txt")]
    );
}

#[tokio::test]
async fn a_group_whose_replica_cannot_start_stops_the_others_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let _reaper = Reaper::new(work);
    let engine = engine(work);
    // The first replica to claim a file serves; the other exits.
    let script = "import os,sys,http.server\n\
try:\n    os.close(os.open('claim', os.O_CREAT | os.O_EXCL))\n\
except FileExistsError:\n    sys.exit(3)\n\
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind='127.0.0.1')\n";
    let g = ServiceGroup {
        name: "web".into(),
        replicas: 2,
        command: "python3".into(),
        args: vec!["-c".into(), script.into(), "{port}".into()],
        health_path: Some("/".into()),
        startup_timeout_secs: 20,
        stop_timeout_secs: 1,
        ..Default::default()
    };
    let err = engine
        .up(
            move |stack: &mut Stack| {
                stack.add("web", g);
                Ok(())
            },
            false,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service web-") && err.contains("exit"),
        "{err}"
    );
    assert!(engine.state().await.unwrap().resources.is_empty());
    // The replica that started was stopped and its log removed; the
    // failed one's log is kept, as a service's is, to say why.
    let logs: Vec<PathBuf> = files_under(work)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(work.join(&logs[0])).unwrap();
    assert!(log.contains("--- dafnck: starting python3"), "{log}");
    let running = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(script.len()).any(|w| w == script.as_bytes()))
                && alive(*pid)
        })
        .count();
    assert_eq!(running, 0, "no replica left running");
}
