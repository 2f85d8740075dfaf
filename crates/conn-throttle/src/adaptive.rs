//! `Adaptive`: a rate learned from 429s, for APIs that publish nothing.
//!
//! The scheme is the AWS SDK's adaptive client rate limiter: on a throttle
//! signal the rate drops multiplicatively (× 0.7); afterwards it recovers
//! along a cubic curve (CUBIC congestion control) that returns to the rate
//! that was throttled after a few seconds and then probes carefully above it.
//! Until the first 429 the adaptive limit is inactive. governor's quotas are
//! fixed once built, so this limiter sits beside them.

use std::time::Duration;

use tokio::time::Instant;

/// Multiplicative decrease on a throttle signal.
const BETA: f64 = 0.7;
/// CUBIC's scaling constant.
const SCALE: f64 = 0.4;

/// Settings of the adaptive rate (requests per second).
///
/// ```
/// use conn_throttle::Adaptive;
///
/// // Start learning at 20 req/s on the first 429; never below 0.5 or above 100.
/// let adaptive = Adaptive { initial_rate: 20.0, min_rate: 0.5, max_rate: 100.0 };
/// # let _ = adaptive;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adaptive {
    /// The rate assumed when the first 429 arrives (before the decrease).
    pub initial_rate: f64,
    /// The rate never drops below this.
    pub min_rate: f64,
    /// The rate never recovers above this.
    pub max_rate: f64,
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive {
            initial_rate: 10.0,
            min_rate: 0.5,
            max_rate: 1_000.0,
        }
    }
}

/// The learned rate of one key.
#[derive(Debug)]
pub(crate) struct AdaptiveRate {
    config: Adaptive,
    /// `None` until the first throttle signal.
    active: Option<Active>,
}

#[derive(Debug)]
struct Active {
    rate: f64,
    rate_at_throttle: f64,
    throttled_at: Instant,
    next_send: Instant,
}

impl AdaptiveRate {
    pub(crate) fn new(config: Adaptive) -> Self {
        let min_rate = if config.min_rate.is_finite() && config.min_rate > 0.0 {
            config.min_rate
        } else {
            0.1
        };
        let max_rate = if config.max_rate.is_finite() {
            config.max_rate.max(min_rate)
        } else {
            1e9
        };
        let initial_rate = if config.initial_rate.is_finite() {
            config.initial_rate.clamp(min_rate, max_rate)
        } else {
            max_rate
        };
        AdaptiveRate {
            config: Adaptive {
                initial_rate,
                min_rate,
                max_rate,
            },
            active: None,
        }
    }

    /// The current rate, `None` while inactive.
    pub(crate) fn rate(&self, now: Instant) -> Option<f64> {
        self.active.as_ref().map(|a| self.recovered(a, now))
    }

    /// A 429 (or another throttle signal) arrived.
    pub(crate) fn on_throttle(&mut self, now: Instant) {
        let current = match &self.active {
            Some(active) => self.recovered(active, now),
            None => self.config.initial_rate,
        };
        let rate = (current * BETA).max(self.config.min_rate);
        let next_send = self.active.as_ref().map_or(now, |a| a.next_send);
        self.active = Some(Active {
            rate,
            rate_at_throttle: current,
            throttled_at: now,
            next_send,
        });
    }

    /// Reserves the next send: how long to wait first (zero: go now).
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let Some(rate) = self.rate(now) else {
            return Duration::ZERO;
        };
        let Some(active) = &mut self.active else {
            return Duration::ZERO;
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        if active.next_send <= now {
            active.next_send = now + interval;
            Duration::ZERO
        } else {
            active.next_send - now
        }
    }

    /// CUBIC: W(t) = C·(t − K)³ + W_max, with K = ∛(W_max·(1 − β)/C).
    fn recovered(&self, active: &Active, now: Instant) -> f64 {
        let t = now.saturating_duration_since(active.throttled_at).as_secs_f64();
        let w_max = active.rate_at_throttle;
        let k = (w_max * (1.0 - BETA) / SCALE).cbrt();
        let cubic = SCALE * (t - k).powi(3) + w_max;
        cubic
            .max(active.rate)
            .clamp(self.config.min_rate, self.config.max_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn decreases_on_throttle_and_recovers_along_a_cubic() {
        let mut adaptive = AdaptiveRate::new(Adaptive {
            initial_rate: 10.0,
            min_rate: 1.0,
            max_rate: 50.0,
        });
        let start = Instant::now();
        assert_eq!(adaptive.rate(start), None);
        assert_eq!(
            adaptive.reserve(start),
            Duration::ZERO,
            "inactive until the first 429"
        );
        adaptive.on_throttle(start);
        assert!((adaptive.rate(start).unwrap() - 7.0).abs() < 1e-9);
        adaptive.on_throttle(start);
        assert!((adaptive.rate(start).unwrap() - 4.9).abs() < 1e-9);
        // K = cbrt(7 * 0.3 / 0.4) ≈ 1.74 s: back at the throttled rate then, above it later.
        let k = Duration::from_secs_f64((7.0f64 * 0.3 / 0.4).cbrt());
        assert!((adaptive.rate(start + k).unwrap() - 7.0).abs() < 1e-6);
        assert!(adaptive.rate(start + Duration::from_secs(4)).unwrap() > 7.0);
        assert_eq!(
            adaptive.rate(start + Duration::from_secs(600)).unwrap(),
            50.0,
            "capped at max_rate"
        );
        for _ in 0..100 {
            adaptive.on_throttle(start);
        }
        assert_eq!(adaptive.rate(start).unwrap(), 1.0, "floored at min_rate");
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_sends_at_the_rate() {
        let mut adaptive = AdaptiveRate::new(Adaptive {
            initial_rate: 10.0 / 0.7,
            min_rate: 1.0,
            max_rate: 20.0,
        });
        let now = Instant::now();
        adaptive.on_throttle(now);
        assert_eq!(adaptive.reserve(now), Duration::ZERO);
        let wait = adaptive.reserve(now);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
    }
}
