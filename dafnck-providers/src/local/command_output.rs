//! [`CommandOutput`] (`local:exec:CommandOutput`): a data source that runs
//! a program at every preview and up and answers with what it printed —
//! a version from `git describe`, a key from a password manager's command
//! line, a value another tool computes. Read-only by contract: the program
//! is run to ask, so it must not change anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::command::describe;
use super::error::LocalError;
use super::{tail, Local};

/// How long a program may run when the query sets no `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Lines of standard error an error message shows.
const STDERR_LINES: usize = 20;

/// How long to wait for a finished program's pipes to close (a process it
/// left running in the background may hold them open).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs a program when the stack is previewed or applied, and answers with
/// its standard output and exit code.
///
/// The program runs directly, its `args` passed as they are: no shell
/// interprets them (`$HOME`, `;` and `*` arrive literally), unless `shell`
/// asks for one. It inherits this process's environment plus `env`, runs
/// in `dir` (relative to the provider's work dir; default the work dir)
/// with standard input closed, and is stopped (its whole process group)
/// after `timeout_secs`.
///
/// # Errors
/// An exit code other than 0 (or one of `ok_exit_codes`), a death by
/// signal, a timeout or a program that cannot be started fail the read;
/// the engine's message names the data source, and the provider's names
/// the command and shows the last lines of its standard error:
///
/// ```text
/// data source "version" (local:exec:CommandOutput) could not be read: command `git describe --tags`
/// exited with code 128; last lines of its standard error:
/// fatal: No names found, cannot describe anything.
/// ```
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::local::{CommandOutput, File};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let version = stack.read("version", CommandOutput {
///         program: "git".into(),
///         args: vec!["describe".into(), "--tags".into(), "--always".into()],
///         ..Default::default()
///     });
///     stack.add("stamp", File { path: "site/VERSION".into(), content: version.out().stdout, mode: None });
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "local:exec:CommandOutput", outputs = CommandOutputOutputs)]
pub struct CommandOutput {
    /// The program: a name looked up on `PATH`, or a path (a relative one,
    /// holding a `/`, is relative to the provider's work dir). With
    /// `shell`, a script for `sh -c`. Known when planning: a value, config,
    /// or another stack's export.
    pub program: Input<String>,
    /// Its arguments, each passed as one argument (with `shell`: the
    /// script's `$1`, `$2`, ...).
    #[serde(default)]
    pub args: Vec<Input<String>>,
    /// Run `program` as a script with `sh -c`; off by default.
    #[serde(default)]
    pub shell: bool,
    /// The working directory, relative to the provider's work dir; `None`
    /// is the work dir.
    #[serde(default)]
    pub dir: Option<String>,
    /// Environment variables added to this process's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds the program may run before it is stopped and the read
    /// fails; `None` is [`DEFAULT_TIMEOUT_SECS`].
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Exit codes besides 0 that are an answer, not an error (`grep`
    /// exits 1 when nothing matches).
    #[serde(default)]
    pub ok_exit_codes: Vec<i32>,
    /// Keep the standard output as printed; by default its leading and
    /// trailing whitespace (the final newline) is trimmed.
    #[serde(default)]
    pub keep_whitespace: bool,
}

/// What a [`CommandOutput`] answers.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutputOutputs {
    /// What the program printed on standard output (UTF-8 text; bytes
    /// that are not are replaced), trimmed unless `keep_whitespace`.
    pub stdout: String,
    /// Its exit code: 0, or one of `ok_exit_codes`.
    pub exit_code: i32,
}

/// A query's value for `what` (the engine resolved it before asking).
fn known<'a>(input: &'a Input<String>, what: &str) -> Result<&'a str, LocalError> {
    input.as_value().map(String::as_str).ok_or_else(|| {
        invalid(format!(
            "the {what} of a command lookup must be known when planning"
        ))
    })
}

fn invalid(message: String) -> LocalError {
    LocalError::Invalid {
        type_name: CommandOutput::TYPE,
        message,
    }
}

