//! Tokio time as nanoseconds since the breaker was built, so deadlines fit in
//! an `AtomicU64` and a paused test clock drives every cooldown.

use std::time::Duration;

use tokio::time::Instant;

/// A reading is the number of nanoseconds since `base` (u64: 584 years).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock { base: Instant::now() }
    }

    /// Now, as a reading. Saturates at zero for instants before the base
    /// (a thread without the paused runtime may see an earlier time).
    pub(crate) fn now(&self) -> u64 {
        self.reading(Instant::now())
    }

    /// The reading of `at`.
    pub(crate) fn reading(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.base))
    }

    /// The instant of a reading.
    pub(crate) fn instant(&self, reading: u64) -> Instant {
        let at = Duration::from_nanos(reading);
        // Readings come from `now() + bounded duration`, so this cannot overflow
        // in practice; fall back to the base rather than panic if it ever did.
        self.base.checked_add(at).unwrap_or(self.base)
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX`.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
