//! [`FakeCloud`]: a stateful in-memory cloud behind the [`Provider`] trait,
//! with injectable latency, failures and panics, a log of every call, and
//! optionally a directory that holds its objects so they outlive a process
//! killed mid-apply.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::data::DataRequest;
use crate::declare::Declaration;
use crate::provider::{
    declared, CreateRequest, Created, Declared, DeleteRequest, Observed, Provider, ProviderError,
    ReadRequest, UpdateRequest,
};
use crate::state::CallKind;
use crate::testing::conformance::OutOfBand;
use crate::value::Value;

/// The provider operations, for failure rules and the call log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FakeOp {
    /// `create`.
    Create,
    /// `read`.
    Read,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
}

/// One object in the fake cloud.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FakeObject {
    /// Its id.
    pub id: String,
    /// Its type.
    pub type_name: String,
    /// The resource name it was created for (a tag).
    pub name: String,
    /// The stack it was created for (a tag).
    pub stack: String,
    /// The idempotency token of its create.
    pub token: String,
    /// Its inputs.
    pub inputs: Value,
    /// Its outputs.
    pub outputs: Value,
}

/// One provider call, with logical start and end times (a global counter),
/// so tests can assert that one call ended before another started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeCall {
    /// The operation.
    pub op: FakeOp,
    /// The resource name.
    pub name: String,
    /// The object id (empty for a create that failed).
    pub id: String,
    /// When it started.
    pub started: u64,
    /// When it ended.
    pub ended: u64,
    /// Whether it failed.
    pub failed: bool,
}

/// What a failure rule does when it matches.
#[derive(Clone, Debug)]
pub enum Fault {
    /// The call returns this error without doing anything.
    Error(ProviderError),
    /// The call does its work, then panics (the outcome is unknown to the engine).
    PanicAfter,
    /// The call panics before doing anything.
    PanicBefore,
}

#[derive(Clone, Debug)]
struct Rule {
    op: Option<FakeOp>,
    name: Option<String>,
    remaining: Option<u32>,
    fault: Fault,
}

type OutputsFn = Arc<dyn Fn(&str, &Value) -> Value + Send + Sync>;
type LatencyFn = Arc<dyn Fn(FakeOp, &str) -> Duration + Send + Sync>;

struct Inner {
    package: String,
    objects: Mutex<BTreeMap<String, FakeObject>>,
    dir: Option<PathBuf>,
    next_id: AtomicU64,
    clock: AtomicU64,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<FakeCall>>,
    latency: Mutex<Option<LatencyFn>>,
    outputs: Mutex<HashMap<String, OutputsFn>>,
    expected: Mutex<HashMap<(String, CallKind), Duration>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Types read in batches, and the size of each `read_many` call.
    batched: Mutex<Vec<String>>,
    batches: Mutex<Vec<usize>>,
    /// Each data source read: its type and query.
    data_reads: Mutex<Vec<(String, Value)>>,
}

/// A stateful fake cloud serving one package (default `fake`).
///
/// Objects get ids `<type>-<n>` (`network-1`); their outputs are their
/// inputs plus `id`, `<type>_id` (`network_id`) and `arn`, unless
/// [`FakeCloud::outputs_for`] says otherwise. Like a real cloud it keeps
/// secrets as plain values. Clones share the cloud.
///
/// ```
/// use dafnck_core::testing::{FakeCloud, FakeOp};
/// use dafnck_core::ProviderError;
/// let cloud = FakeCloud::new()
///     .with_latency(std::time::Duration::from_millis(5))
///     .fail_on(FakeOp::Create, "web", ProviderError::new("no capacity"));
/// assert!(cloud.objects().is_empty());
/// ```
#[derive(Clone)]
pub struct FakeCloud {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FakeCloud({}, {} objects)",
            self.inner.package,
            self.objects().len()
        )
    }
}

