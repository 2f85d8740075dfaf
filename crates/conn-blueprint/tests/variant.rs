//! Feature flags: an alternative retry / throttle configuration for a share
//! of calls or for listed tenants.

use std::collections::HashMap;
use std::sync::Arc;

use conn_blueprint::{Blueprint, Registry};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

fn parse(text: &str) -> Result<Blueprint, conn_blueprint::ValidationErrors> {
    Blueprint::from_str_with_env(text, &HashMap::new())
}

#[tokio::test(start_paused = true)]
async fn percentage_split_over_10000_calls_is_within_two_percent() {
    let bp = parse(
        r#"
[connectors.vendor]
base_url = "https://vendor.example"
breaker = { enabled = false }
retry = { max_attempts = 1 }
variant = { name = "patient", percent = 30, retry = { max_attempts = 4 } }
"#,
    )
    .unwrap();
    let config = bp.connector("vendor").unwrap().variant.clone().unwrap();
    assert_eq!(config.retry.max_attempts, 4);
    assert_eq!(
        config.retry.backoff, "exponential",
        "inherited from the connector"
    );
    assert!(
        bp.explain()
            .lines()
            .any(|l| l.starts_with("variant.retry.max_attempts"))
    );

    let registry =
        Registry::from_blueprint(&bp, Arc::new(ScriptedTransport::new([MockReply::status(200)]))).unwrap();
    let vendor = registry.get("vendor").unwrap();
    for i in 0..10_000 {
        let context = Context::new().correlation_id(format!("req-{i:05}-{}", i * 7919));
        vendor.call(Request::get("/x"), context).await.unwrap();
    }
    let (variant, base) = registry.variant_selector("vendor").unwrap().counts();
    assert_eq!(variant + base, 10_000);
    let share = variant as f64 / 10_000.0;
    assert!((share - 0.30).abs() <= 0.02, "variant share {share}");
}

#[tokio::test(start_paused = true)]
async fn listed_tenants_always_get_the_variant_and_others_never_at_zero_percent() {
    let bp = parse(
        r#"
[connectors.vendor]
base_url = "https://vendor.example"
breaker = { enabled = false }
retry = { max_attempts = 1, budget = { ratio = 0 }, base = "10ms", jitter = "none" }
[connectors.vendor.variant]
tenants = ["acme"]
retry.max_attempts = 3
"#,
    )
    .unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    let vendor = registry.get("vendor").unwrap();
    for _ in 0..10 {
        let err = vendor
            .call(Request::get("/x"), Context::new().tenant("other"))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 1);
    }
    assert_eq!(transport.count(), 10);
    for _ in 0..10 {
        let err = vendor
            .call(Request::get("/x"), Context::new().tenant("acme"))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 3);
    }
    assert_eq!(transport.count(), 40);
    assert_eq!(registry.variant_selector("vendor").unwrap().counts(), (10, 10));
}

