//! The gateway's own request metrics, recorded through the `metrics` facade
//! beside conn's (so `GET /metrics` shows both).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Counter: requests answered, by `route` (the matched route pattern, never
/// the path a caller sent), `method` and `status`.
pub const REQUESTS_TOTAL: &str = "conn_gateway_requests_total";
/// Histogram: time to answer, in seconds, by `route` and `method`.
pub const REQUEST_DURATION_SECONDS: &str = "conn_gateway_request_duration_seconds";
/// Gauge: requests being handled now.
pub const IN_FLIGHT: &str = "conn_gateway_in_flight";
/// Counter: requests shed at the concurrency ceiling (answered 503).
pub const SHED_TOTAL: &str = "conn_gateway_shed_total";
/// Counter: reloads, by `outcome` (`ok`, `refused`).
pub const RELOADS_TOTAL: &str = "conn_gateway_reloads_total";

/// Where the route layer leaves the matched route pattern for [`record`],
/// which runs outside the router, before routing.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<MatchedPath>>);

/// Records every request's route, status and duration. The route is the
/// pattern the router matched (left by [`carry_route`]); a request refused
/// before routing (headers or a declared body too large) counts as
/// `unmatched`.
pub(crate) async fn record(mut request: Request, next: Next) -> Response {
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let in_flight = metrics::gauge!(IN_FLIGHT);
    in_flight.increment(1.0);
    let response = next.run(request).await;
    in_flight.decrement(1.0);
    // The route pattern, not the path: paths are unbounded label values and
    // may carry identifiers.
    let route = slot
        .0
        .get()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    metrics::counter!(
        REQUESTS_TOTAL,
        "route" => route.clone(),
        "method" => method.clone(),
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Inside the router (a route layer): tells [`record`] which route matched.
pub(crate) async fn carry_route(request: Request, next: Next) -> Response {
    if let (Some(route), Some(slot)) = (
        request.extensions().get::<MatchedPath>(),
        request.extensions().get::<RouteSlot>(),
    ) {
        let _ = slot.0.set(route.clone());
    }
    next.run(request).await
}
