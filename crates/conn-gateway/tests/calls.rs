//! The call interface over real sockets: a client -> the gateway -> a
//! conn-testkit upstream. Every row of the error table, caller auth,
//! hostile paths, header and body limits, documents.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{ADMIN_KEY, CANARY_TOKEN, Harness, PARTNER_KEY, SHOP_KEY, send};
use conn_testkit::{Reply, TestServer};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_forwarded_and_the_answer_comes_back_with_allowed_headers_only() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::POST,
        "/api/items",
        [Reply::json(201, r#"{"id":7}"#)
            .header("etag", "\"v1\"")
            .header("set-cookie", "upstream-session=1")
            .header("x-internal", "do-not-leak")],
    );
    let answer = send(
        gw.addr,
        "POST",
        "/v1/connectors/orders/items?page=2&q=a%20b",
        &[
            ("authorization", &bearer(SHOP_KEY)),
            ("x-request-id", "req-81f2"),
            ("content-type", "application/json"),
            ("cookie", "gateway-session=1"),
            ("x-forwarded-for", "10.0.0.1"),
        ],
        Bytes::from_static(br#"{"sku":"A-1"}"#),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["id"], 7);
    assert_eq!(answer.header("x-request-id"), Some("req-81f2"));
    assert_eq!(answer.header("x-conn-attempts"), Some("1"));
    assert_eq!(answer.header("etag"), Some("\"v1\""));
    assert!(answer.header("set-cookie").is_none() && answer.header("x-internal").is_none());

    let sent = &gw.upstream.requests_to("/api/items")[0];
    assert_eq!(sent.query(), Some("page=2&q=a%20b"));
    assert_eq!(sent.body_text(), r#"{"sku":"A-1"}"#);
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.header("x-request-id"),
        Some("req-81f2"),
        "the correlation id goes upstream"
    );
    // The connector's own credential goes upstream; the caller's key, cookie
    // and proxy headers do not.
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {CANARY_TOKEN}").as_str())
    );
    assert!(sent.header("cookie").is_none() && sent.header("x-forwarded-for").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_call_answers_the_final_success_and_counts_attempts() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/flaky",
        [Reply::status(503), Reply::json(200, "{}")],
    );
    let answer = gw.shop("/v1/connectors/orders/flaky").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-conn-attempts"), Some("2"));
    assert!(
        answer.header("x-request-id").is_some(),
        "a correlation id is made when none is sent"
    );
}

