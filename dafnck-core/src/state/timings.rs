//! How long provider calls took in earlier runs, by resource type and kind
//! of call: what the executor expects of the next run's steps, so it can
//! start first the steps with the longest expected time still ahead of
//! them (an instance that takes 30 s before a security group that takes
//! 1 s). Learned at the end of every apply and kept in the [`State`].
//!
//! [`State`]: super::State

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A provider call whose duration is learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `create` (of a new object, or of a replacement).
    Create,
    /// `update` in place.
    Update,
    /// `delete` (of a removed, replaced or deposed object).
    Delete,
}

/// The mean duration of one kind of call on one resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// The mean, in microseconds.
    pub mean_us: u64,
    /// How many calls it is the mean of, counting at most
    /// [`Timing::MEMORY`]: older calls weigh less as new ones come.
    pub calls: u32,
}

impl Timing {
    /// At most this many earlier calls weigh in a mean, so a type whose
    /// calls become slower or faster is followed within a run or two.
    pub const MEMORY: u32 = 100;

    /// The mean as a duration.
    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.mean_us)
    }

    /// This mean with `calls` more calls that took `total` together.
    fn with(self, total: Duration, calls: u32) -> Timing {
        let old = u128::from(self.calls.min(Self::MEMORY));
        let n = old + u128::from(calls);
        let sum = u128::from(self.mean_us) * old + total.as_micros();
        Timing {
            mean_us: u64::try_from(sum / n.max(1)).unwrap_or(u64::MAX),
            calls: u32::try_from(n.min(u128::from(Self::MEMORY))).unwrap_or(Self::MEMORY),
        }
    }
}

/// Learned durations of provider calls, by resource type and kind of call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timings(BTreeMap<String, BTreeMap<CallKind, Timing>>);

impl Timings {
    /// Whether nothing was learned yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What was learned of `kind` calls on `type_name` objects.
    pub fn get(&self, type_name: &str, kind: CallKind) -> Option<Timing> {
        self.0.get(type_name)?.get(&kind).copied()
    }

    /// The mean of every learned mean: what a call of a type or kind not
    /// seen yet is expected to take. `None` when nothing was learned.
    pub fn typical(&self) -> Option<Duration> {
        let (sum, n) = self
            .0
            .values()
            .flat_map(BTreeMap::values)
            .fold((0u128, 0u128), |(s, n), t| {
                (s + u128::from(t.mean_us), n + 1)
            });
        let mean = sum.checked_div(n)?;
        Some(Duration::from_micros(
            u64::try_from(mean).unwrap_or(u64::MAX),
        ))
    }

    /// Learns that `calls` `kind` calls on `type_name` objects took `total`
    /// together.
    pub fn learn(&mut self, type_name: &str, kind: CallKind, total: Duration, calls: u32) {
        if calls == 0 {
            return;
        }
        let of_type = self.0.entry(type_name.to_owned()).or_default();
        let empty = Timing {
            mean_us: 0,
            calls: 0,
        };
        let t = of_type.get(&kind).copied().unwrap_or(empty);
        of_type.insert(kind, t.with(total, calls));
    }

    /// Every type's timings, by type name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<CallKind, Timing>)> {
        self.0.iter().map(|(t, m)| (t.as_str(), m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_mean_follows_new_calls_and_forgets_old_ones() {
        let mut t = Timings::default();
        assert!(t.is_empty() && t.typical().is_none());
        t.learn("aws:ec2:Instance", CallKind::Create, ms(300), 10);
        let got = t.get("aws:ec2:Instance", CallKind::Create).unwrap();
        assert_eq!((got.mean(), got.calls), (ms(30), 10));
        t.learn("aws:ec2:Instance", CallKind::Create, ms(60 * 10), 10);
        assert_eq!(
            t.get("aws:ec2:Instance", CallKind::Create).unwrap().mean(),
            ms(45)
        );
        // Only the last `MEMORY` calls weigh: 1,000 calls of 1 ms outweigh
        // the history.
        t.learn("aws:ec2:Instance", CallKind::Create, ms(1000), 1000);
        let got = t.get("aws:ec2:Instance", CallKind::Create).unwrap();
        assert!(got.mean() < ms(4), "{got:?}");
        assert_eq!(got.calls, Timing::MEMORY);
        assert_eq!(t.get("aws:ec2:Instance", CallKind::Delete), None);
    }

    #[test]
    fn typical_is_the_mean_of_the_means() {
        let mut t = Timings::default();
        t.learn("a", CallKind::Create, ms(10), 1);
        t.learn("b", CallKind::Delete, ms(90), 3);
        assert_eq!(t.typical(), Some(ms(20)));
        t.learn("c", CallKind::Update, ms(0), 0);
        assert_eq!(t.iter().count(), 2);
    }

    #[test]
    fn serialized_by_type_then_kind() {
        let mut t = Timings::default();
        t.learn("fake:net:Network", CallKind::Create, ms(2), 1);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"fake:net:Network":{"create":{"mean_us":2000,"calls":1}}}"#
        );
        assert_eq!(serde_json::from_str::<Timings>(&json).unwrap(), t);
    }
}
