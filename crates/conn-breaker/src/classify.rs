//! What counts as a failure: the verdict on one attempt's outcome.

use std::fmt;
use std::sync::Arc;

use conn_core::{AttemptOutcome, ErrorKind};

/// How one attempt's outcome counts for the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The upstream worked (it answered, even with a 4xx): counts as a call,
    /// resets the consecutive-failure count, and counts towards closing a
    /// half-open circuit.
    Success,
    /// The upstream is failing: counts towards every trip condition and
    /// reopens a half-open circuit.
    Failure,
    /// Says nothing about the upstream's health (a local configuration error,
    /// an over-large body): not counted at all; a half-open probe slot it held
    /// is given back for another probe.
    Ignore,
}

/// A user rule run before the built-in ones: `Some(verdict)` decides,
/// `None` defers to the status / kind overrides and then to the default.
pub type Classifier = Arc<dyn Fn(&AttemptOutcome<'_>) -> Option<Verdict> + Send + Sync>;

/// The classification rules of one breaker: a user rule, per-status and
/// per-kind overrides, then [`default_verdict`].
#[derive(Clone, Default)]
pub(crate) struct Classify {
    pub(crate) custom: Option<Classifier>,
    pub(crate) statuses: Vec<(u16, Verdict)>,
    pub(crate) kinds: Vec<(ErrorKind, Verdict)>,
}

impl Classify {
    /// The verdict on `outcome`. The override lists are short (a few
    /// entries), so a linear scan beats any map here.
    pub(crate) fn verdict(&self, outcome: &AttemptOutcome<'_>) -> Verdict {
        if let Some(custom) = &self.custom
            && let Some(verdict) = custom(outcome)
        {
            return verdict;
        }
        match outcome.result {
            Ok(response) => {
                let status = response.status().as_u16();
                if let Some((_, verdict)) = self.statuses.iter().find(|(s, _)| *s == status) {
                    return *verdict;
                }
            }
            Err(error) => {
                if let Some((_, verdict)) = self.kinds.iter().find(|(k, _)| *k == error.kind()) {
                    return *verdict;
                }
            }
        }
        default_verdict(outcome)
    }
}

impl fmt::Debug for Classify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classify")
            .field("custom", &self.custom.is_some())
            .field("statuses", &self.statuses)
            .field("kinds", &self.kinds)
            .finish()
    }
}

/// The built-in rule:
///
/// - a response with a 5xx status is a failure, except 501 and 505 (the
///   endpoint or the HTTP version is unsupported: retrying later will not help,
///   and the server is evidently up); every other status, 4xx included, is a
///   success — the server answered, and a 404 or 429 is not an outage;
/// - an error that [`is_transient`](conn_core::Error::is_transient) (connect
///   refused, connection lost, attempt timeout...) is a failure;
/// - any other error (configuration, body too large, decode, redirect
///   refused, cancelled) is ignored: it says nothing about the upstream's health.
///
/// ```
/// use std::time::Duration;
/// use conn_breaker::{Verdict, default_verdict};
/// use conn_core::{AttemptOutcome, Error, ErrorKind, ServerHints};
///
/// let refused = Error::new(ErrorKind::Connect, "connection refused");
/// let outcome = AttemptOutcome { result: Err(&refused), latency: Duration::ZERO, hints: ServerHints::default() };
/// assert_eq!(default_verdict(&outcome), Verdict::Failure);
/// ```
pub fn default_verdict(outcome: &AttemptOutcome<'_>) -> Verdict {
    match outcome.result {
        Ok(response) => {
            let status = response.status();
            if status.is_server_error() && !matches!(status.as_u16(), 501 | 505) {
                Verdict::Failure
            } else {
                Verdict::Success
            }
        }
        Err(error) if error.is_transient() => Verdict::Failure,
        Err(_) => Verdict::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use conn_core::{Error, ServerHints, TimeoutKind, TransportResponse};

    use super::*;

    fn response(status: u16) -> TransportResponse {
        TransportResponse::new(
            http::Response::builder()
                .status(status)
                .body(Bytes::new())
                .unwrap(),
        )
    }

    fn verdict_of(classify: &Classify, result: Result<&TransportResponse, &Error>) -> Verdict {
        classify.verdict(&AttemptOutcome {
            result,
            latency: Duration::ZERO,
            hints: ServerHints::default(),
        })
    }

    #[test]
    fn default_rules() {
        let c = Classify::default();
        for (status, expected) in [
            (200, Verdict::Success),
            (302, Verdict::Success),
            (404, Verdict::Success),
            (408, Verdict::Success),
            (429, Verdict::Success),
            (500, Verdict::Failure),
            (501, Verdict::Success),
            (502, Verdict::Failure),
            (503, Verdict::Failure),
            (504, Verdict::Failure),
            (505, Verdict::Success),
        ] {
            assert_eq!(verdict_of(&c, Ok(&response(status))), expected, "{status}");
        }
        for (kind, expected) in [
            (ErrorKind::Connect, Verdict::Failure),
            (ErrorKind::ConnectionLost, Verdict::Failure),
            (ErrorKind::Timeout(TimeoutKind::Attempt), Verdict::Failure),
            (ErrorKind::Config, Verdict::Ignore),
            (ErrorKind::BodyTooLarge, Verdict::Ignore),
            (ErrorKind::Decode, Verdict::Ignore),
            (ErrorKind::Cancelled, Verdict::Ignore),
        ] {
            assert_eq!(verdict_of(&c, Err(&Error::new(kind, "x"))), expected, "{kind:?}");
        }
    }

    #[test]
    fn overrides_then_custom_rule_win() {
        let mut c = Classify {
            statuses: vec![(404, Verdict::Failure), (500, Verdict::Ignore)],
            kinds: vec![(ErrorKind::BodyTooLarge, Verdict::Failure)],
            custom: None,
        };
        assert_eq!(verdict_of(&c, Ok(&response(404))), Verdict::Failure);
        assert_eq!(verdict_of(&c, Ok(&response(500))), Verdict::Ignore);
        assert_eq!(verdict_of(&c, Ok(&response(502))), Verdict::Failure);
        let too_large = Error::new(ErrorKind::BodyTooLarge, "x");
        assert_eq!(verdict_of(&c, Err(&too_large)), Verdict::Failure);

        c.custom = Some(Arc::new(|o: &AttemptOutcome<'_>| {
            (o.status().map(|s| s.as_u16()) == Some(404)).then_some(Verdict::Success)
        }));
        assert_eq!(verdict_of(&c, Ok(&response(404))), Verdict::Success);
        assert_eq!(verdict_of(&c, Ok(&response(500))), Verdict::Ignore);
    }
}
