//! The engine's tunables.

use std::sync::Arc;
use std::time::Duration;

use crate::apply::ApplyObserver;
use crate::provider::RetryPolicy;
use crate::state;

/// Tunables of an [`Engine`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// At most this many provider calls at once (default 10).
    pub parallelism: usize,
    /// At most this many steps under way at once, counting those whose
    /// intent is journaled and wait for a call slot (see
    /// [`ApplyOptions::journal_ahead`]; default 256).
    ///
    /// [`ApplyOptions::journal_ahead`]: crate::apply::ApplyOptions::journal_ahead
    pub journal_ahead: usize,
    /// Retries of retryable provider errors.
    pub retry: RetryPolicy,
    /// The lock's lease; renewed every third of it while a run lives.
    pub lease: Duration,
    /// Compact the journal at least this many records apart during a run
    /// (and more once the state is large: `state::journal`), and at its end.
    pub compact_every: u64,
    /// Only these resources (and what they depend on) are planned and
    /// applied; empty means all.
    pub targets: Vec<String>,
    /// Told of every step as it starts and ends.
    pub observer: Option<Arc<dyn ApplyObserver>>,
    /// How long a run waits for another run's lock to be released (or its
    /// lease to expire) before it fails; zero fails at once (the default).
    pub lock_timeout: Duration,
    /// Which versions of the history to keep: applied after every run that
    /// saves a version (default: keep everything).
    pub retention: state::Retention,
    /// The commit of the program being applied, kept in each version a run
    /// saves (the `report` verb's lead time is measured from its time).
    pub commit: Option<state::Commit>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            parallelism: 10,
            journal_ahead: crate::apply::DEFAULT_JOURNAL_AHEAD,
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(60),
            compact_every: state::DEFAULT_COMPACT_EVERY,
            targets: Vec::new(),
            observer: None,
            lock_timeout: Duration::ZERO,
            retention: state::Retention::default(),
            commit: None,
        }
    }
}
