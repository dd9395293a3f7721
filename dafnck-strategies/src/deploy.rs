//! Strategies as the engine runs them: [`Strategy`] implements
//! [`dafnck_core::deploy::Deploy`], so `Options::deploy_with(strategy)`
//! rolls out every change of a resource as a canary, blue-green or rolling
//! update. The engine creates the new object beside the old and deletes the
//! loser; the strategy builds a router and analysis (or, rolling, a fleet
//! of instances) from the two objects' outputs and moves the traffic.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::Value;

use crate::analysis::AnalysisSet;
use crate::fleet::{Fleet, RollingFleet};
use crate::policy::{BlueGreen, Canary, Policy, PolicyError, Rolling, Weights};
use crate::record::{Phase, RolloutHandle, RolloutLog, RolloutRecord};
use crate::rolling::RollingRollout;
use crate::router::TrafficRouter;
use crate::traffic::{RolloutError, TrafficRollout};

/// How often a rollout under way looks for commands from other processes.
const CONTROL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

type RouterFn = dyn Fn(&Value, &Value) -> Result<Box<dyn TrafficRouter>, String> + Send + Sync;
type FleetFn = dyn Fn(&Value, &Value) -> Result<Box<dyn RollingFleet>, String> + Send + Sync;
type ChecksFn = dyn Fn(&Value, &Value) -> AnalysisSet + Send + Sync;

/// A canary, blue-green or rolling policy with what it drives, ready for
/// `Options::deploy_with`.
///
/// Canary and blue-green: `router` gets the old and the new object's
/// outputs (say, their ports) and returns the router that splits traffic
/// between them; `readiness` and `analysis` get the same and return the
/// checks to run. Rolling: `fleet` gets the two objects' outputs (say, the
/// ports of each object's instances) and returns the fleet whose instances
/// are swapped batch by batch, usually a [`crate::PoolFleet`] whose members
/// carry their health checks.
#[derive(Clone)]
pub struct Strategy {
    policy: Policy,
    mover: Mover,
    readiness: Arc<ChecksFn>,
    analysis: Arc<ChecksFn>,
}

/// What moves the traffic.
#[derive(Clone)]
enum Mover {
    Router(Arc<RouterFn>),
    Fleet(Arc<FleetFn>),
}

impl Strategy {
    /// A canary rollout through the router `router` builds.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn canary<R, F>(policy: Canary, router: F) -> Result<Self, PolicyError>
    where
        R: TrafficRouter + 'static,
        F: Fn(&Value, &Value) -> Result<R, String> + Send + Sync + 'static,
    {
        policy.validate()?;
        Ok(Strategy::with(Policy::Canary(policy), router))
    }

    /// A blue-green rollout through the router `router` builds.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn blue_green<R, F>(policy: BlueGreen, router: F) -> Result<Self, PolicyError>
    where
        R: TrafficRouter + 'static,
        F: Fn(&Value, &Value) -> Result<R, String> + Send + Sync + 'static,
    {
        policy.validate()?;
        Ok(Strategy::with(Policy::BlueGreen(policy), router))
    }

    /// A rolling update of the instances `fleet` builds from the old and
    /// new objects' outputs. The new object's instances are all started
    /// (by the engine's create) before the rollout; the fleet swaps them
    /// in batch by batch, each batch health checked, and a rollback puts
    /// the old instances back. [`Strategy::readiness`] and
    /// [`Strategy::analysis`] do not apply: each instance's checks are the
    /// fleet's.
    ///
    /// # Errors
    /// The policy is invalid (every problem listed).
    pub fn rolling<R, F>(policy: Rolling, fleet: F) -> Result<Self, PolicyError>
    where
        R: RollingFleet + 'static,
        F: Fn(&Value, &Value) -> Result<R, String> + Send + Sync + 'static,
    {
        policy.validate()?;
        Ok(Strategy {
            policy: Policy::Rolling(policy),
            mover: Mover::Fleet(Arc::new(move |old, new| {
                fleet(old, new).map(|f| Box::new(f) as Box<dyn RollingFleet>)
            })),
            readiness: Arc::new(|_, _| AnalysisSet::new()),
            analysis: Arc::new(|_, _| AnalysisSet::new()),
        })
    }

    fn with<R, F>(policy: Policy, router: F) -> Self
    where
        R: TrafficRouter + 'static,
        F: Fn(&Value, &Value) -> Result<R, String> + Send + Sync + 'static,
    {
        Strategy {
            policy,
            mover: Mover::Router(Arc::new(move |old, new| {
                router(old, new).map(|r| Box::new(r) as Box<dyn TrafficRouter>)
            })),
            readiness: Arc::new(|_, _| AnalysisSet::new()),
            analysis: Arc::new(|_, _| AnalysisSet::new()),
        }
    }

    /// Checks the new object must pass before it gets any traffic (health
    /// checks), from the old and new objects' outputs.
    pub fn readiness(
        mut self,
        checks: impl Fn(&Value, &Value) -> AnalysisSet + Send + Sync + 'static,
    ) -> Self {
        self.readiness = Arc::new(checks);
        self
    }

    /// Analysis run during every step (metric gates), from the old and new
    /// objects' outputs.
    pub fn analysis(
        mut self,
        gates: impl Fn(&Value, &Value) -> AnalysisSet + Send + Sync + 'static,
    ) -> Self {
        self.analysis = Arc::new(gates);
        self
    }

