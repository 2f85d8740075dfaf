//! Operating endpoints: liveness, readiness, Prometheus metrics, the
//! connectors explained, and one connector's live state. None of them ever
//! shows a secret: connectors are described by `Blueprint::explain`, which
//! shows secret references (`<env NAME>`), and the state shows breaker and
//! throttle state and token expiry times, never a token.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::problem::Problem;
use crate::state::Shared;

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the registry is loaded and the listener accepts; 503
/// before that and while draining, so a load balancer stops sending.
pub(crate) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.is_ready() {
        axum::Json(json!({ "status": "ready", "connectors": shared.registry.names().len() })).into_response()
    } else {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Not ready",
            "the gateway is starting or draining",
        )
        .into_response()
    }
}

/// `GET /metrics`: Prometheus text of every metric recorded through the
/// `metrics` facade (conn's own and the gateway's).
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.metrics {
        Some(handle) => {
            let mut response = handle.render().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        None => Problem::not_found("this gateway was started without a metrics recorder").into_response(),
    }
}

/// `GET /v1/connectors` (admin): every connector with its effective
/// settings, as `Blueprint::explain` shows them.
pub(crate) async fn connectors(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let current = shared.current();
    if let Err(problem) = current.callers.authenticate_admin(&headers) {
        return problem.into_response();
    }
    let columns = explained(&current.explain);
    let list: Vec<Value> = shared
        .registry
        .names()
        .into_iter()
        .map(|name| {
            let settings = columns.get(&name).cloned().unwrap_or_default();
            json!({ "name": name, "settings": settings })
        })
        .collect();
    axum::Json(json!({ "connectors": list })).into_response()
}

/// `GET /v1/connectors/{name}/state` (admin): breaker state per key,
/// throttle keys (each one's pause, slots and queue), token expiry per tenant.
pub(crate) async fn state(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(problem) = shared.current().callers.authenticate_admin(&headers) {
        return problem.into_response();
    }
    if shared.registry.get(&name).is_none() {
        return Problem::not_found(format!("no connector named {name}")).into_response();
    }
    let breaker: Vec<Value> = shared
        .registry
        .breaker(&name)
        .map(|b| b.snapshots())
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            json!({
                "key": &*s.key,
                "state": s.state.label(),
                "next_probe_in_ms": s.next_probe_in.map(|d| d.as_millis() as u64),
                "consecutive_failures": s.consecutive_failures,
                "trips": s.trips,
                "rejected": s.totals.rejected,
                "failures": s.totals.failures,
                "successes": s.totals.successes,
            })
        })
        .collect();
    let throttle = shared.registry.throttle(&name).map(|t| {
        let (per_key, truncated) = crate::throttle_keys::snapshot(&t);
        json!({
            "keys": t.key_count(),
            "paused_for_ms": t.paused_for("").map(|d| d.as_millis() as u64),
            "per_key": per_key,
            "per_key_truncated": truncated,
        })
    });
    let tokens = crate::tokens::statuses(&shared.registry, &name);
    axum::Json(json!({
        "connector": name,
        "breaker": breaker,
        "throttle": throttle,
        "tokens": tokens,
    }))
    .into_response()
}

/// The columns of `Blueprint::explain`'s table: connector -> key -> value.
///
/// ```
/// let table = "key | default | orders\n----|---------|-------\nretry.max_attempts | 3 | 5\n";
/// let columns = conn_gateway::explained(table);
/// assert_eq!(columns["orders"]["retry.max_attempts"], "5");
/// ```
pub fn explained(explain: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut lines = explain.lines();
    let Some(header) = lines.next() else {
        return BTreeMap::new();
    };
    let names: Vec<String> = header.split(" | ").skip(2).map(|c| c.trim().to_owned()).collect();
    let mut out: BTreeMap<String, BTreeMap<String, String>> =
        names.iter().map(|n| (n.clone(), BTreeMap::new())).collect();
    for line in lines.skip(1) {
        if line.trim().is_empty() {
            break;
        }
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Some(key) = cells.first() else { continue };
        for (i, name) in names.iter().enumerate() {
            let value = cells.get(i + 2).copied().unwrap_or("-");
            match out.get_mut(name) {
                Some(column) if value != "-" => {
                    column.insert((*key).to_owned(), value.to_owned());
                }
                _ => {}
            }
        }
    }
    out
}
