//! Analysis: what decides whether a rollout goes on. A health check or a
//! metric gate gives a [`Verdict`]; "no data" is a verdict the user picks
//! ([`NoData`]), never a silent pass.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::policy::NoData;

/// What one analysis run concluded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Verdict {
    /// The new version is fine so far.
    Pass,
    /// The new version is bad: roll back.
    Fail(String),
    /// Nothing to judge on (no data, the metrics source is down): pause.
    Inconclusive(String),
}

impl Verdict {
    /// Whether this is [`Verdict::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// The verdict for "no data", as the user chose it.
    pub fn no_data(choice: NoData, why: impl Into<String>) -> Verdict {
        match choice {
            NoData::Pass => Verdict::Pass,
            NoData::Fail => Verdict::Fail(why.into()),
            NoData::Inconclusive => Verdict::Inconclusive(why.into()),
        }
    }

    /// The worst of two verdicts: a failure beats inconclusive beats pass.
    pub fn worst(self, other: Verdict) -> Verdict {
        match (self, other) {
            (f @ Verdict::Fail(_), _) | (_, f @ Verdict::Fail(_)) => f,
            (i @ Verdict::Inconclusive(_), _) | (_, i @ Verdict::Inconclusive(_)) => i,
            _ => Verdict::Pass,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("pass"),
            Verdict::Fail(why) => write!(f, "fail: {why}"),
            Verdict::Inconclusive(why) => write!(f, "inconclusive: {why}"),
        }
    }
}

/// Something that judges the new version: a health check, a metric gate.
#[async_trait]
pub trait Analysis: Send + Sync {
    /// A short name for logs and the rollout's record.
    fn name(&self) -> &str;
    /// Runs once and judges.
    async fn run(&self) -> Verdict;
}

/// Several analyses run together; the worst verdict wins, each prefixed
/// with its analysis' name.
#[derive(Clone, Default)]
pub struct AnalysisSet {
    members: Vec<Arc<dyn Analysis>>,
}

impl AnalysisSet {
    /// An empty set, which always passes.
    pub fn new() -> Self {
        AnalysisSet::default()
    }

    /// Adds an analysis.
    pub fn with(mut self, analysis: impl Analysis + 'static) -> Self {
        self.members.push(Arc::new(analysis));
        self
    }

    /// Runs every member concurrently and combines their verdicts.
    pub async fn run(&self) -> Verdict {
        let runs = self.members.iter().map(|a| {
            let a = Arc::clone(a);
            async move {
                match a.run().await {
                    Verdict::Pass => Verdict::Pass,
                    Verdict::Fail(why) => Verdict::Fail(format!("{}: {why}", a.name())),
                    Verdict::Inconclusive(why) => {
                        Verdict::Inconclusive(format!("{}: {why}", a.name()))
                    }
                }
            }
        });
        let mut verdict = Verdict::Pass;
        for v in futures::future::join_all(runs).await {
            verdict = verdict.worst(v);
        }
        verdict
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// How a metric's value is compared with its limit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Threshold {
    /// Passes while the value is at most this (error rate, latency).
    AtMost(f64),
    /// Passes while the value is at least this (success rate, throughput).
    AtLeast(f64),
}

impl Threshold {
    /// Whether `value` passes.
    pub fn passes(self, value: f64) -> bool {
        match self {
            Threshold::AtMost(limit) => value <= limit,
            Threshold::AtLeast(limit) => value >= limit,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::AtMost(l) => write!(f, "<= {l}"),
            Threshold::AtLeast(l) => write!(f, ">= {l}"),
        }
    }
}

/// A metrics backend: runs a query and returns one number, or `None` when
/// the query matched no series.
#[async_trait]
pub trait MetricSource: Send + Sync {
    /// Runs `query` and returns its single scalar value.
    ///
    /// # Errors
    /// The backend could not be asked, or answered something that is not
    /// one number; the message says which.
    async fn query(&self, query: &str) -> Result<Option<f64>, String>;
}

/// A metric gate: a query against a [`MetricSource`], compared with a
/// threshold.
pub struct MetricGate<S> {
    name: String,
    source: S,
    query: String,
    threshold: Threshold,
    on_no_data: NoData,
    on_error: NoData,
}

impl<S: MetricSource> MetricGate<S> {
    /// A gate named `name` that passes while `query` meets `threshold`. No
    /// data and source errors are inconclusive (the rollout pauses) until
    /// set otherwise.
    pub fn new(
        name: impl Into<String>,
        source: S,
        query: impl Into<String>,
        threshold: Threshold,
    ) -> Self {
        MetricGate {
            name: name.into(),
            source,
            query: query.into(),
            threshold,
            on_no_data: NoData::Inconclusive,
            on_error: NoData::Inconclusive,
        }
    }

