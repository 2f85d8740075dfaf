//! The call route: `ANY /v1/connectors/{connector}/{*path}` runs one call
//! through a connector and answers the upstream's status, allowed headers
//! and body, or the normalized document in a small envelope.
//!
//! The endpoint is cut from the raw (still percent-encoded) request path, so
//! conn-core's endpoint check sees exactly what the caller sent: `..%2f`,
//! `//host` and encoded backslashes are refused there (400), never decoded
//! into a path that leaves the base URL.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use conn_core::{Context, Document, Error, Format};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use crate::callers::Caller;
use crate::headers::{self, ATTEMPTS, FORWARDED_REQUEST, FORWARDED_RESPONSE, REQUEST_ID};
use crate::problem::Problem;
use crate::state::Shared;

/// The prefix of the call route.
pub(crate) const PREFIX: &str = "/v1/connectors/";

/// Who is calling, for whom, under which correlation id: the checks every
/// call and workflow passes before anything is sent.
pub(crate) struct Admitted {
    pub(crate) tenant: Option<String>,
    pub(crate) correlation_id: Option<String>,
}

/// Authenticates the caller, takes its rate limit, checks it may use every
/// one of `connectors` (404 for a connector that does not exist, but only
/// to a caller allowed every connector: others learn nothing) and resolves
/// the tenant and the correlation id.
pub(crate) fn admit(shared: &Shared, request: &HeaderMap, connectors: &[&str]) -> Result<Admitted, Problem> {
    let correlation_id = correlation_id(request)?;
    let with_id = |p: Problem| match &correlation_id {
        Some(id) => p.correlation_id(id.clone()),
        None => p,
    };
    let current = shared.current();
    let caller: Arc<Caller> = current.callers.authenticate(request).map_err(with_id)?;
    for name in connectors {
        if !caller.may_use(name) {
            return Err(with_id(Problem::forbidden(format!(
                "caller {} may not use connector {name}",
                caller.name()
            ))));
        }
        if shared.registry.get(name).is_none() {
            return Err(with_id(Problem::not_found(format!(
                "no connector named {name}; GET /v1/connectors lists them"
            ))));
        }
    }
    let tenant = caller.tenant(request).map_err(with_id)?;
    caller.admit().map_err(with_id)?;
    Ok(Admitted {
        tenant,
        correlation_id,
    })
}

/// The caller's `X-Request-Id`, if it sent a valid one; 400 if invalid.
fn correlation_id(request: &HeaderMap) -> Result<Option<String>, Problem> {
    match request.get(REQUEST_ID) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(id) if headers::valid_correlation_id(id) => Ok(Some(id.to_owned())),
            _ => Err(Problem::bad_request(
                "X-Request-Id must be 1 to 128 letters, digits, '-', '_', '.' or ':'",
            )),
        },
    }
}

/// Reads a request body up to `limit` bytes: 413 past it.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if is_length_limit(err.as_ref()) => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "Request body too large",
            format!("the request body is larger than the gateway's limit of {limit} bytes"),
        )),
        Err(_) => Err(Problem::bad_request("the request body could not be read")),
    }
}

fn is_length_limit(mut err: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if err.is::<LengthLimitError>() {
            return true;
        }
        match err.source() {
            Some(source) => err = source,
            None => return false,
        }
    }
}

