//! Loads `examples/blueprint.toml`, points it at an embedded test API, and
//! runs a workflow across its three connectors.
//!
//! Run with `cargo run -p conn-blueprint --example blueprint_workflow`.

use std::collections::HashMap;
use std::time::Duration;

use conn_blueprint::{Blueprint, Registry, Workflow};
use conn_core::Request;
use conn_testkit::{Reply, TestServer};
use http::Method;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = TestServer::start().await?;
    api.route(
        Method::POST,
        "/oauth/token",
        [Reply::json(
            200,
            r#"{"access_token":"demo-token","token_type":"Bearer","expires_in":3600}"#,
        )],
    );
    api.route(
        Method::GET,
        "/api/orders/7",
        [Reply::json(200, r#"{"id":7,"sku":"A-1"}"#)],
    );
    api.route(
        Method::GET,
        "/xml/items/A-1",
        [Reply::text(
            200,
            "application/xml",
            "<catalog><item sku='A-1'>Anvil</item></catalog>",
        )],
    );
    api.route(
        Method::GET,
        "/flaky/stock/A-1",
        [Reply::status(503), Reply::json(200, r#"{"stock":3}"#)],
    );
    api.route(
        Method::POST,
        "/api/reservations",
        [Reply::json(201, r#"{"reserved":true}"#)],
    );

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/blueprint.toml"
    ))?;
    let text = text.replace("127.0.0.1:8080", &api.addr().to_string());
    // In production these come from the environment; here a map stands in.
    let env = HashMap::from([
        ("ORDERS_CLIENT_SECRET".to_owned(), "demo-secret".to_owned()),
        ("CATALOG_API_KEY".to_owned(), "demo-key".to_owned()),
    ]);
    let blueprint = Blueprint::from_str_with_env(&text, &env)?;
    println!("{}", blueprint.explain());

    let registry = Registry::from_blueprint_hyper(&blueprint)?;
    let orders = registry.get("orders").ok_or("no orders connector")?;
    let report = Workflow::new()
        .correlation_id("demo-1")
        .tenant("acme")
        .timeout(Duration::from_secs(10))
        .call("order", &orders, Request::get("/orders/7"))
        .call(
            "item",
            &registry.get("catalog").ok_or("no catalog")?,
            Request::get("/items/A-1"),
        )
        .call(
            "stock",
            &registry.get("flaky").ok_or("no flaky")?,
            Request::get("/stock/A-1"),
        )
        .then("reserve", &orders, |earlier| {
            earlier.response("stock").ok_or("no stock figure")?;
            Ok(Request::post("/reservations").body(r#"{"sku":"A-1"}"#))
        })
        .run()
        .await;
    println!("{report}");
    if !report.is_success() {
        return Err("a step failed".into());
    }
    Ok(())
}
