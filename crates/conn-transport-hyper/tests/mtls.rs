//! Client certificates (mutual TLS) against a test server that requires one.

use std::sync::Arc;

use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::{ClientIdentity, HyperTransport, Roots};
use http::Method;

async fn server() -> TestServer {
    let server = TestServer::builder()
        .require_client_certificate()
        .start()
        .await
        .unwrap();
    server.route(Method::GET, "/partner", [Reply::json(200, r#"{"ok":true}"#)]);
    server
}

fn connector(server: &TestServer, identity: Option<ClientIdentity>) -> Connector {
    let mut builder =
        HyperTransport::builder().roots(Roots::none().with_pem(server.ca_certificate_pem().unwrap()));
    if let Some(identity) = identity {
        builder = builder.client_identity(identity);
    }
    Connector::builder("partner")
        .base_url(server.url())
        .transport(Arc::new(builder.build().unwrap()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_server_accepts_the_identity_it_issued() {
    let server = server().await;
    let (chain, key) = server.client_identity_pem().unwrap();
    let connector = connector(&server, Some(ClientIdentity::from_pem(chain, key)));
    let response = connector
        .call(Request::get("/partner"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.hits("/partner"), 1);
}

#[tokio::test]
async fn a_missing_or_foreign_certificate_is_a_clear_connect_error() {
    let server = server().await;
    // A certificate the server's CA never issued.
    let stray = rcgen::generate_simple_self_signed(vec!["stray-client".to_owned()]).unwrap();
    let foreign = ClientIdentity::from_pem(stray.cert.pem(), stray.signing_key.serialize_pem());

    for identity in [None, Some(foreign)] {
        let err = connector(&server, identity)
            .call(Request::get("/partner"), Context::new())
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err}");
        assert!(
            err.to_string().contains("refused the TLS client certificate"),
            "{err}"
        );
        assert!(!err.is_transient(), "the same certificate would be refused again");
    }
    assert_eq!(server.hits("/partner"), 0);
}

#[test]
fn a_bad_identity_is_a_config_error_that_never_shows_the_key() {
    let canary = "-----BEGIN PRIVATE KEY-----\nS3CR3T-CANARY-KEY\n-----END PRIVATE KEY-----\n";
    let stray = rcgen::generate_simple_self_signed(vec!["c".to_owned()]).unwrap();
    let identity = ClientIdentity::from_pem(stray.cert.pem(), canary);
    assert!(!format!("{identity:?}").contains("CANARY"));

    let err = HyperTransport::builder()
        .client_identity(identity)
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(!format!("{err} {err:?}").contains("CANARY"), "{err:?}");

    let err = HyperTransport::builder()
        .client_identity(ClientIdentity::from_pem(
            "not pem",
            stray.signing_key.serialize_pem(),
        ))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");

    // A key that does not belong to the certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let err = HyperTransport::builder()
        .client_identity(ClientIdentity::from_pem(stray.cert.pem(), other.serialize_pem()))
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
}
