//! Rolling rollouts: instances replaced in place, batch by batch, each
//! batch health checked within a timeout; failed batch attempts in a row
//! (two by default) or the overall deadline roll every replaced instance
//! back.

use std::sync::Arc;

use crate::analysis::Verdict;
use crate::clock::{ms, sleep_until, Clock, Millis};
use crate::fleet::RollingFleet;
use crate::journaled::{insist, Journaled};
use crate::policy::{PolicyError, Rolling};
use crate::record::{Phase, RolloutHandle, RolloutLog, RolloutRecord};
use crate::traffic::RolloutError;
use dafnck_core::deploy::RolloutControl;

/// A rolling rollout of one resource's instances.
///
/// A batch that fails its health check within the batch timeout is tried
/// again (the instances are replaced anew); `max_failed_batches` failures
/// in a row, or the deadline, restore the old version on every instance
/// replaced so far. [`RolloutControl::Pause`] holds between batches,
/// [`RolloutControl::Abort`] rolls back; [`RolloutControl::Promote`] stops pausing.
pub struct RollingRollout<F> {
    policy: Rolling,
    fleet: F,
    j: Journaled,
}

impl<F: RollingFleet> RollingRollout<F> {
    /// A rolling rollout of `name` by `policy`.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn new(name: &str, policy: &Rolling, fleet: F) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(RollingRollout {
            policy: policy.clone(),
            fleet,
            j: Journaled::new(name),
        })
    }

    /// Where transitions are recorded (default: in memory only).
    pub fn log(mut self, log: impl RolloutLog + 'static) -> Self {
        self.j.log = Arc::new(log);
        self
    }

    /// The clock (default: wall-clock time on tokio's timer).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.j.clock = Arc::new(clock);
        self
    }

    /// A handle to pause, resume or abort the rollout while it runs.
    pub fn handle(&self) -> RolloutHandle {
        self.j.handle()
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
        self.j.begin(previous, Phase::Progressing).await?;
        if let Err(e) = self.fleet.survey().await {
            let why = format!("cannot survey {}: {e}", self.fleet.describe());
            return self.roll_back(why, false).await;
        }
        if self.j.rec.phase == Phase::RollingBack {
            let why = self.j.rec.message.clone().unwrap_or_default();
            let aborted = self.j.rec.aborted;
            return self.roll_back(why, aborted).await;
        }
        let size = self.fleet.size();
        let batch_size = self.policy.batch.of(size);
        let deadline = self.j.rec.started_at + ms(self.policy.deadline);
        let mut paused = self.j.rec.phase == Phase::Paused;
        while self.j.rec.replaced.len() < size {
            while let Ok(cmd) = self.j.commands.try_recv() {
                match cmd {
                    RolloutControl::Abort => return self.roll_back("aborted".into(), true).await,
                    RolloutControl::Pause => paused = true,
                    RolloutControl::Resume | RolloutControl::Promote => paused = false,
                }
            }
            if paused {
                self.j.rec.phase = Phase::Paused;
                self.j.rec.message = Some("paused by a person".into());
                self.save().await?;
                loop {
                    match self.j.commands.recv().await {
                        Some(RolloutControl::Abort) | None => {
                            return self.roll_back("aborted".into(), true).await
                        }
                        Some(RolloutControl::Resume | RolloutControl::Promote) => break,
                        Some(RolloutControl::Pause) => {}
                    }
                }
                paused = false;
                self.j.rec.message = None;
            }
            self.j.rec.phase = Phase::Progressing;
            let start = self.j.rec.replaced.len();
            let batch: Vec<usize> = (start..(start + batch_size).min(size)).collect();
            self.j.rec.step = start / batch_size;
            self.save().await?;
            let verdict = match self.fleet.replace(&batch).await {
                Ok(()) => match self.wait_healthy(&batch, deadline, &mut paused).await {
                    Some(Verdict::Pass) => match self.fleet.admit(&batch).await {
                        Ok(()) => Verdict::Pass,
                        Err(e) => {
                            Verdict::Fail(format!("cannot put instances {batch:?} in service: {e}"))
                        }
                    },
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
                    self.j.rec.replaced.extend(&batch);
                    self.j.rec.failures = 0;
                    self.save().await?;
                    if self.j.rec.replaced.len() < size
                        && !self.pause_after_batch(&mut paused).await
                    {
                        return self.roll_back("aborted".into(), true).await;
                    }
                }
                Verdict::Fail(why) | Verdict::Inconclusive(why) => {
                    self.j.rec.failures += 1;
                    // The failed batch counts as replaced: it runs the new
                    // version until restored.
                    self.mark_replaced(&batch);
                    let out_of_time = self.j.clock.now_ms() >= deadline;
                    if self.j.rec.failures >= self.policy.max_failed_batches || out_of_time {
                        self.j.rec.failed_at = Some(self.j.clock.now_ms());
                        let why = if out_of_time {
                            format!(
                                "the rollout's deadline of {:?} passed: {why}",
                                self.policy.deadline
                            )
                        } else {
                            format!("{} failed batches in a row: {why}", self.j.rec.failures)
                        };
                        return self.roll_back(why, false).await;
                    }
                    // Try the same batch again.
                    self.j.rec.replaced.retain(|i| !batch.contains(i));
                    self.save().await?;
                }
            }
        }
        self.j.rec.phase = Phase::Completed;
        self.save().await?;
        Ok(self.j.rec.clone())
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
        let give_up = (self.j.clock.now_ms() + ms(self.policy.batch_timeout)).min(deadline);
        loop {
            let verdict = self.fleet.healthy(batch).await;
            if verdict.is_pass() || self.j.clock.now_ms() >= give_up {
                return Some(match verdict {
                    Verdict::Pass => Verdict::Pass,
                    other => Verdict::Fail(format!(
                        "instances {batch:?} not healthy within {:?}: {other}",
                        self.policy.batch_timeout
                    )),
                });
            }
            let until = (self.j.clock.now_ms() + ms(self.policy.poll_interval)).min(give_up);
            let clock = Arc::clone(&self.j.clock);
            tokio::select! {
                biased;
                cmd = self.j.commands.recv() => match cmd {
                    Some(RolloutControl::Abort) | None => return None,
                    Some(RolloutControl::Pause) => *paused = true,
                    Some(RolloutControl::Resume | RolloutControl::Promote) => *paused = false,
                },
                () = sleep_until(clock.as_ref(), until) => {}
            }
        }
    }

    /// Waits the policy's pause between batches; `false` when aborted
    /// meanwhile. A promote ends the pause early; a pause asked for
    /// meanwhile takes effect before the next batch.
    async fn pause_after_batch(&mut self, paused: &mut bool) -> bool {
        if self.policy.batch_pause.is_zero() {
            return true;
        }
        let until = self.j.clock.now_ms() + ms(self.policy.batch_pause);
        let clock = Arc::clone(&self.j.clock);
        loop {
            tokio::select! {
                biased;
                cmd = self.j.commands.recv() => match cmd {
                    Some(RolloutControl::Abort) | None => return false,
                    Some(RolloutControl::Pause) => *paused = true,
                    Some(RolloutControl::Resume) => *paused = false,
                    Some(RolloutControl::Promote) => {
                        *paused = false;
                        return true;
                    }
                },
                () = sleep_until(clock.as_ref(), until) => return true,
            }
        }
    }

    async fn roll_back(
        &mut self,
        why: String,
        aborted: bool,
    ) -> Result<RolloutRecord, RolloutError> {
        tracing::warn!(rollout = %self.j.name, reason = %why, "rolling back");
        self.j.rec.phase = Phase::RollingBack;
        self.j.rec.message = Some(why);
        self.j.rec.aborted = aborted;
        if self.j.rec.failed_at.is_none() {
            self.j.rec.failed_at = Some(self.j.clock.now_ms());
        }
        self.save().await?;
        let (fleet, replaced) = (&self.fleet, &self.j.rec.replaced);
        if let Err(e) = insist(|| fleet.restore(replaced)).await {
            return Err(self.j.stuck(format!(
                "cannot restore instances {:?}: {e}",
                self.j.rec.replaced
            )));
        }
        self.j.rec.traffic_off_at = Some(self.j.clock.now_ms());
        self.j.rec.replaced.clear();
        self.j.rec.phase = Phase::RolledBack;
        self.save().await?;
        Ok(self.j.rec.clone())
    }

    fn mark_replaced(&mut self, batch: &[usize]) {
        for i in batch {
            if !self.j.rec.replaced.contains(i) {
                self.j.rec.replaced.push(*i);
            }
        }
    }

    /// Records the rollout, its weight being the share of instances that
    /// run the new version (what an even pool sends them).
    async fn save(&mut self) -> Result<(), RolloutError> {
        let size = self.fleet.size().max(1);
        let share = (self.j.rec.replaced.len().min(size) * 100 + size / 2) / size;
        self.j.rec.weight = u8::try_from(share).unwrap_or(100);
        self.j.save().await
    }
}