// ---------------------------------------------------------------- the error table, row by row

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_open_is_503_with_retry_after() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/down", [Reply::status(500)]);
    for _ in 0..2 {
        gw.shop("/v1/connectors/fragile/down")
            .await
            .problem(502, "server_status");
    }
    let answer = gw.shop("/v1/connectors/fragile/down").await;
    let body = answer.problem(503, "circuit_open");
    let retry_after: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(body["transient"], true);
    assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(body["correlation_id"].is_string());
    assert_eq!(gw.upstream.hits("/api/down"), 2, "an open circuit sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conns_own_throttle_is_429_with_retry_after() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    assert_eq!(gw.shop("/v1/connectors/limited/x").await.status, 200);
    let answer = gw.shop("/v1/connectors/limited/x").await;
    answer.problem(429, "rate_limited");
    assert!(answer.header("retry-after").is_some());
    assert_eq!(gw.upstream.hits("/api/x"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstreams_429_is_429_with_retry_after() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/busy",
        [Reply::status(429).header("retry-after", "120")],
    );
    let answer = gw.shop("/v1/connectors/orders/busy").await;
    let body = answer.problem(429, "rate_limited");
    assert_eq!(body["upstream_status"], 429);
    assert_eq!(answer.header("retry-after"), Some("120"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_504() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/slow",
        [Reply::json(200, "{}").delay(Duration::from_secs(3))],
    );
    let body = gw.shop("/v1/connectors/slow/slow").await.json();
    assert_eq!(body["status"], 504);
    assert!(
        body["kind"] == "timeout_attempt" || body["kind"] == "timeout_deadline",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_5xx_is_502_after_the_retries() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/boom", [Reply::status(500)]);
    let body = gw
        .shop("/v1/connectors/orders/boom")
        .await
        .problem(502, "server_status");
    assert_eq!(body["attempts"], 3);
    assert_eq!(body["upstream_status"], 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_failure_is_502() {
    let gw = Harness::start().await;
    gw.shop("/v1/connectors/down/x").await.problem(502, "connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decode_error_is_502() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/broken",
        [Reply::text(200, "application/json", "{\"not\": json")],
    );
    let answer = gw
        .get(
            "/v1/connectors/catalog/broken",
            &[
                ("authorization", &bearer(SHOP_KEY)),
                ("accept", "application/vnd.conn.document+json"),
            ],
        )
        .await;
    answer.problem(502, "decode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_body_over_the_limit_is_502() {
    let gw = Harness::start().await;
    gw.upstream
        .route(Method::GET, "/api/big", [Reply::json(200, "x".repeat(10_000))]);
    gw.shop("/v1/connectors/small/big")
        .await
        .problem(502, "body_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_provider_failure_is_502() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::POST, "/token", [Reply::status(500)]);
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    gw.shop("/v1/connectors/oauth/x")
        .await
        .problem(502, "auth_provider");
    assert_eq!(gw.upstream.hits("/api/x"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_4xx_pass_through_as_they_are() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/missing",
        [Reply::json(404, r#"{"error":"no such order"}"#)],
    );
    gw.upstream.route(
        Method::GET,
        "/api/private",
        [Reply::json(403, r#"{"error":"not yours"}"#)],
    );
    let answer = gw.shop("/v1/connectors/orders/missing").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"error":"no such order"}"#);
    let answer = gw.shop("/v1/connectors/orders/private").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.text(), r#"{"error":"not yours"}"#);
}

// ---------------------------------------------------------------- hostile paths

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_never_leaves_the_base_url() {
    let gw = Harness::start().await;
    let elsewhere = TestServer::start().await.unwrap();
    let other = elsewhere.addr();
    let hostile = [
        "/v1/connectors/orders/..%2f..%2fsecret".to_owned(),
        "/v1/connectors/orders/%2e%2e/%2e%2e/admin".to_owned(),
        "/v1/connectors/orders/%252e%252e%252fadmin".to_owned(),
        format!("/v1/connectors/orders//{other}/steal"),
        format!("/v1/connectors/orders/%2f%2f{other}/steal"),
        "/v1/connectors/orders/..%5c..%5cadmin".to_owned(),
        "/v1/connectors/orders/%5c%5cevil.example/x".to_owned(),
        format!("/v1/connectors/orders/@{other}/x"),
    ];
    for path in &hostile {
        let answer = gw.shop(path).await;
        assert!(
            answer.status == 400 || answer.status == 404,
            "{path}: {} {}",
            answer.status,
            answer.text()
        );
        if answer.status == 400 {
            assert_eq!(answer.header("content-type"), Some("application/problem+json"));
        }
    }
    assert!(elsewhere.requests().is_empty(), "another host was reached");
    for request in gw.upstream.requests() {
        assert!(
            request.path().starts_with("/api/"),
            "left the base path: {}",
            request.path()
        );
    }
}

// ---------------------------------------------------------------- callers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_authenticated_and_limited_to_their_connectors_and_tenants() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    let path = "/v1/connectors/orders/x";
    gw.get(path, &[]).await.problem(401, "unauthenticated");
    gw.get(path, &[("authorization", "Bearer not-a-key")])
        .await
        .problem(401, "unauthenticated");
    gw.get(path, &[("x-conn-key", &format!("{SHOP_KEY}x"))])
        .await
        .problem(401, "unauthenticated");
    // shop may act for acme only: a header cannot make it globex.
    gw.get(
        path,
        &[("authorization", &bearer(SHOP_KEY)), ("x-conn-tenant", "globex")],
    )
    .await
    .problem(403, "forbidden");
    // partner may use orders and catalog only.
    gw.get(
        "/v1/connectors/limited/x",
        &[("authorization", &bearer(PARTNER_KEY)), ("x-conn-tenant", "acme")],
    )
    .await
    .problem(403, "forbidden");
    // partner lists two tenants: it must name one...
    gw.get(path, &[("authorization", &bearer(PARTNER_KEY))])
        .await
        .problem(400, "bad_request");
    // ...and then may.
    let ok = gw
        .get(
            path,
            &[
                ("authorization", &bearer(PARTNER_KEY)),
                ("x-conn-tenant", "globex"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200);
    // The admin API wants the admin key, not a caller's.
    let answer = send(
        gw.addr,
        "POST",
        "/v1/admin/reload",
        &[("authorization", &bearer(SHOP_KEY))],
        Bytes::new(),
    )
    .await;
    answer.problem(401, "unauthenticated");
    gw.get("/v1/connectors", &[])
        .await
        .problem(401, "unauthenticated");
    let admin = gw.get("/v1/connectors", &[("x-conn-key", ADMIN_KEY)]).await;
    assert_eq!(admin.status, 200);
    assert_eq!(
        gw.upstream.hits("/api/x"),
        1,
        "only the permitted call went upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_connector_is_404_and_a_bad_request_id_400() {
    let gw = Harness::start().await;
    gw.shop("/v1/connectors/nope/x").await.problem(404, "not_found");
    gw.get(
        "/v1/connectors/orders/x",
        &[("authorization", &bearer(SHOP_KEY)), ("x-request-id", "a b\"c")],
    )
    .await
    .problem(400, "bad_request");
}

// ---------------------------------------------------------------- header and body limits

async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_in_headers_and_oversized_headers_are_refused() {
    let gw = Harness::start().await;
    gw.upstream.route(Method::GET, "/api/x", [Reply::json(200, "{}")]);
    // A bare CR inside a header value: the HTTP parser refuses the request.
    let answer = raw(
        gw.addr,
        format!(
            "GET /v1/connectors/orders/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {SHOP_KEY}\r\nX-Request-Id: a\rInjected: 1\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Oversized headers: 431 problem.
    let big = "v".repeat(20 * 1024);
    let answer = gw
        .get(
            "/v1/connectors/orders/x",
            &[("authorization", &bearer(SHOP_KEY)), ("x-padding", &big)],
        )
        .await;
    answer.problem(431, "headers_too_large");
    assert_eq!(gw.upstream.hits("/api/x"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_inbound_limit_is_413() {
    let gw = Harness::start().await;
    gw.upstream
        .route(Method::POST, "/api/x", [Reply::json(200, "{}")]);
    let answer = send(
        gw.addr,
        "POST",
        "/v1/connectors/orders/x",
        &[("authorization", &bearer(SHOP_KEY))],
        Bytes::from(vec![b'a'; 4096]),
    )
    .await;
    answer.problem(413, "request_too_large");
    // Chunked, with no length announced: refused as it streams past the limit.
    let chunk = "b".repeat(3000);
    let answer = raw(
        gw.addr,
        format!(
            "POST /v1/connectors/orders/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {SHOP_KEY}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            chunk.len()
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(gw.upstream.hits("/api/x"), 0);
}

// ---------------------------------------------------------------- documents and workflows

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_normalized_json_or_xml_with_the_mapping_applied() {
    let gw = Harness::start().await;
    gw.upstream.route(
        Method::GET,
        "/api/items/7.xml",
        [Reply::text(
            200,
            "application/xml",
            r#"<item id="7"><name>Anvil</name></item>"#,
        )],
    );
    gw.upstream.route(
        Method::GET,
        "/api/items/7.json",
        [Reply::json(200, r#"{"item":{"id":"7","name":"Anvil"}}"#)],
    );
    for path in [
        "/v1/connectors/catalog/items/7.xml",
        "/v1/connectors/catalog/items/7.json",
    ] {
        let answer = gw
            .get(
                path,
                &[
                    ("authorization", &bearer(SHOP_KEY)),
                    ("accept", "application/vnd.conn.document+json"),
                    ("x-request-id", "doc-1"),
                ],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(
            answer.header("content-type"),
            Some("application/vnd.conn.document+json")
        );
        let body = answer.json();
        assert_eq!(
            body["document"],
            serde_json::json!({ "id": 7, "name": "Anvil" }),
            "{body}"
        );
        assert_eq!(body["status"], 200);
        assert_eq!(body["attempts"], 1);
        assert_eq!(body["correlation_id"], "doc-1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_runs_its_steps_and_reports_each() {
    let gw = Harness::start().await;
    gw.upstream
        .route(Method::GET, "/api/items", [Reply::json(200, r#"[1,2]"#)]);
    gw.upstream
        .route(Method::GET, "/api/items/2", [Reply::status(404)]);
    let answer = send(
        gw.addr,
        "POST",
        "/v1/workflows/overview?id=2",
        &[("authorization", &bearer(SHOP_KEY)), ("x-request-id", "wf-1")],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 502, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["correlation_id"], "wf-1", "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["steps"][0]["status"], 200);
    assert_eq!(body["steps"][0]["body"], serde_json::json!([1, 2]));
    assert_eq!(body["steps"][1]["problem"]["status"], 404);
    // partner may not use every connector of... it may: orders and catalog.
    let unknown = send(
        gw.addr,
        "POST",
        "/v1/workflows/nope",
        &[("authorization", &bearer(SHOP_KEY))],
        Bytes::new(),
    )
    .await;
    unknown.problem(404, "not_found");
}
