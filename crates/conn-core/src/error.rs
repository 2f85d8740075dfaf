//! The one error type of conn, and its kinds.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::CallReport;

/// A boxed error from a lower layer (hyper, rustls, a token endpoint client...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong, in terms an operator and a program can act on.
///
/// The kind decides whether a call may be tried again ([`Error::is_transient`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connector or the request is misconfigured: bad base URL, hostile
    /// endpoint path, invalid header value, missing component. Never transient.
    Config,
    /// No connection could be made (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The connection broke after the request may have been sent: reset,
    /// closed before or in the middle of the response.
    ConnectionLost,
    /// A time limit was reached.
    Timeout(TimeoutKind),
    /// The API answered with a 4xx status other than 401, 403 and 429.
    ClientStatus,
    /// The API answered with a 5xx status.
    ServerStatus,
    /// The API answered 401: the credentials were refused.
    Unauthorized,
    /// The API answered 403: the credentials lack a permission.
    Forbidden,
    /// The credentials could not be obtained (token endpoint failed, store unreadable).
    AuthProvider,
    /// The API (429) or a local throttle said to slow down.
    RateLimited,
    /// A circuit breaker is open for this endpoint: the call was not sent.
    CircuitOpen,
    /// The response body could not be decoded (malformed JSON or XML, wrong charset...).
    Decode,
    /// The response body exceeded the configured size limit.
    BodyTooLarge,
    /// A redirect was refused: to another origin, or past the hop limit.
    Redirect,
    /// The call was cancelled before it completed.
    Cancelled,
}

/// Which time limit a [`ErrorKind::Timeout`] hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The per-attempt timeout: this attempt took too long.
    Attempt,
    /// The deadline of the whole call (total timeout or the context's deadline).
    Deadline,
}

impl ErrorKind {
    /// The kind a final response status maps to; `None` for success (1xx-3xx).
    ///
    /// ```
    /// use conn_core::ErrorKind;
    /// use http::StatusCode;
    ///
    /// assert_eq!(ErrorKind::from_status(StatusCode::TOO_MANY_REQUESTS), Some(ErrorKind::RateLimited));
    /// assert_eq!(ErrorKind::from_status(StatusCode::NOT_FOUND), Some(ErrorKind::ClientStatus));
    /// assert_eq!(ErrorKind::from_status(StatusCode::OK), None);
    /// ```
    pub fn from_status(status: StatusCode) -> Option<ErrorKind> {
        match status.as_u16() {
            401 => Some(ErrorKind::Unauthorized),
            403 => Some(ErrorKind::Forbidden),
            429 => Some(ErrorKind::RateLimited),
            400..=499 => Some(ErrorKind::ClientStatus),
            500..=599 => Some(ErrorKind::ServerStatus),
            _ => None,
        }
    }

    /// A short, stable, snake_case name for metric labels and `error.type`.
    ///
    /// ```
    /// use conn_core::{ErrorKind, TimeoutKind};
    ///
    /// assert_eq!(ErrorKind::Timeout(TimeoutKind::Deadline).label(), "timeout_deadline");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Connect => "connect",
            ErrorKind::ConnectionLost => "connection_lost",
            ErrorKind::Timeout(TimeoutKind::Attempt) => "timeout_attempt",
            ErrorKind::Timeout(TimeoutKind::Deadline) => "timeout_deadline",
            ErrorKind::ClientStatus => "client_status",
            ErrorKind::ServerStatus => "server_status",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::AuthProvider => "auth_provider",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Decode => "decode",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::Connect => "connect error",
            ErrorKind::ConnectionLost => "connection lost",
            ErrorKind::Timeout(TimeoutKind::Attempt) => "attempt timed out",
            ErrorKind::Timeout(TimeoutKind::Deadline) => "deadline exceeded",
            ErrorKind::ClientStatus => "client error status",
            ErrorKind::ServerStatus => "server error status",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::AuthProvider => "auth provider error",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::CircuitOpen => "circuit open",
            ErrorKind::Decode => "decode error",
            ErrorKind::BodyTooLarge => "body too large",
            ErrorKind::Redirect => "redirect refused",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The error of every conn operation: one opaque type with `is_*()` queries.
///
/// Its `Display` and `Debug` never show a secret, a response body, header
/// values or query-string values: only the kind, a message written by conn,
/// the status, the attempt count, the correlation id and the lower-level cause.
///
/// ```
/// use conn_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Connect, "connection refused");
/// assert!(err.is_connect());
/// assert!(err.is_transient());
/// assert_eq!(err.to_string(), "connect error: connection refused");
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    status: Option<StatusCode>,
    attempts: u32,
    correlation_id: Option<Arc<str>>,
    retry_after: Option<Duration>,
    /// Set when the kind alone does not say (an auth provider outage is
    /// transient, a refused client secret is not).
    transient: Option<bool>,
    source: Option<BoxError>,
    headers: Option<HeaderMap>,
    body: Option<Bytes>,
    report: Option<CallReport>,
}

