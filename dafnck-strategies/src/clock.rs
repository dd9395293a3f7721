//! The rollout's clock: wall-clock milliseconds for what is journaled (a
//! resumed rollout must know how long its step has run), on tokio's timer
//! so tests run every transition on paused, virtual time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Milliseconds since the Unix epoch, as rollouts record them.
pub type Millis = u64;

/// Where a rollout reads the time and waits.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;
}

/// Wall-clock time advanced by tokio's timer: the epoch time when it was
/// made plus tokio's elapsed time since. Under `tokio::time::pause` it
/// advances exactly as virtual time does, so sleeps and timestamps agree.
#[derive(Clone, Debug)]
pub struct TokioClock {
    base_ms: Millis,
    base: Instant,
}

impl TokioClock {
    /// A clock starting at the current wall-clock time.
    pub fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        TokioClock::starting_at(base_ms)
    }

    /// A clock that reads `base_ms` now (tests pin the epoch).
    pub fn starting_at(base_ms: Millis) -> Self {
        TokioClock {
            base_ms,
            base: Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> Millis {
        self.base_ms + self.base.elapsed().as_millis() as Millis
    }
}

/// Sleeps on tokio's timer until `clock` reads `at` (returns at once when
/// it already does).
pub async fn sleep_until(clock: &dyn Clock, at: Millis) {
    let now = clock.now_ms();
    if at > now {
        tokio::time::sleep(Duration::from_millis(at - now)).await;
    }
}

/// `d` in milliseconds, saturating.
pub fn ms(d: Duration) -> Millis {
    d.as_millis().try_into().unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_virtual_time() {
        let clock = TokioClock::starting_at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        sleep_until(&clock, 61_000).await;
        assert_eq!(clock.now_ms(), 61_000);
        sleep_until(&clock, 5).await;
        assert_eq!(clock.now_ms(), 61_000);
    }
}
