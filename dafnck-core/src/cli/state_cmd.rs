//! `state` subcommands: inspect and repair the recorded state.

use super::*;

/// Runs the `state` subcommand `cmd`.
pub(super) async fn command(
    engine: &Engine,
    cmd: &StateCommand,
    backends: &StoreBackends,
    retention: &Option<state::Retention>,
) -> crate::Result<u8> {
    match cmd {
        StateCommand::List => {
            let state = engine.existing_state().await?;
            for r in state.resources.values() {
                outln!("{}\t{}\t{}", r.name, r.type_name, r.id);
            }
            for r in &state.deposed {
                outln!("{}\t{}\t{}\t(deposed)", r.name, r.type_name, r.id);
            }
        }
        StateCommand::Show { name, version } => {
            let state = match version {
                Some(n) => engine.version(*n).await?,
                None => engine.existing_state().await?,
            };
            let Some(name) = name else {
                // `--version N` alone: that version's resources.
                for r in state.resources.values() {
                    outln!("{}\t{}\t{}", r.name, r.type_name, r.id);
                }
                return Ok(0);
            };
            let r = state.resources.get(name).ok_or_else(|| {
                let which = version.map_or_else(String::new, |n| format!(" in version {n}"));
                Error::Usage(format!(
                    "stack {:?} records no resource {name:?}{which}; `state list` shows what it records",
                    engine.stack()
                ))
            })?;
            let text = serde_json::to_string_pretty(&output::resource_json(r)).unwrap_or_default();
            outln!("{text}");
        }
        StateCommand::History => {
            let versions = engine.history().await?;
            if versions.is_empty() {
                outln!("Stack {:?} has no versions yet.", engine.stack());
            }
            for v in versions {
                outln!(
                    "{}\t{}\t{}\t{}\t{}",
                    v.version,
                    output::utc(v.at),
                    v.by,
                    v.operation,
                    v.summary
                );
            }
        }
        StateCommand::Rm { name } => {
            engine.existing_state().await?;
            engine.forget(name).await?;
            outln!("Forgot {name}; its object was left as it is.");
        }
        StateCommand::Migrate { to } => {
            let target = backends.open(to).await?;
            let copied =
                state::migrate(engine.raw_store().as_ref(), target.as_ref(), engine.stack())
                    .await?;
            outln!(
                "Copied stack {:?} ({} resource(s), serial {}) from {} to {}.",
                engine.stack(),
                copied.resources.len(),
                copied.serial,
                engine.store().describe(),
                target.describe()
            );
            outln!(
                "The old state was left as it is; run with --state {} (or DAFNCK_STATE) from now on.",
                state::redact_url(to)
            );
        }
        StateCommand::Verify { accept: false, .. } => {
            let verification = engine.verify().await;
            out!("{verification}");
            if verification.is_damaged() {
                outln!(
                    "Stack {:?} has damaged units (BAD above); nothing was changed.",
                    engine.stack()
                );
                return Ok(1);
            }
            outln!("Every unit of stack {:?} is whole.", engine.stack());
        }
        StateCommand::Verify { accept: true, yes } => {
            let accepted = engine
                .accept_edit(|edited, last| {
                    outln!(
                        "The snapshot of stack {:?} in {} was edited by hand; as it reads now:",
                        engine.stack(),
                        engine.raw_store().describe()
                    );
                    for line in output::edit_summary(edited, last) {
                        outln!("  {line}");
                    }
                    confirm(*yes, "accept this edit as the stack's state")
                })
                .await?;
            match accepted {
                Some(state) => outln!(
                    "Accepted: the snapshot carries a checksum of its new bytes (serial {}), and the history records who accepted it.",
                    state.serial
                ),
                None => {
                    outln!("Nothing was accepted.");
                    return Ok(1);
                }
            }
        }
        StateCommand::Restore {
            number,
            version,
            yes,
        } => {
            let Some(n) = number.or(*version) else {
                return Err(Error::Usage(
                    "name the version to restore: `state restore N`".into(),
                ));
            };
            let restored = engine
                .restore(n, |current, old| {
                    let changes = output::state_changes(current, old);
                    outln!(
                        "Restoring version {n} of stack {:?} (serial {} now) changes:",
                        engine.stack(),
                        current.serial
                    );
                    if changes.is_empty() {
                        outln!("  nothing: the state is already as version {n} left it");
                    }
                    for line in changes {
                        outln!("  {line}");
                    }
                    confirm(*yes, &format!("restore version {n}"))
                })
                .await?;
            match restored {
                Some(state) => outln!(
                    "Restored version {n} as stack {:?}'s state (serial {}); the history records it as a new version. The objects themselves were not changed: `preview` shows what `up` would do to match them to the program.",
                    engine.stack(),
                    state.serial
                ),
                None => {
                    outln!("Nothing was restored.");
                    return Ok(1);
                }
            }
        }
        StateCommand::Prune { keep, dry_run } => {
            let Some(retention) = keep.or(*retention) else {
                return Err(Error::Usage(
                    "say what to keep: `state prune --keep last=20,daily=14`, or set --history-retention (DAFNCK_HISTORY_RETENTION)".into(),
                ));
            };
            let dropped = engine.prune_history(&retention, *dry_run).await?;
            let list = dropped
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            match (dropped.is_empty(), dry_run) {
                (true, _) => outln!(
                    "Stack {:?} keeps every version ({retention}).",
                    engine.stack()
                ),
                (false, true) => outln!(
                    "Would drop {} version(s) of stack {:?} ({retention}): {list}",
                    dropped.len(),
                    engine.stack()
                ),
                (false, false) => outln!(
                    "Dropped {} version(s) of stack {:?} ({retention}): {list}",
                    dropped.len(),
                    engine.stack()
                ),
            }
        }
        StateCommand::Export { out } => {
            let export = engine.export().await?;
            let bytes = export.to_document()?;
            match out {
                Some(path) => {
                    std::fs::write(path, &bytes).map_err(|e| {
                        Error::Usage(format!("cannot write {}: {e}", path.display()))
                    })?;
                    eprintln!(
                        "Exported stack {:?} (serial {}, {} version(s)) to {}; its secrets are sealed as stored.",
                        engine.stack(),
                        export.state.serial,
                        export.history.len(),
                        path.display()
                    );
                }
                None => std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| Error::Usage(format!("cannot write the export: {e}")))?,
            }
        }
        StateCommand::Import { file, force } => {
            let bytes = std::fs::read(file)
                .map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display())))?;
            let export = state::Exported::from_document(&bytes, &file.display().to_string())?;
            let done = engine.import_export(&export, *force).await?;
            if done.wrote_state {
                outln!(
                    "Imported {} into stack {:?}: serial {}, {} version(s) added to its history{}.",
                    file.display(),
                    engine.stack(),
                    done.serial,
                    done.versions_written.len(),
                    if done.versions_skipped.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({} not: the history already reaches their numbers)",
                            done.versions_skipped.len()
                        )
                    }
                );
            } else {
                outln!(
                    "Stack {:?} already holds the exported state (serial {}); {} version(s) added to its history.",
                    engine.stack(),
                    done.serial,
                    done.versions_written.len()
                );
            }
        }
        StateCommand::ForceUnlock { id } => {
            engine.force_unlock(id).await?;
            outln!("Released lock {id} of stack {:?}.", engine.stack());
        }
    }
    Ok(0)
}