#[test]
fn variant_validation() {
    let errs = parse(
        r#"
[connectors.a]
base_url = "https://a.example"
variant = { percent = 10 }
[connectors.b]
base_url = "https://b.example"
variant = { percent = 150, retry = { max_attempts = 2, bogus = 1 }, breaker = { enabled = false } }
[connectors.c]
base_url = "https://c.example"
variant = { throttle = { max_in_flight = 2 } }
"#,
    )
    .unwrap_err();
    let shown = errs.to_string();
    assert!(
        errs.at("connectors.a.variant")
            .unwrap()
            .message
            .contains("overrides nothing"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.b.variant.percent")
            .unwrap()
            .message
            .contains("between 0 and 100"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.b.variant.retry.bogus")
            .unwrap()
            .message
            .contains("unknown key"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.b.variant.breaker")
            .unwrap()
            .message
            .contains("unknown key"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.c.variant.percent")
            .unwrap()
            .message
            .contains("never used"),
        "{shown}"
    );
    assert_eq!(errs.len(), 5, "{shown}");
}

#[tokio::test(start_paused = true)]
async fn call_outcomes_are_counted_per_variant() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let bp = parse(
        r#"
[connectors.vendor]
base_url = "https://vendor.example"
breaker = { enabled = false }
retry = { max_attempts = 1, base = "10ms", jitter = "none", budget = { ratio = 0 } }
[connectors.vendor.variant]
name = "patient"
tenants = ["v"]
retry.max_attempts = 3
throttle = { limits = [{ count = 2, per_seconds = 60, burst = 2 }], mode = "reject" }
"#,
    )
    .unwrap();
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(200),
        MockReply::status(503),
        MockReply::status(200),
    ]));
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    let vendor = registry.get("vendor").unwrap();
    // Variant: 503 then 200 (one call, two attempts, one success).
    vendor
        .call(Request::get("/x"), Context::new().tenant("v"))
        .await
        .unwrap();
    // Base: a 503 is final (1 attempt), then a success.
    let failed = vendor
        .call(Request::get("/x"), Context::new().tenant("x"))
        .await
        .unwrap_err();
    assert_eq!(failed.attempts(), 1);
    vendor
        .call(Request::get("/x"), Context::new().tenant("x"))
        .await
        .unwrap();
    // Variant: its quota of 2 is spent, the throttle refuses the call.
    let refused = vendor
        .call(Request::get("/x"), Context::new().tenant("v"))
        .await
        .unwrap_err();
    assert!(refused.is_rate_limited(), "{refused}");

    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if key.name() != conn_blueprint::VARIANT_CALLS_TOTAL {
            continue;
        }
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let DebugValue::Counter(n) = value else {
            panic!("not a counter")
        };
        seen.push(format!("{} {n}", labels.join(",")));
    }
    seen.sort();
    let mut expected = vec![
        "connector=vendor,outcome=server_status,variant=base 1".to_owned(),
        "connector=vendor,outcome=success,variant=base 1".to_owned(),
        format!(
            "connector=vendor,outcome={},variant=patient 1",
            refused.kind().label()
        ),
        "connector=vendor,outcome=success,variant=patient 1".to_owned(),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn calls_the_breaker_refuses_are_counted_per_variant() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let bp = parse(
        r#"
[connectors.vendor]
base_url = "https://vendor.example"
breaker = { consecutive_failures = 1, key = "tenant" }
retry = { max_attempts = 1, budget = { ratio = 0 } }
variant = { tenants = ["v"], retry = { max_attempts = 1, retry_500 = false } }
"#,
    )
    .unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    let vendor = registry.get("vendor").unwrap();
    for tenant in ["x", "x", "v"] {
        vendor
            .call(Request::get("/x"), Context::new().tenant(tenant))
            .await
            .unwrap_err();
    }
    assert_eq!(transport.count(), 2);
    // A call that fails on its credentials is counted too.
    struct Broken;
    impl conn_core::AuthStrategy for Broken {
        fn authorize<'a>(
            &'a self,
            _: &'a mut Request,
            _: &'a Context,
        ) -> conn_core::BoxFuture<'a, Result<(), conn_core::Error>> {
            Box::pin(async {
                Err(conn_core::Error::new(
                    conn_core::ErrorKind::AuthProvider,
                    "no token",
                ))
            })
        }
    }
    registry.set_tenant_auth("vendor", "v2", Arc::new(Broken));
    let err = vendor
        .call(Request::get("/x"), Context::new().tenant("v2"))
        .await
        .unwrap_err();
    assert!(err.is_auth_provider(), "{err}");
    assert_eq!(transport.count(), 2);
    let snapshot = snapshotter.snapshot().into_vec();
    let counted = |variant: &str, outcome: &str| {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                let key = key.key();
                key.name() == conn_blueprint::VARIANT_CALLS_TOTAL
                    && key.labels().any(|l| l.key() == "variant" && l.value() == variant)
                    && key.labels().any(|l| l.key() == "outcome" && l.value() == outcome)
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                _ => panic!("not a counter"),
            })
    };
    assert_eq!(counted("base", "server_status"), Some(1));
    assert_eq!(counted("base", "circuit_open"), Some(1));
    assert_eq!(counted("b", "server_status"), Some(1));
    assert_eq!(counted("base", "auth_provider"), Some(1));
}
