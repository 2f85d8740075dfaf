//! `POST /v1/workflows/{name}`: runs a named workflow (its steps concurrently,
//! one correlation id, one deadline) and answers every step's outcome.
//!
//! The answer is 200 when every step succeeded; otherwise 502 with the same
//! JSON body, each failed step carrying the problem it would have had as a
//! single call, so one failed step never hides the others.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use conn_blueprint::{StepError, Workflow};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::problem::Problem;
use crate::proxy;
use crate::state::Shared;

pub(crate) async fn run(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match answer(&shared, &name, &params, &headers).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn answer(
    shared: &Shared,
    name: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let current = shared.current();
    let Some(spec) = current.config.workflows.get(name) else {
        // Authenticate first so an anonymous caller cannot list workflows by probing.
        current.callers.authenticate(headers)?;
        return Err(Problem::not_found(format!("no workflow named {name}")));
    };
    let connectors: Vec<&str> = spec.steps.iter().map(|s| s.connector.as_str()).collect();
    let admitted = proxy::admit(shared, headers, &connectors)?;
    let mut workflow = Workflow::new().timeout(spec.timeout.unwrap_or(current.config.request_timeout));
    if let Some(tenant) = &admitted.tenant {
        workflow = workflow.tenant(tenant.clone());
    }
    if let Some(id) = &admitted.correlation_id {
        workflow = workflow.correlation_id(id.clone());
    }
    for step in &spec.steps {
        let Some(connector) = shared.registry.get(&step.connector) else {
            return Err(Problem::not_found(format!(
                "no connector named {}",
                step.connector
            )));
        };
        let path = fill(&step.path, params)?;
        workflow = workflow.call(
            step.name.clone(),
            &connector,
            conn_core::Request::new(step.method.clone(), path),
        );
    }
    let report = workflow.run().await;
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|step| match &step.result {
            Ok(response) => json!({
                "name": step.name,
                "connector": step.connector,
                "status": response.status().as_u16(),
                "attempts": response.report().attempts.len(),
                "body": body_value(response.body()),
            }),
            Err(StepError::Call(err)) => {
                let problem = Problem::from_error(err).map(|p| p.to_json()).unwrap_or_else(
                    || json!({ "status": err.status().map(|s| s.as_u16()), "kind": err.kind().label() }),
                );
                json!({ "name": step.name, "connector": step.connector, "problem": problem })
            }
            Err(other) => json!({
                "name": step.name,
                "connector": step.connector,
                "problem": { "kind": "skipped", "detail": other.to_string() },
            }),
        })
        .collect();
    let status = if report.is_success() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    let body = json!({
        "workflow": name,
        "correlation_id": report.correlation_id,
        "success": report.is_success(),
        "steps": steps,
    });
    let mut response = (status, axum::Json(body)).into_response();
    response.extensions_mut().insert(crate::protect::Deliberate);
    Ok(response)
}

/// A step's body as JSON when it is JSON, else as text.
fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Replaces `{param}` in a step's path by the percent-encoded query
/// parameter; a missing one is a 400 naming it.
fn fill(path: &str, params: &HashMap<String, String>) -> Result<String, Problem> {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let param = &after[..close];
        let value = params.get(param).ok_or_else(|| {
            Problem::bad_request(format!("this workflow needs the query parameter {param}"))
        })?;
        out.extend(form_encode(value));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a
/// parameter can never add a path segment or a dot segment of its own.
fn form_encode(value: &str) -> impl Iterator<Item = String> + '_ {
    value.bytes().map(|b| {
        if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_encoded_into_one_segment() {
        let params = HashMap::from([("id".to_owned(), "../x/7".to_owned())]);
        assert_eq!(fill("/orders/{id}", &params).unwrap(), "/orders/%2E%2E%2Fx%2F7");
        assert_eq!(fill("/orders/{nope}", &params).unwrap_err().status(), 400);
    }
}
