//! `[connectors.<name>.chaos]`: a game day by configuration. Faults reach
//! only the targeted requests, nothing is injected unless `enabled = true`,
//! and a mix that cannot be is refused when the blueprint is loaded.

use std::collections::HashMap;
use std::sync::Arc;

use conn_blueprint::{Blueprint, Registry};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

fn blueprint(chaos: &str) -> Result<Blueprint, String> {
    let text = format!(
        "[connectors.shop]\nbase_url = \"https://api.shop.example/v2\"\n\n[connectors.shop.chaos]\n{chaos}"
    );
    Blueprint::from_str_with_env(&text, &HashMap::new()).map_err(|e| e.to_string())
}

#[tokio::test(start_paused = true)]
async fn only_the_targeted_requests_meet_the_faults() {
    let bp = blueprint(
        "enabled = true\nresets = 1.0\npaths = [\"/v2/orders\"]\ntenant_header = \"x-tenant\"\ntenants = [\"staging\"]\nseed = 7\n",
    )
    .unwrap();
    let upstream = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
    let registry = Registry::from_blueprint(&bp, upstream.clone()).unwrap();
    let shop = registry.get("shop").unwrap();

    let hit = Request::get("/orders/1").header("x-tenant", "staging");
    let err = shop.call(hit, Context::new()).await.unwrap_err();
    assert!(
        err.is_connection_lost() && err.message().contains("chaos"),
        "{err}"
    );

    let other_tenant = Request::get("/orders/1").header("x-tenant", "production");
    shop.call(other_tenant, Context::new()).await.unwrap();
    let other_path = Request::get("/invoices").header("x-tenant", "staging");
    shop.call(other_path, Context::new()).await.unwrap();
    assert_eq!(
        upstream.count(),
        2,
        "the injected reset never reached the upstream"
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_is_injected_unless_enabled() {
    let bp = blueprint("enabled = false\nserver_errors = 1.0\n").unwrap();
    assert!(bp.connector("shop").unwrap().chaos.is_none());
    let upstream = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
    let registry = Registry::from_blueprint(&bp, upstream.clone()).unwrap();
    registry
        .get("shop")
        .unwrap()
        .call(Request::get("/orders"), Context::new())
        .await
        .unwrap();
    assert_eq!(upstream.count(), 1);
}

#[test]
fn impossible_mixes_are_refused_at_load() {
    let err = blueprint("enabled = true\nserver_errors = 0.8\nresets = 0.5\n").unwrap_err();
    assert!(err.contains("chaos") && err.contains("add up"), "{err}");
    let err = blueprint("enabled = true\nresets = 0.1\ntenants = [\"t1\"]\n").unwrap_err();
    assert!(err.contains("tenant_header"), "{err}");
    let err = blueprint("enabled = true\nexplode = 1\n").unwrap_err();
    assert!(err.contains("explode"), "{err}");
}
