//! [`Command`] (`local:exec:Command`): shell commands run when the resource
//! is created, updated and deleted, like Terraform's local-exec.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;

use super::error::LocalError;
use super::file::sha256_hex;
use super::record::Records;
use super::{tail, Local};

/// Lines of standard error an error message shows.
const STDERR_LINES: usize = 20;

/// Shell commands run with `sh -c` on this machine: `create` when the
/// resource is created, `update` (or `create` again) when it changes,
/// `delete` when it is deleted. Standard output, trimmed, becomes the
/// `stdout` output.
///
/// No field forces a replacement: any change (of a command, `dir`, `env`
/// or `triggers`) runs `update`, or `create` again when `update` is `None`
/// — except a change of `delete` alone, which is only recorded. Put values
/// whose change should re-run the command in `triggers`, for example
/// another resource's `sha256`.
///
/// Commands inherit this process's environment plus `env`, run in `dir`
/// (relative to the provider's work dir; default the work dir itself) with
/// standard input closed, and fail the step when they exit non-zero; the
/// error shows the exit code and the last lines of standard error.
///
/// # Drift
/// A command has no state to read back: `read` returns the recorded
/// inputs and the outputs of its last run, which the provider keeps in
/// `<work dir>/.dafnck-local/commands/<id>.json` (the engine's read request
/// carries no outputs). It reports the command deleted only when that
/// record is gone, and the next `up` then runs it again.
///
/// ```
/// use dafnck_providers::local::Command;
/// let build = Command {
///     create: "cargo build --release && echo target/release/app".into(),
///     delete: Some("rm -rf target/release/app".into()),
///     ..Default::default()
/// };
/// # let _ = build;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "local:exec:Command", outputs = CommandOutputs)]
pub struct Command {
    /// Run on create (and on update when `update` is `None`).
    pub create: String,
    /// Run on update; `None` runs `create` again.
    pub update: Option<String>,
    /// Run on delete; `None` runs nothing.
    pub delete: Option<String>,
    /// The working directory, relative to the provider's work dir; `None`
    /// is the work dir.
    pub dir: Option<String>,
    /// Environment variables added to this process's.
    pub env: BTreeMap<String, String>,
    /// Arbitrary values whose change re-runs the command.
    pub triggers: BTreeMap<String, String>,
}

/// What a [`Command`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutputs {
    /// The standard output of its last run (`create` or `update`), trimmed.
    pub stdout: String,
}

/// What the provider keeps per command.
#[derive(Serialize, Deserialize, Debug)]
struct CommandRecord {
    /// The idempotency token of the create, to find it after a crash.
    token: String,
    /// The outputs of the last run.
    outputs: CommandOutputs,
}

fn records(p: &Local) -> Records {
    Records::new(p, "commands")
}

/// The id of a command: a digest of its `create` and its create's token,
/// so a crashed create can be found again from what the journal recorded.
fn id_of(create: &str, token: &str) -> String {
    let digest = sha256_hex(format!("{create}\0{token}").as_bytes());
    format!("cmd-{}", &digest[..16])
}

/// How a process ended, in words.
pub(super) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended ({status})"),
    }
}

/// The first line of a command, shortened, for messages.
fn summary(script: &str) -> String {
    let first = script.trim().lines().next().unwrap_or_default();
    let mut short: String = first.chars().take(80).collect();
    if short.len() < first.len() || script.trim().lines().nth(1).is_some() {
        short.push('…');
    }
    short
}

