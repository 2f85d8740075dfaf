//! Metric hooks for component crates, so every event a dashboard reads has
//! one definition (names and labels: [`crate::telemetry`]).

use crate::telemetry::{
    BREAKER_STATE, BREAKER_TRANSITIONS_TOTAL, RETRY_BUDGET_EXHAUSTED_TOTAL, TOKEN_REFRESHES_TOTAL,
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

/// A token request finished, well or not: counts it in
/// `conn_token_refreshes_total`; the strategy logs its own event with the
/// details only it has (token id, lifetime, the scrubbed failure).
pub fn token_refreshed(ok: bool) {
    metrics::counter!(TOKEN_REFRESHES_TOTAL, "result" => if ok { "ok" } else { "failed" }).increment(1);
}

/// A retry budget refused a retry of a call to `connector`: counts it in
/// `conn_retry_budget_exhausted_total`, the signal that a retry storm was
/// cut off (the call ends with its last error).
pub fn retry_budget_exhausted(connector: &str) {
    metrics::counter!(RETRY_BUDGET_EXHAUSTED_TOTAL, "connector" => connector.to_owned()).increment(1);
}
