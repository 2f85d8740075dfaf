//! `Limit`: one published rate limit of an API.

use std::num::NonZeroU32;
use std::time::Duration;

use conn_core::store::RateQuota;
use governor::Quota;

/// `count` requests per `period`, with a burst: how APIs publish their
/// limits ("10 per second", "5,000 per hour").
///
/// Requests are spread evenly (GCRA): with 10 per second and burst 1, one
/// every 100 ms. A burst of `b` lets `b` requests through back to back after
/// a quiet spell. The default burst is 1 (no burst).
///
/// ```
/// use std::time::Duration;
/// use conn_throttle::Limit;
///
/// let per_second = Limit::per_second(10).burst(5);
/// let per_hour = Limit::new(5_000, Duration::from_secs(3600));
/// assert_eq!(per_second.interval(), Duration::from_millis(100));
/// # let _ = per_hour;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Limit {
    /// `count` requests per `period` (a zero count or period is taken as 1
    /// and 1 ms, the most restrictive readable value).
    pub fn new(count: u32, period: Duration) -> Self {
        Limit {
            count: count.max(1),
            period: period.max(Duration::from_millis(1)),
            burst: 1,
        }
    }

    /// `count` requests per second.
    pub fn per_second(count: u32) -> Self {
        Limit::new(count, Duration::from_secs(1))
    }

    /// `count` requests per minute.
    pub fn per_minute(count: u32) -> Self {
        Limit::new(count, Duration::from_secs(60))
    }

    /// Allows `burst` requests back to back (at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// The time between two requests at the steady rate.
    pub fn interval(&self) -> Duration {
        self.period / self.count
    }

    /// The period the count is published for.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests per second at the steady rate.
    pub fn rate(&self) -> f64 {
        f64::from(self.count) / self.period.as_secs_f64()
    }

    /// The same limit as conn-core's store quota, for a shared rate store.
    pub fn rate_quota(&self) -> RateQuota {
        RateQuota::new(self.count, self.period).burst(self.burst)
    }

    pub(crate) fn quota(&self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        // interval() is at least 1 ms / u32::MAX > 0 ns only when non-zero; fall back to 1 ns.
        Quota::with_period(self.interval().max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}