/// Runs `script` with `sh -c` and returns its trimmed standard output.
async fn run(
    p: &Local,
    script: &str,
    dir: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<String, LocalError> {
    let cwd: PathBuf = dir.map_or_else(|| p.work_dir().to_path_buf(), |d| p.resolve(d));
    if !cwd.is_dir() {
        return Err(LocalError::Invalid {
            type_name: Command::TYPE,
            message: format!("the working directory {} does not exist", cwd.display()),
        });
    }
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&cwd)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A time limit that abandons the call stops the command too.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| LocalError::io("run sh in", &cwd, e))?;
    if !output.status.success() {
        let stderr = tail(&String::from_utf8_lossy(&output.stderr), STDERR_LINES);
        return Err(LocalError::CommandFailed {
            command: summary(script),
            status: describe(output.status),
            stderr: if stderr.is_empty() {
                "its standard error was empty".into()
            } else {
                format!("last lines of its standard error:\n{stderr}")
            },
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn check(c: &Command) -> Result<(), LocalError> {
    if c.create.trim().is_empty() {
        return Err(LocalError::Invalid {
            type_name: Command::TYPE,
            message: "`create` must not be empty".into(),
        });
    }
    Ok(())
}

/// Serves [`Command`].
pub(super) struct CommandHandler;

#[async_trait]
impl ResourceHandler for CommandHandler {
    type Resource = Command;
    type Context = Local;

    async fn create(&self, p: &Local, req: Create<Command>) -> CreateResult<Command> {
        let c = req.inputs;
        check(&c)?;
        let stdout = run(p, &c.create, c.dir.as_deref(), &c.env).await?;
        let id = id_of(&c.create, &req.token);
        let outputs = CommandOutputs { stdout };
        records(p).save(
            &id,
            &CommandRecord {
                token: req.token.clone(),
                outputs: outputs.clone(),
            },
        )?;
        Ok(Made { id, outputs })
    }

    async fn read(&self, p: &Local, req: Read<Command>) -> ReadResult<Command> {
        let inputs = req.recorded.decode()?;
        let id = match (&req.id, &req.token) {
            (Some(id), _) => id.clone(),
            (None, Some(token)) => id_of(&inputs.create, token),
            (None, None) => return Ok(None),
        };
        let Some(record) = records(p).load::<CommandRecord>(&id)? else {
            return Ok(None);
        };
        Ok(Some(Found {
            id,
            inputs,
            outputs: record.outputs,
        }))
    }

    async fn update(&self, p: &Local, req: Update<Command>) -> UpdateResult<Command> {
        let c = req.inputs;
        check(&c)?;
        if req.changed.iter().all(|f| f == "delete") {
            return req.old_outputs.decode();
        }
        let script = c.update.as_deref().unwrap_or(&c.create);
        let stdout = run(p, script, c.dir.as_deref(), &c.env).await?;
        let records = records(p);
        let token = records
            .load::<CommandRecord>(&req.id)?
            .map(|r| r.token)
            .unwrap_or_default();
        let outputs = CommandOutputs { stdout };
        records.save(
            &req.id,
            &CommandRecord {
                token,
                outputs: outputs.clone(),
            },
        )?;
        Ok(outputs)
    }

    async fn delete(&self, p: &Local, req: Delete<Command>) -> Result<(), ProviderError> {
        let c = req.inputs.decode()?;
        if let Some(script) = c.delete.as_deref().filter(|s| !s.trim().is_empty()) {
            run(p, script, c.dir.as_deref(), &c.env).await?;
        }
        Ok(records(p).remove(&req.id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_the_command_and_the_token() {
        let a = id_of("echo hi", "t1");
        assert_eq!(a, id_of("echo hi", "t1"));
        assert_ne!(a, id_of("echo hi", "t2"));
        assert_ne!(a, id_of("echo ho", "t1"));
        assert!(a.starts_with("cmd-") && a.len() == 20, "{a}");
    }

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(summary("echo hi"), "echo hi");
        assert_eq!(summary("set -e\necho hi"), "set -e…");
        assert_eq!(summary(&"x".repeat(100)).chars().count(), 81);
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_code_and_stderr_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Local::new(tmp.path());
        let script = "for i in $(seq 1 30); do echo line$i >&2; done; exit 3";
        let e = run(&p, script, None, &BTreeMap::new()).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("exited with code 3"), "{msg}");
        assert!(msg.contains("line30") && msg.contains("line11"), "{msg}");
        assert!(!msg.contains("line10\n"), "{msg}");
    }

    #[tokio::test]
    async fn output_is_trimmed_and_env_and_dir_apply() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        let p = Local::new(tmp.path());
        let env = BTreeMap::from([("GREETING".to_string(), "hi".to_string())]);
        let out = run(
            &p,
            "echo \"$GREETING\"; basename \"$PWD\"",
            Some("sub"),
            &env,
        )
        .await
        .unwrap();
        assert_eq!(out, "hi\nsub");
    }
}
