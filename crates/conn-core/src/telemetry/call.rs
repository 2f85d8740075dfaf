//! The telemetry of one call, chosen once when the call starts.
//!
//! The pipeline's phases report what happens through [`AttemptTelemetry`]
//! hooks and never ask whether anyone listens: [`Instrumented`] turns the
//! hooks into spans, events and metrics, [`Silent`] compiles them away.
//! (The same split as Polly's `ExecuteCoreWithTelemetry` /
//! `ExecuteCoreWithoutTelemetry`: chosen once, never woven in.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::Span;

use super::Telemetry;
use super::metrics::{ConnectorMetrics, InFlight, RetryReason};
use crate::{AttemptOutcome, CallReport, Error, TransportResponse};

/// Most body bytes a TRACE event shows.
const BODY_TRACE_LIMIT: usize = 4096;

/// What the pipeline reports about one call, attempt by attempt.
pub(crate) trait CallTelemetry {
    /// The telemetry of one attempt.
    type Attempt: AttemptTelemetry;

    /// Opens the telemetry of attempt `number` (1-based, replays included).
    fn attempt(&self, number: u32) -> Self::Attempt;
}

/// What the pipeline reports about one attempt, phase by phase.
pub(crate) trait AttemptTelemetry {
    /// The span the whole attempt runs in.
    fn span(&self) -> Span;
    /// The breaker refused the attempt.
    fn breaker_refused(&self, error: &Error);
    /// The throttle refused the attempt (or failed).
    fn throttle_refused(&self, error: &Error);
    /// The throttle admitted the attempt after `wait`.
    fn throttled(&self, wait: Duration);
    /// The attempt goes out with degraded credentials (reported once per call).
    fn degraded(&self, reason: &'static str);
    /// The body about to be sent.
    fn request_body(&self, body: &Bytes);
    /// How the attempt ended on the wire.
    fn answered(&self, result: &Result<TransportResponse, Error>);
    /// Credentials were refreshed after a 401; the attempt is replayed.
    fn replaying(&self);
    /// Another attempt follows after `delay`.
    fn retry_scheduled(&self, delay: Duration, outcome: &AttemptOutcome<'_>);
    /// A hedge was refused, won, lost or failed.
    fn hedged(&self, outcome: &'static str);
}

/// No spans, no events, no metrics.
pub(crate) struct Silent;

impl CallTelemetry for Silent {
    type Attempt = Silent;

    fn attempt(&self, _: u32) -> Silent {
        Silent
    }
}

impl AttemptTelemetry for Silent {
    fn span(&self) -> Span {
        Span::none()
    }
    fn breaker_refused(&self, _: &Error) {}
    fn throttle_refused(&self, _: &Error) {}
    fn throttled(&self, _: Duration) {}
    fn degraded(&self, _: &'static str) {}
    fn request_body(&self, _: &Bytes) {}
    fn answered(&self, _: &Result<TransportResponse, Error>) {}
    fn replaying(&self) {}
    fn retry_scheduled(&self, _: Duration, _: &AttemptOutcome<'_>) {}
    fn hedged(&self, _: &'static str) {}
}

/// A call's span, its in-flight count and its metric handles.
pub(crate) struct Instrumented<'a> {
    settings: Telemetry,
    connector: &'a Arc<str>,
    metrics: &'a ConnectorMetrics,
    span: Span,
    _in_flight: InFlight<'a>,
}

impl<'a> Instrumented<'a> {
    /// Opens the `conn.call` span of the call `report` describes and counts
    /// the call in flight until this value is dropped.
    pub(crate) fn start(
        settings: Telemetry,
        metrics: &'a ConnectorMetrics,
        connector: &'a Arc<str>,
        server: &str,
        report: &CallReport,
        tenant: Option<&str>,
    ) -> Self {
        let span = tracing::info_span!(
            "conn.call",
            "otel.kind" = "client",
            "http.request.method" = %report.method,
            "server.address" = server,
            "url.path" = report.endpoint.as_str(),
            "conn.connector" = &**connector,
            "conn.tenant" = tenant.unwrap_or_default(),
            "conn.correlation_id" = &*report.correlation_id,
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "http.request.resend_count" = tracing::field::Empty,
        );
        Instrumented {
            settings,
            connector,
            metrics,
            span,
            _in_flight: InFlight::start(metrics),
        }
    }

    /// The `conn.call` span.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records how the call ended on its span and in the metrics.
    pub(crate) fn finish(
        self,
        report: &CallReport,
        tenant: Option<&str>,
        result: Result<&http::Response<Bytes>, &Error>,
    ) {
        let (status, outcome) = match result {
            Ok(response) => (Some(response.status()), "success"),
            Err(err) => (err.status(), err.kind().label()),
        };
        if let Some(status) = status {
            self.span.record("http.response.status_code", status.as_u16());
        }
        if result.is_err() {
            self.span.record("error.type", outcome);
        }
        let resends = report.attempts.len().saturating_sub(1);
        if resends > 0 {
            self.span.record("http.request.resend_count", resends);
        }
        tracing::debug!(
            parent: &self.span,
            outcome,
            attempts = report.attempts.len(),
            duration_ms = report.total.as_secs_f64() * 1000.0,
            "call finished"
        );
        self.metrics
            .call_finished(&self.settings, report, tenant, status, outcome);
    }
}

impl<'a> CallTelemetry for Instrumented<'a> {
    type Attempt = InstrumentedAttempt<'a>;

    fn attempt(&self, number: u32) -> InstrumentedAttempt<'a> {
        let span = tracing::debug_span!(
            parent: &self.span,
            "conn.attempt",
            "conn.attempt" = number,
            "http.request.resend_count" = number - 1,
            "conn.throttle.wait_ms" = tracing::field::Empty,
            // Set by a throttle with a fleet store: local, fleet, fallback or closed.
            "conn.fleet.mode" = tracing::field::Empty,
            "conn.breaker.state" = tracing::field::Empty,
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "conn.retry.delay_ms" = tracing::field::Empty,
        );
        InstrumentedAttempt {
            settings: self.settings,
            connector: self.connector,
            metrics: self.metrics,
            span,
        }
    }
}

/// An attempt's span and the call's metric handles.
pub(crate) struct InstrumentedAttempt<'a> {
    settings: Telemetry,
    connector: &'a Arc<str>,
    metrics: &'a ConnectorMetrics,
    span: Span,
}

impl AttemptTelemetry for InstrumentedAttempt<'_> {
    fn span(&self) -> Span {
        self.span.clone()
    }

    fn breaker_refused(&self, error: &Error) {
        self.span.record("conn.breaker.state", "open");
        self.span.record("error.type", error.kind().label());
    }

    fn throttle_refused(&self, error: &Error) {
        if error.is_rate_limited() {
            tracing::debug!(parent: &self.span, reason = error.message(), "throttle refused the attempt");
            self.metrics.throttle_rejected();
        }
    }

    fn throttled(&self, wait: Duration) {
        let wait_ms = wait.as_secs_f64() * 1000.0;
        self.span.record("conn.throttle.wait_ms", wait_ms);
        self.metrics.throttle_wait(wait.as_secs_f64());
        if wait >= Duration::from_millis(1) {
            tracing::debug!(parent: &self.span, conn.throttle.wait_ms = wait_ms, "throttled");
        }
    }

    fn degraded(&self, reason: &'static str) {
        tracing::warn!(
            parent: &self.span,
            conn.connector = %self.connector,
            reason,
            "degraded mode: sent with fallback credentials"
        );
        self.metrics.degraded();
    }

    fn request_body(&self, body: &Bytes) {
        if self.settings.trace_bodies {
            tracing::trace!(parent: &self.span, body = %body_for_trace(body), "request body");
        }
    }

    fn answered(&self, result: &Result<TransportResponse, Error>) {
        match result {
            Ok(response) => {
                self.span
                    .record("http.response.status_code", response.status().as_u16());
                if self.settings.trace_bodies {
                    tracing::trace!(parent: &self.span, body = %body_for_trace(response.body()), "response body");
                }
            }
            Err(err) => {
                self.span.record("error.type", err.kind().label());
            }
        }
    }

    fn replaying(&self) {
        tracing::debug!(parent: &self.span, "credentials refreshed after 401; replaying");
    }

    fn retry_scheduled(&self, delay: Duration, outcome: &AttemptOutcome<'_>) {
        let reason = match outcome.result {
            Ok(response) => RetryReason::Status(response.status()),
            Err(err) => RetryReason::Failed(err.kind()),
        };
        let delay_ms = delay.as_millis() as u64;
        self.span.record("conn.retry.delay_ms", delay_ms);
        tracing::debug!(
            parent: &self.span,
            conn.retry.delay_ms = delay_ms,
            reason = %reason.label(),
            "retry scheduled"
        );
        self.metrics.retried(reason);
    }

    fn hedged(&self, outcome: &'static str) {
        tracing::debug!(parent: &self.span, conn.hedge = outcome, "hedge");
        metrics::counter!(super::HEDGES_TOTAL, "connector" => self.connector.to_string(), "outcome" => outcome)
            .increment(1);
    }
}

/// What a body looks like in a TRACE event: lossy UTF-8, bounded, scrubbed.
fn body_for_trace(body: &[u8]) -> String {
    let shown = &body[..body.len().min(BODY_TRACE_LIMIT)];
    let mut text = crate::scrub_secrets(&String::from_utf8_lossy(shown));
    if body.len() > BODY_TRACE_LIMIT {
        text.push_str(&format!("... ({} bytes in all)", body.len()));
    }
    text
}
