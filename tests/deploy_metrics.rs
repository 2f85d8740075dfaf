//! The alert rules and the dashboard in deploy/ use only metrics conn really
//! emits.
//!
//! Why from a real run and not a list: a rule over a metric nobody emits
//! never fires, and nothing else would notice. So this test runs calls
//! through a gateway and through a connector built in code — retries,
//! throttle waits and rejections, a breaker that opens, a token fetched
//! (its expiry gauge) and one that cannot be, a degraded fallback, an
//! exhausted retry budget, load shed at the gateway's ceiling — reads the gateway's `GET /metrics`, and
//! checks every `conn_*` name in deploy/prometheus/alerts.yml and
//! deploy/grafana/conn.json against it (and the `quantile` series the rules
//! read, which exist only as the exporter renders them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn::auth::{ClientCredentials, Fallback, OAuth2Client, StaticBearer, TokenAuth};
use conn::blueprint::{Blueprint, Registry};
use conn::transport::HyperTransport;
use conn::{Connector, Context, Request};
use conn_gateway::{Gateway, GatewayConfig};
use conn_testkit::{Reply, TestServer};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::PrometheusBuilder;

const CALLER_KEY: &str = "deploy-metrics-caller-key";

const BLUEPRINT: &str = r#"
[defaults]
allow_http = true
timeouts = { attempt = "5s", total = "10s" }
retry = { max_attempts = 3, base = "5ms", max_delay = "20ms" }

# Retries (503 then 200), a throttle that makes the second call wait, a
# token from the token endpoint.
[connectors.orders]
base_url = "{url}/api"
throttle = { limits = [{ count = 1, per_seconds = 1 }], mode = "wait" }
auth = { type = "oauth2_client_credentials", token_url = "{url}/token", client_id = "c", client_secret = { env = "SECRET" } }

# A quota of one call a minute that refuses the rest.
[connectors.limited]
base_url = "{url}/api"
retry.max_attempts = 1
throttle = { limits = [{ count = 1, per_seconds = 60 }], mode = "reject" }

# Two failures in a row open the circuit.
[connectors.fragile]
base_url = "{url}/api"
retry.max_attempts = 1
breaker = { consecutive_failures = 2, cooldown = "60s" }

# A retry budget too small for even one retry.
[connectors.stingy]
base_url = "{url}/api"
retry = { max_attempts = 3, budget = { ratio = 0.01, min_per_second = 0 } }

[gateway]
max_in_flight = 1
admin_key = { env = "ADMIN" }

