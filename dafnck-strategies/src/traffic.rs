//! Canary and blue-green rollouts: the new version starts beside the
//! stable one, a [`TrafficRouter`] moves traffic to it step by step while
//! analysis runs, and it is promoted or rolled back. Blue-green is the
//! two-step case (no traffic while analysed, then all of it for the
//! rollback window).

use std::sync::Arc;
use std::time::Duration;

use crate::analysis::{AnalysisSet, Verdict};
use crate::clock::{ms, sleep_until, Clock, Millis};
use crate::fleet::Fleet;
use crate::journaled::{insist, Journaled};
use crate::policy::{BlueGreen, Canary, PolicyError, Step, Weights};
use crate::record::{Phase, RolloutHandle, RolloutLog, RolloutRecord};
use crate::router::TrafficRouter;
use dafnck_core::deploy::RolloutControl;

/// A rollout that could not finish what it must finish: traffic could not
/// be moved off a failing version, or its record could not be stored. Its
/// last stored record says where it stopped; running it again continues
/// from there.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// A router or fleet call kept failing where giving up is not an option
    /// (taking traffic off a bad version, retiring it).
    #[error("rollout {name}: stuck while {phase:?}: {message}")]
    Stuck {
        /// The rollout.
        name: String,
        /// Where it stopped.
        phase: Phase,
        /// The last failure.
        message: String,
    },
    /// A transition could not be recorded.
    #[error("rollout {name}: cannot record its progress: {message}")]
    Log {
        /// The rollout.
        name: String,
        /// The log's error.
        message: String,
    },
}

/// A canary or blue-green rollout of one resource.
///
/// # Example
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use dafnck_strategies::{Canary, MemoryFleet, MemoryRouter, Phase, Step, TrafficRollout};
/// let router = MemoryRouter::new();
/// let canary = Canary::with_steps([Step::new(20, Duration::ZERO), Step::new(50, Duration::ZERO)]);
/// let mut rollout = TrafficRollout::canary("web", &canary, MemoryFleet::new(), router.clone()).unwrap();
/// let done = rollout.run(None).await.unwrap();
/// assert_eq!(done.phase, Phase::Completed);
/// assert_eq!(router.history(), vec![20, 50, 100]);
/// # }
/// ```
pub struct TrafficRollout<F, R> {
    steps: Vec<Step>,
    interval: Duration,
    ready_timeout: Duration,
    ready_poll: Duration,
    failure_limit: u32,
    fleet: F,
    router: R,
    readiness: AnalysisSet,
    analysis: AnalysisSet,
    j: Journaled,
}

/// What the step loop decided.
enum Next {
    Promote,
    RollBack(String, bool),
}

impl<F: Fleet, R: TrafficRouter> TrafficRollout<F, R> {
    fn with_steps(
        name: &str,
        steps: Vec<Step>,
        interval: Duration,
        ready_timeout: Duration,
        failure_limit: u32,
        fleet: F,
        router: R,
    ) -> Self {
        TrafficRollout {
            steps,
            interval,
            ready_timeout,
            ready_poll: Duration::from_secs(1),
            failure_limit,
            fleet,
            router,
            readiness: AnalysisSet::new(),
            analysis: AnalysisSet::new(),
            j: Journaled::new(name),
        }
    }

