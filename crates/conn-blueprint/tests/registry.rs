//! Registry: building, shared quotas and budgets, hot reload.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conn_blueprint::{Blueprint, ConnectorConfig, Registry};
use conn_core::{Context, Request, Transport};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::time::Instant;

fn blueprint(text: &str, vars: &[(&str, &str)]) -> Blueprint {
    Blueprint::from_str_with_env(text, &common::env(vars)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(start_paused = true)]
async fn builds_working_connectors_with_auth_headers_and_retry() {
    let bp = blueprint(
        r#"
[connectors.billing]
base_url = "https://billing.example/v1"
headers = { "X-Client" = "conn" }
auth = { type = "bearer", token = { env = "BILLING_TOKEN" } }
retry = { max_attempts = 3, base = "10ms", jitter = "none" }

[connectors.catalog]
base_url = "https://catalog.example"
auth = { type = "api_key", header = "X-Key", key = { env = "CATALOG_KEY" } }
"#,
        &[("BILLING_TOKEN", "tok"), ("CATALOG_KEY", "key")],
    );
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::json(200, "{}"),
    ]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    assert_eq!(registry.names(), ["billing", "catalog"]);
    assert!(registry.get("nope").is_none());

    let response = registry
        .get("billing")
        .unwrap()
        .call(Request::get("/invoices"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.report().attempts.len(), 2, "503 then 200: retried once");
    let sent = transport.requests();
    assert_eq!(sent[0].request.uri(), "https://billing.example/v1/invoices");
    assert_eq!(sent[0].request.headers()["authorization"], "Bearer tok");
    assert_eq!(sent[0].request.headers()["x-client"], "conn");

    registry
        .get("catalog")
        .unwrap()
        .call(Request::get("/items"), Context::new())
        .await
        .unwrap();
    assert_eq!(transport.requests()[2].request.headers()["x-key"], "key");
    // The registry's Debug names connectors, never secrets.
    assert!(!format!("{registry:?}").contains("tok\""));
}

#[tokio::test(start_paused = true)]
async fn shared_quota_across_two_connectors_holds_the_combined_rate() {
    let bp = blueprint(
        r#"
[defaults]
breaker = { enabled = false }
throttle = { limits = [{ count = 10, per_seconds = 1, burst = 1 }], shared = "vendor" }

[connectors.a]
base_url = "https://vendor.example/a"

[connectors.b]
base_url = "https://vendor.example/b"
"#,
        &[],
    );
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    assert!(Arc::ptr_eq(
        &registry.throttle("a").unwrap(),
        &registry.throttle("b").unwrap()
    ));

    let start = Instant::now();
    let mut calls = Vec::new();
    for i in 0..40 {
        let connector = registry.get(if i % 2 == 0 { "a" } else { "b" }).unwrap();
        calls.push(tokio::spawn(async move {
            connector.call(Request::get("/x"), Context::new()).await
        }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let mut at: Vec<Duration> = transport.requests().iter().map(|r| r.at - start).collect();
    at.sort();
    assert_eq!(at.len(), 40);
    // 10/s with burst 1 over both connectors: one request per 100 ms in all.
    for pair in at.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(99), "{pair:?}");
    }
    assert!(at[39] >= Duration::from_millis(3_900), "{:?}", at[39]);
    let uris: Vec<String> = transport
        .requests()
        .iter()
        .map(|r| r.request.uri().to_string())
        .collect();
    assert_eq!(uris.iter().filter(|u| u.contains("/a/")).count(), 20);
}

#[tokio::test(start_paused = true)]
async fn separate_quotas_without_a_shared_group() {
    let bp = blueprint(
        r#"
[defaults]
throttle = { limits = [{ count = 10, per_seconds = 1 }] }
[connectors.a]
base_url = "https://vendor.example/a"
[connectors.b]
base_url = "https://vendor.example/b"
"#,
        &[],
    );
    let registry =
        Registry::from_blueprint(&bp, Arc::new(ScriptedTransport::new([MockReply::status(200)]))).unwrap();
    assert!(!Arc::ptr_eq(
        &registry.throttle("a").unwrap(),
        &registry.throttle("b").unwrap()
    ));
}

#[tokio::test(start_paused = true)]
async fn shared_retry_budget_is_one_object() {
    let bp = blueprint(
        r#"
[defaults]
retry = { shared_budget = "g" }
[connectors.a]
base_url = "https://vendor.example/a"
[connectors.b]
base_url = "https://vendor.example/b"
[connectors.c]
base_url = "https://vendor.example/c"
retry = { shared_budget = "other" }
"#,
        &[],
    );
    let registry =
        Registry::from_blueprint(&bp, Arc::new(ScriptedTransport::new([MockReply::status(200)]))).unwrap();
    let (a, b, c) = (
        registry.retry_budget("a").unwrap(),
        registry.retry_budget("b").unwrap(),
        registry.retry_budget("c").unwrap(),
    );
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
}

const BEFORE: &str = r#"
[defaults]
throttle = { max_in_flight = 1000 }
[connectors.a]
base_url = "https://vendor.example/a"
headers = { "X-Version" = "1" }
[connectors.b]
base_url = "https://vendor.example/b"
"#;

const AFTER: &str = r#"
[defaults]
throttle = { max_in_flight = 1000 }
[connectors.a]
base_url = "https://vendor.example/a"
headers = { "X-Version" = "2" }
breaker = { consecutive_failures = 9 }
[connectors.b]
base_url = "https://vendor.example/b"
throttle = { max_in_flight = 500 }
[connectors.c]
base_url = "https://vendor.example/c"
"#;

#[tokio::test(start_paused = true)]
async fn hot_reload_during_500_in_flight_calls_loses_none() {
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_secs(1))
    ]));
    let registry = Arc::new(Registry::from_blueprint(&blueprint(BEFORE, &[]), transport.clone()).unwrap());
    let a_breaker = registry.breaker("a").unwrap();
    let b_breaker = registry.breaker("b").unwrap();
    let a_throttle = registry.throttle("a").unwrap();
    let b_throttle = registry.throttle("b").unwrap();

    let mut calls = Vec::new();
    for i in 0..500 {
        let registry = registry.clone();
        calls.push(tokio::spawn(async move {
            // Spread the calls over time so some start after the reload.
            tokio::time::sleep(Duration::from_millis(i % 50 * 20)).await;
            let name = if i % 2 == 0 { "a" } else { "b" };
            registry
                .get(name)
                .unwrap()
                .call(Request::get("/x"), Context::new())
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    registry.reload(&blueprint(AFTER, &[])).unwrap();

    let mut ok = 0;
    for call in calls {
        let response = call.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        ok += 1;
    }
    assert_eq!(ok, 500);
    assert_eq!(transport.count(), 500);
    let versions: Vec<String> = transport
        .requests()
        .iter()
        .filter_map(|r| {
            r.request
                .headers()
                .get("x-version")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert!(
        versions.contains(&"1".to_owned()) && versions.contains(&"2".to_owned()),
        "old and new config both served"
    );

    assert_eq!(registry.names(), ["a", "b", "c"]);
    // a: breaker changed -> new; throttle unchanged -> kept with its state.
    assert!(!Arc::ptr_eq(&a_breaker, &registry.breaker("a").unwrap()));
    assert!(Arc::ptr_eq(&a_throttle, &registry.throttle("a").unwrap()));
    // b: throttle changed -> new; breaker unchanged -> kept.
    assert!(Arc::ptr_eq(&b_breaker, &registry.breaker("b").unwrap()));
    assert!(!Arc::ptr_eq(&b_throttle, &registry.throttle("b").unwrap()));
}

#[tokio::test(start_paused = true)]
async fn breaker_state_survives_a_reload_that_does_not_touch_it() {
    let text = r#"
[connectors.flaky]
base_url = "https://flaky.example"
retry = { max_attempts = 1 }
breaker = { consecutive_failures = 2, cooldown = "60s" }
"#;
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(500)]));
    let registry = Registry::from_blueprint(&blueprint(text, &[]), transport.clone()).unwrap();
    for _ in 0..2 {
        let err = registry
            .get("flaky")
            .unwrap()
            .call(Request::get("/x"), Context::new())
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    }
    registry
        .reload(&blueprint(
            &text.replace("max_attempts = 1", "max_attempts = 2"),
            &[],
        ))
        .unwrap();
    let err = registry
        .get("flaky")
        .unwrap()
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_circuit_open(), "{err}");
    assert_eq!(transport.count(), 2, "the open circuit sent nothing");
}

#[tokio::test]
async fn factory_gets_each_connector_config_and_failed_reload_changes_nothing() {
    let made = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = made.clone();
    let factory = Arc::new(
        move |config: &ConnectorConfig| -> Result<Arc<dyn Transport>, conn_core::Error> {
            seen.lock().unwrap().push(config.name.clone());
            if config.base_url.contains("broken") {
                return Err(conn_core::Error::config("no transport for this one"));
            }
            Ok(Arc::new(ScriptedTransport::new([MockReply::status(200)])))
        },
    );
    let registry = Registry::with_factory(&blueprint(BEFORE, &[]), factory).unwrap();
    assert_eq!(*made.lock().unwrap(), ["a", "b"]);
    let broken = blueprint(&AFTER.replace("vendor.example/c", "broken.example/c"), &[]);
    assert!(registry.reload(&broken).is_err());
    assert_eq!(registry.names(), ["a", "b"]);
    // Unchanged transports (redirects/tls equal) are kept: only c was asked for.
    assert_eq!(*made.lock().unwrap(), ["a", "b", "c"]);
}

#[test]
fn hyper_registry_builds_from_the_example() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/blueprint.toml"
    ))
    .unwrap();
    let bp = blueprint(&text, &[("ORDERS_CLIENT_SECRET", "s"), ("CATALOG_API_KEY", "k")]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let registry = Registry::from_blueprint_hyper(&bp).unwrap();
    assert_eq!(registry.names(), ["catalog", "flaky", "orders"]);
    assert_eq!(
        registry.get("orders").unwrap().base_url().authority().as_str(),
        "127.0.0.1:8080"
    );
}

