//! Rolling updates of a group of instances behind a load balancer that
//! spreads traffic evenly over a pool of backends (nginx's upstream, a
//! target group): a [`PoolRouter`] sets the pool, and a [`PoolFleet`] swaps
//! old instances for new ones in it, slot by slot, as a
//! [`crate::RollingRollout`] says.
//!
//! The new instances are started beside the old ones before the rollout
//! (through the engine: the new object of a resource such as the local
//! provider's `ServiceGroup`); a slot's new instance joins the pool only
//! once its health checks pass, and its old instance leaves the pool at
//! the same reload. An instance that never gets healthy never gets
//! traffic, and a rollback puts the whole old pool back at once.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::analysis::{AnalysisSet, Verdict};
use crate::fleet::RollingFleet;

/// A router sending traffic evenly to a pool of backends.
///
/// # Guarantees expected of implementations
/// `set_backends` is idempotent and puts exactly these backends in effect
/// before it returns (a reload has taken effect), or fails saying why.
#[async_trait]
pub trait PoolRouter: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;
    /// Makes `backends` (addresses, e.g. `127.0.0.1:8081`) the whole pool.
    async fn set_backends(&self, backends: &[String]) -> Result<(), String>;
}

#[async_trait]
impl<R: PoolRouter + ?Sized> PoolRouter for Arc<R> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn set_backends(&self, backends: &[String]) -> Result<(), String> {
        (**self).set_backends(backends).await
    }
}

/// A pool router in memory: keeps every pool it was given, and can be told
/// to fail.
#[derive(Clone, Default)]
pub struct MemoryPool {
    inner: Arc<Mutex<MemoryPoolState>>,
}

#[derive(Default)]
struct MemoryPoolState {
    history: Vec<Vec<String>>,
    fail_next: Vec<String>,
}

impl MemoryPool {
    /// A router that was never given a pool.
    pub fn new() -> Self {
        MemoryPool::default()
    }

    /// The pool in effect (empty before the first call).
    pub fn current(&self) -> Vec<String> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.history.last().cloned().unwrap_or_default()
    }

    /// Every pool put in effect, in order.
    pub fn history(&self) -> Vec<Vec<String>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .clone()
    }

    /// The next call to `set_backends` fails with `message`.
    pub fn fail_next(&self, message: impl Into<String>) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.fail_next.push(message.into());
    }
}

#[async_trait]
impl PoolRouter for MemoryPool {
    fn describe(&self) -> String {
        "in-memory pool".into()
    }

    async fn set_backends(&self, backends: &[String]) -> Result<(), String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !s.fail_next.is_empty() {
            return Err(s.fail_next.remove(0));
        }
        s.history.push(backends.to_vec());
        Ok(())
    }
}

/// One new instance: where it serves, and the checks it must pass before
/// it joins the pool.
#[derive(Clone)]
pub struct Member {
    /// Its address in the pool.
    pub address: String,
    /// Its health checks (an empty set passes at once).
    pub health: AnalysisSet,
}

