//! The `Breaker` trait: stop calling an endpoint that keeps failing.

use crate::{AttemptOutcome, CallInfo, Error, Permit};

/// Admits or refuses attempts based on recent failures, and records outcomes.
///
/// `admit` runs first for every attempt and must be fast: an open circuit
/// fails with a [`CircuitOpen`](crate::ErrorKind::CircuitOpen) error saying
/// when the next probe is allowed. `record` receives the permit `admit`
/// returned; an attempt cancelled by its caller never reaches `record`, and
/// its permit is dropped instead.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use conn_core::{AttemptOutcome, Breaker, CallInfo, Error, ErrorKind, Permit};
///
/// /// Opens on the first 5xx and never closes.
/// #[derive(Default)]
/// struct OneStrike(AtomicBool);
///
/// impl Breaker for OneStrike {
///     fn admit(&self, _: &CallInfo<'_>) -> Result<Permit, Error> {
///         if self.0.load(Ordering::Relaxed) {
///             return Err(Error::new(ErrorKind::CircuitOpen, "endpoint failed before"));
///         }
///         Ok(Permit::none())
///     }
///     fn record(&self, _: &CallInfo<'_>, _: Permit, outcome: &AttemptOutcome<'_>) {
///         if outcome.status().is_some_and(|s| s.is_server_error()) {
///             self.0.store(true, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait Breaker: Send + Sync {
    /// Admits the attempt, or refuses it with a circuit-open error.
    fn admit(&self, call: &CallInfo<'_>) -> Result<Permit, Error>;

    /// Records how an admitted attempt ended.
    fn record(&self, call: &CallInfo<'_>, permit: Permit, outcome: &AttemptOutcome<'_>);
}

/// The default breaker: always closed, records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBreaker;

impl Breaker for NoBreaker {
    fn admit(&self, _: &CallInfo<'_>) -> Result<Permit, Error> {
        Ok(Permit::none())
    }

    fn record(&self, _: &CallInfo<'_>, _: Permit, _: &AttemptOutcome<'_>) {}
}
