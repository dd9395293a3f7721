//! What the fake API server's tests share: a server per test, a plain
//! HTTP/1.1 client for the raw API, and kubectl.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A fake API server for one test, with a kubeconfig for it.
pub struct Fake {
    pub server: dafnck_kube_fake::Running,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fake {
    pub fn start() -> Fake {
        Self::with(dafnck_kube_fake::spawn().expect("the fake API server starts"))
    }

    /// A server whose controllers do not run during the test (they step
    /// once an hour), for tests of the API alone.
    pub fn still() -> Fake {
        let server = dafnck_kube_fake::spawn_on("127.0.0.1:0", Duration::from_secs(3600), false);
        Self::with(server.expect("the fake API server starts"))
    }

    fn with(server: dafnck_kube_fake::Running) -> Fake {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .expect("the kubeconfig is written");
        Fake {
            server,
            kubeconfig,
            _dir: dir,
        }
    }

    /// A server for test `test`, when kubectl can run here (see
    /// [`have_kubectl`]).
    pub fn with_kubectl(test: &str) -> Option<Fake> {
        have_kubectl(test).then(Fake::start)
    }

    /// Writes `manifest` to file `name` and runs `kubectl apply [extra] -f`
    /// on it, expecting success; kubectl's output.
    pub fn apply_file(&self, name: &str, manifest: &str, extra: &[&str]) -> String {
        let path = self.file(name, manifest);
        let mut args = vec!["apply"];
        args.extend_from_slice(extra);
        args.extend(["-f", path.to_str().expect("a UTF-8 path")]);
        self.kubectl_ok(&args)
    }

    /// Writes `text` to a file in the test's directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self._dir.path().join(name);
        std::fs::write(&p, text).expect("a manifest is written");
        p
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        // The discovery cache in the test's directory, not ~/.kube (each
        // server has a port of its own).
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self._dir.path().join("kube-cache"))
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl and expects success; its standard output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends one request; the status code and the JSON body.
    pub fn http(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let (code, _, body) = self.http_with(method, path, content_type, "application/json", body);
        (code, body)
    }

    /// Sends one request with an `Accept` header; the status code, the
    /// response's content type and its JSON body.
    pub fn http_with(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        accept: &str,
        body: &str,
    ) -> (u16, String, Value) {
        let mut s = TcpStream::connect(self.server.addr()).expect("the server accepts");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: dafnck-test/1\r\nAccept: {accept}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.server.addr(),
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("a response");
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").expect("a response head");
        let code: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status code");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        (
            code,
            content_type,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// A JSON merge patch of `path`.
    pub fn merge_patch(&self, path: &str, patch: &str) -> (u16, Value) {
        self.http("PATCH", path, "application/merge-patch+json", patch)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.http("GET", path, "application/json", "")
    }

    /// Opens a watch at `path` and collects events until `done` says
    /// enough or `timeout` passes.
    pub fn watch(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let mut s = TcpStream::connect(self.server.addr()).expect("the server accepts");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let deadline = Instant::now() + timeout;
        let mut line = String::new();
        // The head.
        loop {
            line.clear();
            r.read_line(&mut line).expect("a response head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut events = Vec::new();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut pending = String::new();
        while Instant::now() < deadline && !done(&events) {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    // Chunk sizes and the blank lines between chunks are
                    // not JSON; event lines may span chunks.
                    let t = line.trim_end_matches(['\r', '\n']);
                    if t.starts_with('{') || !pending.is_empty() {
                        pending.push_str(t);
                        if let Ok(v) = serde_json::from_str::<Value>(&pending) {
                            events.push(v);
                            pending.clear();
                        }
                    }
                }
                Err(_) => continue,
            }
        }
        events
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Whether kubectl can run here; when it cannot, the test is skipped with a
/// message, or fails when `DAFNCK_REQUIRE_SERVERS=1`.
pub fn have_kubectl(test: &str) -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        // Past the test harness's capture, so a skip shows in every run.
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    }
    ok
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The condition of type `typ` in `object`'s status.
pub fn condition(object: &Value, typ: &str) -> Option<Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == typ)
        .cloned()
}

/// The managers that own `spec.replicas` in `object`'s managed fields.
pub fn replicas_owners(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .filter_map(|e| e["manager"].as_str().map(String::from))
        .collect()
}
