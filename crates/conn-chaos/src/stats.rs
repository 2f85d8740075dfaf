//! What was injected, so a game day's report can set the faults sent
//! against what the connectors' own metrics saw.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Fault;

/// Counters of one [`ChaosTransport`](crate::ChaosTransport), lock-free.
#[derive(Debug, Default)]
pub struct ChaosStats {
    attempts: AtomicU64,
    targeted: AtomicU64,
    delayed: AtomicU64,
    server_errors: AtomicU64,
    rate_limited: AtomicU64,
    resets: AtomicU64,
    timeouts: AtomicU64,
    malformed: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Attempts that went through the transport, injection on or off.
    pub attempts: u64,
    /// Attempts that were eligible (switch on, target matched).
    pub targeted: u64,
    /// Attempts given added latency.
    pub delayed: u64,
    /// Injected 503s.
    pub server_errors: u64,
    /// Injected 429s.
    pub rate_limited: u64,
    /// Injected connection resets.
    pub resets: u64,
    /// Injected hangs.
    pub timeouts: u64,
    /// Corrupted bodies.
    pub malformed: u64,
}

impl StatsSnapshot {
    /// Every injected fault, latency aside.
    pub fn faults(&self) -> u64 {
        self.server_errors + self.rate_limited + self.resets + self.timeouts + self.malformed
    }
}

impl ChaosStats {
    pub(crate) fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn targeted(&self) {
        self.targeted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delayed(&self) {
        self.delayed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fault(&self, fault: Fault) {
        let counter = match fault {
            Fault::ServerError => &self.server_errors,
            Fault::RateLimited => &self.rate_limited,
            Fault::Reset => &self.resets,
            Fault::Timeout => &self.timeouts,
            Fault::Malformed => &self.malformed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            attempts: get(&self.attempts),
            targeted: get(&self.targeted),
            delayed: get(&self.delayed),
            server_errors: get(&self.server_errors),
            rate_limited: get(&self.rate_limited),
            resets: get(&self.resets),
            timeouts: get(&self.timeouts),
            malformed: get(&self.malformed),
        }
    }
}
