//! What to inject and how often: one draw per attempt picks at most one
//! fault, so the configured rates are the rates an upstream would show.

use std::time::Duration;

use conn_core::Error;

/// One fault that replaces (or, for [`Malformed`](Fault::Malformed),
/// corrupts) an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A `503 Service Unavailable` answer; the upstream is not called.
    ServerError,
    /// A `429 Too Many Requests` answer with `Retry-After`; the upstream is not called.
    RateLimited,
    /// The connection is lost before an answer (`ConnectionLost`); the upstream is not called.
    Reset,
    /// The attempt hangs until the connector's attempt timeout (or the
    /// configured stall) ends it; the upstream is not called.
    Timeout,
    /// The upstream's real answer with its body truncated and corrupted.
    Malformed,
}

impl Fault {
    /// A short name, used in the [`CHAOS_HEADER`](crate::CHAOS_HEADER) and in stats.
    pub fn label(self) -> &'static str {
        match self {
            Fault::ServerError => "server-error",
            Fault::RateLimited => "rate-limited",
            Fault::Reset => "reset",
            Fault::Timeout => "timeout",
            Fault::Malformed => "malformed",
        }
    }
}

/// The fault mix: a rate in `[0, 1]` per fault (the rates of the faults
/// together at most 1, since one attempt gets at most one), plus added
/// latency at its own rate.
///
/// ```
/// use std::time::Duration;
/// use conn_chaos::Faults;
///
/// let mix = Faults::none()
///     .server_errors(0.10)
///     .rate_limits(0.05, Duration::from_secs(2))
///     .resets(0.05)
///     .timeouts(0.02)
///     .malformed_bodies(0.01)
///     .latency(0.10, Duration::from_millis(100), Duration::from_millis(500));
/// assert!(mix.validate().is_ok());
/// assert!(Faults::none().resets(0.7).timeouts(0.7).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    pub(crate) server_errors: f64,
    pub(crate) rate_limits: f64,
    pub(crate) retry_after: Duration,
    pub(crate) resets: f64,
    pub(crate) timeouts: f64,
    pub(crate) stall: Duration,
    pub(crate) malformed: f64,
    pub(crate) latency_rate: f64,
    pub(crate) latency_min: Duration,
    pub(crate) latency_max: Duration,
}

/// How long a [`Fault::Timeout`] hangs when the connector has no attempt
/// timeout to cut it first: long enough to look like a hang, short enough
/// that a forgotten game day does not hold calls forever.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}

impl Faults {
    /// No fault and no latency: the starting point of every mix.
    pub fn none() -> Self {
        Faults {
            server_errors: 0.0,
            rate_limits: 0.0,
            retry_after: Duration::from_secs(1),
            resets: 0.0,
            timeouts: 0.0,
            stall: DEFAULT_STALL,
            malformed: 0.0,
            latency_rate: 0.0,
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
        }
    }

    /// Answers this fraction of attempts with `503`.
    pub fn server_errors(mut self, rate: f64) -> Self {
        self.server_errors = rate;
        self
    }

    /// Answers this fraction of attempts with `429` and `Retry-After:
    /// retry_after` (whole seconds, rounded up).
    pub fn rate_limits(mut self, rate: f64, retry_after: Duration) -> Self {
        self.rate_limits = rate;
        self.retry_after = retry_after;
        self
    }

    /// Fails this fraction of attempts with a lost connection.
    pub fn resets(mut self, rate: f64) -> Self {
        self.resets = rate;
        self
    }

    /// Makes this fraction of attempts hang (see [`stall`](Self::stall)).
    pub fn timeouts(mut self, rate: f64) -> Self {
        self.timeouts = rate;
        self
    }

