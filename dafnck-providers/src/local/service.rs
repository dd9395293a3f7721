//! [`Service`] (`local:exec:Service`): a long-running process started
//! detached, watched through `/proc` and checked over HTTP on 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Delete, Found, Made, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;

use super::command::describe;
use super::error::{LocalError, StartupFailure, StartupProblem};
use super::record::{remove_file_if_present, Records};
use super::{http, process, tail, Local};

/// Lines of the log an error message shows.
const LOG_LINES: usize = 20;

/// How often a starting service is checked.
const HEALTH_POLL: Duration = Duration::from_millis(100);

/// The longest a single health check may take.
const HEALTH_ATTEMPT: Duration = Duration::from_secs(2);

/// A long-running process on this machine, serving HTTP on
/// `127.0.0.1:<port>`, like a systemd unit without systemd.
///
/// It is started detached so it outlives the program that deployed it: in
/// its own process group, with standard input closed and standard output
/// and error appended to `<work dir>/.dafnck-local/services/<name>.log`.
/// Create and update wait until `GET http://127.0.0.1:<port><health_path>`
/// answers 2xx (polling, up to `startup_timeout_secs`); a process that
/// exits first, or does not get healthy in time, is stopped and the step
/// fails with the last lines of its log. Before starting, a port that
/// already answers is refused, naming it.
///
/// - `name`: names the service in its work dir (letters, digits, `.`, `_`,
///   `-`). Changing it replaces the service; keeping the same `port` then
///   needs `Options::delete_before_replace()`, as two processes cannot
///   listen on one port.
/// - Any other change restarts it in place (stop, then start), except a
///   change of the two timeouts alone, which is only recorded.
///
/// Deleting sends SIGTERM to its process group, waits up to
/// `stop_timeout_secs`, then sends SIGKILL; it removes the log and the
/// provider's record too.
///
/// # Drift
/// `read` reports the service deleted when its process is gone: no
/// `/proc/<pid>`, a zombie, or another process that reuses the pid (its
/// start time differs). Otherwise it returns the recorded inputs; a service
/// does not report changes of its inputs.
///
/// ```
/// use dafnck_providers::local::Service;
/// let web = Service {
///     name: "web".into(),
///     command: "python3".into(),
///     args: ["-m", "http.server", "8080", "--bind", "127.0.0.1"].map(String::from).to_vec(),
///     port: 8080,
///     health_path: Some("/".into()),
///     ..Default::default()
/// };
/// assert_eq!(web.startup_timeout_secs, 30);
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
#[resource(type = "local:exec:Service", outputs = ServiceOutputs)]
pub struct Service {
    /// Its name, unique in the provider's work dir; changing it replaces
    /// the service.
    #[resource(force_new)]
    pub name: String,
    /// The program: a name looked up on `PATH`, or a path (a relative one
    /// is relative to `dir`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables added to this process's.
    pub env: BTreeMap<String, String>,
    /// Its working directory, relative to the provider's work dir; `None`
    /// is the work dir.
    pub dir: Option<String>,
    /// The port it serves on 127.0.0.1; 0 picks a free one when it starts
    /// (what a deployment policy needs: the new object beside the old). The
    /// chosen port replaces `{port}` in `args` and `env` values, and is in
    /// the outputs.
    pub port: u16,
    /// The path of its health check; `None` is `/health`.
    pub health_path: Option<String>,
    /// How long it may take to answer its health check (default 30).
    pub startup_timeout_secs: u64,
    /// How long it gets to exit after SIGTERM before SIGKILL (default 10).
    pub stop_timeout_secs: u64,
}

impl Default for Service {
    /// No name, command or port; a 30 s startup and 10 s stop timeout.
    fn default() -> Self {
        Service {
            name: String::new(),
            command: String::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            dir: None,
            port: 0,
            health_path: None,
            startup_timeout_secs: 30,
            stop_timeout_secs: 10,
        }
    }
}

