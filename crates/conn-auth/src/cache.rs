//! The token cache behind [`TokenAuth`](crate::TokenAuth): one slot per
//! tenant, refresh ahead of expiry with jitter, single-flight fetches, 401
//! invalidation, and a short memory of failures.
//!
//! Each fetch runs in its own task and publishes its outcome on a `watch`
//! channel that every interested call waits on, each bounded by its own
//! deadline. Running the fetch apart from the calls means a call that gives
//! up (deadline, cancellation) does not abort a fetch others wait for, and a
//! rotated refresh token is persisted even if the call that triggered the
//! refresh is gone. The slot's state sits behind a `std` mutex that is never
//! held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conn_core::store::{SharedTokens, TokenId};
use conn_core::{Context, Error, ErrorKind, TimeoutKind};
use http::StatusCode;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::fleet::FleetFetch;
use crate::provider::FetchReason;
use crate::scrub::for_message;
use crate::store::tenant_label;
use crate::token_metrics::TokenMetrics;
use crate::{Token, TokenProvider, TokenRequest, random};

/// Longest lifetime or time limit computed with, so instants never overflow.
const FAR: Duration = Duration::from_secs(366 * 24 * 3600);

/// The cache's timing settings; see [`TokenAuthBuilder`](crate::TokenAuthBuilder).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheSettings {
    pub(crate) skew: Duration,
    pub(crate) jitter: Duration,
    pub(crate) default_lifetime: Duration,
    pub(crate) failure_cooldown: Duration,
    pub(crate) fetch_timeout: Duration,
}

pub(crate) struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    settings: CacheSettings,
    /// The slot of calls made without a tenant.
    anonymous: Arc<Slot>,
    tenants: Mutex<HashMap<Arc<str>, Arc<Slot>>>,
    /// The fleet's tokens, when replicas share them.
    shared: Option<Arc<dyn SharedTokens>>,
    metrics: Arc<TokenMetrics>,
}

/// One tenant's token and fetch.
struct Slot {
    tenant: Option<Arc<str>>,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    current: Option<Cached>,
    inflight: Option<Inflight>,
    /// The last failed fetch, remembered for the cooldown.
    failure: Option<Failure>,
    next_fetch: u64,
}

struct Cached {
    token: Arc<Token>,
    refresh_at: Instant,
    expires_at: Instant,
}

#[derive(Clone)]
struct Inflight {
    id: u64,
    /// When the fetch gives up.
    limit: Instant,
    outcome: watch::Receiver<Option<Outcome>>,
}

type Outcome = Result<Arc<Token>, Failure>;

/// A failed fetch, kept in a form every waiter can turn into its own
/// [`Error`] (errors are not `Clone`).
#[derive(Clone)]
struct Failure {
    kind: ErrorKind,
    message: Arc<str>,
    status: Option<StatusCode>,
    /// Whether trying again later may succeed (an endpoint outage), as the
    /// provider's error said.
    transient: bool,
    /// The provider error's own cause (the transport error of an outage).
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    at: Instant,
    /// The fetch ran out of the triggering call's time, not the endpoint's:
    /// it says nothing about the endpoint, and calls with more time left
    /// should try again.
    caller_deadline: bool,
}

impl Failure {
    fn from_error(mut err: Error, caller_deadline: bool) -> Self {
        let out_of_time = err.kind() == ErrorKind::Timeout(TimeoutKind::Deadline);
        Failure {
            transient: err.is_transient(),
            source: err.take_source().map(Arc::from),
            // A background fetch that ran out of the cache's own time limit
            // is the endpoint's failure, not any call's deadline.
            kind: if out_of_time && !caller_deadline {
                ErrorKind::AuthProvider
            } else {
                err.kind()
            },
            // Providers are asked not to put secrets in messages; a custom
            // one may not know better, so scrub anyway.
            message: Arc::from(for_message(err.message(), &[], 1000)),
            status: err.status(),
            at: Instant::now(),
            caller_deadline: caller_deadline && out_of_time,
        }
    }

