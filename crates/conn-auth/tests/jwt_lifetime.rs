//! Token lifetimes from the JWT itself, through the real cache: a token
//! whose `exp` contradicts `expires_in` is replaced when `exp` says, and
//! opaque or malformed tokens keep the declared lifetime.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use conn_auth::{ClientCredentials, TokenAuth};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

const S: Duration = Duration::from_secs(1);

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// An unsigned-looking JWT with these claims (the signature is never checked).
fn jwt(claims: serde_json::Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn auth(endpoint: &Arc<ScriptedTransport>) -> TokenAuth {
    TokenAuth::builder(Arc::new(ClientCredentials::new(client(endpoint))))
        .skew(10 * S)
        .jitter(Duration::ZERO)
        .build()
}

fn ok_api() -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]))
}

#[tokio::test(start_paused = true)]
async fn a_jwt_already_expired_from_a_server_claiming_3600_s_is_not_reused() {
    let now = now_secs();
    let stale = jwt(serde_json::json!({ "iat": now - 7200, "exp": now - 3600 }));
    let fresh = jwt(serde_json::json!({ "iat": now, "exp": now + 3600 }));
    let endpoint = Arc::new(ScriptedTransport::new([
        token(&stale, Some(3600), None),
        token(&fresh, Some(3600), None),
    ]));
    let api_transport = ok_api();
    let connector = api(Arc::new(auth(&endpoint)), &api_transport);
    for _ in 0..3 {
        connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap();
    }
    assert_eq!(
        endpoint.count(),
        2,
        "the stale token was replaced, the fresh one kept"
    );
    let sent = bearers(&api_transport);
    assert_eq!(
        sent[1],
        format!("Bearer {fresh}"),
        "the second call did not reuse the expired token"
    );
    assert_eq!(sent[2], format!("Bearer {fresh}"));
}

#[tokio::test(start_paused = true)]
async fn exp_earlier_than_expires_in_plans_the_refresh_by_exp() {
    let now = now_secs();
    let short = jwt(serde_json::json!({ "iat": now, "exp": now + 120 }));
    let next = jwt(serde_json::json!({ "iat": now, "exp": now + 3600 }));
    let endpoint = Arc::new(ScriptedTransport::new([
        token(&short, Some(3600), None),
        token(&next, Some(3600), None),
    ]));
    let api_transport = ok_api();
    let connector = api(Arc::new(auth(&endpoint)), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(100 * S).await;
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(30 * S).await; // 130 s: past exp, long before 3600 s
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 2);
    assert_eq!(bearers(&api_transport).last().unwrap(), &format!("Bearer {next}"));
}

#[tokio::test(start_paused = true)]
async fn no_expires_in_takes_the_lifetime_from_exp_and_malformed_tokens_are_ignored() {
    let now = now_secs();
    let no_expires_in = jwt(serde_json::json!({ "exp": now + 600 }));
    let malformed = "eyJhbGciOi.not-base64!.x";
    let endpoint = Arc::new(ScriptedTransport::new([
        token(&no_expires_in, None, None),
        token(malformed, Some(3600), None),
    ]));
    let api_transport = ok_api();
    let auth = TokenAuth::builder(Arc::new(ClientCredentials::new(client(&endpoint))))
        .skew(10 * S)
        .jitter(Duration::ZERO)
        .default_lifetime(60 * S)
        .build();
    let connector = api(Arc::new(auth), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(300 * S).await; // past the 60 s default, within exp
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(
        endpoint.count(),
        1,
        "exp, not the default lifetime, planned the refresh"
    );
    tokio::time::advance(301 * S).await;
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 2);
    // The malformed token is used for its declared hour.
    tokio::time::advance(1800 * S).await;
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 2);
    assert_eq!(
        bearers(&api_transport).last().unwrap(),
        &format!("Bearer {malformed}")
    );
}
