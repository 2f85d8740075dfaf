//! Operating the gateway over real sockets: health, metrics, connectors and
//! their state, breaker control, hot reload under load, a refused reload,
//! load shedding, draining, curl as the client, and the canary.

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::{ADMIN_KEY, CANARY_TOKEN, Harness, SHOP_KEY, send};
use conn_testkit::Reply;
use http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    assert_eq!(gw.get("/healthz", &[]).await.status, 200);
    // Readiness follows the listener: poll briefly, the serve task sets it.
    let mut ready = 0;
    for _ in 0..50 {
        ready = gw.get("/readyz", &[]).await.status;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, 200);
    assert_eq!(gw.shop("/v1/connectors/orders/x").await.status, 200);
    let metrics = gw.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(text.contains("conn_gateway_requests_total"), "{text}");
    assert!(
        text.contains(r#"route="/v1/connectors/{connector}/{*path}""#),
        "{text}"
    );
    assert!(
        text.contains("conn_requests_total"),
        "conn's own metrics are there too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_are_explained_and_their_state_shown_without_secrets() {
    let gw = Harness::start().await;
    let list = gw.admin("GET", "/v1/connectors", "").await;
    assert_eq!(list.status, 200);
    let body = list.json();
    let orders = body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "orders")
        .unwrap()
        .clone();
    assert_eq!(orders["settings"]["auth.token"], "<env ORDERS_TOKEN>");
    assert!(!list.text().contains(CANARY_TOKEN));

    gw.upstream.route(Method::GET, "/api/down", [Reply::status(500)]);
    for _ in 0..2 {
        gw.shop("/v1/connectors/fragile/down").await;
    }
    let state = gw.admin("GET", "/v1/connectors/fragile/state", "").await.json();
    assert_eq!(state["breaker"][0]["key"], "fragile");
    assert_eq!(state["breaker"][0]["state"], "open", "{state}");
    gw.admin("GET", "/v1/connectors/nope/state", "")
        .await
        .problem(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_shows_when_each_tenants_token_expires_never_the_token() {
    let gw = Harness::start().await;
    let access_token = "canary-access-T0KEN-oauth-3c9e";
    gw.upstream.route(
        Method::POST,
        "/token",
        [Reply::json(
            200,
            format!(r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":3600}}"#),
        )],
    );
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    let before = gw.admin("GET", "/v1/connectors/oauth/state", "").await.json();
    assert_eq!(
        before["tokens"],
        serde_json::json!([]),
        "no token fetched yet: {before}"
    );

    assert_eq!(gw.shop("/v1/connectors/oauth/x").await.status, 200);
    let sent = gw.upstream.requests_to("/api/x");
    assert_eq!(
        sent[0].headers["authorization"],
        format!("Bearer {access_token}").as_str(),
        "the call used the fetched token"
    );

    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let answer = gw.admin("GET", "/v1/connectors/oauth/state", "").await;
    assert_eq!(answer.status, 200);
    let state = answer.json();
    let tokens = state["tokens"].as_array().expect("a list of tokens");
    assert_eq!(tokens.len(), 1, "{state}");
    assert_eq!(tokens[0]["tenant"], "acme");
    let expires_in = tokens[0]["expires_in_ms"].as_u64().unwrap();
    // 3600 s from when the fetch began, minus the time this test took since.
    assert!((3_570_000..=3_600_000).contains(&expires_in), "{expires_in}");
    let expires_at = tokens[0]["expires_at_unix"].as_u64().unwrap();
    assert!(
        (now_unix + 3_569..=now_unix + 3_601).contains(&expires_at),
        "{expires_at}"
    );
    assert_eq!(tokens[0]["refreshing"], false);
    assert_eq!(tokens[0]["degraded"], false);
    for canary in [access_token, CANARY_TOKEN] {
        assert!(!answer.text().contains(canary), "{canary} in {}", answer.text());
    }
    // Static credentials do not expire: nothing to show.
    let orders = gw.admin("GET", "/v1/connectors/orders/state", "").await.json();
    assert_eq!(orders["tokens"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_lists_each_throttle_keys_pause() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/busy",
        [Reply::status(429).header("retry-after", "30")],
    );
    assert_eq!(gw.shop("/v1/connectors/limited/busy").await.status, 429);
    let state = gw.admin("GET", "/v1/connectors/limited/state", "").await.json();
    let throttle = &state["throttle"];
    assert_eq!(throttle["keys"], 1, "{state}");
    assert_eq!(throttle["per_key_truncated"], false);
    let key = &throttle["per_key"][0];
    assert_eq!(key["key"], "", "the connector's one global key: {state}");
    let paused = key["paused_for_ms"].as_u64().expect("the 429 paused the key");
    assert!((25_000..=30_000).contains(&paused), "{paused}");
    assert_eq!(key["queued"], false);
    assert_eq!(key["in_flight"], serde_json::Value::Null, "no max_in_flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_forces_a_breaker_open_closed_and_back() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    let opened = gw
        .admin("POST", "/v1/connectors/orders/breaker", r#"{"action":"open"}"#)
        .await;
    assert_eq!(opened.json()["state"], "forced_open", "{}", opened.text());
    gw.shop("/v1/connectors/orders/x")
        .await
        .problem(503, "circuit_open");
    gw.admin("POST", "/v1/connectors/orders/breaker", r#"{"action":"reset"}"#)
        .await;
    assert_eq!(gw.shop("/v1/connectors/orders/x").await.status, 200);
    gw.admin("POST", "/v1/connectors/orders/breaker", r#"{"action":"explode"}"#)
        .await
        .problem(400, "bad_request");
    // A caller's key is not enough.
    send(
        gw.addr,
        "POST",
        "/v1/connectors/orders/breaker",
        &[("x-conn-key", SHOP_KEY)],
        Bytes::from_static(br#"{"action":"open"}"#),
    )
    .await
    .problem(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_during_500_calls_in_flight_loses_none() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/slowish",
        [Reply::json(200, r#"{"ok":true}"#).delay(Duration::from_millis(300))],
    );
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..500 {
        let addr = gw.addr;
        calls.spawn(async move {
            let id = format!("r-{i}");
            send(
                addr,
                "GET",
                "/v1/connectors/orders/slowish",
                &[
                    ("authorization", &format!("Bearer {SHOP_KEY}")),
                    ("x-request-id", &id),
                ],
                Bytes::new(),
            )
            .await
        });
    }
    // Reload while they are in flight: a changed retry section, a new connector.
    tokio::time::sleep(Duration::from_millis(100)).await;
    {
        let mut text = gw.text.lock().unwrap();
        *text = text.replace("[connectors.orders]", "[connectors.extra]\nbase_url = \"http://127.0.0.1:9\"\n\n[connectors.orders]\nretry.max_attempts = 2");
    }
    let reloaded = gw.admin("POST", "/v1/admin/reload", "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert!(
        reloaded.json()["connectors"]
            .as_array()
            .unwrap()
            .contains(&"extra".into())
    );
    let mut ok = 0;
    while let Some(answer) = calls.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
        ok += 1;
    }
    assert_eq!(ok, 500);
    assert_eq!(gw.upstream.hits("/api/slowish"), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_reload_keeps_serving_the_old_blueprint_and_lists_every_problem() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    {
        let mut text = gw.text.lock().unwrap();
        *text = text
            .replace("retry = { max_attempts = 3,", "retry = { max_attempts = 0,")
            .replace("tenants = [\"acme\"]", "tenants = [\"acme\"]\nbogus = 1");
    }
    let answer = gw.admin("POST", "/v1/admin/reload", "").await;
    let body = answer.problem(400, "invalid_blueprint");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{body}");
    assert!(
        errors.iter().all(|e| e["line"].as_u64().is_some()),
        "every problem has its line: {body}"
    );
    assert!(
        errors.iter().any(|e| e["path"] == "defaults.retry.max_attempts"),
        "{body}"
    );
    assert!(
        errors.iter().any(|e| e["path"] == "gateway.callers.shop.bogus"),
        "{body}"
    );
    // Still serving, with the old settings and callers.
    assert_eq!(gw.shop("/v1/connectors/orders/x").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_ceiling_is_shed_with_503_and_retry_after() {
    let gw = Harness::with_gateway(common::GATEWAY, |config| config.max_in_flight = 4).await;
    gw.upstream.route(
        Method::GET,
        "/api/hold",
        [Reply::json(200, "{}").delay(Duration::from_millis(500))],
    );
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let addr = gw.addr;
        calls.spawn(async move {
            send(
                addr,
                "GET",
                "/v1/connectors/orders/hold",
                &[("authorization", &format!("Bearer {SHOP_KEY}"))],
                Bytes::new(),
            )
            .await
        });
    }
    let (mut ok, mut shed) = (0, 0);
    while let Some(answer) = calls.join_next().await {
        let answer = answer.unwrap();
        match answer.status {
            200 => ok += 1,
            503 => {
                answer.problem(503, "overloaded");
                assert_eq!(answer.header("retry-after"), Some("1"));
                shed += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text()),
        }
    }
    assert!(ok >= 4 && shed >= 1, "ok {ok}, shed {shed}");
    assert!(gw.upstream.max_in_flight() <= 4);
    // Operating endpoints stay outside the ceiling.
    assert_eq!(gw.get("/healthz", &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_finishes_the_calls_in_flight() {
    let mut gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/hold",
        [Reply::json(200, "{}").delay(Duration::from_millis(400))],
    );
    let addr = gw.addr;
    let call = tokio::spawn(async move {
        send(
            addr,
            "GET",
            "/v1/connectors/orders/hold",
            &[("authorization", &format!("Bearer {SHOP_KEY}"))],
            Bytes::new(),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    gw.stop();
    assert_eq!(call.await.unwrap().status, 200);
    let served = tokio::time::timeout(Duration::from_secs(10), &mut gw.served).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_the_http_contract() {
    let gw = Harness::start().await;
    gw.upstream
        .route(Method::GET, "/api/x", [Reply::json(200, r#"{"ok":true}"#)]);
    gw.upstream.route(
        Method::GET,
        "/api/busy",
        [Reply::status(429).header("retry-after", "120")],
    );
    let curl = |args: Vec<String>| {
        let output = Command::new("curl")
            .args(["-sS", "-i", "--max-time", "20"])
            .args(&args)
            .output()
            .expect("curl is installed (cargo xtask test-all installs it)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n")
    };
    let ok = tokio::task::spawn_blocking({
        let url = gw.url("/v1/connectors/orders/x");
        move || {
            curl(vec![
                "-H".into(),
                format!("Authorization: Bearer {SHOP_KEY}"),
                "-H".into(),
                "X-Request-Id: curl-1".into(),
                url,
            ])
        }
    })
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.to_lowercase().contains("x-request-id: curl-1"), "{ok}");
    assert!(ok.ends_with(r#"{"ok":true}"#), "{ok}");
    let limited = tokio::task::spawn_blocking({
        let url = gw.url("/v1/connectors/orders/busy");
        move || curl(vec!["-H".into(), format!("X-Conn-Key: {SHOP_KEY}"), url])
    })
    .await
    .unwrap();
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(
        limited
            .to_lowercase()
            .contains("content-type: application/problem+json"),
        "{limited}"
    );
    assert!(limited.to_lowercase().contains("retry-after: 120"), "{limited}");
    let anonymous = tokio::task::spawn_blocking({
        let url = gw.url("/v1/connectors/orders/x");
        move || curl(vec![url])
    })
    .await
    .unwrap();
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_secrets_appear_in_no_answer_and_no_log_line() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    gw.upstream.route(Method::GET, "/api/boom", [Reply::status(500)]);
    gw.upstream.route(Method::POST, "/token", [Reply::status(500)]);
    let secret_query = "canary-query-V4LUE-0d1f";
    let mut answers = Vec::new();
    for path in [
        format!("/v1/connectors/orders/x?api_key={secret_query}"),
        format!("/v1/connectors/orders/boom?token={secret_query}"),
        format!("/v1/connectors/oauth/x?secret={secret_query}"),
        format!("/v1/connectors/down/x?key={secret_query}"),
        format!("/v1/connectors/orders/..%2fx?key={secret_query}"),
    ] {
        answers.push(gw.shop(&path).await);
    }
    answers.push(
        gw.get("/v1/connectors/orders/x", &[("authorization", "Bearer wrong")])
            .await,
    );
    answers.push(gw.admin("GET", "/v1/connectors", "").await);
    answers.push(gw.admin("GET", "/v1/connectors/orders/state", "").await);
    answers.push(gw.get("/metrics", &[]).await);
    let gateway_debug = format!("{:?}", gw.gateway);
    for canary in [CANARY_TOKEN, SHOP_KEY, ADMIN_KEY, secret_query] {
        for answer in &answers {
            assert!(
                !answer.text().contains(canary),
                "{canary} in an answer: {}",
                answer.text()
            );
            for (name, value) in &answer.headers {
                assert!(
                    !value.to_str().unwrap_or("").contains(canary),
                    "{canary} in header {name}"
                );
            }
        }
        assert!(!gateway_debug.contains(canary), "{canary} in Debug");
    }
    let logs = common::logs();
    assert!(logs.contains("gateway.request"), "the log capture works");
    for canary in [CANARY_TOKEN, SHOP_KEY, ADMIN_KEY, secret_query] {
        assert!(!logs.contains(canary), "{canary} in the logs");
    }
}
