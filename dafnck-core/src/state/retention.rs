//! How much of a stack's history to keep: a [`Retention`] policy says
//! which versions stay, and [`prune`] drops the others through the store's
//! [`StateHistory::drop_versions`].

use std::fmt;
use std::time::Duration;

use super::{StateError, StateHistory, VersionInfo};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Which versions of a stack's history to keep: a version is kept when any
/// rule set keeps it, and the newest always is. A policy with no rule
/// keeps everything.
///
/// ```
/// use dafnck_core::state::Retention;
///
/// let r: Retention = "last=20,daily=14".parse().unwrap();
/// assert_eq!(r.keep_last, Some(20));
/// assert_eq!(r.keep_daily, Some(14));
/// assert_eq!(r.to_string(), "last=20,daily=14");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep the last N versions.
    pub keep_last: Option<usize>,
    /// Keep every version younger than this.
    pub keep_within: Option<Duration>,
    /// Keep the newest version of each UTC day, for the last D days (today
    /// is the first).
    pub keep_daily: Option<u64>,
}

impl Retention {
    /// Whether no rule is set (everything is kept).
    pub fn keeps_everything(&self) -> bool {
        self.keep_last.is_none() && self.keep_within.is_none() && self.keep_daily.is_none()
    }

    /// The numbers of the versions (listed oldest first) the policy drops
    /// at `now` (Unix milliseconds).
    pub fn to_drop(&self, versions: &[VersionInfo], now: u64) -> Vec<u64> {
        if self.keeps_everything() || versions.is_empty() {
            return Vec::new();
        }
        let newest = versions.len() - 1;
        let today = now / DAY_MS;
        let mut last_of_day: std::collections::BTreeMap<u64, usize> = Default::default();
        for (i, v) in versions.iter().enumerate() {
            last_of_day.insert(v.at / DAY_MS, i);
        }
        versions
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                let by_count = self.keep_last.is_some_and(|n| newest - i < n);
                let by_age = self
                    .keep_within
                    .is_some_and(|d| now.saturating_sub(v.at) < d.as_millis() as u64);
                let day = v.at / DAY_MS;
                let by_day = self.keep_daily.is_some_and(|d| {
                    today.saturating_sub(day) < d && last_of_day.get(&day) == Some(i)
                });
                !(*i == newest || by_count || by_age || by_day)
            })
            .map(|(_, v)| v.version)
            .collect()
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_last {
            parts.push(format!("last={n}"));
        }
        if let Some(d) = self.keep_within {
            parts.push(format!("within={}", duration_text(d)));
        }
        if let Some(d) = self.keep_daily {
            parts.push(format!("daily={d}"));
        }
        if parts.is_empty() {
            return f.write_str("all");
        }
        f.write_str(&parts.join(","))
    }
}

fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// Parses a duration written as a number and a unit: `90s`, `30m`, `12h`,
/// `30d`.
///
/// # Errors
/// A message naming what was written and what is expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration; write a number and s, m, h or d (30d)");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = t[..split].parse().map_err(|_| bad())?;
    let unit = match &t[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n * unit))
}

impl std::str::FromStr for Retention {
    type Err = String;

    /// `last=N`, `within=DURATION`, `daily=D`, joined by commas; `all`
    /// keeps everything.
    fn from_str(spec: &str) -> Result<Self, String> {
        let mut r = Retention::default();
        if spec.trim() == "all" {
            return Ok(r);
        }
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("{part:?} in the retention {spec:?} is not KEY=VALUE (last=20,within=30d,daily=14)")
            })?;
            let count = |what: &str| {
                value.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("{what}={value:?} in the retention {spec:?} is not a number above 0")
                })
            };
            match key {
                "last" => r.keep_last = Some(count("last")? as usize),
                "daily" => r.keep_daily = Some(count("daily")?),
                "within" => r.keep_within = Some(parse_duration(value)?),
                _ => {
                    return Err(format!(
                        "{key:?} in the retention {spec:?} is not a rule; the rules are last=N, within=DURATION, daily=D"
                    ))
                }
            }
        }
        Ok(r)
    }
}

/// Applies `retention` to the stack's history at `now`: drops the versions
/// it does not keep and returns their numbers.
///
/// # Errors
/// The store's errors; [`StateError::Unsupported`] from a store that
/// cannot drop versions (when there is something to drop).
pub async fn prune(
    history: &dyn StateHistory,
    stack: &str,
    retention: &Retention,
    now: u64,
) -> Result<Vec<u64>, StateError> {
    let versions = history.versions(stack).await?;
    let drop = retention.to_drop(&versions, now);
    if !drop.is_empty() {
        history.drop_versions(stack, &drop).await?;
    }
    Ok(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: u64, at: u64) -> VersionInfo {
        VersionInfo {
            version,
            at,
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_keeps_its_versions_and_the_newest_stays() {
        let now = 10 * DAY_MS + 1_000;
        // Two versions on each of days 6..=10 (day 10 is today).
        let versions: Vec<VersionInfo> = (0..10)
            .map(|i| v(i + 1, (6 + i / 2) * DAY_MS + (i % 2) * 1_000))
            .collect();
        let last: Retention = "last=3".parse().unwrap();
        assert_eq!(last.to_drop(&versions, now), [1, 2, 3, 4, 5, 6, 7]);
        let within: Retention = "within=1d".parse().unwrap();
        // Younger than a day: versions of today (9, 10) and none of day 9.
        assert_eq!(within.to_drop(&versions, now), [1, 2, 3, 4, 5, 6, 7, 8]);
        let daily: Retention = "daily=3".parse().unwrap();
        // The last of days 8, 9 and 10.
        assert_eq!(daily.to_drop(&versions, now), [1, 2, 3, 4, 5, 7, 9]);
        let both: Retention = "last=2,daily=3".parse().unwrap();
        assert_eq!(both.to_drop(&versions, now), [1, 2, 3, 4, 5, 7]);
        let one: Retention = "within=1s".parse().unwrap();
        assert_eq!(
            one.to_drop(&versions, 100 * DAY_MS),
            (1..10).collect::<Vec<_>>()
        );
        assert!(Retention::default().to_drop(&versions, now).is_empty());
    }

    #[test]
    fn specs_parse_and_print_and_bad_ones_are_named() {
        let r: Retention = "last=5, within=12h".parse().unwrap();
        assert_eq!(r.keep_within, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(r.to_string(), "last=5,within=12h");
        assert_eq!("all".parse::<Retention>().unwrap().to_string(), "all");
        let e = "last=0".parse::<Retention>().unwrap_err();
        assert!(e.contains("not a number above 0"), "{e}");
        let e = "keep=3".parse::<Retention>().unwrap_err();
        assert!(e.contains("\"keep\" in the retention"), "{e}");
        let e = "within=3w".parse::<Retention>().unwrap_err();
        assert!(e.contains("not a duration"), "{e}");
    }
}
