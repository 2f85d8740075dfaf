//! `Connector`: one integration, and the pipeline every call runs through.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{Instrument, Span};

use crate::telemetry::{self, ConnectorMetrics, InFlight};
use crate::{
    AttemptOutcome, AttemptRecord, AttemptResult, AuthStrategy, BaseUrl, Breaker, CallInfo, CallOutcome,
    CallReport, Context, Document, Error, ErrorKind, HintParser, JsonPassThrough, NoAuth, NoBreaker, NoRetry,
    NoThrottle, Normalizer, Request, Response, RetryDecision, RetryPolicy, ServerHints, Telemetry, Throttle,
    TimeoutKind, Transport, TransportRequest, TransportResponse,
};

/// The default correlation header.
pub const DEFAULT_CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Per-attempt timeout unless configured: generous, but an attempt never hangs forever.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Total timeout of a call (attempts and waits) unless configured.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(120);

/// One integration with one API: a base URL plus the components every call
/// runs through, in this fixed order for each attempt:
///
/// 1. `breaker.admit` — an open circuit fails fast;
/// 2. `throttle.acquire` — waits for capacity, never past the deadline;
/// 3. `auth.authorize` — adds credentials to a fresh copy of the request;
/// 4. `transport.send` — under the per-attempt timeout (capped by the deadline);
/// 5. server hints parsed once from the response, then `throttle.observe`
///    and `breaker.record`;
/// 6. on a 401, once per call: `auth.refresh` and a replay that is not a retry;
/// 7. `retry.decide` — sleeps the delay (only if it ends before the deadline)
///    and loops.
///
/// The final status decides the result: 1xx-3xx are `Ok`, 4xx/5xx become a
/// classified [`Error`] that keeps the response. `Connector` is cheap to clone
/// (an `Arc` inside) and is shared freely across tasks.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use conn_core::{Connector, Context, Request};
/// # fn transport() -> Arc<dyn conn_core::Transport> { unimplemented!() }
///
/// # async fn demo() -> Result<(), conn_core::Error> {
/// let connector = Connector::builder("billing")
///     .base_url("https://api.billing.example/v1")
///     .transport(transport())
///     .attempt_timeout(Duration::from_secs(5))
///     .build()?;
///
/// let response = connector.call(Request::get("/invoices"), Context::new().tenant("acme")).await?;
/// println!("{}", response.report());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    base: BaseUrl,
    default_headers: HeaderMap,
    attempt_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    correlation_header: Option<HeaderName>,
    hints: HintParser,
    telemetry: Telemetry,
    /// Metric handles, registered on the first instrumented call.
    metrics: std::sync::OnceLock<ConnectorMetrics>,
    transport: Arc<dyn Transport>,
    auth: Arc<dyn AuthStrategy>,
    retry: Arc<dyn RetryPolicy>,
    throttle: Arc<dyn Throttle>,
    breaker: Arc<dyn Breaker>,
    normalizer: Arc<dyn Normalizer>,
}

