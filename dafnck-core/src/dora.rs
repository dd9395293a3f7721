//! The four DORA metrics of delivery, computed from stacks' state
//! histories: deployment frequency, lead time for changes, change failure
//! rate and time to restore, over a window, with the performance bands of
//! the DORA reports.
//!
//! A deployment is a version written by `up`. Its outcome
//! is the one the run recorded ([`RunOutcome`]): failed, or rolled back by
//! a rollout's analysis, counts as a failed change; versions written
//! before outcomes were kept count as deployments of unknown outcome, left
//! out of the rate. Lead time runs from the commit time the version
//! records ([`Commit`](crate::state::Commit): `DAFNCK_COMMIT_TIME`, else
//! `git log -1` where `up` ran) to the deployment, over successful
//! deployments that record one. Time to restore runs from a failed
//! deployment (the first of a run of failures) to the next successful one.

use serde::Serialize;

use crate::state::{RunOutcome, VersionInfo};

/// The operations that deploy.
pub const DEPLOYING: &[&str] = &["up"];

const DAY_MS: f64 = 86_400_000.0;

/// The window the metrics cover: versions written in `(from, until]`, Unix
/// milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Its start (excluded).
    pub from: u64,
    /// Its end (included).
    pub until: u64,
}

impl Window {
    /// Its length in days.
    pub fn days(&self) -> f64 {
        (self.until.saturating_sub(self.from)) as f64 / DAY_MS
    }

    fn holds(&self, at: u64) -> bool {
        at > self.from && at <= self.until
    }
}

/// A DORA performance band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Elite performers.
    Elite,
    /// High performers.
    High,
    /// Medium performers.
    Medium,
    /// Low performers.
    Low,
}

impl std::fmt::Display for Band {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        })
    }
}

/// Durations measured over some deployments, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Durations {
    /// How many were measured.
    pub count: usize,
    /// Their median (the mean of the middle two for an even count).
    pub median_seconds: Option<f64>,
    /// Their mean.
    pub mean_seconds: Option<f64>,
}

impl Durations {
    fn of(mut ms: Vec<u64>) -> Durations {
        ms.sort_unstable();
        let n = ms.len();
        if n == 0 {
            return Durations::default();
        }
        let median = if n % 2 == 1 {
            ms[n / 2] as f64
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) as f64 / 2.0
        };
        let mean = ms.iter().sum::<u64>() as f64 / n as f64;
        Durations {
            count: n,
            median_seconds: Some(median / 1000.0),
            mean_seconds: Some(mean / 1000.0),
        }
    }
}

/// The metrics of one stack, or of several together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Deployments in the window.
    pub deployments: usize,
    /// Of them, succeeded.
    pub succeeded: usize,
    /// Failed.
    pub failed: usize,
    /// Rolled back by a rollout's analysis.
    pub rolled_back: usize,
    /// Of unknown outcome (versions written before outcomes were kept).
    pub unknown: usize,
    /// Deployments per day.
    pub deployment_frequency_per_day: f64,
    /// Its band.
    pub deployment_frequency_band: Band,
    /// From commit to successful deployment.
    pub lead_time: Durations,
    /// Its band, when measured.
    pub lead_time_band: Option<Band>,
    /// Failed and rolled-back deployments over those of known outcome.
    pub change_failure_rate: Option<f64>,
    /// Its band, when there were deployments.
    pub change_failure_rate_band: Option<Band>,
    /// From a failed deployment to the next successful one.
    pub time_to_restore: Durations,
    /// Failures not followed by a success in the window.
    pub unrestored: usize,
    /// Its band, when measured.
    pub time_to_restore_band: Option<Band>,
}

