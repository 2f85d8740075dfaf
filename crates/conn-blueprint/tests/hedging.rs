//! `hedging.*` keys: validation, and hedged reads from a registry built from
//! a blueprint (paused clock, scripted transport), through the tenant and
//! variant retry wrappers too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use conn_blueprint::{Blueprint, HedgingConfig, Registry};
use conn_core::{Context, Request, Response};
use conn_testkit::{MockReply, ScriptedTransport};

fn parse(text: &str) -> Result<Blueprint, conn_blueprint::ValidationErrors> {
    Blueprint::from_str_with_env(text, &HashMap::new())
}

/// A slow first answer, then a fast one: the second attempt can only win as a hedge.
fn slow_then_fast() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([
        MockReply::json(200, r#"{"from":"slow"}"#).delay(Duration::from_secs(5)),
        MockReply::json(200, r#"{"from":"hedge"}"#),
    ]))
}

#[test]
fn hedging_is_off_unless_after_is_set() {
    let bp = parse("[connectors.a]\nbase_url = \"https://a.example\"\n").unwrap();
    assert_eq!(bp.connector("a").unwrap().hedging, None);

    let bp = parse(
        r#"
[connectors.a]
base_url = "https://a.example"
hedging = { after = "200ms", percentile = 0.95, min_delay = "50ms" }
"#,
    )
    .unwrap();
    assert_eq!(
        bp.connector("a").unwrap().hedging,
        Some(HedgingConfig {
            after: Duration::from_millis(200),
            percentile: Some(0.95),
            min_delay: Duration::from_millis(50),
        })
    );
}

#[test]
fn a_percentile_needs_a_delay_and_a_quantile_between_0_and_1() {
    let errors = parse(
        r#"
[connectors.a]
base_url = "https://a.example"
hedging = { percentile = 0.95 }

[connectors.b]
base_url = "https://b.example"
hedging = { after = "100ms", percentile = 95.0 }
"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("connectors.a.hedging.percentile") && errors.contains("needs hedging.after"),
        "{errors}"
    );
    assert!(
        errors.contains("connectors.b.hedging.percentile") && errors.contains("between 0 and 1"),
        "{errors}"
    );
}

/// One call of `request` through connector `name` of `blueprint`, against
/// a slow first answer and a fast second one; the response and how many
/// requests were sent.
async fn call_through(blueprint: &str, name: &str, request: Request, context: Context) -> (Response, usize) {
    let transport = slow_then_fast();
    let registry = Registry::from_blueprint(&parse(blueprint).unwrap(), transport.clone()).unwrap();
    let response = registry.get(name).unwrap().call(request, context).await.unwrap();
    (response, transport.count())
}

#[tokio::test(start_paused = true)]
async fn a_slow_read_is_hedged_and_the_hedge_wins() {
    let blueprint = r#"
[connectors.a]
base_url = "https://a.example"
retry = { max_attempts = 2, budget = { ratio = 0.5, min_per_second = 10 } }
hedging = { after = "100ms" }
"#;
    let (response, sent) = call_through(blueprint, "a", Request::get("/item"), Context::new()).await;
    assert_eq!(response.body().as_ref(), br#"{"from":"hedge"}"#);
    assert_eq!(response.report().hedges(), 1);
    assert_eq!(sent, 2);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_hedged() {
    let blueprint = "[connectors.a]\nbase_url = \"https://a.example\"\nhedging = { after = \"100ms\" }\n";
    let (response, sent) = call_through(blueprint, "a", Request::post("/orders"), Context::new()).await;
    assert_eq!(response.body().as_ref(), br#"{"from":"slow"}"#);
    assert_eq!(sent, 1);
}

/// The tenant and variant wrappers ask the policy they would retry with;
/// without forwarding, their default would refuse every hedge.
#[tokio::test(start_paused = true)]
async fn tenant_and_variant_retry_policies_grant_hedges_too() {
    let blueprint = r#"
[connectors.a]
base_url = "https://a.example"
hedging = { after = "100ms" }
variant = { percent = 100, retry = { max_attempts = 3 } }

[connectors.b]
base_url = "https://b.example"
hedging = { after = "100ms" }

[connectors.b.tenants.acme]
retry = { max_attempts = 3 }
"#;
    for (name, context) in [("a", Context::new()), ("b", Context::new().tenant("acme"))] {
        let (response, _) = call_through(blueprint, name, Request::get("/item"), context).await;
        assert_eq!(response.report().hedges(), 1, "{name}");
        assert_eq!(response.body().as_ref(), br#"{"from":"hedge"}"#, "{name}");
    }
}