impl Connector {
    /// Starts building a connector named `name` (the name appears in reports,
    /// logs and metrics).
    pub fn builder(name: impl Into<String>) -> ConnectorBuilder {
        ConnectorBuilder::new(name.into())
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The base URL every endpoint is joined onto.
    pub fn base_url(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// Runs `request` through the pipeline and returns the final response.
    ///
    /// Errors carry the attempt count, the correlation id and the
    /// [`CallReport`]; a final 4xx/5xx status is an error of the matching kind.
    pub async fn call(&self, request: Request, mut context: Context) -> Result<Response, Error> {
        let inner = &*self.inner;
        let started = Instant::now();
        let correlation = context.ensure_correlation_id();
        let endpoint = request.endpoint().split('?').next().unwrap_or_default();
        let mut report = CallReport {
            connector: inner.name.clone(),
            method: request.method().clone(),
            endpoint: endpoint.to_owned(),
            correlation_id: correlation.clone(),
            started,
            total: Duration::ZERO,
            throttle_wait: Duration::ZERO,
            attempts: Vec::new(),
            outcome: CallOutcome::Success,
            degraded: None,
        };
        let telemetry = inner.telemetry;
        let span = if telemetry.enabled {
            tracing::info_span!(
                "conn.call",
                "otel.kind" = "client",
                "http.request.method" = %request.method(),
                "server.address" = inner.base.authority().host(),
                "url.path" = endpoint,
                "conn.connector" = &*inner.name,
                "conn.tenant" = context.tenant_id().unwrap_or_default(),
                "conn.correlation_id" = &*correlation,
                "http.response.status_code" = tracing::field::Empty,
                "error.type" = tracing::field::Empty,
                "http.request.resend_count" = tracing::field::Empty,
            )
        } else {
            Span::none()
        };
        let metrics = telemetry
            .enabled
            .then(|| inner.metrics.get_or_init(|| ConnectorMetrics::new(&inner.name)));
        let in_flight = InFlight::start(metrics);
        let result = self
            .run(&request, &context, &correlation, &mut report)
            .instrument(span.clone())
            .await;
        drop(in_flight);
        report.total = started.elapsed();
        if telemetry.enabled {
            let (status, outcome) = match &result {
                Ok(response) => (Some(response.status()), "success"),
                Err(err) => (err.status(), err.kind().label()),
            };
            if let Some(status) = status {
                span.record("http.response.status_code", status.as_u16());
            }
            if result.is_err() {
                span.record("error.type", outcome);
            }
            let resends = report.attempts.len().saturating_sub(1);
            if resends > 0 {
                span.record("http.request.resend_count", resends);
            }
            tracing::debug!(
                parent: &span,
                outcome,
                attempts = report.attempts.len(),
                duration_ms = report.total.as_secs_f64() * 1000.0,
                "call finished"
            );
            if let Some(metrics) = metrics {
                metrics.call_finished(&telemetry, &report, context.tenant_id(), status, outcome);
            }
        }
        match result {
            Ok(response) => Ok(Response::new(response, report)),
            Err(err) => {
                report.outcome = CallOutcome::Failed(err.kind());
                let attempts = report.attempts.len() as u32;
                Err(err
                    .with_attempts(attempts)
                    .with_correlation_id(correlation)
                    .with_report(report))
            }
        }
    }

    /// Runs the call, then normalizes the body into a [`Document`].
    pub async fn call_document(
        &self,
        request: Request,
        context: Context,
    ) -> Result<(Document, Response), Error> {
        let response = self.call(request, context).await?;
        match self.inner.normalizer.normalize(&response) {
            Ok(document) => Ok((document, response)),
            Err(err) => {
                let report = response.report();
                Err(err
                    .with_attempts(report.attempts.len() as u32)
                    .with_correlation_id(report.correlation_id.clone())
                    .with_report(report.clone()))
            }
        }
    }

    /// Runs the call and decodes the normalized body into `T`.
    pub async fn call_as<T: DeserializeOwned>(&self, request: Request, context: Context) -> Result<T, Error> {
        let (document, response) = self.call_document(request, context).await?;
        document.decode().map_err(|err| {
            let report = response.report();
            err.with_attempts(report.attempts.len() as u32)
                .with_correlation_id(report.correlation_id.clone())
                .with_report(report.clone())
        })
    }

    async fn run(
        &self,
        request: &Request,
        context: &Context,
        correlation: &str,
        report: &mut CallReport,
    ) -> Result<http::Response<Bytes>, Error> {
        let inner = &*self.inner;
        let telemetry = inner.telemetry;
        request.check()?;
        let path = inner.base.join(request.endpoint())?;
        let deadline = earliest(
            context.deadline_at(),
            inner.total_timeout.and_then(|t| report.started.checked_add(t)),
        );
        let mut attempt = 1;
        let mut refreshed = false;
        let mut replay = false;
        let mut previous_delay = None;
        loop {
            let call = CallInfo {
                connector: &inner.name,
                request,
                context,
                attempt,
                started: report.started,
                deadline,
                previous_delay,
            };
            let number = report.attempts.len() as u32 + 1;
            let span = if telemetry.enabled {
                tracing::debug_span!(
                    "conn.attempt",
                    "conn.attempt" = number,
                    "http.request.resend_count" = number - 1,
                    "conn.throttle.wait_ms" = tracing::field::Empty,
                    "conn.breaker.state" = tracing::field::Empty,
                    "http.response.status_code" = tracing::field::Empty,
                    "error.type" = tracing::field::Empty,
                    "conn.retry.delay_ms" = tracing::field::Empty,
                )
            } else {
                Span::none()
            };
            let started = Instant::now();
            let breaker_permit = match inner.breaker.admit(&call) {
                Ok(permit) => permit,
                Err(err) => {
                    span.record("conn.breaker.state", "open");
                    span.record("error.type", err.kind().label());
                    return Err(err);
                }
            };
            let throttle_permit = match within(
                deadline,
                "waiting for the throttle",
                inner.throttle.acquire(&call),
            )
            .instrument(span.clone())
            .await
            {
                Ok(permit) => permit,
                Err(err) => {
                    if telemetry.enabled && err.is_rate_limited() {
                        tracing::debug!(parent: &span, reason = err.message(), "throttle refused the attempt");
                        if let Some(metrics) = inner.metrics.get() {
                            metrics.throttle_rejected();
                        }
                    }
                    return Err(err);
                }
            };
            let throttle_wait = started.elapsed();
            report.throttle_wait += throttle_wait;
            if telemetry.enabled {
                let wait_ms = throttle_wait.as_secs_f64() * 1000.0;
                span.record("conn.throttle.wait_ms", wait_ms);
                if let Some(metrics) = inner.metrics.get() {
                    metrics.throttle_wait(throttle_wait.as_secs_f64());
                }
                if throttle_wait >= Duration::from_millis(1) {
                    tracing::debug!(parent: &span, conn.throttle.wait_ms = wait_ms, "throttled");
                }
            }

            let mut outgoing = request.clone();
            within(
                deadline,
                "authorizing",
                inner.auth.authorize(&mut outgoing, context),
            )
            .instrument(span.clone())
            .await?;
            if let Some(reason) = outgoing.degraded() {
                if report.degraded.is_none() && telemetry.enabled {
                    telemetry::degraded(&inner.name, reason);
                }
            }
            report.degraded = outgoing.degraded();
            let wire = self.prepare(outgoing, &path, correlation)?;
            if telemetry.trace_bodies && telemetry.enabled {
                tracing::trace!(parent: &span, body = %telemetry::body_for_trace(wire.request.body()), "request body");
            }
            let (limit, limit_kind) = attempt_limit(request, inner.attempt_timeout, deadline)?;

            let sent = Instant::now();
            let send = inner.transport.send(wire).instrument(span.clone());
            let result = match limit {
                Some(limit) => tokio::time::timeout(limit, send).await.unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Timeout(limit_kind),
                        format!("no complete response within {} ms", limit.as_millis()),
                    ))
                }),
                None => send.await,
            };
            let done = Instant::now();
            drop(throttle_permit);

