//! OIDC discovery: the token endpoint and client authentication from the
//! issuer's document, the document cached and refreshed, a foreign issuer
//! refused, an outage survived on the cached document.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use conn_auth::{ClientAssertionKey, ClientAuth, OidcClientCredentials, OidcDiscovery, TokenAuth};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

const ISSUER: &str = "https://login.example.com/realms/acme";
const S: Duration = Duration::from_secs(1);

fn document(issuer: &str, token_endpoint: &str, methods: &[&str]) -> MockReply {
    MockReply::json(
        200,
        serde_json::json!({
            "issuer": issuer,
            "token_endpoint": token_endpoint,
            "token_endpoint_auth_methods_supported": methods,
            "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
            "grant_types_supported": ["client_credentials", "refresh_token"],
        })
        .to_string(),
    )
}

fn discovery(transport: &Arc<ScriptedTransport>) -> OidcDiscovery {
    OidcDiscovery::builder(ISSUER)
        .transport(transport.clone())
        .refresh_after(600 * S)
        .max_age(3600 * S)
        .build()
        .unwrap()
}

fn ok_api() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]))
}

fn auth_for(grant: OidcClientCredentials) -> TokenAuth {
    TokenAuth::builder(Arc::new(grant))
        .skew(10 * S)
        .jitter(Duration::ZERO)
        .failure_cooldown(Duration::ZERO)
        .build()
}

