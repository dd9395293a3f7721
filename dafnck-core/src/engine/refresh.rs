//! Refresh and drift: the recorded objects read back, the recorded data
//! sources asked their queries again; `refresh` writes what it found,
//! `drift` only reports it.

use super::Engine;
use crate::drift::{self, DriftReport};
use crate::state::{self, Entry};

impl Engine {
    /// Reads back every recorded object, asks every recorded data source
    /// its recorded query again, and writes what was found into the state
    /// (a changed answer as `up` records one, journaled; the report lists
    /// it in [`DriftReport::reads`]).
    ///
    /// # Errors
    /// A held lock, state errors, [`Error::Read`] for objects and data
    /// sources that cannot be read.
    pub async fn refresh(&self) -> crate::Result<DriftReport> {
        self.locked("refresh", |this| async move {
            let (mut state, _, report) = this.prepare("refresh", true, false).await?;
            let mut report = report.unwrap_or_default();
            // The recorded data sources, asked again: a changed answer is
            // recorded as `up` records it, so the next preview compares
            // with it.
            let (reads, updated) = this.answers_again(&state).await?;
            report.reads_checked = state.reads.len();
            report.reads = reads;
            if let Some(reads) = updated {
                let (journal, task) = this.journal(state);
                journal.record(Entry::Reads { reads });
                state = task.finish().await?;
            }
            this.store.compact(&this.stack, &state).await?;
            let mut text = format!("{} drifted", report.drifted.len());
            if !report.reads.is_empty() {
                text.push_str(&format!("; data sources: {} changed", report.reads.len()));
            }
            this.save_version("refresh", text, &state, state::RunOutcome::Succeeded)
                .await?;
            Ok(report)
        })
        .await
    }

    /// Reports drift without changing anything: the recorded objects as
    /// read now, and the recorded data sources asked their recorded
    /// queries again.
    ///
    /// # Errors
    /// State errors, [`Error::Read`] for objects and data sources that
    /// cannot be read.
    pub async fn drift(&self) -> crate::Result<DriftReport> {
        let state = self.state().await?;
        self.require_key_to_compare("drift", &state)?;
        let (state, _) = self.resolved_in_memory(state).await?;
        let r = drift::refresh(
            &state,
            &self.providers,
            &self.settings.retry,
            self.settings.parallelism,
        )
        .await?;
        let mut report = r.report;
        report.reads = self.read_again(&state).await?;
        report.reads_checked = state.reads.len();
        Ok(report)
    }
}
