//! The quickstart as a newcomer runs it: real processes, real files, real
//! HTTP on 127.0.0.1, in a temporary directory. up → no-change preview →
//! drift after an out-of-band kill and edit → repair → a version change →
//! destroy, which leaves no process and no file behind.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn quickstart() -> PathBuf {
    support::example("quickstart")
}

/// Two consecutive free ports on 127.0.0.1.
fn free_ports() -> u16 {
    for _ in 0..50 {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports");
}

struct Deployment {
    dir: tempfile::TempDir,
    port: u16,
}

impl Deployment {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let base = format!("base_port={}", self.port);
        let out = Command::new(quickstart())
            .args(args)
            .args(["--config", &base])
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run the quickstart");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
        out
    }

    fn pid(&self, name: &str) -> u32 {
        let out = self.ok(&["state", "show", name]);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        doc["outputs"]["pid"].as_u64().unwrap() as u32
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // Whatever happened, stop what the test started.
        let _ = self.run(&["destroy", "--yes"]);
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split("\r\n\r\n")
        .nth(1)
        .map(|b| b.trim_end().to_owned())
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn the_quickstart_deploys_drifts_repairs_updates_and_destroys() {
    let d = Deployment {
        dir: tempfile::tempdir().unwrap(),
        port: free_ports(),
    };
    let out = d.ok(&["up", "--yes"]);
    assert!(out.contains("Apply complete"), "{out}");
    for port in [d.port, d.port + 1] {
        assert_eq!(get(port, "/version").as_deref(), Some("v1"));
        assert!(get(port, "/metrics")
            .unwrap()
            .contains("demo_requests_total"));
    }
    let site = d.dir.path().join("quickstart-site");
    assert!(std::fs::read_to_string(site.join("index.html"))
        .unwrap()
        .contains("hello from v1"));

    let (code, out, _) = d.run(&["preview", "--detailed-exitcode"]);
    assert_eq!(code, 0, "no changes: {out}");

    // Out of band: kill a replica, edit a file.
    let pid = d.pid("web-0");
    assert!(alive(pid));
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    std::fs::write(site.join("index.html"), "tampered\n").unwrap();
    for _ in 0..50 {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out, err) = d.run(&["drift", "--json"]);
    assert_eq!(code, 2, "drift found: {out} {err}");
    let drift: serde_json::Value = serde_json::from_str(&out).unwrap();
    let named: Vec<(&str, &str)> = drift
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x["kind"].as_str().unwrap()))
        .collect();
    assert!(
        named.contains(&("web-0", "deleted")) && named.contains(&("index", "changed")),
        "{named:?}"
    );

    d.ok(&["up", "--yes"]);
    assert_eq!(get(d.port, "/version").as_deref(), Some("v1"));
    assert!(std::fs::read_to_string(site.join("index.html"))
        .unwrap()
        .contains("hello from v1"));
    let (code, _, _) = d.run(&["drift"]);
    assert_eq!(code, 0);

    // A new version: preview shows updates, up restarts both replicas.
    let out = d.ok(&["preview", "--config", "version=v2"]);
    assert!(
        out.contains("~ web-0") && out.contains("0 to replace"),
        "{out}"
    );
    let before = d.pid("web-1");
    d.ok(&["up", "--yes", "--config", "version=v2"]);
    for port in [d.port, d.port + 1] {
        assert_eq!(get(port, "/version").as_deref(), Some("v2"));
    }
    assert_ne!(d.pid("web-1"), before, "the replica restarted");
    assert!(!alive(before));

    // Destroy leaves no process and no file behind.
    let pids = [d.pid("web-0"), d.pid("web-1")];
    d.ok(&["destroy", "--yes", "--config", "version=v2"]);
    for pid in pids {
        assert!(!alive(pid), "replica {pid} still runs");
    }
    assert!(get(d.port, "/health").is_none());
    assert!(!site.exists(), "the site directory is gone");
    let left: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".dafnck" && n != ".dafnck-local")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
