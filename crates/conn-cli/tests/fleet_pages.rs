//! The real `conn` binary with a blueprint's `[fleet]` section (`conn call`
//! and `conn serve` in separate processes share one quota on a real
//! redis-server) and with a named pagination (`conn call --pages`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{CONN, KEY, status_of, write_blueprint};
use conn_testkit::{RedisServer, Reply, TestServer};
use http::Method;

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

    let common::Serving { mut child, addr, .. } = common::serve(&path, &[("REDIS_URL", &redis.url())]).await;
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
