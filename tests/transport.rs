//! The hyper transport against the test kit's real server: real sockets,
//! real TLS, HTTP/1.1 and HTTP/2. Real time, generous limits: a paused clock
//! would fire timeouts while waiting on sockets.

use std::sync::Arc;
use std::time::Duration;

use conn::transport::{CrossOrigin, HyperTransport, MinThroughput, Protocols, Redirects, Roots};
use conn::{AuthStrategy, BoxFuture, Connector, Context, Error, ErrorKind, Request, TimeoutKind};
use conn_testkit::{Reply, TestServer};
use http::Method;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};

fn connector_with(server: &TestServer, transport: HyperTransport) -> Connector {
    Connector::builder("test")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport))
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn plain_transport() -> HyperTransport {
    HyperTransport::builder().build().unwrap()
}

#[tokio::test]
async fn get_over_http1_with_a_json_body() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/items", [Reply::json(200, r#"[{"id":1}]"#)]);
    let connector = connector_with(&server, plain_transport());

    let response = connector
        .call(Request::get("/items").query("page", "2"), Context::new())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), br#"[{"id":1}]"#);
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert!(response.report().attempts[0].first_byte.is_some());
    let received = &server.requests()[0];
    assert_eq!(received.path(), "/items");
    assert_eq!(received.query(), Some("page=2"));
    assert!(received.header("x-request-id").is_some());
}

#[tokio::test]
async fn post_body_is_sent() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::POST, "/orders", [Reply::json(201, "{}")]);
    let connector = connector_with(&server, plain_transport());
    let response = connector
        .call(
            Request::post("/orders").json(&serde_json::json!({"sku": "A"})),
            Context::new(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let received = &server.requests()[0];
    assert_eq!(received.body.as_ref(), br#"{"sku":"A"}"#);
    assert_eq!(received.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn connect_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let connector = Connector::builder("refused")
        .base_url(format!("http://{addr}"))
        .allow_http(true)
        .transport(Arc::new(plain_transport()))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.is_transient());
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn server_errors_are_classified_and_keep_the_body() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/boom",
        [Reply::json(500, r#"{"error":"internal"}"#)],
    );
    let err = connector_with(&server, plain_transport())
        .call(Request::get("/boom"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerStatus);
    assert_eq!(err.response_body().unwrap().as_ref(), br#"{"error":"internal"}"#);
}

#[tokio::test]
async fn closed_mid_body_is_a_lost_connection() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/cut",
        [Reply::json(200, vec![b'x'; 10_000]).truncate_body(1_000)],
    );
    let err = connector_with(&server, plain_transport())
        .call(Request::get("/cut"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn reset_connection_is_a_lost_connection() {
    let server = TestServer::builder().http1_only().start().await.unwrap();
    server.route(Method::GET, "/reset", [Reply::reset()]);
    let err = connector_with(&server, plain_transport())
        .call(Request::get("/reset"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
}

#[tokio::test]
async fn slow_headers_hit_the_attempt_timeout() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/slow",
        [Reply::status(200).delay(Duration::from_secs(5))],
    );
    let connector = connector_with(&server, plain_transport());
    let err = connector
        .call(
            Request::get("/slow").timeout(Duration::from_millis(200)),
            Context::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt), "{err}");
}

#[tokio::test]
async fn slow_body_hits_the_attempt_timeout() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/slow-body",
        [Reply::json(200, vec![b'x'; 4096]).stall_body(100, Duration::from_secs(5))],
    );
    let connector = connector_with(&server, plain_transport());
    let err = connector
        .call(
            Request::get("/slow-body").timeout(Duration::from_millis(300)),
            Context::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt), "{err}");
}

#[tokio::test]
async fn a_stalled_body_fails_the_minimum_throughput_check() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/stall",
        [Reply::json(200, vec![b'x'; 4096]).stall_body(100, Duration::from_secs(5))],
    );
    let transport = HyperTransport::builder()
        .min_throughput(MinThroughput {
            bytes_per_second: 1024,
            grace: Duration::from_millis(200),
        })
        .build()
        .unwrap();
    let err = connector_with(&server, transport)
        .call(Request::get("/stall"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Attempt), "{err}");
    assert!(err.message().contains("stalled"), "{err}");
}

