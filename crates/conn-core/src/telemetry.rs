//! Telemetry: the metric names and labels every conn component emits, the
//! connector's instrumentation settings, and the hooks components call so
//! that every event and metric has one definition.
//!
//! Metrics go through the [`metrics`] facade (plug in Prometheus, StatsD,
//! OpenTelemetry...). Labels are bounded: connector names, status classes,
//! outcome kinds and retry reasons; endpoint paths and tenant ids only when
//! enabled (see [`Telemetry`]). Names and labels: `docs/observability.md`.

use std::sync::{Arc, Mutex};

use crate::{CallReport, ErrorKind};

/// Calls finished: labels `connector`, `status_class` (`2xx`... or `none`),
/// `outcome` (`success` or an [`ErrorKind::label`]), and `endpoint` /
/// `tenant` when enabled.
pub const REQUESTS_TOTAL: &str = "conn_requests_total";
/// Call latency, waits included: labels `connector`, `outcome`.
pub const REQUEST_DURATION_SECONDS: &str = "conn_request_duration_seconds";
/// Attempts per call: label `connector`.
pub const ATTEMPTS_PER_CALL: &str = "conn_attempts_per_call";
/// Retries scheduled: labels `connector`, `reason` (`status_503`, `connect`...).
pub const RETRIES_TOTAL: &str = "conn_retries_total";
/// Time attempts waited for the throttle: label `connector`.
pub const THROTTLE_WAIT_SECONDS: &str = "conn_throttle_wait_seconds";
/// Attempts the throttle refused: label `connector`.
pub const THROTTLE_REJECTIONS_TOTAL: &str = "conn_throttle_rejections_total";
/// Calls in flight: label `connector`.
pub const IN_FLIGHT: &str = "conn_in_flight";
/// Breaker state: labels `connector` and, for bounded keys, `key`; 0 closed,
/// 1 half-open, 2 open, 3 forced open, 4 disabled, 5 metrics-only.
pub const BREAKER_STATE: &str = "conn_breaker_state";
/// Breaker transitions: labels `connector`, `to`.
pub const BREAKER_TRANSITIONS_TOTAL: &str = "conn_breaker_transitions_total";
/// Token requests: label `result` (`ok`, `failed`).
pub const TOKEN_REFRESHES_TOTAL: &str = "conn_token_refreshes_total";
/// Calls sent with degraded credentials: label `connector`.
pub const DEGRADED_TOTAL: &str = "conn_degraded_total";

/// A connector's instrumentation settings.
///
/// ```
/// use conn_core::Telemetry;
///
/// let telemetry = Telemetry { trace_bodies: true, ..Telemetry::default() };
/// assert!(telemetry.enabled);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Telemetry {
    /// Spans, events and metrics at all (default: on). Off is the
    /// uninstrumented baseline the benchmarks compare against.
    pub enabled: bool,
    /// Request and response bodies as TRACE events, secrets scrubbed,
    /// at most 4 KiB each (default: off).
    pub trace_bodies: bool,
    /// The endpoint path as a metric label (default: off: unbounded cardinality).
    pub endpoint_label: bool,
    /// The tenant id as a metric label (default: off: unbounded cardinality).
    pub tenant_label: bool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            enabled: true,
            trace_bodies: false,
            endpoint_label: false,
            tenant_label: false,
        }
    }
}

/// Most body bytes a TRACE event shows.
pub(crate) const BODY_TRACE_LIMIT: usize = 4096;

/// `2xx`, `4xx`... for a status, `none` without one.
pub fn status_class(status: Option<http::StatusCode>) -> &'static str {
    match status.map(|s| s.as_u16() / 100) {
        Some(1) => "1xx",
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "none",
    }
}

/// A connector's metric handles, registered once on its first call, so the
/// hot path does not rebuild label keys: install the metrics recorder before
/// the first call (as exporters are, at start-up).
pub(crate) struct ConnectorMetrics {
    connector: Arc<str>,
    in_flight: metrics::Gauge,
    attempts: metrics::Histogram,
    throttle_wait: metrics::Histogram,
    throttle_rejections: metrics::Counter,
    /// Count and latency per (status class, outcome): a handful of pairs.
    by_outcome: Mutex<Vec<(&'static str, &'static str, metrics::Counter, metrics::Histogram)>>,
}

