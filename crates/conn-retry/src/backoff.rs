//! Backoff schedules and jitter: how long to wait before attempt `n + 1`.
//!
//! Delays are computed in closed form from the attempt number (and, for
//! decorrelated jitter, the previous delay), so one shared policy serves every
//! call without per-call state, and attempt 10,000 costs what attempt 2 does.
//! (`backon`'s schedules are per-call iterators; stepping one to attempt n on
//! every decision would cost O(n), which is why they are not used here.)

use std::time::Duration;

use conn_core::Jitter;

/// The schedule of delays between attempts, before jitter.
///
/// ```
/// use std::time::Duration;
/// use conn_retry::Backoff;
///
/// let exp = Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(1));
/// assert_eq!(exp.base_delay(1, None), Duration::from_millis(100));
/// assert_eq!(exp.base_delay(3, None), Duration::from_millis(400));
/// assert_eq!(exp.base_delay(50, None), Duration::from_secs(1)); // capped
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// The same delay every time.
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// `initial + step × (n − 1)`, capped at `max`.
    Linear {
        /// Delay after the first attempt.
        initial: Duration,
        /// Added per further attempt.
        step: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// `base × factor^(n − 1)`, capped at `max`.
    Exponential {
        /// Delay after the first attempt.
        base: Duration,
        /// Growth per attempt (≥ 1).
        factor: f64,
        /// Upper bound.
        max: Duration,
    },
    /// AWS's "decorrelated jitter": a random delay between `base` and three
    /// times the previous delay, capped at `max`. Random by construction, so
    /// [`Jitter`] does not apply to it.
    DecorrelatedJitter {
        /// Lower bound, and the first "previous" delay.
        base: Duration,
        /// Upper bound.
        max: Duration,
    },
}

impl Backoff {
    /// A constant schedule.
    pub fn constant(delay: Duration) -> Self {
        Backoff::Constant { delay }
    }

    /// A linear schedule.
    pub fn linear(initial: Duration, step: Duration, max: Duration) -> Self {
        Backoff::Linear { initial, step, max }
    }

    /// An exponential schedule; a `factor` below 1 (or not finite) is taken as 1.
    pub fn exponential(base: Duration, factor: f64, max: Duration) -> Self {
        let factor = if factor.is_finite() && factor >= 1.0 {
            factor
        } else {
            1.0
        };
        Backoff::Exponential { base, factor, max }
    }

    /// A decorrelated-jitter schedule.
    pub fn decorrelated_jitter(base: Duration, max: Duration) -> Self {
        Backoff::DecorrelatedJitter { base, max }
    }

    /// The upper bound of this schedule.
    pub fn max(&self) -> Duration {
        match *self {
            Backoff::Constant { delay } => delay,
            Backoff::Linear { max, .. }
            | Backoff::Exponential { max, .. }
            | Backoff::DecorrelatedJitter { max, .. } => max,
        }
    }

    /// The delay after attempt `attempt` (1-based) before jitter. For
    /// decorrelated jitter this is the upper end of its random range.
    pub fn base_delay(&self, attempt: u32, previous: Option<Duration>) -> Duration {
        let n = attempt.max(1) - 1;
        match *self {
            Backoff::Constant { delay } => delay,
            Backoff::Linear { initial, step, max } => initial.saturating_add(step.saturating_mul(n)).min(max),
            Backoff::Exponential { base, factor, max } => {
                // powi saturates to infinity, which the cap absorbs: no overflow at any attempt.
                let seconds = base.as_secs_f64() * factor.powi(n.min(i32::MAX as u32) as i32);
                capped_seconds(seconds, max)
            }
            Backoff::DecorrelatedJitter { base, max } => {
                let previous = previous.unwrap_or(base).max(base);
                previous.saturating_mul(3).min(max).max(base.min(max))
            }
        }
    }

    /// The delay after attempt `attempt`, with `jitter` applied using the
    /// uniform random value `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, previous: Option<Duration>, jitter: Jitter, unit: f64) -> Duration {
        let upper = self.base_delay(attempt, previous);
        match *self {
            Backoff::DecorrelatedJitter { base, max } => {
                let low = base.min(max);
                low + (upper.saturating_sub(low)).mul_f64(unit)
            }
            _ => jitter.apply(upper, unit),
        }
    }
}

