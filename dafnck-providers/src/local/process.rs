//! Processes of this machine as `/proc` shows them, and stopping them by
//! process group: what the provider needs to watch services it started
//! but does not keep a handle on.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::error::LocalError;

/// How often a wait for a process to end looks again.
const POLL: Duration = Duration::from_millis(20);

/// How long to wait for a process to vanish after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What `/proc/<pid>/stat` says of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Its state letter (`R`, `S`, `Z` for a zombie, ...).
    pub state: char,
    /// Its process group (field 5).
    pub pgrp: i64,
    /// When it started, in clock ticks after boot (field 22): with the pid,
    /// it names one process, even after the pid is reused.
    pub start_ticks: u64,
}

/// Parses the content of `/proc/<pid>/stat`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: the fields after it start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        // `rest` starts at field 3.
        pgrp: fields.get(5 - 3)?.parse().ok()?,
        start_ticks: fields.get(22 - 3)?.parse().ok()?,
    })
}

/// The process `pid`, if it exists (zombies included).
pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether a state letter is that of a task that has ended.
fn has_ended(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// Whether the process `pid` that started at `start_ticks` still runs: it
/// exists, is not another process that got its pid, and is not a zombie —
/// a zombie leader whose other threads are still exiting counts as
/// running, as they still hold its files (its listening socket).
pub(crate) fn is_running(pid: u32, start_ticks: u64) -> bool {
    match stat(pid) {
        Some(s) if s.start_ticks == start_ticks => !has_ended(s.state) || threads_running(pid),
        _ => false,
    }
}

fn threads_running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|text| parse_stat(&text))
            .is_some_and(|s| !has_ended(s.state))
    })
}

/// Whether any live process is in process group `pgrp`.
fn group_running(pgrp: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
            .and_then(stat)
            .is_some_and(|s| s.pgrp == i64::from(pgrp) && !has_ended(s.state))
    })
}

/// Sends `signal` to the process group `pid` leads, or to the process
/// alone if it left that group. A process already gone is fine.
fn signal(pid: u32, signal: Signal) -> Result<(), LocalError> {
    let target = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let sent = match killpg(target, signal) {
        Err(Errno::ESRCH) => kill(target, signal),
        other => other,
    };
    match sent {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(source) => Err(LocalError::Signal {
            signal: signal.as_str(),
            pid,
            source,
        }),
    }
}

/// Waits up to `limit` until `gone()`; whether it came.
async fn wait_until(limit: Duration, gone: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if gone() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops the process `pid` (started at `start_ticks`) and its process
/// group: SIGTERM, up to `grace` to exit, then SIGKILL.
///
/// # Errors
/// When a signal cannot be sent (another user's process), or the process
/// survives SIGKILL.
pub(crate) async fn stop(pid: u32, start_ticks: u64, grace: Duration) -> Result<(), LocalError> {
    if !is_running(pid, start_ticks) {
        return Ok(());
    }
    signal(pid, Signal::SIGTERM)?;
    let gone = || !is_running(pid, start_ticks);
    if !wait_until(grace, gone).await {
        signal(pid, Signal::SIGKILL)?;
        if !wait_until(KILL_WAIT, gone).await {
            return Err(LocalError::StillRunning { pid });
        }
    }
    // Children that ignored SIGTERM may outlive their leader in its group
    // (the group's id cannot be reused while they exist); they may hold
    // its port, so wait, briefly, until they are gone too.
    let group = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    if group_running(pid) {
        let _ = killpg(group, Signal::SIGKILL);
        wait_until(KILL_WAIT, || !group_running(pid)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let line = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                pgrp: 4242,
                start_ticks: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_running_and_a_wrong_start_time_is_not() {
        let me = std::process::id();
        let s = stat(me).unwrap();
        assert!(is_running(me, s.start_ticks));
        assert!(!is_running(me, s.start_ticks + 1));
        assert!(group_running(s.pgrp as u32));
    }

    #[tokio::test]
    async fn stop_ends_a_process_group_that_ignores_sigterm() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("trap '' TERM; sleep 30 & wait")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let ticks = stat(pid).unwrap().start_ticks;
        let reaper = std::thread::spawn(move || child.wait());
        stop(pid, ticks, Duration::from_millis(200)).await.unwrap();
        assert!(!is_running(pid, ticks));
        assert!(!reaper.join().unwrap().unwrap().success());
        // Stopping what is gone is fine.
        stop(pid, ticks, Duration::from_millis(10)).await.unwrap();
    }
}