#[tokio::test]
async fn deadline_shorter_than_the_attempt_timeout_wins_on_the_wire() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/slow",
        [Reply::status(200).delay(Duration::from_secs(5))],
    );
    let connector = Connector::builder("test")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(plain_transport()))
        .attempt_timeout(Duration::from_secs(30))
        .total_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/slow"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline), "{err}");
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_without_reading_it() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/huge", [Reply::huge_body(200, 1 << 30)]);
    let transport = HyperTransport::builder().body_limit(1 << 20).build().unwrap();
    let err = connector_with(&server, transport)
        .call(Request::get("/huge"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert!(err.message().contains("declares"), "{err}");
}

#[tokio::test]
async fn a_huge_streamed_body_is_cut_at_the_limit() {
    // No Content-Length: the limit is enforced while streaming, and nothing
    // past it is buffered (a 1 GiB body would otherwise take 1 GiB of memory).
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/huge", [Reply::huge_body(200, 1 << 30).chunked()]);
    let transport = HyperTransport::builder().body_limit(1 << 20).build().unwrap();
    let err = connector_with(&server, transport)
        .call(Request::get("/huge"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
    assert!(err.message().contains("exceeds"), "{err}");
}

#[tokio::test]
async fn http2_over_tls_with_a_test_ca() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    server.route(Method::GET, "/h2", [Reply::json(200, "{}")]);
    let ca = server.ca_certificate_pem().unwrap();
    let transport = HyperTransport::builder()
        .roots(Roots::none().with_pem(ca))
        .build()
        .unwrap();
    let connector = Connector::builder("tls")
        .base_url(server.url())
        .transport(Arc::new(transport))
        .build()
        .unwrap();
    let response = connector.call(Request::get("/h2"), Context::new()).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(server.requests()[0].version, http::Version::HTTP_2);
}

#[tokio::test]
async fn http1_only_over_tls() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    server.route(Method::GET, "/h1", [Reply::status(204)]);
    let ca = server.ca_certificate_pem().unwrap();
    let transport = HyperTransport::builder()
        .roots(Roots::none().with_pem(ca))
        .protocols(Protocols::Http1)
        .build()
        .unwrap();
    let connector = Connector::builder("tls")
        .base_url(server.url())
        .transport(Arc::new(transport))
        .build()
        .unwrap();
    let response = connector.call(Request::get("/h1"), Context::new()).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_11);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    server.route(Method::GET, "/x", [Reply::status(200)]);
    let connector = Connector::builder("tls")
        .base_url(server.url())
        .transport(Arc::new(plain_transport()))
        .build()
        .unwrap();
    let err = connector
        .call(Request::get("/x"), Context::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(server.hits("/x"), 0);
}

#[tokio::test]
async fn http2_prior_knowledge_over_plain_tcp() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/h2c", [Reply::status(200)]);
    let transport = HyperTransport::builder()
        .protocols(Protocols::Http2)
        .build()
        .unwrap();
    let response = connector_with(&server, transport)
        .call(Request::get("/h2c"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
}

#[test]
fn invalid_custom_roots_are_config_errors() {
    let err = HyperTransport::builder()
        .roots(Roots::none().with_pem(b"not pem".to_vec()))
        .build()
        .unwrap_err();
    assert!(err.is_config());
    let err = HyperTransport::builder()
        .roots(Roots::none())
        .build()
        .unwrap_err();
    assert!(err.is_config());
}

const SECRET: &str = "s3cr3t-canary";

/// Credentials of every kind: standard header, custom header, query key.
struct EveryCredential;
impl AuthStrategy for EveryCredential {
    fn authorize<'a>(&'a self, request: &'a mut Request, _: &'a Context) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            request.set_credential_header(AUTHORIZATION, HeaderValue::from_static("Bearer s3cr3t-canary"));
            request.set_credential_header(
                HeaderName::from_static("x-vendor-key"),
                HeaderValue::from_static(SECRET),
            );
            request.add_credential_query("api_key", SECRET);
            Ok(())
        })
    }
}

