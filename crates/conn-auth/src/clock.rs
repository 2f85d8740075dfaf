//! The wall clock that request signatures are stamped with.
//!
//! Signatures (AWS SigV4, HMAC schemes) carry a wall-clock timestamp the
//! server checks against its own clock, so signing needs `SystemTime`, not
//! tokio's monotonic clock. Tests still need to control it: a fixed time
//! reproduces published test vectors, and a clock that follows tokio's lets a
//! paused-clock test prove that a retry two seconds later is signed two
//! seconds later.

use std::fmt;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Where a signer reads the current wall-clock time.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use conn_auth::SigningClock;
///
/// let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
/// assert_eq!(SigningClock::fixed(at).now(), at);
/// assert!(SigningClock::system().now() > at);
/// ```
#[derive(Clone, Copy)]
pub struct SigningClock {
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    System,
    Fixed(SystemTime),
    FollowingTokio { wall: SystemTime, at: Instant },
}

impl SigningClock {
    /// The system's wall clock: what production uses (the default).
    pub fn system() -> Self {
        SigningClock { kind: Kind::System }
    }

    /// Always `at`: for test vectors.
    pub fn fixed(at: SystemTime) -> Self {
        SigningClock {
            kind: Kind::Fixed(at),
        }
    }

    /// The wall-clock time of its creation, advancing with tokio's clock
    /// from then on: on a paused runtime (`start_paused = true`), signing
    /// times move exactly as the test advances time. Create it inside the
    /// runtime.
    pub fn following_tokio() -> Self {
        SigningClock {
            kind: Kind::FollowingTokio {
                wall: SystemTime::now(),
                at: Instant::now(),
            },
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> SystemTime {
        match self.kind {
            Kind::System => SystemTime::now(),
            Kind::Fixed(at) => at,
            Kind::FollowingTokio { wall, at } => wall + at.elapsed(),
        }
    }

    /// The current time shifted by `offset_ms` (positive: later), saturating
    /// rather than panicking on absurd offsets.
    pub(crate) fn now_shifted(&self, offset_ms: i64) -> SystemTime {
        let now = self.now();
        let shift = Duration::from_millis(offset_ms.unsigned_abs());
        let shifted = if offset_ms >= 0 {
            now.checked_add(shift)
        } else {
            now.checked_sub(shift)
        };
        shifted.unwrap_or(now)
    }
}

impl Default for SigningClock {
    fn default() -> Self {
        SigningClock::system()
    }
}

impl fmt::Debug for SigningClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::System => "SigningClock::system",
            Kind::Fixed(_) => "SigningClock::fixed",
            Kind::FollowingTokio { .. } => "SigningClock::following_tokio",
        })
    }
}

/// Milliseconds from `from` to `to` (negative when `to` is earlier).
pub(crate) fn millis_between(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
        Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn following_tokio_advances_with_the_paused_clock() {
        let clock = SigningClock::following_tokio();
        let before = clock.now();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            clock.now().duration_since(before).unwrap(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn shifts_both_ways_and_measures_offsets() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let clock = SigningClock::fixed(at);
        assert_eq!(clock.now_shifted(1500), at + Duration::from_millis(1500));
        assert_eq!(clock.now_shifted(-1500), at - Duration::from_millis(1500));
        assert_eq!(millis_between(at, at + Duration::from_secs(3)), 3000);
        assert_eq!(millis_between(at + Duration::from_secs(3), at), -3000);
        // Absurd offsets do not panic.
        let _ = SigningClock::system().now_shifted(i64::MIN);
        let _ = SigningClock::system().now_shifted(i64::MAX);
    }
}
