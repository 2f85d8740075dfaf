//! What a breaker was built with, and the defaults.

use std::time::Duration;

use conn_core::AttemptOutcome;

use crate::classify::Classify;
use crate::key::KeyBy;
use crate::state::State;
use crate::window::Window;

/// Failures in a row that open the circuit, unless configured.
pub const DEFAULT_CONSECUTIVE_FAILURES: u32 = 5;
/// Calls in the default count-based window.
pub const DEFAULT_WINDOW_CALLS: u32 = 100;
/// The failure rate that opens the circuit, unless configured.
pub const DEFAULT_FAILURE_RATE: f64 = 0.5;
/// How long an opened circuit stays open before probing, unless configured.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// Probes a half-open circuit lets through, unless configured.
pub const DEFAULT_PROBES: u32 = 3;
/// The most probes a half-open circuit can be configured with.
pub const MAX_PROBES: u32 = 1000;
/// Keys held at most, unless configured.
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// The longest a server can hold a circuit open, unless configured.
pub const DEFAULT_MAX_SERVER_OPEN: Duration = Duration::from_secs(300);

/// The slow-call trip condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SlowCalls {
    pub(crate) threshold: Duration,
    pub(crate) rate: f64,
}

/// Everything a breaker was built with (immutable afterwards).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// 0: off.
    pub(crate) consecutive_failures: u32,
    pub(crate) count_window: Option<Window>,
    pub(crate) time_window: Option<Window>,
    pub(crate) failure_rate: f64,
    pub(crate) slow: Option<SlowCalls>,
    pub(crate) cooldown: Duration,
    pub(crate) cooldown_factor: f64,
    pub(crate) max_cooldown: Duration,
    pub(crate) probes: u32,
    pub(crate) key_by: KeyBy,
    pub(crate) max_keys: usize,
    pub(crate) server_open: bool,
    pub(crate) server_open_statuses: Vec<u16>,
    pub(crate) max_server_open: Duration,
    pub(crate) classify: Classify,
    /// The state new keys start in and `reset` returns to.
    pub(crate) initial: State,
    pub(crate) event_capacity: usize,
}

impl Config {
    /// The cooldown after the `trips`-th opening in a row (1-based): the base,
    /// times the growth factor per earlier trip, capped.
    pub(crate) fn cooldown_for(&self, trips: u32) -> Duration {
        if self.cooldown_factor <= 1.0 || trips <= 1 {
            return self.cooldown;
        }
        let exponent = i32::try_from(trips - 1).unwrap_or(i32::MAX);
        let grown = self.cooldown.as_secs_f64() * self.cooldown_factor.powi(exponent);
        // An overflowing or non-finite product means "past the cap".
        Duration::try_from_secs_f64(grown)
            .unwrap_or(self.max_cooldown)
            .min(self.max_cooldown)
            .max(self.cooldown)
    }

    /// The hint given when every half-open probe slot is taken: probes end
    /// within an attempt, so soon, but never later than the cooldown.
    pub(crate) fn busy_retry_after(&self) -> Duration {
        self.cooldown.min(Duration::from_secs(1))
    }

    /// When the server asked to be left alone: a response with one of the
    /// configured statuses and a positive wait hint. Returns the status and
    /// the wait the server named (uncapped).
    pub(crate) fn server_wait(&self, outcome: &AttemptOutcome<'_>) -> Option<(u16, Duration)> {
        if !self.server_open {
            return None;
        }
        let status = outcome.status()?.as_u16();
        if !self.server_open_statuses.contains(&status) {
            return None;
        }
        let wait = outcome.hints.wait()?;
        (!wait.is_zero()).then_some((status, wait))
    }
}
