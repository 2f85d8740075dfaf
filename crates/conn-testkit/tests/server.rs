//! The test server against a plain hyper client: scripts, faults, recording,
//! HTTP/2 and TLS. Real sockets, so real time: delays are small, timeouts
//! generous, and timing is only asserted as "at least the scripted delay".

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_testkit::{Reply, TestServer};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::time::{Instant, timeout};

/// Far above anything a passing test needs, so only a hang trips it.
const PATIENCE: Duration = Duration::from_secs(20);

type TestClient<C> = Client<C, Full<Bytes>>;

fn http1_client() -> TestClient<HttpConnector> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn h2c_client() -> TestClient<HttpConnector> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

fn tls_client(ca_pem: &str) -> TestClient<hyper_rustls::HttpsConnector<HttpConnector>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("valid PEM")).expect("usable root");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_all_versions()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn send<C>(
    client: &TestClient<C>,
    method: Method,
    url: String,
    body: &'static str,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid request");
    timeout(PATIENCE, client.request(request))
        .await
        .expect("the server answers in time")
}

async fn get<C>(client: &TestClient<C>, url: String) -> Response<Incoming>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    send(client, Method::GET, url, "")
        .await
        .expect("request succeeds")
}

async fn body_bytes(response: Response<Incoming>) -> Result<Bytes, hyper::Error> {
    timeout(PATIENCE, response.into_body().collect())
        .await
        .expect("the body completes in time")
        .map(|collected| collected.to_bytes())
}

/// Whether an io::Error of `kind` is somewhere in the source chain of `err`.
fn has_io_kind(err: &(dyn StdError + 'static), kind: io::ErrorKind) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == kind) {
            return true;
        }
        current = e.source();
    }
    false
}

#[test]
fn handles_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<TestServer>();
    assert_send_sync::<Reply>();
    assert_send_sync::<conn_testkit::RecordedRequest>();
}

#[tokio::test]
async fn script_plays_in_order_then_repeats_the_last_reply() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/flaky",
        [
            Reply::status(503),
            Reply::status(503),
            Reply::json(200, r#"{"ok":true}"#),
        ],
    );
    let client = http1_client();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = get(&client, format!("{}/flaky", server.url())).await;
        statuses.push(response.status().as_u16());
        body_bytes(response).await.unwrap();
    }
    assert_eq!(statuses, [503, 503, 200, 200, 200]);
    assert_eq!(server.hits("/flaky"), 5);

    // Replacing the route restarts from its first reply.
    server.route(Method::GET, "/flaky", [Reply::status(429), Reply::status(204)]);
    let first = get(&client, format!("{}/flaky", server.url())).await;
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn unknown_route_and_wrong_method_get_404_json() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/known", [Reply::status(200)]);
    let client = http1_client();
    for (method, path) in [(Method::GET, "/unknown"), (Method::POST, "/known")] {
        let response = send(&client, method, format!("{}{path}", server.url()), "")
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            &body_bytes(response).await.unwrap()[..],
            br#"{"error":"no route"}"#
        );
    }
    // An empty script removes the route.
    server.route(Method::GET, "/known", []);
    let response = get(&client, format!("{}/known", server.url())).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_are_recorded_with_method_path_query_headers_and_body() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::POST, "/items", [Reply::json(201, "{}")]);
    let client = http1_client();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/items?page=2&q=x", server.url()))
        .header("x-request-id", "abc-123")
        .body(Full::new(Bytes::from_static(b"{\"name\":\"n\"}")))
        .unwrap();
    let before = Instant::now();
    let response = timeout(PATIENCE, client.request(request)).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    get(&client, format!("{}/other", server.url())).await;

    let all = server.requests();
    assert_eq!(all.len(), 2);
    let recorded = &server.requests_to("/items")[0];
    assert_eq!(recorded.method, Method::POST);
    assert_eq!(recorded.path(), "/items");
    assert_eq!(recorded.query(), Some("page=2&q=x"));
    assert_eq!(recorded.header("X-Request-Id"), Some("abc-123"));
    assert_eq!(recorded.header("absent"), None);
    assert_eq!(&recorded.body[..], b"{\"name\":\"n\"}");
    assert_eq!(recorded.version, Version::HTTP_11);
    assert_eq!(recorded.connection, 1);
    assert!(recorded.received_at >= before);
    assert_eq!(all[1].path(), "/other");
    assert_eq!(all[1].connection, 1, "keep-alive reuses the connection");
    assert_eq!(server.connections(), 1);

    server.reset_records();
    assert!(server.requests().is_empty());
    assert_eq!(server.hits("/items"), 0);
}

