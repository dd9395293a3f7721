//! The local provider's errors, and whether a retry can help each.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong on this machine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    /// The inputs do not describe a valid object.
    #[error("invalid {type_name} inputs: {message}")]
    Invalid {
        /// The resource type.
        type_name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `remove`).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A record the provider keeps under `.dafnck-local/` cannot be parsed.
    #[error("cannot parse the record {}: {source}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A directory to delete still holds files the program does not manage.
    #[error(
        "cannot delete directory {}: it is not empty (it holds files no resource of this \
         stack manages; remove them, or make the File resources depend on the directory \
         so they are deleted first)",
        path.display()
    )]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A shell command exited unsuccessfully.
    #[error("command `{command}` {status}; {stderr}")]
    CommandFailed {
        /// The command (its first line, shortened).
        command: String,
        /// How it ended (`exited with code 3`).
        status: String,
        /// The last lines of its standard error, introduced.
        stderr: String,
    },
    /// A service's program cannot be started.
    #[error("service {service}: cannot start `{command}`: {reason}")]
    Spawn {
        /// The service's name.
        service: String,
        /// The program.
        command: String,
        /// Why (`no such program, neither a path nor on PATH`).
        reason: String,
    },
    /// Something else already listens on a service's port.
    #[error(
        "service {service}: port {port} on 127.0.0.1 is already in use by another process; \
         stop it or choose another port"
    )]
    PortInUse {
        /// The service's name.
        service: String,
        /// The port.
        port: u16,
    },
    /// A service did not get healthy: its process ended first, or its
    /// health check did not pass in time.
    #[error("{0}")]
    Startup(Box<StartupFailure>),
    /// A signal could not be sent to a process.
    #[error("cannot send {signal} to process {pid}: {source}")]
    Signal {
        /// The signal's name.
        signal: &'static str,
        /// The process (or process group).
        pid: u32,
        /// The system's error.
        #[source]
        source: nix::Error,
    },
    /// A process survived SIGKILL.
    #[error("process {pid} is still running after SIGTERM and SIGKILL")]
    StillRunning {
        /// The process.
        pid: u32,
    },
}

/// Why a service did not start, with the end of its log.
#[derive(Debug)]
pub(crate) struct StartupFailure {
    /// The service's name.
    pub service: String,
    /// The health check's URL.
    pub url: String,
    /// What went wrong.
    pub problem: StartupProblem,
    /// The service's log file.
    pub log_file: String,
    /// Its last lines.
    pub log_tail: String,
}

/// What went wrong while a service started.
#[derive(Debug)]
pub(crate) enum StartupProblem {
    /// The process ended (`exited with code 1`).
    Exited(String),
    /// The health check did not answer 2xx within `timeout_secs`; `last`
    /// says what the last attempt got.
    Unhealthy {
        /// The startup timeout.
        timeout_secs: u64,
        /// What the last attempt got.
        last: String,
    },
}

impl std::fmt::Display for StartupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let StartupFailure {
            service,
            url,
            log_file,
            log_tail,
            ..
        } = self;
        match &self.problem {
            StartupProblem::Exited(status) => write!(
                f,
                "service {service}: the process {status} during startup, before GET {url} \
                 answered 2xx"
            )?,
            StartupProblem::Unhealthy { timeout_secs, last } => write!(
                f,
                "service {service}: GET {url} did not answer 2xx within {timeout_secs}s (last \
                 attempt: {last}); the process was stopped"
            )?,
        }
        write!(f, "; last lines of {log_file}:\n{log_tail}")
    }
}

impl LocalError {
    /// An [`LocalError::Io`] error.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LocalError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the same call may succeed later. Nothing here is throttled:
    /// only a busy or interrupted file system call is worth another try.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            LocalError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ResourceBusy
                    | io::ErrorKind::ExecutableFileBusy
            ),
            _ => false,
        }
    }
}

provider_error_from!(LocalError);

#[cfg(test)]
mod tests {
    use dafnck_core::ProviderError;

    use super::*;

    #[test]
    fn only_busy_or_interrupted_io_is_retryable() {
        let denied = LocalError::io("write", "/x", io::ErrorKind::PermissionDenied.into());
        let busy = LocalError::io("write", "/x", io::ErrorKind::ResourceBusy.into());
        assert!(!ProviderError::from(denied).retryable);
        assert!(ProviderError::from(busy).retryable);
        let e = ProviderError::from(LocalError::PortInUse {
            service: "web".into(),
            port: 8080,
        });
        assert!(!e.retryable);
        assert!(e.message.contains("port 8080"), "{}", e.message);
    }
}
