//! What every kind of rollout keeps: its name, its record and the log the
//! record is written to, its clock, and the commands sent to it; and the
//! retry of calls that must succeed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::clock::{Clock, TokioClock};
use crate::record::{MemoryLog, Phase, RolloutHandle, RolloutLog, RolloutRecord};
use crate::traffic::RolloutError;
use dafnck_core::deploy::RolloutControl;

/// How often a call that must succeed (traffic off a bad version, the old
/// version restored) is tried before the rollout reports itself stuck.
const INSIST_ATTEMPTS: u32 = 5;

pub(crate) struct Journaled {
    pub name: String,
    pub log: Arc<dyn RolloutLog>,
    pub clock: Arc<dyn Clock>,
    pub tx: mpsc::UnboundedSender<RolloutControl>,
    pub commands: mpsc::UnboundedReceiver<RolloutControl>,
    pub rec: RolloutRecord,
}

impl Journaled {
    /// A rollout of `name` recording in memory, on wall-clock time.
    pub fn new(name: &str) -> Self {
        let (tx, commands) = mpsc::unbounded_channel();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
        Journaled {
            name: name.to_string(),
            log: Arc::new(MemoryLog::new()),
            rec: RolloutRecord::start(name, 1, clock.now_ms()),
            clock,
            tx,
            commands,
        }
    }

    pub fn handle(&self) -> RolloutHandle {
        RolloutHandle {
            tx: self.tx.clone(),
        }
    }

    /// Takes up `previous` when it is unfinished (true: resumed), else
    /// records the start of a new attempt in `phase`.
    pub async fn begin(
        &mut self,
        previous: Option<&RolloutRecord>,
        phase: Phase,
    ) -> Result<bool, RolloutError> {
        match previous {
            Some(prev) if !prev.phase.is_terminal() => {
                self.rec = prev.clone();
                tracing::info!(rollout = %self.name, phase = ?prev.phase, step = prev.step, "resuming rollout");
                Ok(true)
            }
            previous => {
                let attempt = previous.map_or(1, |p| p.attempt + 1);
                self.rec = RolloutRecord::start(&self.name, attempt, self.clock.now_ms());
                self.rec.phase = phase;
                self.save().await?;
                Ok(false)
            }
        }
    }

    pub fn stuck(&self, message: String) -> RolloutError {
        RolloutError::Stuck {
            name: self.name.clone(),
            phase: self.rec.phase.clone(),
            message,
        }
    }

    pub async fn save(&self) -> Result<(), RolloutError> {
        self.log
            .record(&self.rec)
            .await
            .map_err(|message| RolloutError::Log {
                name: self.name.clone(),
                message,
            })
    }
}

/// Tries `call` up to [`INSIST_ATTEMPTS`] times with doubling pauses from
/// 500 ms; the last error if none succeeds.
pub(crate) async fn insist<Fut>(mut call: impl FnMut() -> Fut) -> Result<(), String>
where
    Fut: Future<Output = Result<(), String>>,
{
    let mut pause = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= INSIST_ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
        }
    }
}
