//! `Snapshot`: one key's state and statistics, readable at any time.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::classify::Verdict;
use crate::events::Reason;
use crate::state::State;
use crate::window::WindowStats;

/// One key's circuit as it is now: state, why and since when, window
/// statistics, probes, and lifetime totals. Taken under the key's lock, so
/// its numbers are consistent with each other.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The key.
    pub key: Arc<str>,
    /// The current state. An open circuit whose cooldown has ended still reads
    /// [`State::Open`] (with `next_probe_in` zero) until the next call moves it
    /// to half-open: there are no timers.
    pub state: State,
    /// When the current state was entered (or the key created).
    pub since: Instant,
    /// Why the current state was entered (`None` for a new key).
    pub reason: Option<Reason>,
    /// Transitions so far (each one bumps it).
    pub generation: u64,
    /// While open: how long until the next probe is allowed.
    pub next_probe_in: Option<Duration>,
    /// Openings since the circuit was last closed (drives cooldown growth).
    pub trips: u32,
    /// Failures in a row, now.
    pub consecutive_failures: u32,
    /// The count-based window, if configured.
    pub count_window: Option<WindowStats>,
    /// The time-based window, if configured, as of now.
    pub time_window: Option<WindowStats>,
    /// While half-open: probes admitted and not yet finished.
    pub probes_in_flight: u32,
    /// While half-open: probes that succeeded.
    pub probe_successes: u32,
    /// Counts since the key was created.
    pub totals: Totals,
}

/// Lifetime counts of one key. Cancelled attempts appear nowhere: they never
/// reach the breaker's `record`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Recorded outcomes that succeeded.
    pub successes: u64,
    /// Recorded outcomes that failed.
    pub failures: u64,
    /// Recorded outcomes that were ignored.
    pub ignored: u64,
    /// Recorded outcomes slower than the slow-call threshold.
    pub slow: u64,
    /// Calls refused by the open (or forced-open, or busy half-open) circuit.
    pub rejected: u64,
}

impl Totals {
    /// Outcomes recorded: successes, failures and ignored.
    pub fn recorded(&self) -> u64 {
        self.successes
            .saturating_add(self.failures)
            .saturating_add(self.ignored)
    }

    pub(crate) fn add(&mut self, verdict: Verdict, slow: bool) {
        let count = match verdict {
            Verdict::Success => &mut self.successes,
            Verdict::Failure => &mut self.failures,
            Verdict::Ignore => &mut self.ignored,
        };
        *count = count.saturating_add(1);
        self.slow = self.slow.saturating_add(u64::from(slow));
    }
}
