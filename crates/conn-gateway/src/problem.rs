//! RFC 9457 problem details: every error the gateway answers, and the one
//! table that maps conn's error kinds to HTTP statuses.
//!
//! The table lives in [`mapping`] so that the code, docs/gateway.md and the
//! row-by-row tests all read the same thing.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use conn_core::{Error, ErrorKind, TimeoutKind, scrub_secrets};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

/// The media type of every problem answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What the gateway does with a failed call of a given kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Answer a problem with this status.
    Problem(StatusCode),
    /// Pass the upstream's answer through as it is (status, allowed headers,
    /// body); a problem with 502 when there is no upstream answer.
    PassThrough,
}

/// The error table: what each conn error kind becomes.
///
/// | kind | answer |
/// |---|---|
/// | `CircuitOpen` | 503 + `Retry-After` |
/// | `RateLimited` (conn's throttle or the upstream's 429) | 429 + `Retry-After` |
/// | `Timeout` (attempt or deadline) | 504 |
/// | `ServerStatus`, `Connect`, `ConnectionLost`, `Decode`, `BodyTooLarge`, `AuthProvider`, `Redirect` | 502 |
/// | `Config` (a hostile path among others) | 400 |
/// | `ClientStatus`, `Unauthorized`, `Forbidden` (upstream 4xx) | passed through |
/// | `Cancelled` | 503 |
///
/// ```
/// use conn_core::ErrorKind;
/// use conn_gateway::problem::{Mapping, mapping};
/// use http::StatusCode;
///
/// assert_eq!(mapping(ErrorKind::CircuitOpen), Mapping::Problem(StatusCode::SERVICE_UNAVAILABLE));
/// assert_eq!(mapping(ErrorKind::ClientStatus), Mapping::PassThrough);
/// ```
pub fn mapping(kind: ErrorKind) -> Mapping {
    match kind {
        ErrorKind::CircuitOpen | ErrorKind::Cancelled => Mapping::Problem(StatusCode::SERVICE_UNAVAILABLE),
        ErrorKind::RateLimited => Mapping::Problem(StatusCode::TOO_MANY_REQUESTS),
        ErrorKind::Timeout(_) => Mapping::Problem(StatusCode::GATEWAY_TIMEOUT),
        ErrorKind::Config => Mapping::Problem(StatusCode::BAD_REQUEST),
        ErrorKind::ClientStatus | ErrorKind::Unauthorized | ErrorKind::Forbidden => Mapping::PassThrough,
        // ServerStatus, Connect, ConnectionLost, Decode, BodyTooLarge,
        // AuthProvider, Redirect, and any kind added later: the upstream
        // side failed.
        _ => Mapping::Problem(StatusCode::BAD_GATEWAY),
    }
}

/// One problem answer (`application/problem+json`).
///
/// Besides RFC 9457's `type`, `title`, `status` and `detail` it carries
/// conn's members: `kind`, `transient`, `retry_after_ms`, `attempts`,
/// `correlation_id` (each only when known). The detail is conn's own
/// message, scrubbed once more: never a secret or a query value.
#[derive(Clone, Debug)]
pub struct Problem(Box<Details>);

/// The members of a problem, boxed so that `Result<_, Problem>` stays small.
#[derive(Clone, Debug)]
struct Details {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    transient: bool,
    retry_after: Option<Duration>,
    attempts: Option<u32>,
    correlation_id: Option<String>,
    extra: Map<String, Value>,
}

impl Problem {
    /// A problem of the gateway's own (`kind` is a snake_case slug).
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem(Box::new(Details {
            status,
            kind,
            title,
            detail: detail.into(),
            transient: matches!(status.as_u16(), 429 | 502 | 503 | 504),
            retry_after: None,
            attempts: None,
            correlation_id: None,
            extra: Map::new(),
        }))
    }

    /// 401: no key, or a key no caller has.
    pub fn unauthenticated(detail: &str) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
            detail,
        )
    }

    /// 403: the caller may not use this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", detail)
    }

    /// 404: no such connector, workflow or route.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    /// 503 + `Retry-After`: the gateway sheds load above its ceiling.
    pub fn overloaded() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "the gateway is at its concurrency ceiling; try again shortly",
        )
        .retry_after(Duration::from_secs(1))
    }

    /// The problem of a failed call, by [`mapping`]; `None` when the
    /// upstream's answer is to be passed through instead.
    pub fn from_error(error: &Error) -> Option<Problem> {
        let status = match mapping(error.kind()) {
            Mapping::Problem(status) => status,
            Mapping::PassThrough if error.status().is_some() && error.response_body().is_some() => {
                return None;
            }
            Mapping::PassThrough => StatusCode::BAD_GATEWAY,
        };
        let kind = error.kind();
        // The kind and conn's own message: attempts, wait and correlation id
        // have members of their own.
        let detail = scrub_secrets(&format!("{kind}: {}", error.message()));
        let mut problem = Problem::new(status, kind.label(), title_of(kind), detail);
        problem.0.transient = error.is_transient();
        if error.attempts() > 0 {
            problem.0.attempts = Some(error.attempts());
        }
        problem.0.correlation_id = error.correlation_id().map(str::to_owned);
        if matches!(kind, ErrorKind::CircuitOpen | ErrorKind::RateLimited) {
            // A Retry-After is promised for these two; one second when
            // neither conn nor the upstream said how long.
            problem.0.retry_after = Some(error.retry_after().unwrap_or(Duration::from_secs(1)));
        } else {
            problem.0.retry_after = error.retry_after();
        }
        if let Some(upstream) = error.status() {
            problem
                .0
                .extra
                .insert("upstream_status".into(), json!(upstream.as_u16()));
        }
        Some(problem)
    }

    /// Sets how long to wait before trying again (`Retry-After`, `retry_after_ms`).
    pub fn retry_after(mut self, after: Duration) -> Problem {
        self.0.retry_after = Some(after);
        self
    }

    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Problem {
        self.0.correlation_id = Some(id.into());
        self
    }

    /// Adds a member of its own (e.g. `errors` of a refused reload).
    pub fn member(mut self, name: &str, value: Value) -> Problem {
        self.0.extra.insert(name.to_owned(), value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The kind slug (`circuit_open`, `unauthenticated`, ...).
    pub fn kind(&self) -> &str {
        self.0.kind
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("urn:conn:problem:{}", self.0.kind)));
        body.insert("title".into(), json!(self.0.title));
        body.insert("status".into(), json!(self.0.status.as_u16()));
        body.insert("detail".into(), json!(self.0.detail));
        body.insert("kind".into(), json!(self.0.kind));
        body.insert("transient".into(), json!(self.0.transient));
        if let Some(after) = self.0.retry_after {
            body.insert("retry_after_ms".into(), json!(after.as_millis() as u64));
        }
        if let Some(attempts) = self.0.attempts {
            body.insert("attempts".into(), json!(attempts));
        }
        if let Some(id) = &self.0.correlation_id {
            body.insert("correlation_id".into(), json!(id));
        }
        for (name, value) in &self.0.extra {
            body.insert(name.clone(), value.clone());
        }
        Value::Object(body)
    }
}