impl Service {
    fn health_path(&self) -> &str {
        self.health_path.as_deref().unwrap_or("/health")
    }

    fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.health_path())
    }
}

/// What a [`Service`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceOutputs {
    /// Its process id (and process group id).
    pub pid: u32,
    /// The file its standard output and error are appended to.
    pub log_file: String,
    /// When it was started, in seconds since the Unix epoch.
    pub started_at: u64,
    /// Where it serves: `http://127.0.0.1:<port>`.
    pub url: String,
    /// The port it serves on (the one chosen, when `port` was 0).
    #[serde(default)]
    pub port: u16,
    /// When its process started, in clock ticks after boot (field 22 of
    /// `/proc/<pid>/stat`): tells it apart from a later process that
    /// reuses its pid.
    pub start_ticks: u64,
}

/// What the provider keeps per service, as the engine's read request
/// carries no outputs.
#[derive(Serialize, Deserialize, Debug)]
struct ServiceRecord {
    /// The idempotency token of the create, to find it after a crash.
    token: String,
    /// Its outputs, the process id among them.
    outputs: ServiceOutputs,
}

pub(super) fn records(p: &Local) -> Records {
    Records::new(p, "services")
}

fn invalid(message: impl Into<String>) -> LocalError {
    LocalError::Invalid {
        type_name: Service::TYPE,
        message: message.into(),
    }
}

pub(super) fn check(s: &Service) -> Result<(), LocalError> {
    let name_ok = !s.name.is_empty()
        && !s.name.starts_with('.')
        && s.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        return Err(invalid(format!(
            "`name` {:?} must be letters, digits, '.', '_' or '-', not starting with '.'",
            s.name
        )));
    }
    if s.command.trim().is_empty() {
        return Err(invalid(format!(
            "service {}: `command` must not be empty",
            s.name
        )));
    }
    if !s.health_path().starts_with('/') {
        return Err(invalid(format!(
            "service {}: `health_path` {:?} must start with '/'",
            s.name,
            s.health_path()
        )));
    }
    Ok(())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether something already accepts connections on `127.0.0.1:<port>`.
async fn port_answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// The last lines of a log file (reading at most its last 64 KiB).
fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(the log is empty)".into(),
        Ok(text) => tail(&text, LOG_LINES),
        Err(e) => format!("(cannot read the log: {e})"),
    }
}

fn spawn_error(s: &Service, program: &Path, e: &io::Error) -> LocalError {
    let reason = match e.kind() {
        io::ErrorKind::NotFound if s.command.contains('/') => {
            format!("there is no program at {}", program.display())
        }
        io::ErrorKind::NotFound => "no such program on PATH".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied (is it executable?)".to_owned(),
        _ => e.to_string(),
    };
    LocalError::Spawn {
        service: s.name.clone(),
        command: s.command.clone(),
        reason,
    }
}

/// A free port on 127.0.0.1, as the kernel hands one out.
fn free_port() -> Result<u16, LocalError> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| invalid(format!("cannot find a free port on 127.0.0.1: {e}")))
}

/// The service with its port chosen (when 0) and put in place of `{port}`
/// in its arguments and environment.
fn with_port(s: &Service) -> Result<Service, LocalError> {
    let port = if s.port == 0 { free_port()? } else { s.port };
    let fill = |v: &String| v.replace("{port}", &port.to_string());
    Ok(Service {
        port,
        args: s.args.iter().map(fill).collect(),
        env: s.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        ..s.clone()
    })
}

