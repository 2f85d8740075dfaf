//! `CircuitBreaker`: conn-core's `Breaker` over keyed circuits, plus the
//! operator's view (snapshots, events, manual control).

use std::fmt;
use std::sync::Arc;

use conn_core::store::{BreakerSignal, OperatorState};
use conn_core::{AttemptOutcome, Breaker, CallInfo, Error, ErrorKind, Permit};
use tokio::sync::broadcast;

use crate::circuit::{Guard, KeyState};
use crate::events::Transition;
use crate::key::KEY_SEPARATOR;
use crate::registry::Registry;
use crate::shared::Shared;
use crate::snapshot::Snapshot;
use crate::state::State;

/// conn's circuit breaker: stops calling an upstream (or one endpoint, or one
/// tenant's account) that keeps failing, fails those calls fast instead, and
/// lets a few probes through after a cooldown to find out when it is back.
///
/// Cheap to clone; clones share every circuit, so one breaker given to
/// several connectors (with keys that tell them apart, as the built-in
/// [`KeyBy`](crate::KeyBy) keys do) protects them all.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_breaker::{CircuitBreaker, KeyBy, State};
/// use conn_core::Connector;
/// # fn transport() -> Arc<dyn conn_core::Transport> { Arc::new(conn_testkit::ScriptedTransport::default()) }
///
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(5)
///     .cooldown(Duration::from_secs(10))
///     .key_by(KeyBy::Endpoint)
///     .build();
/// let connector = Connector::builder("billing")
///     .base_url("https://api.billing.example/v1")
///     .transport(transport())
///     .breaker(Arc::new(breaker.clone()))
///     .build()?;
///
/// // An operator's view, at any time:
/// let key = KeyBy::Endpoint.key_parts("billing", "/invoices", None);
/// assert!(breaker.snapshot(&key).is_none()); // no call yet
/// breaker.force_open(&key);
/// assert_eq!(breaker.state(&key), Some(State::ForcedOpen));
/// # let _ = connector;
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

/// What every clone shares.
struct Inner {
    shared: Shared,
    registry: Registry,
    /// The fleet's operator signals, if replicas share them.
    signal: Option<Arc<dyn BreakerSignal>>,
}

impl CircuitBreaker {
    pub(crate) fn from_parts(
        shared: Shared,
        registry: Registry,
        signal: Option<Arc<dyn BreakerSignal>>,
    ) -> Self {
        CircuitBreaker {
            inner: Arc::new(Inner {
                shared,
                registry,
                signal,
            }),
        }
    }

    /// Every state transition from now on, of every key, in order per key.
    ///
    /// A receiver that falls behind by more than the event capacity loses the
    /// oldest transitions and gets [`RecvError::Lagged`](broadcast::error::RecvError::Lagged)
    /// once; [`snapshot`](Self::snapshot) always has the current truth.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.inner.shared.events.subscribe()
    }

    /// The key `call` maps to.
    pub fn key_of(&self, call: &CallInfo<'_>) -> String {
        self.inner.shared.config.key_by.key(call)
    }

    /// The current state and statistics of `key`, if it exists.
    pub fn snapshot(&self, key: &str) -> Option<Snapshot> {
        let state = self.inner.registry.get(key)?;
        Some(state.snapshot(&self.inner.shared))
    }

    /// Snapshots of every key (in no particular order).
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.inner
            .registry
            .all()
            .iter()
            .map(|state| state.snapshot(&self.inner.shared))
            .collect()
    }

    /// The current state of `key`, if it exists (cheaper than a snapshot).
    pub fn state(&self, key: &str) -> Option<State> {
        self.inner.registry.get(key).map(|state| state.state())
    }

    /// Opens `key`'s circuit until [`reset`](Self::reset): every call fails
    /// fast, no probes. Creates the key if needed (past the key limit if
    /// necessary: an operator's decision is never dropped).
    pub fn force_open(&self, key: &str) {
        self.set(key, State::ForcedOpen);
    }

    /// Turns the breaker off for `key` until [`reset`](Self::reset): calls
    /// flow, nothing is recorded.
    pub fn disable(&self, key: &str) {
        self.set(key, State::Disabled);
    }

    /// Puts `key` in metrics-only mode until [`reset`](Self::reset): calls
    /// flow, outcomes are recorded, the circuit never opens.
    pub fn metrics_only(&self, key: &str) {
        self.set(key, State::MetricsOnly);
    }

    /// Returns `key` to its initial state (closed, or metrics-only when the
    /// breaker was built so) with empty windows and no cooldown growth, and
    /// releases it from operator control.
    pub fn reset(&self, key: &str) {
        self.set(key, self.inner.shared.config.initial);
    }

    fn set(&self, key: &str, to: State) {
        let (shared, registry) = (&self.inner.shared, &self.inner.registry);
        // Built-in keys start with the connector's name.
        let connector = key.split(KEY_SEPARATOR).next().unwrap_or_default();
        let make = |key, epoch| KeyState::new(key, connector, &shared.config, shared.clock.now(), epoch);
        let state = registry.get_or_create(key, true, &make);
        if let Some(state) = state {
            state.set_manually(to, shared);
        }
    }

    /// Keys held now.
    pub fn key_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Keys evicted so far to stay within the key limit.
    pub fn evicted_keys(&self) -> u64 {
        self.inner.registry.evicted()
    }

    /// Calls that went through untracked because the key limit was reached
    /// and no key could be evicted.
    pub fn untracked_calls(&self) -> u64 {
        self.inner.registry.untracked()
    }

    /// Evicts up to a tenth of the key limit of the least recently used
    /// closed keys now (it also happens by itself when the limit is reached);
    /// returns how many went.
    pub fn evict(&self) -> usize {
        self.inner.registry.sweep()
    }
}

