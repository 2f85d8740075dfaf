//! The builder: every setting of a breaker, starting from the defaults.

use std::sync::Arc;
use std::time::Duration;

use conn_core::store::BreakerSignal;
use conn_core::{AttemptOutcome, ErrorKind};

use crate::breaker::CircuitBreaker;
use crate::classify::{Classify, Verdict};
use crate::clock::Clock;
use crate::config::{
    Config, DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_COOLDOWN, DEFAULT_FAILURE_RATE, DEFAULT_MAX_KEYS,
    DEFAULT_MAX_SERVER_OPEN, DEFAULT_PROBES, DEFAULT_WINDOW_CALLS, MAX_PROBES, SlowCalls,
};
use crate::events::{DEFAULT_EVENT_CAPACITY, Events};
use crate::key::KeyBy;
use crate::registry::Registry;
use crate::shared::Shared;
use crate::state::State;
use crate::window::{Window, WindowKind};

/// Configures a [`CircuitBreaker`]. Start with [`CircuitBreaker::builder`].
///
/// Out-of-range values are clamped (documented per method), never rejected:
/// building cannot fail.
///
/// ```
/// use std::time::Duration;
/// use conn_breaker::{CircuitBreaker, KeyBy, Window};
///
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(5)
///     .window(Window::last_calls(100).minimum_calls(20))
///     .window(Window::last(Duration::from_secs(60)).minimum_calls(50))
///     .failure_rate(0.5)
///     .slow_calls(Duration::from_secs(2), 0.8)
///     .cooldown(Duration::from_secs(10))
///     .cooldown_growth(2.0, Duration::from_secs(300))
///     .half_open_probes(3)
///     .key_by(KeyBy::TenantAndEndpoint)
///     .max_keys(50_000)
///     .build();
/// # let _ = breaker;
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder {
    config: Config,
    signal: Option<Arc<dyn BreakerSignal>>,
}

impl std::fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("config", &self.config)
            .field("signal", &self.signal.is_some())
            .finish()
    }
}

impl CircuitBreaker {
    /// Starts from the defaults:
    ///
    /// | setting | default |
    /// |---|---|
    /// | consecutive failures | 5 |
    /// | windows | last 100 calls, minimum 20 |
    /// | failure rate | 50% |
    /// | slow calls | off |
    /// | cooldown | 30 s, no growth |
    /// | half-open probes | 3 |
    /// | keys | one per connector, at most 10,000 |
    /// | server-driven open | on, for 503 with a wait hint, at most 5 min |
    /// | failures | transient errors and 5xx except 501/505 |
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new()
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker::builder().build()
    }
}

impl CircuitBreakerBuilder {
    pub(crate) fn new() -> Self {
        CircuitBreakerBuilder {
            signal: None,
            config: Config {
                consecutive_failures: DEFAULT_CONSECUTIVE_FAILURES,
                count_window: Some(Window::last_calls(DEFAULT_WINDOW_CALLS)),
                time_window: None,
                failure_rate: DEFAULT_FAILURE_RATE,
                slow: None,
                cooldown: DEFAULT_COOLDOWN,
                cooldown_factor: 1.0,
                max_cooldown: DEFAULT_COOLDOWN,
                probes: DEFAULT_PROBES,
                key_by: KeyBy::Connector,
                max_keys: DEFAULT_MAX_KEYS,
                server_open: true,
                server_open_statuses: vec![503],
                max_server_open: DEFAULT_MAX_SERVER_OPEN,
                classify: Classify::default(),
                initial: State::Closed,
                event_capacity: DEFAULT_EVENT_CAPACITY,
            },
        }
    }

    /// Opens the circuit after `count` failures in a row (default 5); 0 turns
    /// this condition off. A success resets the count; ignored outcomes leave it.
    pub fn consecutive_failures(mut self, count: u32) -> Self {
        self.config.consecutive_failures = count;
        self
    }

    /// Measures the failure and slow-call rates over `window`. A breaker holds
    /// at most one count-based and one time-based window: this replaces the
    /// window of the same kind (default: the last 100 calls, minimum 20).
    pub fn window(mut self, window: Window) -> Self {
        match window.kind {
            WindowKind::Calls(_) => self.config.count_window = Some(window),
            WindowKind::Time(_) => self.config.time_window = Some(window),
        }
        self
    }

    /// Removes both windows: only consecutive failures and the server can
    /// open the circuit.
    pub fn no_windows(mut self) -> Self {
        self.config.count_window = None;
        self.config.time_window = None;
        self
    }

