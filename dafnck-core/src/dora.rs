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

/// What the metrics are made of: each deployment, lead time and restore in
/// the window, with when it happened.
#[derive(Clone, Debug, Default)]
struct Events {
    /// Each deployment: when, and how it ended.
    deployments: Vec<(u64, Option<RunOutcome>)>,
    /// Each successful deployment's lead time: when, and how long (ms).
    leads: Vec<(u64, u64)>,
    /// Each restore: when the success came, and how long after the
    /// failure (ms).
    restores: Vec<(u64, u64)>,
    /// Failures not followed by a success in the window.
    unrestored: usize,
}

impl Events {
    fn of(stacks: &[&[VersionInfo]], window: Window) -> Events {
        let mut e = Events::default();
        for versions in stacks {
            let mut failing_since: Option<u64> = None;
            for v in versions
                .iter()
                .filter(|v| window.holds(v.at) && DEPLOYING.contains(&v.operation.as_str()))
            {
                e.deployments.push((v.at, v.outcome));
                match v.outcome {
                    Some(RunOutcome::Succeeded) => {
                        if let Some(commit_at) = v.commit.as_ref().and_then(|c| c.at) {
                            e.leads.push((v.at, v.at.saturating_sub(commit_at)));
                        }
                        if let Some(since) = failing_since.take() {
                            e.restores.push((v.at, v.at - since));
                        }
                    }
                    Some(RunOutcome::Failed | RunOutcome::RolledBack) => {
                        failing_since.get_or_insert(v.at);
                    }
                    None => {}
                }
            }
            e.unrestored += usize::from(failing_since.is_some());
        }
        e
    }
}

/// Computes the metrics over the histories of `stacks` (each listed oldest
/// first) in `window`, together.
pub fn metrics(stacks: &[&[VersionInfo]], window: Window) -> Metrics {
    let e = Events::of(stacks, window);
    let count = |o: RunOutcome| e.deployments.iter().filter(|d| d.1 == Some(o)).count();
    let (succeeded, failed, rolled_back) = (
        count(RunOutcome::Succeeded),
        count(RunOutcome::Failed),
        count(RunOutcome::RolledBack),
    );
    let deployments = e.deployments.len();
    let per_day = if window.days() > 0.0 {
        deployments as f64 / window.days()
    } else {
        0.0
    };
    let known = succeeded + failed + rolled_back;
    let rate = (known > 0).then(|| (failed + rolled_back) as f64 / known as f64);
    let lead_time = Durations::of(e.leads.iter().map(|l| l.1).collect());
    let time_to_restore = Durations::of(e.restores.iter().map(|r| r.1).collect());
    Metrics {
        deployments,
        succeeded,
        failed,
        rolled_back,
        unknown: deployments - known,
        deployment_frequency_per_day: per_day,
        deployment_frequency_band: frequency_band(per_day),
        lead_time_band: lead_time.median_seconds.map(lead_time_band),
        lead_time,
        change_failure_rate: rate,
        change_failure_rate_band: rate.map(failure_rate_band),
        time_to_restore_band: time_to_restore.median_seconds.map(restore_band),
        time_to_restore,
        unrestored: e.unrestored,
    }
}

/// The metrics of one day of a window, for charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day {
    /// Its start (excluded), Unix milliseconds.
    pub from: u64,
    /// Its end (included), Unix milliseconds.
    pub until: u64,
    /// Deployments that day.
    pub deployments: usize,
    /// Of them, failed or rolled back.
    pub failures: usize,
    /// Failures over deployments of known outcome that day.
    pub change_failure_rate: Option<f64>,
    /// The median lead time of that day's successful deployments.
    pub lead_time_median_seconds: Option<f64>,
    /// The median time to restore of that day's restores.
    pub time_to_restore_median_seconds: Option<f64>,
}

