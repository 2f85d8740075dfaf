//! The status page in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `cargo xtask test-all`) loads `/status` from a
//! gateway on loopback whose upstream is flaky and one of whose circuits is
//! open, and the page shows the right states and numbers; a second load
//! shows the charts moved; the live refresh works with the browser's own
//! credentials; screenshots land in `target/status.png` (laptop) and
//! `target/status-phone.png` (phone) for people to look at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn_blueprint::{Blueprint, Registry};
use conn_gateway::{Gateway, GatewayConfig};
use conn_testkit::{Reply, TestServer};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::Value;

const ADMIN_KEY: &str = "status-admin-key-5f0c";
const VIEWER_KEY: &str = "status-viewer-key-81aa";
/// The key the test's calls go through (the admin key may not call connectors).
const CALLER_KEY: &str = "status-caller-key-0d9e";
const UPSTREAM_TOKEN: &str = "status-upstream-T0KEN-c4e1";

const BLUEPRINT: &str = r#"
[defaults]
allow_http = true
timeouts = { attempt = "5s", total = "10s" }
retry = { max_attempts = 2, base = "5ms", max_delay = "10ms", budget = { ratio = 1.0, min_per_second = 100 } }

# Flaky: some calls recover by retrying, some fail.
[connectors.shop-api]
base_url = "{url}/shop"

# Down: two failures open its circuit for a minute.
[connectors.payments]
base_url = "{url}/pay"
retry.max_attempts = 1
breaker = { consecutive_failures = 2, cooldown = "60s" }

# A token from a token endpoint: the card counts down its expiry.
[connectors.crm]
base_url = "{url}/crm"
auth = { type = "oauth2_client_credentials", token_url = "{url}/token", client_id = "c", client_secret = { env = "SECRET" } }

[connectors.search]
base_url = "{url}/search"

[gateway]
admin_key = { env = "ADMIN" }

[gateway.callers.app]
key = { env = "CALLER" }
connectors = ["*"]

[gateway.callers.viewer]
key = { env = "VIEWER" }
connectors = ["shop-api"]
"#;

fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("one recorder per test binary")
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_which_integration_is_sick_and_why() {
    let chromium = chromium();
    let upstream = TestServer::start().await.unwrap();
    let token = format!(r#"{{"access_token":"{UPSTREAM_TOKEN}","token_type":"Bearer","expires_in":3600}}"#);
    upstream.route(Method::POST, "/token", [Reply::json(200, token)]);
    // Per call with one retry: fail+fail, ok, fail+ok, ok: 3 of 4 succeed.
    let flaky = [503, 503, 200, 503, 200, 200].repeat(20);
    upstream.route(
        Method::GET,
        "/shop/items",
        flaky.iter().map(|s| Reply::json(*s, "{}")),
    );
    upstream.route(Method::GET, "/pay/charge", [Reply::status(503)]);
    upstream.route(Method::GET, "/crm/contacts", [Reply::json(200, "{}")]);
    upstream.route(Method::GET, "/search/q", [Reply::json(200, "{}")]);

    let addr = start_gateway(&upstream).await;
    for _ in 0..8 {
        call(addr, "/v1/connectors/shop-api/items").await;
    }
    for expected in [502, 502, 503] {
        assert_eq!(call(addr, "/v1/connectors/payments/charge").await, expected);
    }
    assert_eq!(call(addr, "/v1/connectors/crm/contacts").await, 200);
    for _ in 0..3 {
        assert_eq!(call(addr, "/v1/connectors/search/q").await, 200);
    }

    // The data, as an admin and as a caller limited to one connector.
    let (status, _, body) = get(addr, "/v1/status", Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    let data: Value = serde_json::from_slice(&body).unwrap();
    let cards = data["connectors"].as_array().unwrap();
    assert_eq!(cards[0]["name"], "payments", "worst first: {data:#}");
    let card = |name: &str| cards.iter().find(|c| c["name"] == name).unwrap().clone();
    let payments = card("payments");
    assert_eq!(payments["health"], "sick");
    assert_eq!(payments["breaker"][0]["state"], "open");
    assert!(payments["breaker"][0]["next_probe_in_ms"].as_u64().unwrap() > 50_000);
    assert!(
        payments["why"][0]
            .as_str()
            .unwrap()
            .starts_with("circuit payments open: 2 consecutive failures")
    );
    assert_eq!(
        (payments["calls"].as_u64(), payments["errors"].as_u64()),
        (Some(3), Some(3))
    );
    let shop = card("shop-api");
    assert_eq!(
        (shop["calls"].as_u64(), shop["errors"].as_u64()),
        (Some(8), Some(2))
    );
    assert_eq!(shop["success_rate"], 0.75);
    assert_eq!(shop["health"], "sick");
    assert!(shop["retries_per_min"].as_f64().unwrap() > 0.0);
    let crm = card("crm");
    let expiry = crm["tokens"][0]["expires_in_s"].as_u64().unwrap();
    assert!((3000..=3600).contains(&expiry), "{crm:#}");
    assert_eq!(card("search")["health"], "ok");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains(UPSTREAM_TOKEN) && !text.contains(ADMIN_KEY));

    let (_, _, body) = get(addr, "/v1/status", Some(VIEWER_KEY)).await;
    let viewer: Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = viewer["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop-api"]);
    assert_eq!(viewer["admin"], false);
    let (status, headers, _) = get(addr, "/status", None).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );

    // The browser: the states and numbers, rendered on the server.
    let url = format!("http://admin:{ADMIN_KEY}@{addr}/status");
    let first = dump_dom(&chromium, &url).await;
    let payments = section(&first, "payments");
    assert!(payments.contains(r#"data-health="sick""#), "{payments}");
    assert!(payments.contains(r#"data-state="open""#), "{payments}");
    assert!(payments.contains("2 consecutive failures"), "{payments}");
    assert!(payments.contains("Force close"), "admin buttons: {payments}");
    let shop = section(&first, "shop-api");
    assert!(shop.contains(r#"<dd data-k="success">75%</dd>"#), "{shop}");
    assert!(shop.contains(r#"<dd data-k="calls">8</dd>"#), "{shop}");
    assert!(section(&first, "crm").contains("Token expires in"), "{first}");
    assert!(section(&first, "search").contains(r#"data-health="ok""#));
    assert!(first.contains("2 of 4 connectors need attention"), "{first}");
    // The script ran and its refresh, with the browser's own credentials, worked.
    assert!(
        first.contains(r#"data-live="on""#),
        "the live refresh failed: {first}"
    );
    assert!(!first.contains(UPSTREAM_TOKEN) && !first.contains(ADMIN_KEY));

    // More traffic: the chart's data moves between two loads.
    for _ in 0..5 {
        call(addr, "/v1/connectors/search/q").await;
    }
    let second = dump_dom(&chromium, &url).await;
    let before = chart_points(&section(&first, "search"));
    let after = chart_points(&section(&second, "search"));
    assert_ne!(before, after, "the chart did not move");
    assert!(section(&second, "search").contains(r#"<dd data-k="calls">8</dd>"#));

    let target = target_dir();
    screenshot(&chromium, &url, &target.join("status.png"), "1280,900").await;
    screenshot(&chromium, &url, &target.join("status-phone.png"), "390,844").await;

    // Admin buttons: refused without the admin key or from another site,
    // and then the circuit is forced closed.
    let action = "/status/breaker?connector=payments&key=payments&action=close";
    assert_eq!(post(addr, action, Some(VIEWER_KEY), None).await, 401);
    assert_eq!(
        post(addr, action, Some(ADMIN_KEY), Some("http://evil.example")).await,
        403
    );
    assert_eq!(post(addr, action, Some(ADMIN_KEY), None).await, 303);
    let (_, _, body) = get(addr, "/v1/status", Some(ADMIN_KEY)).await;
    let data: Value = serde_json::from_slice(&body).unwrap();
    let payments = data["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "payments")
        .unwrap()
        .clone();
    assert_eq!(payments["breaker"][0]["state"], "disabled", "{payments:#}");
}

async fn start_gateway(upstream: &TestServer) -> SocketAddr {
    let env = HashMap::from([
        ("SECRET".to_owned(), "client-secret".to_owned()),
        ("ADMIN".to_owned(), ADMIN_KEY.to_owned()),
        ("VIEWER".to_owned(), VIEWER_KEY.to_owned()),
        ("CALLER".to_owned(), CALLER_KEY.to_owned()),
    ]);
    let text = BLUEPRINT.replace("{url}", &upstream.url());
    let blueprint = Blueprint::from_str_with_env(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint).unwrap());
    let gateway = Gateway::builder(registry, GatewayConfig::from_blueprint(&blueprint))
        .metrics(recorder())
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { gateway.serve(listener, std::future::pending()).await });
    addr
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(request: http::Request<Full<Bytes>>) -> (u16, http::HeaderMap, Bytes) {
    let response = tokio::time::timeout(Duration::from_secs(30), client().request(request))
        .await
        .expect("the gateway answers within 30 s")
        .expect("the gateway answers");
    let (parts, body) = response.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

async fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> (u16, http::HeaderMap, Bytes) {
    let mut request = http::Request::get(format!("http://{addr}{path}"));
    if let Some(key) = key {
        request = request.header("x-conn-key", key);
    }
    send(request.body(Full::new(Bytes::new())).unwrap()).await
}

async fn call(addr: SocketAddr, path: &str) -> u16 {
    get(addr, path, Some(CALLER_KEY)).await.0
}

async fn post(addr: SocketAddr, path: &str, key: Option<&str>, origin: Option<&str>) -> u16 {
    let mut request = http::Request::post(format!("http://{addr}{path}"));
    if let Some(key) = key {
        request = request.header("x-conn-key", key);
    }
    if let Some(origin) = origin {
        request = request
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site");
    }
    send(request.body(Full::new(Bytes::new())).unwrap()).await.0
}

/// One card's HTML, from its opening tag to the next card's.
fn section(dom: &str, connector: &str) -> String {
    let start = dom
        .find(&format!(r#"id="card-{connector}""#))
        .unwrap_or_else(|| panic!("no card for {connector}: {dom}"));
    let rest = &dom[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    rest[..end].to_owned()
}

fn chart_points(card: &str) -> String {
    let start = card.find("data-points=\"").expect("a chart") + "data-points=\"".len();
    card[start..start + card[start..].find('"').unwrap()].to_owned()
}

fn chromium() -> String {
    for command in ["chromium", "chromium-browser"] {
        if Command::new(command)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return command.to_owned();
        }
    }
    panic!("headless Chromium is missing: `cargo xtask test-all` installs Debian's chromium package");
}

/// Runs Chromium headless with its own profile; its stdout.
async fn run_chromium(chromium: &str, args: Vec<String>) -> String {
    let chromium = chromium.to_owned();
    tokio::task::spawn_blocking(move || {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "conn-status-chromium-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let mut child = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let started = Instant::now();
        let output = loop {
            if child.try_wait().unwrap().is_some() {
                break child.wait_with_output().unwrap();
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("chromium took more than 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::remove_dir_all(&profile);
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The DOM after the page's script had two seconds (virtual time) to run.
async fn dump_dom(chromium: &str, url: &str) -> String {
    let dom = run_chromium(
        chromium,
        vec![
            "--virtual-time-budget=2000".into(),
            "--dump-dom".into(),
            url.into(),
        ],
    )
    .await;
    assert!(dom.contains("conn status"), "chromium showed no page: {dom}");
    dom
}

async fn screenshot(chromium: &str, url: &str, path: &Path, size: &str) {
    let _ = std::fs::remove_file(path);
    run_chromium(
        chromium,
        vec![
            format!("--screenshot={}", path.display()),
            format!("--window-size={size}"),
            "--virtual-time-budget=1000".into(),
            url.into(),
        ],
    )
    .await;
    let written = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    assert!(written > 10_000, "{} is {written} bytes", path.display());
}

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}