    /// A failure of the fetch itself (its time limit, its task), not of
    /// anything the endpoint said: worth trying again.
    fn new(kind: ErrorKind, message: String, caller_deadline: bool) -> Self {
        Failure {
            kind,
            message: Arc::from(message),
            status: None,
            transient: true,
            source: None,
            at: Instant::now(),
            caller_deadline,
        }
    }

    fn abandoned() -> Self {
        Failure::new(
            ErrorKind::AuthProvider,
            "the token fetch stopped before it finished (its task was dropped)".to_owned(),
            false,
        )
    }

    fn to_error(&self) -> Error {
        let mut err = Error::new(self.kind, self.message.to_string()).transient(self.transient);
        if let Some(status) = self.status {
            err = err.with_status(status);
        }
        if let Some(source) = &self.source {
            err = err.with_source(source.clone());
        }
        err
    }
}

impl SlotState {
    fn recent_failure(&self, now: Instant, cooldown: Duration) -> Option<&Failure> {
        self.failure
            .as_ref()
            .filter(|f| now.saturating_duration_since(f.at) < cooldown)
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every update leaves the state consistent; a panic elsewhere while
        // the lock was held does not make it unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fetch that has been registered in its slot and must now be spawned.
struct PendingFetch {
    publisher: Publisher,
    request: TokenRequest,
    /// Set when the fleet shares tokens: fetch through its single flight.
    fleet: Option<FleetFetch>,
}

/// Publishes a fetch's outcome to its slot and its waiters, exactly once:
/// if the fetch task is dropped before it finishes, `Drop` publishes an
/// "abandoned" failure so nobody waits forever and the slot can fetch again.
struct Publisher {
    slot: Arc<Slot>,
    id: u64,
    sender: Option<watch::Sender<Option<Outcome>>>,
    settings: CacheSettings,
    started: Instant,
    caller_deadline: bool,
    metrics: Arc<TokenMetrics>,
}

impl TokenCache {
    pub(crate) fn new(
        provider: Arc<dyn TokenProvider>,
        settings: CacheSettings,
        shared: Option<Arc<dyn SharedTokens>>,
    ) -> Self {
        TokenCache {
            provider,
            settings,
            shared,
            anonymous: Arc::new(Slot {
                tenant: None,
                state: Mutex::new(SlotState::default()),
            }),
            tenants: Mutex::new(HashMap::new()),
            metrics: Arc::default(),
        }
    }

    /// Names the connector the cache's metrics belong to.
    pub(crate) fn bind_telemetry(&self, connector: &str, telemetry: conn_core::Telemetry) {
        self.metrics.bind(connector, telemetry);
    }

    fn slot(&self, tenant: Option<&str>) -> Arc<Slot> {
        let Some(tenant) = tenant else {
            return self.anonymous.clone();
        };
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = tenants.get(tenant) {
            return slot.clone();
        }
        let key: Arc<str> = Arc::from(tenant);
        let slot = Arc::new(Slot {
            tenant: Some(key.clone()),
            state: Mutex::new(SlotState::default()),
        });
        tenants.insert(key, slot.clone());
        slot
    }

    /// The cached token while it needs no refresh yet, without waiting:
    /// what [`get`](Self::get) answers first in that case. `None` (no
    /// token, or one due for refresh) sends the caller to `get`.
    pub(crate) fn fresh(&self, context: &Context) -> Option<Arc<Token>> {
        let slot = self.slot(context.tenant_id());
        let state = slot.lock();
        let cached = state.current.as_ref()?;
        (Instant::now() < cached.refresh_at).then(|| cached.token.clone())
    }

    /// The tenant's token: the cached one while it is fresh; the cached one
    /// plus a background refresh once it is due (refresh ahead); otherwise
    /// the outcome of the tenant's single fetch in flight, started if needed.
    pub(crate) async fn get(&self, context: &Context) -> Result<Arc<Token>, Error> {
        let slot = self.slot(context.tenant_id());
        let deadline = context.deadline_at();
        loop {
            let (inflight, pending) = {
                let mut state = slot.lock();
                let now = Instant::now();
                if let Some(cached) = &state.current {
                    if now < cached.refresh_at {
                        return Ok(cached.token.clone());
                    }
                    if now < cached.expires_at {
                        let token = cached.token.clone();
                        let pending = (state.inflight.is_none()
                            && state
                                .recent_failure(now, self.settings.failure_cooldown)
                                .is_none())
                        .then(|| {
                            let replacing = Some(token.id().clone());
                            self.begin(
                                &slot,
                                &mut state,
                                FetchReason::RefreshAhead,
                                None,
                                context,
                                replacing,
                            )
                            .1
                        });
                        drop(state);
                        if let Some(pending) = pending {
                            tracing::debug!(
                                target: "conn_auth::cache",
                                tenant = tenant_label(slot.tenant.as_deref()),
                                token_id = %token.id(),
                                "token due for refresh; refreshing ahead of expiry in the background"
                            );
                            pending.spawn(self.provider.clone());
                        }
                        return Ok(token);
                    }
                }
                match &state.inflight {
                    Some(inflight) => (inflight.clone(), None),
                    None => {
                        if let Some(failure) = state.recent_failure(now, self.settings.failure_cooldown) {
                            return Err(failure.to_error());
                        }
                        let reason = if state.current.is_some() {
                            FetchReason::Expired
                        } else {
                            FetchReason::Missing
                        };
                        let replacing = state.current.as_ref().map(|c| c.token.id().clone());
                        let (inflight, pending) =
                            self.begin(&slot, &mut state, reason, deadline, context, replacing);
                        (inflight, Some(pending))
                    }
                }
            };
            if let Some(pending) = pending {
                pending.spawn(self.provider.clone());
            }
            match wait(inflight.outcome, deadline).await? {
                Ok(token) => return Ok(token),
                Err(failure) if failure.caller_deadline && later(deadline, inflight.limit) => continue,
                Err(failure) => return Err(failure.to_error()),
            }
        }
    }

    /// After a 401: the tenant's token is discarded and a new one fetched
    /// (or the fetch in flight joined). `Ok(true)` once there is a new token.
    pub(crate) async fn refresh_after_unauthorized(&self, context: &Context) -> Result<bool, Error> {
        let slot = self.slot(context.tenant_id());
        let deadline = context.deadline_at();
        loop {
            let (inflight, pending) = {
                let mut state = slot.lock();
                // The API refused it: never send it again.
                let refused = state.current.take();
                if let Some(refused) = &refused {
                    self.metrics.discarded(slot.tenant.as_deref());
                    tracing::debug!(
                        target: "conn_auth::cache",
                        tenant = tenant_label(slot.tenant.as_deref()),
                        token_id = %refused.token.id(),
                        "token refused by the API (401); discarded"
                    );
                }
                match &state.inflight {
                    Some(inflight) => (inflight.clone(), None),
                    None => {
                        let now = Instant::now();
                        if let Some(failure) = state.recent_failure(now, self.settings.failure_cooldown) {
                            return Err(failure.to_error());
                        }
                        let replacing = refused.map(|r| r.token.id().clone());
                        let (inflight, pending) = self.begin(
                            &slot,
                            &mut state,
                            FetchReason::Unauthorized,
                            deadline,
                            context,
                            replacing,
                        );
                        (inflight, Some(pending))
                    }
                }
            };
            if let Some(pending) = pending {
                pending.spawn(self.provider.clone());
            }
            match wait(inflight.outcome, deadline).await? {
                Ok(_) => return Ok(true),
                Err(failure) if failure.caller_deadline && later(deadline, inflight.limit) => continue,
                Err(failure) => return Err(failure.to_error()),
            }
        }
    }

    /// Forgets the tenant's token (the next call fetches a new one).
    pub(crate) fn invalidate(&self, tenant: Option<&str>) {
        self.slot(tenant).lock().current = None;
        self.metrics.discarded(tenant);
    }

    /// Drops everything kept for the tenant.
    pub(crate) fn forget(&self, tenant: Option<&str>) {
        self.metrics.discarded(tenant);
        match tenant {
            None => {
                // A fetch in flight keeps its registration: it still publishes.
                let mut state = self.anonymous.lock();
                state.current = None;
                state.failure = None;
            }
            Some(tenant) => {
                self.tenants
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(tenant);
            }
        }
    }

    /// How many tenants have a slot.
    pub(crate) fn tenant_count(&self) -> usize {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Registers a new fetch in the slot (under its lock); the caller spawns
    /// it once the lock is released.
    fn begin(
        &self,
        slot: &Arc<Slot>,
        state: &mut SlotState,
        reason: FetchReason,
        deadline: Option<Instant>,
        context: &Context,
        replacing: Option<TokenId>,
    ) -> (Inflight, PendingFetch) {
        let id = state.next_fetch;
        state.next_fetch += 1;
        let now = Instant::now();
        let backstop = now + self.settings.fetch_timeout.min(FAR);
        // Never past the deadline of the call that asked: the deadline of a
        // background refresh is the cache's own time limit.
        let (limit, caller_deadline) = match deadline {
            Some(deadline) if deadline < backstop => (deadline, true),
            _ => (backstop, false),
        };
        let (sender, receiver) = watch::channel(None);
        let inflight = Inflight {
            id,
            limit,
            outcome: receiver,
        };
        state.inflight = Some(inflight.clone());
        tracing::debug!(
            target: "conn_auth::cache",
            tenant = tenant_label(slot.tenant.as_deref()),
            reason = ?reason,
            "fetching a token"
        );
        let request =
            TokenRequest::for_cache(slot.tenant.clone(), limit, context.correlation().cloned(), reason);
        let publisher = Publisher {
            slot: slot.clone(),
            id,
            sender: Some(sender),
            settings: self.settings,
            started: now,
            caller_deadline,
            metrics: self.metrics.clone(),
        };
        let fleet = self.shared.clone().map(|shared| FleetFetch {
            shared,
            replacing,
            refused: reason == FetchReason::Unauthorized,
            default_lifetime: self.settings.default_lifetime,
        });
        (
            inflight,
            PendingFetch {
                publisher,
                request,
                fleet,
            },
        )
    }
}

impl PendingFetch {
    fn spawn(self, provider: Arc<dyn TokenProvider>) {
        tokio::spawn(async move {
            let PendingFetch {
                publisher,
                request,
                fleet,
            } = self;
            let limit = request.deadline_at().unwrap_or(publisher.started + FAR);
            let started = publisher.started;
            let fetch = async {
                match fleet {
                    Some(fleet) => fleet.run(&*provider, &request, started).await,
                    None => provider.fetch(&request).await,
                }
            };
            let outcome = match tokio::time::timeout_at(limit, fetch).await {
                Ok(Ok(token)) => Ok(token),
                Ok(Err(err)) => Err(Failure::from_error(err, publisher.caller_deadline)),
                Err(_) if publisher.caller_deadline => Err(Failure::new(
                    ErrorKind::Timeout(TimeoutKind::Deadline),
                    "the deadline passed before a token was obtained".to_owned(),
                    true,
                )),
                Err(_) => Err(Failure::new(
                    ErrorKind::AuthProvider,
                    format!(
                        "no token within {} ms (the token fetch time limit)",
                        publisher.settings.fetch_timeout.as_millis()
                    ),
                    false,
                )),
            };
            publisher.publish(outcome);
        });
    }
}

impl Publisher {
    fn publish(mut self, outcome: Result<Token, Failure>) {
        let shared = self.record(outcome);
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(shared));
        }
    }

    /// Updates the slot with the outcome and returns what waiters get.
    fn record(&self, outcome: Result<Token, Failure>) -> Outcome {
        let mut state = self.slot.lock();
        if state.inflight.as_ref().is_some_and(|f| f.id == self.id) {
            state.inflight = None;
        }
        let tenant = tenant_label(self.slot.tenant.as_deref());
        match outcome {
            Ok(token) => {
                let lifetime = token
                    .lifetime()
                    .unwrap_or(self.settings.default_lifetime)
                    .min(FAR);
                // From when the fetch began: the server's clock started then
                // at the latest, so the expiry errs on the early side.
                let expires_at = self.started + lifetime;
                let ahead = self.settings.skew + self.settings.jitter.mul_f64(random::unit());
                // A token shorter-lived than the skew is used for half its life.
                let refresh_at = expires_at - ahead.min(lifetime / 2);
                let token = Arc::new(token);
                tracing::debug!(
                    target: "conn_auth::cache",
                    tenant,
                    token_id = %token.id(),
                    lifetime_s = lifetime.as_secs_f64(),
                    refresh_in_s = refresh_at.saturating_duration_since(Instant::now()).as_secs_f64(),
                    "token cached"
                );
                state.current = Some(Cached {
                    token: token.clone(),
                    refresh_at,
                    expires_at,
                });
                state.failure = None;
                self.metrics.refreshed(true);
                self.metrics.cached(self.slot.tenant.as_ref(), expires_at);
                Ok(token)
            }
            Err(failure) => {
                let still_valid = state
                    .current
                    .as_ref()
                    .is_some_and(|c| Instant::now() < c.expires_at);
                tracing::warn!(
                    target: "conn_auth::cache",
                    tenant,
                    error = %failure.message,
                    still_valid,
                    "token fetch failed"
                );
                if !failure.caller_deadline {
                    state.failure = Some(failure.clone());
                }
                self.metrics.refreshed(false);
                Err(failure)
            }
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let shared = self.record(Err(Failure::abandoned()));
            // Not remembered for the cooldown: the endpoint did nothing wrong.
            self.slot.lock().failure = None;
            sender.send_replace(Some(shared));
        }
    }
}

/// Waits for a fetch's outcome, until `deadline` at the latest.
async fn wait(
    mut outcome: watch::Receiver<Option<Outcome>>,
    deadline: Option<Instant>,
) -> Result<Outcome, Error> {
    let published = async move {
        match outcome.wait_for(Option::is_some).await {
            Ok(value) => value.clone().unwrap_or_else(|| Err(Failure::abandoned())),
            Err(_) => Err(Failure::abandoned()),
        }
    };
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, published).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout(TimeoutKind::Deadline),
                "the deadline passed while waiting for a token",
            )
        }),
        None => Ok(published.await),
    }
}

/// Whether a call with `deadline` has time left after `limit`.
fn later(deadline: Option<Instant>, limit: Instant) -> bool {
    deadline.is_none_or(|d| d > limit)
}

/// Read-only inspection for operators (`AuthStrategy::credential_status`):
/// expiry and renewal state per tenant, never the token.
impl TokenCache {
    pub(crate) fn statuses(&self) -> Vec<conn_core::CredentialStatus> {
        let mut slots = vec![self.anonymous.clone()];
        slots.extend(
            self.tenants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned(),
        );
        let now = Instant::now();
        slots
            .iter()
            .filter_map(|slot| {
                let state = slot.lock();
                let expires_in = state
                    .current
                    .as_ref()
                    .map(|c| c.expires_at.saturating_duration_since(now));
                // The anonymous slot always exists; show it only once used.
                if slot.tenant.is_none()
                    && expires_in.is_none()
                    && state.inflight.is_none()
                    && state.failure.is_none()
                {
                    return None;
                }
                Some(
                    conn_core::CredentialStatus::new(slot.tenant.as_deref(), expires_in)
                        .refreshing(state.inflight.is_some())
                        .degraded(state.failure.is_some()),
                )
            })
            .collect()
    }
}