/// The command as a person would type it, shortened, for messages.
fn shown(program: &str, args: &[&str], shell: bool) -> String {
    let quote = |s: &str| {
        if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let mut words = Vec::with_capacity(args.len() + 3);
    if shell {
        words.extend(["sh".to_owned(), "-c".to_owned(), quote(program.trim())]);
    } else {
        words.push(quote(program));
    }
    words.extend(args.iter().map(|a| quote(a)));
    let all = words.join(" ");
    let mut short: String = all.chars().take(120).collect();
    if short.len() < all.len() {
        short.push('…');
    }
    short
}

/// Reads `pipe` to its end into `into`, keeping what came if it never ends.
async fn drain(mut pipe: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&buf[..n]);
    }
}

fn taken(buf: &Mutex<Vec<u8>>) -> String {
    let bytes = std::mem::take(&mut *buf.lock().unwrap_or_else(|e| e.into_inner()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs the query's program and returns its answer.
pub(super) async fn run(p: &Local, q: &CommandOutput) -> Result<CommandOutputOutputs, LocalError> {
    let program = known(&q.program, "program")?;
    if program.trim().is_empty() {
        return Err(invalid("`program` must not be empty".into()));
    }
    let args = q
        .args
        .iter()
        .map(|a| known(a, "args"))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = match q.timeout_secs {
        Some(0) => return Err(invalid("`timeout_secs` must be at least 1".into())),
        Some(secs) => secs,
        None => DEFAULT_TIMEOUT_SECS,
    };
    let command = shown(program, &args, q.shell);
    // `./tool` is `tool` in the work dir.
    let program_path = || p.resolve(program.trim_start_matches("./"));
    let cwd: PathBuf = q
        .dir
        .as_deref()
        .map_or_else(|| p.work_dir().to_path_buf(), |d| p.resolve(d));
    if !cwd.is_dir() {
        return Err(invalid(format!(
            "the working directory {} of `{command}` does not exist",
            cwd.display()
        )));
    }
    let mut cmd = if q.shell {
        let mut c = tokio::process::Command::new("sh");
        // `sh -c SCRIPT NAME ARGS...`: NAME is `$0`, ARGS are `$1`...
        c.arg("-c").arg(program).arg("sh");
        c
    } else if program.contains('/') {
        tokio::process::Command::new(program_path())
    } else {
        tokio::process::Command::new(program)
    };
    cmd.args(&args)
        .current_dir(&cwd)
        .envs(&q.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout stops what it started too.
        .process_group(0)
        // A read the engine abandons stops the program.
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound if q.shell => "there is no `sh` on PATH".to_owned(),
            std::io::ErrorKind::NotFound if program.contains('/') => {
                format!("there is no program at {}", program_path().display())
            }
            std::io::ErrorKind::NotFound => "no such program on PATH".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (is it executable?)".to_owned()
            }
            _ => e.to_string(),
        };
        LocalError::CommandFailed {
            command: command.clone(),
            status: "could not be started".into(),
            stderr: reason,
        }
    })?;
    let (out, err) = (Arc::default(), Arc::default());
    let readers = [
        child
            .stdout
            .take()
            .map(|pipe| tokio::spawn(drain(pipe, Arc::clone(&out)))),
        child
            .stderr
            .take()
            .map(|pipe| tokio::spawn(drain(pipe, Arc::clone(&err)))),
    ];
    let status = match tokio::time::timeout(Duration::from_secs(limit), child.wait()).await {
        Ok(status) => Some(status.map_err(|e| LocalError::io("wait for", &cwd, e))?),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill().await;
            None
        }
    };
    let _ = tokio::time::timeout(DRAIN_LIMIT, async {
        for reader in readers.into_iter().flatten() {
            let _ = reader.await;
        }
    })
    .await;
    let (stdout, stderr) = (taken(&out), taken(&err));
    let failed = |status: String| {
        let stderr = tail(&stderr, STDERR_LINES);
        LocalError::CommandFailed {
            command: command.clone(),
            status,
            stderr: if stderr.is_empty() {
                "its standard error was empty".into()
            } else {
                format!("last lines of its standard error:\n{stderr}")
            },
        }
    };
    let Some(status) = status else {
        return Err(failed(format!(
            "did not finish within {limit}s (timeout_secs) and was stopped"
        )));
    };
    let exit_code = match status.code() {
        Some(code) if code == 0 || q.ok_exit_codes.contains(&code) => code,
        _ => return Err(failed(describe(status))),
    };
    Ok(CommandOutputOutputs {
        stdout: if q.keep_whitespace {
            stdout
        } else {
            stdout.trim().to_owned()
        },
        exit_code,
    })
}

