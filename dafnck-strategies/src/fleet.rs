//! Fleets: the targets a rollout starts and retires. The local provider's
//! services and AWS instances in target groups implement these traits; the
//! memory fleets here script them for tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::analysis::Verdict;

/// The two versions behind a traffic router: the stable one serving now and
/// the new one a canary or blue-green rollout brings up.
///
/// # Guarantees expected of implementations
/// Every method is idempotent: a rollout resumed after a crash may call the
/// one it was in the middle of again.
#[async_trait]
pub trait Fleet: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;
    /// Starts the new version's targets beside the stable ones (no traffic
    /// reaches them until the router says so).
    async fn start_new(&self) -> Result<(), String>;
    /// The new version becomes the stable one; the old targets are retired.
    /// Called once all traffic is on the new version.
    async fn promote(&self) -> Result<(), String>;
    /// Retires the new version's targets. Called once no traffic reaches
    /// them.
    async fn retire_new(&self) -> Result<(), String>;
}

#[async_trait]
impl<F: Fleet + ?Sized> Fleet for Arc<F> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn start_new(&self) -> Result<(), String> {
        (**self).start_new().await
    }
    async fn promote(&self) -> Result<(), String> {
        (**self).promote().await
    }
    async fn retire_new(&self) -> Result<(), String> {
        (**self).retire_new().await
    }
}

/// A fleet replaced instance by instance, in place, behind a router that
/// sends traffic to every healthy instance.
#[async_trait]
pub trait RollingFleet: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;
    /// Learns which instances there are, before a rollout or a reset uses
    /// [`RollingFleet::size`] and the indices: an Auto Scaling group lists
    /// its instances. A fleet that knows them when built has nothing to do
    /// (the default).
    async fn survey(&self) -> Result<(), String> {
        Ok(())
    }
    /// How many instances there are.
    fn size(&self) -> usize;
    /// Replaces the instances at these indices with the new version.
    async fn replace(&self, batch: &[usize]) -> Result<(), String>;
    /// Whether the instances at these indices are healthy now.
    async fn healthy(&self, batch: &[usize]) -> Verdict;
    /// Puts the old version back on the instances at these indices.
    async fn restore(&self, replaced: &[usize]) -> Result<(), String>;
    /// Puts the instances at these indices, replaced and healthy, into
    /// service. For fleets whose router sends traffic to every healthy
    /// instance, `replace` already did (the default: nothing to do); a
    /// [`crate::PoolFleet`] adds them to its router's pool only now, so an
    /// instance that never gets healthy never gets traffic.
    async fn admit(&self, batch: &[usize]) -> Result<(), String> {
        let _ = batch;
        Ok(())
    }
}

#[async_trait]
impl<F: RollingFleet + ?Sized> RollingFleet for Box<F> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn survey(&self) -> Result<(), String> {
        (**self).survey().await
    }
    fn size(&self) -> usize {
        (**self).size()
    }
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        (**self).replace(batch).await
    }
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        (**self).healthy(batch).await
    }
    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        (**self).restore(replaced).await
    }
    async fn admit(&self, batch: &[usize]) -> Result<(), String> {
        (**self).admit(batch).await
    }
}

/// What a [`MemoryFleet`] was asked to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetCall {
    /// `start_new`.
    StartNew,
    /// `promote`.
    Promote,
    /// `retire_new`.
    RetireNew,
}

/// A [`Fleet`] in memory that records its calls and can be told to fail
/// one of them.
#[derive(Clone, Default)]
pub struct MemoryFleet {
    inner: Arc<Mutex<MemoryFleetState>>,
}

#[derive(Default)]
struct MemoryFleetState {
    calls: Vec<FleetCall>,
    failures: Vec<(FleetCall, String)>,
}

impl MemoryFleet {
    /// A fleet with nothing recorded.
    pub fn new() -> Self {
        MemoryFleet::default()
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<FleetCall> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .calls
            .clone()
    }

    /// The next call of this kind fails with `message`.
    pub fn fail_next(&self, call: FleetCall, message: impl Into<String>) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.failures.push((call, message.into()));
    }

    fn call(&self, call: FleetCall) -> Result<(), String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = s.failures.iter().position(|(c, _)| *c == call) {
            return Err(s.failures.remove(i).1);
        }
        s.calls.push(call);
        Ok(())
    }
}

#[async_trait]
impl Fleet for MemoryFleet {
    fn describe(&self) -> String {
        "in-memory fleet".into()
    }
    async fn start_new(&self) -> Result<(), String> {
        self.call(FleetCall::StartNew)
    }
    async fn promote(&self) -> Result<(), String> {
        self.call(FleetCall::Promote)
    }
    async fn retire_new(&self) -> Result<(), String> {
        self.call(FleetCall::RetireNew)
    }
}

/// A [`RollingFleet`] in memory: instances hold a version string; the new
/// version is healthy or not as told.
#[derive(Clone)]
pub struct MemoryRollingFleet {
    inner: Arc<Mutex<RollingState>>,
}

struct RollingState {
    old: String,
    new: String,
    versions: Vec<String>,
    new_is_healthy: bool,
    replaced_batches: Vec<Vec<usize>>,
}

impl MemoryRollingFleet {
    /// `size` instances running `old`; `replace` installs `new`, which
    /// passes health checks when `new_is_healthy`.
    pub fn new(size: usize, old: &str, new: &str, new_is_healthy: bool) -> Self {
        MemoryRollingFleet {
            inner: Arc::new(Mutex::new(RollingState {
                old: old.into(),
                new: new.into(),
                versions: vec![old.to_string(); size],
                new_is_healthy,
                replaced_batches: Vec::new(),
            })),
        }
    }

    /// The version on each instance.
    pub fn versions(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .versions
            .clone()
    }

    /// Every batch `replace` was called with, in order.
    pub fn replaced_batches(&self) -> Vec<Vec<usize>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replaced_batches
            .clone()
    }
}

#[async_trait]
impl RollingFleet for MemoryRollingFleet {
    fn describe(&self) -> String {
        "in-memory rolling fleet".into()
    }
    fn size(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .versions
            .len()
    }
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for &i in batch {
            s.versions[i] = s.new.clone();
        }
        s.replaced_batches.push(batch.to_vec());
        Ok(())
    }
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let bad: Vec<usize> = batch
            .iter()
            .copied()
            .filter(|&i| s.versions[i] == s.new && !s.new_is_healthy)
            .collect();
        if bad.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(format!("instances {bad:?} fail their health check"))
        }
    }
    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for &i in replaced {
            s.versions[i] = s.old.clone();
        }
        Ok(())
    }
}
