//! `promote --from STAGE`: the checks before a stage is applied with the
//! build another stage verified.

use std::time::Duration;

use super::Stages;
use crate::error::Error;
use crate::state::{self, RunOutcome, StateStore, VersionInfo};

/// The stage to promote from and its soak and max age: `--from`, else the
/// stage declared before `to`; the flags, else what the declaration says
/// of that stage. With declared stages, `from` must come before `to`.
///
/// # Errors
/// [`Error::Usage`] when no stage to promote from is known, or the
/// declaration does not put `from` before `to`.
pub(super) fn source(
    stages: Option<&Stages>,
    from: &Option<String>,
    to: &str,
    soak: Option<Duration>,
    max_age: Option<Duration>,
) -> crate::Result<(String, Duration, Option<Duration>)> {
    let Some(from) = from.clone() else {
        return Err(Error::Usage(match stages {
            Some(s) if s.get(to).is_some() => format!(
                "stage {to:?} is the first declared stage: there is none to promote from"
            ),
            Some(s) => format!(
                "stage {to:?} is not declared (the stages are {}); name the stage to promote from with --from",
                s.names().join(", ")
            ),
            None => "name the stage to promote from with --from (or declare the stages)".into(),
        }));
    };
    let declared = stages.and_then(|s| s.get(&from));
    if let Some(s) = stages {
        let position = |n: &str| s.list().iter().position(|x| x.name == n);
        if let (Some(f), Some(t)) = (position(&from), position(to)) {
            if f >= t {
                return Err(Error::Usage(format!(
                    "stage {from:?} comes after {to:?} in the declared stages ({}): promote forwards only",
                    s.names().join(" → ")
                )));
            }
        }
    }
    let soak = soak.or(declared.and_then(|s| s.soak)).unwrap_or_default();
    let max_age = max_age.or(declared.and_then(|s| s.max_age));
    Ok((from, soak, max_age))
}

/// Checks that `from`'s last deployment (in `source`) succeeded, has
/// soaked `soak`, is not older than `max_age`, and was made by this build
/// of the program (its SHA-256, else its commit); returns what to print.
///
/// # Errors
/// [`Error::Usage`] naming the stage, its version and why it cannot be
/// promoted.
pub(super) async fn check(
    source: &dyn StateStore,
    from: &str,
    to: &str,
    soak: Duration,
    max_age: Option<Duration>,
) -> crate::Result<String> {
    if from == to {
        return Err(Error::Usage(format!(
            "promote --from {from:?} names the stage being applied; name the stage before it"
        )));
    }
    let history = source.history().ok_or_else(|| {
        Error::from(state::StateError::Unsupported {
            store: source.describe(),
            missing: format!("keeps no history, which `promote` reads (stage {from:?})"),
        })
    })?;
    let versions = history.versions(from).await?;
    let Some(last) = versions.iter().rev().find(|v| v.operation == "up") else {
        return Err(refuse(from, to, "it has no deployment (`up`) yet".into()));
    };
    let what = |v: &VersionInfo| {
        format!(
            "its last deployment (version {}, {})",
            v.version,
            super::output::utc(v.at)
        )
    };
    match last.outcome {
        Some(RunOutcome::Succeeded) => {}
        Some(RunOutcome::Failed) => return Err(refuse(from, to, format!("{} failed", what(last)))),
        Some(RunOutcome::RolledBack) => {
            return Err(refuse(from, to, format!("{} was rolled back", what(last))))
        }
        None => {
            return Err(refuse(
                from,
                to,
                format!(
                    "{} recorded no outcome (an older dafnck wrote it)",
                    what(last)
                ),
            ))
        }
    }
    let age = Duration::from_millis(state::now_millis().saturating_sub(last.at));
    if age < soak {
        return Err(refuse(
            from,
            to,
            format!(
                "{} has run {}s, less than the soak time of {}s",
                what(last),
                age.as_secs(),
                soak.as_secs()
            ),
        ));
    }
    if let Some(max) = max_age.filter(|max| age > *max) {
        return Err(refuse(
            from,
            to,
            format!(
                "{} is {}s old, older than --max-age {}s: deploy it again to verify it",
                what(last),
                age.as_secs(),
                max.as_secs()
            ),
        ));
    }
    let theirs = last.commit.clone().unwrap_or_default();
    let ours = super::commit::detect();
    let same = match (&theirs.program, &ours.program, &theirs.id, &ours.id) {
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => {
            return Err(refuse(
                from,
                to,
                format!(
                    "{} recorded no program hash or commit to compare this build with",
                    what(last)
                ),
            ))
        }
    };
    if !same {
        return Err(refuse(
            from,
            to,
            format!(
                "{} ran another build of the program (program {}, commit {}; this is program {}, commit {}): build the one {from:?} verified",
                what(last),
                theirs.program.as_deref().unwrap_or("unknown"),
                theirs.id.as_deref().unwrap_or("unknown"),
                ours.program.as_deref().unwrap_or("unknown"),
                ours.id.as_deref().unwrap_or("unknown"),
            ),
        ));
    }
    Ok(format!(
        "Promoting to {to:?} the build {from:?} deployed in version {} ({}, commit {}), {}s ago.",
        last.version,
        super::output::utc(last.at),
        theirs.id.as_deref().unwrap_or("unknown"),
        age.as_secs()
    ))
}

fn refuse(from: &str, to: &str, why: String) -> Error {
    Error::Usage(format!(
        "stage {from:?} cannot be promoted to {to:?}: {why}; nothing was applied"
    ))
}