impl ConnectorMetrics {
    pub(crate) fn new(connector: &Arc<str>) -> Self {
        ConnectorMetrics {
            connector: connector.clone(),
            in_flight: metrics::gauge!(IN_FLIGHT, "connector" => connector.clone()),
            attempts: metrics::histogram!(ATTEMPTS_PER_CALL, "connector" => connector.clone()),
            throttle_wait: metrics::histogram!(THROTTLE_WAIT_SECONDS, "connector" => connector.clone()),
            throttle_rejections: metrics::counter!(THROTTLE_REJECTIONS_TOTAL, "connector" => connector.clone()),
            by_outcome: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn throttle_wait(&self, seconds: f64) {
        self.throttle_wait.record(seconds);
    }

    pub(crate) fn throttle_rejected(&self) {
        self.throttle_rejections.increment(1);
    }

    /// Records the end of a call: count, latency, attempts.
    pub(crate) fn call_finished(
        &self,
        telemetry: &Telemetry,
        report: &CallReport,
        tenant: Option<&str>,
        status: Option<http::StatusCode>,
        outcome: &'static str,
    ) {
        let class = status_class(status);
        let seconds = report.total.as_secs_f64();
        self.attempts.record(report.attempts.len() as f64);
        if telemetry.endpoint_label || telemetry.tenant_label {
            // Labels that vary per call cannot be cached.
            let mut labels = vec![
                metrics::Label::new("connector", self.connector.clone()),
                metrics::Label::from_static_parts("status_class", class),
                metrics::Label::from_static_parts("outcome", outcome),
            ];
            if telemetry.endpoint_label {
                labels.push(metrics::Label::new("endpoint", report.endpoint.clone()));
            }
            if telemetry.tenant_label {
                labels.push(metrics::Label::new(
                    "tenant",
                    tenant.unwrap_or_default().to_owned(),
                ));
            }
            metrics::counter!(REQUESTS_TOTAL, labels).increment(1);
            metrics::histogram!(REQUEST_DURATION_SECONDS, "connector" => self.connector.clone(), "outcome" => outcome)
                .record(seconds);
            return;
        }
        let mut by_outcome = self.by_outcome.lock().unwrap_or_else(|e| e.into_inner());
        let position = by_outcome
            .iter()
            .position(|(c, o, _, _)| *c == class && *o == outcome);
        let index = match position {
            Some(index) => index,
            None => {
                let connector = self.connector.clone();
                let count = metrics::counter!(
                    REQUESTS_TOTAL,
                    "connector" => connector.clone(),
                    "status_class" => class,
                    "outcome" => outcome
                );
                let latency = metrics::histogram!(REQUEST_DURATION_SECONDS, "connector" => connector, "outcome" => outcome);
                by_outcome.push((class, outcome, count, latency));
                by_outcome.len() - 1
            }
        };
        let (_, _, count, latency) = &by_outcome[index];
        count.increment(1);
        latency.record(seconds);
    }
}

/// Keeps the in-flight gauge right even when the caller drops the call.
pub(crate) struct InFlight<'a> {
    gauge: Option<&'a metrics::Gauge>,
}

impl<'a> InFlight<'a> {
    pub(crate) fn start(metrics: Option<&'a ConnectorMetrics>) -> Self {
        let gauge = metrics.map(|m| &m.in_flight);
        if let Some(gauge) = gauge {
            gauge.increment(1.0);
        }
        InFlight { gauge }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(gauge) = self.gauge {
            gauge.decrement(1.0);
        }
    }
}

/// A bounded label for why an attempt is retried.
pub(crate) fn retry_reason(status: Option<http::StatusCode>, error: Option<ErrorKind>) -> String {
    match (status, error) {
        (Some(status), _) => format!("status_{}", status.as_u16()),
        (None, Some(kind)) => kind.label().to_owned(),
        (None, None) => "unknown".to_owned(),
    }
}

/// Hook for breakers: a circuit changed state. Updates the state gauge and
/// counts the transition; the breaker logs its own event with the reason.
///
/// `key` becomes a metric label only when given: pass `None` for keys that
/// include tenants or other unbounded values. `state_code`: 0 closed,
/// 1 half-open, 2 open, 3 forced open, 4 disabled, 5 metrics-only.
pub fn breaker_transition(connector: &str, key: Option<&str>, to: &'static str, state_code: f64) {
    let gauge = match key {
        Some(key) => {
            metrics::gauge!(BREAKER_STATE, "connector" => connector.to_owned(), "key" => key.to_owned())
        }
        None => metrics::gauge!(BREAKER_STATE, "connector" => connector.to_owned()),
    };
    gauge.set(state_code);
    metrics::counter!(BREAKER_TRANSITIONS_TOTAL, "connector" => connector.to_owned(), "to" => to)
        .increment(1);
}

/// Hook for auth strategies: a token request finished, well or not. Counts
/// it in `conn_token_refreshes_total`; the strategy logs its own event with
/// the details only it has (token id, lifetime, the scrubbed failure).
pub fn token_refreshed(ok: bool) {
    metrics::counter!(TOKEN_REFRESHES_TOTAL, "result" => if ok { "ok" } else { "failed" }).increment(1);
}

/// What a body looks like in a TRACE event: lossy UTF-8, bounded, scrubbed.
pub(crate) fn body_for_trace(body: &[u8]) -> String {
    let shown = &body[..body.len().min(BODY_TRACE_LIMIT)];
    let mut text = crate::scrub_secrets(&String::from_utf8_lossy(shown));
    if body.len() > BODY_TRACE_LIMIT {
        text.push_str(&format!("... ({} bytes in all)", body.len()));
    }
    text
}

/// The report's view for the `degraded` event (kept here so the event and
/// the counter stay together).
pub(crate) fn degraded(connector: &Arc<str>, reason: &'static str) {
    tracing::warn!(conn.connector = %connector, reason, "degraded mode: sent with fallback credentials");
    metrics::counter!(DEGRADED_TOTAL, "connector" => connector.clone()).increment(1);
}