    /// The failure rate (failures / calls in a window) that opens the circuit
    /// (default 0.5); clamped to 0.01..=1.0, NaN keeps the current value.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        if !rate.is_nan() {
            self.config.failure_rate = rate.clamp(0.01, 1.0);
        }
        self
    }

    /// Counts calls taking `threshold` or longer as slow, and opens the circuit
    /// when the slow-call rate of a window reaches `rate` (clamped to
    /// 0.01..=1.0; NaN means 1.0). A slow half-open probe reopens the circuit.
    /// Off by default.
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        let rate = if rate.is_nan() { 1.0 } else { rate.clamp(0.01, 1.0) };
        self.config.slow = Some(SlowCalls { threshold, rate });
        self
    }

    /// How long an opened circuit refuses calls before letting probes through
    /// (default 30 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.config.cooldown = cooldown;
        self.config.max_cooldown = self.config.max_cooldown.max(cooldown);
        self
    }

    /// Grows the cooldown by `factor` for each reopening without a close in
    /// between (a failed probe), up to `max` (default: no growth). A factor
    /// below 1 or NaN means no growth; `max` is at least the base cooldown.
    /// Closing the circuit starts again from the base.
    pub fn cooldown_growth(mut self, factor: f64, max: Duration) -> Self {
        self.config.cooldown_factor = if factor.is_nan() { 1.0 } else { factor.max(1.0) };
        self.config.max_cooldown = max.max(self.config.cooldown);
        self
    }

    /// How many probe calls a half-open circuit lets through (default 3,
    /// clamped to 1..=[`MAX_PROBES`]). All must succeed to close it; the first
    /// failure reopens it. A probe that is cancelled or ignored gives its
    /// slot back.
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.config.probes = probes.clamp(1, MAX_PROBES);
        self
    }

    /// Which calls share one circuit (default: one per connector).
    pub fn key_by(mut self, key_by: KeyBy) -> Self {
        self.config.key_by = key_by;
        self
    }

    /// The most keys held at once (default 10,000; at least 1). When full, the
    /// least recently used closed keys are evicted; open, half-open and
    /// operator-set keys never are. When nothing can be evicted, calls of a
    /// new key go through untracked (counted by
    /// [`CircuitBreaker::untracked_calls`]).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.config.max_keys = max.max(1);
        self
    }

    /// Whether a response with a server-driven status (default: 503) and a
    /// wait hint (`Retry-After`, RateLimit reset...) opens the circuit until
    /// the time the server named, capped (default: on).
    pub fn server_driven_open(mut self, on: bool) -> Self {
        self.config.server_open = on;
        self
    }

    /// The statuses whose wait hints open the circuit (default: 503 only; 429
    /// is a quota matter, which the throttle handles).
    pub fn server_open_statuses(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.config.server_open_statuses = statuses.into_iter().collect();
        self
    }

    /// The longest a server-driven opening lasts, whatever the server asked
    /// (default 5 minutes).
    pub fn max_server_open(mut self, max: Duration) -> Self {
        self.config.max_server_open = max;
        self
    }

    /// How responses with `status` count, overriding the default (5xx except
    /// 501/505 fail, everything else succeeds).
    pub fn classify_status(mut self, status: u16, verdict: Verdict) -> Self {
        self.config.classify.statuses.retain(|(s, _)| *s != status);
        self.config.classify.statuses.push((status, verdict));
        self
    }

    /// How transport errors of `kind` count, overriding the default
    /// (transient errors fail, others are ignored).
    pub fn classify_kind(mut self, kind: ErrorKind, verdict: Verdict) -> Self {
        self.config.classify.kinds.retain(|(k, _)| *k != kind);
        self.config.classify.kinds.push((kind, verdict));
        self
    }

    /// A rule run before every other: `Some(verdict)` decides, `None` defers.
    /// It runs on every attempt, so keep it cheap.
    pub fn classifier<F>(mut self, rule: F) -> Self
    where
        F: Fn(&AttemptOutcome<'_>) -> Option<Verdict> + Send + Sync + 'static,
    {
        self.config.classify.custom = Some(Arc::new(rule));
        self
    }

    /// Starts every key in [`State::MetricsOnly`]: outcomes are recorded and
    /// readable, calls are never refused (for rolling a breaker out). Off by
    /// default.
    pub fn metrics_only(mut self, on: bool) -> Self {
        self.config.initial = if on { State::MetricsOnly } else { State::Closed };
        self
    }

    /// How many transitions a slow subscriber may fall behind by before it
    /// loses the oldest (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.config.event_capacity = capacity.max(1);
        self
    }

    /// Follows a fleet's breaker signals (conn-core's `BreakerSignal`, e.g.
    /// `conn_redis::RedisSignal`): an operator's force-open, force-close or
    /// disable of a connector applies to every key of that connector in
    /// every replica; and, when the signal announces opened circuits, a
    /// circuit that opens here is announced and one opened elsewhere is
    /// refused here until its cooldown ends. Without a signal (the default)
    /// operator control is this process's ([`CircuitBreaker::force_open`]...).
    pub fn signal(mut self, signal: Arc<dyn BreakerSignal>) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Builds the breaker.
    pub fn build(self) -> CircuitBreaker {
        let signal = self.signal;
        let config = self.config;
        let registry = Registry::new(config.max_keys);
        CircuitBreaker::from_parts(
            Shared {
                events: Events::new(
                    config.event_capacity,
                    matches!(config.key_by, KeyBy::Connector | KeyBy::Endpoint),
                ),
                clock: Clock::new(),
                config,
            },
            registry,
            signal,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn cooldown_grows_and_caps() {
        let b = CircuitBreakerBuilder::new()
            .cooldown(secs(10))
            .cooldown_growth(2.0, secs(60));
        let c = &b.config;
        let got: Vec<_> = (1..=6).map(|t| c.cooldown_for(t)).collect();
        assert_eq!(got, [secs(10), secs(20), secs(40), secs(60), secs(60), secs(60)]);
        assert_eq!(c.cooldown_for(u32::MAX), secs(60));
    }

    #[test]
    fn no_growth_by_default_and_clamps() {
        let c = CircuitBreakerBuilder::new()
            .cooldown_growth(f64::NAN, secs(1))
            .half_open_probes(0)
            .failure_rate(7.0)
            .max_keys(0)
            .config;
        assert_eq!(c.cooldown_for(9), DEFAULT_COOLDOWN);
        assert_eq!(c.max_cooldown, DEFAULT_COOLDOWN);
        assert_eq!(c.probes, 1);
        assert_eq!(c.failure_rate, 1.0);
        assert_eq!(c.max_keys, 1);
    }
}
