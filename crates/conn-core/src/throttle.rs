//! The `Throttle` trait: stay inside the API's quota.

use crate::{BoxFuture, CallInfo, Error, Permit, TransportResponse};

/// Admits attempts at the rate and concurrency the API allows.
///
/// `acquire` runs before every attempt and either waits (never past
/// `call.deadline`) or fails with a [`RateLimited`](crate::ErrorKind::RateLimited)
/// error. The returned [`Permit`] is held until the attempt ends, so a
/// concurrency slot is freed by dropping it. `observe` sees every response,
/// so an adaptive throttle can learn from rate-limit headers.
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

    /// Learns from a response (rate-limit headers, 429s). Must not fail.
    fn observe(&self, call: &CallInfo<'_>, response: &TransportResponse) {
        let _ = (call, response);
    }
}

/// The default throttle: admits everything at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoThrottle;

impl Throttle for NoThrottle {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        Box::pin(std::future::ready(Ok(Permit::none())))
    }
}
