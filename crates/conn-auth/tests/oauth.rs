//! The OAuth strategies and the token cache through a real Connector: a
//! scripted token endpoint, a scripted API, on a paused tokio clock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use common::*;
use conn_auth::{
    ApiKey, ClientAuth, ClientCredentials, Fallback, FetchReason, MemoryStore, RefreshTokenGrant,
    StoredToken, Token, TokenAuth, TokenProvider, TokenRequest, TokenStore, provider_fn,
};
use conn_core::{BoxFuture, Context, Error, ErrorKind, Request, TimeoutKind};
use conn_testkit::{MockReply, ScriptedTransport};
use secrecy::ExposeSecret;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn scripted(replies: impl IntoIterator<Item = MockReply>) -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new(replies))
}

fn ok_api() -> Arc<ScriptedTransport> {
    scripted([MockReply::json(200, r#"{"ok":true}"#)])
}

/// Client credentials with exact timing: 60 s skew, no jitter.
fn cc_auth(endpoint: &Arc<ScriptedTransport>) -> TokenAuth {
    TokenAuth::builder(Arc::new(ClientCredentials::new(client(endpoint))))
        .skew(60 * S)
        .jitter(Duration::ZERO)
        .build()
}

fn refresh_grant(endpoint: &Arc<ScriptedTransport>, store: Arc<dyn TokenStore>) -> RefreshTokenGrant {
    RefreshTokenGrant::new(client(endpoint), store).initial_refresh_token(None, "rt-0")
}

#[tokio::test(start_paused = true)]
async fn client_credentials_basic_sends_a_well_formed_token_request() {
    let endpoint = scripted([token("at-1", Some(3600), None)]);
    let api_transport = ok_api();
    let grant = ClientCredentials::new(client(&endpoint))
        .scopes(["orders:read", "orders:write"])
        .audience("https://api.example.com");
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    let sent = &endpoint.requests()[0].request;
    assert_eq!(sent.method(), http::Method::POST);
    // The token endpoint is its own origin, configured explicitly.
    assert_eq!(sent.uri(), TOKEN_URL);
    assert_eq!(
        sent.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(sent.headers()["accept"], "application/json");
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        sent.headers()["authorization"],
        format!("Basic {expected}").as_str()
    );
    let fields = form(&endpoint.requests()[0]);
    assert_eq!(fields["grant_type"], "client_credentials");
    assert_eq!(fields["scope"], "orders:read orders:write");
    assert_eq!(fields["audience"], "https://api.example.com");
    assert!(!fields.contains_key("client_secret"));
    assert_eq!(bearers(&api_transport), ["Bearer at-1"]);
}

#[tokio::test(start_paused = true)]
async fn client_secret_post_puts_the_credentials_in_the_form() {
    let endpoint = scripted([token("at-1", Some(3600), None)]);
    let api_transport = ok_api();
    let grant = ClientCredentials::new(client_with(&endpoint, ClientAuth::Post, 3));
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    let sent = &endpoint.requests()[0];
    assert!(authorization(sent).is_none());
    let fields = form(sent);
    assert_eq!(fields["client_id"], CLIENT_ID);
    assert_eq!(fields["client_secret"], CLIENT_SECRET);
    assert_eq!(fields["grant_type"], "client_credentials");
}

#[tokio::test(start_paused = true)]
async fn token_endpoint_500_then_200_is_retried_with_backoff() {
    let endpoint = scripted([MockReply::status(500), token("at-1", Some(3600), None)]);
    let api_transport = ok_api();
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);
    let start = Instant::now();

    let response = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(endpoint.count(), 2);
    let second = endpoint.requests()[1].at - start;
    // Backoff 100 ms with equal jitter: between 50 and 100 ms.
    assert!(second >= 50 * MS && second <= 100 * MS, "{second:?}");
    assert_eq!(bearers(&api_transport), ["Bearer at-1"]);
}

#[tokio::test(start_paused = true)]
async fn token_endpoint_failing_every_time_stops_after_the_attempts_saying_what_it_answered() {
    let endpoint = scripted([oauth_error(
        503,
        "temporarily_unavailable",
        "maintenance, try later",
    )]);
    let api_transport = ok_api();
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::AuthProvider);
    assert_eq!(endpoint.count(), 3);
    let message = err.to_string();
    assert!(message.contains("503 Service Unavailable"), "{message}");
    assert!(
        message.contains("temporarily_unavailable (maintenance, try later)"),
        "{message}"
    );
    assert!(message.contains("after 3 attempts"), "{message}");
    assert_eq!(api_transport.count(), 0, "no call without credentials");
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_is_final_and_says_the_refresh_token_was_revoked() {
    let endpoint = scripted([oauth_error(
        400,
        "invalid_grant",
        "Refresh token revoked by the user",
    )]);
    let api_transport = ok_api();
    let grant = refresh_grant(&endpoint, Arc::new(MemoryStore::new()));
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();

    assert!(err.is_auth_provider());
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
    let message = err.to_string();
    assert!(message.contains("400 Bad Request: invalid_grant"), "{message}");
    assert!(message.contains("revoked"), "{message}");
    assert_eq!(endpoint.count(), 1, "invalid_grant is not retried");

    // Right after, the failure is remembered: no retry loop against the endpoint.
    let again = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(again.is_auth_provider());
    assert_eq!(endpoint.count(), 1);
    assert_eq!(api_transport.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn malformed_json_is_a_clear_error_that_does_not_quote_the_body() {
    let endpoint = scripted([MockReply::json(
        200,
        r#"{"access_token": "at-leaked", "expires_in": "#,
    )]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &ok_api());

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();

    assert!(err.is_auth_provider());
    let message = err.to_string();
    assert!(
        message.contains("200 OK but its body is not valid JSON"),
        "{message}"
    );
    assert!(!message.contains("at-leaked"), "{message}");
    assert!(!format!("{err:?}").contains("at-leaked"));
    assert_eq!(endpoint.count(), 1, "a malformed answer is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_response_without_access_token_is_an_error() {
    let endpoint = scripted([MockReply::json(200, r#"{"token_type":"Bearer"}"#)]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &ok_api());
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("no access_token"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let endpoint = scripted([MockReply::status(302).header("location", "https://evil.example/steal")]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &ok_api());
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("redirects are not followed"), "{err}");
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn no_expires_in_uses_the_configured_default_lifetime() {
    let endpoint = scripted([token("at-1", None, None), token("at-2", None, None)]);
    let api_transport = ok_api();
    let auth = TokenAuth::builder(Arc::new(ClientCredentials::new(client(&endpoint))))
        .default_lifetime(120 * S)
        .skew(10 * S)
        .jitter(Duration::ZERO)
        .build();
    let connector = api(Arc::new(auth), &api_transport);

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(100 * S).await;
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 1, "still fresh at 100 s of 120");

    tokio::time::advance(21 * S).await; // 121 s: expired
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 2);
    assert_eq!(
        bearers(&api_transport),
        ["Bearer at-1", "Bearer at-1", "Bearer at-2"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_token_endpoint_does_not_exceed_the_calls_deadline() {
    let endpoint = scripted([token("at-1", Some(3600), None).delay(60 * S)]);
    let api_transport = ok_api();
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);
    let start = Instant::now();

    let err = connector
        .call(Request::get("/data"), Context::new().timeout(2 * S))
        .await
        .unwrap_err();

    assert_eq!(
        start.elapsed(),
        2 * S,
        "the call ends at its deadline, not the endpoint's pace"
    );
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutKind::Deadline));
    assert_eq!(endpoint.count(), 1);
    assert_eq!(api_transport.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_provider_sees_the_tenant_the_reason_and_the_calls_deadline() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let seen_by_provider = seen.clone();
    let provider = provider_fn(move |request: TokenRequest| {
        *seen_by_provider.lock().unwrap() = Some((
            request.remaining(),
            request.reason(),
            request.tenant().map(str::to_owned),
        ));
        async { Ok(Token::new("t").expires_in(Duration::from_secs(60))) }
    });
    let connector = api(Arc::new(TokenAuth::new(Arc::new(provider))), &ok_api());
    connector
        .call(
            Request::get("/data"),
            Context::new().tenant("acme").timeout(5 * S),
        )
        .await
        .unwrap();
    let (remaining, reason, tenant) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(remaining, Some(5 * S));
    assert_eq!(reason, FetchReason::Missing);
    assert_eq!(tenant.as_deref(), Some("acme"));
}

#[tokio::test(start_paused = true)]
async fn the_token_endpoint_is_not_retried_past_the_deadline() {
    let endpoint = scripted([MockReply::status(503)]);
    let client = conn_auth::OAuth2Client::builder(TOKEN_URL)
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .transport(endpoint.clone())
        .backoff(S, S)
        .build()
        .unwrap();
    let connector = api(
        Arc::new(TokenAuth::new(Arc::new(ClientCredentials::new(client)))),
        &ok_api(),
    );
    let start = Instant::now();

    // The backoff (0.5 to 1 s) would end past the 400 ms deadline: no retry.
    let err = connector
        .call(Request::get("/data"), Context::new().timeout(400 * MS))
        .await
        .unwrap_err();

    assert!(err.is_auth_provider());
    assert!(
        err.to_string().contains("no time left before the deadline"),
        "{err}"
    );
    assert_eq!(endpoint.count(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_retried_for_client_credentials_but_not_for_a_rotating_refresh_token() {
    let slow_then_fast = || {
        scripted([
            token("at-slow", Some(60), Some("rt-x")).delay(5 * S),
            token("at-1", Some(60), Some("rt-1")),
        ])
    };
    let client_for = |endpoint: &Arc<ScriptedTransport>| {
        conn_auth::OAuth2Client::builder(TOKEN_URL)
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .transport(endpoint.clone())
            .request_timeout(S)
            .build()
            .unwrap()
    };

    let endpoint = slow_then_fast();
    let api_transport = ok_api();
    let grant = ClientCredentials::new(client_for(&endpoint));
    api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport)
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(endpoint.count(), 2);
    assert_eq!(bearers(&api_transport), ["Bearer at-1"]);

    // The refresh token may have been consumed by the request that timed
    // out: resending it could get the whole token family revoked.
    let endpoint = slow_then_fast();
    let grant = RefreshTokenGrant::new(client_for(&endpoint), Arc::new(MemoryStore::new()))
        .initial_refresh_token(None, "rt-0");
    let err = api(Arc::new(TokenAuth::new(Arc::new(grant))), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("did not answer within 1000 ms"), "{err}");
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_fresh_cached_token_is_added_at_once_and_one_due_for_refresh_is_not() {
    use conn_core::AuthStrategy;
    let endpoint = scripted([token("at-1", Some(600), None)]);
    let auth = cc_auth(&endpoint);
    let context = Context::new();

    // No token yet: nothing is added at once; the async path fetches one.
    let mut first = Request::get("/data");
    assert!(auth.try_authorize(&mut first, &context).is_none());
    assert!(
        first.headers().is_empty(),
        "a declined fast path leaves the request alone"
    );
    auth.authorize(&mut first, &context).await.unwrap();

    // Cached and fresh: added at once, the same header, no token request.
    let mut second = Request::get("/data");
    assert!(matches!(auth.try_authorize(&mut second, &context), Some(Ok(()))));
    assert_eq!(
        second.headers().get("authorization").map(|v| v.to_str().unwrap()),
        Some("Bearer at-1")
    );
    assert_eq!(second.headers(), first.headers());
    assert_eq!(endpoint.count(), 1);

    // Past the refresh point (expiry 600 s less the 60 s skew): the async
    // path again, which refreshes ahead of expiry.
    tokio::time::advance(541 * S).await;
    let mut late = Request::get("/data");
    assert!(auth.try_authorize(&mut late, &context).is_none());
    assert!(late.headers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_happens_before_expiry_within_the_jitter_window() {
    let endpoint = scripted([token("at-1", Some(600), None), token("at-2", Some(600), None)]);
    let api_transport = ok_api();
    let auth = TokenAuth::builder(Arc::new(ClientCredentials::new(client(&endpoint))))
        .skew(60 * S)
        .jitter(30 * S)
        .build();
    let connector = api(Arc::new(auth), &api_transport);
    let start = Instant::now();

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(500 * S).await;
    // Step a second at a time until the background refresh has happened.
    while endpoint.count() < 2 && start.elapsed() < 600 * S {
        connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap();
        settle().await;
        tokio::time::advance(S).await;
    }

    let refreshed_at = endpoint.requests()[1].at - start;
    // Expiry at 600 s, skew 60 s, jitter up to 30 s: between 510 and 540 s.
    assert!(
        refreshed_at >= 510 * S && refreshed_at <= 541 * S,
        "{refreshed_at:?}"
    );
    // Calls kept the valid token while the refresh ran, then use the new one.
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    let sent = bearers(&api_transport);
    assert_eq!(sent.last().map(String::as_str), Some("Bearer at-2"));
    assert!(
        sent[..sent.len() - 1]
            .iter()
            .all(|b| b == "Bearer at-1" || b == "Bearer at-2")
    );
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_valid_token_until_it_expires_then_fails() {
    let endpoint = scripted([token("at-1", Some(100), None), MockReply::status(503)]);
    let api_transport = ok_api();
    let auth = TokenAuth::builder(Arc::new(ClientCredentials::new(client(&endpoint))))
        .skew(30 * S)
        .jitter(Duration::ZERO)
        .build();
    let connector = api(Arc::new(auth), &api_transport);

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(75 * S).await; // due for refresh (at 70 s), valid until 100 s
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    // Sleeping (not advancing) lets the background refresh run its backoff.
    tokio::time::sleep(5 * S).await;
    assert_eq!(
        endpoint.count(),
        4,
        "one token, then a background refresh of 3 attempts"
    );

    tokio::time::advance(10 * S).await; // 90 s: still valid
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::sleep(5 * S).await;
    assert_eq!(bearers(&api_transport), ["Bearer at-1"; 3]);
    assert_eq!(
        endpoint.count(),
        7,
        "another background refresh once the cooldown passed"
    );

    tokio::time::advance(10 * S).await; // 105 s, past expiry: no valid token is left
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("503 Service Unavailable"), "{err}");
    assert_eq!(api_transport.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_calls_on_an_expired_token_make_one_token_request() {
    let endpoint = scripted([
        token("at-1", Some(60), None),
        token("at-2", Some(3600), None).delay(50 * MS),
    ]);
    let api_transport = ok_api();
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    tokio::time::advance(61 * S).await; // at-1 expired

    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move { connector.call(Request::get("/data"), Context::new()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(
        endpoint.count(),
        2,
        "one token request for the expired token, whatever the crowd"
    );
    let sent = bearers(&api_transport);
    assert_eq!(sent.len(), 1001);
    assert!(sent[1..].iter().all(|b| b == "Bearer at-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_worker_threads_make_one_token_request() {
    // Real threads and a real clock: the single flight holds under true parallelism.
    let endpoint = scripted([token("at-1", Some(3600), None).delay(20 * MS)]);
    let api_transport = ok_api();
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);

    let calls: Vec<_> = (0..1000)
        .map(|i| {
            let connector = connector.clone();
            tokio::spawn(async move {
                connector
                    .call(
                        Request::get("/data"),
                        Context::new().timeout(Duration::from_secs(30)),
                    )
                    .await
                    .map(|_| i)
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(endpoint.count(), 1);
    assert!(bearers(&api_transport).iter().all(|b| b == "Bearer at-1"));
}

#[tokio::test(start_paused = true)]
async fn unauthorized_refreshes_and_replays_once() {
    let endpoint = scripted([token("at-1", Some(3600), None), token("at-2", Some(3600), None)]);
    let api_transport = scripted([MockReply::status(401), MockReply::json(200, "{}")]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);

    let response = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(bearers(&api_transport), ["Bearer at-1", "Bearer at-2"]);
    assert_eq!(endpoint.count(), 2);
    let attempts = &response.report().attempts;
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1].auth_replay);
    assert_eq!(response.report().retries(), 0, "a replay is not a retry");
}

#[tokio::test(start_paused = true)]
async fn a_second_unauthorized_is_an_error_not_a_loop() {
    let endpoint = scripted([token("at-1", Some(3600), None), token("at-2", Some(3600), None)]);
    let api_transport = scripted([MockReply::status(401)]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();

    assert!(err.is_unauthorized());
    assert_eq!(api_transport.count(), 2);
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_401s_share_one_refresh() {
    let endpoint = scripted([
        token("at-1", Some(3600), None),
        token("at-2", Some(3600), None).delay(5 * MS),
    ]);
    // A warm-up call, then fifty 401s arriving together, then success.
    let mut api_script = vec![MockReply::json(200, "{}")];
    api_script.extend((0..50).map(|_| MockReply::status(401).delay(10 * MS)));
    api_script.push(MockReply::json(200, "{}"));
    let api_transport = scripted(api_script);
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    let calls: Vec<_> = (0..50)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move { connector.call(Request::get("/data"), Context::new()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(endpoint.count(), 2, "fifty 401s at once, one refresh");
    let sent = bearers(&api_transport);
    assert!(
        sent[51..].iter().all(|b| b == "Bearer at-2"),
        "every replay uses the new token"
    );
}

#[tokio::test(start_paused = true)]
async fn rotation_persists_the_new_refresh_token_before_use_and_never_reuses_the_old_one() {
    let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let store = Arc::new(RecordingStore {
        inner: MemoryStore::new(),
        events: events.clone(),
        fail_saves: AtomicUsize::new(0),
    });
    let endpoint = scripted([
        token("at-1", Some(60), Some("rt-1")),
        token("at-2", Some(60), Some("rt-2")),
        token("at-3", Some(60), Some("rt-3")),
    ]);
    let api_transport = Arc::new(RecordingTransport {
        inner: ScriptedTransport::new([MockReply::json(200, "{}")]),
        events: events.clone(),
    });
    let auth = TokenAuth::builder(Arc::new(refresh_grant(&endpoint, store.clone())))
        .skew(Duration::ZERO)
        .jitter(Duration::ZERO)
        .build();
    let connector = conn_core::Connector::builder("rotation")
        .base_url(API_URL)
        .transport(api_transport.clone())
        .auth(Arc::new(auth))
        .build()
        .unwrap();

    for _ in 0..3 {
        connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap();
        tokio::time::advance(61 * S).await;
    }

    // Each refresh sent the newest refresh token: the old ones never again.
    assert_eq!(form_values(&endpoint, "refresh_token"), ["rt-0", "rt-1", "rt-2"]);
    assert_eq!(form_values(&endpoint, "grant_type"), ["refresh_token"; 3]);
    let stored = store.load(None).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().expose_secret(), "rt-3");
    // Each new refresh token was saved before its access token was used.
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            "save rt-1",
            "api Bearer at-1",
            "save rt-2",
            "api Bearer at-2",
            "save rt-3",
            "api Bearer at-3"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rotated_token_the_store_could_not_save_is_not_lost() {
    let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let store = Arc::new(RecordingStore {
        inner: MemoryStore::new(),
        events: events.clone(),
        fail_saves: AtomicUsize::new(1),
    });
    let endpoint = scripted([
        token("at-1", Some(3600), Some("rt-1")),
        token("at-2", Some(3600), Some("rt-2")),
    ]);
    let api_transport = ok_api();
    let auth = TokenAuth::builder(Arc::new(refresh_grant(&endpoint, store.clone())))
        .failure_cooldown(Duration::ZERO)
        .build();
    let connector = api(Arc::new(auth), &api_transport);

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("could not be persisted"), "{err}");
    assert_eq!(
        api_transport.count(),
        0,
        "the access token is not used before its refresh token is safe"
    );

    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    // The second refresh used the rotated token kept in memory, not rt-0.
    assert_eq!(form_values(&endpoint, "refresh_token"), ["rt-0", "rt-1"]);
    let stored = store.load(None).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().expose_secret(), "rt-2");
}

#[tokio::test(start_paused = true)]
async fn a_hundred_tenants_concurrently_each_get_their_own_token() {
    // Varied delays, so token responses come back in another order than asked.
    let endpoint =
        scripted((0..100).map(|n| token(&format!("at-{n}"), Some(3600), None).delay((n % 7) * MS)));
    let mut grant = RefreshTokenGrant::new(client(&endpoint), Arc::new(MemoryStore::new()));
    for i in 0..100 {
        grant = grant.initial_refresh_token(Some(&format!("tenant-{i}")), format!("rt-of-tenant-{i}"));
    }
    let api_transport = ok_api();
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);

    for _round in 0..2 {
        let calls: Vec<_> = (0..100)
            .map(|i| {
                let connector = connector.clone();
                tokio::spawn(async move {
                    let request = Request::get("/data").query("for", format!("tenant-{i}"));
                    connector
                        .call(request, Context::new().tenant(format!("tenant-{i}")))
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
    }

    // Token request n was answered with at-n: which tenant's was it?
    assert_eq!(
        endpoint.count(),
        100,
        "one token per tenant, cached for the second round"
    );
    let mut token_of = std::collections::HashMap::new();
    for (n, request) in endpoint.requests().iter().enumerate() {
        let refresh = form(request)["refresh_token"].clone();
        let tenant = refresh.trim_start_matches("rt-of-").to_owned();
        assert!(token_of.insert(tenant, format!("Bearer at-{n}")).is_none());
    }
    let api_requests = api_transport.requests();
    assert_eq!(api_requests.len(), 200);
    for request in &api_requests {
        let query = request.request.uri().query().unwrap_or_default().to_owned();
        let tenant = query.trim_start_matches("for=");
        assert_eq!(
            authorization(request).as_deref(),
            token_of.get(tenant).map(String::as_str),
            "request for {tenant} carried another tenant's token"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_fallback_is_used_and_flagged_degraded_when_no_token_can_be_had() {
    let endpoint = scripted([MockReply::status(500), token("at-1", Some(3600), None)]);
    let api_transport = ok_api();
    let primary = TokenAuth::new(Arc::new(ClientCredentials::new(client_with(
        &endpoint,
        ClientAuth::Basic,
        1,
    ))));
    let auth = Fallback::new(
        Arc::new(primary),
        Arc::new(ApiKey::header("x-api-key", "read-only-key")),
    )
    .reason("read-only key: token endpoint unavailable");
    let connector = api(Arc::new(auth), &api_transport);

    let degraded = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(
        degraded.report().degraded,
        Some("read-only key: token endpoint unavailable")
    );
    assert!(degraded.report().to_string().contains("DEGRADED"));
    let sent = &api_transport.requests()[0].request;
    assert_eq!(sent.headers()["x-api-key"], "read-only-key");
    assert!(sent.headers().get("authorization").is_none());

    // Once the endpoint answers again, calls are back to full credentials.
    tokio::time::advance(2 * S).await;
    let normal = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(normal.report().degraded, None);
    assert_eq!(
        authorization(&api_transport.requests()[1]).as_deref(),
        Some("Bearer at-1")
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_whose_refresh_fails_is_replayed_with_the_fallback() {
    let endpoint = scripted([token("at-1", Some(3600), None), MockReply::status(500)]);
    let api_transport = scripted([MockReply::status(401), MockReply::json(200, "{}")]);
    let primary = TokenAuth::new(Arc::new(ClientCredentials::new(client_with(
        &endpoint,
        ClientAuth::Basic,
        1,
    ))));
    let auth = Fallback::new(Arc::new(primary), Arc::new(conn_core::NoAuth));
    let connector = api(Arc::new(auth), &api_transport);

    let response = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();

    assert!(response.report().degraded.is_some());
    assert_eq!(
        bearers(&api_transport),
        ["Bearer at-1", ""],
        "replayed anonymously"
    );
}

#[tokio::test(start_paused = true)]
async fn configuration_errors_are_not_masked_by_the_fallback() {
    let auth = Fallback::new(
        Arc::new(ApiKey::header("bad header name", "k")),
        Arc::new(conn_core::NoAuth),
    );
    let connector = api(Arc::new(auth), &ok_api());
    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_config());
}

#[tokio::test(start_paused = true)]
async fn a_custom_provider_closure_is_cached_per_tenant() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let provider = provider_fn(move |request: TokenRequest| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let tenant = request.tenant().unwrap_or("none").to_owned();
        async move { Ok(Token::new(format!("{tenant}-{n}")).expires_in(Duration::from_secs(300))) }
    });
    let api_transport = ok_api();
    let connector = api(Arc::new(TokenAuth::new(Arc::new(provider))), &api_transport);

    for tenant in ["a", "b", "a", "b"] {
        connector
            .call(Request::get("/data"), Context::new().tenant(tenant))
            .await
            .unwrap();
    }

    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let sent = bearers(&api_transport);
    assert_eq!(sent[0], sent[2]);
    assert_eq!(sent[1], sent[3]);
    assert!(sent[0].starts_with("Bearer a-") && sent[1].starts_with("Bearer b-"));
}

/// A provider as a trait impl: a signed-assertion style flow.
struct Signer {
    issued: AtomicUsize,
}

impl TokenProvider for Signer {
    fn fetch<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            if request.tenant() == Some("blocked") {
                return Err(Error::new(ErrorKind::AuthProvider, "tenant blocked by policy"));
            }
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            Ok(Token::new(format!("signed-{n}")).expires_in(Duration::from_secs(60)))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_provider_trait_impl_with_its_own_errors() {
    let api_transport = ok_api();
    let connector = api(
        Arc::new(TokenAuth::new(Arc::new(Signer {
            issued: AtomicUsize::new(0),
        }))),
        &api_transport,
    );
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(bearers(&api_transport), ["Bearer signed-0"]);
    let err = connector
        .call(Request::get("/data"), Context::new().tenant("blocked"))
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("tenant blocked by policy"));
}

#[tokio::test(start_paused = true)]
async fn a_custom_header_and_no_scheme() {
    let api_transport = ok_api();
    let provider = provider_fn(|_| async { Ok(Token::new("raw-token")) });
    let auth = TokenAuth::builder(Arc::new(provider))
        .header(http::HeaderName::from_static("x-access-token"))
        .scheme(None)
        .build();
    let connector = api(Arc::new(auth), &api_transport);
    connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    let sent = &api_transport.requests()[0].request;
    assert_eq!(sent.headers()["x-access-token"], "raw-token");
    assert!(sent.headers()["x-access-token"].is_sensitive());
}

#[tokio::test(start_paused = true)]
async fn no_refresh_token_for_a_tenant_is_a_clear_error() {
    let endpoint = scripted([token("at", Some(60), None)]);
    let grant = refresh_grant(&endpoint, Arc::new(MemoryStore::new()));
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &ok_api());
    let err = connector
        .call(Request::get("/data"), Context::new().tenant("stranger"))
        .await
        .unwrap_err();
    assert!(err.is_auth_provider());
    assert!(
        err.to_string().contains("no refresh token for tenant stranger"),
        "{err}"
    );
    assert_eq!(endpoint.count(), 0);
}

/// A store that records saves (with the value, for ordering assertions:
/// test code only) and can fail the first saves.
struct RecordingStore {
    inner: MemoryStore,
    events: Arc<std::sync::Mutex<Vec<String>>>,
    fail_saves: AtomicUsize,
}

impl TokenStore for RecordingStore {
    fn load<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<Option<StoredToken>, Error>> {
        self.inner.load(tenant)
    }

    fn save<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let failing = self
                .fail_saves
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(Error::new(ErrorKind::AuthProvider, "disk full"));
            }
            self.events
                .lock()
                .unwrap()
                .push(format!("save {}", token.refresh_token().expose_secret()));
            self.inner.save(tenant, token).await
        })
    }

    fn remove<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<(), Error>> {
        self.inner.remove(tenant)
    }
}

/// An API transport that logs the credentials of each request in order.
struct RecordingTransport {
    inner: ScriptedTransport,
    events: Arc<std::sync::Mutex<Vec<String>>>,
}

impl conn_core::Transport for RecordingTransport {
    fn send(
        &self,
        request: conn_core::TransportRequest,
    ) -> BoxFuture<'static, Result<conn_core::TransportResponse, Error>> {
        let auth = request
            .request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.events.lock().unwrap().push(format!("api {auth}"));
        self.inner.send(request)
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_that_is_down_is_a_transient_error_that_keeps_its_cause() {
    let endpoint = scripted([MockReply::error(ErrorKind::Connect)]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &ok_api());

    let err = connector
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();

    assert!(err.is_auth_provider(), "{err}");
    assert!(err.is_transient(), "an outage is worth trying again: {err}");
    let source = std::error::Error::source(&err).expect("the transport error is kept");
    assert!(source.to_string().contains("connect"), "{source}");
    assert_eq!(endpoint.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_answering_5xx_is_transient_and_a_refused_secret_is_not() {
    let endpoint = scripted([MockReply::status(503)]);
    let err = api(Arc::new(cc_auth(&endpoint)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider() && err.is_transient(), "{err}");

    let endpoint = scripted([oauth_error(401, "invalid_client", "bad secret")]);
    let err = api(Arc::new(cc_auth(&endpoint)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider() && !err.is_transient(), "{err}");

    let endpoint = scripted([oauth_error(400, "invalid_grant", "revoked")]);
    let grant = refresh_grant(&endpoint, Arc::new(MemoryStore::new()));
    let err = api(Arc::new(TokenAuth::new(Arc::new(grant))), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_auth_provider() && !err.is_transient(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn token_errors_through_the_cache_keep_their_words() {
    let endpoint = scripted([oauth_error(401, "invalid_client", "Client authentication failed")]);
    let err = api(Arc::new(cc_auth(&endpoint)), &ok_api())
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("the token endpoint answered 401 Unauthorized: invalid_client"),
        "{message}"
    );
    assert!(!message.contains("<redacted>"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn client_credentials_keeps_a_refresh_token_the_server_issues_and_renews_with_it() {
    let endpoint = scripted([
        token("at-1", Some(3600), Some("rt-1")),
        token("at-2", Some(3600), Some("rt-2")),
        token("at-3", Some(3600), None),
        oauth_error(400, "invalid_grant", "expired"),
        token("at-4", Some(3600), None),
    ]);
    let api_transport = scripted([MockReply::json(200, "{}")]);
    let connector = api(Arc::new(cc_auth(&endpoint)), &api_transport);
    for _ in 0..4 {
        connector
            .call(Request::get("/data"), Context::new())
            .await
            .unwrap();
        // Past the token's refresh point: the next call needs a new one.
        tokio::time::advance(3600 * S).await;
    }

    assert_eq!(
        form_values(&endpoint, "grant_type"),
        [
            "client_credentials",
            "refresh_token",
            "refresh_token",
            "refresh_token",
            "client_credentials"
        ]
    );
    // Rotated once (rt-1 -> rt-2), then kept when the server sent none.
    assert_eq!(
        form_values(&endpoint, "refresh_token"),
        ["", "rt-1", "rt-2", "rt-2", ""]
    );
    assert_eq!(
        bearers(&api_transport),
        ["Bearer at-1", "Bearer at-2", "Bearer at-3", "Bearer at-4"]
    );
}