/// Whole seconds for `Retry-After`, rounded up, at least 1 (0 would invite
/// an immediate retry storm).
pub(crate) fn retry_after_secs(after: Duration) -> u64 {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.to_json()).unwrap_or_default();
        let mut response = (self.0.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let (Some(after), true) = (self.0.retry_after, matches!(self.0.status.as_u16(), 429 | 503)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(after)));
        }
        if let Some(Ok(value)) = self.0.correlation_id.as_deref().map(HeaderValue::from_str) {
            headers.insert(crate::headers::REQUEST_ID, value);
        }
        response
    }
}

fn title_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config => "Bad request",
        ErrorKind::Connect => "Upstream unreachable",
        ErrorKind::ConnectionLost => "Upstream connection lost",
        ErrorKind::Timeout(TimeoutKind::Attempt) => "Upstream attempt timed out",
        ErrorKind::Timeout(TimeoutKind::Deadline) => "Deadline exceeded",
        ErrorKind::ServerStatus => "Upstream server error",
        ErrorKind::AuthProvider => "Upstream credentials unavailable",
        ErrorKind::RateLimited => "Rate limited",
        ErrorKind::CircuitOpen => "Circuit open",
        ErrorKind::Decode => "Upstream answer unreadable",
        ErrorKind::BodyTooLarge => "Upstream answer too large",
        ErrorKind::Redirect => "Upstream redirect refused",
        ErrorKind::Cancelled => "Cancelled",
        ErrorKind::ClientStatus | ErrorKind::Unauthorized | ErrorKind::Forbidden => {
            "Upstream refused the request"
        }
        _ => "Upstream failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_table() {
        use ErrorKind::*;
        let rows = [
            (CircuitOpen, Mapping::Problem(StatusCode::SERVICE_UNAVAILABLE)),
            (RateLimited, Mapping::Problem(StatusCode::TOO_MANY_REQUESTS)),
            (
                Timeout(TimeoutKind::Attempt),
                Mapping::Problem(StatusCode::GATEWAY_TIMEOUT),
            ),
            (
                Timeout(TimeoutKind::Deadline),
                Mapping::Problem(StatusCode::GATEWAY_TIMEOUT),
            ),
            (ServerStatus, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (Connect, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (ConnectionLost, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (Decode, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (BodyTooLarge, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (AuthProvider, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (Redirect, Mapping::Problem(StatusCode::BAD_GATEWAY)),
            (Config, Mapping::Problem(StatusCode::BAD_REQUEST)),
            (ClientStatus, Mapping::PassThrough),
            (Unauthorized, Mapping::PassThrough),
            (Forbidden, Mapping::PassThrough),
            (Cancelled, Mapping::Problem(StatusCode::SERVICE_UNAVAILABLE)),
        ];
        for (kind, expected) in rows {
            assert_eq!(mapping(kind), expected, "{kind:?}");
        }
    }

    #[test]
    fn a_pass_through_kind_without_an_upstream_answer_is_a_502() {
        let error = Error::new(ErrorKind::ClientStatus, "no answer kept");
        assert_eq!(
            Problem::from_error(&error).unwrap().status(),
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn circuit_open_promises_a_retry_after() {
        let problem = Problem::from_error(&Error::new(ErrorKind::CircuitOpen, "open")).unwrap();
        let body = problem.to_json();
        assert_eq!(body["retry_after_ms"], 1000);
        assert_eq!(body["type"], "urn:conn:problem:circuit_open");
        let response = problem.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