impl Error {
    /// A new error of `kind`. The message must not contain secrets or
    /// query-string values: write what happened, not what was sent.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: None,
                attempts: 0,
                correlation_id: None,
                retry_after: None,
                transient: None,
                source: None,
                headers: None,
                body: None,
                report: None,
            }),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// The error for a final response `status` that is not a success, keeping
    /// the response headers and body for the caller to inspect.
    ///
    /// Returns `None` for 1xx-3xx statuses.
    pub fn from_response(status: StatusCode, headers: HeaderMap, body: Bytes) -> Option<Self> {
        let kind = ErrorKind::from_status(status)?;
        let mut err = Error::new(kind, format!("the API answered {status}"));
        err.inner.status = Some(status);
        err.inner.headers = Some(headers);
        err.inner.body = Some(body);
        Some(err)
    }

    /// Attaches the lower-level cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Records the status the API answered with.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Says when it makes sense to try again (rate limited, circuit open).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner.retry_after = Some(after);
        self
    }

    /// Attaches the report of what the call did, and with it the call's
    /// attempt count and correlation id; the [`Connector`](crate::Connector)
    /// does this for every error it returns.
    pub fn with_report(mut self, report: CallReport) -> Self {
        self.inner.attempts = u32::try_from(report.attempts.len()).unwrap_or(u32::MAX);
        self.inner.correlation_id = Some(report.correlation_id.clone());
        self.inner.report = Some(report);
        self
    }

    /// Says whether trying again later may succeed, where the kind alone
    /// does not decide it: an [`AuthProvider`](ErrorKind::AuthProvider) error
    /// is transient when the token endpoint was down, permanent when it
    /// refused the client's credentials.
    ///
    /// ```
    /// use conn_core::{Error, ErrorKind};
    ///
    /// let outage = Error::new(ErrorKind::AuthProvider, "the token endpoint answered 503").transient(true);
    /// assert!(outage.is_transient());
    /// assert!(!Error::new(ErrorKind::AuthProvider, "invalid_client").is_transient());
    /// ```
    pub fn transient(mut self, transient: bool) -> Self {
        self.inner.transient = Some(transient);
        self
    }

    /// Takes the lower-level cause out, leaving none.
    pub fn take_source(&mut self) -> Option<BoxError> {
        self.inner.source.take()
    }

    /// Appends context to the message, e.g. why no further attempt was made.
    pub fn with_note(mut self, note: &str) -> Self {
        let message = format!("{} ({note})", self.inner.message);
        self.inner.message = Cow::Owned(message);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message conn wrote for this error (no kind, no cause).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The final HTTP status, when the API answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// How many attempts were sent (0 when the call failed before sending).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The correlation id of the call, as sent upstream.
    pub fn correlation_id(&self) -> Option<&str> {
        self.inner.correlation_id.as_deref()
    }

    /// When trying again makes sense, if known (Retry-After, breaker cooldown).
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The headers of the final response, when the API answered.
    pub fn response_headers(&self) -> Option<&HeaderMap> {
        self.inner.headers.as_ref()
    }

    /// The body of the final response, when the API answered (never shown by
    /// `Display` or `Debug`).
    pub fn response_body(&self) -> Option<&Bytes> {
        self.inner.body.as_ref()
    }

    /// What the call did before it failed: attempts, timings, delays.
    pub fn report(&self) -> Option<&CallReport> {
        self.inner.report.as_ref()
    }

    /// Whether trying the same call again later may succeed: connect errors,
    /// lost connections, timeouts, 408, 425, 429, 5xx other than 501 and 505,
    /// an open circuit, and errors marked [`transient`](Self::transient)
    /// (an auth provider that was down).
    pub fn is_transient(&self) -> bool {
        if let Some(transient) = self.inner.transient {
            return transient;
        }
        match self.inner.kind {
            ErrorKind::Connect
            | ErrorKind::ConnectionLost
            | ErrorKind::Timeout(_)
            | ErrorKind::RateLimited
            | ErrorKind::CircuitOpen => true,
            ErrorKind::ClientStatus => {
                matches!(self.inner.status.map(|s| s.as_u16()), Some(408 | 425))
            }
            ErrorKind::ServerStatus => !matches!(self.inner.status.map(|s| s.as_u16()), Some(501 | 505)),
            _ => false,
        }
    }

    /// Whether this is a configuration error.
    pub fn is_config(&self) -> bool {
        self.inner.kind == ErrorKind::Config
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
    }

    /// Whether the connection broke after the request may have been sent.
    pub fn is_connection_lost(&self) -> bool {
        self.inner.kind == ErrorKind::ConnectionLost
    }

    /// Whether a time limit (attempt or deadline) was reached.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout(_))
    }

    /// Whether the API answered with an error status (4xx or 5xx).
    pub fn is_status(&self) -> bool {
        self.inner
            .status
            .is_some_and(|s| s.is_client_error() || s.is_server_error())
    }

    /// Whether the API answered 401.
    pub fn is_unauthorized(&self) -> bool {
        self.inner.kind == ErrorKind::Unauthorized
    }

    /// Whether the API answered 403.
    pub fn is_forbidden(&self) -> bool {
        self.inner.kind == ErrorKind::Forbidden
    }

    /// Whether obtaining credentials failed.
    pub fn is_auth_provider(&self) -> bool {
        self.inner.kind == ErrorKind::AuthProvider
    }

    /// Whether the API or a local throttle said to slow down.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == ErrorKind::RateLimited
    }

    /// Whether a circuit breaker refused the call.
    pub fn is_circuit_open(&self) -> bool {
        self.inner.kind == ErrorKind::CircuitOpen
    }

    /// Whether the body could not be decoded.
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// Whether the body exceeded the size limit.
    pub fn is_body_too_large(&self) -> bool {
        self.inner.kind == ErrorKind::BodyTooLarge
    }

    /// Whether a redirect was refused.
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == ErrorKind::Redirect
    }

    /// Whether the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.kind == ErrorKind::Cancelled
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        let mut extras = Vec::new();
        if self.inner.attempts > 1 {
            extras.push(format!("{} attempts", self.inner.attempts));
        }
        if let Some(after) = self.inner.retry_after {
            extras.push(format!("retry after {} ms", after.as_millis()));
        }
        if let Some(id) = &self.inner.correlation_id {
            extras.push(format!("correlation id {id}"));
        }
        if !extras.is_empty() {
            write!(f, " [{}]", extras.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately not derived: headers and body may carry secrets.
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("status", &self.inner.status)
            .field("attempts", &self.inner.attempts)
            .field("correlation_id", &self.inner.correlation_id)
            .field("retry_after", &self.inner.retry_after)
            .field("source", &self.inner.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
