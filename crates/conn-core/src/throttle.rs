//! The `Throttle` trait: stay inside the API's quota.

use crate::{AttemptOutcome, BoxFuture, CallInfo, Error, Permit};

/// Admits attempts at the rate and concurrency the API allows.
///
/// `acquire` runs before every attempt and either waits (never past
/// `call.deadline`) or fails with a [`RateLimited`](crate::ErrorKind::RateLimited)
/// error. The returned [`Permit`] is held until the attempt ends, so a
/// concurrency slot is freed by dropping it. `observe` sees every outcome,
/// with the parsed [`ServerHints`](crate::ServerHints), so an adaptive
/// throttle can learn from rate-limit headers.
///
/// ```
/// use conn_core::{BoxFuture, CallInfo, Error, Permit, Throttle};
///
/// /// Lets everything through, but counts attempts.
/// #[derive(Default)]
/// struct Counting(std::sync::atomic::AtomicU64);
///
/// impl Throttle for Counting {
///     fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         Box::pin(async { Ok(Permit::none()) })
///     }
/// }
/// ```
pub trait Throttle: Send + Sync {
    /// Waits for capacity for this attempt, or fails with a rate-limited error.
    fn acquire<'a>(&'a self, call: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>>;

    /// Capacity for this attempt if it is there right now, without waiting
    /// and without side effects when it is not: `None` sends the pipeline
    /// to [`acquire`](Self::acquire), which may wait or refuse.
    ///
    /// Why: most attempts find capacity free, and answering them without a
    /// boxed future saves an allocation and a state machine per attempt.
    /// The default answers `None`, which is always correct.
    fn try_acquire(&self, call: &CallInfo<'_>) -> Option<Result<Permit, Error>> {
        let _ = call;
        None
    }

    /// Learns from how an attempt ended (rate-limit hints, 429s, errors).
    /// Called after every attempt, once its permit is released. Must not fail.
    fn observe(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
        let _ = (call, outcome);
    }
}

/// The default throttle: admits everything at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoThrottle;

impl Throttle for NoThrottle {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        Box::pin(std::future::ready(Ok(Permit::none())))
    }

    fn try_acquire(&self, _: &CallInfo<'_>) -> Option<Result<Permit, Error>> {
        Some(Ok(Permit::none()))
    }
}
