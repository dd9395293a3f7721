//! State recovery: restoring an earlier version, pruning the history by a
//! retention policy, and exporting and importing a stack with its history.
//!
//! All of it works on the store as given (below the sealing of secrets):
//! what is copied stays sealed, and no key is needed.

use super::Engine;
use crate::error::Error;
use crate::state::{self, Exported, ExportedVersion, State};

/// What `state import` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The serial the stack's state has now.
    pub serial: u64,
    /// Whether the snapshot was written (not when the stack already held
    /// exactly the exported state).
    pub wrote_state: bool,
    /// The versions of the export written into the history.
    pub versions_written: Vec<u64>,
    /// The versions of the export not written: the stack's history already
    /// reaches their numbers.
    pub versions_skipped: Vec<u64>,
}

fn written(state: &State) -> bool {
    !state.lineage.is_empty() || state.serial > 0 || !state.resources.is_empty()
}

impl Engine {
    /// Writes version `version` of the history back as the stack's state,
    /// under the lock (refused while another run holds it): reads the
    /// current state (refused if it does not parse: it is never
    /// overwritten then) and the version, calls `confirm` with both (the
    /// current first) to show the difference, and if it says yes, writes
    /// the version's state with the current lineage and the next serial, and
    /// records the restore as a new version, so it can be undone the same
    /// way. Returns the state written, or `None` when `confirm` declined.
    ///
    /// # Errors
    /// [`Error::Usage`] when there is no such version;
    /// [`state::StateError::Unsupported`] when the store keeps no history;
    /// [`state::StateError::Locked`]; the store's errors.
    pub async fn restore<F>(&self, version: u64, confirm: F) -> crate::Result<Option<State>>
    where
        F: FnOnce(&State, &State) -> crate::Result<bool> + Send,
    {
        const OPERATION: &str = "state restore";
        let raw = self.raw_store.clone();
        self.locked(OPERATION, |this| async move {
            let history = super::history::history_of(&*raw)?;
            let current = state::load(&*raw, &this.stack).await?;
            let Some(old) = history.read_version(&this.stack, version).await? else {
                return Err(Error::Usage(format!(
                    "stack {:?} has no version {version}; `state history` lists them",
                    this.stack
                )));
            };
            if !confirm(&current, &old)? {
                return Ok(None);
            }
            let mut restored = old;
            restored.stack.clone_from(&this.stack);
            if written(&current) {
                restored.lineage.clone_from(&current.lineage);
            }
            // After every journal record: compaction drops them all.
            restored.serial = current.serial + 1;
            raw.compact(&this.stack, &restored).await?;
            let summary = format!(
                "restored version {version} ({} resource(s))",
                restored.resources.len()
            );
            let mut info = this
                .next_version(history, OPERATION, summary, &restored)
                .await?;
            info.outcome = Some(state::RunOutcome::Succeeded);
            history.save_version(&this.stack, &info, &restored).await?;
            Ok(Some(restored))
        })
        .await
    }

    /// Applies `retention` to the stack's history now, under the lock;
    /// returns the numbers of the versions dropped. With `dry_run`, only
    /// says which would be.
    ///
    /// # Errors
    /// [`state::StateError::Unsupported`] when the store keeps no history
    /// or cannot drop versions; [`state::StateError::Locked`]; the store's
    /// errors.
    pub async fn prune_history(
        &self,
        retention: &state::Retention,
        dry_run: bool,
    ) -> crate::Result<Vec<u64>> {
        let history = self.store_history()?;
        if dry_run {
            let versions = history.versions(&self.stack).await?;
            return Ok(retention.to_drop(&versions, state::now_millis()));
        }
        self.locked("state prune", |this| async move {
            Ok(state::prune(history, &this.stack, retention, state::now_millis()).await?)
        })
        .await
    }