/// The window's metrics day by day (the last day ends at `window.until`;
/// a window shorter than a day is one day), oldest first.
pub fn daily(stacks: &[&[VersionInfo]], window: Window) -> Vec<Day> {
    let e = Events::of(stacks, window);
    let day = DAY_MS as u64;
    let n = window
        .until
        .saturating_sub(window.from)
        .div_ceil(day)
        .max(1);
    // Day i covers (until - (n - i) days, until - (n - i - 1) days].
    let index = |at: u64| (n - 1).saturating_sub((window.until - at) / day) as usize;
    let mut days: Vec<Day> = (0..n)
        .map(|i| Day {
            from: (window.until + i * day)
                .saturating_sub(n * day)
                .max(window.from),
            until: window.until + (i + 1) * day - n * day,
            deployments: 0,
            failures: 0,
            change_failure_rate: None,
            lead_time_median_seconds: None,
            time_to_restore_median_seconds: None,
        })
        .collect();
    let mut known = vec![0usize; days.len()];
    let mut leads = vec![Vec::new(); days.len()];
    let mut restores = vec![Vec::new(); days.len()];
    for (at, outcome) in &e.deployments {
        let d = &mut days[index(*at)];
        d.deployments += 1;
        d.failures += usize::from(outcome.is_some_and(RunOutcome::is_failure));
        known[index(*at)] += usize::from(outcome.is_some());
    }
    for (at, ms) in &e.leads {
        leads[index(*at)].push(*ms);
    }
    for (at, ms) in &e.restores {
        restores[index(*at)].push(*ms);
    }
    for (i, d) in days.iter_mut().enumerate() {
        d.change_failure_rate = (known[i] > 0).then(|| d.failures as f64 / known[i] as f64);
        d.lead_time_median_seconds = Durations::of(std::mem::take(&mut leads[i])).median_seconds;
        d.time_to_restore_median_seconds =
            Durations::of(std::mem::take(&mut restores[i])).median_seconds;
    }
    days
}

/// A rollout that was rolled back, and how long the bad version kept
/// traffic after its analysis failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollback {
    /// The stack.
    pub stack: String,
    /// The resource rolled out.
    pub resource: String,
    /// The state version the rolled-back run wrote.
    pub version: u64,
    /// When that run ended, Unix milliseconds.
    pub at: u64,
    /// The rollout's attempt (1 for the first).
    pub attempt: Option<u64>,
    /// Whether a person aborted it (rather than analysis).
    pub aborted: bool,
    /// Why it was rolled back.
    pub message: Option<String>,
    /// From the failed analysis (or the abort) to no traffic on the new
    /// version, milliseconds.
    pub rollback_ms: u64,
}

/// The rollbacks a version's state records: each handover record (as the
/// strategies write them) with `failed_at` and `traffic_off_at`.
pub fn rollbacks(stack: &str, version: &VersionInfo, state: &crate::state::State) -> Vec<Rollback> {
    let mut found = Vec::new();
    for (resource, mark) in &state.handovers {
        let r = &mark.record;
        let at = |key: &str| r.get(key).and_then(serde_json::Value::as_u64);
        if let (Some(failed), Some(off)) = (at("failed_at"), at("traffic_off_at")) {
            found.push(Rollback {
                stack: stack.to_owned(),
                resource: resource.clone(),
                version: version.version,
                at: version.at,
                attempt: at("attempt"),
                aborted: r.get("aborted").and_then(|a| a.as_bool()).unwrap_or(false),
                message: r.get("message").and_then(|m| m.as_str()).map(str::to_owned),
                rollback_ms: off.saturating_sub(failed),
            });
        }
    }
    found
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

    #[test]
    fn days_split_the_window_and_sum_to_it() {
        use RunOutcome::*;
        let day = DAY_MS as u64;
        let h = [
            v(day / 2, "up", Some(Succeeded), Some(day / 2 - 4_000)),
            v(day + 10, "up", Some(Failed), None),
            v(day + 20, "up", Some(RolledBack), None),
            v(2 * day + 5, "up", Some(Succeeded), Some(2 * day)),
        ];
        let window = Window {
            from: 0,
            until: 3 * day,
        };
        let days = daily(&[&h], window);
        assert_eq!(days.len(), 3);
        assert_eq!((days[0].from, days[0].until), (0, day));
        assert_eq!((days[2].from, days[2].until), (2 * day, 3 * day));
        assert_eq!(
            days.iter().map(|d| d.deployments).collect::<Vec<_>>(),
            [1, 2, 1]
        );
        assert_eq!(days[1].change_failure_rate, Some(1.0));
        assert_eq!(days[0].lead_time_median_seconds, Some(4.0));
        // Restored on day 3, from the first failure of day 2.
        assert_eq!(
            days[2].time_to_restore_median_seconds,
            Some((day - 5) as f64 / 1000.0)
        );
        let m = metrics(&[&h], window);
        assert_eq!(
            days.iter().map(|d| d.deployments).sum::<usize>(),
            m.deployments
        );
    }
}
