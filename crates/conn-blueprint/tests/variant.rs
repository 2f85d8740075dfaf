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