/// The handler of the call route.
pub(crate) async fn call(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match run(&shared, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn run(shared: &Shared, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let raw = parts.uri.path();
    let rest = raw.strip_prefix(PREFIX).unwrap_or_default();
    let (name, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let admitted = admit(shared, &parts.headers, &[name])?;
    let connector = shared
        .registry
        .get(name)
        .ok_or_else(|| Problem::not_found(format!("no connector named {name}")))?;
    let limit = shared.current().config.body_limit;
    let body = read_body(body, limit).await?;

    let endpoint = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut call = conn_core::Request::new(parts.method.clone(), endpoint).body(body);
    for name in FORWARDED_REQUEST {
        for value in parts.headers.get_all(*name) {
            if *name == "accept"
                && value
                    .as_bytes()
                    .starts_with(headers::DOCUMENT_MEDIA_TYPE.as_bytes())
            {
                continue;
            }
            call = call.header(http::HeaderName::from_static(name), value.clone());
        }
    }
    if let Some(key) = headers::text(&parts.headers, &conn_core::IDEMPOTENCY_KEY) {
        call = call.idempotency_key(key);
    }
    let context = context(shared, &admitted);

    if headers::wants_document(&parts.headers) {
        let result = connector.call_document(call, context).await;
        return Ok(match result {
            Ok((document, response)) => document_answer(shared, name, document, &response)?,
            Err(err) => error_answer(&err),
        });
    }
    Ok(match connector.call(call, context).await {
        Ok(response) => {
            let attempts = response.report().attempts.len();
            let id = response.report().correlation_id.to_string();
            upstream_answer(
                response.status(),
                response.headers(),
                response.body().clone(),
                &id,
                attempts,
            )
        }
        Err(err) => error_answer(&err),
    })
}

/// The call's context: tenant, correlation id (conn makes one when the
/// caller sent none), and the gateway's request time limit as the deadline,
/// so a slow upstream ends as conn's deadline error (504 problem) before
/// the outer time limit would cut the request off.
pub(crate) fn context(shared: &Shared, admitted: &Admitted) -> Context {
    let mut context = Context::new().timeout(shared.current().config.request_timeout);
    if let Some(tenant) = &admitted.tenant {
        context = context.tenant(tenant.as_str());
    }
    if let Some(id) = &admitted.correlation_id {
        context = context.correlation_id(id.as_str());
    }
    context
}

/// A failed call: a problem by the error table, or the upstream's 4xx as it was.
pub(crate) fn error_answer(err: &Error) -> Response {
    match Problem::from_error(err) {
        Some(problem) => problem.into_response(),
        None => {
            let status = err.status().unwrap_or(StatusCode::BAD_GATEWAY);
            let empty = HeaderMap::new();
            let upstream = err.response_headers().unwrap_or(&empty);
            let body = err.response_body().cloned().unwrap_or_default();
            upstream_answer(
                status,
                upstream,
                body,
                err.correlation_id().unwrap_or_default(),
                err.attempts() as usize,
            )
        }
    }
}

fn upstream_answer(
    status: StatusCode,
    upstream: &HeaderMap,
    body: Bytes,
    id: &str,
    attempts: usize,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.extensions_mut().insert(crate::protect::Deliberate);
    let headers = response.headers_mut();
    headers::copy_allowed(upstream, headers, FORWARDED_RESPONSE);
    stamp(headers, id, attempts);
    response
}

fn stamp(headers: &mut HeaderMap, id: &str, attempts: usize) {
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(ATTEMPTS, HeaderValue::from(attempts));
}

fn document_answer(
    shared: &Shared,
    name: &str,
    document: Document,
    response: &conn_core::Response,
) -> Result<Response, Problem> {
    let report = response.report();
    let value = match shared.registry.mapping(name) {
        Some(mapping) => match mapping.apply(&document.value) {
            Ok(value) => value,
            Err(err) => return Ok(error_answer(&err.with_report(report.clone()))),
        },
        None => document.value,
    };
    let envelope = json!({
        "status": response.status().as_u16(),
        "attempts": report.attempts.len(),
        "correlation_id": &*report.correlation_id,
        "format": format_name(document.format),
        "document": value,
    });
    let mut answer = axum::Json(envelope).into_response();
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(headers::DOCUMENT_MEDIA_TYPE),
    );
    stamp(headers, &report.correlation_id, report.attempts.len());
    Ok(answer)
}

pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Json => "json",
        Format::Xml => "xml",
        Format::Empty => "empty",
        _ => "other",
    }
}
