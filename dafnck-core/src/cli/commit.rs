//! The commit of the program a run applies, kept in each state version
//! (the `report` verb measures lead time from its time).

use crate::state::Commit;

/// The commit from `DAFNCK_COMMIT` (its id) and `DAFNCK_COMMIT_TIME` (Unix
/// seconds), or else from `git log -1` in the working directory, with the
/// hash of this program's executable.
pub(super) fn detect() -> Commit {
    let mut commit = from_env_or_git().unwrap_or_default();
    commit.program = program_hash();
    commit
}

/// The SHA-256 of this program's executable, `sha256:<hex>`.
pub(super) fn program_hash() -> Option<String> {
    let bytes = std::fs::read(std::env::current_exe().ok()?).ok()?;
    Some(crate::state::sha256_tag(&bytes))
}

fn from_env_or_git() -> Option<Commit> {
    let id = std::env::var("DAFNCK_COMMIT")
        .ok()
        .filter(|s| !s.is_empty());
    let at = std::env::var("DAFNCK_COMMIT_TIME")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|secs| secs * 1000);
    if id.is_some() || at.is_some() {
        return Some(Commit {
            id,
            at,
            program: None,
        });
    }
    let out = std::process::Command::new("git")
        .args(["log", "-1", "--format=%H %ct"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (id, secs) = text.trim().split_once(' ')?;
    Some(Commit {
        id: Some(id.to_owned()),
        at: secs.parse::<u64>().ok().map(|s| s * 1000),
        program: None,
    })
}
