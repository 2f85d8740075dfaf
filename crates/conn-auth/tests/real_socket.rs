//! The whole flow over real sockets: the test kit server is both the OAuth
//! server and the API, the hyper transport carries both, on a normal clock.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use conn_auth::{ClientCredentials, OAuth2Client, TokenAuth};
use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::HyperTransport;
use http::Method;

#[tokio::test]
async fn client_credentials_and_a_401_refresh_over_real_sockets() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::POST,
        "/oauth/token",
        [
            Reply::json(
                200,
                r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600}"#,
            ),
            Reply::json(
                200,
                r#"{"access_token":"at-2","token_type":"Bearer","expires_in":3600}"#,
            ),
        ],
    );
    server.route(
        Method::GET,
        "/data",
        [
            Reply::json(200, r#"{"n":1}"#),
            Reply::json(401, r#"{"error":"token revoked"}"#),
            Reply::json(200, r#"{"n":2}"#),
        ],
    );
    let transport = Arc::new(HyperTransport::builder().build().unwrap());
    let client = OAuth2Client::builder(format!("{}/oauth/token", server.url()))
        .allow_http(true)
        .client_id("real-client")
        .client_secret("real-secret")
        .transport(transport.clone())
        .request_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let auth = TokenAuth::new(Arc::new(ClientCredentials::new(client).scope("data:read")));
    let connector = Connector::builder("real")
        .base_url(server.url())
        .allow_http(true)
        .transport(transport)
        .auth(Arc::new(auth))
        .build()
        .unwrap();

    let first = connector
        .call(
            Request::get("/data"),
            Context::new().timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(first.body().as_ref(), br#"{"n":1}"#);
    let second = connector
        .call(
            Request::get("/data"),
            Context::new().timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(second.body().as_ref(), br#"{"n":2}"#);
    assert!(second.report().attempts[1].auth_replay);

    let token_requests = server.requests_to("/oauth/token");
    assert_eq!(token_requests.len(), 2);
    let basic = base64::engine::general_purpose::STANDARD.encode("real-client:real-secret");
    for request in &token_requests {
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(
            request.body_text(),
            "grant_type=client_credentials&scope=data%3Aread"
        );
    }
    let data: Vec<Option<String>> = server
        .requests_to("/data")
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        data,
        [
            Some("Bearer at-1".to_owned()),
            Some("Bearer at-1".to_owned()),
            Some("Bearer at-2".to_owned())
        ]
    );
}
