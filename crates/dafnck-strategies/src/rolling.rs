//! Rolling rollouts: instances replaced in place, batch by batch, each
//! batch health checked within a timeout; failed batch attempts in a row
//! (two by default) or the overall deadline roll every replaced instance
//! back.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::analysis::Verdict;
use crate::clock::{ms, sleep_until, Clock, Millis, TokioClock};
use crate::fleet::RollingFleet;
use crate::policy::{PolicyError, Rolling};
use crate::record::{Command, MemoryLog, Phase, RolloutHandle, RolloutLog, RolloutRecord};
use crate::traffic::RolloutError;

/// A rolling rollout of one resource's instances.
///
/// A batch that fails its health check within the batch timeout is tried
/// again (the instances are replaced anew); `max_failed_batches` failures
/// in a row, or the deadline, restore the old version on every instance
/// replaced so far. [`Command::Pause`] holds between batches,
/// [`Command::Abort`] rolls back; [`Command::Promote`] stops pausing.
pub struct RollingRollout<F> {
    name: String,
    policy: Rolling,
    fleet: F,
    log: Arc<dyn RolloutLog>,
    clock: Arc<dyn Clock>,
    tx: mpsc::UnboundedSender<Command>,
    commands: mpsc::UnboundedReceiver<Command>,
    rec: RolloutRecord,
}