            let hints = match &result {
                Ok(response) => inner.hints.parse(response.headers(), SystemTime::now()),
                Err(_) => ServerHints::default(),
            };
            let outcome = AttemptOutcome {
                result: result.as_ref(),
                latency: done - sent,
                hints,
            };
            inner.throttle.observe(&call, &outcome);
            inner.breaker.record(&call, breaker_permit, &outcome);
            let mut record = AttemptRecord {
                number,
                started,
                sent,
                first_byte: result.as_ref().ok().and_then(|r| r.first_byte),
                done,
                throttle_wait,
                result: match &result {
                    Ok(response) => AttemptResult::Status(response.status()),
                    Err(err) => AttemptResult::Failed(err.kind()),
                },
                auth_replay: replay,
                delay_after: None,
            };
            if telemetry.enabled {
                match &result {
                    Ok(response) => {
                        span.record("http.response.status_code", response.status().as_u16());
                        if telemetry.trace_bodies {
                            tracing::trace!(
                                parent: &span,
                                body = %telemetry::body_for_trace(response.body()),
                                "response body"
                            );
                        }
                    }
                    Err(err) => {
                        span.record("error.type", err.kind().label());
                    }
                }
            }

            let unauthorized = matches!(&result, Ok(r) if r.status() == http::StatusCode::UNAUTHORIZED);
            if unauthorized && !refreshed {
                refreshed = true;
                if within(deadline, "refreshing credentials", inner.auth.refresh(context))
                    .instrument(span.clone())
                    .await?
                {
                    tracing::debug!(parent: &span, "credentials refreshed after 401; replaying");
                    report.attempts.push(record);
                    replay = true;
                    continue;
                }
            }

