//! The [`Provider`] trait: how the engine talks to a cloud (or to anything
//! with a create / read / update / delete life cycle), its request and
//! response types, errors that say whether a retry can help, and
//! [`RetryPolicy`] for throttling; [`kit`] builds a provider out of typed
//! handlers, one per resource type.

pub mod kit;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::declare::Declaration;
use crate::error::Error;
use crate::resource::{package_of, Location, OutputField};
use crate::state::CallKind;
use crate::value::Value;

/// The most objects a refresh reads in one [`Provider::read_many`] call.
pub const READ_BATCH: usize = 100;

/// What a provider returns when a call fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What went wrong, in the provider's words.
    pub message: String,
    /// Whether the same call may succeed later (throttling, eventual
    /// consistency); the engine retries those with backoff.
    pub retryable: bool,
}

impl ProviderError {
    /// An error that a retry will not fix (bad input, conflict, permission).
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            retryable: false,
        }
    }

    /// An error that a later retry may not meet (throttling, not yet visible).
    pub fn retryable(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            retryable: true,
        }
    }
}

/// Input to [`Provider::diff`].
#[derive(Clone, Copy, Debug)]
pub struct DiffRequest<'a> {
    /// The resource's name.
    pub name: &'a str,
    /// The resource's type.
    pub type_name: &'a str,
    /// Inputs recorded in the state.
    pub old_inputs: &'a Value,
    /// Desired inputs; may hold [`Value::Unknown`].
    pub new_inputs: &'a Value,
    /// Fields whose change forces a replacement.
    pub force_new: &'a [String],
    /// Fields whose changes are ignored.
    pub ignore_changes: &'a [String],
}

/// What differs between recorded and desired inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Top-level input fields that differ, sorted.
    pub changed: Vec<String>,
    /// The changed fields that force a replacement, sorted; empty for an
    /// in-place update.
    pub replace_because: Vec<String>,
    /// Why the new object could not be created while the old one exists,
    /// if it could not (say, a name the cloud keeps unique that both
    /// would have): the planner then refuses a replacement that creates
    /// the new object first — one that is handed over
    /// ([`crate::handover`]), or any without `delete_before_replace` — with
    /// this reason, instead of letting the create fail at apply. Said
    /// whatever the change, since a handover turns any change into a
    /// replacement.
    pub replace_conflict: Option<String>,
}

impl Diff {
    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// The default diff: compares top-level input fields; an unknown desired
/// value counts as a change; ignored fields are skipped.
pub fn standard_diff(req: &DiffRequest<'_>) -> Diff {
    let empty = Default::default();
    let old = req.old_inputs.as_map().unwrap_or(&empty);
    let new = req.new_inputs.as_map().unwrap_or(&empty);
    let mut changed: Vec<String> = Vec::new();
    let mut check = |field: &String, a: Option<&Value>, b: Option<&Value>| {
        if req.ignore_changes.contains(field) {
            return;
        }
        let differs = match (a, b) {
            (_, Some(b)) if !b.is_fully_known() => true,
            (Some(a), Some(b)) => a != b,
            (None, Some(Value::Null)) | (Some(Value::Null), None) => false,
            (None, None) => false,
            _ => true,
        };
        if differs {
            changed.push(field.clone());
        }
    };
    for (k, b) in new {
        check(k, old.get(k), Some(b));
    }
    for (k, a) in old {
        if !new.contains_key(k) {
            check(k, Some(a), None);
        }
    }
    changed.sort();
    changed.dedup();
    let replace_because = changed
        .iter()
        .filter(|f| req.force_new.contains(f))
        .cloned()
        .collect();
    Diff {
        changed,
        replace_because,
        replace_conflict: None,
    }
}

/// Input to [`Provider::create`].
#[derive(Clone, Debug)]
pub struct CreateRequest {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name (providers tag objects with it).
    pub stack: String,
    /// The resource's type.
    pub type_name: String,
    /// Resolved inputs: no references, no unknowns.
    pub inputs: Value,
    /// An idempotency token, recorded in the journal before the call: a
    /// provider that stamps it on the object lets a crashed create be found.
    pub token: String,
}

/// What [`Provider::create`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    /// The provider's id for the new object.
    pub id: String,
    /// The object's outputs.
    pub outputs: Value,
}