impl CircuitBreaker {
    /// What the fleet's signal says before the local circuit is asked:
    /// `Some` decides the admission, `None` leaves it to the circuit.
    fn admit_by_signal(
        &self,
        signal: &dyn BreakerSignal,
        call: &CallInfo<'_>,
    ) -> Option<Result<Permit, Error>> {
        match signal.operator_state(call.connector) {
            OperatorState::ForcedOpen => Some(Err(Error::new(
                ErrorKind::CircuitOpen,
                "the circuit was forced open by an operator for every replica",
            ))),
            // No guard: nothing is recorded.
            OperatorState::Disabled => Some(Ok(Permit::none())),
            // Admitted whatever the circuit says (recorded while it admits).
            OperatorState::ForcedClosed => {
                Some(Ok(self.admit_locally(call).unwrap_or_else(|_| Permit::none())))
            }
            OperatorState::Auto => {
                let key = self.key_of(call);
                signal.opened_elsewhere(call.connector, &key).map(|left| {
                    Err(
                        Error::new(ErrorKind::CircuitOpen, "the circuit opened in another replica")
                            .with_retry_after(left),
                    )
                })
            }
        }
    }

    /// Announces the circuit of `call` if recording its outcome opened it.
    fn announce_if_opened(&self, signal: &dyn BreakerSignal, call: &CallInfo<'_>, before: Option<State>) {
        let key = self.key_of(call);
        if before != Some(State::Open) && self.state(&key) == Some(State::Open) {
            let open_for = self
                .snapshot(&key)
                .and_then(|s| s.next_probe_in)
                .unwrap_or(self.inner.shared.config.cooldown);
            signal.announce_open(call.connector, &key, open_for);
        }
    }
}

impl Breaker for CircuitBreaker {
    fn admit(&self, call: &CallInfo<'_>) -> Result<Permit, Error> {
        if let Some(signal) = &self.inner.signal
            && let Some(decided) = self.admit_by_signal(&**signal, call)
        {
            return decided;
        }
        self.admit_locally(call)
    }

    fn record(&self, call: &CallInfo<'_>, permit: Permit, outcome: &AttemptOutcome<'_>) {
        match &self.inner.signal {
            None => self.record_locally(call, permit, outcome),
            Some(signal) => {
                let before = self.state(&self.key_of(call));
                self.record_locally(call, permit, outcome);
                self.announce_if_opened(&**signal, call, before);
            }
        }
    }
}

impl CircuitBreaker {
    fn admit_locally(&self, call: &CallInfo<'_>) -> Result<Permit, Error> {
        let (shared, registry) = (&self.inner.shared, &self.inner.registry);
        let key_by = &shared.config.key_by;
        let admit = |state: &Arc<KeyState>| {
            state.touch(registry.epoch());
            state.admit(shared)
        };
        // Usually the same key as this thread's last call: no key to build.
        if let Some(admitted) = registry.with_cached_key(|key| key_by.matches(key, call), admit) {
            return admitted;
        }
        let make = |key, epoch| KeyState::new(key, call.connector, &shared.config, shared.clock.now(), epoch);
        let admitted = key_by.with_key(call, |key| registry.with_state(key, Some(&make), admit));
        // `None`: key limit reached and nothing evictable. Let the call
        // through rather than let one tenant's circuit serve another.
        admitted.unwrap_or_else(|| Ok(Permit::none()))
    }

    fn record_locally(&self, call: &CallInfo<'_>, permit: Permit, outcome: &AttemptOutcome<'_>) {
        // Disabled and untracked calls carry no guard: nothing to record.
        let Some(mut guard) = permit.downcast::<Guard>() else {
            return;
        };
        let (shared, registry) = (&self.inner.shared, &self.inner.registry);
        guard.settled = match &guard.probe {
            Some(state) => state.record(guard.generation, true, shared, outcome),
            None => {
                let record = |state: &Arc<KeyState>| {
                    // The same key, recreated after an eviction, is another state.
                    if state.serial == guard.serial {
                        state.record(guard.generation, false, shared, outcome);
                    }
                };
                // Usually this thread's cached key; otherwise look it up again.
                if registry.with_cached(guard.serial, record).is_none() {
                    shared
                        .config
                        .key_by
                        .with_key(call, |key| registry.with_state(key, None, record));
                }
                true
            }
        };
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("key_by", &self.inner.shared.config.key_by)
            .field("keys", &self.inner.registry.len())
            .field("fleet_signal", &self.inner.signal.is_some())
            .finish_non_exhaustive()
    }
}