    fn traffic_rollout(
        &self,
        router: &RouterFn,
        rollout: &Rollout,
    ) -> Result<TrafficRollout<EngineFleet, Box<dyn TrafficRouter>>, String> {
        let router = router(&rollout.old, &rollout.new)?;
        let built = match &self.policy {
            Policy::Canary(p) => TrafficRollout::canary(&rollout.name, p, EngineFleet, router),
            Policy::BlueGreen(p) => {
                TrafficRollout::blue_green(&rollout.name, p, EngineFleet, router)
            }
            Policy::Rolling(_) => return Err("a rolling policy has no traffic router".into()),
        };
        Ok(built
            .map_err(|e| e.to_string())?
            .readiness((self.readiness)(&rollout.old, &rollout.new))
            .analysis((self.analysis)(&rollout.old, &rollout.new))
            .log(JournalLog(rollout.log())))
    }

    fn rolling_rollout(
        &self,
        fleet: &FleetFn,
        rollout: &Rollout,
    ) -> Result<RollingRollout<Box<dyn RollingFleet>>, String> {
        let Policy::Rolling(p) = &self.policy else {
            return Err("only a rolling policy has a fleet".into());
        };
        let fleet = fleet(&rollout.old, &rollout.new)?;
        Ok(RollingRollout::new(&rollout.name, p, fleet)
            .map_err(|e| e.to_string())?
            .log(JournalLog(rollout.log())))
    }
}

/// Relays commands sent from other processes (`rollout abort NAME`) to a
/// running rollout's handle, forever.
async fn relay_controls(rollout: Rollout, handle: RolloutHandle) {
    loop {
        tokio::time::sleep(CONTROL_POLL).await;
        match rollout.controls().await {
            Ok(controls) => {
                for c in controls {
                    handle.send(c);
                }
            }
            Err(e) => {
                tracing::warn!(rollout = %rollout.name, error = %e, "cannot read rollout commands")
            }
        }
    }
}

#[async_trait]
impl Deploy for Strategy {
    fn describe(&self) -> String {
        match &self.policy {
            Policy::Canary(c) => {
                let mut s = "canary ".to_string();
                for step in &c.steps {
                    let _ = write!(s, "{}% ({:?}) → ", step.weight, step.duration);
                }
                s.push_str("100%");
                s
            }
            Policy::BlueGreen(b) => format!(
                "blue-green (switch, rollback window {:?})",
                b.rollback_window
            ),
            Policy::Rolling(r) => format!(
                "rolling, {} at a time, {:?} per batch, rolled back after {} failed batches",
                r.batch, r.batch_timeout, r.max_failed_batches
            ),
        }
    }

    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError> {
        let previous: Option<RolloutRecord> = serde_json::from_value(rollout.previous.clone()).ok();
        // The engine resets unfinished rollouts before it deploys again, so
        // a previous record only numbers this attempt.
        let previous = previous.filter(|p| p.phase.is_terminal());
        let result = match &self.mover {
            Mover::Router(router) => {
                let mut run = self
                    .traffic_rollout(router.as_ref(), &rollout)
                    .map_err(DeployError::RolledBack)?;
                let handle = run.handle();
                tokio::select! {
                    r = run.run(previous.as_ref()) => r,
                    () = relay_controls(rollout, handle) => unreachable!("the relay never ends"),
                }
            }
            Mover::Fleet(fleet) => {
                let mut run = self
                    .rolling_rollout(fleet.as_ref(), &rollout)
                    .map_err(DeployError::RolledBack)?;
                let handle = run.handle();
                tokio::select! {
                    r = run.run(previous.as_ref()) => r,
                    () = relay_controls(rollout, handle) => unreachable!("the relay never ends"),
                }
            }
        };
        match result {
            Ok(done) if done.phase == Phase::Completed => Ok(()),
            Ok(done) => Err(DeployError::RolledBack(
                done.message.unwrap_or_else(|| "rolled back".into()),
            )),
            Err(e @ RolloutError::Stuck { .. }) => Err(DeployError::Stuck(e.to_string())),
            Err(e @ RolloutError::Log { .. }) => Err(DeployError::Stuck(e.to_string())),
        }
    }

    async fn reset(&self, rollout: Rollout) -> Result<(), String> {
        match &self.mover {
            Mover::Router(router) => {
                let router = router(&rollout.old, &rollout.new)?;
                router.set_weights(Weights::to_new(0)).await
            }
            Mover::Fleet(fleet) => {
                let fleet = fleet(&rollout.old, &rollout.new)?;
                fleet.survey().await?;
                let every: Vec<usize> = (0..fleet.size()).collect();
                fleet.restore(&every).await
            }
        }
    }
}

/// The engine creates and deletes the objects; the rollout only moves
/// traffic between them.
struct EngineFleet;

#[async_trait]
impl Fleet for EngineFleet {
    fn describe(&self) -> String {
        "the resource's old and new objects".into()
    }
    async fn start_new(&self) -> Result<(), String> {
        Ok(())
    }
    async fn promote(&self) -> Result<(), String> {
        Ok(())
    }
    async fn retire_new(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Rollout records into the stack's journal.
struct JournalLog(dafnck_core::deploy::RolloutLog);

#[async_trait]
impl RolloutLog for JournalLog {
    async fn record(&self, record: &RolloutRecord) -> Result<(), String> {
        let json = serde_json::to_value(record).map_err(|e| e.to_string())?;
        self.0.record(json).await
    }
}