    /// A canary rollout of `name` by `policy`.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn canary(name: &str, policy: &Canary, fleet: F, router: R) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Self::with_steps(
            name,
            policy.steps.clone(),
            policy.analysis_interval,
            policy.ready_timeout,
            policy.failure_limit,
            fleet,
            router,
        ))
    }

    /// A blue-green rollout of `name` by `policy`.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn blue_green(
        name: &str,
        policy: &BlueGreen,
        fleet: F,
        router: R,
    ) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Self::with_steps(
            name,
            policy.steps(),
            policy.analysis_interval,
            policy.ready_timeout,
            policy.failure_limit,
            fleet,
            router,
        ))
    }

    /// Checks that must pass before the new version gets any traffic
    /// (HTTP health checks); polled until they pass or the ready timeout.
    pub fn readiness(mut self, checks: AnalysisSet) -> Self {
        self.readiness = checks;
        self
    }

    /// How often readiness is polled (default 1 s).
    pub fn ready_poll(mut self, every: Duration) -> Self {
        self.ready_poll = every;
        self
    }

    /// Analysis run at every interval of every step (metric gates, health).
    pub fn analysis(mut self, gates: AnalysisSet) -> Self {
        self.analysis = gates;
        self
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

    /// A handle to pause, resume, promote or abort the rollout while it
    /// runs.
    pub fn handle(&self) -> RolloutHandle {
        self.j.handle()
    }

    /// Runs the rollout to its end: promoted ([`Phase::Completed`]) or
    /// rolled back ([`Phase::RolledBack`]).
    ///
    /// `previous` is the rollout's last record, if any: an unfinished one
    /// is resumed where it stopped (after a crash: the weight it had is set
    /// again, the step goes on for the time it had left, a rollback or
    /// promotion in progress is finished); a finished one is retried as a
    /// new attempt from the start.
    ///
    /// # Errors
    /// [`RolloutError`] when traffic cannot be taken off the new version or
    /// a transition cannot be recorded; the last record says where.
    pub async fn run(
        &mut self,
        previous: Option<&RolloutRecord>,
    ) -> Result<RolloutRecord, RolloutError> {
        let next = if self.j.begin(previous, Phase::Starting).await? {
            match self.j.rec.phase {
                Phase::Starting => self.start().await?,
                Phase::Progressing | Phase::Paused => self.progress().await?,
                Phase::Promoting => Next::Promote,
                Phase::RollingBack => {
                    let why = self.j.rec.message.clone().unwrap_or_default();
                    Next::RollBack(why, self.j.rec.aborted)
                }
                Phase::Completed | Phase::RolledBack => unreachable!("terminal"),
            }
        } else {
            self.start().await?
        };
        match next {
            Next::Promote => self.promote().await?,
            Next::RollBack(why, aborted) => self.roll_back(why, aborted).await?,
        }
        Ok(self.j.rec.clone())
    }

    /// Starts the new version and waits for it to be ready, then steps.
    async fn start(&mut self) -> Result<Next, RolloutError> {
        self.j.rec.phase = Phase::Starting;
        if let Err(e) = self.fleet.start_new().await {
            return Ok(Next::RollBack(
                format!(
                    "cannot start the new version on {}: {e}",
                    self.fleet.describe()
                ),
                false,
            ));
        }
        if let Err(e) = self.router.prepare().await {
            return Ok(Next::RollBack(
                format!(
                    "cannot ready {} for the new version: {e}",
                    self.router.describe()
                ),
                false,
            ));
        }
        let deadline = self.j.clock.now_ms() + ms(self.ready_timeout);
        loop {
            let verdict = self.readiness.run().await;
            if verdict.is_pass() {
                break;
            }
            if self.j.clock.now_ms() >= deadline {
                return Ok(Next::RollBack(
                    format!(
                        "the new version was not ready within {:?} ({verdict})",
                        self.ready_timeout
                    ),
                    false,
                ));
            }
            let until = (self.j.clock.now_ms() + ms(self.ready_poll)).min(deadline);
            // Only an abort matters before any traffic moves.
            if let Some(RolloutControl::Abort) = self.wait(until).await {
                return Ok(Next::RollBack("aborted".into(), true));
            }
        }
        self.j.rec.step = 0;
        self.j.rec.step_started_at = None;
        self.progress().await
    }

    /// Holds each step's weight for its duration under analysis.
    async fn progress(&mut self) -> Result<Next, RolloutError> {
        while self.j.rec.step < self.steps.len() {
            let step = self.steps[self.j.rec.step];
            if let Err(e) = self.router.set_weights(Weights::to_new(step.weight)).await {
                return Ok(Next::RollBack(
                    format!(
                        "cannot set {}% on {}: {e}",
                        step.weight,
                        self.router.describe()
                    ),
                    false,
                ));
            }
            self.j.rec.weight = step.weight;
            if self.j.rec.step_started_at.is_none() {
                self.j.rec.step_started_at = Some(self.j.clock.now_ms());
                self.j.rec.paused_for = 0;
            }
            if self.j.rec.phase == Phase::Paused {
                let why = self.j.rec.message.clone().unwrap_or_default();
                if let Some(next) = self.pause(why).await? {
                    return Ok(next);
                }
            }
            self.j.rec.phase = Phase::Progressing;
            self.save().await?;
            loop {
                let deadline = self.step_deadline(step);
                let until = (self.j.clock.now_ms() + ms(self.interval)).min(deadline);
                match self.wait(until).await {
                    Some(RolloutControl::Promote) => return Ok(Next::Promote),
                    Some(RolloutControl::Abort) => {
                        return Ok(Next::RollBack("aborted".into(), true))
                    }
                    Some(RolloutControl::Pause) => {
                        if let Some(next) = self.pause("paused by a person".into()).await? {
                            return Ok(next);
                        }
                        continue;
                    }
                    Some(RolloutControl::Resume) | None => {}
                }
                match self.analysis.run().await {
                    Verdict::Pass => self.j.rec.failures = 0,
                    Verdict::Fail(why) => {
                        self.j.rec.failures += 1;
                        if self.j.rec.failures > self.failure_limit {
                            self.j.rec.failed_at = Some(self.j.clock.now_ms());
                            return Ok(Next::RollBack(why, false));
                        }
                        self.save().await?;
                    }
                    Verdict::Inconclusive(why) => {
                        if let Some(next) = self.pause(why).await? {
                            return Ok(next);
                        }
                        continue;
                    }
                }
                if self.j.clock.now_ms() >= self.step_deadline(step) {
                    break;
                }
            }
            self.j.rec.step += 1;
            self.j.rec.step_started_at = None;
            self.j.rec.failures = 0;
        }
        Ok(Next::Promote)
    }

    fn step_deadline(&self, step: Step) -> Millis {
        self.j.rec.step_started_at.unwrap_or(0) + self.j.rec.paused_for + ms(step.duration)
    }

    /// Waits for a person; `None` when resumed (the pause does not count
    /// towards the step's duration).
    async fn pause(&mut self, why: String) -> Result<Option<Next>, RolloutError> {
        tracing::warn!(rollout = %self.j.name, reason = %why, "rollout paused; resume, promote or abort it");
        self.j.rec.phase = Phase::Paused;
        self.j.rec.message = Some(why);
        self.save().await?;
        let since = self.j.clock.now_ms();
        loop {
            match self.j.commands.recv().await {
                Some(RolloutControl::Resume) => break,
                Some(RolloutControl::Promote) => return Ok(Some(Next::Promote)),
                Some(RolloutControl::Abort) => {
                    return Ok(Some(Next::RollBack("aborted".into(), true)))
                }
                Some(RolloutControl::Pause) => {}
                // Unreachable while `self.j.tx` lives; treat as an abort.
                None => return Ok(Some(Next::RollBack("the controls went away".into(), true))),
            }
        }
        self.j.rec.paused_for += self.j.clock.now_ms() - since;
        self.j.rec.phase = Phase::Progressing;
        self.j.rec.message = None;
        self.save().await?;
        Ok(None)
    }

    /// Sleeps until `until` or the next command, whichever is first.
    async fn wait(&mut self, until: Millis) -> Option<RolloutControl> {
        let clock = Arc::clone(&self.j.clock);
        tokio::select! {
            biased;
            cmd = self.j.commands.recv() => cmd,
            () = sleep_until(clock.as_ref(), until) => None,
        }
    }

    async fn promote(&mut self) -> Result<(), RolloutError> {
        let router = &self.router;
        if let Err(e) = insist(|| router.set_weights(Weights::to_new(100))).await {
            let why = format!("cannot move all traffic to the new version: {e}");
            return self.roll_back(why, false).await;
        }
        self.j.rec.weight = 100;
        self.j.rec.phase = Phase::Promoting;
        self.save().await?;
        let fleet = &self.fleet;
        if let Err(e) = insist(|| fleet.promote()).await {
            return Err(self.stuck(format!("cannot retire the old version: {e}")));
        }
        self.j.rec.phase = Phase::Completed;
        self.save().await
    }

    async fn roll_back(&mut self, why: String, aborted: bool) -> Result<(), RolloutError> {
        tracing::warn!(rollout = %self.j.name, reason = %why, "rolling back");
        self.j.rec.phase = Phase::RollingBack;
        self.j.rec.message = Some(why);
        self.j.rec.aborted = aborted;
        if self.j.rec.failed_at.is_none() {
            self.j.rec.failed_at = Some(self.j.clock.now_ms());
        }
        self.save().await?;
        let router = &self.router;
        if let Err(e) = insist(|| router.set_weights(Weights::to_new(0))).await {
            return Err(self.stuck(format!(
                "cannot take traffic off the new version on {}: {e}",
                self.router.describe()
            )));
        }
        self.j.rec.weight = 0;
        self.j.rec.traffic_off_at = Some(self.j.clock.now_ms());
        self.save().await?;
        let fleet = &self.fleet;
        if let Err(e) = insist(|| fleet.retire_new()).await {
            return Err(self.stuck(format!("cannot retire the new version: {e}")));
        }
        self.j.rec.phase = Phase::RolledBack;
        self.save().await
    }

    async fn save(&mut self) -> Result<(), RolloutError> {
        self.j.save().await
    }

    fn stuck(&self, message: String) -> RolloutError {
        self.j.stuck(message)
    }
}
