//! The `RetryPolicy` trait: whether and when to try again.

use std::borrow::Cow;
use std::time::Duration;

use crate::{AttemptOutcome, CallInfo};

/// Decides, after each attempt, whether the call is tried again and after
/// what delay.
///
/// The pipeline calls `decide` after every attempt, successful or not (so a
/// policy can keep a retry budget in step with traffic), and caps every delay
/// by the call's deadline: a delay that would end past the deadline ends the
/// call with the last attempt's error instead.
///
/// ```
/// use std::time::Duration;
/// use conn_core::{AttemptOutcome, CallInfo, RetryDecision, RetryPolicy};
///
/// /// Retries 503s twice, 100 ms apart.
/// struct TwiceOn503;
///
/// impl RetryPolicy for TwiceOn503 {
///     fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
///         if outcome.status().map(|s| s.as_u16()) == Some(503) && call.attempt < 3 {
///             RetryDecision::Retry { delay: Duration::from_millis(100) }
///         } else {
///             RetryDecision::Stop
///         }
///     }
/// }
/// ```
pub trait RetryPolicy: Send + Sync {
    /// Decides what follows the attempt `call.attempt` that ended with `outcome`.
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision;

    /// Whether a hedge may race the slow attempt `call.attempt` (asked only
    /// when the connector has [`Hedging`](crate::Hedging) and the request is
    /// a read). A hedge is load like a retry, so a policy with a retry
    /// budget spends a token here. The default refuses: hedging needs a
    /// policy that accounts for it.
    fn allow_hedge(&self, call: &CallInfo<'_>) -> bool {
        let _ = call;
        false
    }
}

/// What a [`RetryPolicy`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Stop: the attempt's outcome is the call's result.
    Stop,
    /// Sleep `delay`, then make another attempt.
    Retry {
        /// How long to wait before the next attempt.
        delay: Duration,
    },
    /// The attempt should be retried, but the policy will not (retry budget
    /// exhausted, a server hint past the deadline...): the attempt's outcome
    /// is the call's result, and `reason` is added to the error's message.
    GiveUp {
        /// Why no further attempt is made (no secrets).
        reason: Cow<'static, str>,
    },
}

/// The default policy: never retries.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRetry;

impl RetryPolicy for NoRetry {
    fn decide(&self, _: &CallInfo<'_>, _: &AttemptOutcome<'_>) -> RetryDecision {
        RetryDecision::Stop
    }
}
