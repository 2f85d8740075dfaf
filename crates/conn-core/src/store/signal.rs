//! `BreakerSignal`: an operator's decision about a connector's breaker, and
//! circuits opened by other replicas, seen by every replica.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::{BoxFuture, Error};

/// What an operator set for a connector's breaker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OperatorState {
    /// No override: the breaker decides from outcomes.
    #[default]
    Auto,
    /// Every call fails fast with `CircuitOpen`.
    ForcedOpen,
    /// Every call is admitted, outcomes are still recorded.
    ForcedClosed,
    /// The breaker neither refuses nor records.
    Disabled,
}

impl OperatorState {
    /// A short label: `auto`, `forced_open`, `forced_closed`, `disabled`.
    pub fn label(self) -> &'static str {
        match self {
            OperatorState::Auto => "auto",
            OperatorState::ForcedOpen => "forced_open",
            OperatorState::ForcedClosed => "forced_closed",
            OperatorState::Disabled => "disabled",
        }
    }

    /// The state of a label (see [`label`](Self::label)).
    pub fn from_label(label: &str) -> Option<Self> {
        [
            OperatorState::Auto,
            OperatorState::ForcedOpen,
            OperatorState::ForcedClosed,
            OperatorState::Disabled,
        ]
        .into_iter()
        .find(|s| s.label() == label)
    }
}

/// Carries breaker signals between replicas: what an operator forced for a
/// connector, and (optionally) that a circuit opened somewhere.
///
/// Reads are synchronous and never block, because a breaker admits every
/// attempt: a shared implementation answers from a local mirror that it
/// keeps current in the background (within a second), and writes go to
/// the backend and to the mirror at once.
///
/// ```
/// use conn_core::store::{BreakerSignal, LocalSignal, OperatorState};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), conn_core::Error> {
/// let signal = LocalSignal::new();
/// signal.set_operator_state("billing", OperatorState::ForcedOpen).await?;
/// assert_eq!(signal.operator_state("billing"), OperatorState::ForcedOpen);
/// assert_eq!(signal.operator_state("crm"), OperatorState::Auto);
/// # Ok(()) }
/// ```
pub trait BreakerSignal: Send + Sync {
    /// What an operator set for `connector` (fast, from memory).
    fn operator_state(&self, connector: &str) -> OperatorState;

    /// Sets the operator state of `connector` for every replica.
    fn set_operator_state<'a>(
        &'a self,
        connector: &'a str,
        state: OperatorState,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Tells the other replicas that the circuit `key` of `connector` opened
    /// here for `open_for`. Fire and forget; the default does nothing.
    fn announce_open(&self, connector: &str, key: &str, open_for: Duration) {
        let _ = (connector, key, open_for);
    }

    /// How much longer the circuit `key` of `connector` stays open because
    /// another replica announced it, if one did.
    fn opened_elsewhere(&self, connector: &str, key: &str) -> Option<Duration> {
        let _ = (connector, key);
        None
    }
}

/// The in-process [`BreakerSignal`]: operator states and announcements kept
/// in memory, shared by clones.
#[derive(Clone, Default)]
pub struct LocalSignal {
    inner: Arc<Mutex<Signals>>,
}

#[derive(Default)]
struct Signals {
    states: HashMap<String, OperatorState>,
    opened: HashMap<(String, String), Instant>,
}

impl LocalSignal {
    /// No override anywhere.
    pub fn new() -> Self {
        LocalSignal::default()
    }

    fn lock(&self) -> MutexGuard<'_, Signals> {
        // Every update is complete before the guard drops.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a state in memory only (what a shared signal's mirror does when
    /// it learns of a change).
    pub fn set_local(&self, connector: &str, state: OperatorState) {
        let mut signals = self.lock();
        if state == OperatorState::Auto {
            signals.states.remove(connector);
        } else {
            signals.states.insert(connector.to_owned(), state);
        }
    }

    /// Records an announcement in memory only.
    pub fn opened_local(&self, connector: &str, key: &str, open_for: Duration) {
        let now = Instant::now();
        let Some(until) = now.checked_add(open_for) else {
            return;
        };
        let mut signals = self.lock();
        signals.opened.retain(|_, until| *until > now);
        let entry = signals
            .opened
            .entry((connector.to_owned(), key.to_owned()))
            .or_insert(until);
        *entry = (*entry).max(until);
    }
}

impl BreakerSignal for LocalSignal {
    fn operator_state(&self, connector: &str) -> OperatorState {
        self.lock().states.get(connector).copied().unwrap_or_default()
    }

    fn set_operator_state<'a>(
        &'a self,
        connector: &'a str,
        state: OperatorState,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.set_local(connector, state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn announce_open(&self, connector: &str, key: &str, open_for: Duration) {
        self.opened_local(connector, key, open_for);
    }

    fn opened_elsewhere(&self, connector: &str, key: &str) -> Option<Duration> {
        let now = Instant::now();
        self.lock()
            .opened
            .get(&(connector.to_owned(), key.to_owned()))
            .map(|until| until.saturating_duration_since(now))
            .filter(|left| !left.is_zero())
    }
}

impl fmt::Debug for LocalSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSignal")
            .field("overrides", &self.lock().states.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for state in [
            OperatorState::Auto,
            OperatorState::ForcedOpen,
            OperatorState::ForcedClosed,
            OperatorState::Disabled,
        ] {
            assert_eq!(OperatorState::from_label(state.label()), Some(state));
        }
        assert_eq!(OperatorState::from_label("open"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn announcements_expire() {
        let signal = LocalSignal::new();
        signal.announce_open("crm", "/v1", Duration::from_secs(5));
        assert_eq!(
            signal.opened_elsewhere("crm", "/v1"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(signal.opened_elsewhere("crm", "/v2"), None);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(signal.opened_elsewhere("crm", "/v1"), None);
    }
}
