//! Observability of the pipeline: the exact spans, fields and events of a
//! call that is retried twice and throttled once, the metrics it records,
//! and a canary check over everything captured at TRACE with bodies on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conn::retry::{Backoff, Jitter, Retry};
use conn::throttle::{Limit, Throttler};
use conn::{Connector, Context, Request, Telemetry};
use conn_testkit::{MockReply, ScriptedTransport};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Records spans, field updates and events as lines, in order.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

fn line(prefix: &str, fields: &BTreeMap<String, String>) -> String {
    let mut out = prefix.to_owned();
    for (name, value) in fields {
        let _ = write!(out, " {name}={value}");
    }
    out
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push(line(&format!("span {}", attrs.metadata().name()), &fields.0));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        values.record(&mut fields);
        let name = ctx.span(id).map(|s| s.name()).unwrap_or("?");
        self.0
            .lock()
            .unwrap()
            .push(line(&format!("record {name}"), &fields.0));
    }
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let parent = ctx.event_span(event).map(|s| s.name()).unwrap_or("none");
        let message = fields.0.remove("message").unwrap_or_default();
        let level = event.metadata().level();
        self.0
            .lock()
            .unwrap()
            .push(line(&format!("event {level} {parent}: {message} |"), &fields.0));
    }
}

/// 503, 503, 200 with a 100 ms / 200 ms retry schedule, through a throttle
/// that admits one attempt per 150 ms: attempt 2 waits 50 ms, nothing else does.
fn scenario(telemetry: Telemetry, transport: &Arc<ScriptedTransport>) -> Connector {
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            2.0,
            Duration::from_secs(1),
        ))
        .jitter(Jitter::None)
        .build();
    let throttle = Throttler::builder()
        .limit(Limit::new(1, Duration::from_millis(150)))
        .build();
    Connector::builder("obs")
        .base_url("https://api.example.com")
        .transport(transport.clone())
        .retry(Arc::new(retry))
        .throttle(Arc::new(throttle))
        .telemetry(telemetry)
        .build()
        .unwrap()
}

fn flaky() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(503),
        MockReply::json(200, r#"{"ok":true}"#),
    ]))
}

#[tokio::test(start_paused = true)]
async fn spans_fields_and_events_in_order() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone().with_filter(
        tracing_subscriber::filter::Targets::new().with_target("conn_core", tracing::Level::TRACE),
    ));
    let _guard = tracing::subscriber::set_default(subscriber);

    let connector = scenario(Telemetry::default(), &flaky());
    let context = Context::new().tenant("acme").correlation_id("corr-1");
    connector
        .call(Request::get("/flaky").query("token", "q-secret"), context)
        .await
        .unwrap();

    let lines = capture.0.lock().unwrap().clone();
    let expected = [
        "span conn.call conn.connector=obs conn.correlation_id=corr-1 conn.tenant=acme http.request.method=GET otel.kind=client server.address=api.example.com url.path=/flaky",
        "span conn.attempt conn.attempt=1 http.request.resend_count=0",
        "record conn.attempt conn.throttle.wait_ms=0.0",
        "record conn.attempt http.response.status_code=503",
        "record conn.attempt conn.retry.delay_ms=100",
        "event DEBUG conn.attempt: retry scheduled | conn.retry.delay_ms=100 reason=status_503",
        "span conn.attempt conn.attempt=2 http.request.resend_count=1",
        "record conn.attempt conn.throttle.wait_ms=50.0",
        "event DEBUG conn.attempt: throttled | conn.throttle.wait_ms=50.0",
        "record conn.attempt http.response.status_code=503",
        "record conn.attempt conn.retry.delay_ms=200",
        "event DEBUG conn.attempt: retry scheduled | conn.retry.delay_ms=200 reason=status_503",
        "span conn.attempt conn.attempt=3 http.request.resend_count=2",
        "record conn.attempt conn.throttle.wait_ms=0.0",
        "record conn.attempt http.response.status_code=200",
        "record conn.call http.response.status_code=200",
        "record conn.call http.request.resend_count=2",
        "event DEBUG conn.call: call finished | attempts=3 duration_ms=350.0 outcome=success",
    ];
    assert_eq!(lines, expected, "\ncaptured:\n{}", lines.join("\n"));
}

