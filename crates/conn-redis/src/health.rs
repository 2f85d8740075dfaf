//! `Health`: whether Redis answers, logged once per change and at most once
//! per period while it stays down, with a gauge operators can alert on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often a Redis that stays down is reported again.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// While Redis is down, one operation per this interval probes it; the
/// others go straight to their fallback instead of waiting on a dead link.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Gauge: 1 while the fleet's Redis answers, 0 while stores use their fallback.
pub const FLEET_UP: &str = "conn_fleet_up";

pub(crate) struct Health {
    up: AtomicBool,
    failures: AtomicU64,
    last_warn: Mutex<Option<Instant>>,
    last_probe: Mutex<Option<Instant>>,
}

impl Health {
    pub(crate) fn new() -> Self {
        metrics::gauge!(FLEET_UP).set(1.0);
        Health {
            up: AtomicBool::new(true),
            failures: AtomicU64::new(0),
            last_warn: Mutex::new(None),
            last_probe: Mutex::new(None),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether to ask Redis now: always while it is up; while it is down,
    /// once per probe interval (that probe brings fleet mode back).
    pub(crate) fn should_try(&self) -> bool {
        if self.is_up() {
            return true;
        }
        let now = Instant::now();
        let mut last = self.last_probe.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| now.saturating_duration_since(at) >= PROBE_EVERY) {
            *last = Some(now);
            true
        } else {
            false
        }
    }

    /// Records one operation's outcome.
    pub(crate) fn record(&self, ok: bool) {
        if ok {
            if !self.up.swap(true, Ordering::Relaxed) {
                let failures = self.failures.swap(0, Ordering::Relaxed);
                metrics::gauge!(FLEET_UP).set(1.0);
                tracing::warn!(
                    target: "conn_redis",
                    failed_operations = failures,
                    "Redis answers again: fleet mode resumed"
                );
            }
            return;
        }
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let was_up = self.up.swap(false, Ordering::Relaxed);
        if was_up {
            metrics::gauge!(FLEET_UP).set(0.0);
        }
        let now = Instant::now();
        let mut last = self.last_warn.lock().unwrap_or_else(|e| e.into_inner());
        if was_up || last.is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY) {
            *last = Some(now);
            tracing::warn!(
                target: "conn_redis",
                failed_operations = failures,
                "Redis does not answer: stores use their failure policy (fail open to a local share, or fail closed) until it does"
            );
        }
    }
}
