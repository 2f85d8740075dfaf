//! The real `conn` binary as a child process: check, explain, call, and
//! serve with SIGHUP reload and a SIGTERM drain that finishes calls in flight.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{CONN, KEY, status_of, write_blueprint};
use conn_testkit::{Reply, TestServer};
use http::Method;

fn blueprint(url: &str) -> String {
    format!(
        r#"
[connectors.orders]
base_url = "{url}/api"
allow_http = true
retry = {{ max_attempts = 1 }}

[gateway]
shutdown_grace = "10s"

[gateway.callers.shop]
key = {{ env = "CONN_TEST_KEY" }}
connectors = ["*"]
"#
    )
}

#[test]
fn check_reports_every_problem_with_its_line_and_exits_1() {
    let path = write_blueprint(
        "[connectors.orders]\nbase_url = \"https://o.example\"\nretry = { max_attempts = 0 }\n\n[gateway]\nbogus = 1\n",
    );
    let output = Command::new(CONN).arg("check").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connectors.orders.retry.max_attempts") && stderr.contains("(line 3)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("gateway.bogus") && stderr.contains("(line 6)"),
        "{stderr}"
    );
    assert!(stderr.contains("conn check"), "says what to do: {stderr}");

    let good = write_blueprint("[connectors.orders]\nbase_url = \"https://o.example\"\n");
    let output = Command::new(CONN).arg("check").arg(&good).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 connector(s)"));
}

#[test]
fn explain_shows_one_connector_and_help_is_helpful() {
    let path =
        write_blueprint("[connectors.orders]\nbase_url = \"https://o.example\"\nretry.max_attempts = 5\n");
    let output = Command::new(CONN)
        .args(["explain"])
        .arg(&path)
        .arg("orders")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains("retry.max_attempts") && stdout.contains('5'),
        "{stdout}"
    );
    let output = Command::new(CONN)
        .args(["explain"])
        .arg(&path)
        .arg("nope")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("orders"));
    for sub in ["serve", "check", "explain", "call"] {
        let help = Command::new(CONN).args([sub, "--help"]).output().unwrap();
        assert!(help.status.success());
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("BLUEPRINT"),
            "{sub} --help"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_prints_the_body_and_the_report() {
    let api = TestServer::start().await.unwrap();
    api.route(Method::GET, "/api/orders/7", [Reply::json(200, r#"{"id":7}"#)]);
    api.route(
        Method::GET,
        "/api/missing",
        [Reply::json(404, r#"{"error":"none"}"#)],
    );
    let path = write_blueprint(&blueprint(&api.url()));
    let run = |args: &'static [&'static str]| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(CONN)
                .arg("call")
                .arg(&path)
                .args(args)
                .env("CONN_TEST_KEY", KEY)
                .output()
                .unwrap()
        })
    };
    let output = run(&["orders", "GET", "/orders/7", "--tenant", "acme"])
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), r#"{"id":7}"#);
    assert!(String::from_utf8_lossy(&output.stderr).contains("GET /orders/7"));
    let output = run(&["orders", "GET", "/missing"]).await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("trying again will not help"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_on_sighup_and_drains_on_sigterm() {
    let api = TestServer::start().await.unwrap();
    api.route(
        Method::GET,
        "/api/slow",
        [Reply::json(200, "{}").delay(Duration::from_millis(800))],
    );
    api.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    let text = blueprint(&api.url());
    let path = write_blueprint(&text);
    let common::Serving {
        mut child,
        addr,
        logs,
    } = common::serve(&path, &[]).await;
    assert_eq!(status_of(&addr, "/v1/connectors/orders/x").await, 200);
    let pid = child.id().unwrap().to_string();

    // SIGHUP: a second connector appears.
    assert_eq!(status_of(&addr, "/v1/connectors/extra/x").await, 404);
    std::fs::write(
        &path,
        text.replace(
            "[connectors.orders]",
            &format!(
                "[connectors.extra]\nbase_url = \"{}/api\"\nallow_http = true\n\n[connectors.orders]",
                api.url()
            ),
        ),
    )
    .unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let mut reloaded = false;
    for _ in 0..100 {
        if status_of(&addr, "/v1/connectors/extra/x").await == 200 {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "SIGHUP reloaded the blueprint");

    // SIGTERM with calls in flight: every one finishes, exit 0.
    let mut calls = Vec::new();
    for _ in 0..5 {
        let addr = addr.clone();
        calls.push(tokio::spawn(async move {
            status_of(&addr, "/v1/connectors/orders/slow").await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("conn serve exits after draining")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = logs.await.unwrap();
    assert!(logs.contains("draining"), "{logs}");
    assert!(!logs.contains(KEY), "the caller key is never logged");
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_answering_when_its_stderr_is_closed() {
    let api = TestServer::start().await.unwrap();
    api.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    // An upstream failure (the gateway answers 502) is logged at ERROR.
    api.route(Method::GET, "/api/down", [Reply::json(503, "{}")]);
    let path = write_blueprint(&blueprint(&api.url()));
    let (mut child, addr, logs) = common::listening(&path, &[]).await;
    // The log collector went away: every log line now fails to write.
    drop(logs);
    for _ in 0..10 {
        assert_eq!(
            status_of(&addr, "/v1/connectors/orders/down").await,
            502,
            "a request must not fail because its log line could not be written"
        );
        assert_eq!(status_of(&addr, "/v1/connectors/orders/x").await, 200);
    }
    assert!(child.try_wait().unwrap().is_none(), "conn serve is still running");
    child.kill().await.unwrap();
}