fn capped_seconds(seconds: f64, max: Duration) -> Duration {
    if !seconds.is_finite() || seconds >= max.as_secs_f64() {
        return max;
    }
    Duration::try_from_secs_f64(seconds.max(0.0))
        .unwrap_or(max)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn schedules() {
        let constant = Backoff::constant(50 * MS);
        assert_eq!(constant.base_delay(9, None), 50 * MS);
        let linear = Backoff::linear(100 * MS, 50 * MS, 200 * MS);
        let linear: Vec<_> = (1..=4).map(|n| linear.base_delay(n, None)).collect();
        assert_eq!(linear, [100 * MS, 150 * MS, 200 * MS, 200 * MS]);
        let exp = Backoff::exponential(100 * MS, 3.0, Duration::from_secs(2));
        let exp: Vec<_> = (1..=4).map(|n| exp.base_delay(n, None)).collect();
        assert_eq!(exp, [100 * MS, 300 * MS, 900 * MS, 2000 * MS]);
        let decorrelated = Backoff::decorrelated_jitter(100 * MS, Duration::from_secs(1));
        assert_eq!(decorrelated.base_delay(1, None), 300 * MS);
        assert_eq!(decorrelated.base_delay(2, Some(200 * MS)), 600 * MS);
        assert_eq!(decorrelated.base_delay(3, Some(900 * MS)), Duration::from_secs(1));
        assert_eq!(decorrelated.delay(1, None, Jitter::None, 0.0), 100 * MS);
    }

    #[test]
    fn a_bad_factor_is_taken_as_one() {
        for factor in [0.5, -2.0, f64::NAN, f64::INFINITY] {
            let exp = Backoff::exponential(100 * MS, factor, Duration::from_secs(1));
            assert_eq!(exp.base_delay(5, None), 100 * MS);
        }
    }

    fn any_backoff() -> impl Strategy<Value = Backoff> {
        let ms = 0u64..100_000;
        prop_oneof![
            ms.clone()
                .prop_map(|d| Backoff::constant(Duration::from_millis(d))),
            (ms.clone(), ms.clone(), ms.clone()).prop_map(|(a, b, c)| Backoff::linear(
                Duration::from_millis(a),
                Duration::from_millis(b),
                Duration::from_millis(c)
            )),
            (ms.clone(), 1.0f64..10.0, ms.clone()).prop_map(|(a, f, c)| Backoff::exponential(
                Duration::from_millis(a),
                f,
                Duration::from_millis(c)
            )),
            (ms.clone(), ms).prop_map(|(a, c)| Backoff::decorrelated_jitter(
                Duration::from_millis(a),
                Duration::from_millis(c)
            )),
        ]
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)]
    }

    proptest! {
        #[test]
        fn never_above_the_cap_and_no_overflow(
            backoff in any_backoff(),
            jitter in any_jitter(),
            attempt in prop_oneof![1u32..20, Just(10_000u32), Just(u32::MAX)],
            previous in proptest::option::of(0u64..u64::MAX / 2),
            unit in 0.0f64..1.0,
        ) {
            let previous = previous.map(Duration::from_nanos);
            let delay = backoff.delay(attempt, previous, jitter, unit);
            prop_assert!(delay <= backoff.max());
        }

        #[test]
        fn without_jitter_the_schedule_never_shrinks(backoff in any_backoff(), attempt in 1u32..10_000) {
            if !matches!(backoff, Backoff::DecorrelatedJitter { .. }) {
                prop_assert!(backoff.base_delay(attempt + 1, None) >= backoff.base_delay(attempt, None));
            }
        }

        #[test]
        fn jitter_stays_in_its_bounds(ms in 0u64..10_000_000, unit in 0.0f64..1.0) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(Jitter::None.apply(d, unit), d);
            prop_assert!(Jitter::Full.apply(d, unit) <= d);
            let equal = Jitter::Equal.apply(d, unit);
            prop_assert!(equal >= d / 2 && equal <= d);
        }

        #[test]
        fn decorrelated_jitter_stays_between_base_and_max(
            base in 0u64..10_000, max in 0u64..100_000, previous in 0u64..1_000_000, unit in 0.0f64..1.0
        ) {
            let (base, max) = (Duration::from_millis(base), Duration::from_millis(max));
            let d = Backoff::decorrelated_jitter(base, max).delay(3, Some(Duration::from_millis(previous)), Jitter::None, unit);
            prop_assert!(d >= base.min(max) && d <= max.max(base.min(max)));
        }
    }
}
