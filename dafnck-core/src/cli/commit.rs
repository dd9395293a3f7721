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

/// The SHA-256 of this program's executable, `sha256:<hex>`, read in
/// pieces: a program built with cloud SDKs is a hundred megabytes or more,
/// which reading it whole would add to the command's peak memory.
pub(super) fn program_hash() -> Option<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(std::env::current_exe().ok()?).ok()?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hash.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("sha256:{hex}"))
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_program_hash_read_in_pieces_is_the_sha256_of_the_whole_executable() {
        let exe = std::env::current_exe().unwrap();
        let whole = crate::state::sha256_tag(&std::fs::read(exe).unwrap());
        assert_eq!(super::program_hash(), Some(whole));
    }
}
