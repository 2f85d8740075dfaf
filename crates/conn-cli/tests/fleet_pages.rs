//! The real `conn` binary with a blueprint's `[fleet]` section (`conn call`
//! and `conn serve` in separate processes share one quota on a real
//! redis-server) and with a named pagination (`conn call --pages`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use conn_testkit::{RedisServer, Reply, TestServer};
use http::Method;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const CONN: &str = env!("CARGO_BIN_EXE_conn");
const KEY: &str = "fleet-test-caller-key";

fn write_blueprint(text: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "conn-cli-fleet-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

async fn call(path: &Path, redis_url: &str, args: &[&str]) -> Output {
    let (path, redis_url) = (path.to_path_buf(), redis_url.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(CONN)
            .arg("call")
            .arg(&path)
            .args(&args)
            .env("REDIS_URL", redis_url)
            .env("CONN_TEST_KEY", KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn status_of(addr: &str, path: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: conn\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_call_and_conn_serve_share_the_fleet_quota() {
    let redis = RedisServer::start().expect("redis-server (installed by cargo xtask test-all)");
    let api = TestServer::start().await.unwrap();
    api.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    let path = write_blueprint(&format!(
        r#"
[fleet]
url = {{ env = "REDIS_URL" }}
key_prefix = "cli-test"

[connectors.orders]
base_url = "{}/api"
allow_http = true
retry = {{ max_attempts = 1 }}
throttle = {{ limits = [{{ count = 2, per_seconds = 3600, burst = 2 }}], mode = "reject" }}
fleet = {{ throttle = true }}

[gateway.callers.shop]
key = {{ env = "CONN_TEST_KEY" }}
connectors = ["*"]
"#,
        api.url()
    ));

    let first = call(&path, &redis.url(), &["orders", "GET", "/x"]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let mut child = tokio::process::Command::new(CONN)
        .arg("serve")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .env("REDIS_URL", redis.url())
        .env("CONN_TEST_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("conn: listening on http://") {
                return addr.to_owned();
            }
        }
        panic!("conn serve ended before listening");
    })
    .await
    .expect("conn serve listens within 30 s");
    assert_eq!(status_of(&addr, "/v1/connectors/orders/x").await, 200);
    assert_eq!(
        status_of(&addr, "/v1/connectors/orders/x").await,
        429,
        "the fleet's quota is spent"
    );
    child.kill().await.unwrap();

    let last = call(&path, &redis.url(), &["orders", "GET", "/x"]).await;
    assert_eq!(last.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&last.stderr).contains("rate limited"),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(api.hits("/api/x"), 2, "two processes, one quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_pages_prints_items_as_ndjson_and_reports_to_stderr() {
    let api = TestServer::start().await.unwrap();
    api.route(
        Method::GET,
        "/api/items",
        [
            Reply::json(200, r#"{"data": [{"id": 1}, {"id": 2}], "next": "c2"}"#),
            Reply::json(503, "{}"),
            Reply::json(200, r#"{"data": [{"id": 3}], "next": null}"#),
        ],
    );
    let path = write_blueprint(&format!(
        r#"
[connectors.catalog]
base_url = "{}/api"
allow_http = true
retry = {{ max_attempts = 3, base = "10ms" }}

[connectors.catalog.pagination.items]
kind = "cursor"
next = "/next"
cursor_param = "after"
items = "/data"
page_size = 2
"#,
        api.url()
    ));
    let output = call(&path, "", &["catalog", "GET", "/items", "--pages", "items"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"
    );
    assert!(
        stderr.contains("page 1: 2 item(s)") && stderr.contains("page 2: 1 item(s)"),
        "{stderr}"
    );
    let sent = api.requests_to("/api/items");
    assert_eq!(sent[0].query(), Some("limit=2"));
    assert_eq!(
        sent[2].query(),
        Some("limit=2&after=c2"),
        "the retried page asked again"
    );

    let output = call(&path, "", &["catalog", "GET", "/items", "--pages", "nope"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("it has: items"));
}