#[tokio::test]
async fn delay_holds_back_the_response_head() {
    let delay = Duration::from_millis(150);
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/slow", [Reply::status(200).delay(delay)]);
    let start = Instant::now();
    let response = get(&http1_client(), format!("{}/slow", server.url())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(start.elapsed() >= delay, "head came after {:?}", start.elapsed());
}

#[tokio::test]
async fn stall_body_sends_the_first_bytes_then_pauses() {
    let stall = Duration::from_millis(150);
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/stall",
        [Reply::text(200, "text/plain", "0123456789").stall_body(4, stall)],
    );
    let start = Instant::now();
    let response = get(&http1_client(), format!("{}/stall", server.url())).await;
    assert_eq!(response.headers()["content-length"], "10");
    let mut body = response.into_body();
    // The rest is not even sent before the stall ends, so the first frame
    // holds exactly the bytes before it.
    let first = timeout(PATIENCE, body.frame()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "0123");
    let rest = timeout(PATIENCE, body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(&rest[..], b"456789");
    assert!(start.elapsed() >= stall);
}

#[tokio::test]
async fn truncated_body_is_a_client_body_error() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/cut",
        [Reply::text(200, "text/plain", vec![b'x'; 10_000]).truncate_body(1_000)],
    );
    server.route(
        Method::GET,
        "/cut-chunked",
        [Reply::text(200, "text/plain", vec![b'x'; 10_000])
            .chunked()
            .truncate_body(1_000)],
    );
    for client in [http1_client(), h2c_client()] {
        let response = get(&client, format!("{}/cut", server.url())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-length"], "10000");
        assert!(body_bytes(response).await.is_err(), "a short body must fail");

        let response = get(&client, format!("{}/cut-chunked", server.url())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("content-length"));
        assert!(body_bytes(response).await.is_err(), "an aborted body must fail");
    }
}

#[tokio::test]
async fn truncated_body_delivers_the_bytes_before_the_cut() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/cut",
        [Reply::huge_body(200, 1 << 20).truncate_body(300_000)],
    );
    for client in [http1_client(), h2c_client()] {
        let response = get(&client, format!("{}/cut", server.url())).await;
        let mut body = response.into_body();
        let mut received = 0;
        let outcome = loop {
            match timeout(PATIENCE, body.frame()).await.unwrap() {
                Some(Ok(frame)) => received += frame.into_data().map_or(0, |d| d.len()),
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            }
        };
        assert!(outcome.is_err(), "the cut is an error");
        assert_eq!(received, 300_000);
    }
}

#[tokio::test]
async fn reset_on_http1_is_a_tcp_rst() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/drop", [Reply::reset(), Reply::status(200)]);
    let client = http1_client();
    let err = send(&client, Method::GET, format!("{}/drop", server.url()), "")
        .await
        .expect_err("a reset gives no response");
    assert!(
        has_io_kind(&err, io::ErrorKind::ConnectionReset),
        "expected a connection reset, got {err:?}"
    );
    assert_eq!(server.hits("/drop"), 1, "the request was read before the reset");

    let response = get(&client, format!("{}/drop", server.url())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.connections(), 2, "the reset connection is gone");
}

#[tokio::test]
async fn reset_on_http2_resets_only_the_stream() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/drop", [Reply::reset(), Reply::status(200)]);
    let client = h2c_client();
    let err = send(&client, Method::GET, format!("{}/drop", server.url()), "").await;
    assert!(err.is_err(), "a reset gives no response");
    let response = get(&client, format!("{}/drop", server.url())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.connections(), 1, "the connection survived the reset");
}

/// Peak resident memory of this process, in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn huge_body_streams_without_being_allocated() {
    const GIB: u64 = 1 << 30;
    #[cfg(target_os = "linux")]
    let peak_before = peak_rss_kib();
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/huge", [Reply::huge_body(200, GIB)]);
    let client = http1_client();
    let response = get(&client, format!("{}/huge", server.url())).await;
    assert_eq!(response.headers()["content-length"], GIB.to_string().as_str());
    let mut body = response.into_body();
    let mut read = 0;
    while read < (1 << 20) {
        let frame = timeout(PATIENCE, body.frame()).await.unwrap().unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            assert!(data.iter().all(|&b| b == b'a'));
            read += data.len();
        }
    }
    drop(body);
    #[cfg(target_os = "linux")]
    {
        let grown_mib = (peak_rss_kib() - peak_before) / 1024;
        assert!(grown_mib < 256, "peak memory grew by {grown_mib} MiB");
    }
    // The server is still fine after the client walked away.
    server.route(Method::GET, "/after", [Reply::status(204)]);
    let response = get(&http1_client(), format!("{}/after", server.url())).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    for server in [
        TestServer::start().await.unwrap(),
        TestServer::builder().http2_only().start().await.unwrap(),
    ] {
        server.route(Method::GET, "/h2", [Reply::json(200, "[1]")]);
        let response = get(&h2c_client(), format!("{}/h2", server.url())).await;
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(&body_bytes(response).await.unwrap()[..], b"[1]");
        assert_eq!(server.requests()[0].version, Version::HTTP_2);
    }
}

