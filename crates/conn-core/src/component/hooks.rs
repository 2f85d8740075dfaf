//! Metric hooks for component crates, so every event a dashboard reads has
//! one definition (names and labels: [`crate::telemetry`]).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::telemetry::{
    BREAKER_STATE, BREAKER_TRANSITIONS_TOTAL, RETRY_BUDGET_EXHAUSTED_TOTAL, TOKEN_EXPIRY_TIMESTAMP_SECONDS,
    TOKEN_REFRESHES_TOTAL,
};

/// A circuit changed state: updates the state gauge and counts the
/// transition; the breaker logs its own event with the reason.
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

/// A token request for `connector` finished, well or not: counts it in
/// `conn_token_refreshes_total`; the strategy logs its own event with the
/// details only it has (token id, lifetime, the scrubbed failure).
///
/// `connector` is empty for a strategy used outside a connector: the series
/// then has no connector label.
pub fn token_refreshed(connector: &str, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    let counter = if connector.is_empty() {
        metrics::counter!(TOKEN_REFRESHES_TOTAL, "result" => result)
    } else {
        metrics::counter!(TOKEN_REFRESHES_TOTAL, "connector" => connector.to_owned(), "result" => result)
    };
    counter.increment(1);
}

/// When the token `connector` sends runs out: sets
/// `conn_token_expiry_timestamp_seconds` (Unix seconds). A timestamp rather
/// than a countdown because it is set only when a token changes: alert on
/// `conn_token_expiry_timestamp_seconds - time()`.
///
/// `tenant` becomes a label only when given: pass it only where the
/// connector's tenant label is enabled, and otherwise the soonest expiry
/// among the connector's tenants. An empty `connector` (a strategy used
/// outside a connector) gives a series without the connector label.
pub fn token_expiry(connector: &str, tenant: Option<&str>, expires_at: SystemTime) {
    let seconds = expires_at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    let gauge = match tenant {
        Some(tenant) => metrics::gauge!(
            TOKEN_EXPIRY_TIMESTAMP_SECONDS,
            "connector" => connector.to_owned(),
            "tenant" => tenant.to_owned()
        ),
        None if connector.is_empty() => metrics::gauge!(TOKEN_EXPIRY_TIMESTAMP_SECONDS),
        None => metrics::gauge!(TOKEN_EXPIRY_TIMESTAMP_SECONDS, "connector" => connector.to_owned()),
    };
    gauge.set(seconds);
}

/// A retry budget refused a retry of a call to `connector`: counts it in
/// `conn_retry_budget_exhausted_total`, the signal that a retry storm was
/// cut off (the call ends with its last error).
pub fn retry_budget_exhausted(connector: &str) {
    metrics::counter!(RETRY_BUDGET_EXHAUSTED_TOTAL, "connector" => connector.to_owned()).increment(1);
}
