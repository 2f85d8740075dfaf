//! `FailurePolicy`: what a fleet quota does while Redis does not answer.

/// What a [`RedisRateStore`](crate::RedisRateStore) does while Redis does
/// not answer (down, slow past the time limit, or partitioned away).
///
/// Either way no call waits past the operation time limit for Redis, one
/// WARN is logged per period (not per call), the `conn_fleet_up` gauge is 0
/// and the store's [`mode`](conn_core::store::RateStore::mode) says
/// `fallback` or `closed`; the first answer from Redis brings fleet mode
/// back by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Fail open: count this process's share of each quota locally
    /// (count / `replicas`, at least 1), so the fleet as a whole stays near
    /// the quota if it runs about `replicas` processes. The default.
    FailOpen {
        /// The number of replicas expected to share the quota.
        replicas: u32,
    },
    /// Fail closed: refuse with `RateLimited` and a retry hint, sending
    /// nothing the fleet cannot account for.
    FailClosed,
}

impl FailurePolicy {
    /// Fail open with `replicas` expected replicas (at least 1).
    pub fn fail_open(replicas: u32) -> Self {
        FailurePolicy::FailOpen {
            replicas: replicas.max(1),
        }
    }
}

impl Default for FailurePolicy {
    /// Fail open as a single replica: set the expected replica count.
    fn default() -> Self {
        FailurePolicy::FailOpen { replicas: 1 }
    }
}