/// Input to [`Provider::read`].
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The resource's type.
    pub type_name: String,
    /// The object's id, when known.
    pub id: Option<String>,
    /// The idempotency token of the create that may have made it, when the
    /// id is not known (recovering a crashed create).
    pub token: Option<String>,
    /// The inputs last recorded (or sent), for providers that cannot read
    /// every field back (write-only secrets).
    pub inputs: Value,
}

/// An object as the provider sees it now.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The object's id.
    pub id: String,
    /// Its inputs, in the shape the resource type declares.
    pub inputs: Value,
    /// Its outputs.
    pub outputs: Value,
}

/// An object written as the Rust that declares it, by
/// [`Provider::declare`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    /// The expression building the resource's inputs (`ec2::Vpc { .. }`).
    pub expression: String,
    /// Its outputs that hold the object's id: where other declarations
    /// refer to it (`vpc.out().vpc_id` for a VPC's id).
    pub id_outputs: Vec<OutputField>,
    /// The Rust expression making the provider, for a generated program's
    /// `main` (`dafnck_providers::aws::Provider::from_env()`), when the
    /// provider has a standard one.
    pub provider: Option<&'static str>,
}

/// An object of resource type `R`, as a read found it, written as the Rust
/// expression declaring it ([`Provider::declare`] of a provider whose
/// inputs are `R`'s): its inputs decoded into `R` and written by `R`'s
/// [`Declare`](crate::Declare), and its outputs holding its id found by
/// `R::Outputs`' [`fields`](crate::Outputs::fields).
///
/// # Errors
/// When the inputs do not decode into `R` (naming the type and the id).
pub fn declared<R>(observed: &Observed, out: &mut Declaration) -> Result<Declared, ProviderError>
where
    R: crate::Resource + serde::de::DeserializeOwned + crate::Declare,
{
    let inputs: R = observed.inputs.deserialize_into().map_err(|e| {
        ProviderError::new(format!(
            "{} {:?}: the inputs read do not fit the type: {e}",
            R::TYPE,
            observed.id
        ))
    })?;
    let expression = out.expression(&inputs);
    let id_outputs = <R::Outputs as crate::Outputs>::fields()
        .into_iter()
        .filter(|f| observed.outputs.get(f.name).and_then(Value::as_str) == Some(&observed.id))
        .collect();
    Ok(Declared {
        expression,
        id_outputs,
        provider: None,
    })
}

/// Input to [`Provider::update`].
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The resource's type.
    pub type_name: String,
    /// The object's id.
    pub id: String,
    /// Inputs recorded in the state.
    pub old_inputs: Value,
    /// Resolved desired inputs.
    pub new_inputs: Value,
    /// Outputs recorded in the state.
    pub old_outputs: Value,
    /// The fields that differ.
    pub changed: Vec<String>,
}

/// Input to [`Provider::delete`].
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The resource's type.
    pub type_name: String,
    /// The object's id.
    pub id: String,
    /// Inputs recorded in the state.
    pub inputs: Value,
    /// Outputs recorded in the state.
    pub outputs: Value,
}

