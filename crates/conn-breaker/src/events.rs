//! Transition events: a tracing event and a broadcast message for every
//! state change, in the order the changes happened.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::state::State;
use crate::window::WindowKind;

/// Messages a subscriber may fall behind by before it starts losing the
/// oldest ones, unless configured.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// One state change of one key's circuit.
///
/// Per key, transitions are delivered in the order they happened: they are
/// sent while the key's state is locked.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The circuit's key (see [`KeyBy`](crate::KeyBy)).
    pub key: Arc<str>,
    /// The connector whose call created the key (for a key an operator
    /// created, the key's first part).
    pub connector: Arc<str>,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why it changed.
    pub reason: Reason,
    /// When it changed (tokio time).
    pub at: Instant,
    /// For a transition to [`State::Open`]: how long until the next probe is
    /// allowed.
    pub open_for: Option<Duration>,
}

/// Why a circuit changed state.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// That many failures in a row.
    ConsecutiveFailures {
        /// Failures in a row.
        count: u32,
    },
    /// The failure rate of a window reached the threshold.
    FailureRate {
        /// Failures / calls in the window.
        rate: f64,
        /// Calls in the window.
        calls: u32,
        /// Which window.
        window: WindowKind,
    },
    /// The slow-call rate of a window reached the threshold.
    SlowCallRate {
        /// Slow calls / calls in the window.
        rate: f64,
        /// Calls in the window.
        calls: u32,
        /// Which window.
        window: WindowKind,
    },
    /// The server named a time to come back (e.g. 503 with `Retry-After`).
    ServerDriven {
        /// The response status.
        status: u16,
        /// How long the server asked for (before the configured cap).
        wait: Duration,
    },
    /// The cooldown ended: probes may go through.
    CooldownElapsed,
    /// A half-open probe failed (or was slow).
    ProbeFailed {
        /// Whether it failed by being slow rather than by an error.
        slow: bool,
    },
    /// Every half-open probe succeeded.
    ProbesSucceeded {
        /// How many probes succeeded.
        probes: u32,
    },
    /// An operator forced the state (force open, disable, metrics only, reset).
    Manual,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ConsecutiveFailures { count } => write!(f, "{count} consecutive failures"),
            Reason::FailureRate { rate, calls, window } => {
                write!(
                    f,
                    "failure rate {:.1}% over {calls} calls ({window})",
                    rate * 100.0
                )
            }
            Reason::SlowCallRate { rate, calls, window } => {
                write!(
                    f,
                    "slow-call rate {:.1}% over {calls} calls ({window})",
                    rate * 100.0
                )
            }
            Reason::ServerDriven { status, wait } => {
                write!(
                    f,
                    "the server answered {status} asking to wait {:.1} s",
                    wait.as_secs_f64()
                )
            }
            Reason::CooldownElapsed => f.write_str("cooldown elapsed"),
            Reason::ProbeFailed { slow: false } => f.write_str("a probe failed"),
            Reason::ProbeFailed { slow: true } => f.write_str("a probe was slow"),
            Reason::ProbesSucceeded { probes } => write!(f, "{probes} probes succeeded"),
            Reason::Manual => f.write_str("set by an operator"),
        }
    }
}

/// The sending side: tracing plus the broadcast channel.
#[derive(Debug)]
pub(crate) struct Events {
    sender: broadcast::Sender<Transition>,
    /// Whether keys may be metric labels: only when they cannot hold tenants.
    label_keys: bool,
}

impl Events {
    pub(crate) fn new(capacity: usize, label_keys: bool) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Events { sender, label_keys }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.sender.subscribe()
    }

    /// Logs, counts and publishes `transition`.
    ///
    /// conn-core's telemetry hook records the metrics every breaker shares;
    /// the event here carries the reason, as a warning when a circuit opens
    /// (an upstream is being cut off).
    pub(crate) fn emit(&self, transition: Transition) {
        let key = display_key(&transition.key);
        conn_core::component::hooks::breaker_transition(
            &transition.connector,
            self.label_keys.then_some(key.as_str()),
            transition.to.label(),
            transition.to.gauge_code(),
        );
        if matches!(transition.to, State::Open | State::ForcedOpen) {
            tracing::warn!(
                conn.connector = %transition.connector,
                conn.breaker.key = %key,
                conn.breaker.from = transition.from.label(),
                conn.breaker.state = transition.to.label(),
                reason = %transition.reason,
                open_for_ms = transition.open_for.map(|d| d.as_millis() as u64),
                "circuit opened"
            );
        } else {
            tracing::info!(
                conn.connector = %transition.connector,
                conn.breaker.key = %key,
                conn.breaker.from = transition.from.label(),
                conn.breaker.state = transition.to.label(),
                reason = %transition.reason,
                "circuit state changed"
            );
        }
        // No subscriber is not an error: the channel is there for whoever listens.
        let _ = self.sender.send(transition);
    }
}

/// A key for logs and metric labels: the invisible separator shown as a space.
pub(crate) fn display_key(key: &str) -> String {
    key.replace(crate::key::KEY_SEPARATOR, " ")
}