#[tokio::test]
async fn http1_only_server_refuses_prior_knowledge_h2() {
    let server = TestServer::builder().http1_only().start().await.unwrap();
    server.route(Method::GET, "/h1", [Reply::status(200)]);
    let response = get(&http1_client(), format!("{}/h1", server.url())).await;
    assert_eq!(response.version(), Version::HTTP_11);
    let h2 = send(&h2c_client(), Method::GET, format!("{}/h1", server.url()), "").await;
    assert!(h2.is_err());
}

#[tokio::test]
async fn tls_negotiates_http2_by_alpn() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    assert!(server.url().starts_with("https://localhost:"));
    server.route(Method::GET, "/secure", [Reply::json(200, r#"{"tls":true}"#)]);
    let client = tls_client(&server.ca_certificate_pem().unwrap());
    let response = get(&client, format!("{}/secure?x=1", server.url())).await;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(&body_bytes(response).await.unwrap()[..], br#"{"tls":true}"#);
    let recorded = &server.requests()[0];
    assert_eq!(recorded.version, Version::HTTP_2);
    assert_eq!(recorded.query(), Some("x=1"));
}

#[tokio::test]
async fn tls_http1_only_falls_back_by_alpn() {
    let server = TestServer::builder()
        .tls(true)
        .http1_only()
        .start()
        .await
        .unwrap();
    server.route(Method::GET, "/secure", [Reply::status(200)]);
    let client = tls_client(&server.ca_certificate_pem().unwrap());
    let response = get(&client, format!("{}/secure", server.url())).await;
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(server.requests()[0].version, Version::HTTP_11);
}

#[tokio::test]
async fn tls_is_refused_by_a_client_that_does_not_trust_the_certificate() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    let stranger = TestServer::builder().tls(true).start().await.unwrap();
    let client = tls_client(&stranger.ca_certificate_pem().unwrap());
    let result = send(&client, Method::GET, format!("{}/x", server.url()), "").await;
    assert!(result.is_err());
    assert!(server.requests().is_empty());
    assert!(TestServer::start().await.unwrap().ca_certificate_pem().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_counts_concurrent_requests() {
    // Long enough that all ten heads arrive while the first is still held,
    // even on a loaded machine.
    let delay = Duration::from_millis(400);
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/wait", [Reply::status(200).delay(delay)]);
    let client = http1_client();
    let url = format!("{}/wait", server.url());
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { get(&client, url).await.status() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.max_in_flight(), 10);
    assert_eq!(server.hits("/wait"), 10);

    server.reset_records();
    assert_eq!(server.max_in_flight(), 0);
    get(&client, url).await;
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn chunked_and_redirect_replies() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::GET,
        "/chunked",
        [Reply::text(200, "text/plain", "streamed").chunked()],
    );
    server.route(Method::GET, "/old", [Reply::redirect(308, "/new")]);
    let client = http1_client();

    let response = get(&client, format!("{}/chunked", server.url())).await;
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert!(!response.headers().contains_key("content-length"));
    assert_eq!(&body_bytes(response).await.unwrap()[..], b"streamed");

    let response = get(&client, format!("{}/old", server.url())).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/new");
}

#[tokio::test]
async fn invalid_reply_is_a_500_naming_the_problem() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/bad", [Reply::status(200).header("bad name", "v")]);
    let response = get(&http1_client(), format!("{}/bad", server.url())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = body_bytes(response).await.unwrap();
    assert!(String::from_utf8_lossy(&text).contains("invalid header name"));
}

#[tokio::test]
async fn dropping_the_server_closes_listener_and_connections() {
    let server = TestServer::start().await.unwrap();
    let addr = server.addr();
    server.route(
        Method::GET,
        "/forever",
        [Reply::status(200).delay(Duration::from_secs(3600))],
    );
    let client = http1_client();
    let pending = tokio::spawn({
        let url = format!("{}/forever", server.url());
        let client = client.clone();
        async move { send(&client, Method::GET, url, "").await }
    });
    // Wait until the request is in the server's hands.
    let deadline = Instant::now() + PATIENCE;
    while server.hits("/forever") == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(server);

    let outcome = timeout(PATIENCE, pending).await.expect("the held request ends");
    assert!(outcome.unwrap().is_err(), "its connection was closed");
    // The abort lands when the runtime next polls the accept task; retry
    // briefly rather than race it.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
                break;
            }
            Ok(_) => {
                assert!(Instant::now() < deadline, "the listener stayed open");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
