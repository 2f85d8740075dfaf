//! Token caches of several replicas sharing their tokens (conn-core's
//! in-process `LocalSharedTokens` standing in for Redis), on a paused clock:
//! one fetch for the fleet, one replacement after 401s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conn_auth::{Token, TokenAuth, provider_fn};
use conn_core::store::{LocalSharedTokens, SharedTokens};
use conn_core::{AuthStrategy, Context, Request};
use secrecy::ExposeSecret;

/// A provider that counts its fetches and takes 50 ms each.
fn counting(fetches: &Arc<AtomicU32>) -> Arc<dyn conn_auth::TokenProvider> {
    let fetches = fetches.clone();
    Arc::new(provider_fn(move |_request| {
        let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(Token::new(format!("token-{n}")).expires_in(Duration::from_secs(3600)))
        }
    }))
}

fn replicas(count: usize, fetches: &Arc<AtomicU32>, shared: &Arc<dyn SharedTokens>) -> Vec<Arc<TokenAuth>> {
    (0..count)
        .map(|_| {
            Arc::new(
                TokenAuth::builder(counting(fetches))
                    .shared(shared.clone())
                    .build(),
            )
        })
        .collect()
}

async fn bearer(auth: &TokenAuth, context: &Context) -> String {
    let mut request = Request::get("/x");
    auth.authorize(&mut request, context).await.unwrap();
    let token = auth.token(context).await.unwrap();
    token.secret().expose_secret().to_owned()
}

#[tokio::test(start_paused = true)]
async fn eight_cold_replicas_make_one_token_request() {
    let fetches = Arc::new(AtomicU32::new(0));
    let shared: Arc<dyn SharedTokens> = Arc::new(LocalSharedTokens::new());
    let fleet = replicas(8, &fetches, &shared);
    let tasks: Vec<_> = fleet
        .iter()
        .flat_map(|auth| (0..10).map(move |_| auth.clone()))
        .map(|auth| tokio::spawn(async move { bearer(&auth, &Context::new().tenant("acme")).await }))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "token-1");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_401_seen_by_every_replica_replaces_the_token_once() {
    let fetches = Arc::new(AtomicU32::new(0));
    let shared: Arc<dyn SharedTokens> = Arc::new(LocalSharedTokens::new());
    let fleet = replicas(4, &fetches, &shared);
    let context = Context::new().tenant("acme");
    for auth in &fleet {
        assert_eq!(bearer(auth, &context).await, "token-1");
    }
    let refreshes: Vec<_> = fleet
        .iter()
        .cloned()
        .map(|auth| {
            let context = context.clone();
            tokio::spawn(async move { auth.refresh(&context).await.unwrap() })
        })
        .collect();
    for refresh in refreshes {
        assert!(refresh.await.unwrap());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one replacement for the fleet");
    for auth in &fleet {
        assert_eq!(bearer(auth, &context).await, "token-2");
    }
}

#[tokio::test(start_paused = true)]
async fn tenants_never_share_a_fleet_token() {
    let fetches = Arc::new(AtomicU32::new(0));
    let shared: Arc<dyn SharedTokens> = Arc::new(LocalSharedTokens::new());
    let fleet = replicas(2, &fetches, &shared);
    let a = bearer(&fleet[0], &Context::new().tenant("acme")).await;
    let b = bearer(&fleet[1], &Context::new().tenant("globex")).await;
    assert_ne!(a, b);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
