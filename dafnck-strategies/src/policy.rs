//! The deployment policies a user attaches to a resource: what a rollout
//! does, step by step, as plain data that can be validated before anything
//! starts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a resource's new version replaces the old one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Policy {
    /// Start the new color beside the old, check it, switch all traffic at
    /// once, keep the old color for a rollback window.
    BlueGreen(BlueGreen),
    /// Shift traffic to the new version in weighted steps, analysing each.
    Canary(Canary),
    /// Replace instances in batches, health checking each batch.
    Rolling(Rolling),
}

/// What a metric gate or analysis concludes when it has nothing to judge:
/// the query returned no series, or the metrics source could not be asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoData {
    /// Treat it as a pass (only for metrics that are legitimately sparse).
    Pass,
    /// Treat it as a failure: the rollout rolls back.
    Fail,
    /// Neither: the rollout pauses until someone resumes, promotes or aborts.
    #[default]
    Inconclusive,
}

/// One step of a canary: the share of traffic the new version gets, and how
/// long it holds there under analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Percent of traffic to the new version, 0..=100.
    pub weight: u8,
    /// How long the weight is held while analysis runs.
    pub duration: Duration,
}

impl Step {
    /// A step of `weight` percent held for `duration`.
    pub fn new(weight: u8, duration: Duration) -> Self {
        Step { weight, duration }
    }
}

/// A canary rollout.
///
/// ```
/// use std::time::Duration;
/// use dafnck_strategies::policy::{Canary, Step};
/// let canary = Canary::default();
/// assert_eq!(canary.steps[0], Step::new(5, Duration::from_secs(600)));
/// assert!(canary.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// The steps, in order; after the last one the new version gets 100%.
    pub steps: Vec<Step>,
    /// How often analysis runs during a step.
    pub analysis_interval: Duration,
    /// How long the new version may take to become ready before any traffic
    /// reaches it; past it the rollout rolls back.
    pub ready_timeout: Duration,
    /// Failed analyses tolerated in a row before rolling back (0: the first
    /// failure rolls back).
    pub failure_limit: u32,
}

impl Default for Canary {
    /// 5% for 10 min, 25% for 20 min, 50% for 30 min, then 100%; analysis
    /// every minute.
    fn default() -> Self {
        Canary {
            steps: vec![
                Step::new(5, Duration::from_secs(10 * 60)),
                Step::new(25, Duration::from_secs(20 * 60)),
                Step::new(50, Duration::from_secs(30 * 60)),
            ],
            analysis_interval: Duration::from_secs(60),
            ready_timeout: Duration::from_secs(120),
            failure_limit: 0,
        }
    }
}

impl Canary {
    /// A canary with these steps and the default analysis settings.
    pub fn with_steps(steps: impl IntoIterator<Item = Step>) -> Self {
        Canary {
            steps: steps.into_iter().collect(),
            ..Canary::default()
        }
    }

    /// Checks the steps: at least one, weights in 1..=100 and increasing,
    /// and a non-zero analysis interval.
    ///
    /// # Errors
    /// Every problem found, not just the first.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut problems = Vec::new();
        if self.steps.is_empty() {
            problems.push("a canary needs at least one step".to_string());
        }
        let mut last = 0u8;
        for (i, step) in self.steps.iter().enumerate() {
            if step.weight == 0 || step.weight > 100 {
                problems.push(format!(
                    "step {} has weight {}%; a canary step's weight must be 1..=100",
                    i + 1,
                    step.weight
                ));
            } else if step.weight <= last {
                problems.push(format!(
                    "step {} has weight {}%, not more than the step before ({last}%)",
                    i + 1,
                    step.weight
                ));
            }
            last = last.max(step.weight);
        }
        if self.analysis_interval.is_zero() {
            problems.push("the analysis interval must be more than zero".to_string());
        }
        PolicyError::from_problems(problems)
    }
}

/// A blue-green rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlueGreen {
    /// Analysis of the new color before the switch, with no traffic on it;
    /// zero skips it.
    pub pre_switch_analysis: Duration,
    /// How long the old color is kept after the switch; a failed analysis in
    /// this window switches traffic back.
    pub rollback_window: Duration,
    /// How often analysis runs.
    pub analysis_interval: Duration,
    /// How long the new color may take to become ready.
    pub ready_timeout: Duration,
    /// Failed analyses tolerated in a row before switching back.
    pub failure_limit: u32,
}

impl Default for BlueGreen {
    /// No pre-switch analysis, a 10-minute rollback window, analysis every
    /// 30 s.
    fn default() -> Self {
        BlueGreen {
            pre_switch_analysis: Duration::ZERO,
            rollback_window: Duration::from_secs(10 * 60),
            analysis_interval: Duration::from_secs(30),
            ready_timeout: Duration::from_secs(120),
            failure_limit: 0,
        }
    }
}

impl BlueGreen {
    /// Checks the settings.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut problems = Vec::new();
        if self.analysis_interval.is_zero() {
            problems.push("the analysis interval must be more than zero".to_string());
        }
        PolicyError::from_problems(problems)
    }

    /// The blue-green rollout as traffic steps: no traffic while the new
    /// color is analysed, then all of it for the rollback window.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if !self.pre_switch_analysis.is_zero() {
            steps.push(Step::new(0, self.pre_switch_analysis));
        }
        steps.push(Step::new(100, self.rollback_window));
        steps
    }
}

/// How many instances a rolling batch replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchSize {
    /// A percentage of the fleet, rounded up, at least one.
    Percent(u8),
    /// A fixed count, at least one.
    Count(usize),
}