    /// What a query that returns no series means.
    pub fn on_no_data(mut self, choice: NoData) -> Self {
        self.on_no_data = choice;
        self
    }

    /// What an unreachable or failing metrics source means.
    pub fn on_error(mut self, choice: NoData) -> Self {
        self.on_error = choice;
        self
    }
}

#[async_trait]
impl<S: MetricSource> Analysis for MetricGate<S> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self) -> Verdict {
        match self.source.query(&self.query).await {
            Ok(Some(value)) if value.is_nan() => Verdict::no_data(
                self.on_no_data,
                format!("`{}` returned NaN (no requests to measure?)", self.query),
            ),
            Ok(Some(value)) if self.threshold.passes(value) => Verdict::Pass,
            Ok(Some(value)) => Verdict::Fail(format!(
                "`{}` is {value}, the gate needs {}",
                self.query, self.threshold
            )),
            Ok(None) => Verdict::no_data(
                self.on_no_data,
                format!("`{}` returned no series", self.query),
            ),
            Err(e) => Verdict::no_data(self.on_error, format!("cannot query metrics: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Scripted(Mutex<Vec<Result<Option<f64>, String>>>);

    #[async_trait]
    impl MetricSource for Scripted {
        async fn query(&self, _: &str) -> Result<Option<f64>, String> {
            self.0.lock().unwrap().remove(0)
        }
    }

    fn gate(answers: Vec<Result<Option<f64>, String>>) -> MetricGate<Scripted> {
        MetricGate::new(
            "error-rate",
            Scripted(Mutex::new(answers)),
            "rate(errors[1m])",
            Threshold::AtMost(0.05),
        )
    }

    #[tokio::test]
    async fn a_gate_passes_fails_and_maps_no_data_and_errors_as_chosen() {
        let g = gate(vec![
            Ok(Some(0.01)),
            Ok(Some(0.2)),
            Ok(None),
            Err("refused".into()),
        ]);
        assert_eq!(g.run().await, Verdict::Pass);
        let fail = g.run().await;
        assert!(
            matches!(&fail, Verdict::Fail(m) if m.contains("is 0.2") && m.contains("<= 0.05")),
            "{fail}"
        );
        assert!(matches!(g.run().await, Verdict::Inconclusive(m) if m.contains("no series")));
        assert!(matches!(g.run().await, Verdict::Inconclusive(m) if m.contains("refused")));

        let strict = gate(vec![Ok(None), Err("down".into())])
            .on_no_data(NoData::Fail)
            .on_error(NoData::Fail);
        assert!(matches!(strict.run().await, Verdict::Fail(_)));
        assert!(matches!(strict.run().await, Verdict::Fail(_)));
        let lenient = gate(vec![Ok(None), Ok(Some(f64::NAN))]).on_no_data(NoData::Pass);
        assert_eq!(lenient.run().await, Verdict::Pass);
        assert_eq!(lenient.run().await, Verdict::Pass);
    }

    #[tokio::test]
    async fn a_set_reports_the_worst_verdict_with_the_gate_named() {
        let set = AnalysisSet::new()
            .with(gate(vec![Ok(Some(0.0))]))
            .with(gate(vec![Ok(None)]))
            .with(gate(vec![Ok(Some(1.0))]));
        let v = set.run().await;
        assert!(
            matches!(&v, Verdict::Fail(m) if m.starts_with("error-rate: ")),
            "{v}"
        );
        assert_eq!(AnalysisSet::new().run().await, Verdict::Pass);
    }
}