/// Computes the metrics over the histories of `stacks` (each listed oldest
/// first) in `window`, together.
pub fn metrics(stacks: &[&[VersionInfo]], window: Window) -> Metrics {
    let mut deployments = 0;
    let (mut succeeded, mut failed, mut rolled_back, mut unknown) = (0, 0, 0, 0);
    let mut leads = Vec::new();
    let mut restores = Vec::new();
    let mut unrestored = 0;
    for versions in stacks {
        let mut failing_since: Option<u64> = None;
        for v in versions
            .iter()
            .filter(|v| window.holds(v.at) && DEPLOYING.contains(&v.operation.as_str()))
        {
            deployments += 1;
            match v.outcome {
                Some(RunOutcome::Succeeded) => {
                    succeeded += 1;
                    if let Some(commit_at) = v.commit.as_ref().and_then(|c| c.at) {
                        leads.push(v.at.saturating_sub(commit_at));
                    }
                    if let Some(since) = failing_since.take() {
                        restores.push(v.at - since);
                    }
                }
                Some(o @ (RunOutcome::Failed | RunOutcome::RolledBack)) => {
                    if o == RunOutcome::Failed {
                        failed += 1;
                    } else {
                        rolled_back += 1;
                    }
                    failing_since.get_or_insert(v.at);
                }
                None => unknown += 1,
            }
        }
        unrestored += usize::from(failing_since.is_some());
    }
    let per_day = if window.days() > 0.0 {
        deployments as f64 / window.days()
    } else {
        0.0
    };
    let known = succeeded + failed + rolled_back;
    let rate = (known > 0).then(|| (failed + rolled_back) as f64 / known as f64);
    let lead_time = Durations::of(leads);
    let time_to_restore = Durations::of(restores);
    Metrics {
        deployments,
        succeeded,
        failed,
        rolled_back,
        unknown,
        deployment_frequency_per_day: per_day,
        deployment_frequency_band: frequency_band(per_day),
        lead_time_band: lead_time.median_seconds.map(lead_time_band),
        lead_time,
        change_failure_rate: rate,
        change_failure_rate_band: rate.map(failure_rate_band),
        time_to_restore_band: time_to_restore.median_seconds.map(restore_band),
        time_to_restore,
        unrestored,
    }
}

const HOUR: f64 = 3_600.0;
const DAY: f64 = 24.0 * HOUR;

/// Elite: on demand (a deployment a day or more); high: between once a
/// day and once a week; medium: between once a week and once a month;
/// low: less.
pub fn frequency_band(per_day: f64) -> Band {
    match per_day {
        f if f >= 1.0 => Band::Elite,
        f if f >= 1.0 / 7.0 => Band::High,
        f if f >= 1.0 / 30.0 => Band::Medium,
        _ => Band::Low,
    }
}

/// Elite: under a day; high: under a week; medium: under a month; low:
/// longer.
pub fn lead_time_band(seconds: f64) -> Band {
    match seconds {
        s if s < DAY => Band::Elite,
        s if s < 7.0 * DAY => Band::High,
        s if s < 30.0 * DAY => Band::Medium,
        _ => Band::Low,
    }
}

/// Elite: 5 % or less; high: 10 % or less; medium: 15 % or less; low:
/// more.
pub fn failure_rate_band(rate: f64) -> Band {
    match rate {
        r if r <= 0.05 => Band::Elite,
        r if r <= 0.10 => Band::High,
        r if r <= 0.15 => Band::Medium,
        _ => Band::Low,
    }
}

/// Elite: under an hour; high: under a day; medium: under a week; low:
/// longer.
pub fn restore_band(seconds: f64) -> Band {
    match seconds {
        s if s < HOUR => Band::Elite,
        s if s < DAY => Band::High,
        s if s < 7.0 * DAY => Band::Medium,
        _ => Band::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Commit;

    fn v(
        at: u64,
        operation: &str,
        outcome: Option<RunOutcome>,
        commit_at: Option<u64>,
    ) -> VersionInfo {
        VersionInfo {
            at,
            operation: operation.into(),
            outcome,
            commit: commit_at.map(|at| Commit {
                at: Some(at),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn failures_count_until_the_next_success_and_other_operations_are_not_deployments() {
        use RunOutcome::*;
        let h = [
            v(1_000, "up", Some(Succeeded), Some(0)),
            v(2_000, "up", Some(Failed), None),
            v(3_000, "refresh", Some(Succeeded), None),
            v(4_000, "up", Some(RolledBack), None),
            v(9_000, "up", Some(Succeeded), Some(5_000)),
            v(10_000, "up", None, None),
            v(11_000, "up", Some(Failed), None),
        ];
        let m = metrics(
            &[&h],
            Window {
                from: 0,
                until: DAY_MS as u64,
            },
        );
        assert_eq!(
            (
                m.deployments,
                m.succeeded,
                m.failed,
                m.rolled_back,
                m.unknown
            ),
            (6, 2, 2, 1, 1)
        );
        assert_eq!(m.change_failure_rate, Some(3.0 / 5.0));
        assert_eq!(m.lead_time.median_seconds, Some(2.5));
        // From the first failure (2 s) to the next success (9 s).
        assert_eq!(m.time_to_restore.median_seconds, Some(7.0));
        assert_eq!(m.unrestored, 1);
        assert_eq!(m.deployment_frequency_band, Band::Elite);
        let outside = metrics(
            &[&h],
            Window {
                from: 9_000,
                until: 20_000,
            },
        );
        assert_eq!(outside.deployments, 2);
    }
}
