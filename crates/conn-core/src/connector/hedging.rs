//! `Hedging`: when a second attempt may race a slow first one.
//!
//! Why: a slow tail (one slow replica, one stalled connection) dominates
//! p99 latency, and waiting for the attempt timeout before retrying pays
//! the whole tail. Why bounded: a hedge is load, so it is admitted like a
//! retry: the retry policy must grant it ([`RetryPolicy::allow_hedge`],
//! which spends a retry-budget token in conn-retry), and it passes the
//! breaker and the throttle like any attempt. During an outage the budget
//! runs dry and hedging stops, so it can never double the load (tower's
//! `hedge` and Polly's hedging strategy are the references; this one also
//! keeps to the call's deadline, which bounds both attempts).
//!
//! This module holds only the settings and the latencies they learn from;
//! the race itself is `hedge.rs`, a form of the `transmit` phase.
//!
//! [`RetryPolicy::allow_hedge`]: crate::RetryPolicy::allow_hedge

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How many recent latencies a percentile delay is computed from.
const WINDOW: usize = 256;
/// Latencies needed before a percentile is trusted.
const MIN_SAMPLES: usize = 20;

/// When a second attempt races a slow first one (off unless set with
/// [`ConnectorBuilder::hedging`](crate::ConnectorBuilder::hedging)).
///
/// Only reads are hedged (GET, HEAD, OPTIONS, when idempotent), at most
/// once per attempt. A hedge is sent only when the retry policy grants it
/// ([`RetryPolicy::allow_hedge`](crate::RetryPolicy::allow_hedge); conn-retry's
/// `Retry` spends a retry-budget token, so hedges stop when the budget is
/// exhausted), and it passes the breaker and the throttle like any attempt.
/// The first good answer (a response that is not 408, 429 or 5xx) wins and
/// the other attempt is cancelled, its permits dropped; when both fail,
/// both are recorded (the breaker sees both) and the retry policy decides
/// on the last. The call report shows the hedge (`AttemptRecord::hedge`)
/// and the cancelled attempt; the `conn_hedges_total` metric counts hedges
/// by outcome.
///
/// ```
/// use std::time::Duration;
/// use conn_core::Hedging;
///
/// // A second attempt after 200 ms.
/// let fixed = Hedging::after(Duration::from_millis(200));
/// // After the connector's own p95 latency (200 ms until 20 attempts are known), never before 50 ms.
/// let adaptive = Hedging::at_percentile(0.95, Duration::from_millis(200)).min_delay(Duration::from_millis(50));
/// # let _ = (fixed, adaptive);
/// ```
#[derive(Debug)]
pub struct Hedging {
    delay: HedgeDelay,
    min_delay: Duration,
    latencies: Mutex<VecDeque<Duration>>,
}

#[derive(Clone, Copy, Debug)]
enum HedgeDelay {
    Fixed(Duration),
    Percentile { quantile: f64, until_known: Duration },
}

impl Hedging {
    /// Hedges an attempt that has not answered after `delay`.
    pub fn after(delay: Duration) -> Self {
        Hedging::new(HedgeDelay::Fixed(delay))
    }

    /// Hedges an attempt slower than the `quantile` (0.95 = p95) of this
    /// connector's recent attempt latencies (the last 256); `until_known`
    /// is the delay until 20 latencies are known.
    pub fn at_percentile(quantile: f64, until_known: Duration) -> Self {
        let quantile = if quantile.is_finite() {
            quantile.clamp(0.0, 1.0)
        } else {
            0.95
        };
        Hedging::new(HedgeDelay::Percentile {
            quantile,
            until_known,
        })
    }

    /// Never hedges sooner than `floor` (default: no floor), so a fast
    /// API's percentile cannot turn every call into two.
    pub fn min_delay(mut self, floor: Duration) -> Self {
        self.min_delay = floor;
        self
    }

    fn new(delay: HedgeDelay) -> Self {
        Hedging {
            delay,
            min_delay: Duration::ZERO,
            latencies: Mutex::new(VecDeque::with_capacity(WINDOW)),
        }
    }

    /// How long the next attempt runs alone.
    pub(crate) fn delay(&self) -> Duration {
        let delay = match self.delay {
            HedgeDelay::Fixed(delay) => delay,
            HedgeDelay::Percentile {
                quantile,
                until_known,
            } => {
                let mut known: Vec<Duration> = self.lock().iter().copied().collect();
                if known.len() < MIN_SAMPLES {
                    until_known
                } else {
                    known.sort_unstable();
                    let rank = ((known.len() - 1) as f64 * quantile).round() as usize;
                    known[rank.min(known.len() - 1)]
                }
            }
        };
        delay.max(self.min_delay)
    }

    /// Learns one attempt's latency (only a percentile delay needs it).
    pub(crate) fn observe(&self, latency: Duration) {
        if let HedgeDelay::Percentile { .. } = self.delay {
            let mut latencies = self.lock();
            if latencies.len() == WINDOW {
                latencies.pop_front();
            }
            latencies.push_back(latency);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Duration>> {
        // A list of durations: a panic elsewhere cannot leave it inconsistent.
        self.latencies.lock().unwrap_or_else(|e| e.into_inner())
    }
}
