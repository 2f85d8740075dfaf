//! W3C trace context across a real redirect (conn-core feature
//! `trace-context`): `traceparent` stays on the connector's origin unless
//! `Telemetry::trace_context_across_origins` lets it follow.

use std::sync::Arc;
use std::time::Duration;

use conn::transport::{HyperTransport, Redirects};
use conn::{Connector, Context, Request, Telemetry};
use conn_testkit::{Reply, TestServer};
use http::Method;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

/// Tracing's callsite interest cache is global: the tests take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Calls `/away` on `origin`, which redirects to `elsewhere`, with spans
/// exported through tracing-opentelemetry.
async fn call_through_redirect(origin: &TestServer, elsewhere: &TestServer, across_origins: bool) {
    origin.route(
        Method::GET,
        "/away",
        [Reply::redirect(302, &format!("{}/landing", elsewhere.url()))],
    );
    elsewhere.route(Method::GET, "/landing", [Reply::json(200, "{}")]);
    let connector = Connector::builder("traced")
        .base_url(origin.url())
        .allow_http(true)
        .transport(Arc::new(
            HyperTransport::builder()
                .redirects(Redirects::any_origin_without_credentials(3))
                .build()
                .unwrap(),
        ))
        .telemetry(Telemetry {
            trace_context_across_origins: across_origins,
            ..Telemetry::default()
        })
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let response = connector
        .call(Request::get("/away"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn trace_context_stays_on_the_origin_by_default() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let origin = TestServer::start().await.unwrap();
    let elsewhere = TestServer::start().await.unwrap();
    call_through_redirect(&origin, &elsewhere, false).await;

    let first = &origin.requests_to("/away")[0];
    assert!(
        first.header("traceparent").is_some_and(|v| v.starts_with("00-")),
        "the origin sees the attempt's trace context"
    );
    let landed = &elsewhere.requests_to("/landing")[0];
    assert_eq!(landed.header("traceparent"), None);
    assert_eq!(landed.header("tracestate"), None);
}

#[tokio::test]
async fn trace_context_follows_a_redirect_when_configured() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let origin = TestServer::start().await.unwrap();
    let elsewhere = TestServer::start().await.unwrap();
    call_through_redirect(&origin, &elsewhere, true).await;

    let sent = origin.requests_to("/away")[0]
        .header("traceparent")
        .map(str::to_owned)
        .expect("the origin sees the attempt's trace context");
    let landed = &elsewhere.requests_to("/landing")[0];
    // The hop is part of the same attempt: the same span, not a new one.
    assert_eq!(landed.header("traceparent"), Some(sent.as_str()));
}
