//! The admin API (admin key only): hot reload and operator control of
//! circuit breakers.
//!
//! A reload builds everything first and swaps it in at once
//! (`Registry::reload`); a blueprint with problems changes nothing and the
//! answer lists every problem with its key path and line. Calls in flight
//! keep the connector they started with, so none is lost.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::problem::Problem;
use crate::state::Shared;

/// `POST /v1/admin/reload`.
pub(crate) async fn reload(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(problem) = shared.current().callers.authenticate_admin(&headers) {
        return problem.into_response();
    }
    match reload_now(&shared).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Reads the blueprint again and swaps it in, or keeps the running one and
/// says why. Shared by the admin route and SIGHUP.
pub(crate) async fn reload_now(shared: &Shared) -> Result<Value, Problem> {
    let result = reload_inner(shared).await;
    let outcome = if result.is_ok() { "ok" } else { "refused" };
    metrics::counter!(crate::metrics::RELOADS_TOTAL, "outcome" => outcome).increment(1);
    result
}

async fn reload_inner(shared: &Shared) -> Result<Value, Problem> {
    let _one_at_a_time = shared.reload_lock.lock().await;
    let Some(reloader) = &shared.reloader else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "reload_unavailable",
            "Reload unavailable",
            "this gateway was not started from a blueprint file",
        ));
    };
    let loaded = match reloader() {
        Ok(loaded) => loaded,
        Err(errors) => {
            let list: Vec<Value> = errors
                .iter()
                .map(|e| json!({ "path": e.path, "line": e.line, "message": e.message }))
                .collect();
            tracing::warn!(
                problems = errors.len(),
                "reload refused; the running blueprint is kept"
            );
            for e in &errors {
                tracing::warn!(problem = %e, "blueprint problem");
            }
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_blueprint",
                "Invalid blueprint",
                format!(
                    "{} problem(s) in the blueprint; the running blueprint is kept",
                    errors.len()
                ),
            )
            .member("errors", Value::Array(list)));
        }
    };
    if let Err(err) = shared.registry.reload(&loaded.blueprint) {
        tracing::warn!(error = %err, "reload refused; the running blueprint is kept");
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_blueprint",
            "Invalid blueprint",
            format!("the connectors could not be built ({err}); the running blueprint is kept"),
        ));
    }
    shared.replace(loaded.gateway, loaded.blueprint.explain());
    let names = shared.registry.names();
    tracing::info!(connectors = names.len(), "blueprint reloaded");
    Ok(json!({ "reloaded": true, "connectors": names }))
}

/// The body of `POST /v1/connectors/{name}/breaker`.
#[derive(Deserialize)]
struct BreakerAction {
    /// `open`, `close` or `reset`.
    action: String,
    /// The breaker key (default: the connector's name, the key of a
    /// breaker keyed by connector).
    key: Option<String>,
}

/// `POST /v1/connectors/{name}/breaker` with `{"action": "open" | "close" |
/// "reset", "key": "..."}`: force a circuit open, force it closed (calls
/// flow, nothing recorded) or hand it back to the breaker.
pub(crate) async fn breaker(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(problem) = shared.current().callers.authenticate_admin(&headers) {
        return problem.into_response();
    }
    let Some(breaker) = shared.registry.breaker(&name) else {
        return Problem::not_found(format!("no connector named {name} with a breaker")).into_response();
    };
    let action: BreakerAction = match serde_json::from_slice(&body) {
        Ok(action) => action,
        Err(_) => {
            return Problem::bad_request(
                r#"send {"action": "open" | "close" | "reset", "key": "<optional key>"}"#,
            )
            .into_response();
        }
    };
    let key = action.key.unwrap_or_else(|| name.clone());
    match action.action.as_str() {
        "open" => breaker.force_open(&key),
        "close" => breaker.disable(&key),
        "reset" => breaker.reset(&key),
        _ => {
            return Problem::bad_request("action must be open, close or reset").into_response();
        }
    }
    tracing::info!(connector = %name, key = %key, action = %action.action, "breaker set by an operator");
    let state = breaker.state(&key).map(|s| s.label());
    axum::Json(json!({ "connector": name, "key": key, "state": state })).into_response()
}
