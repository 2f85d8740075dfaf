//! `Jitter`: how randomness spreads a delay, for every component that backs off.
//!
//! Retry policies, token endpoint clients and anything else that waits
//! before trying again share this one definition, so "equal jitter" means
//! the same everywhere.

use std::time::Duration;

/// How randomness is mixed into a delay `d`, so that many clients that failed
/// together do not all come back together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// Uniform in `[0, d]`: the best spread (AWS's recommendation).
    #[default]
    Full,
    /// `d / 2` plus uniform in `[0, d / 2]`: never less than half.
    Equal,
}

impl Jitter {
    /// Applies the jitter to `delay` with the uniform random value `unit` in `[0, 1)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use conn_core::Jitter;
    ///
    /// let d = Duration::from_secs(2);
    /// assert_eq!(Jitter::None.apply(d, 0.5), d);
    /// assert_eq!(Jitter::Full.apply(d, 0.25), Duration::from_millis(500));
    /// assert_eq!(Jitter::Equal.apply(d, 0.0), Duration::from_secs(1));
    /// ```
    pub fn apply(self, delay: Duration, unit: f64) -> Duration {
        let unit = unit.clamp(0.0, 1.0);
        match self {
            Jitter::None => delay,
            Jitter::Full => delay.mul_f64(unit),
            Jitter::Equal => delay / 2 + (delay / 2).mul_f64(unit),
        }
    }
}