impl Default for FakeCloud {
    fn default() -> Self {
        FakeCloud::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Injected panics happen outside these locks; a poisoned lock still
    // holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeCloud {
    /// An empty in-memory cloud serving package `fake`.
    pub fn new() -> Self {
        FakeCloud::with_package("fake")
    }

    /// An empty in-memory cloud serving `package`.
    pub fn with_package(package: &str) -> Self {
        FakeCloud::build(package, None)
    }

    /// A cloud whose objects live as JSON files in `dir` (created if
    /// missing), so they outlive the process; objects already there are
    /// loaded. Ids are random, so processes sharing the directory don't clash.
    ///
    /// # Errors
    /// When the directory cannot be created or read.
    pub fn in_dir(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let cloud = FakeCloud::build("fake", Some(dir.to_path_buf()));
        cloud.reload()?;
        Ok(cloud)
    }

    fn build(package: &str, dir: Option<PathBuf>) -> Self {
        FakeCloud {
            inner: Arc::new(Inner {
                package: package.to_owned(),
                objects: Mutex::new(BTreeMap::new()),
                dir,
                next_id: AtomicU64::new(1),
                clock: AtomicU64::new(0),
                rules: Mutex::new(Vec::new()),
                calls: Mutex::new(Vec::new()),
                latency: Mutex::new(None),
                outputs: Mutex::new(HashMap::new()),
                expected: Mutex::new(HashMap::new()),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                batched: Mutex::new(Vec::new()),
                batches: Mutex::new(Vec::new()),
                data_reads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Re-reads the objects from the directory (for a directory cloud).
    ///
    /// # Errors
    /// When the directory cannot be read or holds a file that is not an object.
    pub fn reload(&self) -> std::io::Result<()> {
        let Some(dir) = &self.inner.dir else {
            return Ok(());
        };
        let mut objects = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read(&path)?;
            let obj: FakeObject = serde_json::from_slice(&text).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            objects.insert(obj.id.clone(), obj);
        }
        *lock(&self.inner.objects) = objects;
        Ok(())
    }

    /// Every call takes `latency`.
    pub fn with_latency(self, latency: Duration) -> Self {
        self.set_latency(move |_, _| latency);
        self
    }

    /// Calls take what `f(op, resource name)` says.
    pub fn set_latency(&self, f: impl Fn(FakeOp, &str) -> Duration + Send + Sync + 'static) {
        *lock(&self.inner.latency) = Some(Arc::new(f));
    }

    /// Says that `call`s on `type_name` objects typically take `typical`:
    /// what [`Provider::expected_duration`] answers (`None` for any other).
    /// The injected latency is separate; set both to model a provider whose
    /// priors are right, or only this one for priors that are wrong.
    pub fn expect_duration(&self, type_name: &str, call: CallKind, typical: Duration) {
        lock(&self.inner.expected).insert((type_name.to_owned(), call), typical);
    }

    /// Objects of `type_name` get the outputs `f(id, inputs)` instead of the default.
    pub fn outputs_for(
        &self,
        type_name: &str,
        f: impl Fn(&str, &Value) -> Value + Send + Sync + 'static,
    ) {
        lock(&self.inner.outputs).insert(type_name.to_owned(), Arc::new(f));
    }

    /// Every `op` call for resource `name` fails with `error`.
    pub fn fail_on(self, op: FakeOp, name: &str, error: ProviderError) -> Self {
        self.inject(Some(op), Some(name), None, Fault::Error(error));
        self
    }

    /// Adds a failure rule: calls matching `op` (any if None) and resource
    /// `name` (any if None) meet `fault`, `times` times (always if None).
    pub fn inject(&self, op: Option<FakeOp>, name: Option<&str>, times: Option<u32>, fault: Fault) {
        lock(&self.inner.rules).push(Rule {
            op,
            name: name.map(str::to_owned),
            remaining: times,
            fault,
        });
    }

    /// Removes every failure rule.
    pub fn clear_faults(&self) {
        lock(&self.inner.rules).clear();
    }

    /// Every object, by id.
    pub fn objects(&self) -> BTreeMap<String, FakeObject> {
        lock(&self.inner.objects).clone()
    }

    /// Each data source read so far: its type and query, in order.
    pub fn data_reads(&self) -> Vec<(String, Value)> {
        lock(&self.inner.data_reads).clone()
    }

    /// The objects created for resource `name`.
    pub fn objects_named(&self, name: &str) -> Vec<FakeObject> {
        lock(&self.inner.objects)
            .values()
            .filter(|o| o.name == name)
            .cloned()
            .collect()
    }

    /// The one object created for resource `name`.
    ///
    /// # Panics
    /// When there is not exactly one.
    pub fn object_named(&self, name: &str) -> FakeObject {
        let found = self.objects_named(name);
        assert_eq!(
            found.len(),
            1,
            "expected one object named {name:?}, found {found:?}"
        );
        found.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    /// Every call so far, in the order they ended.
    pub fn calls(&self) -> Vec<FakeCall> {
        lock(&self.inner.calls).clone()
    }

    /// The calls of `op`, in the order they ended.
    pub fn calls_of(&self, op: FakeOp) -> Vec<FakeCall> {
        self.calls().into_iter().filter(|c| c.op == op).collect()
    }

    /// The most calls that were in flight at once.
    pub fn max_concurrency(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// Changes an object behind the engine's back (drift).
    ///
    /// # Panics
    /// When there is no object with that id.
    pub fn mutate(&self, id: &str, f: impl FnOnce(&mut FakeObject)) {
        let mut objects = lock(&self.inner.objects);
        let obj = objects
            .get_mut(id)
            .unwrap_or_else(|| panic!("no object {id}"));
        f(obj);
        let obj = obj.clone();
        drop(objects);
        self.persist(&obj);
    }

    /// Deletes an object behind the engine's back.
    pub fn remove(&self, id: &str) {
        lock(&self.inner.objects).remove(id);
        self.unpersist(id);
    }

    /// Reads objects of `type_name` in batches ([`Provider::read_many`]),
    /// as a cloud whose list call takes many ids; each object of a batch is
    /// still read (and recorded, delayed, failed) as one `Read`.
    pub fn read_in_batches(&self, type_name: &str) {
        lock(&self.inner.batched).push(type_name.to_owned());
    }

    /// The size of each `read_many` call so far, in order.
    pub fn read_batches(&self) -> Vec<usize> {
        lock(&self.inner.batches).clone()
    }

    /// A hook for the provider [`conformance`](mod@super::conformance) suite
    /// that changes this cloud's objects behind the engine's back (setting
    /// input `field` to `value`) and deletes them.
    pub fn out_of_band(&self, field: &str, value: Value) -> FakeOutOfBand {
        FakeOutOfBand {
            cloud: self.clone(),
            field: field.to_owned(),
            value,
        }
    }

    /// Adds an object that the program did not create (to import).
    pub fn insert(&self, obj: FakeObject) {
        self.persist(&obj);
        lock(&self.inner.objects).insert(obj.id.clone(), obj);
    }

    fn persist(&self, obj: &FakeObject) {
        let Some(dir) = &self.inner.dir else { return };
        let tmp = dir.join(format!(".{}.tmp", obj.id));
        let path = dir.join(format!("{}.json", obj.id));
        let bytes = serde_json::to_vec(obj).unwrap_or_default();
        let write = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = write {
            panic!("the fake cloud cannot write {}: {e}", path.display());
        }
    }

    fn unpersist(&self, id: &str) {
        if let Some(dir) = &self.inner.dir {
            let _ = std::fs::remove_file(dir.join(format!("{id}.json")));
        }
    }

    fn new_id(&self, type_name: &str) -> String {
        let short = short_type(type_name);
        if self.inner.dir.is_some() {
            format!("{short}-{}", &crate::state::new_id()[..12])
        } else {
            format!(
                "{short}-{}",
                self.inner.next_id.fetch_add(1, Ordering::SeqCst)
            )
        }
    }

    fn outputs(&self, type_name: &str, id: &str, inputs: &Value) -> Value {
        if let Some(f) = lock(&self.inner.outputs).get(type_name).cloned() {
            return f(id, inputs);
        }
        let mut out = match inputs {
            Value::Map(m) => m.clone(),
            _ => crate::value::ValueMap::new(),
        };
        out.insert("id".into(), id.into());
        out.insert(format!("{}_id", short_type(type_name)), id.into());
        out.insert("arn".into(), format!("arn:fake:{type_name}:{id}").into());
        Value::Map(out)
    }

    fn fault(&self, op: FakeOp, name: &str) -> Option<Fault> {
        let mut rules = lock(&self.inner.rules);
        for rule in rules.iter_mut() {
            let matches =
                rule.op.is_none_or(|o| o == op) && rule.name.as_deref().is_none_or(|n| n == name);
            if !matches || rule.remaining == Some(0) {
                continue;
            }
            if let Some(r) = &mut rule.remaining {
                *r -= 1;
            }
            return Some(rule.fault.clone());
        }
        None
    }

    async fn enter(&self, op: FakeOp, name: &str) -> (u64, Option<Fault>) {
        let started = self.inner.clock.fetch_add(1, Ordering::SeqCst);
        let latency = lock(&self.inner.latency).clone();
        if let Some(f) = latency {
            let d = f(op, name);
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
        }
        (started, self.fault(op, name))
    }

    fn leave(&self, op: FakeOp, name: &str, id: &str, started: u64, failed: bool) {
        let ended = self.inner.clock.fetch_add(1, Ordering::SeqCst);
        lock(&self.inner.calls).push(FakeCall {
            op,
            name: name.to_owned(),
            id: id.to_owned(),
            started,
            ended,
            failed,
        });
    }

    /// Runs one operation: latency, the fault if any, the work, the log.
    async fn operate<T>(
        &self,
        op: FakeOp,
        name: &str,
        id: &str,
        work: impl FnOnce() -> Result<(String, T), ProviderError>,
    ) -> Result<T, ProviderError> {
        let _in_flight = InFlight::new(&self.inner);
        let (started, fault) = self.enter(op, name).await;
        let result = match fault {
            Some(Fault::Error(e)) => Err(e),
            Some(Fault::PanicBefore) => {
                self.leave(op, name, id, started, true);
                panic!("injected panic before {op:?} {name}");
            }
            Some(Fault::PanicAfter) => {
                let done = work();
                self.leave(op, name, id, started, true);
                let what = done.map(|(id, _)| id).unwrap_or_default();
                panic!("injected panic after {op:?} {name} ({what})");
            }
            None => work(),
        };
        match result {
            Ok((id, v)) => {
                self.leave(op, name, &id, started, false);
                Ok(v)
            }
            Err(e) => {
                self.leave(op, name, id, started, true);
                Err(e)
            }
        }
    }
}

/// Counts one call as in flight until dropped — also when the engine
/// abandons the call (a time limit) or it panics.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(&inner.in_flight)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn short_type(type_name: &str) -> String {
    type_name
        .rsplit(':')
        .next()
        .unwrap_or(type_name)
        .to_lowercase()
}

#[async_trait]
impl Provider for FakeCloud {
    fn package(&self) -> &str {
        &self.inner.package
    }

    /// Declares the types of [`crate::testing::resources`] (named by their
    /// `fake` type names, whatever this cloud's package); it makes no call.
    fn declare(
        &self,
        type_name: &str,
        observed: &Observed,
        out: &mut Declaration,
    ) -> Result<Declared, ProviderError> {
        use crate::testing::resources as r;
        use crate::Resource;
        let kind = type_name.split_once(':').map_or(type_name, |(_, k)| k);
        let same = |t: &str| t.split_once(':').map(|(_, k)| k) == Some(kind);
        out.qualify(None);
        if same(r::Network::TYPE) {
            declared::<r::Network>(observed, out)
        } else if same(r::Subnet::TYPE) {
            declared::<r::Subnet>(observed, out)
        } else if same(r::Instance::TYPE) {
            declared::<r::Instance>(observed, out)
        } else if same(r::Node::TYPE) {
            declared::<r::Node>(observed, out)
        } else {
            Err(ProviderError::new(format!(
                "the fake cloud cannot write a declaration of {type_name}"
            )))
        }
    }

    fn expected_duration(&self, type_name: &str, call: CallKind) -> Option<Duration> {
        lock(&self.inner.expected)
            .get(&(type_name.to_owned(), call))
            .copied()
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        self.operate(FakeOp::Create, &req.name, "", || {
            let id = self.new_id(&req.type_name);
            let outputs = self.outputs(&req.type_name, &id, &req.inputs);
            let obj = FakeObject {
                id: id.clone(),
                type_name: req.type_name.clone(),
                name: req.name.clone(),
                stack: req.stack.clone(),
                token: req.token.clone(),
                // A cloud knows nothing of the engine's secret marker.
                inputs: req.inputs.revealed(),
                outputs: outputs.clone(),
            };
            self.persist(&obj);
            lock(&self.inner.objects).insert(id.clone(), obj);
            Ok((id.clone(), Created { id, outputs }))
        })
        .await
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        let id = req.id.clone().unwrap_or_default();
        self.operate(FakeOp::Read, &req.name, &id, || {
            let objects = lock(&self.inner.objects);
            let found = match (&req.id, &req.token) {
                (Some(id), _) => objects.get(id),
                (None, Some(token)) => objects.values().find(|o| &o.token == token),
                (None, None) => None,
            };
            let observed = found
                .filter(|o| o.type_name == req.type_name)
                .map(|o| Observed {
                    id: o.id.clone(),
                    inputs: o.inputs.clone(),
                    outputs: o.outputs.clone(),
                });
            Ok((id.clone(), observed))
        })
        .await
    }

    fn reads_in_batches(&self, type_name: &str) -> bool {
        lock(&self.inner.batched).iter().any(|t| t == type_name)
    }

    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        lock(&self.inner.batches).push(reqs.len());
        let mut found = Vec::with_capacity(reqs.len());
        for req in reqs {
            found.push(self.read(req).await?);
        }
        Ok(found)
    }

    /// Serves every data source type `<package>:<module>:<Type>Lookup`: the
    /// one object of type `<package>:<module>:<Type>` whose `tags` input
    /// holds every tag of the query's `tags`; its outputs are the answer.
    async fn read_data(&self, req: DataRequest) -> Result<Value, ProviderError> {
        lock(&self.inner.data_reads).push((req.type_name.clone(), req.query.clone()));
        let Some(object_type) = req.type_name.strip_suffix("Lookup") else {
            return Err(ProviderError::new(format!(
                "the fake cloud serves no data source {}",
                req.type_name
            )));
        };
        let wanted = req.query.get("tags").and_then(Value::as_map);
        let objects = lock(&self.inner.objects);
        let found: Vec<&FakeObject> = objects
            .values()
            .filter(|o| o.type_name == object_type)
            .filter(|o| {
                let tags = o.inputs.get("tags").and_then(Value::as_map);
                wanted.is_none_or(|w| {
                    w.iter()
                        .all(|(k, v)| tags.and_then(|t| t.get(k)).is_some_and(|t| t == v))
                })
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one.outputs.clone()),
            [] => Err(ProviderError::new(format!(
                "no {object_type} matches {}",
                req.query.render()
            ))),
            many => Err(ProviderError::new(format!(
                "{} objects of type {object_type} match {}: {}",
                many.len(),
                req.query.render(),
                many.iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        self.operate(FakeOp::Update, &req.name, &req.id, || {
            let mut objects = lock(&self.inner.objects);
            let obj = objects.get_mut(&req.id).ok_or_else(|| {
                ProviderError::new(format!("{} {} does not exist", req.type_name, req.id))
            })?;
            obj.inputs = req.new_inputs.revealed();
            obj.outputs = self.outputs(&req.type_name, &req.id, &req.new_inputs);
            let obj = obj.clone();
            drop(objects);
            self.persist(&obj);
            Ok((req.id.clone(), obj.outputs))
        })
        .await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.operate(FakeOp::Delete, &req.name, &req.id, || {
            lock(&self.inner.objects).remove(&req.id);
            self.unpersist(&req.id);
            Ok((req.id.clone(), ()))
        })
        .await
    }
}

/// Changes and deletes a [`FakeCloud`]'s objects behind the engine's back:
/// made by [`FakeCloud::out_of_band`].
#[derive(Clone)]
pub struct FakeOutOfBand {
    cloud: FakeCloud,
    field: String,
    value: Value,
}

impl std::fmt::Debug for FakeOutOfBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOutOfBand")
            .field("field", &self.field)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl OutOfBand for FakeOutOfBand {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        if !self.cloud.objects().contains_key(&found.id) {
            return Err(format!("no object {}", found.id));
        }
        self.cloud.mutate(&found.id, |o| {
            let mut inputs = o.inputs.as_map().cloned().unwrap_or_default();
            inputs.insert(self.field.clone(), self.value.clone());
            o.inputs = Value::Map(inputs);
        });
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        self.cloud.remove(&found.id);
        Ok(())
    }
}
