//! W3C trace context: each attempt sends `traceparent` for its own span, as
//! exported by OpenTelemetry through tracing-opentelemetry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use conn_core::{
    AttemptOutcome, BoxFuture, CallInfo, Connector, Context, Error, Request, RetryDecision, RetryPolicy,
    Transport, TransportRequest, TransportResponse,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

/// Answers 503 first, then 200, and keeps the `traceparent` of each request.
#[derive(Default)]
struct Recording {
    seen: Mutex<Vec<Option<String>>>,
}

impl Transport for Recording {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let header = request
            .request
            .headers()
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut seen = self.seen.lock().unwrap();
        let status = if seen.is_empty() { 503 } else { 200 };
        assert!(request.credentials.headers().iter().any(|h| h == "traceparent") == header.is_some());
        seen.push(header);
        Box::pin(async move {
            let response = http::Response::builder()
                .status(status)
                .body(bytes::Bytes::new())
                .unwrap();
            Ok(TransportResponse::new(response))
        })
    }
}

struct OnceMore;

impl RetryPolicy for OnceMore {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        if call.attempt == 1 && outcome.status().is_some_and(|s| s.is_server_error()) {
            RetryDecision::Retry {
                delay: Duration::ZERO,
            }
        } else {
            RetryDecision::Stop
        }
    }
}

fn connector(transport: Arc<Recording>) -> Connector {
    Connector::builder("traced")
        .base_url("https://api.traced.test")
        .transport(transport)
        .retry(Arc::new(OnceMore))
        .build()
        .unwrap()
}

/// The two tests share tracing's global callsite registry: one running with
/// no subscriber while the other installs its own can leave a callsite's
/// cached interest at "never". They take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn each_attempt_carries_its_own_span_and_the_exported_spans_match() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let transport = Arc::new(Recording::default());
    {
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        connector(transport.clone())
            .call(Request::get("/item"), Context::new())
            .await
            .unwrap();
    }
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let call = spans
        .iter()
        .find(|s| s.name == "conn.call")
        .expect("the call span is exported");
    let mut attempts: Vec<_> = spans.iter().filter(|s| s.name == "conn.attempt").collect();
    attempts.sort_by_key(|s| s.start_time);
    assert_eq!(attempts.len(), 2);

    let seen = transport.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    // Each request names its own attempt's span, in order, under the call's trace.
    for (header, attempt) in seen.iter().zip(&attempts) {
        let header = header.as_deref().expect("every attempt carries traceparent");
        let expected = format!(
            "00-{}-{}-01",
            call.span_context.trace_id(),
            attempt.span_context.span_id()
        );
        assert_eq!(header, expected);
        assert_eq!(attempt.parent_span_id, call.span_context.span_id());
    }
    assert_ne!(seen[0], seen[1], "a retry is another span");
}

#[tokio::test]
async fn without_opentelemetry_nothing_is_sent() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let transport = Arc::new(Recording::default());
    connector(transport.clone())
        .call(Request::get("/item"), Context::new())
        .await
        .unwrap();
    assert_eq!(*transport.seen.lock().unwrap(), vec![None, None]);
}
