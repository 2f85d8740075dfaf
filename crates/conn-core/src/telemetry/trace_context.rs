//! W3C trace context (cargo feature `trace-context`): each attempt carries
//! `traceparent` / `tracestate` naming its own span, so the API's traces
//! join the application's.
//!
//! Why the attempt's span and not the call's: a retried call makes several
//! requests, and the API's side of each belongs under the attempt that made
//! it. The span context comes from tracing-opentelemetry, so nothing is sent
//! unless the application exports spans through it. Unless
//! `Telemetry::trace_context_across_origins` is on, both headers are marked
//! like credentials, so a redirect to another origin never carries them
//! (the hyper transport strips marked headers on such hops).

use http::header::{HeaderName, HeaderValue};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TransportRequest;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Adds the current (attempt) span's trace context to the wire request,
/// marked to stay on the origin unless `across_origins`.
pub(crate) fn inject(wire: &mut TransportRequest, across_origins: bool) {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    let headers = wire.request.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        headers.insert(TRACEPARENT, value);
        if !across_origins {
            wire.credentials.mark_header(TRACEPARENT);
        }
    }
    let state = span_context.trace_state().header();
    if !state.is_empty()
        && let Ok(value) = HeaderValue::from_str(&state)
    {
        wire.request.headers_mut().insert(TRACESTATE, value);
        if !across_origins {
            wire.credentials.mark_header(TRACESTATE);
        }
    }
}
