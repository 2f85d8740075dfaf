//! `Deadline`: the one definition of "how long may this still take".
//!
//! Why a type and not an `Option<Instant>`: every component that waits (the
//! pipeline's attempts and retry sleeps, a throttle's queue, a token
//! endpoint client, a feature-flag variant deciding whether a retry still
//! fits) asks the same three questions: how much time is left, does a wait
//! of `d` end before the deadline, and what limit applies to the next
//! attempt. Answered in one place, they cannot drift apart: a wait that
//! overflows never fits, a wait that ends exactly at the deadline does not
//! fit either, and the attempt limit is the smaller of the per-attempt
//! timeout and the time left.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, ErrorKind, TimeoutKind};

/// When a call must be over, or no deadline at all.
///
/// ```
/// use std::time::Duration;
/// use conn_core::Deadline;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let deadline = Deadline::after(Duration::from_secs(2));
/// assert!(deadline.allows_wait(Duration::from_secs(1)));
/// assert!(!deadline.allows_wait(Duration::from_secs(3)));
/// assert!(!Deadline::NONE.has_passed());
///
/// // The next attempt gets the smaller of its own timeout and the time left.
/// let limit = deadline.attempt_limit(Some(Duration::from_secs(5))).unwrap();
/// assert_eq!(limit.duration(), Some(Duration::from_secs(2)));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: waits are never cut short.
    pub const NONE: Deadline = Deadline(None);

    /// A deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Deadline(Some(instant))
    }

    /// A deadline `timeout` from now; a timeout too large to represent means
    /// no deadline.
    pub fn after(timeout: Duration) -> Self {
        Deadline(Instant::now().checked_add(timeout))
    }

    /// The instant, if there is a deadline.
    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    /// The earlier of the two deadlines.
    pub fn earliest(self, other: impl Into<Deadline>) -> Deadline {
        match (self.0, other.into().0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (a, b) => Deadline(a.or(b)),
        }
    }

    /// Time left (`None` without a deadline, zero once it has passed).
    pub fn remaining(self) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn has_passed(self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }

    /// Whether a wait of `wait` starting now ends before the deadline (an
    /// overflowing wait never does).
    pub fn allows_wait(self, wait: Duration) -> bool {
        match self.0 {
            Some(at) => Instant::now().checked_add(wait).is_some_and(|end| end < at),
            None => true,
        }
    }

    /// Whether `self` leaves time after `instant` (always, without a deadline).
    pub fn is_later_than(self, instant: Instant) -> bool {
        self.0.is_none_or(|at| at > instant)
    }

    /// The time limit of the next attempt: `per_attempt` when it ends first,
    /// otherwise the time left until the deadline.
    ///
    /// # Errors
    ///
    /// A [`Timeout(Deadline)`](TimeoutKind::Deadline) error when the deadline
    /// has already passed, so no attempt starts without time to finish.
    pub fn attempt_limit(self, per_attempt: Option<Duration>) -> Result<AttemptLimit, Error> {
        // One clock read: the limit counts from it, and the attempt's
        // timer ends at it plus the limit.
        let from = Instant::now();
        let Some(at) = self.0 else {
            return Ok(AttemptLimit {
                limit: per_attempt,
                kind: TimeoutKind::Attempt,
                from,
            });
        };
        let remaining = at.saturating_duration_since(from);
        if remaining.is_zero() {
            return Err(Error::new(
                ErrorKind::Timeout(TimeoutKind::Deadline),
                "the deadline passed before the attempt could be sent",
            ));
        }
        Ok(match per_attempt {
            Some(limit) if limit < remaining => AttemptLimit {
                limit: Some(limit),
                kind: TimeoutKind::Attempt,
                from,
            },
            _ => AttemptLimit {
                limit: Some(remaining),
                kind: TimeoutKind::Deadline,
                from,
            },
        })
    }

    /// Awaits `future`, giving up with a deadline error when the deadline
    /// passes first; `what` completes "the deadline passed while ...".
    pub async fn within<T>(
        self,
        what: &'static str,
        future: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match self.0 {
            Some(at) => tokio::time::timeout_at(at, future).await.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout(TimeoutKind::Deadline),
                    format!("the deadline passed while {what}"),
                ))
            }),
            None => future.await,
        }
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(instant: Option<Instant>) -> Self {
        Deadline(instant)
    }
}

impl From<Instant> for Deadline {
    fn from(instant: Instant) -> Self {
        Deadline(Some(instant))
    }
}

/// The time limit of one attempt and which bound sets it (see
/// [`Deadline::attempt_limit`]). One timer serves both bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    limit: Option<Duration>,
    kind: TimeoutKind,
    /// When the limit began counting.
    from: Instant,
}

impl AttemptLimit {
    /// How long the attempt may take (`None`: no limit at all).
    pub fn duration(self) -> Option<Duration> {
        self.limit
    }

    /// Which bound sets the limit: the attempt's own timeout, or the call's deadline.
    pub fn kind(self) -> TimeoutKind {
        self.kind
    }

    /// When the limit began counting (when [`Deadline::attempt_limit`]
    /// made it): the attempt's send time, for whoever records it.
    pub fn started(self) -> Instant {
        self.from
    }

    /// Awaits `future` under the limit; past it, a
    /// [`Timeout`](ErrorKind::Timeout) error of this limit's kind.
    pub async fn run<T>(self, future: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        // A limit too large to add to the clock is no limit.
        match self
            .limit
            .and_then(|limit| Some((limit, self.from.checked_add(limit)?)))
        {
            Some((limit, until)) => tokio::time::timeout_at(until, future).await.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout(self.kind),
                    format!("no complete response within {} ms", limit.as_millis()),
                ))
            }),
            None => future.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_fit_only_strictly_before_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(100));
        assert!(deadline.allows_wait(Duration::from_millis(99)));
        assert!(!deadline.allows_wait(Duration::from_millis(100)));
        assert!(!deadline.allows_wait(Duration::MAX));
        assert!(Deadline::NONE.allows_wait(Duration::MAX));
        assert_eq!(Deadline::after(Duration::MAX), Deadline::NONE);
    }

    #[tokio::test(start_paused = true)]
    async fn the_attempt_limit_is_the_nearer_bound() {
        let deadline = Deadline::after(Duration::from_secs(1));
        let limit = deadline.attempt_limit(Some(Duration::from_millis(300))).unwrap();
        assert_eq!(
            (limit.duration(), limit.kind()),
            (Some(Duration::from_millis(300)), TimeoutKind::Attempt)
        );
        let limit = deadline.attempt_limit(None).unwrap();
        assert_eq!(limit.kind(), TimeoutKind::Deadline);
        tokio::time::advance(Duration::from_secs(1)).await;
        let err = deadline.attempt_limit(None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline));
        assert_eq!(Deadline::NONE.attempt_limit(None).unwrap().duration(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn within_gives_up_at_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(50));
        let never = std::future::pending::<Result<(), Error>>();
        let err = deadline.within("waiting", never).await.unwrap_err();
        assert_eq!(err.message(), "the deadline passed while waiting");
        assert!(deadline.has_passed());
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn earliest_picks_the_nearer_deadline() {
        let now = Instant::now();
        let soon = Deadline::at(now + Duration::from_secs(1));
        let later = Deadline::at(now + Duration::from_secs(2));
        assert_eq!(soon.earliest(later), soon);
        assert_eq!(later.earliest(soon), soon);
        assert_eq!(Deadline::NONE.earliest(later), later);
        assert_eq!(soon.earliest(None), soon);
    }
}