            let note = match inner.retry.decide(&call, &outcome) {
                RetryDecision::Retry { delay } if ends_before(delay, deadline) => {
                    record.delay_after = Some(delay);
                    report.attempts.push(record);
                    if telemetry.enabled {
                        let reason = telemetry::retry_reason(
                            outcome_status(&result),
                            result.as_ref().err().map(Error::kind),
                        );
                        let delay_ms = delay.as_millis() as u64;
                        span.record("conn.retry.delay_ms", delay_ms);
                        tracing::debug!(parent: &span, conn.retry.delay_ms = delay_ms, reason = %reason, "retry scheduled");
                        metrics::counter!(telemetry::RETRIES_TOTAL, "connector" => inner.name.clone(), "reason" => reason)
                            .increment(1);
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    replay = false;
                    previous_delay = Some(delay);
                    continue;
                }
                RetryDecision::Retry { .. } => {
                    Some("no time left before the deadline for another attempt".into())
                }
                RetryDecision::GiveUp { reason } => Some(reason),
                RetryDecision::Stop => None,
            };
            report.attempts.push(record);
            let final_result = finish(result, &hints);
            return match note {
                Some(note) => final_result.map_err(|e| e.with_note(&note)),
                None => final_result,
            };
        }
    }

    /// Builds the wire request for one attempt.
    fn prepare(&self, outgoing: Request, path: &str, correlation: &str) -> Result<TransportRequest, Error> {
        let inner = &*self.inner;
        let uri = inner.base.uri(path, &outgoing.query)?;
        let mut headers = if inner.default_headers.is_empty() {
            outgoing.headers
        } else {
            let mut headers = inner.default_headers.clone();
            headers.extend(outgoing.headers);
            headers
        };
        if let Some(name) = &inner.correlation_header {
            if !headers.contains_key(name) {
                let value = HeaderValue::from_str(correlation)
                    .map_err(|_| Error::config("the correlation id is not a valid header value"))?;
                headers.insert(name.clone(), value);
            }
        }
        let mut request = http::Request::new(outgoing.body);
        *request.method_mut() = outgoing.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(TransportRequest {
            request,
            credentials: outgoing.credentials,
        })
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.inner.name)
            .field("base", &self.inner.base)
            .field("attempt_timeout", &self.inner.attempt_timeout)
            .field("total_timeout", &self.inner.total_timeout)
            .finish_non_exhaustive()
    }
}

/// The final result of a call from the last attempt's outcome.
fn finish(
    result: Result<TransportResponse, Error>,
    hints: &ServerHints,
) -> Result<http::Response<Bytes>, Error> {
    let response = result?.response;
    let status = response.status();
    if ErrorKind::from_status(status).is_none() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    match Error::from_response(status, parts.headers, body) {
        Some(err) => Err(match hints.wait() {
            Some(after) => err.with_retry_after(after),
            None => err,
        }),
        None => unreachable!("from_status and from_response agree on what is an error"),
    }
}

/// The status of an attempt that got a response.
fn outcome_status(result: &Result<TransportResponse, Error>) -> Option<http::StatusCode> {
    result.as_ref().ok().map(TransportResponse::status)
}

/// Whether a sleep of `delay` starting now ends before `deadline` (an
/// overflowing delay never does).
fn ends_before(delay: Duration, deadline: Option<Instant>) -> bool {
    match deadline {
        Some(deadline) => Instant::now()
            .checked_add(delay)
            .is_some_and(|end| end < deadline),
        None => true,
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The time limit of the next attempt and which bound sets it.
fn attempt_limit(
    request: &Request,
    attempt_timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<(Option<Duration>, TimeoutKind), Error> {
    let per_attempt = request.attempt_timeout().or(attempt_timeout);
    let Some(deadline) = deadline else {
        return Ok((per_attempt, TimeoutKind::Attempt));
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(Error::new(
            ErrorKind::Timeout(TimeoutKind::Deadline),
            "the deadline passed before the attempt could be sent",
        ));
    }
    Ok(match per_attempt {
        Some(limit) if limit < remaining => (Some(limit), TimeoutKind::Attempt),
        _ => (Some(remaining), TimeoutKind::Deadline),
    })
}

/// Awaits `future`, giving up with a deadline error at `deadline`.
async fn within<T>(
    deadline: Option<Instant>,
    what: &'static str,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout(TimeoutKind::Deadline),
                    format!("the deadline passed while {what}"),
                ))
            }),
        None => future.await,
    }
}

/// Builds a [`Connector`]. Only the base URL and the transport are required;
/// every other component defaults to its pass-through implementation.
pub struct ConnectorBuilder {
    name: String,
    base_url: Option<String>,
    allow_http: bool,
    default_headers: HeaderMap,
    invalid: Option<&'static str>,
    attempt_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    correlation_header: Option<HeaderName>,
    hints: HintParser,
    telemetry: Telemetry,
    transport: Option<Arc<dyn Transport>>,
    auth: Arc<dyn AuthStrategy>,
    retry: Arc<dyn RetryPolicy>,
    throttle: Arc<dyn Throttle>,
    breaker: Arc<dyn Breaker>,
    normalizer: Arc<dyn Normalizer>,
}

