//! A rollout's durable record: the phase it is in and what it has done,
//! written through a [`RolloutLog`] at every transition, so that after a
//! crash the next run resumes the rollout or rolls it back.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::clock::Millis;
use dafnck_core::deploy::RolloutControl;

/// Where a rollout is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// The new version is starting; no traffic on it.
    Starting,
    /// Holding a step's weight while analysis runs.
    Progressing,
    /// Waiting for a person: analysis was inconclusive, or someone paused.
    Paused,
    /// All traffic is on the new version; the old one is being retired.
    Promoting,
    /// Done: the new version is the stable one.
    Completed,
    /// Taking traffic off the new version and retiring it.
    RollingBack,
    /// Done: the old version serves everything; the new one is retired.
    RolledBack,
}

impl Phase {
    /// Whether the rollout has finished, one way or the other.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Completed | Phase::RolledBack)
    }
}

/// A rollout's state, as journaled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutRecord {
    /// The resource being rolled out.
    pub name: String,
    /// 1 for the first attempt, one more for each retry.
    pub attempt: u32,
    /// Where the rollout is.
    pub phase: Phase,
    /// The step (canary / blue-green) or batch (rolling) index.
    pub step: usize,
    /// The new version's traffic share in effect (canary / blue-green).
    pub weight: u8,
    /// Instances replaced so far (rolling).
    pub replaced: Vec<usize>,
    /// When the rollout started.
    pub started_at: Millis,
    /// When the current step started holding its weight.
    pub step_started_at: Option<Millis>,
    /// Time spent paused in the current step, which does not count
    /// towards its duration.
    pub paused_for: Millis,
    /// Failed analyses (or failed batch attempts) in a row.
    pub failures: u32,
    /// When the analysis that triggered the rollback failed.
    pub failed_at: Option<Millis>,
    /// When the new version's traffic reached 0% on rollback.
    pub traffic_off_at: Option<Millis>,
    /// Whether a person aborted it (rather than analysis).
    pub aborted: bool,
    /// Why it paused, failed or rolled back.
    pub message: Option<String>,
}

impl RolloutRecord {
    /// A new attempt of the rollout `name`, starting at `now`.
    pub fn start(name: &str, attempt: u32, now: Millis) -> Self {
        RolloutRecord {
            name: name.to_string(),
            attempt,
            phase: Phase::Starting,
            step: 0,
            weight: 0,
            replaced: Vec::new(),
            started_at: now,
            step_started_at: None,
            paused_for: 0,
            failures: 0,
            failed_at: None,
            traffic_off_at: None,
            aborted: false,
            message: None,
        }
    }

    /// From the first failing analysis to no traffic on the new version:
    /// how long a bad version served requests after it was caught.
    pub fn rollback_time_ms(&self) -> Option<Millis> {
        Some(self.traffic_off_at?.saturating_sub(self.failed_at?))
    }
}

/// Where rollout records go. The engine's implementation appends them to
/// the stack's journal; [`MemoryLog`] keeps them for tests.
#[async_trait]
pub trait RolloutLog: Send + Sync {
    /// Durably records a transition; returns once it is stored.
    ///
    /// # Errors
    /// The record could not be stored; the rollout stops where it is (its
    /// previous record stands).
    async fn record(&self, record: &RolloutRecord) -> Result<(), String>;
}

/// Records kept in memory, every transition in order.
#[derive(Clone, Default)]
pub struct MemoryLog {
    records: Arc<Mutex<Vec<RolloutRecord>>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        MemoryLog::default()
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<RolloutRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The phases recorded, in order, with repeats of one phase collapsed.
    pub fn phases(&self) -> Vec<Phase> {
        let mut out: Vec<Phase> = Vec::new();
        for r in self.records() {
            if out.last() != Some(&r.phase) {
                out.push(r.phase);
            }
        }
        out
    }

    /// The last record.
    pub fn last(&self) -> Option<RolloutRecord> {
        self.records().pop()
    }
}

#[async_trait]
impl RolloutLog for MemoryLog {
    async fn record(&self, record: &RolloutRecord) -> Result<(), String> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }
}

/// Sends [`RolloutControl`]s to a running rollout.
#[derive(Clone, Debug)]
pub struct RolloutHandle {
    pub(crate) tx: mpsc::UnboundedSender<RolloutControl>,
}

impl RolloutHandle {
    /// Sends `command`; false when the rollout has already finished.
    pub fn send(&self, command: RolloutControl) -> bool {
        self.tx.send(command).is_ok()
    }
}
