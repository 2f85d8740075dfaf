//! `TokenAuth::credential_status`: what an operator sees of each tenant's
//! token (expiry, a fetch in flight, a failed renewal), never the token.
//! On tokio's paused clock, so the expiry times are exact.

use std::sync::Arc;
use std::time::Duration;

use conn_auth::{Token, TokenAuth, provider_fn};
use conn_core::{AuthStrategy, Context, CredentialStatus, Error, ErrorKind};

const SECRET: &str = "canary-status-T0KEN-41be";

fn auth() -> TokenAuth {
    TokenAuth::builder(Arc::new(provider_fn(|request| async move {
        match request.tenant() {
            Some("globex") => Err(Error::new(ErrorKind::AuthProvider, "token endpoint said 500")),
            Some("slow") => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(Token::new(SECRET).expires_in(Duration::from_secs(60)))
            }
            _ => Ok(Token::new(SECRET).expires_in(Duration::from_secs(600))),
        }
    })))
    .skew(Duration::from_secs(30))
    .jitter(Duration::ZERO)
    .build()
}

fn of<'a>(statuses: &'a [CredentialStatus], tenant: &str) -> &'a CredentialStatus {
    statuses
        .iter()
        .find(|s| s.tenant.as_deref() == Some(tenant))
        .unwrap_or_else(|| panic!("no status for {tenant}: {statuses:?}"))
}

#[tokio::test(start_paused = true)]
async fn expiry_fetches_in_flight_and_failures_per_tenant_without_the_token() {
    let auth = auth();
    assert!(auth.credential_status().is_empty(), "nothing held yet");

    auth.token(&Context::new().tenant("acme")).await.unwrap();
    let statuses = auth.credential_status();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(
        of(&statuses, "acme"),
        &CredentialStatus::new(Some("acme"), Some(Duration::from_secs(600)))
    );

    tokio::time::advance(Duration::from_secs(100)).await;
    assert_eq!(
        of(&auth.credential_status(), "acme").expires_in,
        Some(Duration::from_secs(500))
    );

    // A failed fetch: no token, degraded.
    assert!(auth.token(&Context::new().tenant("globex")).await.is_err());
    let globex = of(&auth.credential_status(), "globex").clone();
    assert_eq!(globex.expires_in, None);
    assert!(globex.degraded && !globex.refreshing, "{globex:?}");

    // A fetch in flight: refreshing, no token yet.
    let auth = Arc::new(auth);
    let waiting = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.token(&Context::new().tenant("slow")).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let slow = of(&auth.credential_status(), "slow").clone();
    assert!(
        slow.refreshing && !slow.degraded && slow.expires_in.is_none(),
        "{slow:?}"
    );
    waiting.await.unwrap().unwrap();
    let slow = of(&auth.credential_status(), "slow").clone();
    // Counted from when the fetch began, 10 s ago: the expiry errs early.
    assert_eq!(slow.expires_in, Some(Duration::from_secs(50)));
    assert!(!slow.refreshing);

    // An expired token still held shows zero time left; calls without a
    // tenant appear once they have one.
    tokio::time::advance(Duration::from_secs(51)).await;
    assert_eq!(
        of(&auth.credential_status(), "slow").expires_in,
        Some(Duration::ZERO)
    );
    auth.token(&Context::new()).await.unwrap();
    let statuses = auth.credential_status();
    assert_eq!(statuses[0].tenant, None, "calls without a tenant come first");
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(!format!("{statuses:?}").contains(SECRET));
}