/// What `examples/blueprint_workflow.rs` does, over real sockets: the example
/// blueprint against the test kit's server, OAuth2 token endpoint included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_blueprint_runs_a_workflow_against_the_test_server() {
    use conn_blueprint::Workflow;
    use conn_testkit::{Reply, TestServer};
    use http::Method;

    let api = TestServer::start().await.unwrap();
    api.route(
        Method::POST,
        "/oauth/token",
        [Reply::json(
            200,
            r#"{"access_token":"demo-token","token_type":"Bearer","expires_in":3600}"#,
        )],
    );
    api.route(Method::GET, "/api/orders/7", [Reply::json(200, r#"{"id":7}"#)]);
    api.route(
        Method::GET,
        "/xml/items/A-1",
        [Reply::text(
            200,
            "application/xml",
            "<catalog><item>A</item></catalog>",
        )],
    );
    api.route(
        Method::GET,
        "/flaky/stock/A-1",
        [Reply::status(503), Reply::json(200, r#"{"stock":3}"#)],
    );

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/blueprint.toml"
    ))
    .unwrap();
    let text = text.replace("127.0.0.1:8080", &api.addr().to_string());
    let bp = blueprint(
        &text,
        &[("ORDERS_CLIENT_SECRET", "s3cret"), ("CATALOG_API_KEY", "k3y")],
    );
    let registry = Registry::from_blueprint_hyper(&bp).unwrap();
    let report = Workflow::new()
        .tenant("acme")
        .timeout(Duration::from_secs(30))
        .call(
            "order",
            &registry.get("orders").unwrap(),
            Request::get("/orders/7"),
        )
        .call(
            "item",
            &registry.get("catalog").unwrap(),
            Request::get("/items/A-1"),
        )
        .call(
            "stock",
            &registry.get("flaky").unwrap(),
            Request::get("/stock/A-1"),
        )
        .run()
        .await;
    assert!(report.is_success(), "{report}");
    assert_eq!(api.hits("/flaky/stock/A-1"), 2, "the 503 was retried");
    let order = &api.requests_to("/api/orders/7")[0];
    assert_eq!(order.headers["authorization"], "Bearer demo-token");
    let item = &api.requests_to("/xml/items/A-1")[0];
    assert_eq!(item.headers["x-api-key"], "k3y");
    assert_eq!(
        item.headers["user-agent"], "conn-example/0.1",
        "[defaults] headers"
    );
}

#[tokio::test(start_paused = true)]
async fn transport_limits_and_slow_call_breaker_keys() {
    let defaults = blueprint("[connectors.a]\nbase_url = \"https://a.example\"\n", &[]);
    let config = defaults.connector("a").unwrap();
    assert_eq!(config.connect_timeout, Duration::from_secs(10));
    assert_eq!(config.body_limit, 16 * 1024 * 1024);
    assert_eq!(config.breaker.slow_call_threshold, None);
    assert_eq!(config.breaker.slow_call_rate, 1.0);

    let bp = blueprint(
        r#"
[connectors.slow]
base_url = "https://slow.example"
timeouts = { connect = "2s" }
body_limit = 1024
retry = { max_attempts = 1 }
breaker = { consecutive_failures = 0, slow_call_threshold = "1s", slow_call_rate = 0.5, window_calls = 4, minimum_calls = 4 }
"#,
        &[],
    );
    let config = bp.connector("slow").unwrap();
    assert_eq!(config.connect_timeout, Duration::from_secs(2));
    assert_eq!(config.body_limit, 1024);
    assert_eq!(config.breaker.slow_call_threshold, Some(Duration::from_secs(1)));
    Registry::from_blueprint_hyper(&bp).unwrap();

    // Four slow successes open the circuit.
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_secs(2))
    ]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    let slow = registry.get("slow").unwrap();
    for _ in 0..4 {
        slow.call(Request::get("/x"), Context::new()).await.unwrap();
    }
    let err = slow.call(Request::get("/x"), Context::new()).await.unwrap_err();
    assert_eq!(err.kind(), conn_core::ErrorKind::CircuitOpen, "{err}");
    assert_eq!(transport.count(), 4);

    let errs = Blueprint::from_str_with_env(
        "[connectors.a]\nbase_url = \"https://a.example\"\nbreaker = { slow_call_rate = 0, slow_call_threshold = \"0s\" }\ntimeouts.connect = \"0s\"\nbody_limit = 0\n",
        &HashMap::new(),
    )
    .unwrap_err();
    let shown = errs.to_string();
    for path in [
        "connectors.a.breaker.slow_call_rate",
        "connectors.a.breaker.slow_call_threshold",
        "connectors.a.timeouts.connect",
        "connectors.a.body_limit",
    ] {
        assert!(errs.has(path), "{path}: {shown}");
    }
    assert_eq!(errs.len(), 4, "{shown}");
}

