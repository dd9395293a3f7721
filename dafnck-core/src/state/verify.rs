//! [`verify`]: reads every stored unit of a stack (its snapshot and
//! journal, its history's list and every version) and says, unit by unit,
//! whether it is whole; `state verify` prints it.

use super::{State, StateError, StateStore};

/// What [`verify`] found, one entry per unit checked, in the order read.
#[derive(Debug, Default)]
pub struct Verification {
    /// Each unit and its result.
    pub units: Vec<UnitCheck>,
}

/// One unit's result.
#[derive(Debug)]
pub struct UnitCheck {
    /// Which unit: `state (snapshot and journal)`, `history`, `version 3`.
    pub unit: String,
    /// What it holds when it is whole (`serial 12, 3 resource(s)`), or the
    /// error that names the damaged file, row or object.
    pub result: Result<String, StateError>,
}

impl Verification {
    /// Whether any unit is damaged (or could not be read).
    pub fn is_damaged(&self) -> bool {
        self.units.iter().any(|u| u.result.is_err())
    }

    fn push(&mut self, unit: impl Into<String>, result: Result<String, StateError>) {
        self.units.push(UnitCheck {
            unit: unit.into(),
            result,
        });
    }
}

impl std::fmt::Display for Verification {
    /// One line per unit: `ok   <unit>: <what it holds>` or
    /// `BAD  <unit>: <error>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for u in &self.units {
            match &u.result {
                Ok(what) => writeln!(f, "ok   {}: {what}", u.unit)?,
                Err(e) => writeln!(f, "BAD  {}: {e}", u.unit)?,
            }
        }
        Ok(())
    }
}

/// Reads every unit `store` keeps for `stack` and checks it: the snapshot
/// and journal (their checksums, and that the journal replays over the
/// snapshot), the list of versions, and every version (its checksum, and
/// that it is the serial its entry says). Secrets are not opened: a unit
/// is checked as stored. Nothing is written.
///
/// A store without history is checked for its state alone.
pub async fn verify(store: &dyn StateStore, stack: &str) -> Verification {
    let mut out = Verification::default();
    let origin = store.describe();
    let state = match store.read(stack).await {
        Ok(stored) => {
            let records = stored.journal.len();
            let had_snapshot = stored.snapshot.is_some();
            State::replay(stack, stored, &origin).map(|s| {
                format!(
                    "{}, {records} journal record(s) after it; serial {}, {} resource(s)",
                    if had_snapshot {
                        "a snapshot"
                    } else {
                        "no snapshot"
                    },
                    s.serial,
                    s.resources.len()
                )
            })
        }
        Err(e) => Err(e),
    };
    out.push("state (snapshot and journal)", state);
    let Some(history) = store.history() else {
        return out;
    };
    let versions = match history.versions(stack).await {
        Ok(versions) => versions,
        Err(e) => {
            out.push("history (the list of versions)", Err(e));
            return out;
        }
    };
    out.push(
        "history (the list of versions)",
        Ok(format!("{} version(s)", versions.len())),
    );
    for info in versions {
        let result = match history.read_version(stack, info.version).await {
            Ok(Some(state)) if state.serial == info.serial => Ok(format!(
                "serial {}, {} resource(s), {} by {}",
                state.serial,
                state.resources.len(),
                info.operation,
                info.by
            )),
            Ok(Some(state)) => Err(StateError::Corrupt {
                location: format!("{origin}, stack {stack:?}, version {}", info.version),
                message: format!(
                    "the version's entry says serial {}, its state is serial {}",
                    info.serial, state.serial
                ),
            }),
            Ok(None) => Err(StateError::Corrupt {
                location: format!("{origin}, stack {stack:?}, version {}", info.version),
                message: "the version is listed but cannot be found".into(),
            }),
            Err(e) => Err(e),
        };
        out.push(format!("version {}", info.version), result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, MemoryStore, Record, StateHistory, VersionInfo};
    use super::*;

    #[tokio::test]
    async fn a_whole_stack_verifies_unit_by_unit() {
        let store = MemoryStore::new();
        store
            .append(
                "dev",
                &[Record {
                    seq: 1,
                    at: 1,
                    entry: Entry::Init {
                        lineage: "l".into(),
                    },
                }],
            )
            .await
            .unwrap();
        let state = super::super::load(&store, "dev").await.unwrap();
        let info = VersionInfo {
            version: 1,
            at: 1,
            by: "me@here".into(),
            operation: "up".into(),
            summary: String::new(),
            serial: 1,
            ..Default::default()
        };
        store.save_version("dev", &info, &state).await.unwrap();
        let v = verify(&store, "dev").await;
        assert!(!v.is_damaged(), "{v}");
        let units: Vec<&str> = v.units.iter().map(|u| u.unit.as_str()).collect();
        assert_eq!(
            units,
            [
                "state (snapshot and journal)",
                "history (the list of versions)",
                "version 1"
            ]
        );
        assert!(v.to_string().starts_with("ok   state"), "{v}");
    }
}