/// A cloud, or anything with a create / read / update / delete life cycle.
///
/// One provider serves one package of types (`aws` serves `aws:ec2:Vpc`).
/// The engine calls the mutating methods only while applying, never while
/// planning, and at most `parallelism` calls at once across all providers.
///
/// # Guarantees the engine relies on
/// - `delete` of an object that is already gone succeeds.
/// - `read` returns `Ok(None)` for an object that does not exist, and finds
///   an object by `token` when `id` is `None` if the provider stamped it.
/// - Errors set [`ProviderError::retryable`] only when a retry can help.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The package of types this provider serves (`aws`, `local`, `fake`).
    fn package(&self) -> &str;

    /// Compares recorded and desired inputs. It must not call the cloud.
    /// The default is [`standard_diff`].
    ///
    /// Equal inputs are no change: the planner does not call `diff` for a
    /// resource whose desired inputs equal the recorded ones exactly.
    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        standard_diff(req)
    }

    /// How long a `call` on an object of `type_name` typically takes, if
    /// the provider has an idea: the engine's prior for a type whose calls
    /// it has not timed yet. The default is `None` (no idea).
    ///
    /// The executor starts first the ready steps with the longest expected
    /// time ahead of them. It expects of a step what it learned of earlier
    /// calls of the same kind on the same type ([`Timings`]), else this
    /// prior, else the mean of what it knows of other types (or, knowing
    /// nothing, counts each step as one). Only the ratios between types
    /// matter: a prior of 30 s for an instance and 1 s for a security
    /// group is worth giving even if each is off by half. It must not call
    /// the cloud.
    ///
    /// A provider's answer might read:
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use dafnck_core::state::CallKind;
    /// fn expected_duration(type_name: &str, call: CallKind) -> Option<Duration> {
    ///     match (type_name, call) {
    ///         // Waited for until running.
    ///         ("acme:vm:Machine", CallKind::Create) => Some(Duration::from_secs(40)),
    ///         // One API call.
    ///         (_, _) => Some(Duration::from_secs(1)),
    ///     }
    /// }
    /// # assert!(expected_duration("acme:vm:Machine", CallKind::Create) > expected_duration("acme:vm:Disk", CallKind::Create));
    /// ```
    ///
    /// [`Timings`]: crate::state::Timings
    fn expected_duration(&self, type_name: &str, call: CallKind) -> Option<Duration> {
        let _ = (type_name, call);
        None
    }

    /// Creates an object.
    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError>;

    /// Reads an object back (`Ok(None)`: it does not exist).
    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError>;

    /// Whether [`Provider::read_many`] reads objects of `type_name` in one
    /// call: a refresh then reads them in batches of up to
    /// [`READ_BATCH`], each batch one call (and one slot of the refresh's
    /// parallelism). The default is `false`: one read per object. It must
    /// not call the cloud.
    fn reads_in_batches(&self, type_name: &str) -> bool {
        let _ = type_name;
        false
    }

    /// Reads many objects of one type: one answer per request, in order.
    /// The engine calls it only for a type whose
    /// [`reads_in_batches`](Provider::reads_in_batches) is `true`; the
    /// default reads them one by one.
    ///
    /// # Errors
    /// One error for the batch; the engine retries the whole batch when
    /// it is retryable.
    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let mut found = Vec::with_capacity(reqs.len());
        for req in reqs {
            found.push(self.read(req).await?);
        }
        Ok(found)
    }

    /// Updates an object in place; returns its new outputs.
    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError>;

    /// Deletes an object (succeeding if it is already gone).
    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError>;

    /// Writes an object of `type_name`, as [`Provider::read`] found it, as
    /// the Rust expression declaring its inputs, to paste into a program
    /// (`import --generate`, a program generated from an adoption). Ids
    /// `out` knows become references to their owners. It must not call the
    /// cloud. The default declares nothing: a provider built of typed
    /// handlers ([`kit::Kit`]) declares every type it serves.
    ///
    /// # Errors
    /// When the provider does not serve the type, cannot write it, or the
    /// inputs do not fit it.
    fn declare(
        &self,
        type_name: &str,
        observed: &Observed,
        out: &mut Declaration,
    ) -> Result<Declared, ProviderError> {
        let _ = (observed, out);
        Err(ProviderError::new(format!(
            "provider {:?} cannot write a declaration of {type_name}",
            self.package()
        )))
    }

    /// Looks up an object the stack does not own (a data source, see
    /// [`crate::data`]) and returns what it found, as the data source's
    /// outputs. Called at plan time; it must not change anything. The
    /// default serves no data source.
    ///
    /// # Errors
    /// When nothing matches the query (a lookup that finds nothing is an
    /// error, naming the query), or the cloud refuses.
    async fn read_data(&self, req: crate::data::DataRequest) -> Result<Value, ProviderError> {
        Err(ProviderError::new(format!(
            "provider {:?} serves no data source {}",
            self.package(),
            req.type_name
        )))
    }
}

impl fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Provider({})", self.package())
    }
}

/// The providers a program uses: by package, and by package and instance
/// name for the named instances ([`Providers::with_named`]).
#[derive(Clone, Default, Debug)]
pub struct Providers {
    by_package: HashMap<String, Arc<dyn Provider>>,
    named: HashMap<(String, String), Arc<dyn Provider>>,
}

impl Providers {
    /// No providers.
    pub fn new() -> Self {
        Providers::default()
    }

    /// Adds a provider as its package's default instance (replacing one of
    /// the same package).
    pub fn with(mut self, provider: impl Provider) -> Self {
        self.insert(Arc::new(provider));
        self
    }