impl Member {
    /// An instance at `address` checked by `health`.
    pub fn new(address: impl Into<String>, health: AnalysisSet) -> Self {
        Member {
            address: address.into(),
            health,
        }
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A [`RollingFleet`] of slots, each served by an old instance until the
/// rollout swaps in its new one. Old and new instances all run; only the
/// pool changes. Slot `i` pairs old instance `i` with new instance `i`;
/// when the versions have different sizes, the extra slots have one side
/// only (a slot with no new instance leaves the pool when "replaced").
pub struct PoolFleet<R> {
    router: R,
    old: Vec<String>,
    new: Vec<Member>,
    /// Which slots the new instance serves.
    swapped: Mutex<Vec<bool>>,
}

impl<R: PoolRouter> PoolFleet<R> {
    /// A fleet whose pool `router` sets, old instances at `old`, new ones
    /// `new` (empty when the new object was never created: the fleet can
    /// then only restore the old pool).
    ///
    /// # Errors
    /// No old instance, or an address listed twice.
    pub fn new(router: R, old: Vec<String>, new: Vec<Member>) -> Result<Self, String> {
        if old.is_empty() {
            return Err("a rolling update needs the old version's instances; it has none".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in old.iter().chain(new.iter().map(|m| &m.address)) {
            if !seen.insert(a) {
                return Err(format!("the address {a} is listed twice"));
            }
        }
        let slots = old.len().max(new.len());
        Ok(PoolFleet {
            router,
            old,
            new,
            swapped: Mutex::new(vec![false; slots]),
        })
    }

    /// The pool as the slots stand.
    fn pool(&self, swapped: &[bool]) -> Vec<String> {
        swapped
            .iter()
            .enumerate()
            .filter_map(|(i, &new)| {
                if new {
                    self.new.get(i).map(|m| m.address.clone())
                } else {
                    self.old.get(i).cloned()
                }
            })
            .collect()
    }

    /// Sets the slots `batch` to `to_new` and puts the pool in effect; the
    /// slots are left as they were if the router fails.
    async fn set(&self, batch: &[usize], to_new: bool) -> Result<(), String> {
        let (before, pool) = {
            let mut s = self.swapped.lock().unwrap_or_else(|e| e.into_inner());
            let before = s.clone();
            for &i in batch {
                if let Some(slot) = s.get_mut(i) {
                    *slot = to_new;
                }
            }
            (before, self.pool(&s))
        };
        if pool.is_empty() {
            *self.swapped.lock().unwrap_or_else(|e| e.into_inner()) = before;
            return Err("the pool would be empty".into());
        }
        let set = self.router.set_backends(&pool).await;
        if set.is_err() {
            *self.swapped.lock().unwrap_or_else(|e| e.into_inner()) = before;
        }
        set
    }
}

#[async_trait]
impl<R: PoolRouter> RollingFleet for PoolFleet<R> {
    fn describe(&self) -> String {
        format!(
            "{} old and {} new instances behind {}",
            self.old.len(),
            self.new.len(),
            self.router.describe()
        )
    }

    fn size(&self) -> usize {
        self.old.len().max(self.new.len())
    }

    /// The new instances already run: nothing to start.
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        match batch.iter().find(|&&i| i >= self.size()) {
            Some(i) => Err(format!("there is no instance {i}")),
            None => Ok(()),
        }
    }

    /// Runs the health checks of the batch's new instances, all at once.
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        let checks = batch
            .iter()
            .filter_map(|&i| self.new.get(i))
            .map(|m| async move {
                match m.health.run().await {
                    Verdict::Pass => Verdict::Pass,
                    Verdict::Fail(why) => Verdict::Fail(format!("{}: {why}", m.address)),
                    Verdict::Inconclusive(why) => {
                        Verdict::Inconclusive(format!("{}: {why}", m.address))
                    }
                }
            });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .fold(Verdict::Pass, Verdict::worst)
    }

    async fn admit(&self, batch: &[usize]) -> Result<(), String> {
        self.set(batch, true).await
    }

    /// Puts the old pool back whole, whatever `replaced` says: after a
    /// crash the record of which slots were swapped may be behind.
    async fn restore(&self, _replaced: &[usize]) -> Result<(), String> {
        let all: Vec<usize> = (0..self.size()).collect();
        self.set(&all, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(_: Box<dyn PoolRouter>) {}

    struct Fixed(Verdict);

    #[async_trait]
    impl crate::analysis::Analysis for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        async fn run(&self) -> Verdict {
            self.0.clone()
        }
    }

    fn member(address: &str, verdict: Verdict) -> Member {
        Member::new(address, AnalysisSet::new().with(Fixed(verdict)))
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn slots_swap_into_the_pool_and_a_restore_puts_the_old_pool_back() {
        let pool = MemoryPool::new();
        let fleet = PoolFleet::new(
            pool.clone(),
            strings(&["o0", "o1", "o2"]),
            vec![
                member("n0", Verdict::Pass),
                member("n1", Verdict::Pass),
                member("n2", Verdict::Fail("500".into())),
            ],
        )
        .unwrap();
        assert_eq!(fleet.size(), 3);
        assert!(fleet.healthy(&[0, 1]).await.is_pass());
        let bad = fleet.healthy(&[1, 2]).await;
        assert_eq!(bad, Verdict::Fail("n2: fixed: 500".into()));
        fleet.admit(&[0]).await.unwrap();
        fleet.admit(&[1]).await.unwrap();
        fleet.restore(&[]).await.unwrap();
        assert_eq!(
            pool.history(),
            vec![
                strings(&["n0", "o1", "o2"]),
                strings(&["n0", "n1", "o2"]),
                strings(&["o0", "o1", "o2"]),
            ]
        );
        assert!(fleet.replace(&[3]).await.is_err());
    }

    #[tokio::test]
    async fn a_router_failure_leaves_the_slots_as_they_were() {
        let pool = MemoryPool::new();
        let fleet = PoolFleet::new(
            pool.clone(),
            strings(&["o0", "o1"]),
            vec![member("n0", Verdict::Pass), member("n1", Verdict::Pass)],
        )
        .unwrap();
        pool.fail_next("nginx -t failed");
        assert_eq!(fleet.admit(&[0]).await, Err("nginx -t failed".into()));
        fleet.admit(&[1]).await.unwrap();
        assert_eq!(pool.current(), strings(&["o0", "n1"]));
    }

    #[tokio::test]
    async fn versions_of_different_sizes_pair_what_they_can() {
        let pool = MemoryPool::new();
        // Scaling down from three to two: the third slot leaves the pool.
        let fleet = PoolFleet::new(
            pool.clone(),
            strings(&["o0", "o1", "o2"]),
            vec![member("n0", Verdict::Pass), member("n1", Verdict::Pass)],
        )
        .unwrap();
        fleet.admit(&[0, 1, 2]).await.unwrap();
        assert_eq!(pool.current(), strings(&["n0", "n1"]));
        // Up from one to two.
        let fleet = PoolFleet::new(
            pool.clone(),
            strings(&["o0"]),
            vec![member("n0", Verdict::Pass), member("n1", Verdict::Pass)],
        )
        .unwrap();
        assert_eq!(fleet.size(), 2);
        fleet.admit(&[1]).await.unwrap();
        assert_eq!(pool.current(), strings(&["o0", "n1"]));
    }

    #[test]
    fn no_old_instance_or_a_repeated_address_is_refused() {
        let err = PoolFleet::new(MemoryPool::new(), vec![], vec![])
            .err()
            .unwrap();
        assert!(err.contains("has none"), "{err}");
        let err = PoolFleet::new(
            MemoryPool::new(),
            strings(&["a"]),
            vec![member("a", Verdict::Pass)],
        )
        .err()
        .unwrap();
        assert!(err.contains("a is listed twice"), "{err}");
    }
}
