//! `Response` and the report of what a call did.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};
use tokio::time::Instant;

use crate::ErrorKind;

/// The final response of a successful call, with the report of how it got there.
///
/// ```no_run
/// # async fn demo(connector: conn_core::Connector) -> Result<(), conn_core::Error> {
/// use conn_core::{Context, Request};
///
/// let response = connector.call(Request::get("/v1/items"), Context::new()).await?;
/// println!("{} after {} attempt(s)", response.status(), response.report().attempts.len());
/// println!("{}", response.report()); // a readable timeline
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
    report: CallReport,
}

impl Response {
    /// Assembles a response; the [`Connector`](crate::Connector) does this.
    pub fn new(response: http::Response<Bytes>, report: CallReport) -> Self {
        let (parts, body) = response.into_parts();
        Response {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
            report,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the response came over.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// What the call did: attempts, timings, waits.
    pub fn report(&self) -> &CallReport {
        &self.report
    }

    /// Consumes the response, returning its body.
    pub fn into_body(self) -> Bytes {
        self.body
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// A success (1xx-3xx) response was returned.
    Success,
    /// The call failed with this kind of error.
    Failed(ErrorKind),
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The API answered with this status.
    Status(StatusCode),
    /// The attempt failed without a response.
    Failed(ErrorKind),
}

/// The record of one attempt. Instants are tokio instants, so they follow a
/// paused test clock.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// 1-based number of this attempt among all sends of the call.
    pub number: u32,
    /// When the attempt began (before breaker, throttle and auth).
    pub started: Instant,
    /// When the request was handed to the transport.
    pub sent: Instant,
    /// When the response head arrived, if the transport reported it.
    pub first_byte: Option<Instant>,
    /// When the attempt ended.
    pub done: Instant,
    /// Time spent waiting for the throttle before this attempt.
    pub throttle_wait: Duration,
    /// How it ended.
    pub result: AttemptResult,
    /// Whether this attempt replays the previous one after a 401 and a
    /// credential refresh (such replays are not retries).
    pub auth_replay: bool,
    /// The delay slept after this attempt before the next one, if any.
    pub delay_after: Option<Duration>,
    /// Whether this attempt was a hedge, racing the one before it (see
    /// [`Hedging`](crate::Hedging)).
    pub hedge: bool,
}

/// The attempts of a call, in order: a vector that keeps the first one
/// inline, since most calls make one attempt and a call should not pay an
/// allocation for its report. It derefs to a slice (`len`, `iter`,
/// indexing) and converts from a `Vec` (`Vec::into`).
pub type Attempts = smallvec::SmallVec<[AttemptRecord; 1]>;

/// Everything a call did, for logs and displays without a tracing subscriber.
///
/// Its `Display` is a timeline meant for people:
///
/// ```text
/// GET /flaky -> 200 OK in 312.4 ms, 3 attempts, correlation id 4f3a...
///   #1 +0.0 ms  503 Service Unavailable  (sent +0.1, first byte +1.2, done +1.3 ms), retry in 100 ms
/// ```
#[derive(Clone, Debug)]
pub struct CallReport {
    /// The connector's name.
    pub connector: Arc<str>,
    /// The method of the call.
    pub method: Method,
    /// The endpoint path (no query).
    pub endpoint: String,
    /// The correlation id sent upstream.
    pub correlation_id: Arc<str>,
    /// When the call began.
    pub started: Instant,
    /// Total latency, waits included.
    pub total: Duration,
    /// Total time spent waiting for the throttle.
    pub throttle_wait: Duration,
    /// Every attempt, in order.
    pub attempts: Attempts,
    /// How the call ended.
    pub outcome: CallOutcome,
    /// Why the last attempt ran with degraded credentials (an auth
    /// fallback), if it did.
    pub degraded: Option<&'static str>,
}

impl CallReport {
    /// Number of retries (attempts after the first, auth replays and
    /// hedges excluded).
    pub fn retries(&self) -> u32 {
        let sends = self
            .attempts
            .iter()
            .filter(|a| !a.auth_replay && !a.hedge)
            .count() as u32;
        sends.saturating_sub(1)
    }

    /// Number of hedges sent (see [`Hedging`](crate::Hedging)).
    pub fn hedges(&self) -> u32 {
        self.attempts.iter().filter(|a| a.hedge).count() as u32
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl fmt::Display for CallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            CallOutcome::Success => match self.attempts.last().map(|a| a.result) {
                Some(AttemptResult::Status(status)) => status.to_string(),
                _ => "success".to_owned(),
            },
            CallOutcome::Failed(kind) => format!("failed: {kind}"),
        };
        write!(
            f,
            "{} {} -> {} in {:.1} ms, {} attempt(s)",
            self.method,
            self.endpoint,
            outcome,
            ms(self.total),
            self.attempts.len()
        )?;
        if self.throttle_wait >= Duration::from_micros(50) {
            write!(f, ", throttled {:.1} ms", ms(self.throttle_wait))?;
        }
        if let Some(reason) = self.degraded {
            write!(f, ", DEGRADED ({reason})")?;
        }
        write!(f, ", correlation id {}", self.correlation_id)?;
        for attempt in &self.attempts {
            let at = |i: Instant| ms(i.saturating_duration_since(attempt.started));
            let result = match attempt.result {
                AttemptResult::Status(status) => status.to_string(),
                AttemptResult::Failed(kind) => kind.to_string(),
            };
            write!(
                f,
                "\n  #{} +{:.1} ms  {}  (sent +{:.1}",
                attempt.number,
                ms(attempt.started.saturating_duration_since(self.started)),
                result,
                at(attempt.sent)
            )?;
            if let Some(first_byte) = attempt.first_byte {
                write!(f, ", first byte +{:.1}", at(first_byte))?;
            }
            write!(f, ", done +{:.1} ms)", at(attempt.done))?;
            if attempt.auth_replay {
                write!(f, ", replay after credential refresh")?;
            }
            if attempt.hedge {
                write!(f, ", hedge")?;
            }
            if let Some(delay) = attempt.delay_after {
                write!(f, ", retry in {:.0} ms", ms(delay))?;
            }
        }
        Ok(())
    }
}
