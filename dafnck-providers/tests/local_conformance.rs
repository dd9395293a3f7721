//! The local provider passes the provider conformance suite, for each of
//! its five types, on this machine (a temporary work dir; services are
//! `python3 -m http.server` on free loopback ports).
#![cfg(feature = "local")]

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::local::{self, Command, Directory, File, Service, ServiceGroup};

/// Where the provider keeps a command's record.
fn command_record(work: &std::path::Path, id: &str) -> PathBuf {
    work.join(".dafnck-local/commands")
        .join(format!("{id}.json"))
}

/// What a user at a shell does to each type.
enum Shell {
    /// `chmod 700`, `rmdir`.
    Directory,
    /// Rewrites the file, `rm`.
    File,
    /// Nothing a read sees changes; `rm` of the command's record.
    Command(PathBuf),
    /// `kill` of the process (a service: deleted; a group: one replica
    /// fewer; all replicas: deleted).
    Processes,
}

/// The process ids in a service's or a group's outputs.
fn pids(found: &Observed) -> Vec<i64> {
    let outputs: serde_json::Value = found.outputs.deserialize_into().unwrap_or_default();
    let one = outputs["pid"].as_i64();
    let many = outputs["instances"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|o| o["pid"].as_i64())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    one.into_iter().chain(many).collect()
}

fn kill(pid: i64) -> Result<(), String> {
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("kill {pid}: {status}"))
}

/// Waits until `pid` is gone (it was killed; the provider checks whether
/// it runs).
async fn gone(pid: i64) {
    for _ in 0..100 {
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[async_trait]
impl OutOfBand for Shell {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let path = PathBuf::from(&found.id);
        match self {
            Shell::Directory => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| e.to_string())?;
            }
            Shell::File => std::fs::write(&path, "changed by hand").map_err(|e| e.to_string())?,
            Shell::Command(_) => return Ok(false),
            Shell::Processes => {
                let pids = pids(found);
                if pids.len() < 2 {
                    // A lone service has no state a read could see change.
                    return Ok(false);
                }
                kill(pids[0])?;
                gone(pids[0]).await;
            }
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let path = PathBuf::from(&found.id);
        match self {
            Shell::Directory => std::fs::remove_dir(&path).map_err(|e| e.to_string()),
            Shell::File => std::fs::remove_file(&path).map_err(|e| e.to_string()),
            Shell::Command(dir) => {
                std::fs::remove_file(command_record(dir, &found.id)).map_err(|e| e.to_string())
            }
            Shell::Processes => {
                for pid in pids(found) {
                    kill(pid)?;
                    gone(pid).await;
                }
                Ok(())
            }
        }
    }
}

fn web(name: &str) -> Service {
    Service {
        name: name.into(),
        command: "python3".into(),
        args: ["-m", "http.server", "{port}", "--bind", "127.0.0.1"]
            .map(String::from)
            .to_vec(),
        port: 0,
        health_path: Some("/".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_local_provider_passes_the_provider_conformance_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_path_buf();
    let provider = local::Provider::new(&work);
    let group = ServiceGroup {
        name: "pool".into(),
        replicas: 2,
        command: "python3".into(),
        args: ["-m", "http.server", "{port}", "--bind", "127.0.0.1"]
            .map(String::from)
            .to_vec(),
        health_path: Some("/".into()),
        ..Default::default()
    };
    let samples = [
        Sample::new(
            Directory {
                path: "site".into(),
                mode: Some(0o755),
            },
            Directory {
                path: "site".into(),
                mode: Some(0o750),
            },
            Shell::Directory,
        ),
        Sample::new(
            File {
                path: "site/index.html".into(),
                content: "one".into(),
                mode: Some(0o644),
            },
            File {
                path: "site/index.html".into(),
                content: "two".into(),
                mode: Some(0o644),
            },
            Shell::File,
        ),
        Sample::new(
            Command {
                create: "echo made".into(),
                ..Default::default()
            },
            Command {
                create: "echo made".into(),
                triggers: [("version".to_string(), "2".to_string())].into(),
                ..Default::default()
            },
            Shell::Command(work.clone()),
        ),
        Sample::new(
            web("web"),
            Service {
                stop_timeout_secs: 5,
                ..web("web")
            },
            Shell::Processes,
        ),
        Sample::new(
            group.clone(),
            ServiceGroup {
                replicas: 3,
                ..group
            },
            Shell::Processes,
        ),
    ];
    conformance(&provider, &samples).await.unwrap();
}