impl BatchSize {
    /// The batch size for a fleet of `fleet` instances.
    pub fn of(self, fleet: usize) -> usize {
        let n = match self {
            BatchSize::Percent(p) => (fleet * usize::from(p)).div_ceil(100),
            BatchSize::Count(c) => c,
        };
        n.clamp(1, fleet.max(1))
    }
}

/// `25%` or `2 instances`.
impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Percent(p) => write!(f, "{p}%"),
            BatchSize::Count(1) => write!(f, "1 instance"),
            BatchSize::Count(c) => write!(f, "{c} instances"),
        }
    }
}

/// A rolling rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rolling {
    /// Instances replaced per batch.
    pub batch: BatchSize,
    /// How long a replaced batch may take to pass its health check.
    pub batch_timeout: Duration,
    /// Failed batch attempts in a row after which every replaced instance is
    /// rolled back.
    pub max_failed_batches: u32,
    /// The whole rollout's deadline; past it everything replaced is rolled
    /// back.
    pub deadline: Duration,
    /// How often a batch's health is polled while waiting.
    pub poll_interval: Duration,
    /// How long the rollout waits after a batch is in service before the
    /// next batch starts (CloudFormation's `PauseTime`): time for metrics
    /// and people to notice. Commands are heard meanwhile.
    #[serde(default)]
    pub batch_pause: Duration,
}

impl Default for Rolling {
    /// 25% batches, 60 s per batch, roll back after two failed batches, a
    /// 20-minute deadline, no pause between batches.
    fn default() -> Self {
        Rolling {
            batch: BatchSize::Percent(25),
            batch_timeout: Duration::from_secs(60),
            max_failed_batches: 2,
            deadline: Duration::from_secs(20 * 60),
            poll_interval: Duration::from_secs(2),
            batch_pause: Duration::ZERO,
        }
    }
}

impl Rolling {
    /// Checks the settings.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut problems = Vec::new();
        match self.batch {
            BatchSize::Percent(p) if p == 0 || p > 100 => {
                problems.push(format!("batch size {p}% must be 1..=100"));
            }
            BatchSize::Count(0) => problems.push("batch size must be at least 1".into()),
            _ => {}
        }
        if self.max_failed_batches == 0 {
            problems.push("max_failed_batches must be at least 1".into());
        }
        if self.poll_interval.is_zero() {
            problems.push("the poll interval must be more than zero".into());
        }
        PolicyError::from_problems(problems)
    }
}

impl Policy {
    /// Checks the policy's settings.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match self {
            Policy::BlueGreen(p) => p.validate(),
            Policy::Canary(p) => p.validate(),
            Policy::Rolling(p) => p.validate(),
        }
    }
}

/// A policy that cannot be run, with every problem found in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid deployment policy: {}", problems.join("; "))]
pub struct PolicyError {
    /// What is wrong, one entry per problem.
    pub problems: Vec<String>,
}

impl PolicyError {
    fn from_problems(problems: Vec<String>) -> Result<(), PolicyError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError { problems })
        }
    }
}

/// The split of traffic between the stable and the new version; the two
/// always sum to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    stable: u8,
    new: u8,
}

impl Weights {
    /// A split; `stable + new` must be 100.
    ///
    /// # Errors
    /// When the weights do not sum to 100.
    pub fn new(stable: u8, new: u8) -> Result<Self, PolicyError> {
        if u16::from(stable) + u16::from(new) != 100 {
            return Err(PolicyError {
                problems: vec![format!("weights {stable}% + {new}% do not sum to 100%")],
            });
        }
        Ok(Weights { stable, new })
    }

    /// `percent` to the new version, the rest to the stable one (clamped to
    /// 100).
    pub fn to_new(percent: u8) -> Self {
        let new = percent.min(100);
        Weights {
            stable: 100 - new,
            new,
        }
    }

    /// The stable version's share.
    pub fn stable(self) -> u8 {
        self.stable
    }

    /// The new version's share.
    pub fn new_share(self) -> u8 {
        self.new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_with_no_steps_or_bad_weights_lists_every_problem() {
        let err = Canary::with_steps([]).validate().unwrap_err();
        assert_eq!(err.problems, vec!["a canary needs at least one step"]);
        let err = Canary::with_steps([
            Step::new(0, Duration::from_secs(1)),
            Step::new(50, Duration::from_secs(1)),
            Step::new(40, Duration::from_secs(1)),
            Step::new(101, Duration::from_secs(1)),
        ])
        .validate()
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.to_string().contains("step 1 has weight 0%"), "{err}");
        assert!(err.to_string().contains("step 3 has weight 40%"), "{err}");
        assert!(err.to_string().contains("step 4 has weight 101%"), "{err}");
    }

    #[test]
    fn weights_must_sum_to_100() {
        assert!(Weights::new(70, 30).is_ok());
        let err = Weights::new(70, 40).unwrap_err();
        assert!(err.to_string().contains("do not sum to 100%"), "{err}");
        assert_eq!(Weights::to_new(130), Weights::new(0, 100).unwrap());
    }

    #[test]
    fn batch_sizes_round_up_and_stay_within_the_fleet() {
        assert_eq!(BatchSize::Percent(25).of(10), 3);
        assert_eq!(BatchSize::Percent(25).of(1), 1);
        assert_eq!(BatchSize::Count(5).of(3), 3);
        assert_eq!(BatchSize::Percent(100).of(4), 4);
    }

    #[test]
    fn blue_green_is_two_traffic_steps() {
        let bg = BlueGreen {
            pre_switch_analysis: Duration::from_secs(30),
            ..BlueGreen::default()
        };
        assert_eq!(
            bg.steps(),
            vec![
                Step::new(0, Duration::from_secs(30)),
                Step::new(100, Duration::from_secs(600))
            ]
        );
        assert_eq!(BlueGreen::default().steps().len(), 1);
    }
}