#[tokio::test(start_paused = true)]
async fn the_token_endpoint_and_auth_method_come_from_the_document() {
    let provider = Arc::new(ScriptedTransport::new([
        document(
            ISSUER,
            "https://login.example.com/realms/acme/token",
            &["client_secret_post", "private_key_jwt"],
        ),
        token("at-1", Some(3600), None),
    ]));
    let grant =
        OidcClientCredentials::new(discovery(&provider), CLIENT_ID, CLIENT_SECRET).scope("orders:read");
    let api_transport = ok_api();
    let connector = api(Arc::new(auth_for(grant)), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    let sent = provider.requests();
    assert_eq!(
        sent[0].request.uri(),
        "https://login.example.com/realms/acme/.well-known/openid-configuration"
    );
    assert_eq!(
        sent[1].request.uri(),
        "https://login.example.com/realms/acme/token"
    );
    let form = form(&sent[1]);
    assert_eq!(
        form["client_secret"], CLIENT_SECRET,
        "client_secret_post, as the document allows"
    );
    assert_eq!(form["scope"], "orders:read");
    assert!(sent[1].request.headers().get("authorization").is_none());
    assert_eq!(bearers(&api_transport), ["Bearer at-1"]);
}

#[tokio::test(start_paused = true)]
async fn an_unsupported_configured_method_and_a_foreign_issuer_are_refused() {
    let provider = Arc::new(ScriptedTransport::new([document(
        ISSUER,
        "https://login.example.com/token",
        &["client_secret_post"],
    )]));
    let grant = OidcClientCredentials::new(discovery(&provider), CLIENT_ID, CLIENT_SECRET)
        .auth_method(ClientAuth::Basic);
    let err = api(Arc::new(auth_for(grant)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not support client_secret_basic"),
        "{err}"
    );

    let impostor = Arc::new(ScriptedTransport::new([document(
        "https://evil.example.com/realms/acme",
        "https://evil.example.com/token",
        &["client_secret_basic"],
    )]));
    let grant = OidcClientCredentials::new(discovery(&impostor), CLIENT_ID, CLIENT_SECRET);
    let err = api(Arc::new(auth_for(grant)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider(), "{err}");
    assert!(err.to_string().contains("another issuer"), "{err}");
    assert_eq!(
        impostor.count(),
        1,
        "no token was requested from the impostor's endpoint"
    );
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[tokio::test(start_paused = true)]
async fn the_document_is_cached_refreshed_and_used_while_the_provider_is_down() {
    let provider = Arc::new(ScriptedTransport::new([document(
        ISSUER,
        "https://login.example.com/token",
        &["client_secret_basic"],
    )]));
    let discovery = discovery(&provider);
    let first = discovery.document(None).await.unwrap();
    assert_eq!(first.token_endpoint, "https://login.example.com/token");
    discovery.document(None).await.unwrap();
    assert_eq!(provider.count(), 1, "cached while fresh");

    // Stale: fetched again, and a moved endpoint is picked up.
    tokio::time::advance(601 * S).await;
    provider.push([document(
        ISSUER,
        "https://login.example.com/v2/token",
        &["client_secret_basic"],
    )]);
    let moved = discovery.document(None).await.unwrap();
    assert_eq!(moved.token_endpoint, "https://login.example.com/v2/token");
    assert_eq!(provider.count(), 2);

    // Down: the cached document is used while younger than max_age.
    tokio::time::advance(601 * S).await;
    provider.push([MockReply::status(503)]);
    let kept = discovery.document(None).await.unwrap();
    assert_eq!(kept.token_endpoint, "https://login.example.com/v2/token");
    assert_eq!(provider.count(), 3);

    // Past max_age the outage is the caller's error, transient.
    tokio::time::advance(3600 * S).await;
    let err = discovery.document(None).await.unwrap_err();
    assert!(err.is_auth_provider() && err.is_transient(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn discovery_down_without_a_cached_document_is_a_transient_error() {
    let provider = Arc::new(ScriptedTransport::new([MockReply::status(502)]));
    let err = discovery(&provider).document(None).await.unwrap_err();
    assert!(err.is_auth_provider() && err.is_transient(), "{err}");
    assert!(err.to_string().contains("502"), "{err}");

    let missing = Arc::new(ScriptedTransport::new([MockReply::status(404)]));
    let err = discovery(&missing).document(None).await.unwrap_err();
    assert!(!err.is_transient(), "a missing document is not an outage: {err}");

    let garbage = Arc::new(ScriptedTransport::new([MockReply::json(200, "{\"issuer\": 7")]));
    let err = discovery(&garbage).document(None).await.unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");

    let plain = Arc::new(ScriptedTransport::new([document(
        ISSUER,
        "http://login.example.com/token",
        &[],
    )]));
    let err = discovery(&plain).document(None).await.unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");

    let slow = Arc::new(ScriptedTransport::new([MockReply::status(200).delay(60 * S)]));
    let err = discovery(&slow).document(None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[test]
fn bad_issuers_are_configuration_errors() {
    let transport: Arc<dyn conn_core::Transport> = Arc::new(ScriptedTransport::default());
    for issuer in [
        "login.example.com",
        "http://login.example.com",
        "https://user:pw@login.example.com",
        "https://x.example?q=1",
    ] {
        let err = OidcDiscovery::builder(issuer)
            .transport(transport.clone())
            .build()
            .unwrap_err();
        assert!(err.is_config(), "{issuer}");
    }
    assert!(
        OidcDiscovery::builder(ISSUER).build().unwrap_err().is_config(),
        "no transport"
    );
}

#[tokio::test(start_paused = true)]
async fn a_private_key_client_uses_private_key_jwt_when_the_provider_lists_it() {
    let pem = secrecy::SecretString::from(include_str!("data/keys/test-rsa-2048.pk8.pem"));
    let key = ClientAssertionKey::from_pem(&pem).unwrap();
    let provider = Arc::new(ScriptedTransport::new([
        document(
            ISSUER,
            "https://login.example.com/realms/acme/token",
            &["client_secret_basic", "private_key_jwt"],
        ),
        token("at-1", Some(3600), None),
    ]));
    let grant = OidcClientCredentials::with_private_key(discovery(&provider), CLIENT_ID, key.clone());
    let api_transport = ok_api();
    api(Arc::new(auth_for(grant)), &api_transport)
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    let form = form(&provider.requests()[1]);
    assert!(!form.contains_key("client_secret"));
    let assertion = &form["client_assertion"];
    let claims = assertion.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["aud"], "https://login.example.com/realms/acme/token",
        "addressed to the discovered endpoint"
    );

    let secrets_only = Arc::new(ScriptedTransport::new([document(
        ISSUER,
        "https://login.example.com/token",
        &["client_secret_basic"],
    )]));
    let grant = OidcClientCredentials::with_private_key(discovery(&secrets_only), CLIENT_ID, key);
    let err = api(Arc::new(auth_for(grant)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not support private_key_jwt"),
        "{err}"
    );
}
