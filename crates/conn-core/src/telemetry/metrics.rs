//! A connector's metric handles, registered once, so the hot path never
//! rebuilds label keys.

use std::sync::{Arc, Mutex, OnceLock};

use super::{
    ATTEMPTS_PER_CALL, DEGRADED_TOTAL, IN_FLIGHT, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL, RETRIES_TOTAL,
    THROTTLE_REJECTIONS_TOTAL, THROTTLE_WAIT_SECONDS, Telemetry, status_class,
};
use crate::{CallReport, ErrorKind};

/// Every metric a connector's calls record. Registered on its first
/// instrumented call: install the metrics recorder before the first call
/// (as exporters are, at start-up).
pub(crate) struct ConnectorMetrics {
    connector: Arc<str>,
    in_flight: metrics::Gauge,
    attempts: metrics::Histogram,
    throttle_wait: metrics::Histogram,
    throttle_rejections: metrics::Counter,
    /// Registered on first use, so a connector that never degrades has no series.
    degraded: OnceLock<metrics::Counter>,
    /// Count and latency of successful 2xx calls, the common case, read
    /// without a lock (every call of every task ends here).
    succeeded: OnceLock<(metrics::Counter, metrics::Histogram)>,
    /// Count and latency per other (status class, outcome): a handful of pairs.
    by_outcome: Mutex<Vec<(&'static str, &'static str, metrics::Counter, metrics::Histogram)>>,
    /// Retries per reason: a handful of statuses and error kinds.
    retries: Mutex<Vec<(RetryReason, metrics::Counter)>>,
}

/// Why an attempt is retried, as a bounded label: `status_503`, `connect`...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryReason {
    Status(http::StatusCode),
    Failed(ErrorKind),
}

impl RetryReason {
    pub(crate) fn label(self) -> String {
        match self {
            RetryReason::Status(status) => format!("status_{}", status.as_u16()),
            RetryReason::Failed(kind) => kind.label().to_owned(),
        }
    }
}

impl ConnectorMetrics {
    pub(crate) fn new(connector: &Arc<str>) -> Self {
        ConnectorMetrics {
            connector: connector.clone(),
            in_flight: metrics::gauge!(IN_FLIGHT, "connector" => connector.clone()),
            attempts: metrics::histogram!(ATTEMPTS_PER_CALL, "connector" => connector.clone()),
            throttle_wait: metrics::histogram!(THROTTLE_WAIT_SECONDS, "connector" => connector.clone()),
            throttle_rejections: metrics::counter!(THROTTLE_REJECTIONS_TOTAL, "connector" => connector.clone()),
            degraded: OnceLock::new(),
            succeeded: OnceLock::new(),
            by_outcome: Mutex::new(Vec::new()),
            retries: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn throttle_wait(&self, seconds: f64) {
        self.throttle_wait.record(seconds);
    }

    pub(crate) fn throttle_rejected(&self) {
        self.throttle_rejections.increment(1);
    }

    pub(crate) fn degraded(&self) {
        self.degraded
            .get_or_init(|| metrics::counter!(DEGRADED_TOTAL, "connector" => self.connector.clone()))
            .increment(1);
    }

    pub(crate) fn retried(&self, reason: RetryReason) {
        let mut retries = self.retries.lock().unwrap_or_else(|e| e.into_inner());
        let index = match retries.iter().position(|(r, _)| *r == reason) {
            Some(index) => index,
            None => {
                let counter = metrics::counter!(
                    RETRIES_TOTAL,
                    "connector" => self.connector.clone(),
                    "reason" => reason.label()
                );
                retries.push((reason, counter));
                retries.len() - 1
            }
        };
        retries[index].1.increment(1);
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
        if (class, outcome) == ("2xx", "success") {
            let (count, latency) = self
                .succeeded
                .get_or_init(|| self.outcome_handles(class, outcome));
            count.increment(1);
            latency.record(seconds);
            return;
        }
        let mut by_outcome = self.by_outcome.lock().unwrap_or_else(|e| e.into_inner());
        let position = by_outcome
            .iter()
            .position(|(c, o, _, _)| *c == class && *o == outcome);
        let index = match position {
            Some(index) => index,
            None => {
                let (count, latency) = self.outcome_handles(class, outcome);
                by_outcome.push((class, outcome, count, latency));
                by_outcome.len() - 1
            }
        };
        let (_, _, count, latency) = &by_outcome[index];
        count.increment(1);
        latency.record(seconds);
    }

    /// The count and latency series of one (status class, outcome).
    fn outcome_handles(
        &self,
        class: &'static str,
        outcome: &'static str,
    ) -> (metrics::Counter, metrics::Histogram) {
        let connector = self.connector.clone();
        let count = metrics::counter!(
            REQUESTS_TOTAL,
            "connector" => connector.clone(),
            "status_class" => class,
            "outcome" => outcome
        );
        let latency =
            metrics::histogram!(REQUEST_DURATION_SECONDS, "connector" => connector, "outcome" => outcome);
        (count, latency)
    }
}

/// Keeps the in-flight gauge right even when the caller drops the call.
pub(crate) struct InFlight<'a> {
    gauge: &'a metrics::Gauge,
}

impl<'a> InFlight<'a> {
    pub(crate) fn start(metrics: &'a ConnectorMetrics) -> Self {
        metrics.in_flight.increment(1.0);
        InFlight {
            gauge: &metrics.in_flight,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}