#[tokio::test(start_paused = true)]
async fn adaptive_throttle_from_the_blueprint_slows_down_after_a_429() {
    let bp = blueprint(
        r#"
[connectors.a]
base_url = "https://a.example"
breaker = { enabled = false }
retry = { max_attempts = 1 }
throttle.adaptive = { enabled = true, initial_rate = 2.0, min_rate = 0.5, max_rate = 50 }
throttle.honour_server_hints = false
[connectors.a.variant]
tenants = ["v"]
throttle.adaptive.max_rate = 20
"#,
        &[],
    );
    let config = bp.connector("a").unwrap();
    let adaptive = config.throttle.adaptive.unwrap();
    assert_eq!(
        (adaptive.initial_rate, adaptive.min_rate, adaptive.max_rate),
        (2.0, 0.5, 50.0)
    );
    assert!(!config.throttle.honour_server_hints);
    assert!(config.throttle.enabled());
    assert_eq!(
        config
            .variant
            .as_ref()
            .unwrap()
            .throttle
            .adaptive
            .unwrap()
            .max_rate,
        20.0
    );
    let defaults = blueprint("[connectors.b]\nbase_url = \"https://b.example\"\n", &[]);
    let b = defaults.connector("b").unwrap();
    assert!(b.throttle.adaptive.is_none() && b.throttle.honour_server_hints);

    let transport = Arc::new(ScriptedTransport::new(
        std::iter::repeat_with(|| MockReply::status(200)).take(5),
    ));
    transport.push([MockReply::status(429), MockReply::status(200)]);
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    assert!(registry.throttle("a").is_some());
    let a = registry.get("a").unwrap();
    let start = Instant::now();
    for _ in 0..5 {
        a.call(Request::get("/x"), Context::new()).await.unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "no 429 yet: no limit"
    );
    a.call(Request::get("/x"), Context::new()).await.unwrap_err();
    let start = Instant::now();
    for _ in 0..4 {
        a.call(Request::get("/x"), Context::new()).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "after a 429 the learned rate spaces calls: {:?}",
        start.elapsed()
    );

    let errs = Blueprint::from_str_with_env(
        "[connectors.a]\nbase_url = \"https://a.example\"\nthrottle.adaptive = { enabled = true, min_rate = 0 }\n[connectors.b]\nbase_url = \"https://b.example\"\nthrottle.adaptive = { enabled = true, min_rate = 5, max_rate = 1 }\n",
        &HashMap::new(),
    )
    .unwrap_err();
    let shown = errs.to_string();
    assert!(errs.has("connectors.a.throttle.adaptive.min_rate"), "{shown}");
    assert!(errs.has("connectors.b.throttle.adaptive.max_rate"), "{shown}");
    assert_eq!(errs.len(), 2, "{shown}");
}