    /// The stack's state and history as stored (secrets sealed), to be
    /// written with [`Exported::to_document`]. A store without history
    /// exports the state alone.
    ///
    /// # Errors
    /// The store's errors (a state or version that does not parse).
    pub async fn export(&self) -> crate::Result<Exported> {
        let raw = &*self.raw_store;
        let current = state::load(raw, &self.stack).await?;
        let mut history = Vec::new();
        if let Some(h) = raw.history() {
            for info in h.versions(&self.stack).await? {
                let Some(state) = h.read_version(&self.stack, info.version).await? else {
                    continue;
                };
                history.push(ExportedVersion { info, state });
            }
        }
        Ok(Exported {
            stack: self.stack.clone(),
            exported_at: state::now_millis(),
            state: current,
            history,
        })
    }

    /// Writes an export into this stack, under the lock, as Terraform's
    /// `state push` does: refused (unless `force`) when the export is of
    /// another stack, of another lineage than the stack's state, or older
    /// than it (a lower serial, or the same serial with other content), so
    /// newer state is never replaced silently; refused even with `force`
    /// when the stack's state does not parse. The export's versions
    /// numbered after the stack's newest are added to its history, and the
    /// import is recorded as a new version.
    ///
    /// # Errors
    /// [`Error::Usage`] for a refusal, naming why and `--force`; the
    /// store's errors.
    pub async fn import_export(
        &self,
        export: &Exported,
        force: bool,
    ) -> crate::Result<ImportOutcome> {
        const OPERATION: &str = "state import";
        if export.stack != self.stack && !force {
            return Err(Error::Usage(format!(
                "the export is of stack {:?}, not {:?}; pass --force to import it into {:?}",
                export.stack, self.stack, self.stack
            )));
        }
        let raw = self.raw_store.clone();
        self.locked(OPERATION, |this| async move {
            let current = state::load(&*raw, &this.stack).await?;
            let theirs = &export.state;
            let same = written(&current) && current.lineage == theirs.lineage;
            let mut same_content = theirs.clone();
            same_content.stack.clone_from(&this.stack);
            let unchanged = same && current.serial == theirs.serial && current == same_content;
            if written(&current) && !force {
                let refuse = |why: String| {
                    Err(Error::Usage(format!(
                        "stack {:?} was not changed: {why}; pass --force to replace its state with the export's",
                        this.stack
                    )))
                };
                if !same {
                    return refuse(format!(
                        "its state has lineage {:?}, and the export's is {:?} (another state)",
                        current.lineage, theirs.lineage
                    ));
                }
                if current.serial > theirs.serial {
                    return refuse(format!(
                        "its state is newer (serial {}) than the export's (serial {})",
                        current.serial, theirs.serial
                    ));
                }
                if current.serial == theirs.serial && !unchanged {
                    return refuse(format!(
                        "its state has the export's serial ({}) but other content",
                        current.serial
                    ));
                }
            }
            let mut imported = same_content;
            if written(&current) && !unchanged {
                // After every journal record of the stack: compaction drops them.
                imported.serial = theirs.serial.max(current.serial + 1);
            }
            if !unchanged {
                raw.compact(&this.stack, &imported).await?;
            }
            let mut outcome = ImportOutcome {
                serial: imported.serial,
                wrote_state: !unchanged,
                versions_written: Vec::new(),
                versions_skipped: Vec::new(),
            };
            let Some(history) = raw.history() else {
                outcome.versions_skipped = export.history.iter().map(|v| v.info.version).collect();
                return Ok(outcome);
            };
            let newest = history
                .versions(&this.stack)
                .await?
                .last()
                .map_or(0, |v| v.version);
            for v in &export.history {
                if v.info.version <= newest {
                    outcome.versions_skipped.push(v.info.version);
                    continue;
                }
                let mut state = v.state.clone();
                state.stack.clone_from(&this.stack);
                history.save_version(&this.stack, &v.info, &state).await?;
                outcome.versions_written.push(v.info.version);
            }
            if !unchanged {
                let summary = format!(
                    "imported an export of stack {:?} (serial {}, {} version(s))",
                    export.stack,
                    theirs.serial,
                    export.history.len()
                );
                let mut info = this
                    .next_version(history, OPERATION, summary, &imported)
                    .await?;
                info.outcome = Some(state::RunOutcome::Succeeded);
                history.save_version(&this.stack, &info, &imported).await?;
            }
            Ok(outcome)
        })
        .await
    }
}
