//! Egress through the test kit's HTTP proxy: CONNECT for https, absolute
//! form for http, credentials kept apart, refusals as clear errors.

use std::sync::Arc;

use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestProxy, TestServer};
use conn_transport_hyper::{HyperTransport, Proxy, Roots};
use http::Method;
use secrecy::SecretString;

const PROXY_PASSWORD: &str = "pr0xy-CANARY-pw";

fn connector(server: &TestServer, proxy: Proxy) -> Connector {
    let mut transport = HyperTransport::builder().proxy(proxy);
    if let Some(ca) = server.ca_certificate_pem() {
        transport = transport.roots(Roots::none().with_pem(ca));
    }
    Connector::builder("egress")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport.build().unwrap()))
        .build()
        .unwrap()
}

fn with_origin_token() -> Request {
    let mut request = Request::get("/data");
    request.set_credential_header(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer origin-token"),
    );
    request
}

fn proxy_with_credentials(proxy: &TestProxy) -> Proxy {
    Proxy::all(proxy.url()).basic_auth("svc", SecretString::from(PROXY_PASSWORD))
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_and_each_side_sees_only_its_credentials() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    server.route(Method::GET, "/data", [Reply::json(200, "{}")]);
    let proxy = TestProxy::builder()
        .require_basic_auth("svc", PROXY_PASSWORD)
        .start()
        .await
        .unwrap();

    let response = connector(&server, proxy_with_credentials(&proxy))
        .call(with_origin_token(), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, format!("localhost:{}", server.addr().port()));
    assert!(
        seen[0]
            .proxy_authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(
        seen[0].authorization, None,
        "the origin's token travels inside the tunnel only"
    );
    let arrived = &server.requests_to("/data")[0];
    assert_eq!(arrived.header("authorization"), Some("Bearer origin-token"));
    assert_eq!(arrived.header("proxy-authorization"), None);
}

#[tokio::test]
async fn http_is_forwarded_in_absolute_form_and_the_proxy_credentials_stop_at_the_proxy() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/data", [Reply::json(200, "{}")]);
    let proxy = TestProxy::builder()
        .require_basic_auth("svc", PROXY_PASSWORD)
        .start()
        .await
        .unwrap();

    let response = connector(&server, proxy_with_credentials(&proxy))
        .call(
            Request::get("/data").header("proxy-authorization", "Basic smuggled"),
            Context::new(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = proxy.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, format!("{}/data", server.url()));
    assert_ne!(seen[0].proxy_authorization.as_deref(), Some("Basic smuggled"));
    assert_eq!(server.requests_to("/data")[0].header("proxy-authorization"), None);

    // Without a proxy, a request's own Proxy-Authorization never reaches the origin either.
    let direct = Connector::builder("direct")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build().unwrap()))
        .build()
        .unwrap();
    direct
        .call(
            Request::get("/data").header("proxy-authorization", "Basic smuggled"),
            Context::new(),
        )
        .await
        .unwrap();
    assert_eq!(server.requests_to("/data")[1].header("proxy-authorization"), None);
}

#[tokio::test]
async fn a_proxy_that_refuses_is_a_clear_connect_error() {
    let tls = TestServer::builder().tls(true).start().await.unwrap();
    let plain = TestServer::start().await.unwrap();
    let demanding = TestProxy::builder()
        .require_basic_auth("svc", PROXY_PASSWORD)
        .start()
        .await
        .unwrap();
    let broken = TestProxy::builder().refuse_with(502).start().await.unwrap();

    // 407: no or wrong credentials, over CONNECT and when forwarding; not worth a retry.
    for server in [&tls, &plain] {
        let wrong = Proxy::all(demanding.url()).basic_auth("svc", SecretString::from("wrong"));
        for proxy in [Proxy::all(demanding.url()), wrong] {
            let err = connector(server, proxy)
                .call(Request::get("/data"), Context::new())
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err}");
            assert!(err.to_string().contains("requires authentication (407)"), "{err}");
            assert!(!err.is_transient(), "{err}");
        }
    }
    // 502 on CONNECT: the proxy could not reach upstream; transient.
    let err = connector(&tls, Proxy::all(broken.url()))
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(err.to_string().contains("refused the CONNECT tunnel"), "{err}");
    assert!(err.is_transient(), "{err}");
    assert_eq!(tls.hits("/data") + plain.hits("/data"), 0);
}

#[tokio::test]
async fn no_proxy_hosts_are_reached_directly_and_secrets_never_show() {
    let server = TestServer::start().await.unwrap();
    server.route(Method::GET, "/data", [Reply::json(200, "{}")]);
    let proxy = TestProxy::start().await.unwrap();
    let settings = proxy_with_credentials(&proxy).no_proxy("localhost, 127.0.0.1");
    assert!(!format!("{settings:?}").contains("CANARY"));

    connector(&server, settings)
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert!(proxy.requests().is_empty());
    assert_eq!(server.hits("/data"), 1);

    let broken = TestProxy::builder().refuse_with(502).start().await.unwrap();
    let tls = TestServer::builder().tls(true).start().await.unwrap();
    let err = connector(&tls, proxy_with_credentials(&broken))
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("CANARY"), "{err:?}");

    let err = HyperTransport::builder()
        .proxy(Proxy::all("socks5://127.0.0.1:1080"))
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
}

#[tokio::test]
async fn the_usual_environment_variables_are_read_on_request() {
    let server = TestServer::builder().tls(true).start().await.unwrap();
    server.route(Method::GET, "/data", [Reply::json(200, "{}")]);
    let proxy = TestProxy::start().await.unwrap();
    // SAFETY: the only test in this binary that reads or writes these variables.
    unsafe {
        std::env::set_var("HTTPS_PROXY", proxy.url());
        std::env::set_var("NO_PROXY", "example.invalid");
    }
    let from_env = Proxy::from_env();
    unsafe {
        std::env::remove_var("HTTPS_PROXY");
        std::env::remove_var("NO_PROXY");
    }
    connector(&server, from_env)
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(proxy.requests()[0].method, "CONNECT");
}
