//! A governor clock on tokio time, so quotas follow a paused test clock.

use std::time::Duration;

use tokio::time::Instant;

/// Time since the throttle's creation, as governor's instant type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokioClock {
    base: Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Self {
        TokioClock { base: Instant::now() }
    }

    /// The tokio instant of a clock reading.
    pub(crate) fn instant(&self, at: Duration) -> Instant {
        self.base + at
    }

    /// The clock reading of a tokio instant (zero before the base).
    pub(crate) fn reading(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.base)
    }
}

impl governor::clock::Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.base.elapsed()
    }
}
