//! Canary secrets: the whole flow runs with every tracing event captured at
//! TRACE, and every error, config, strategy, token and report is
//! Debug-printed; none of the canary secrets may appear anywhere.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::log_capture::capture;
use common::*;
use conn_auth::{
    ApiKey, BasicAuth, ClientAuth, ClientCredentials, EncryptedFileStore, Fallback, MemoryStore,
    OAuth2Client, RefreshTokenGrant, StaticBearer, StoreKey, TokenAuth, TokenForm, TokenRequest, TokenStore,
};
use conn_core::{AuthStrategy, Connector, Context, Request};
use conn_testkit::{MockReply, Reply, ScriptedTransport, TestServer};
use secrecy::{ExposeSecret, SecretString};

const CLIENT_SECRET: &str = "CANARY-client-secret-5f1e9d";
const REFRESH: &str = "CANARY-refresh-token-9a7c31";
const ROTATED: &str = "CANARY-rotated-refresh-77e1b0";
const ACCESS: &str = "CANARY-access-token-3b2d88";
const ACCESS_2: &str = "CANARY-access-token-second-aa41";
const STATIC: &str = "CANARY-static-key-0c4a5e";
const PASSWORD: &str = "CANARY-password-61f0c2";

fn canaries(key: Option<&StoreKey>) -> Vec<String> {
    let mut all: Vec<String> = [
        CLIENT_SECRET,
        REFRESH,
        ROTATED,
        ACCESS,
        ACCESS_2,
        STATIC,
        PASSWORD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    all.push(b64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    all.push(b64.encode(format!("user:{PASSWORD}")));
    if let Some(key) = key {
        all.push(key.to_base64().expose_secret().to_owned());
    }
    all
}

#[test]
fn the_check_itself_catches_a_leak() {
    let leaked = std::panic::catch_unwind(|| assert_clean("a leak", &format!("x {ACCESS} y"), None));
    assert!(leaked.is_err());
}

fn assert_clean(what: &str, text: &str, key: Option<&StoreKey>) {
    for canary in canaries(key) {
        assert!(!text.contains(&canary), "{what} leaked a secret:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_logs_errors_or_debug_output() {
    let capture = capture();
    let mut printed = String::new();
    let mut print = |label: &str, text: String| {
        printed.push_str(label);
        printed.push_str(": ");
        printed.push_str(&text);
        printed.push('\n');
    };

    // 1. Client credentials: a 500 whose body echoes tokens, then a token;
    //    the API refuses it once, a refresh, a replay.
    let endpoint = Arc::new(ScriptedTransport::new([
        MockReply::json(
            500,
            format!(
                r#"{{"error":"server_error","error_description":"upstream said access_token={ACCESS} and Bearer {ACCESS_2}; client_secret={CLIENT_SECRET}"}}"#
            ),
        ),
        token(ACCESS, Some(3600), None),
        token(ACCESS_2, Some(3600), None),
    ]));
    let client = OAuth2Client::builder(TOKEN_URL)
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .transport(endpoint.clone())
        .max_attempts(1)
        .build()
        .unwrap();
    print("client", format!("{client:?}"));
    let grant = ClientCredentials::new(client.clone()).scope("read");
    print("grant", format!("{grant:?}"));
    let auth = Arc::new(
        TokenAuth::builder(Arc::new(grant))
            .failure_cooldown(Duration::ZERO)
            .build(),
    );
    print("auth", format!("{auth:?}"));
    let api_transport = Arc::new(ScriptedTransport::new([
        MockReply::status(401),
        MockReply::json(200, "{}"),
    ]));
    let connector = api(auth.clone(), &api_transport);
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("server_error"), "{err}");
    print("error display", err.to_string());
    print("error debug", format!("{err:?}"));
    print("error report", format!("{:?}", err.report()));
    let response = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    print("report", response.report().to_string());
    print("response", format!("{response:?}"));
    let cached = auth.token(&Context::new()).await.unwrap();
    print("token", format!("{cached:?}"));

    // 2. Refresh grant with rotation into an encrypted file store, then a
    //    revoked refresh token whose error echoes it.
    let dir = TempDir::new("canary");
    let key = StoreKey::generate().unwrap();
    let key_text = key.to_base64();
    print("key", format!("{key:?}"));
    let store = Arc::new(
        EncryptedFileStore::open(
            dir.join("tokens.store"),
            StoreKey::parse(key_text.expose_secret()).unwrap(),
        )
        .unwrap(),
    );
    print("file store", format!("{store:?}"));
    let endpoint = Arc::new(ScriptedTransport::new([
        token(ACCESS, Some(3600), Some(ROTATED)),
        MockReply::json(
            400,
            format!(
                r#"{{"error":"invalid_grant","error_description":"Refresh token {ROTATED} was revoked (refresh_token: \"{ROTATED}\", access_token: \"{ACCESS}\")"}}"#
            ),
        ),
    ]));
    let refresh_client = OAuth2Client::builder(TOKEN_URL)
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .auth_method(ClientAuth::Post)
        .transport(endpoint.clone())
        .build()
        .unwrap();
    let grant = RefreshTokenGrant::new(refresh_client.clone(), store.clone())
        .initial_refresh_token(Some("acme"), SecretString::from(REFRESH));
    print("refresh grant", format!("{grant:?}"));
    let auth = Arc::new(TokenAuth::new(Arc::new(grant)));
    let connector = api(
        auth.clone(),
        &Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")])),
    );
    let acme = || Context::new().tenant("acme");
    connector.call(Request::get("/data"), acme()).await.unwrap();
    let stored = store.load(Some("acme")).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().expose_secret(), ROTATED);
    print("stored", format!("{stored:?}"));
    auth.invalidate(Some("acme"));
    let err = connector.call(Request::get("/data"), acme()).await.unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    print("invalid_grant display", err.to_string());
    print("invalid_grant debug", format!("{err:?}"));

    // 3. Malformed and mistyped token responses, a non-JSON error page.
    for reply in [
        MockReply::json(200, format!(r#"{{"access_token":"{ACCESS}","#)),
        MockReply::json(
            200,
            format!(r#"{{"access_token":12345,"refresh_token":"{REFRESH}"}}"#),
        ),
        MockReply::status(502)
            .header("content-type", "text/html")
            .body(format!("<p>Bearer {ACCESS}</p>")),
    ] {
        let endpoint = Arc::new(ScriptedTransport::new([reply]));
        let client = client_with(&endpoint, ClientAuth::Basic, 1);
        let form = TokenForm::new("refresh_token").secret("refresh_token", SecretString::from(REFRESH));
        print("form", format!("{form:?}"));
        let err = client
            .request_token(&form, &TokenRequest::new(None))
            .await
            .unwrap_err();
        print("bad response display", err.to_string());
        print("bad response debug", format!("{err:?}"));
    }
    let endpoint = Arc::new(ScriptedTransport::new([token(ACCESS, Some(60), Some(ROTATED))]));
    let response = client_with(&endpoint, ClientAuth::Basic, 1)
        .request_token(&TokenForm::new("client_credentials"), &TokenRequest::new(None))
        .await
        .unwrap();
    print("token response", format!("{response:?}"));

    // 4. Static strategies, a fallback, the requests they authorize.
    let strategies: Vec<(&str, Arc<dyn AuthStrategy>)> = vec![
        ("bearer", Arc::new(StaticBearer::new(ACCESS))),
        ("header key", Arc::new(ApiKey::header("x-api-key", STATIC))),
        ("query key", Arc::new(ApiKey::query("key", STATIC))),
        ("basic", Arc::new(BasicAuth::new("user", PASSWORD))),
    ];
    for (label, strategy) in &strategies {
        let mut request = Request::get("/data");
        strategy.authorize(&mut request, &Context::new()).await.unwrap();
        print(label, format!("{request:?}"));
        let connector = api(
            strategy.clone(),
            &Arc::new(ScriptedTransport::new([MockReply::status(403)])),
        );
        let err = connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap_err();
        print(label, format!("{err:?} {err}"));
    }
    print(
        "static debug",
        format!(
            "{:?} {:?} {:?}",
            StaticBearer::new(ACCESS),
            ApiKey::header("x-k", STATIC),
            BasicAuth::new("user", PASSWORD)
        ),
    );
    let broken = Arc::new(ScriptedTransport::new([MockReply::status(500)]));
    let fallback = Fallback::new(
        Arc::new(TokenAuth::new(Arc::new(ClientCredentials::new(client_with(
            &broken,
            ClientAuth::Basic,
            1,
        ))))),
        Arc::new(ApiKey::header("x-api-key", STATIC)),
    );
    print("fallback", format!("{fallback:?}"));
    let connector = api(
        Arc::new(fallback),
        &Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")])),
    );
    let degraded = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert!(degraded.report().degraded.is_some());
    print("degraded", degraded.report().to_string());
    let memory = MemoryStore::new();
    memory
        .save(None, &conn_auth::StoredToken::new(REFRESH))
        .await
        .unwrap();
    print(
        "memory store",
        format!("{memory:?} {:?}", memory.load(None).await.unwrap()),
    );

    settle().await;
    let logs = capture.logs();
    // The capture works, and the access log names tenant and token id.
    assert!(logs.contains("token store access"), "{logs}");
    assert!(
        logs.contains("tenant=\"acme\"") || logs.contains("tenant=acme"),
        "{logs}"
    );
    assert!(logs.contains(&format!("token_id=\"{}\"", stored.id())), "{logs}");
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"));
    // CANARY_DUMP=1 shows what was checked, when a change needs reviewing.
    if std::env::var("CANARY_DUMP").is_ok() {
        eprintln!("=== LOGS ===\n{logs}\n=== PRINTED ===\n{printed}");
    }
    assert_clean("the tracing output", &logs, Some(&key));
    assert_clean("Debug and Display output", &printed, Some(&key));
}

#[tokio::test]
async fn no_secret_reaches_logs_over_real_sockets() {
    let capture = capture();
    let server = TestServer::start().await.unwrap();
    server.route(
        http::Method::POST,
        "/oauth/token",
        [
            Reply::json(200, format!(r#"{{"access_token":"{ACCESS}","expires_in":3600}}"#)),
            Reply::json(
                200,
                format!(r#"{{"access_token":"{ACCESS_2}","expires_in":3600}}"#),
            ),
        ],
    );
    server.route(
        http::Method::GET,
        "/data",
        [Reply::status(401), Reply::json(200, "{}")],
    );
    let transport = Arc::new(conn_transport_hyper::HyperTransport::builder().build().unwrap());
    let client = OAuth2Client::builder(format!("{}/oauth/token", server.url()))
        .allow_http(true)
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .auth_method(ClientAuth::Post)
        .transport(transport.clone())
        .build()
        .unwrap();
    let auth = TokenAuth::new(Arc::new(ClientCredentials::new(client)));
    let connector = Connector::builder("canary-real")
        .base_url(server.url())
        .allow_http(true)
        .transport(transport)
        .auth(Arc::new(auth))
        .build()
        .unwrap();
    let response = connector
        .call(
            Request::get("/data"),
            Context::new().timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let printed = format!("{response:?} {}", response.report());
    assert_eq!(server.hits("/oauth/token"), 2);
    let logs = capture.logs();
    assert_clean("the tracing output", &logs, None);
    assert_clean("Debug and Display output", &printed, None);
}
