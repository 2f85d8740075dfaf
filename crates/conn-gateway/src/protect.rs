//! Inbound protection: header size, body size, per-request time limit, and
//! a concurrency ceiling that sheds load (503 + `Retry-After`) instead of
//! queueing without bound. The limits themselves are tower / tower-http
//! layers; this module only turns their bare answers into problems.

use std::sync::Arc;
use std::time::Duration;

use axum::BoxError;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::headers;
use crate::problem::{PROBLEM_JSON, Problem};
use crate::state::Shared;

/// Marks an error-status answer a handler made on purpose: the upstream's
/// own 4xx passed through (it must reach the caller as it was) or a
/// workflow's report. Only unmarked bare answers become problems.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deliberate;

/// Refuses requests whose headers are larger than the limit with 431.
pub(crate) async fn header_limit(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = shared.current().config.max_header_bytes;
    if headers::header_bytes(request.headers()) > limit {
        return Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "Request headers too large",
            format!("the request headers are larger than the gateway's limit of {limit} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

type Shed = fn(BoxError) -> std::future::Ready<Response>;

/// The layers of the ceiling: answer an overload, shed, limit.
pub(crate) type Ceiling = ServiceBuilder<
    Stack<GlobalConcurrencyLimitLayer, Stack<LoadShedLayer, Stack<HandleErrorLayer<Shed, ()>, Identity>>>,
>;

/// The concurrency ceiling of the call routes: at most `max` requests at
/// once (one semaphore shared by every route it wraps); the next one is
/// answered 503 at once.
pub(crate) fn ceiling(semaphore: Arc<Semaphore>) -> Ceiling {
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(
            shed as fn(BoxError) -> std::future::Ready<Response>,
        ))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(semaphore))
}

fn shed(_: BoxError) -> std::future::Ready<Response> {
    metrics::counter!(crate::metrics::SHED_TOTAL).increment(1);
    std::future::ready(Problem::overloaded().into_response())
}

/// The per-request time limit of the outer layer: a little longer than the
/// call deadline the handlers give conn, so conn's own deadline error (with
/// attempts and correlation id) normally answers first.
pub(crate) fn outer_timeout(request_timeout: Duration) -> Duration {
    request_timeout.saturating_add(Duration::from_millis(500))
}

/// Turns the bare answers of layers and of axum itself (413 of the body
/// limit, 504 of the timeout, 404 / 405 of routing, 400 / 422 of a rejected
/// extractor) into problems, leaving upstream answers and problems alone.
pub(crate) async fn problems_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Deliberate>().is_some()
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
    {
        return response;
    }
    let problem = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "request_too_large",
            "Request body too large",
            "the request body is larger than the gateway's limit",
        ),
        StatusCode::GATEWAY_TIMEOUT => Problem::new(
            status,
            "request_timeout",
            "Request timed out",
            "the request took longer than the gateway's time limit",
        ),
        StatusCode::NOT_FOUND => Problem::not_found("no such route; see docs/gateway.md for the interface"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "method_not_allowed",
            "Method not allowed",
            "this route does not take that method",
        ),
        s if s.is_client_error() => Problem::new(s, "bad_request", "Bad request", "the request was refused"),
        s => Problem::new(s, "internal", "Internal error", "the gateway failed to answer"),
    };
    problem.into_response()
}
