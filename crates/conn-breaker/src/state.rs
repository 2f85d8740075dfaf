//! The states a circuit can be in.

use std::fmt;

/// The state of one circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls flow; outcomes are measured against the trip conditions.
    Closed,
    /// Calls are refused until the cooldown (or the server's wait) ends.
    Open,
    /// A limited number of probe calls go through; their outcome decides
    /// between closed and open.
    HalfOpen,
    /// An operator opened the circuit: calls are refused until an operator
    /// resets it. No probes.
    ForcedOpen,
    /// An operator turned the breaker off for this key: calls flow, nothing is
    /// recorded.
    Disabled,
    /// Calls flow and outcomes are recorded (rates readable in snapshots), but
    /// the circuit never opens.
    MetricsOnly,
}

impl State {
    pub(crate) const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    pub(crate) fn code(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
            State::MetricsOnly => 5,
        }
    }

    pub(crate) fn from_code(code: u64) -> State {
        // Only `code()` values are ever stored; an unknown one cannot occur,
        // and letting calls through is the safe reading if it ever did.
        usize::try_from(code)
            .ok()
            .and_then(|i| State::ALL.get(i).copied())
            .unwrap_or(State::Closed)
    }

    /// Whether calls are refused in this state (half-open refuses all but its probes).
    pub fn refuses_calls(self) -> bool {
        matches!(self, State::Open | State::ForcedOpen | State::HalfOpen)
    }

    /// The state as a metric label and log field: `closed`, `open`,
    /// `half_open`, `forced_open`, `disabled`, `metrics_only`.
    pub fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// The value of conn-core's breaker state gauge: 0 closed, 1 half-open,
    /// 2 open, 3 forced open, 4 disabled, 5 metrics-only.
    pub(crate) fn gauge_code(self) -> f64 {
        match self {
            State::Closed => 0.0,
            State::HalfOpen => 1.0,
            State::Open => 2.0,
            State::ForcedOpen => 3.0,
            State::Disabled => 4.0,
            State::MetricsOnly => 5.0,
        }
    }

    /// Whether an operator set this state (forced open, disabled; metrics-only
    /// when set per key).
    pub(crate) fn is_manual(self) -> bool {
        matches!(self, State::ForcedOpen | State::Disabled | State::MetricsOnly)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::ForcedOpen => "forced-open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics-only",
        })
    }
}
