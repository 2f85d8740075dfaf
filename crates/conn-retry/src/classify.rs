//! Which outcomes are worth another attempt.
//!
//! Retried by default: connect errors, lost connections (reset, closed),
//! attempt timeouts, and the statuses 408, 425, 429, 500, 502, 503, 504.
//! Never retried by default: other 4xx (401 and 403 included), 501, 505,
//! decode errors, an open circuit, a passed deadline, configuration errors.
//! A [`Classifier`] can add or remove cases by status, header, body or error
//! kind.

use std::fmt;
use std::sync::Arc;

use conn_core::{AttemptOutcome, ErrorKind, Request, TimeoutKind};

/// A user predicate consulted before the defaults: `Some(true)` retries,
/// `Some(false)` does not, `None` leaves the decision to the defaults.
///
/// ```
/// use std::sync::Arc;
/// use conn_retry::Classifier;
///
/// // This API answers 400 with `"code":"TRY_AGAIN"` when it is overloaded,
/// // and its 500s are never transient.
/// let classifier: Classifier = Arc::new(|_request, outcome| match outcome.status()?.as_u16() {
///     400 => Some(outcome.result.ok()?.body().windows(9).any(|w| w == b"TRY_AGAIN")),
///     500 => Some(false),
///     _ => None,
/// });
/// # let _ = classifier;
/// ```
pub type Classifier = Arc<dyn Fn(&Request, &AttemptOutcome<'_>) -> Option<bool> + Send + Sync>;

/// Why an attempt is retried (for events and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// No connection could be made.
    Connect,
    /// The connection broke.
    ConnectionLost,
    /// The attempt timed out.
    AttemptTimeout,
    /// The API answered with this status.
    Status(u16),
    /// The user's classifier said so.
    Classifier,
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryReason::Connect => f.write_str("connect error"),
            RetryReason::ConnectionLost => f.write_str("connection lost"),
            RetryReason::AttemptTimeout => f.write_str("attempt timeout"),
            RetryReason::Status(status) => write!(f, "status {status}"),
            RetryReason::Classifier => f.write_str("classifier"),
        }
    }
}

/// The default classification: the reason to retry `outcome`, if any.
///
/// ```
/// use std::time::Duration;
/// use conn_core::{AttemptOutcome, Error, ErrorKind, ServerHints};
/// use conn_retry::classify::{default_reason, RetryReason};
///
/// let err = Error::new(ErrorKind::Connect, "refused");
/// let outcome = AttemptOutcome { result: Err(&err), latency: Duration::ZERO, hints: ServerHints::default() };
/// assert_eq!(default_reason(&outcome, true), Some(RetryReason::Connect));
/// ```
pub fn default_reason(outcome: &AttemptOutcome<'_>, retry_500: bool) -> Option<RetryReason> {
    match outcome.result {
        Ok(response) => match response.status().as_u16() {
            500 if !retry_500 => None,
            status @ (408 | 425 | 429 | 500 | 502 | 503 | 504) => Some(RetryReason::Status(status)),
            _ => None,
        },
        Err(err) => match err.kind() {
            ErrorKind::Connect => Some(RetryReason::Connect),
            ErrorKind::ConnectionLost => Some(RetryReason::ConnectionLost),
            ErrorKind::Timeout(TimeoutKind::Attempt) => Some(RetryReason::AttemptTimeout),
            _ => None,
        },
    }
}

/// Whether the request surely never reached the server, which makes a retry
/// safe even for a POST.
pub fn nothing_sent(outcome: &AttemptOutcome<'_>) -> bool {
    matches!(outcome.result, Err(err) if err.kind() == ErrorKind::Connect)
}
