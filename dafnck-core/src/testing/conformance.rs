//! The conformance suite every [`Provider`] must pass: what the engine
//! relies on of a provider, checked against the real thing (the fake cloud,
//! this machine, a moto server).
//!
//! [`conformance`] takes the provider and one [`Sample`] per type: inputs
//! to create an object with, inputs to update it to in place, and an
//! [`OutOfBand`] hook that changes or deletes the object behind the
//! provider's back. For each sample it checks, in order, naming the step
//! that fails:
//!
//! 1. `create` makes the object, and `read` by its id finds it with the
//!    inputs it was given (no drift);
//! 2. a second `read` answers the same (refresh is idempotent), and so
//!    does `read_many` for a type the provider reads in batches;
//! 3. `update` to the updated inputs, and `read` finds those (skipped for
//!    a sample made with [`Sample::immutable`]);
//! 4. a change made out of band is reported by `read` (drift), for a
//!    type where one can be made;
//! 5. `delete`, then `read` answers `None`, and deleting the missing object
//!    again succeeds;
//! 6. a create whose answer was lost is found by `read` with its token and
//!    no id, with the id the create gave;
//! 7. an object deleted out of band reads as `None`, and its `delete`
//!    succeeds.
//!
//! Every object the suite makes is deleted again, even when a check fails.
//! Tokens are fresh per run, so the suite can run against a server that
//! holds data, and twice against the same one.
//!
//! ```
//! use dafnck_core::testing::conformance::{conformance, Sample};
//! use dafnck_core::testing::resources::Network;
//! use dafnck_core::testing::FakeCloud;
//! use dafnck_core::Value;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let cloud = FakeCloud::new();
//! let sample = Sample::new(
//!     Network { cidr: "10.0.0.0/16".into(), ..Default::default() },
//!     Network { cidr: "10.1.0.0/16".into(), ..Default::default() },
//!     cloud.out_of_band("cidr", Value::from("10.9.0.0/16")),
//! );
//! conformance(&cloud, &[sample]).await.unwrap();
//! # });
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use crate::provider::{
    standard_diff, CreateRequest, DeleteRequest, DiffRequest, Observed, Provider, ReadRequest,
    UpdateRequest,
};
use crate::resource::Resource;
use crate::value::Value;

/// Changes and deletes a provider's objects behind its back, as someone at
/// a console would: how the suite checks that `read` reports drift.
#[async_trait]
pub trait OutOfBand: Send + Sync + 'static {
    /// Changes the object `found` so that a read reports inputs that
    /// differ from the ones it was updated to; `Ok(false)` when nothing of
    /// the type can change that way (a shell command's read reports the
    /// inputs it ran with), which skips the check.
    ///
    /// # Errors
    /// What went wrong, in words.
    async fn change(&self, found: &Observed) -> Result<bool, String>;

    /// Deletes the object `found`.
    ///
    /// # Errors
    /// What went wrong, in words.
    async fn delete(&self, found: &Observed) -> Result<(), String>;
}

/// One resource type's part in the suite.
#[derive(Clone)]
pub struct Sample {
    type_name: &'static str,
    inputs: Value,
    updated: Value,
    /// Whether the suite updates the object (see [`Sample::immutable`]).
    in_place: bool,
    out_of_band: Arc<dyn OutOfBand>,
}

impl fmt::Debug for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sample")
            .field("type_name", &self.type_name)
            .field("inputs", &self.inputs)
            .field("updated", &self.updated)
            .finish_non_exhaustive()
    }
}

impl Sample {
    /// A sample of `R`: an object is created with `inputs` and updated in
    /// place to `updated` (which must differ from `inputs` in fields that
    /// do not force a replacement); `out_of_band` changes and deletes it.
    ///
    /// # Panics
    /// When `inputs` or `updated` cannot be serialized (a resource struct
    /// always can).
    pub fn new<R: Resource>(inputs: R, updated: R, out_of_band: impl OutOfBand) -> Self {
        let value = |r: &R| Value::from_serialize(r).expect("resource inputs serialize");
        Sample {
            type_name: R::TYPE,
            inputs: value(&inputs),
            updated: value(&updated),
            in_place: true,
            out_of_band: Arc::new(out_of_band),
        }
    }

    /// A sample of a type whose every input replaces the object (a
    /// published version, say): the suite checks all but the update in
    /// place, which the engine never asks of such a type.
    ///
    /// # Panics
    /// When `inputs` cannot be serialized (a resource struct always can).
    pub fn immutable<R: Resource + Clone>(inputs: R, out_of_band: impl OutOfBand) -> Self {
        Sample {
            in_place: false,
            ..Sample::new(inputs.clone(), inputs, out_of_band)
        }
    }

