//! A real gateway on 127.0.0.1:0 in front of a conn-testkit upstream, a
//! small HTTP client, and a log capture for the canary checks.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use conn_blueprint::{Blueprint, Registry};
use conn_gateway::{Gateway, GatewayConfig, Loaded, Reloader};
use conn_testkit::TestServer;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::oneshot;

/// The upstream token: must never appear in an answer or a log line.
pub const CANARY_TOKEN: &str = "canary-upstream-T0KEN-5a7d1e";
/// The caller key of `shop`: likewise.
pub const SHOP_KEY: &str = "canary-caller-K3Y-shop-91c2";
pub const PARTNER_KEY: &str = "partner-key-2f81";
pub const ADMIN_KEY: &str = "canary-admin-K3Y-77b0";

/// Everything logged by any test of this binary.
pub fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per test binary, a log capture at TRACE and a Prometheus recorder.
pub fn observe() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buffer = log_buffer().clone();
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || Capture(buffer.clone()))
                .try_init();
            PrometheusBuilder::new()
                .install_recorder()
                .expect("one recorder per test binary")
        })
        .clone()
}

/// The connectors every test uses; `{url}` is the upstream, `{down}` a closed port.
pub const CONNECTORS: &str = r#"
[defaults]
allow_http = true
timeouts = { attempt = "2s", total = "5s" }
retry = { max_attempts = 3, base = "10ms", max_delay = "50ms" }

[connectors.orders]
base_url = "{url}/api"
auth = { type = "bearer", token = { env = "ORDERS_TOKEN" } }

[connectors.limited]
base_url = "{url}/api"
retry.max_attempts = 1
throttle = { limits = [{ count = 1, per_seconds = 60 }], mode = "reject" }

[connectors.fragile]
base_url = "{url}/api"
retry.max_attempts = 1
breaker = { consecutive_failures = 2, cooldown = "30s" }

[connectors.slow]
base_url = "{url}/api"
timeouts = { attempt = "200ms", total = "400ms" }
retry.max_attempts = 1

[connectors.small]
base_url = "{url}/api"
body_limit = 100
retry.max_attempts = 1

[connectors.down]
base_url = "{down}"
retry.max_attempts = 1

[connectors.oauth]
base_url = "{url}/api"
retry.max_attempts = 1
auth = { type = "oauth2_client_credentials", token_url = "{url}/token", client_id = "gw", client_secret = { env = "ORDERS_TOKEN" } }

[connectors.catalog]
base_url = "{url}/api"
normalize.format = "auto"

[[connectors.catalog.normalize.mapping.fields]]
field = "id"
from = ["/item/@id", "/item/id"]
coerce = "integer"

[[connectors.catalog.normalize.mapping.fields]]
field = "name"
from = "/item/name"
"#;

/// The `[gateway]` section every test starts from.
pub const GATEWAY: &str = r#"
[gateway]
body_limit = 1024
request_timeout = "10s"
max_in_flight = 1000
admin_key = { env = "ADMIN_KEY" }

[gateway.callers.shop]
key = { env = "SHOP_KEY" }
connectors = ["*"]
tenants = ["acme"]

[gateway.callers.partner]
key = { env = "PARTNER_KEY" }
connectors = ["orders", "catalog"]
tenants = ["acme", "globex"]

[gateway.workflows.overview]
steps = [
  { name = "items", connector = "orders", path = "/items" },
  { name = "item", connector = "catalog", path = "/items/{id}" },
]
"#;

pub fn env() -> HashMap<String, String> {
    HashMap::from([
        ("ORDERS_TOKEN".to_owned(), CANARY_TOKEN.to_owned()),
        ("SHOP_KEY".to_owned(), SHOP_KEY.to_owned()),
        ("PARTNER_KEY".to_owned(), PARTNER_KEY.to_owned()),
        ("ADMIN_KEY".to_owned(), ADMIN_KEY.to_owned()),
    ])
}

/// An address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The blueprint text for `upstream`, with `gateway` as its [gateway] section.
pub fn text(upstream: &TestServer, down: SocketAddr, gateway: &str) -> String {
    let connectors = CONNECTORS
        .replace("{url}", &upstream.url())
        .replace("{down}", &format!("http://{down}"));
    format!("{connectors}\n{gateway}")
}

pub fn parse(text: &str) -> Blueprint {
    Blueprint::from_str_with_env(text, &env()).unwrap_or_else(|e| panic!("{e}"))
}

/// A gateway serving on 127.0.0.1:0, its blueprint text swappable for reloads.
pub struct Harness {
    pub addr: SocketAddr,
    pub upstream: TestServer,
    pub gateway: Gateway,
    pub text: Arc<Mutex<String>>,
    stop: Option<oneshot::Sender<()>>,
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_gateway(GATEWAY, |_| {}).await
    }

    /// With another [gateway] section, and a chance to change the settings.
    pub async fn with_gateway(gateway: &str, tweak: impl FnOnce(&mut GatewayConfig)) -> Harness {
        let metrics = observe();
        let upstream = TestServer::start().await.unwrap();
        let text = text(&upstream, closed_port(), gateway);
        let blueprint = parse(&text);
        let mut config = GatewayConfig::from_blueprint(&blueprint);
        tweak(&mut config);
        let registry = Arc::new(Registry::from_blueprint_hyper(&blueprint).unwrap());
        let text = Arc::new(Mutex::new(text));
        let source = text.clone();
        let reloader: Reloader = Arc::new(move || {
            let text = source.lock().unwrap().clone();
            let blueprint = Blueprint::from_str_with_env(&text, &env()).map_err(|e| e.errors().to_vec())?;
            let gateway = GatewayConfig::from_blueprint(&blueprint);
            Ok(Loaded { blueprint, gateway })
        });
        let gateway = Gateway::builder(registry, config)
            .explain(blueprint.explain())
            .reloader(reloader)
            .metrics(metrics)
            .build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = gateway.clone();
        let served = tokio::spawn(async move {
            serving
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        });
        Harness {
            addr,
            upstream,
            gateway,
            text,
            stop: Some(stop),
            served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts draining.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        send(self.addr, "GET", path, headers, Bytes::new()).await
    }

    /// GET as `shop` (tenant acme).
    pub async fn shop(&self, path: &str) -> Answer {
        self.get(path, &[("authorization", &format!("Bearer {SHOP_KEY}"))])
            .await
    }

    pub async fn admin(&self, method: &str, path: &str, body: &str) -> Answer {
        send(
            self.addr,
            method,
            path,
            &[("x-conn-key", ADMIN_KEY), ("content-type", "application/json")],
            Bytes::from(body.to_owned()),
        )
        .await
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer of `status` and `kind`, and returns its body.
    pub fn problem(&self, status: u16, kind: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let body = self.json();
        assert_eq!(body["status"], status);
        assert_eq!(body["kind"], kind, "{body}");
        for member in ["type", "title", "detail", "transient"] {
            assert!(body.get(member).is_some(), "problem without {member}: {body}");
        }
        body
    }
}

/// A client per request: pooled connections belong to the runtime that made
/// them, and every test has its own runtime.
fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body)).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), client().request(request))
        .await
        .expect("the gateway answers within 30 s")
        .expect("the gateway answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}
