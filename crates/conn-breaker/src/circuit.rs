//! One key's circuit: the state machine, its lock-free admission path and its
//! (briefly) locked recording path, and the guard an admitted attempt holds.
//!
//! Concurrency design:
//!
//! - The state, a generation number and the half-open probe count live in one
//!   `AtomicU64` (the *word*). `admit` only reads it while closed, and takes a
//!   probe slot with a compare-and-swap while half-open: no lock on admission.
//! - Windows, counters and every transition sit behind one mutex per key.
//!   `record` holds it for a few dozen instructions; transitions happen only
//!   under it, so the state and generation in the word change only there,
//!   and events are sent in the order transitions happen.
//! - Each transition bumps the generation. An attempt carries the generation it
//!   was admitted under in its [`Guard`]; an outcome from an earlier
//!   generation is stale (admitted before the circuit opened, say) and does
//!   not count, and a probe slot is only given back to the generation that
//!   lent it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conn_core::{AttemptOutcome, Error, ErrorKind, Permit};

use crate::classify::Verdict;
use crate::clock::nanos;
use crate::config::Config;
use crate::events::{Reason, Transition};
use crate::shared::Shared;
use crate::snapshot::{Snapshot, Totals};
use crate::state::State;
use crate::window::{CountWindow, TimeWindow, Window, WindowKind, WindowStats};

// The word: state in bits 0..3, half-open probes taken in bits 3..19,
// generation in bits 19..64 (2^45 transitions before it wraps, harmlessly).
const STATE_MASK: u64 = 0b111;
const PROBE_SHIFT: u32 = 3;
const PROBE_MASK: u64 = 0xffff << PROBE_SHIFT;
const PROBE_ONE: u64 = 1 << PROBE_SHIFT;
const GEN_SHIFT: u32 = 19;

fn pack(state: State, generation: u64) -> u64 {
    (generation << GEN_SHIFT) | state.code()
}

fn state_of(word: u64) -> State {
    State::from_code(word & STATE_MASK)
}

fn probes_of(word: u64) -> u32 {
    // 16 bits always fit.
    ((word & PROBE_MASK) >> PROBE_SHIFT) as u32
}

fn generation_of(word: u64) -> u64 {
    word >> GEN_SHIFT
}

/// Numbers every `KeyState` ever created, never reused (unlike addresses).
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// One key's circuit.
pub(crate) struct KeyState {
    pub(crate) key: Arc<str>,
    /// Unique for the life of the process: lets `record` find the state an
    /// attempt was admitted by without rebuilding its key.
    pub(crate) serial: u64,
    connector: Arc<str>,
    word: AtomicU64,
    /// While open: the clock reading at which probes may start.
    open_until: AtomicU64,
    /// The registry's sweep epoch when last used (for eviction).
    last_used: AtomicU64,
    /// Calls refused; counted outside the lock, on the fail-fast path.
    rejected: AtomicU64,
    /// Set by an operator: never evicted.
    pinned: AtomicBool,
    /// Removed from the registry: cached copies must not be used.
    evicted: AtomicBool,
    core: Mutex<Core>,
}

/// What only the lock holder touches.
#[derive(Debug)]
struct Core {
    consecutive: u32,
    count: Option<CountWindow>,
    time: Option<TimeWindow>,
    /// Openings since the circuit was last closed (drives cooldown growth).
    trips: u32,
    probe_successes: u32,
    /// Clock reading of the last transition (or creation).
    since: u64,
    reason: Option<Reason>,
    totals: Totals,
}

impl Core {
    fn clear_windows(&mut self) {
        self.consecutive = 0;
        if let Some(w) = &mut self.count {
            w.clear();
        }
        if let Some(w) = &mut self.time {
            w.clear();
        }
    }

    /// Adds an outcome to the windows (ignored outcomes are not calls).
    fn measure(&mut self, verdict: Verdict, slow: bool, now: u64) {
        let failed = match verdict {
            Verdict::Ignore => return,
            Verdict::Failure => {
                self.consecutive = self.consecutive.saturating_add(1);
                true
            }
            Verdict::Success => {
                self.consecutive = 0;
                false
            }
        };
        if let Some(w) = &mut self.count {
            w.record(failed, slow);
        }
        if let Some(w) = &mut self.time {
            w.record(now, failed, slow);
        }
    }