    /// Adds a shared provider as its package's default instance (replacing
    /// one of the same package).
    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.by_package
            .insert(provider.package().to_owned(), provider);
    }

    /// Adds a provider as the instance `name` of its package: a resource
    /// declared with [`Options::provider(name)`](crate::Options::provider)
    /// is managed through it (two AWS regions, two accounts, two local
    /// roots). Replaces an instance of the same package and name.
    pub fn with_named(mut self, name: impl Into<String>, provider: impl Provider) -> Self {
        self.insert_named(name, Arc::new(provider));
        self
    }

    /// Adds a shared provider as the instance `name` of its package.
    pub fn insert_named(&mut self, name: impl Into<String>, provider: Arc<dyn Provider>) {
        self.named
            .insert((provider.package().to_owned(), name.into()), provider);
    }

    /// The default provider for a resource type.
    ///
    /// # Errors
    /// [`Error::NoProvider`] naming the resource and where it was declared.
    pub fn for_type(
        &self,
        resource: &str,
        type_name: &str,
        location: Option<&Location>,
    ) -> Result<&Arc<dyn Provider>, Error> {
        self.for_instance(resource, type_name, None, location)
    }

    /// The provider for a resource type: the instance `instance` of its
    /// package, or the package's default with `None`.
    ///
    /// # Errors
    /// [`Error::NoProvider`] naming the resource, the instance and where it
    /// was declared.
    pub fn for_instance(
        &self,
        resource: &str,
        type_name: &str,
        instance: Option<&str>,
        location: Option<&Location>,
    ) -> Result<&Arc<dyn Provider>, Error> {
        let package = package_of(type_name);
        let found = match instance {
            None => self.by_package.get(package),
            Some(name) => self.named.get(&(package.to_owned(), name.to_owned())),
        };
        found.ok_or_else(|| Error::NoProvider {
            resource: resource.to_owned(),
            type_name: type_name.to_owned(),
            package: package.to_owned(),
            instance: instance.map(Box::from),
            location: location.cloned(),
        })
    }
}

/// How the engine retries calls that fail with a retryable error: capped
/// exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first wait.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` (`attempt` counts from 1),
    /// with up to 25% jitter drawn from `seed`.
    pub fn backoff(&self, attempt: u32, seed: u64) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let base = exp.min(self.max_backoff);
        let jitter = (seed % 1000) as f64 / 4000.0;
        base.mul_f64(1.0 - jitter)
    }

    /// Runs `call` until it succeeds, fails with a non-retryable error, or
    /// the attempts run out.
    ///
    /// # Errors
    /// The last error, with the number of attempts added to its message when
    /// more than one was made.
    pub async fn run<T, F, Fut>(&self, seed: u64, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable && attempt < self.max_attempts => {
                    tracing::warn!(attempt, error = %e, "retryable provider error; retrying");
                    tokio::time::sleep(self.backoff(attempt, seed.wrapping_add(attempt as u64)))
                        .await;
                    attempt += 1;
                }
                Err(mut e) => {
                    if attempt > 1 {
                        e.message = format!("{} (after {attempt} attempts)", e.message);
                    }
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _obj_safe(_: Box<dyn Provider>) {}

    fn map(pairs: &[(&str, Value)]) -> Value {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    #[test]
    fn standard_diff_finds_changes_replacements_and_ignores() {
        let old = map(&[("a", 1.into()), ("b", "x".into()), ("c", true.into())]);
        let new = map(&[("a", 2.into()), ("b", "y".into()), ("d", Value::Unknown)]);
        let force = vec!["b".to_string()];
        let ignore = vec!["c".to_string()];
        let d = standard_diff(&DiffRequest {
            name: "r",
            type_name: "t:t:T",
            old_inputs: &old,
            new_inputs: &new,
            force_new: &force,
            ignore_changes: &ignore,
        });
        assert_eq!(d.changed, vec!["a", "b", "d"]);
        assert_eq!(d.replace_because, vec!["b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_only() {
        let policy = RetryPolicy::default();
        let mut calls = 0;
        let r: Result<u32, _> = policy
            .run(1, || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(ProviderError::retryable("throttled"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(3));
        let mut calls = 0;
        let r: Result<u32, _> = policy
            .run(1, || {
                calls += 1;
                async { Err(ProviderError::new("bad ami")) }
            })
            .await;
        assert_eq!(r.unwrap_err().message, "bad ami");
        assert_eq!(calls, 1);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert!(p.backoff(2, 0) > p.backoff(1, 0));
        assert!(p.backoff(30, 0) <= p.max_backoff);
    }
}
