//! Strategies as the engine runs them: [`Strategy`] implements
//! [`dafnck_core::deploy::Deploy`], so `Options::deploy_with(strategy)`
//! rolls out every change of a resource as a canary or blue-green. The
//! engine creates the new object beside the old and deletes the loser; the
//! strategy builds a router and analysis from the two objects' outputs and
//! moves the traffic.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::state::RolloutControl;
use dafnck_core::Value;

use crate::analysis::AnalysisSet;
use crate::fleet::Fleet;
use crate::policy::{BlueGreen, Canary, Policy, PolicyError, Weights};
use crate::record::{Command, Phase, RolloutLog, RolloutRecord};
use crate::router::TrafficRouter;
use crate::traffic::{RolloutError, TrafficRollout};

/// How often a rollout under way looks for commands from other processes.
const CONTROL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

type RouterFn = dyn Fn(&Value, &Value) -> Result<Box<dyn TrafficRouter>, String> + Send + Sync;
type ChecksFn = dyn Fn(&Value, &Value) -> AnalysisSet + Send + Sync;

/// A canary or blue-green policy with the router and analysis it drives,
/// ready for `Options::deploy_with`.
///
/// `router` gets the old and the new object's outputs (say, their ports)
/// and returns the router that splits traffic between them; `readiness`
/// and `analysis` get the same and return the checks to run.
#[derive(Clone)]
pub struct Strategy {
    policy: Policy,
    router: Arc<RouterFn>,
    readiness: Arc<ChecksFn>,
    analysis: Arc<ChecksFn>,
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

    fn with<R, F>(policy: Policy, router: F) -> Self
    where
        R: TrafficRouter + 'static,
        F: Fn(&Value, &Value) -> Result<R, String> + Send + Sync + 'static,
    {
        Strategy {
            policy,
            router: Arc::new(move |old, new| {
                router(old, new).map(|r| Box::new(r) as Box<dyn TrafficRouter>)
            }),
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

    fn rollout(
        &self,
        rollout: &Rollout,
    ) -> Result<TrafficRollout<EngineFleet, Box<dyn TrafficRouter>>, String> {
        let router = (self.router)(&rollout.old, &rollout.new)?;
        let built = match &self.policy {
            Policy::Canary(p) => TrafficRollout::canary(&rollout.name, p, EngineFleet, router),
            Policy::BlueGreen(p) => {
                TrafficRollout::blue_green(&rollout.name, p, EngineFleet, router)
            }
            Policy::Rolling(_) => unreachable!("Strategy is built only for canary and blue-green"),
        };
        Ok(built
            .map_err(|e| e.to_string())?
            .readiness((self.readiness)(&rollout.old, &rollout.new))
            .analysis((self.analysis)(&rollout.old, &rollout.new))
            .log(JournalLog(rollout.log())))
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
            Policy::Rolling(_) => "rolling".into(),
        }
    }

    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError> {
        let previous: Option<RolloutRecord> = serde_json::from_value(rollout.previous.clone()).ok();
        // The engine resets unfinished rollouts before it deploys again, so
        // a previous record only numbers this attempt.
        let previous = previous.filter(|p| p.phase.is_terminal());
        let mut run = self.rollout(&rollout).map_err(DeployError::RolledBack)?;
        // Commands sent from other processes (`rollout abort NAME`) reach
        // the rollout through its handle.
        let handle = run.handle();
        let name = rollout.name.clone();
        let poll = async move {
            loop {
                tokio::time::sleep(CONTROL_POLL).await;
                match rollout.controls().await {
                    Ok(controls) => {
                        for c in controls {
                            handle.send(match c {
                                RolloutControl::Pause => Command::Pause,
                                RolloutControl::Resume => Command::Resume,
                                RolloutControl::Promote => Command::Promote,
                                RolloutControl::Abort => Command::Abort,
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(rollout = %name, error = %e, "cannot read rollout commands")
                    }
                }
            }
        };
        let result = tokio::select! {
            r = run.run(previous.as_ref()) => r,
            () = poll => unreachable!("the poll loop never ends"),
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
        let router = (self.router)(&rollout.old, &rollout.new)?;
        router.set_weights(Weights::to_new(0)).await
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