impl<F: RollingFleet> RollingRollout<F> {
    /// A rolling rollout of `name` by `policy`.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn new(name: &str, policy: &Rolling, fleet: F) -> Result<Self, PolicyError> {
        policy.validate()?;
        let (tx, commands) = mpsc::unbounded_channel();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
        Ok(RollingRollout {
            name: name.into(),
            policy: policy.clone(),
            fleet,
            log: Arc::new(MemoryLog::new()),
            rec: RolloutRecord::start(name, 1, clock.now_ms()),
            clock,
            tx,
            commands,
        })
    }

    /// Where transitions are recorded (default: in memory only).
    pub fn log(mut self, log: impl RolloutLog + 'static) -> Self {
        self.log = Arc::new(log);
        self
    }

    /// The clock (default: wall-clock time on tokio's timer).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A handle to pause, resume or abort the rollout while it runs.
    pub fn handle(&self) -> RolloutHandle {
        RolloutHandle {
            tx: self.tx.clone(),
        }
    }

    /// Runs the rollout to its end; `previous` as for
    /// [`crate::TrafficRollout::run`]: an unfinished record is resumed (the
    /// instances it replaced stay replaced), a finished one retried.
    ///
    /// # Errors
    /// [`RolloutError`] when the old version cannot be restored or a
    /// transition cannot be recorded.
    pub async fn run(
        &mut self,
        previous: Option<&RolloutRecord>,
    ) -> Result<RolloutRecord, RolloutError> {
        match previous {
            Some(prev) if !prev.phase.is_terminal() => self.rec = prev.clone(),
            previous => {
                let attempt = previous.map_or(1, |p| p.attempt + 1);
                self.rec = RolloutRecord::start(&self.name, attempt, self.clock.now_ms());
                self.rec.phase = Phase::Progressing;
                self.save().await?;
            }
        }
        if self.rec.phase == Phase::RollingBack {
            let why = self.rec.message.clone().unwrap_or_default();
            let aborted = self.rec.aborted;
            return self.roll_back(why, aborted).await;
        }
        let size = self.fleet.size();
        let batch_size = self.policy.batch.of(size);
        let deadline = self.rec.started_at + ms(self.policy.deadline);
        let mut paused = self.rec.phase == Phase::Paused;
        while self.rec.replaced.len() < size {
            while let Ok(cmd) = self.commands.try_recv() {
                match cmd {
                    Command::Abort => return self.roll_back("aborted".into(), true).await,
                    Command::Pause => paused = true,
                    Command::Resume | Command::Promote => paused = false,
                }
            }
            if paused {
                self.rec.phase = Phase::Paused;
                self.rec.message = Some("paused by a person".into());
                self.save().await?;
                loop {
                    match self.commands.recv().await {
                        Some(Command::Abort) | None => {
                            return self.roll_back("aborted".into(), true).await
                        }
                        Some(Command::Resume | Command::Promote) => break,
                        Some(Command::Pause) => {}
                    }
                }
                paused = false;
                self.rec.message = None;
            }
            self.rec.phase = Phase::Progressing;
            let start = self.rec.replaced.len();
            let batch: Vec<usize> = (start..(start + batch_size).min(size)).collect();
            self.rec.step = start / batch_size;
            self.save().await?;
            let verdict = match self.fleet.replace(&batch).await {
                Ok(()) => match self.wait_healthy(&batch, deadline, &mut paused).await {
                    Some(verdict) => verdict,
                    None => {
                        // Aborted mid-batch: the batch runs the new version.
                        self.mark_replaced(&batch);
                        return self.roll_back("aborted".into(), true).await;
                    }
                },
                Err(e) => Verdict::Fail(format!("cannot replace instances {batch:?}: {e}")),
            };
            match verdict {
                Verdict::Pass => {
                    self.rec.replaced.extend(&batch);
                    self.rec.failures = 0;
                    self.save().await?;
                }
                Verdict::Fail(why) | Verdict::Inconclusive(why) => {
                    self.rec.failures += 1;
                    // The failed batch counts as replaced: it runs the new
                    // version until restored.
                    self.mark_replaced(&batch);
                    let out_of_time = self.clock.now_ms() >= deadline;
                    if self.rec.failures >= self.policy.max_failed_batches || out_of_time {
                        self.rec.failed_at = Some(self.clock.now_ms());
                        let why = if out_of_time {
                            format!(
                                "the rollout's deadline of {:?} passed: {why}",
                                self.policy.deadline
                            )
                        } else {
                            format!("{} failed batches in a row: {why}", self.rec.failures)
                        };
                        return self.roll_back(why, false).await;
                    }
                    // Try the same batch again.
                    self.rec.replaced.retain(|i| !batch.contains(i));
                    self.save().await?;
                }
            }
        }
        self.rec.phase = Phase::Completed;
        self.save().await?;
        Ok(self.rec.clone())
    }

    /// Polls the batch's health until it passes, the batch timeout or the
    /// overall deadline; `None` when aborted meanwhile (a pause asked for
    /// meanwhile takes effect after the batch).
    async fn wait_healthy(
        &mut self,
        batch: &[usize],
        deadline: Millis,
        paused: &mut bool,
    ) -> Option<Verdict> {
        let give_up = (self.clock.now_ms() + ms(self.policy.batch_timeout)).min(deadline);
        loop {
            let verdict = self.fleet.healthy(batch).await;
            if verdict.is_pass() || self.clock.now_ms() >= give_up {
                return Some(match verdict {
                    Verdict::Pass => Verdict::Pass,
                    other => Verdict::Fail(format!(
                        "instances {batch:?} not healthy within {:?}: {other}",
                        self.policy.batch_timeout
                    )),
                });
            }
            let until = (self.clock.now_ms() + ms(self.policy.poll_interval)).min(give_up);
            let clock = Arc::clone(&self.clock);
            tokio::select! {
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Abort) | None => return None,
                    Some(Command::Pause) => *paused = true,
                    Some(Command::Resume | Command::Promote) => *paused = false,
                },
                () = sleep_until(clock.as_ref(), until) => {}
            }
        }
    }

    async fn roll_back(
        &mut self,
        why: String,
        aborted: bool,
    ) -> Result<RolloutRecord, RolloutError> {
        tracing::warn!(rollout = %self.name, reason = %why, "rolling back");
        self.rec.phase = Phase::RollingBack;
        self.rec.message = Some(why);
        self.rec.aborted = aborted;
        if self.rec.failed_at.is_none() {
            self.rec.failed_at = Some(self.clock.now_ms());
        }
        self.save().await?;
        let mut pause = Duration::from_millis(500);
        let mut attempt = 1;
        while let Err(e) = self.fleet.restore(&self.rec.replaced).await {
            if attempt >= 5 {
                return Err(RolloutError::Stuck {
                    name: self.name.clone(),
                    phase: Phase::RollingBack,
                    message: format!("cannot restore instances {:?}: {e}", self.rec.replaced),
                });
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        }
        self.rec.traffic_off_at = Some(self.clock.now_ms());
        self.rec.replaced.clear();
        self.rec.phase = Phase::RolledBack;
        self.save().await?;
        Ok(self.rec.clone())
    }

    fn mark_replaced(&mut self, batch: &[usize]) {
        for i in batch {
            if !self.rec.replaced.contains(i) {
                self.rec.replaced.push(*i);
            }
        }
    }

    async fn save(&mut self) -> Result<(), RolloutError> {
        self.log
            .record(&self.rec)
            .await
            .map_err(|message| RolloutError::Log {
                name: self.name.clone(),
                message,
            })
    }
}