    /// The first trip condition that holds, if any.
    fn trip_reason(&mut self, config: &Config, now: u64) -> Option<Reason> {
        if config.consecutive_failures > 0 && self.consecutive >= config.consecutive_failures {
            return Some(Reason::ConsecutiveFailures {
                count: self.consecutive,
            });
        }
        if let (Some(w), Some(window)) = (&self.count, config.count_window)
            && let Some(reason) = rate_reason(w.stats(), window, config)
        {
            return Some(reason);
        }
        if let (Some(w), Some(window)) = (&mut self.time, config.time_window) {
            return rate_reason(w.stats(now), window, config);
        }
        None
    }
}

fn rate_reason(stats: WindowStats, window: Window, config: &Config) -> Option<Reason> {
    if stats.calls < window.minimum_calls {
        return None;
    }
    if stats.failures > 0 && stats.failure_rate() >= config.failure_rate {
        return Some(Reason::FailureRate {
            rate: stats.failure_rate(),
            calls: stats.calls,
            window: window.kind,
        });
    }
    match config.slow {
        Some(slow) if stats.slow > 0 && stats.slow_rate() >= slow.rate => Some(Reason::SlowCallRate {
            rate: stats.slow_rate(),
            calls: stats.calls,
            window: window.kind,
        }),
        _ => None,
    }
}

