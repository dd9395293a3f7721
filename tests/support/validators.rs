//! The validators `scripts/tools/validators.sh` installs, found by the
//! environment variables it prints, for the tests that check the files a
//! program writes with their formats' real checkers.

/// The validator named by `var`, or `None` after saying it is missing
/// (a panic instead under `DAFNCK_REQUIRE_SERVERS=1`).
pub fn validator(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let why =
                format!("{var} is not set (run `eval \"$(scripts/tools/validators.sh install)\"`)");
            if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
            }
            eprintln!("{test}: skipped: {why}");
            None
        }
    }
}