    /// The type the sample is of.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// A check of the suite that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The sample's type.
    pub type_name: String,
    /// The step that failed (`delete of a missing object`, `lost create`).
    pub check: &'static str,
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.type_name, self.check, self.message)
    }
}

/// The checks that failed, one at most per sample (a sample stops at its
/// first failure: later checks build on earlier ones).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider {provider:?} fails the provider conformance suite:\n{}", list(.failures))]
pub struct Failures {
    /// The provider's package.
    pub provider: String,
    /// The failed checks.
    pub failures: Vec<Failure>,
}

// The message, not the fields: `unwrap()` in a test shows this.
impl fmt::Debug for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn list(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(|f| format!("- {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the suite against `provider`, one sample per type.
///
/// # Errors
/// [`Failures`] naming each sample's failed check.
pub async fn conformance<P: Provider>(provider: &P, samples: &[Sample]) -> Result<(), Failures> {
    let mut failures = Vec::new();
    for sample in samples {
        let mut run = Run {
            provider,
            sample,
            made: Vec::new(),
        };
        let result = run.checks().await;
        run.clean_up().await;
        if let Err(failure) = result {
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failures {
            provider: provider.package().to_owned(),
            failures,
        })
    }
}

/// The name every object the suite makes has in its stack.
const NAME: &str = "conformance";
/// The stack the suite's objects belong to.
const STACK: &str = "conformance";

/// A fresh token: unique in this process and across runs.
fn token(step: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "conformance-{step}-{nanos:x}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One sample's run: the objects it made, to delete at the end.
struct Run<'a, P> {
    provider: &'a P,
    sample: &'a Sample,
    made: Vec<(String, Value, Value)>,
}

impl<P: Provider> Run<'_, P> {
    fn fail(&self, check: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            type_name: self.sample.type_name.to_owned(),
            check,
            message: message.into(),
        }
    }

    /// The fields in which `found` differs from `expected`, if any.
    fn drift(&self, expected: &Value, found: &Observed) -> Vec<String> {
        standard_diff(&DiffRequest {
            name: NAME,
            type_name: self.sample.type_name,
            old_inputs: expected,
            new_inputs: &found.inputs,
            force_new: &[],
            ignore_changes: &[],
        })
        .changed
    }

    async fn create(&mut self, check: &'static str, token: &str) -> Result<String, Failure> {
        let created = self
            .provider
            .create(CreateRequest {
                name: NAME.into(),
                stack: STACK.into(),
                type_name: self.sample.type_name.into(),
                inputs: self.sample.inputs.clone(),
                token: token.into(),
            })
            .await
            .map_err(|e| self.fail(check, format!("create failed: {e}")))?;
        self.made.push((
            created.id.clone(),
            self.sample.inputs.clone(),
            created.outputs,
        ));
        Ok(created.id)
    }

    async fn read(
        &self,
        check: &'static str,
        id: Option<&str>,
        token: Option<&str>,
        inputs: &Value,
    ) -> Result<Option<Observed>, Failure> {
        self.provider
            .read(ReadRequest {
                name: NAME.into(),
                stack: STACK.into(),
                type_name: self.sample.type_name.into(),
                id: id.map(str::to_owned),
                token: token.map(str::to_owned),
                inputs: inputs.clone(),
            })
            .await
            .map_err(|e| self.fail(check, format!("read failed: {e}")))
    }

    /// Reads `id`, which must exist and show `expected`.
    async fn read_as(
        &self,
        check: &'static str,
        id: &str,
        expected: &Value,
    ) -> Result<Observed, Failure> {
        let found = self
            .read(check, Some(id), None, expected)
            .await?
            .ok_or_else(|| self.fail(check, format!("read found no object {id}")))?;
        if found.id != id {
            return Err(self.fail(check, format!("read {id} answered id {}", found.id)));
        }
        let drift = self.drift(expected, &found);
        if !drift.is_empty() {
            return Err(self.fail(
                check,
                format!(
                    "read reports fields {drift:?} other than they were set: {:?}",
                    found.inputs
                ),
            ));
        }
        Ok(found)
    }

    /// For a type the provider reads in batches: `read_many` answers what
    /// `read` does.
    async fn batched_read_agrees(&self, id: &str, single: &Observed) -> Result<(), Failure> {
        const CHECK: &str = "batched read";
        if !self.provider.reads_in_batches(self.sample.type_name) {
            return Ok(());
        }
        let req = ReadRequest {
            name: NAME.into(),
            stack: STACK.into(),
            type_name: self.sample.type_name.into(),
            id: Some(id.into()),
            token: None,
            inputs: self.sample.inputs.clone(),
        };
        let found = self
            .provider
            .read_many(vec![req])
            .await
            .map_err(|e| self.fail(CHECK, format!("read_many failed: {e}")))?;
        match found.as_slice() {
            [Some(batched)] if batched == single => Ok(()),
            other => Err(self.fail(
                CHECK,
                format!("read_many answered {other:?}, read {single:?}"),
            )),
        }
    }

    async fn delete(&self, check: &'static str, id: &str, found: &Observed) -> Result<(), Failure> {
        self.provider
            .delete(DeleteRequest {
                name: NAME.into(),
                stack: STACK.into(),
                type_name: self.sample.type_name.into(),
                id: id.into(),
                inputs: found.inputs.clone(),
                outputs: found.outputs.clone(),
            })
            .await
            .map_err(|e| self.fail(check, format!("delete of {id} failed: {e}")))
    }

    async fn is_gone(&self, check: &'static str, id: &str) -> Result<(), Failure> {
        match self
            .read(check, Some(id), None, &self.sample.updated)
            .await?
        {
            None => Ok(()),
            Some(found) => {
                Err(self.fail(check, format!("read still finds {id}: {:?}", found.inputs)))
            }
        }
    }

    /// Updates `id` (found as `first`) to the sample's updated inputs.
    async fn update(&self, id: &str, first: &Observed) -> Result<(), Failure> {
        let s = self.sample;
        let changed = self.drift(
            &s.inputs,
            &Observed {
                inputs: s.updated.clone(),
                ..first.clone()
            },
        );
        if changed.is_empty() {
            return Err(self.fail("update", "the sample's updated inputs equal its inputs"));
        }
        self.provider
            .update(UpdateRequest {
                name: NAME.into(),
                stack: STACK.into(),
                type_name: s.type_name.into(),
                id: id.into(),
                old_inputs: s.inputs.clone(),
                new_inputs: s.updated.clone(),
                old_outputs: first.outputs.clone(),
                changed,
            })
            .await
            .map_err(|e| self.fail("update", format!("update failed: {e}")))?;
        Ok(())
    }

    async fn checks(&mut self) -> Result<(), Failure> {
        let s = self.sample;
        let id = self.create("create", &token("create")).await?;
        let first = self.read_as("read after create", &id, &s.inputs).await?;
        let again = self
            .read_as("refresh is idempotent", &id, &s.inputs)
            .await?;
        if again != first {
            return Err(self.fail(
                "refresh is idempotent",
                format!("a second read answered {again:?}, the first {first:?}"),
            ));
        }
        self.batched_read_agrees(&id, &first).await?;

        if s.in_place {
            self.update(&id, &first).await?;
        }
        let updated = self.read_as("read after update", &id, &s.updated).await?;

        let changed = s.out_of_band.change(&updated).await.map_err(|e| {
            self.fail(
                "drift (changed)",
                format!("the out-of-band change failed: {e}"),
            )
        })?;
        let drifted = self
            .read("drift (changed)", Some(&id), None, &s.updated)
            .await?
            .ok_or_else(|| self.fail("drift (changed)", "a changed object reads as gone"))?;
        if changed && self.drift(&s.updated, &drifted).is_empty() {
            return Err(self.fail(
                "drift (changed)",
                format!(
                    "read reports no change after one out of band: {:?}",
                    drifted.inputs
                ),
            ));
        }

        self.delete("delete", &id, &drifted).await?;
        self.is_gone("read after delete", &id).await?;
        self.delete("delete of a missing object", &id, &drifted)
            .await?;

        let lost = token("lost");
        let lost_id = self.create("lost create", &lost).await?;
        let found = self
            .read("lost create", None, Some(&lost), &s.inputs)
            .await?
            .ok_or_else(|| {
                self.fail(
                    "lost create",
                    format!("read by the create's token {lost:?} found nothing"),
                )
            })?;
        if found.id != lost_id {
            return Err(self.fail(
                "lost create",
                format!(
                    "read by token found {}, the create made {lost_id}",
                    found.id
                ),
            ));
        }
        s.out_of_band.delete(&found).await.map_err(|e| {
            self.fail(
                "drift (deleted)",
                format!("the out-of-band delete failed: {e}"),
            )
        })?;
        self.is_gone("drift (deleted)", &lost_id).await?;
        self.delete("delete of a missing object", &lost_id, &found)
            .await
    }

    /// Deletes what the run made, whatever happened (errors ignored: the
    /// object may be gone already, and a failure is reported already).
    async fn clean_up(&self) {
        for (id, inputs, outputs) in &self.made {
            let _ = self
                .provider
                .delete(DeleteRequest {
                    name: NAME.into(),
                    stack: STACK.into(),
                    type_name: self.sample.type_name.into(),
                    id: id.clone(),
                    inputs: inputs.clone(),
                    outputs: outputs.clone(),
                })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Created, Diff, ProviderError};
    use crate::testing::resources::Network;
    use crate::testing::FakeCloud;

    /// What a broken provider gets wrong.
    #[derive(Clone, Copy, PartialEq)]
    enum Flaw {
        /// Deleting an object that is gone is an error.
        DeleteMissingFails,
        /// A read by token finds nothing.
        NoTokenLookup,
        /// A read answers the recorded inputs, not what is there.
        NoDrift,
    }

    /// The fake cloud with one flaw.
    struct Broken(FakeCloud, Flaw);

    #[async_trait]
    impl Provider for Broken {
        fn package(&self) -> &str {
            self.0.package()
        }

        fn diff(&self, req: &DiffRequest<'_>) -> Diff {
            self.0.diff(req)
        }

        async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
            self.0.create(req).await
        }

        async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
            if self.1 == Flaw::NoTokenLookup && req.id.is_none() {
                return Ok(None);
            }
            let recorded = req.inputs.clone();
            let found = self.0.read(req).await?;
            Ok(match self.1 {
                Flaw::NoDrift => found.map(|f| Observed {
                    inputs: recorded,
                    ..f
                }),
                _ => found,
            })
        }

        async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
            self.0.update(req).await
        }

        async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
            let exists = self.0.objects().contains_key(&req.id);
            if self.1 == Flaw::DeleteMissingFails && !exists {
                return Err(ProviderError::new(format!("no object {}", req.id)));
            }
            self.0.delete(req).await
        }
    }

    fn sample(cloud: &FakeCloud) -> Sample {
        Sample::new(
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
            Network {
                cidr: "10.1.0.0/16".into(),
                ..Default::default()
            },
            cloud.out_of_band("cidr", Value::from("10.9.0.0/16")),
        )
    }

    #[tokio::test]
    async fn the_fake_cloud_passes_and_is_left_empty() {
        let cloud = FakeCloud::new();
        conformance(&cloud, &[sample(&cloud)]).await.unwrap();
        assert!(cloud.objects().is_empty(), "{:?}", cloud.objects());
    }

    #[tokio::test]
    async fn the_fake_cloud_reading_in_batches_passes() {
        let cloud = FakeCloud::new();
        cloud.read_in_batches(Network::TYPE);
        conformance(&cloud, &[sample(&cloud)]).await.unwrap();
        assert_eq!(cloud.read_batches(), vec![1]);
    }

    async fn failed_check(flaw: Flaw) -> Failure {
        let cloud = FakeCloud::new();
        let broken = Broken(cloud.clone(), flaw);
        let e = conformance(&broken, &[sample(&cloud)]).await.unwrap_err();
        assert_eq!(e.failures.len(), 1, "{e}");
        assert!(cloud.objects().is_empty(), "{:?}", cloud.objects());
        e.failures[0].clone()
    }

    #[tokio::test]
    async fn a_provider_whose_delete_of_a_missing_object_errors_fails() {
        let f = failed_check(Flaw::DeleteMissingFails).await;
        assert_eq!(f.check, "delete of a missing object");
        assert!(f.message.contains("no object"), "{f}");
        assert_eq!(f.type_name, Network::TYPE);
    }

    #[tokio::test]
    async fn a_provider_that_cannot_find_by_token_fails() {
        let f = failed_check(Flaw::NoTokenLookup).await;
        assert_eq!(f.check, "lost create");
        assert!(f.message.contains("found nothing"), "{f}");
    }

    #[tokio::test]
    async fn a_provider_blind_to_drift_fails() {
        let f = failed_check(Flaw::NoDrift).await;
        assert_eq!(f.check, "drift (changed)");
    }

    #[tokio::test]
    async fn an_immutable_sample_skips_the_update_and_passes() {
        let cloud = FakeCloud::new();
        let s = Sample::immutable(
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
            cloud.out_of_band("cidr", Value::from("10.9.0.0/16")),
        );
        conformance(&cloud, &[s]).await.unwrap();
        assert!(cloud.objects().is_empty(), "{:?}", cloud.objects());
    }

    #[tokio::test]
    async fn a_sample_whose_update_changes_nothing_is_refused() {
        let cloud = FakeCloud::new();
        let same = Network {
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        };
        let s = Sample::new(
            same.clone(),
            same,
            cloud.out_of_band("cidr", Value::from("x")),
        );
        let e = conformance(&cloud, &[s]).await.unwrap_err();
        assert_eq!(e.failures[0].check, "update");
        assert!(e
            .to_string()
            .contains("fails the provider conformance suite"));
    }
}
