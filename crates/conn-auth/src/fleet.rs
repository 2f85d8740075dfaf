//! Single flight across a fleet: how the token cache fetches when its tokens
//! are shared ([`SharedTokens`]), so N replicas make one token request.
//!
//! The cache's own single flight (one fetch per tenant in this process) runs
//! first; the fetch it starts comes here, and:
//!
//! 1. adopts the fleet's token if it is alive and not the one being
//!    replaced (refused by the API, or due for refresh here);
//! 2. otherwise takes the fleet's lock for the tenant, looks once more, asks
//!    the provider, publishes the token (which frees the lock);
//! 3. while another replica holds the lock, polls for what it publishes.
//!
//! A refresh-token grant runs only under the lock, so a refresh token is
//! presented by one replica at a time, and its rotated successor is saved
//! (by the grant, in a store the fleet shares) before the new access token is
//! published or used. When the shared store fails, this replica fetches on
//! its own rather than fail the call.

use std::sync::Arc;
use std::time::Duration;

use conn_core::Deadline;
use conn_core::Error;
use conn_core::store::{SharedToken, SharedTokens, TokenId};
use tokio::time::Instant;

use crate::store::tenant_label;
use crate::{Token, TokenProvider, TokenRequest};

/// Extra life of the lock beyond the fetch's own time limit.
const LOCK_MARGIN: Duration = Duration::from_secs(1);

/// What the fleet fetch replaces: nothing (no token yet), or this token
/// (refused by the API, expired, or due for refresh).
pub(crate) struct FleetFetch {
    pub(crate) shared: Arc<dyn SharedTokens>,
    pub(crate) replacing: Option<TokenId>,
    pub(crate) refused: bool,
    pub(crate) default_lifetime: Duration,
}

impl FleetFetch {
    pub(crate) async fn run(
        self,
        provider: &dyn TokenProvider,
        request: &TokenRequest,
        started: Instant,
    ) -> Result<Token, Error> {
        let tenant = request.tenant();
        let deadline = Deadline::from(request.deadline_at());
        let shared = &*self.shared;
        // Only if it is still the fleet's token: a replica that already
        // replaced it must not lose its successor.
        if let Some(refused) = self.replacing.as_ref().filter(|_| self.refused) {
            let _ = shared.discard(tenant, refused, deadline).await;
        }
        let fresh =
            |token: &SharedToken| self.replacing.as_ref() != Some(&token.id) && !token.remaining.is_zero();
        loop {
            match shared.get(tenant, deadline).await {
                Ok(Some(token)) if fresh(&token) => return Ok(adopt(token, tenant)),
                Ok(_) => {}
                Err(err) => return self.alone(provider, request, &err).await,
            }
            let hold = request.deadline_at().map_or(Duration::from_secs(30), |at| {
                at.saturating_duration_since(Instant::now())
            }) + LOCK_MARGIN;
            let lease = match shared.try_lock(tenant, hold, deadline).await {
                Ok(lease) => lease,
                Err(err) => return self.alone(provider, request, &err).await,
            };
            let Some(lease) = lease else {
                // Another replica fetches: wait for what it publishes.
                tokio::time::sleep(shared.poll_interval()).await;
                continue;
            };
            // It may have published between our look and our lock.
            if let Ok(Some(token)) = shared.get(tenant, deadline).await
                && fresh(&token)
            {
                let _ = shared.unlock(tenant, &lease).await;
                return Ok(adopt(token, tenant));
            }
            tracing::debug!(
                target: "conn_auth::cache",
                tenant = tenant_label(tenant),
                "fleet lock taken; fetching the token for every replica"
            );
            let fetched = provider.fetch(request).await;
            match &fetched {
                Ok(token) => {
                    let lifetime = token.lifetime().unwrap_or(self.default_lifetime);
                    let remaining = lifetime.saturating_sub(started.elapsed());
                    let published = SharedToken {
                        id: token.id().clone(),
                        secret: token.secret().clone(),
                        scope: token.granted_scope().map(str::to_owned),
                        remaining,
                    };
                    if let Err(err) = shared.publish(tenant, &published, &lease, deadline).await {
                        tracing::warn!(
                            target: "conn_auth::cache",
                            tenant = tenant_label(tenant),
                            error = %err,
                            "the token could not be shared with the fleet; other replicas fetch their own"
                        );
                        let _ = shared.unlock(tenant, &lease).await;
                    }
                }
                Err(_) => {
                    let _ = shared.unlock(tenant, &lease).await;
                }
            }
            return fetched;
        }
    }

    /// The shared store failed: fetch in this replica alone.
    async fn alone(
        &self,
        provider: &dyn TokenProvider,
        request: &TokenRequest,
        err: &Error,
    ) -> Result<Token, Error> {
        tracing::warn!(
            target: "conn_auth::cache",
            tenant = tenant_label(request.tenant()),
            error = %err,
            "the fleet token store does not answer; fetching in this replica alone"
        );
        provider.fetch(request).await
    }
}

/// The fleet's token as this replica's own (same id, its remaining life).
fn adopt(token: SharedToken, tenant: Option<&str>) -> Token {
    tracing::debug!(
        target: "conn_auth::cache",
        tenant = tenant_label(tenant),
        token_id = %token.id,
        remaining_s = token.remaining.as_secs_f64(),
        "token adopted from the fleet"
    );
    let mut adopted = Token::new(token.secret)
        .expires_in(token.remaining)
        .with_id(token.id);
    if let Some(scope) = token.scope {
        adopted = adopted.scope(scope);
    }
    adopted
}