/// Starts the service detached and waits until it is healthy.
pub(super) async fn start(
    p: &Local,
    s: &Service,
    token: &str,
) -> Result<ServiceOutputs, LocalError> {
    check(s)?;
    let s = &with_port(s)?;
    let cwd: PathBuf = s
        .dir
        .as_deref()
        .map_or_else(|| p.work_dir().to_path_buf(), |d| p.resolve(d));
    if !cwd.is_dir() {
        return Err(invalid(format!(
            "service {}: the working directory {} does not exist",
            s.name,
            cwd.display()
        )));
    }
    if port_answers(s.port).await {
        return Err(LocalError::PortInUse {
            service: s.name.clone(),
            port: s.port,
        });
    }

    let records = records(p);
    let log_path = records.dir().join(format!("{}.log", s.name));
    let log_existed = log_path.exists();
    let started_at = unix_now();
    let mut log = records.in_dir(|_| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| LocalError::io("open", &log_path, e))
    })?;
    let _ = writeln!(
        log,
        "--- dafnck: starting {} {} (unix time {started_at}) ---",
        s.command,
        s.args.join(" ")
    );
    let log_err = log
        .try_clone()
        .map_err(|e| LocalError::io("open", &log_path, e))?;

    // A path with a slash is taken as the shell would after `cd dir`.
    let program = if s.command.contains('/') {
        cwd.join(&s.command)
    } else {
        PathBuf::from(&s.command)
    };
    let spawned = std::process::Command::new(&program)
        .args(&s.args)
        .envs(&s.env)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own group: a terminal's Ctrl-C to the deploying program does
        // not reach it, and stopping it reaches its children.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            if !log_existed {
                let _ = std::fs::remove_file(&log_path);
                records.prune();
            }
            return Err(spawn_error(s, &program, &e));
        }
    };
    let pid = child.id();
    // Not yet reaped, so /proc/<pid> exists even if it already exited.
    let start_ticks = process::stat(pid).map_or(0, |st| st.start_ticks);

    // The Child is not kept: the service must outlive this program. A
    // thread only reaps it if it exits while this program still runs (so
    // no zombie is left) and tells the startup check how it ended.
    let (exited_tx, exited) = mpsc::channel();
    // Without the thread (it could not be spawned), `/proc` still tells.
    let _ = std::thread::Builder::new()
        .name(format!("dafnck-reap-{pid}"))
        .spawn(move || {
            let _ = exited_tx.send(child.wait());
        });

    let outputs = ServiceOutputs {
        pid,
        log_file: log_path.to_string_lossy().into_owned(),
        started_at,
        url: format!("http://127.0.0.1:{}", s.port),
        port: s.port,
        start_ticks,
    };
    let record = ServiceRecord {
        token: token.to_owned(),
        outputs: outputs.clone(),
    };
    // Recorded before the wait, so a crash during startup still finds it.
    let ready = match records.save(&s.name, &record) {
        Ok(()) => wait_healthy(s, &outputs, exited).await,
        Err(e) => Err(e),
    };
    match ready {
        Ok(()) => Ok(outputs),
        Err(e) => {
            let stopped = process::stop(pid, start_ticks, secs(s.stop_timeout_secs)).await;
            records.remove(&s.name)?;
            stopped?;
            Err(match e {
                // The tail is read once the process is stopped.
                LocalError::Startup(mut f) => {
                    f.log_tail = log_tail(&log_path);
                    LocalError::Startup(f)
                }
                other => other,
            })
        }
    }
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// How a process that is no longer running ended, as the reaper thread
/// tells (it reaps the process just before it sends). Borrowed mutably:
/// a shared borrow of a `Receiver` (not `Sync`) would make the future not `Send`.
async fn exit_status(exited: &mut mpsc::Receiver<io::Result<ExitStatus>>) -> String {
    for _ in 0..50 {
        match exited.try_recv() {
            Ok(Ok(status)) => return describe(status),
            Ok(Err(e)) => return format!("ended (it could not be waited for: {e})"),
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    "ended".to_owned()
}

/// Polls the health check until it answers 2xx, the process ends, or the
/// startup timeout passes.
async fn wait_healthy(
    s: &Service,
    started: &ServiceOutputs,
    mut exited: mpsc::Receiver<io::Result<ExitStatus>>,
) -> Result<(), LocalError> {
    let deadline = Instant::now() + secs(s.startup_timeout_secs);
    loop {
        let ended = if process::is_running(started.pid, started.start_ticks) {
            None
        } else {
            Some(exit_status(&mut exited).await)
        };
        let failed = |problem| {
            LocalError::Startup(Box::new(StartupFailure {
                service: s.name.clone(),
                url: s.health_url(),
                problem,
                log_file: started.log_file.clone(),
                log_tail: String::new(),
            }))
        };
        if let Some(status) = ended {
            return Err(failed(StartupProblem::Exited(status)));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = left.clamp(Duration::from_millis(100), HEALTH_ATTEMPT);
        let last = match http::get(s.port, s.health_path(), attempt).await {
            Ok(r) if r.is_success() => return Ok(()),
            Ok(r) => format!("answered {}", r.status),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(failed(StartupProblem::Unhealthy {
                timeout_secs: s.startup_timeout_secs,
                last,
            }));
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

/// The running process as recorded, else as the state has it.
fn current(
    records: &Records,
    id: &str,
    outputs: Option<ServiceOutputs>,
) -> Result<Option<(String, ServiceOutputs)>, LocalError> {
    Ok(match records.load::<ServiceRecord>(id)? {
        Some(r) => Some((r.token, r.outputs)),
        None => outputs.filter(|o| o.pid != 0).map(|o| (String::new(), o)),
    })
}

/// The service `name` started, if its process still runs.
pub(super) fn running(p: &Local, name: &str) -> Result<Option<ServiceOutputs>, LocalError> {
    Ok(records(p)
        .load::<ServiceRecord>(name)?
        .map(|r| r.outputs)
        .filter(|o| process::is_running(o.pid, o.start_ticks)))
}

/// Stops the service `name` (its recorded process, else the one in
/// `outputs`), and removes its log and record.
pub(super) async fn stop(
    p: &Local,
    name: &str,
    outputs: Option<&ServiceOutputs>,
    grace: Duration,
) -> Result<(), LocalError> {
    let records = records(p);
    let recorded = records.load::<ServiceRecord>(name)?.map(|r| r.outputs);
    if let Some(o) = recorded.as_ref().or(outputs) {
        process::stop(o.pid, o.start_ticks, grace).await?;
        remove_file_if_present(Path::new(&o.log_file))?;
    }
    remove_file_if_present(&records.dir().join(format!("{name}.log")))?;
    records.remove(name)
}

/// Serves [`Service`].
pub(super) struct ServiceHandler;

#[async_trait]
impl ResourceHandler for ServiceHandler {
    type Resource = Service;
    type Context = Local;

    async fn create(&self, p: &Local, req: Create<Service>) -> CreateResult<Service> {
        let s = req.inputs;
        check(&s)?;
        if let Some(old) = records(p).load::<ServiceRecord>(&s.name)? {
            if process::is_running(old.outputs.pid, old.outputs.start_ticks) {
                return Err(invalid(format!(
                    "service {}: a service of that name already runs from this work dir (pid \
                     {}); names must be unique per work dir",
                    s.name, old.outputs.pid
                ))
                .into());
            }
        }
        let outputs = start(p, &s, &req.token).await?;
        Ok(Made {
            id: s.name,
            outputs,
        })
    }

    async fn read(&self, p: &Local, req: kit::Read<Service>) -> ReadResult<Service> {
        let inputs = req.recorded.decode()?;
        let name = req.id.clone().unwrap_or_else(|| inputs.name.clone());
        let Some(record) = records(p).load::<ServiceRecord>(&name)? else {
            return Ok(None);
        };
        // Without an id, only the create that carried this token counts.
        if req.id.is_none() && req.token.as_deref() != Some(record.token.as_str()) {
            return Ok(None);
        }
        if !process::is_running(record.outputs.pid, record.outputs.start_ticks) {
            return Ok(None);
        }
        Ok(Some(Found {
            id: name,
            inputs,
            outputs: record.outputs,
        }))
    }

    async fn update(&self, p: &Local, req: Update<Service>) -> UpdateResult<Service> {
        let s = req.inputs;
        check(&s)?;
        let records = records(p);
        let running = current(&records, &req.id, req.old_outputs.decode().ok())?;
        let timeouts_only = req
            .changed
            .iter()
            .all(|f| f == "startup_timeout_secs" || f == "stop_timeout_secs");
        if let Some((_, outputs)) = &running {
            if timeouts_only && process::is_running(outputs.pid, outputs.start_ticks) {
                return Ok(outputs.clone());
            }
        }
        let token = match running {
            Some((token, outputs)) => {
                process::stop(outputs.pid, outputs.start_ticks, secs(s.stop_timeout_secs)).await?;
                token
            }
            None => String::new(),
        };
        Ok(start(p, &s, &token).await?)
    }

    async fn delete(&self, p: &Local, req: Delete<Service>) -> Result<(), ProviderError> {
        let s = req.inputs.decode()?;
        let records = records(p);
        if let Some((_, outputs)) = current(&records, &req.id, req.outputs.decode().ok())? {
            process::stop(outputs.pid, outputs.start_ticks, secs(s.stop_timeout_secs)).await?;
            remove_file_if_present(Path::new(&outputs.log_file))?;
        }
        remove_file_if_present(&records.dir().join(format!("{}.log", req.id)))?;
        Ok(records.remove(&req.id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> Service {
        Service {
            name: name.into(),
            command: "true".into(),
            port: 1234,
            ..Default::default()
        }
    }

    #[test]
    fn names_must_be_file_names() {
        assert!(check(&service("web-1.blue_a")).is_ok());
        for bad in ["", ".hidden", "a/b", "a b", ".."] {
            let e = check(&service(bad)).unwrap_err().to_string();
            assert!(e.contains("`name`"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn command_and_health_path_are_checked() {
        let e = check(&Service {
            command: " ".into(),
            ..service("web")
        })
        .unwrap_err();
        assert!(e.to_string().contains("`command`"), "{e}");
        let e = check(&Service {
            health_path: Some("health".into()),
            ..service("web")
        })
        .unwrap_err();
        assert!(e.to_string().contains("`health_path`"), "{e}");
        assert_eq!(service("web").health_url(), "http://127.0.0.1:1234/health");
    }

    #[test]
    fn port_zero_picks_a_free_port_and_fills_it_in() {
        let mut s = service("web");
        s.port = 0;
        s.args = vec!["--port".into(), "{port}".into()];
        s.env.insert("ADDR".into(), "127.0.0.1:{port}".into());
        let r = with_port(&s).unwrap();
        assert_ne!(r.port, 0);
        assert_eq!(r.args, vec!["--port".to_string(), r.port.to_string()]);
        assert_eq!(r.env["ADDR"], format!("127.0.0.1:{}", r.port));
        // A fixed port is kept.
        assert_eq!(with_port(&service("web")).unwrap().port, 1234);
    }

    #[test]
    fn missing_fields_take_the_defaults() {
        let s: Service = serde_json::from_str(r#"{"name": "web", "port": 80}"#).unwrap();
        assert_eq!((s.startup_timeout_secs, s.stop_timeout_secs), (30, 10));
        assert_eq!(Service::force_new_fields(), &["name"]);
    }

    #[test]
    fn log_tails_show_the_last_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("web.log");
        assert!(log_tail(&path).contains("cannot read the log"));
        std::fs::write(&path, "").unwrap();
        assert_eq!(log_tail(&path), "(the log is empty)");
        let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = log_tail(&path);
        assert!(t.starts_with("line 31\n") && t.ends_with("line 50"), "{t}");
    }
}