data_handler!(CommandOutputHandler, CommandOutput, Local, |p, _, q| {
    run(p, &q).await.map_err(ProviderError::from)
});

#[cfg(test)]
mod tests {
    use super::*;

    fn query(program: &str, args: &[&str]) -> CommandOutput {
        CommandOutput {
            program: program.into(),
            args: args.iter().map(|a| (*a).into()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn commands_are_shown_as_typed_and_quoted_where_needed() {
        assert_eq!(
            shown("git", &["describe", "--tags"], false),
            "git describe --tags"
        );
        assert_eq!(
            shown("echo", &["a b", "", "$HOME"], false),
            "echo 'a b' '' '$HOME'"
        );
        assert_eq!(
            shown("echo \"$1\"", &["it's"], true),
            "sh -c 'echo \"$1\"' 'it'\\''s'"
        );
        assert_eq!(shown(&"x".repeat(200), &[], false).chars().count(), 121);
    }

    #[tokio::test]
    async fn arguments_reach_the_program_literally_without_a_shell() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Local::new(tmp.path());
        let out = run(&p, &query("echo", &["$HOME; *", "two words"]))
            .await
            .unwrap();
        assert_eq!(out.stdout, "$HOME; * two words");
        assert_eq!(out.exit_code, 0);
    }

    #[tokio::test]
    async fn a_shell_script_gets_its_args_env_and_dir() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        let p = Local::new(tmp.path());
        let q = CommandOutput {
            shell: true,
            dir: Some("sub".into()),
            env: [("GREETING".to_string(), "hi".to_string())].into(),
            keep_whitespace: true,
            ..query("echo \"$GREETING $1\"; basename \"$PWD\"", &["world"])
        };
        let out = run(&p, &q).await.unwrap();
        assert_eq!(out.stdout, "hi world\nsub\n");
    }

    #[tokio::test]
    async fn listed_exit_codes_are_answers_others_are_errors_with_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), "a\n").unwrap();
        let p = Local::new(tmp.path());
        let q = CommandOutput {
            ok_exit_codes: vec![1],
            ..query("grep", &["-c", "zzz", "f"])
        };
        let out = run(&p, &q).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.exit_code), ("0", 1));

        let e = run(&p, &query("grep", &["-c", "zzz", "missing"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("command `grep -c zzz missing` exited with code 2; last lines of its standard error:\n")
                && e.contains("missing"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_program_past_its_timeout_is_stopped_with_what_it_said() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Local::new(tmp.path());
        let q = CommandOutput {
            shell: true,
            timeout_secs: Some(1),
            ..query("echo started >&2; sleep 30; echo never", &[])
        };
        let started = std::time::Instant::now();
        let e = run(&p, &q).await.unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            e,
            "command `sh -c 'echo started >&2; sleep 30; echo never'` did not finish within 1s \
             (timeout_secs) and was stopped; last lines of its standard error:\nstarted"
        );
    }

    #[tokio::test]
    async fn a_missing_program_or_dir_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Local::new(tmp.path());
        let e = run(&p, &query("no-such-program-dafnck", &["x"]))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "command `no-such-program-dafnck x` could not be started; no such program on PATH"
        );
        let e = run(&p, &query("./bin/tool", &[]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(&format!(
                "there is no program at {}",
                tmp.path().join("bin/tool").display()
            )),
            "{e}"
        );
        let q = CommandOutput {
            dir: Some("absent".into()),
            ..query("true", &[])
        };
        let e = run(&p, &q).await.unwrap_err().to_string();
        assert!(
            e.contains("the working directory") && e.contains("absent"),
            "{e}"
        );
    }
}