fn authed(server: &TestServer, redirects: Redirects) -> Connector {
    Connector::builder("redirects")
        .base_url(server.url())
        .allow_http(true)
        .auth(Arc::new(EveryCredential))
        .transport(Arc::new(
            HyperTransport::builder().redirects(redirects).build().unwrap(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/old", [Reply::redirect(302, "/new")]);
    let response = authed(&server, Redirects::None)
        .call(Request::get("/old"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(server.hits("/new"), 0);
}

#[tokio::test]
async fn same_origin_redirects_keep_credentials() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/old", [Reply::redirect(301, "/new")]);
    server.route(Method::GET, "/new", [Reply::json(200, "{}")]);
    let response = authed(&server, Redirects::same_origin(3))
        .call(Request::get("/old"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let new = &server.requests_to("/new")[0];
    assert_eq!(new.header("x-vendor-key"), Some(SECRET));
}

#[tokio::test]
async fn cross_origin_redirects_are_refused_by_default() {
    let evil = TestServer::start().await.unwrap();
    evil.route(Method::GET, "/steal", [Reply::status(200)]);
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/old",
        [Reply::redirect(302, &format!("{}/steal", evil.url()))],
    );
    let err = authed(&server, Redirects::same_origin(3))
        .call(Request::get("/old"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err}");
    assert_eq!(evil.requests().len(), 0);
}

#[tokio::test]
async fn cross_origin_redirects_never_carry_credentials() {
    let evil = TestServer::start().await.unwrap();
    evil.route(Method::GET, "/landing", [Reply::status(200)]);
    let server = TestServer::start().await.unwrap();
    // Same origin first, then away: every hop is compared with the original origin.
    server.route(Method::GET, "/a", [Reply::redirect(307, "/b")]);
    server.route(
        Method::GET,
        "/b",
        [Reply::redirect(302, &format!("{}/landing?page=1", evil.url()))],
    );
    let policy = Redirects::Follow {
        max_hops: 5,
        cross_origin: CrossOrigin::StripCredentials,
    };
    let request = Request::get("/a").header("cookie", format!("session={SECRET}"));
    let response = authed(&server, policy)
        .call(request, Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let landed = &evil.requests()[0];
    assert_eq!(landed.query(), Some("page=1"));
    for (name, value) in &landed.headers {
        assert!(
            !value.to_str().unwrap_or_default().contains(SECRET),
            "{name} leaked"
        );
    }
    assert!(landed.header("authorization").is_none());
    assert!(landed.header("x-vendor-key").is_none());
    assert!(landed.header("cookie").is_none());
    assert!(!landed.uri.to_string().contains(SECRET));
    // The first hop stayed on the origin and kept them.
    assert_eq!(server.requests_to("/b")[0].header("x-vendor-key"), Some(SECRET));
}

#[tokio::test]
async fn the_redirect_hop_limit_is_enforced() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/loop", [Reply::redirect(302, "/loop")]);
    let err = authed(&server, Redirects::same_origin(3))
        .call(Request::get("/loop"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err}");
    assert_eq!(server.hits("/loop"), 4);
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::POST, "/submit", [Reply::redirect(303, "/result")]);
    server.route(Method::GET, "/result", [Reply::json(200, "{}")]);
    let response = authed(&server, Redirects::same_origin(2))
        .call(Request::post("/submit").body("payload"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result = &server.requests_to("/result")[0];
    assert_eq!(result.method, Method::GET);
    assert!(result.body.is_empty());
}