[gateway.callers.ops]
key = { env = "CALLER" }
connectors = ["*"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_the_rules_and_the_dashboard_is_emitted() {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this test binary");
    let upstream = TestServer::start().await.unwrap();
    let token = r#"{"access_token":"at-deploy","token_type":"Bearer","expires_in":3600}"#;
    upstream.route(Method::POST, "/token", [Reply::json(200, token)]);
    upstream.route(Method::POST, "/broken-token", [Reply::status(500)]);
    upstream.route(Method::GET, "/api/ok", [Reply::json(200, "{}")]);
    upstream.route(
        Method::GET,
        "/api/flaky",
        [Reply::status(503), Reply::json(200, "{}")],
    );
    upstream.route(Method::GET, "/api/down", [Reply::status(503)]);
    upstream.route(
        Method::GET,
        "/api/hold",
        [Reply::json(200, "{}").delay(Duration::from_millis(400))],
    );

    let env = HashMap::from([
        ("SECRET".to_owned(), "client-secret".to_owned()),
        ("ADMIN".to_owned(), "deploy-metrics-admin-key".to_owned()),
        ("CALLER".to_owned(), CALLER_KEY.to_owned()),
    ]);
    let text = BLUEPRINT.replace("{url}", &upstream.url());
    let blueprint = Blueprint::from_str_with_env(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint).unwrap());
    let gateway = Gateway::builder(registry, GatewayConfig::from_blueprint(&blueprint))
        .metrics(metrics)
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = gateway.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });

    // One at a time: the gateway's ceiling is one request.
    for path in [
        "/v1/connectors/orders/flaky",
        "/v1/connectors/orders/ok",
        "/v1/connectors/limited/ok",
        "/v1/connectors/limited/ok",
        "/v1/connectors/fragile/down",
        "/v1/connectors/fragile/down",
        "/v1/connectors/fragile/down",
        "/v1/connectors/stingy/down",
    ] {
        get(addr, path).await;
    }
    // Two at once against a ceiling of one: one of them is shed.
    let (a, b) = tokio::join!(
        get(addr, "/v1/connectors/orders/hold"),
        get(addr, "/v1/connectors/orders/hold")
    );
    assert!(a == 503 || b == 503, "one request is shed: {a} {b}");

    degraded_call(&upstream).await;

    let exposition = String::from_utf8(get_body(addr, "/metrics").await.to_vec()).unwrap();
    let emitted = emitted_names(&exposition);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut referenced = BTreeMap::new();
    for file in ["deploy/prometheus/alerts.yml", "deploy/grafana/conn.json"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = referenced_names(&text);
        assert!(
            names.len() >= 8,
            "{file} names only {names:?}: the extraction is broken"
        );
        referenced.insert(file, names);
    }
    let mut missing = Vec::new();
    for (file, names) in &referenced {
        for name in names {
            if !is_emitted(name, &emitted) {
                missing.push(format!("{file}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "metrics referenced but never emitted: {missing:#?}\nemitted: {emitted:#?}"
    );

    // The token alerts join on the connector: the token metrics must carry
    // it, set by the token cache of the blueprint's `orders` connector and,
    // for the failed fetch, of `crm` built in code behind a Fallback.
    for series in [
        "conn_token_expiry_timestamp_seconds{connector=\"orders\"}",
        "conn_token_refreshes_total{connector=\"orders\",result=\"ok\"}",
        "conn_token_refreshes_total{connector=\"crm\",result=\"failed\"}",
    ] {
        assert!(
            exposition.lines().any(|l| l.starts_with(series)),
            "/metrics has no {series}:\n{exposition}"
        );
    }

    // The rules and panels read summaries' `quantile` series: they exist
    // only as the exporter renders them.
    for file in referenced.keys() {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (name, quantile) in quantile_selectors(&text) {
            let series = format!("quantile=\"{quantile}\"");
            assert!(
                exposition
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}{{")) && l.contains(&series)),
                "{file} reads {name}{{{series}}}, which /metrics does not have"
            );
        }
    }
}

/// A connector whose token endpoint fails, with a static key as fallback:
/// the call goes out degraded.
async fn degraded_call(upstream: &TestServer) {
    let transport = Arc::new(HyperTransport::builder().build().unwrap());
    let client = OAuth2Client::builder(format!("{}/broken-token", upstream.url()))
        .client_id("c")
        .client_secret("s")
        .allow_http(true)
        .max_attempts(1)
        .transport(transport.clone())
        .build()
        .unwrap();
    let primary = TokenAuth::new(Arc::new(ClientCredentials::new(client)));
    let auth = Fallback::new(Arc::new(primary), Arc::new(StaticBearer::new("read-only")));
    let connector = Connector::builder("crm")
        .base_url(upstream.url())
        .allow_http(true)
        .transport(transport)
        .auth(Arc::new(auth))
        .build()
        .unwrap();
    let response = connector
        .call(Request::get("/api/ok"), Context::new())
        .await
        .unwrap();
    assert!(response.report().degraded.is_some());
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(addr: SocketAddr, path: &str) -> (u16, Bytes) {
    let request = http::Request::get(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {CALLER_KEY}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), client().request(request))
        .await
        .expect("the gateway answers within 30 s")
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

async fn get(addr: SocketAddr, path: &str) -> u16 {
    send(addr, path).await.0
}

async fn get_body(addr: SocketAddr, path: &str) -> Bytes {
    let (status, body) = send(addr, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    body
}

/// Metric names in Prometheus text: each sample line's name.
fn emitted_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Every `conn_*` identifier in a rules or dashboard file. Recording rule
/// names (`connector:conn_requests:rate5m`) and log targets
/// (`conn_auth::cache`) contain colons and are not metrics.
fn referenced_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| token.starts_with("conn_") && !token.contains(':'))
        .map(str::to_owned)
        .collect()
}

/// Whether `/metrics` has series of that exact name. No suffix is
/// stripped: the exporter renders summaries (`name{quantile=..}`,
/// `name_sum`, `name_count`), so a rule on `name_bucket` would read nothing
/// and must fail here.
fn is_emitted(name: &str, emitted: &BTreeSet<String>) -> bool {
    emitted.contains(name)
}

/// `(name, quantile)` of every selector such as
/// `conn_throttle_wait_seconds{connector=~"$connector",quantile="0.95"}`.
fn quantile_selectors(text: &str) -> BTreeSet<(String, String)> {
    let text = text.replace("\\\"", "\"");
    let mut found = BTreeSet::new();
    for name in referenced_names(&text) {
        let open = format!("{name}{{");
        for (start, _) in text.match_indices(&open) {
            let rest = &text[start + open.len()..];
            let selector = &rest[..rest.find('}').unwrap_or(rest.len())];
            if let Some(at) = selector.find("quantile=\"") {
                let value = &selector[at + "quantile=\"".len()..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                found.insert((name.clone(), value.to_owned()));
            }
        }
    }
    found
}

#[test]
fn the_dashboard_is_json_whose_every_panel_queries_something() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/conn.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("conn.json is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut charts = 0;
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        charts += 1;
        let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(
            !targets.is_empty()
                && targets
                    .iter()
                    .all(|t| t["expr"].as_str().is_some_and(|e| e.contains("conn_"))),
            "panel {} queries nothing of conn's",
            panel["title"]
        );
    }
    assert!(charts >= 10, "{charts} panels");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "job", "connector", "tenant"]);
}

#[test]
fn the_extraction_skips_recording_rules_and_log_targets() {
    let names = referenced_names(
        r#"expr: connector:conn_requests:rate5m > 0 and rate(conn_retries_total{x="conn_auth::cache"}[5m])"#,
    );
    assert_eq!(names, BTreeSet::from(["conn_retries_total".to_owned()]));
    let emitted =
        emitted_names("# TYPE conn_d summary\nconn_d{quantile=\"0.5\"} 1\nconn_d_sum 2\nconn_d_count 3\n");
    assert!(is_emitted("conn_d_count", &emitted) && is_emitted("conn_d", &emitted));
    assert!(!is_emitted("conn_d_bucket", &emitted));
    let selectors = quantile_selectors(r#""expr": "max(conn_x_seconds{a=\"b\",quantile=\"0.95\"})""#);
    assert_eq!(
        selectors,
        BTreeSet::from([("conn_x_seconds".to_owned(), "0.95".to_owned())])
    );
}
