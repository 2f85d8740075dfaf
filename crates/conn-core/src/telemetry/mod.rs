//! Telemetry: the metric names and labels every conn component emits, and
//! the connector's instrumentation settings.
//!
//! Metrics go through the [`metrics`](https://docs.rs/metrics) facade (plug in Prometheus, StatsD,
//! OpenTelemetry...). Labels are bounded: connector names, status classes,
//! outcome kinds and retry reasons; endpoint paths and tenant ids only when
//! enabled (see [`Telemetry`]). Names and labels: `docs/observability.md`.
//!
//! Inside the pipeline, telemetry is chosen once per call: an instrumented
//! form that opens spans, emits events and records metrics, or a silent form
//! whose every hook does nothing (`Telemetry { enabled: false }`). The
//! pipeline's steps call the hooks and never ask which form they have.

pub(crate) mod call;
pub(crate) mod metrics;
#[cfg(feature = "trace-context")]
pub(crate) mod trace_context;

/// Calls finished: labels `connector`, `status_class` (`2xx`... or `none`),
/// `outcome` (`success` or an [`ErrorKind::label`](crate::ErrorKind::label)), and `endpoint` /
/// `tenant` when enabled.
pub const REQUESTS_TOTAL: &str = "conn_requests_total";
/// Call latency, waits included: labels `connector`, `outcome`.
pub const REQUEST_DURATION_SECONDS: &str = "conn_request_duration_seconds";
/// Attempts per call: label `connector`.
pub const ATTEMPTS_PER_CALL: &str = "conn_attempts_per_call";
/// Retries scheduled: labels `connector`, `reason` (`status_503`, `connect`...).
pub const RETRIES_TOTAL: &str = "conn_retries_total";
/// Retries a retry budget refused (the call ended with its last error):
/// label `connector`.
pub const RETRY_BUDGET_EXHAUSTED_TOTAL: &str = "conn_retry_budget_exhausted_total";
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
/// Token requests: labels `connector`, `result` (`ok`, `failed`).
pub const TOKEN_REFRESHES_TOTAL: &str = "conn_token_refreshes_total";
/// When the connector's token runs out, in Unix seconds (the soonest among
/// its tenants): label `connector`, and `tenant` when enabled.
pub const TOKEN_EXPIRY_TIMESTAMP_SECONDS: &str = "conn_token_expiry_timestamp_seconds";
/// Hedges (second attempts racing a slow read): labels `connector`,
/// `outcome` (`won`, `lost`, `failed`, `refused` when the retry policy or
/// the breaker and throttle did not admit one).
pub const HEDGES_TOTAL: &str = "conn_hedges_total";
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
    /// With the `trace-context` feature: whether `traceparent` / `tracestate`
    /// follow a redirect to another origin (default: off). Off, they are
    /// marked like credentials, so a transport that strips credentials on a
    /// cross-origin hop (the hyper transport does) strips them too: a trace
    /// id names the caller's internal spans, which a third party need not
    /// see. On, for a vendor that redirects to its own CDN or regional host
    /// and joins traces across them.
    pub trace_context_across_origins: bool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            enabled: true,
            trace_bodies: false,
            endpoint_label: false,
            tenant_label: false,
            trace_context_across_origins: false,
        }
    }
}

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
