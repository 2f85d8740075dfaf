//! The gateway in front of an embedded flaky API.
//!
//! `cargo run -p conn-gateway --example gateway_demo [-- --listen ADDR] [-- --exit]`
//!
//! Starts the test kit's local server (misbehaving routes), serves
//! `examples/gateway.toml` in front of it, makes a few calls — a success, a
//! retried call, the upstream's 429, a circuit that opens — and prints each
//! as the `curl` command you can paste and the answer it got. Then it keeps
//! serving until Ctrl-C (unless `--exit`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use conn_blueprint::{Blueprint, Registry};
use conn_gateway::{Gateway, GatewayConfig, Loaded, Reloader};
use conn_testkit::{Reply, TestServer};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const CALLER_KEY: &str = "demo-caller-key";
const ADMIN_KEY: &str = "demo-admin-key";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let exit = args.iter().any(|a| a == "--exit");
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .cloned();

    // The flaky API.
    let api = TestServer::start().await?;
    api.route(
        Method::GET,
        "/api/products",
        [Reply::json(200, r#"[{"sku":"A-1","name":"Anvil"}]"#)],
    );
    api.route(
        Method::GET,
        "/api/flaky",
        [
            Reply::status(503),
            Reply::status(503),
            Reply::json(200, r#"{"ok":true}"#),
        ],
    );
    api.route(
        Method::GET,
        "/api/busy",
        [Reply::status(429).header("retry-after", "30")],
    );
    api.route(Method::GET, "/api/payments/7", [Reply::status(500)]);

    // The blueprint, its base URLs pointed at the flaky API.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/gateway.toml");
    let text = std::fs::read_to_string(path)?;
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.insert("CONN__SHOP__BASE_URL".into(), format!("{}/api", api.url()));
    env.insert("CONN__PAYMENTS__BASE_URL".into(), format!("{}/api", api.url()));
    env.entry("DEMO_CALLER_KEY".into())
        .or_insert_with(|| CALLER_KEY.into());
    env.entry("DEMO_ADMIN_KEY".into())
        .or_insert_with(|| ADMIN_KEY.into());
    let blueprint = Blueprint::from_str_with_env(&text, &env).map_err(|e| e.to_string())?;
    let config = GatewayConfig::from_blueprint(&blueprint);
    let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint)?);
    let reloader: Reloader = Arc::new(move || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let blueprint = Blueprint::from_str_with_env(&text, &env).map_err(|e| e.errors().to_vec())?;
        let gateway = GatewayConfig::from_blueprint(&blueprint);
        Ok(Loaded { blueprint, gateway })
    });
    let mut builder = Gateway::builder(registry, config.clone())
        .explain(blueprint.explain())
        .reloader(reloader);
    if let Ok(handle) = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        builder = builder.metrics(handle);
    }
    let gateway = builder.build();

    let listener = match listen {
        Some(addr) => tokio::net::TcpListener::bind(addr).await?,
        None => match tokio::net::TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            // 8080 taken: any free port will do for a demo.
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        },
    };
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = gateway.clone();
    let server = tokio::spawn(async move {
        serving
            .serve(listener, async move {
                tokio::select! {
                    _ = stopped => {}
                    () = conn_gateway::terminate_signal() => {}
                }
            })
            .await
    });
    println!("gateway listening on http://{addr} (caller key {CALLER_KEY}, admin key {ADMIN_KEY})\n");

    let base = format!("http://{addr}");
    let caller = format!("Authorization: Bearer {CALLER_KEY}");
    show(&base, &[&caller], "/v1/connectors/shop/products", "a success").await?;
    show(
        &base,
        &[&caller, "X-Request-Id: demo-42"],
        "/v1/connectors/shop/flaky",
        "two 503s retried: X-Conn-Attempts: 3",
    )
    .await?;
    show(
        &base,
        &[&caller],
        "/v1/connectors/shop/busy",
        "the upstream's 429, as problem+json with Retry-After",
    )
    .await?;
    for _ in 0..2 {
        show(
            &base,
            &[&caller],
            "/v1/connectors/payments/payments/7",
            "a failing upstream: 502",
        )
        .await?;
    }
    show(
        &base,
        &[&caller],
        "/v1/connectors/payments/payments/7",
        "the circuit is open now: 503, nothing sent",
    )
    .await?;
    show(&base, &[], "/v1/connectors/shop/products", "no key: 401").await?;

    if exit {
        let _ = stop.send(());
    } else {
        println!("try these yourself; Ctrl-C stops the gateway");
    }
    server.await??;
    Ok(())
}

/// Makes one GET and prints it as a curl command and its answer.
async fn show(
    base: &str,
    headers: &[&str],
    path: &str,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut command = String::from("curl -i");
    for header in headers {
        command.push_str(&format!(" -H '{header}'"));
    }
    println!("# {what}\n$ {command} {base}{path}");
    let mut request = http::Request::get(format!("{base}{path}"));
    for header in headers {
        if let Some((name, value)) = header.split_once(": ") {
            request = request.header(name, value);
        }
    }
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request.body(Full::new(Bytes::new()))?).await?;
    println!("HTTP/1.1 {}", response.status());
    for (name, value) in response.headers() {
        if matches!(
            name.as_str(),
            "content-type" | "retry-after" | "x-request-id" | "x-conn-attempts"
        ) {
            println!("{name}: {}", value.to_str().unwrap_or("?"));
        }
    }
    let body = response.into_body().collect().await?.to_bytes();
    println!("\n{}\n", String::from_utf8_lossy(&body));
    Ok(())
}