impl KeyState {
    pub(crate) fn new(key: Arc<str>, connector: &str, config: &Config, now: u64, epoch: u64) -> Self {
        KeyState {
            key,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            connector: Arc::from(connector),
            word: AtomicU64::new(pack(config.initial, 0)),
            open_until: AtomicU64::new(0),
            last_used: AtomicU64::new(epoch),
            rejected: AtomicU64::new(0),
            pinned: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            core: Mutex::new(Core {
                consecutive: 0,
                // The builder files each window under its own kind.
                count: config.count_window.and_then(|w| match w.kind {
                    WindowKind::Calls(n) => Some(CountWindow::new(n)),
                    WindowKind::Time(_) => None,
                }),
                time: config.time_window.and_then(|w| match w.kind {
                    WindowKind::Time(d) => Some(TimeWindow::new(d)),
                    WindowKind::Calls(_) => None,
                }),
                trips: 0,
                probe_successes: 0,
                since: now,
                reason: None,
                totals: Totals::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic elsewhere while holding the lock leaves counters that are
        // still valid numbers: keep going rather than take the pipeline down.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn state(&self) -> State {
        state_of(self.word.load(Ordering::Acquire))
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Marks the key used in `epoch`. Writes only when the epoch changed, so
    /// the hot path does not dirty the cache line on every call.
    pub(crate) fn touch(&self, epoch: u64) {
        if self.last_used.load(Ordering::Relaxed) != epoch {
            self.last_used.store(epoch, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_evicted(&self) {
        self.evicted.store(true, Ordering::Relaxed);
    }

    /// Whether eviction may drop this key: only closed (or breaker-wide
    /// metrics-only) keys an operator did not set. An open key holds an outage.
    pub(crate) fn evictable(&self) -> bool {
        !self.pinned.load(Ordering::Relaxed) && matches!(self.state(), State::Closed | State::MetricsOnly)
    }

    /// Admits an attempt or refuses it. Lock-free except at the moment the
    /// cooldown ends (one caller moves the circuit to half-open).
    pub(crate) fn admit(self: &Arc<Self>, shared: &Shared) -> Result<Permit, Error> {
        loop {
            let word = self.word.load(Ordering::Acquire);
            let generation = generation_of(word);
            match state_of(word) {
                State::Closed | State::MetricsOnly => {
                    return Ok(Permit::new(Guard {
                        probe: None,
                        serial: self.serial,
                        generation,
                        settled: false,
                    }));
                }
                State::Disabled => return Ok(Permit::none()),
                State::ForcedOpen => {
                    return Err(self.refuse("the circuit was forced open by an operator".into(), None));
                }
                State::Open => {
                    let now = shared.clock.now();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        let wait = Duration::from_nanos(until - now);
                        let message = format!(
                            "the upstream is failing; the next probe is allowed in {:.3} s",
                            wait.as_secs_f64()
                        );
                        return Err(self.refuse(message, Some(wait)));
                    }
                    self.end_cooldown(word, shared, now);
                }
                State::HalfOpen => {
                    let probes = shared.config.probes;
                    if probes_of(word) >= probes {
                        let message = format!("half-open: all {probes} probe slots are in use");
                        return Err(self.refuse(message, Some(shared.config.busy_retry_after())));
                    }
                    if self
                        .word
                        .compare_exchange_weak(word, word + PROBE_ONE, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Ok(Permit::new(Guard {
                            probe: Some(self.clone()),
                            serial: self.serial,
                            generation,
                            settled: false,
                        }));
                    }
                }
            }
        }
    }

    fn refuse(&self, message: String, wait: Option<Duration>) -> Error {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let error = Error::new(ErrorKind::CircuitOpen, message);
        match wait {
            Some(wait) => error.with_retry_after(wait),
            None => error,
        }
    }

    /// Open -> half-open, by the first caller after the cooldown.
    fn end_cooldown(&self, seen: u64, shared: &Shared, now: u64) {
        let mut core = self.lock();
        let word = self.word.load(Ordering::Acquire);
        // Someone else moved on, or the server extended the wait meanwhile.
        if generation_of(word) != generation_of(seen)
            || state_of(word) != State::Open
            || now < self.open_until.load(Ordering::Acquire)
        {
            return;
        }
        core.probe_successes = 0;
        self.transition(
            &mut core,
            word,
            State::HalfOpen,
            Reason::CooldownElapsed,
            shared,
            now,
            None,
        );
    }

    /// Records an admitted attempt's outcome. Returns whether a probe slot it
    /// held stays consumed (otherwise the guard gives it back on drop).
    pub(crate) fn record(
        &self,
        generation: u64,
        probe: bool,
        shared: &Shared,
        outcome: &AttemptOutcome<'_>,
    ) -> bool {
        let config = &shared.config;
        let verdict = config.classify.verdict(outcome);
        let slow = verdict != Verdict::Ignore && config.slow.is_some_and(|s| outcome.latency >= s.threshold);
        let server_wait = config.server_wait(outcome);
        // The clock is read only when something needs it: the default,
        // count-based configuration never does on the hot path.
        let needs_clock = config.time_window.is_some() || server_wait.is_some();

        let mut core = self.lock();
        core.totals.add(verdict, slow);
        let word = self.word.load(Ordering::Acquire);
        let state = state_of(word);
        let now = if needs_clock { shared.clock.now() } else { 0 };

        if let Some((status, wait)) = server_wait
            && matches!(state, State::Closed | State::HalfOpen | State::Open)
        {
            self.server_open(&mut core, word, shared, now, status, wait);
            return true;
        }
        if generation_of(word) != generation {
            return true;
        }
        match state {
            State::Closed => {
                core.measure(verdict, slow, now);
                if verdict != Verdict::Ignore
                    && let Some(reason) = core.trip_reason(config, now)
                {
                    self.open(&mut core, word, shared, reason, None);
                }
                true
            }
            State::MetricsOnly => {
                core.measure(verdict, slow, now);
                true
            }
            State::HalfOpen if probe => match verdict {
                Verdict::Failure => {
                    self.open(&mut core, word, shared, Reason::ProbeFailed { slow: false }, None);
                    true
                }
                Verdict::Success if slow => {
                    self.open(&mut core, word, shared, Reason::ProbeFailed { slow: true }, None);
                    true
                }
                Verdict::Success => {
                    core.probe_successes = core.probe_successes.saturating_add(1);
                    if core.probe_successes >= config.probes {
                        let probes = core.probe_successes;
                        core.clear_windows();
                        core.trips = 0;
                        let now = shared.clock.now();
                        self.transition(
                            &mut core,
                            word,
                            config.initial,
                            Reason::ProbesSucceeded { probes },
                            shared,
                            now,
                            None,
                        );
                    }
                    true
                }
                // Says nothing about health: let another probe find out.
                Verdict::Ignore => false,
            },
            _ => true,
        }
    }

    /// Closed or half-open -> open for the (grown) cooldown, or for `wait`.
    fn open(&self, core: &mut Core, word: u64, shared: &Shared, reason: Reason, wait: Option<Duration>) {
        let now = shared.clock.now();
        core.trips = core.trips.saturating_add(1);
        let open_for = wait.unwrap_or_else(|| shared.config.cooldown_for(core.trips));
        self.open_until
            .store(now.saturating_add(nanos(open_for)), Ordering::Release);
        self.transition(core, word, State::Open, reason, shared, now, Some(open_for));
    }

    /// The server named a time: open until then (capped), or stay open longer.
    fn server_open(
        &self,
        core: &mut Core,
        word: u64,
        shared: &Shared,
        now: u64,
        status: u16,
        wait: Duration,
    ) {
        let open_for = wait.min(shared.config.max_server_open);
        if state_of(word) == State::Open {
            let until = now.saturating_add(nanos(open_for));
            self.open_until.fetch_max(until, Ordering::AcqRel);
            tracing::debug!(
                conn.breaker.key = %crate::events::display_key(&self.key),
                status,
                wait_ms = wait.as_millis() as u64,
                "open circuit extended by the server"
            );
            return;
        }
        self.open(
            core,
            word,
            shared,
            Reason::ServerDriven { status, wait },
            Some(open_for),
        );
    }

    /// Moves to `to` with a new generation and no probes taken, and reports it.
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        core: &mut Core,
        word: u64,
        to: State,
        reason: Reason,
        shared: &Shared,
        now: u64,
        open_for: Option<Duration>,
    ) {
        let from = state_of(word);
        self.word
            .store(pack(to, generation_of(word).wrapping_add(1)), Ordering::Release);
        core.since = now;
        core.probe_successes = 0;
        core.reason = Some(reason.clone());
        shared.events.emit(Transition {
            key: self.key.clone(),
            connector: self.connector.clone(),
            from,
            to,
            reason,
            at: shared.clock.instant(now),
            open_for,
        });
    }

    /// An operator sets the state. `reset` (to the initial state) also clears
    /// the windows and the cooldown growth, and unpins the key.
    pub(crate) fn set_manually(&self, to: State, shared: &Shared) {
        let mut core = self.lock();
        let word = self.word.load(Ordering::Acquire);
        let reset = to == shared.config.initial;
        self.pinned.store(!reset && to.is_manual(), Ordering::Relaxed);
        if reset {
            core.clear_windows();
            core.trips = 0;
        }
        if state_of(word) != to {
            let now = shared.clock.now();
            self.transition(&mut core, word, to, Reason::Manual, shared, now, None);
        }
    }

    pub(crate) fn snapshot(&self, shared: &Shared) -> Snapshot {
        let mut core = self.lock();
        let word = self.word.load(Ordering::Acquire);
        let now = shared.clock.now();
        let state = state_of(word);
        let in_half_open = state == State::HalfOpen;
        Snapshot {
            key: self.key.clone(),
            state,
            since: shared.clock.instant(core.since),
            reason: core.reason.clone(),
            generation: generation_of(word),
            next_probe_in: (state == State::Open)
                .then(|| Duration::from_nanos(self.open_until.load(Ordering::Acquire).saturating_sub(now))),
            trips: core.trips,
            consecutive_failures: core.consecutive,
            count_window: core.count.as_ref().map(CountWindow::stats),
            time_window: core.time.as_mut().map(|w| w.stats(now)),
            probes_in_flight: if in_half_open {
                probes_of(word).saturating_sub(core.probe_successes)
            } else {
                0
            },
            probe_successes: if in_half_open { core.probe_successes } else { 0 },
            totals: Totals {
                rejected: self.rejected.load(Ordering::Relaxed),
                ..core.totals
            },
        }
    }

    /// Gives back a probe slot lent by generation `generation`, if the circuit
    /// is still in that half-open period.
    fn release_probe(&self, generation: u64) {
        let mut word = self.word.load(Ordering::Acquire);
        while generation_of(word) == generation && state_of(word) == State::HalfOpen && probes_of(word) > 0 {
            match self
                .word
                .compare_exchange_weak(word, word - PROBE_ONE, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(current) => word = current,
            }
        }
    }
}

/// What an admitted attempt holds in its [`Permit`]: the generation it was
/// admitted under and, for a half-open probe, the key's state.
///
/// When the attempt is cancelled (its future dropped), the pipeline drops the
/// permit instead of recording it: `Drop` gives a probe slot back, and
/// nothing is counted. A closed-state guard holds no `Arc` on purpose: cloning
/// one would make every call write the shared reference count. `record`
/// finds the state again from the call's key.
pub(crate) struct Guard {
    /// Set for half-open probes: the state whose slot this holds.
    pub(crate) probe: Option<Arc<KeyState>>,
    /// The admitting state's serial.
    pub(crate) serial: u64,
    pub(crate) generation: u64,
    /// The probe slot was consumed by `record`.
    pub(crate) settled: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(state) = &self.probe
            && !self.settled
        {
            state.release_probe(self.generation);
        }
    }
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyState")
            .field("key", &self.key)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_packing_round_trips() {
        for state in State::ALL {
            let word = pack(state, 12345) + 7 * PROBE_ONE;
            assert_eq!(state_of(word), state);
            assert_eq!(generation_of(word), 12345);
            assert_eq!(probes_of(word), 7);
        }
        // The generation wraps without touching the other fields.
        let max = pack(State::Open, u64::MAX);
        assert_eq!(state_of(max), State::Open);
        assert_eq!(probes_of(max), 0);
    }
}