#[tokio::test(start_paused = true)]
async fn production_level_is_quiet() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(
        capture
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    scenario(Telemetry::default(), &flaky())
        .call(Request::get("/flaky"), Context::new())
        .await
        .unwrap();
    let lines = capture.0.lock().unwrap().clone();
    assert!(
        lines.iter().all(|l| !l.starts_with("event")),
        "no event at INFO for a call that recovered: {lines:#?}"
    );
    assert!(
        lines[0].starts_with("span conn.call"),
        "the call span is available at INFO for exporters"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_of_the_same_scenario() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    scenario(Telemetry::default(), &flaky())
        .call(Request::get("/flaky"), Context::new().tenant("acme"))
        .await
        .unwrap();

    let mut seen = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match value {
            DebugValue::Counter(n) => n.to_string(),
            DebugValue::Gauge(g) => g.into_inner().to_string(),
            DebugValue::Histogram(values) => {
                format!("{:?}", values.iter().map(|v| v.into_inner()).collect::<Vec<_>>())
            }
        };
        seen.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
    }
    let expected: BTreeMap<String, String> = [
        (
            "conn_requests_total{connector=obs,outcome=success,status_class=2xx}",
            "1",
        ),
        (
            "conn_request_duration_seconds{connector=obs,outcome=success}",
            "[0.35]",
        ),
        ("conn_attempts_per_call{connector=obs}", "[3.0]"),
        ("conn_retries_total{connector=obs,reason=status_503}", "2"),
        ("conn_throttle_wait_seconds{connector=obs}", "[0.0, 0.05, 0.0]"),
        ("conn_in_flight{connector=obs}", "0"),
        // Registered with the connector's other handles, so the series exists at zero.
        ("conn_throttle_rejections_total{connector=obs}", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn disabled_telemetry_emits_nothing() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _metrics = metrics::set_default_local_recorder(&recorder);
    let telemetry = Telemetry {
        enabled: false,
        ..Telemetry::default()
    };
    scenario(telemetry, &flaky())
        .call(Request::get("/flaky"), Context::new())
        .await
        .unwrap();
    let from_core: Vec<_> = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("conn."))
        .cloned()
        .collect();
    assert!(from_core.is_empty(), "{from_core:#?}");
    assert!(snapshotter.snapshot().into_vec().is_empty());
}

#[tokio::test(start_paused = true)]
async fn canary_secrets_never_reach_the_logs_even_at_trace_with_bodies() {
    const CANARY: &str = "CANARY-0b9d7e";
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503).body(format!(r#"{{"error":"busy","session":"{CANARY}"}}"#)),
        MockReply::json(
            200,
            format!(r#"{{"access_token":"{CANARY}","refresh_token":"{CANARY}"}}"#),
        ),
    ]));
    let telemetry = Telemetry {
        trace_bodies: true,
        ..Telemetry::default()
    };
    let connector = scenario(telemetry, &transport);
    let request = Request::post("/login")
        .idempotency_key("k-1")
        .header("authorization", format!("Bearer {CANARY}"))
        .query("api_key", CANARY)
        .body(format!("user=ann&password={CANARY}&client_secret={CANARY}"));
    let response = connector.call(request, Context::new()).await.unwrap();
    let lines = capture.0.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains("request body")),
        "bodies were traced: {lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("response body")));
    let everything = format!(
        "{}\n{:?}\n{}",
        lines.join("\n"),
        response.report(),
        response.report()
    );
    assert!(!everything.contains(CANARY), "canary leaked:\n{everything}");
}