    /// How long a hanging attempt waits before failing with an attempt
    /// timeout itself, if the connector's own timeout has not ended it
    /// first (`DEFAULT_STALL` unless set).
    pub fn stall(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Corrupts the body of this fraction of real answers.
    pub fn malformed_bodies(mut self, rate: f64) -> Self {
        self.malformed = rate;
        self
    }

    /// Delays this fraction of attempts by a uniform time in `[min, max]`
    /// before anything else happens (independent of the faults above).
    pub fn latency(mut self, rate: f64, min: Duration, max: Duration) -> Self {
        self.latency_rate = rate;
        self.latency_min = min;
        self.latency_max = max;
        self
    }

    /// The share of attempts that get a fault (latency aside).
    pub fn fault_rate(&self) -> f64 {
        self.server_errors + self.rate_limits + self.resets + self.timeouts + self.malformed
    }

    /// Checks every rate is in `[0, 1]`, the fault rates add up to at most
    /// 1, and the latency range is ordered.
    pub fn validate(&self) -> Result<(), Error> {
        let rates = [
            ("server_errors", self.server_errors),
            ("rate_limits", self.rate_limits),
            ("resets", self.resets),
            ("timeouts", self.timeouts),
            ("malformed_bodies", self.malformed),
            ("latency", self.latency_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::config(format!(
                    "chaos: the {name} rate must be between 0 and 1, not {rate}"
                )));
            }
        }
        // A little slack for rates such as 0.1 + 0.2 that do not add up exactly in binary.
        if self.fault_rate() > 1.0 + 1e-9 {
            return Err(Error::config(format!(
                "chaos: the fault rates add up to {}, more than 1",
                self.fault_rate()
            )));
        }
        if self.latency_min > self.latency_max {
            return Err(Error::config("chaos: the latency minimum is above its maximum"));
        }
        Ok(())
    }

    /// The fault for a uniform draw `u` in `[0, 1)`: each fault owns a slice
    /// of the unit interval as wide as its rate.
    pub(crate) fn pick(&self, u: f64) -> Option<Fault> {
        let slices = [
            (self.server_errors, Fault::ServerError),
            (self.rate_limits, Fault::RateLimited),
            (self.resets, Fault::Reset),
            (self.timeouts, Fault::Timeout),
            (self.malformed, Fault::Malformed),
        ];
        let mut edge = 0.0;
        for (rate, fault) in slices {
            edge += rate;
            if u < edge {
                return Some(fault);
            }
        }
        None
    }

    /// The added latency for two uniform draws: whether, and where in the range.
    pub(crate) fn delay(&self, hit: f64, position: f64) -> Option<Duration> {
        if hit >= self.latency_rate || self.latency_max.is_zero() {
            return None;
        }
        let span = self.latency_max - self.latency_min;
        Some(self.latency_min + span.mul_f64(position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_the_rates() {
        let mix = Faults::none()
            .server_errors(0.1)
            .rate_limits(0.05, Duration::from_secs(1))
            .resets(0.05);
        assert_eq!(mix.pick(0.0), Some(Fault::ServerError));
        assert_eq!(mix.pick(0.099), Some(Fault::ServerError));
        assert_eq!(mix.pick(0.12), Some(Fault::RateLimited));
        assert_eq!(mix.pick(0.17), Some(Fault::Reset));
        assert_eq!(mix.pick(0.2), None);
        assert_eq!(Faults::none().pick(0.0), None);
    }

    #[test]
    fn invalid_mixes_are_refused() {
        assert!(Faults::none().server_errors(-0.1).validate().is_err());
        assert!(Faults::none().server_errors(f64::NAN).validate().is_err());
        assert!(Faults::none().server_errors(0.6).resets(0.5).validate().is_err());
        assert!(
            Faults::none()
                .server_errors(0.7)
                .resets(0.2)
                .timeouts(0.1)
                .validate()
                .is_ok()
        );
        let backwards = Faults::none().latency(0.5, Duration::from_secs(2), Duration::from_secs(1));
        assert!(backwards.validate().is_err());
    }

    #[test]
    fn latency_stays_in_its_range() {
        let mix = Faults::none().latency(0.5, Duration::from_millis(100), Duration::from_millis(300));
        assert_eq!(mix.delay(0.6, 0.5), None);
        assert_eq!(mix.delay(0.1, 0.0), Some(Duration::from_millis(100)));
        assert_eq!(mix.delay(0.1, 0.5), Some(Duration::from_millis(200)));
    }
}
