//! The static strategies through a real Connector.

mod common;

use std::sync::Arc;

use common::*;
use conn_auth::{ApiKey, BasicAuth, StaticBearer};
use conn_core::{AuthStrategy, Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

fn ok_api() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]))
}

#[tokio::test(start_paused = true)]
async fn a_static_bearer_is_sent_and_a_401_is_final() {
    let api_transport = Arc::new(ScriptedTransport::new([MockReply::status(401)]));
    let connector = api(Arc::new(StaticBearer::new("pat-123")), &api_transport);
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_unauthorized());
    assert_eq!(
        bearers(&api_transport),
        ["Bearer pat-123"],
        "nothing to refresh: no replay"
    );
}

#[tokio::test(start_paused = true)]
async fn an_api_key_in_a_header_is_marked_as_a_credential() {
    let api_transport = ok_api();
    let connector = api(Arc::new(ApiKey::header("x-api-key", "k-1")), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    let sent = &api_transport.requests()[0].request;
    assert_eq!(sent.headers()["x-api-key"], "k-1");
    assert!(sent.headers()["x-api-key"].is_sensitive());

    let prefixed = ok_api();
    let connector = api(
        Arc::new(ApiKey::header("authorization", "k-2").prefix("Token")),
        &prefixed,
    );
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(bearers(&prefixed), ["Token k-2"]);
}

#[tokio::test(start_paused = true)]
async fn an_api_key_in_the_query_is_marked_for_stripping_and_redaction() {
    let strategy = ApiKey::query("api_key", "k-secret");
    let mut request = Request::get("/data").query("page", "2");
    strategy.authorize(&mut request, &Context::new()).await.unwrap();
    assert!(request.credentials().is_credential_query_key("api_key"));
    assert!(!format!("{request:?}").contains("k-secret"));

    let api_transport = ok_api();
    let connector = api(Arc::new(strategy), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(
        api_transport.requests()[0].request.uri(),
        "https://api.example.com/data?api_key=k-secret"
    );
}

#[tokio::test(start_paused = true)]
async fn basic_auth_is_rfc_7617() {
    let api_transport = ok_api();
    let connector = api(Arc::new(BasicAuth::new("Aladdin", "open sesame")), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(bearers(&api_transport), ["Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="]);

    let connector = api(Arc::new(BasicAuth::new("a:b", "p")), &ok_api());
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_config());
}

#[tokio::test(start_paused = true)]
async fn invalid_names_and_values_are_configuration_errors_that_quote_nothing() {
    for strategy in [
        Arc::new(ApiKey::header("bad name", "k")) as Arc<dyn AuthStrategy>,
        Arc::new(ApiKey::header("x-api-key", "line\nbreak-secret")),
        Arc::new(StaticBearer::new("bad\nbreak-secret")),
    ] {
        let connector = api(strategy, &ok_api());
        let err = connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap_err();
        assert!(err.is_config(), "{err}");
        assert!(!err.to_string().contains("break-secret"));
    }
}

#[test]
fn debug_output_never_shows_a_secret() {
    let printed = format!(
        "{:?} {:?} {:?} {:?}",
        StaticBearer::new("s-bearer"),
        ApiKey::header("x-api-key", "s-header"),
        ApiKey::query("key", "s-query"),
        BasicAuth::new("user", "s-password"),
    );
    for secret in ["s-bearer", "s-header", "s-query", "s-password"] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(printed.contains("user"));
}

/// The synchronous path adds exactly what `authorize` adds, credentials
/// marked alike, and an invalid configuration fails the same way.
#[tokio::test]
async fn try_authorize_adds_what_authorize_adds() {
    let strategies: Vec<Arc<dyn AuthStrategy>> = vec![
        Arc::new(StaticBearer::new("pat-123")),
        Arc::new(ApiKey::header("authorization", "k-1").prefix("Token")),
        Arc::new(ApiKey::query("api_key", "k-2")),
        Arc::new(BasicAuth::new("reporting", "pa55word")),
        Arc::new(BasicAuth::new("bad:user", "pa55word")),
        Arc::new(ApiKey::header("bad header", "k-3")),
    ];
    let context = Context::new();
    for (index, strategy) in strategies.iter().enumerate() {
        let mut now = Request::get("/data");
        let mut later = Request::get("/data");
        let sync = strategy
            .try_authorize(&mut now, &context)
            .expect("a fixed credential is added at once");
        let async_ = strategy.authorize(&mut later, &context).await;
        assert_eq!(sync.is_ok(), async_.is_ok(), "strategy {index}");
        assert_eq!(format!("{now:?}"), format!("{later:?}"), "strategy {index}");
        assert_eq!(now.headers(), later.headers(), "strategy {index}");
        assert_eq!(now.query_pairs(), later.query_pairs(), "strategy {index}");
    }
}
