//! RedisTokenStore and RedisSignal against a real redis-server: tokens
//! encrypted at rest, one token request for a fleet of token caches,
//! refresh-token rotation under concurrent 401s against a vendor that
//! revokes the grant on reuse, operator signals reaching every replica.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn_auth::{OAuth2Client, RefreshTokenGrant, Token, TokenAuth, provider_fn};
use conn_core::store::{BreakerSignal, OperatorState, StoreKey, StoredToken, TokenStore};
use conn_core::{AuthStrategy, BoxFuture, Context, Error, Transport, TransportRequest, TransportResponse};
use conn_redis::{Fleet, FleetConfig, RedisSignal, RedisTokenStore};
use conn_testkit::RedisServer;
use secrecy::ExposeSecret;

const KEY: [u8; 32] = [42; 32];

async fn fleet(redis: &RedisServer) -> Fleet {
    Fleet::connect(FleetConfig::new(redis.url()).key_prefix("test"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_are_encrypted_at_rest_and_kept_per_tenant() {
    let redis = RedisServer::start().unwrap();
    let store = RedisTokenStore::new(fleet(&redis).await, "crm", &StoreKey::from_bytes(KEY));
    store
        .save(Some("acme"), &StoredToken::new("rt-very-secret-value"))
        .await
        .unwrap();
    let raw = redis.cli(&["GET", "test:tok:{crm:=acme}:rt"]).unwrap();
    assert!(!raw.is_empty());
    assert!(!raw.contains("rt-very-secret-value"), "plaintext in Redis: {raw}");
    let loaded = store.load(Some("acme")).await.unwrap().unwrap();
    assert_eq!(loaded.refresh_token().expose_secret(), "rt-very-secret-value");
    assert!(store.load(Some("globex")).await.unwrap().is_none());
    assert!(store.load(None).await.unwrap().is_none());

    let other_key = RedisTokenStore::new(fleet(&redis).await, "crm", &StoreKey::from_bytes([1; 32]));
    let err = other_key.load(Some("acme")).await.unwrap_err();
    assert!(err.to_string().contains("does not decrypt"), "{err}");
    // A value copied to another tenant's key does not open either.
    redis
        .cli(&["COPY", "test:tok:{crm:=acme}:rt", "test:tok:{crm:=globex}:rt"])
        .unwrap();
    assert!(store.load(Some("globex")).await.is_err());
}

/// A provider that counts its fetches, each taking 100 ms.
fn counting(fetches: &Arc<AtomicU32>) -> Arc<dyn conn_auth::TokenProvider> {
    let fetches = fetches.clone();
    Arc::new(provider_fn(move |_request| {
        let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(Token::new(format!("access-{n}")).expires_in(Duration::from_secs(3600)))
        }
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_starting_cold_make_one_token_request() {
    let redis = RedisServer::start().unwrap();
    let fetches = Arc::new(AtomicU32::new(0));
    let mut replicas = Vec::new();
    for _ in 0..8 {
        let tokens = Arc::new(RedisTokenStore::new(
            fleet(&redis).await,
            "crm",
            &StoreKey::from_bytes(KEY),
        ));
        replicas.push(Arc::new(
            TokenAuth::builder(counting(&fetches)).shared(tokens).build(),
        ));
    }
    let tasks: Vec<_> = replicas
        .iter()
        .cloned()
        .map(|auth| tokio::spawn(async move { auth.token(&Context::new().tenant("acme")).await.unwrap() }))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().secret().expose_secret(), "access-1");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let raw = redis.cli(&["HGET", "test:tok:{crm:=acme}:at", "v"]).unwrap();
    assert!(!raw.contains("access-1"), "access token in plaintext: {raw}");
}

/// A vendor's token endpoint with refresh-token rotation: each refresh
/// token works once; presenting a used one revokes the whole grant, as
/// OAuth 2.1 asks of a server that detects reuse.
#[derive(Default)]
struct Vendor {
    state: Mutex<VendorState>,
}

#[derive(Default)]
struct VendorState {
    current: String,
    used: HashSet<String>,
    issued: u32,
    revoked: bool,
    reuse: u32,
}

impl Transport for Vendor {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let body = request.request.body().clone();
        let presented = form_urlencoded::parse(&body)
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let mut state = self.state.lock().unwrap();
        let reply = if state.revoked || state.used.contains(&presented) || presented != state.current {
            if state.used.contains(&presented) {
                state.reuse += 1;
            }
            state.revoked = true;
            (
                400,
                r#"{"error":"invalid_grant","error_description":"refresh token reused: grant revoked"}"#
                    .to_owned(),
            )
        } else {
            state.used.insert(presented);
            state.issued += 1;
            state.current = format!("rt-{}", state.issued);
            (
                200,
                format!(
                    r#"{{"access_token":"at-{}","token_type":"Bearer","expires_in":3600,"refresh_token":"{}"}}"#,
                    state.issued, state.current
                ),
            )
        };
        drop(state);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let response = http::Response::builder()
                .status(reply.0)
                .header("content-type", "application/json")
                .body(Bytes::from(reply.1))
                .unwrap();
            Ok(TransportResponse {
                response,
                first_byte: None,
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_concurrent_401s_never_reuses_a_refresh_token() {
    let redis = RedisServer::start().unwrap();
    let vendor = Arc::new(Vendor::default());
    vendor.state.lock().unwrap().current = "rt-0".to_owned();
    // The operator seeds the first refresh token once, for the fleet.
    let seed = RedisTokenStore::new(fleet(&redis).await, "crm", &StoreKey::from_bytes(KEY));
    seed.save(Some("acme"), &StoredToken::new("rt-0")).await.unwrap();
    let mut replicas = Vec::new();
    for _ in 0..4 {
        let tokens = Arc::new(RedisTokenStore::new(
            fleet(&redis).await,
            "crm",
            &StoreKey::from_bytes(KEY),
        ));
        let client = OAuth2Client::builder("https://login.vendor.example/token")
            .client_id("c")
            .client_secret("s")
            .transport(vendor.clone())
            .max_attempts(1)
            .build()
            .unwrap();
        let grant = RefreshTokenGrant::new(client, tokens.clone());
        replicas.push(Arc::new(
            TokenAuth::builder(Arc::new(grant)).shared(tokens).build(),
        ));
    }
    let context = Context::new().tenant("acme");
    for auth in &replicas {
        auth.token(&context).await.unwrap();
    }
    // Five rounds of 401s answered in every replica at once.
    for _ in 0..5 {
        let refreshes: Vec<_> = replicas
            .iter()
            .cloned()
            .map(|auth| {
                let context = context.clone();
                tokio::spawn(async move { auth.refresh(&context).await })
            })
            .collect();
        for refresh in refreshes {
            assert!(refresh.await.unwrap().unwrap());
        }
    }
    {
        let state = vendor.state.lock().unwrap();
        assert_eq!(state.reuse, 0, "a refresh token was presented twice");
        assert!(!state.revoked, "the vendor revoked the grant");
        assert_eq!(state.issued, 6, "one rotation per round (plus the first token)");
    }
    let stored = seed.load(Some("acme")).await.unwrap().unwrap();
    assert_eq!(
        stored.refresh_token().expose_secret(),
        "rt-6",
        "the last rotation is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_override_reaches_every_replica_within_a_second() {
    let redis = RedisServer::start().unwrap();
    let replicas: Vec<RedisSignal> = {
        let mut all = Vec::new();
        for _ in 0..3 {
            all.push(RedisSignal::with_options(
                fleet(&redis).await,
                Duration::from_millis(250),
                true,
            ));
        }
        all
    };
    for replica in &replicas {
        assert_eq!(replica.operator_state("billing"), OperatorState::Auto);
    }
    let set_at = Instant::now();
    replicas[0]
        .set_operator_state("billing", OperatorState::ForcedOpen)
        .await
        .unwrap();
    replicas[0].announce_open("billing", "/v1/invoices", Duration::from_secs(30));
    loop {
        let seen = replicas.iter().all(|r| {
            r.operator_state("billing") == OperatorState::ForcedOpen
                && r.opened_elsewhere("billing", "/v1/invoices").is_some()
        });
        if seen {
            break;
        }
        assert!(
            set_at.elapsed() < Duration::from_secs(1),
            "not everywhere within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        replicas[1].operator_state("crm"),
        OperatorState::Auto,
        "other connectors untouched"
    );
    replicas[2]
        .set_operator_state("billing", OperatorState::Auto)
        .await
        .unwrap();
    let cleared = Instant::now();
    while replicas[0].operator_state("billing") != OperatorState::Auto {
        assert!(cleared.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