impl ConnectorBuilder {
    fn new(name: String) -> Self {
        ConnectorBuilder {
            name,
            base_url: None,
            allow_http: false,
            default_headers: HeaderMap::new(),
            invalid: None,
            attempt_timeout: Some(DEFAULT_ATTEMPT_TIMEOUT),
            total_timeout: Some(DEFAULT_TOTAL_TIMEOUT),
            correlation_header: Some(DEFAULT_CORRELATION_HEADER),
            hints: HintParser::default(),
            telemetry: Telemetry::default(),
            transport: None,
            auth: Arc::new(NoAuth),
            retry: Arc::new(NoRetry),
            throttle: Arc::new(NoThrottle),
            breaker: Arc::new(NoBreaker),
            normalizer: Arc::new(JsonPassThrough),
        }
    }

    /// The base URL every endpoint is joined onto (`https://` unless
    /// [`allow_http`](Self::allow_http) is set).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows a plain `http://` base URL (local services, tests). Off by default.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// A header sent with every request (a request's own header wins).
    pub fn default_header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.default_headers.insert(name, value);
            }
            (Err(_), _) => self.invalid = Some("invalid default header name"),
            (_, Err(_)) => self.invalid = Some("invalid default header value"),
        }
        self
    }

    /// Time limit of each attempt, body included (default 30 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Time limit of a whole call, retries and waits included (default 120 s).
    /// A context deadline that is earlier wins.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// Removes the default time limits (a context deadline still applies).
    pub fn no_timeouts(mut self) -> Self {
        self.attempt_timeout = None;
        self.total_timeout = None;
        self
    }

    /// The header that carries the correlation id (default `X-Request-Id`);
    /// `None` sends none.
    pub fn correlation_header(mut self, name: Option<HeaderName>) -> Self {
        self.correlation_header = name;
        self
    }

    /// How server hints (Retry-After, RateLimit fields, vendor reset headers)
    /// are read from this API's responses (default: the standard fields plus
    /// `X-RateLimit-Reset` in any common format).
    pub fn server_hints(mut self, parser: HintParser) -> Self {
        self.hints = parser;
        self
    }

    /// Instrumentation: spans, events, metrics, body tracing, label choices
    /// (default: on, bodies off, no endpoint or tenant labels).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The transport (required).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The auth strategy (default: none).
    pub fn auth(mut self, auth: Arc<dyn AuthStrategy>) -> Self {
        self.auth = auth;
        self
    }

    /// The retry policy (default: never retry).
    pub fn retry(mut self, retry: Arc<dyn RetryPolicy>) -> Self {
        self.retry = retry;
        self
    }

    /// The throttle (default: none). Pass the same `Arc` to several
    /// connectors to share one quota.
    pub fn throttle(mut self, throttle: Arc<dyn Throttle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// The circuit breaker (default: always closed).
    pub fn breaker(mut self, breaker: Arc<dyn Breaker>) -> Self {
        self.breaker = breaker;
        self
    }

    /// The normalizer used by [`Connector::call_document`] (default: JSON pass-through).
    pub fn normalizer(mut self, normalizer: Arc<dyn Normalizer>) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Validates the configuration and builds the connector.
    pub fn build(self) -> Result<Connector, Error> {
        if let Some(reason) = self.invalid {
            return Err(Error::config(reason));
        }
        let base_url = self
            .base_url
            .ok_or_else(|| Error::config("the connector has no base URL"))?;
        let base = BaseUrl::parse(&base_url, self.allow_http)?;
        let transport = self
            .transport
            .ok_or_else(|| Error::config("the connector has no transport"))?;
        if self.attempt_timeout.is_some_and(|t| t.is_zero())
            || self.total_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(Error::config("timeouts must be greater than zero"));
        }
        Ok(Connector {
            inner: Arc::new(Inner {
                name: Arc::from(self.name),
                base,
                default_headers: self.default_headers,
                attempt_timeout: self.attempt_timeout,
                total_timeout: self.total_timeout,
                correlation_header: self.correlation_header,
                hints: self.hints,
                telemetry: self.telemetry,
                metrics: std::sync::OnceLock::new(),
                transport,
                auth: self.auth,
                retry: self.retry,
                throttle: self.throttle,
                breaker: self.breaker,
                normalizer: self.normalizer,
            }),
        })
    }
}
