//! Traffic routers: what moves requests between the stable and the new
//! version. nginx and the AWS ALB implement [`TrafficRouter`]; the
//! [`MemoryRouter`] records what it was told, for tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::policy::Weights;

/// Sets the split of traffic between the stable and the new version.
///
/// # Guarantees expected of implementations
/// `set_weights` returns once the split is in effect for new requests (a
/// reload finished, a listener modified), is idempotent, and never drops
/// requests in flight.
#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// A short description for logs ("nginx upstream app on :8080").
    fn describe(&self) -> String;
    /// Puts `weights` in effect.
    ///
    /// # Errors
    /// The router could not be changed; the message says why.
    async fn set_weights(&self, weights: Weights) -> Result<(), String>;

    /// Readies the new version to take traffic without giving it any,
    /// before its readiness checks run. An ALB listener gets the new target
    /// group at weight 0, so the load balancer starts health checking its
    /// targets (it checks only groups a listener uses). Default: nothing to
    /// do. Idempotent; undone by any later `set_weights`.
    ///
    /// # Errors
    /// The router could not be changed; the message says why.
    async fn prepare(&self) -> Result<(), String> {
        Ok(())
    }
}

#[async_trait]
impl<R: TrafficRouter + ?Sized> TrafficRouter for Arc<R> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        (**self).set_weights(weights).await
    }
    async fn prepare(&self) -> Result<(), String> {
        (**self).prepare().await
    }
}

#[async_trait]
impl<R: TrafficRouter + ?Sized> TrafficRouter for Box<R> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        (**self).set_weights(weights).await
    }
    async fn prepare(&self) -> Result<(), String> {
        (**self).prepare().await
    }
}

/// A router in memory: keeps the current split and every split it was
/// given, and can be told to fail.
#[derive(Clone, Default)]
pub struct MemoryRouter {
    inner: Arc<Mutex<MemoryRouterState>>,
}

#[derive(Default)]
struct MemoryRouterState {
    history: Vec<Weights>,
    fail_next: Vec<String>,
    prepares: u32,
}

impl MemoryRouter {
    /// A router with all traffic on the stable version.
    pub fn new() -> Self {
        MemoryRouter::default()
    }

    /// The split in effect (all stable before the first change).
    pub fn current(&self) -> Weights {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.history.last().copied().unwrap_or(Weights::to_new(0))
    }

    /// The new version's share after each change, in order.
    pub fn history(&self) -> Vec<u8> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.history.iter().map(|w| w.new_share()).collect()
    }

    /// How many times `prepare` was called.
    pub fn prepares(&self) -> u32 {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prepares
    }

    /// The next call to `set_weights` fails with `message`.
    pub fn fail_next(&self, message: impl Into<String>) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.fail_next.push(message.into());
    }
}

#[async_trait]
impl TrafficRouter for MemoryRouter {
    fn describe(&self) -> String {
        "in-memory router".into()
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !s.fail_next.is_empty() {
            return Err(s.fail_next.remove(0));
        }
        s.history.push(weights);
        Ok(())
    }

    async fn prepare(&self) -> Result<(), String> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prepares += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(_: Box<dyn TrafficRouter>) {}

    #[tokio::test]
    async fn the_memory_router_records_splits_and_injected_failures() {
        let r = MemoryRouter::new();
        assert_eq!(r.current().new_share(), 0);
        r.set_weights(Weights::to_new(5)).await.unwrap();
        r.fail_next("reload failed");
        assert_eq!(
            r.set_weights(Weights::to_new(25)).await,
            Err("reload failed".into())
        );
        r.set_weights(Weights::to_new(100)).await.unwrap();
        assert_eq!(r.history(), vec![5, 100]);
    }
}
