//! Token stores: refresh tokens that outlive a rotation ([`TokenStore`]), and
//! access tokens a fleet fetches once and shares ([`SharedTokens`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use tokio::time::Instant;

use crate::component::random::next_u64;
use crate::{BoxFuture, Deadline, Error};

/// A non-secret identifier of a token, for logs and access logs: random hex
/// digits made when the token is received or stored, never derived from the
/// token's value.
///
/// ```
/// use conn_core::store::TokenId;
///
/// let a = TokenId::generate();
/// assert_ne!(a, TokenId::generate());
/// assert_eq!(a.as_str().len(), 16);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// A fresh random id.
    pub fn generate() -> Self {
        TokenId(Arc::from(format!("{:016x}", next_u64())))
    }

    /// An id read back from a store. Anything but ASCII letters, digits, `-`
    /// and `_` is dropped and the length capped, so an id from a file can
    /// neither smuggle text into logs nor carry a secret of any length.
    pub fn from_stored(id: &str) -> Self {
        let clean: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(64)
            .collect();
        if clean.is_empty() {
            return TokenId::generate();
        }
        TokenId(Arc::from(clean))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

/// A refresh token as a [`TokenStore`] keeps it: the secret, a non-secret
/// [`TokenId`] for logs, and when it was stored.
///
/// ```
/// use conn_core::store::StoredToken;
///
/// let stored = StoredToken::new("rt-initial");
/// assert!(!format!("{stored:?}").contains("rt-initial"));
/// ```
#[derive(Clone)]
pub struct StoredToken {
    id: TokenId,
    refresh_token: SecretString,
    saved_at: SystemTime,
}

impl StoredToken {
    /// A new record for `refresh_token`, with a fresh id.
    pub fn new(refresh_token: impl Into<SecretString>) -> Self {
        StoredToken {
            id: TokenId::generate(),
            refresh_token: refresh_token.into(),
            saved_at: SystemTime::now(),
        }
    }

    /// A record read back from storage.
    pub fn restore(id: TokenId, refresh_token: SecretString, saved_at: SystemTime) -> Self {
        StoredToken {
            id,
            refresh_token,
            saved_at,
        }
    }

    /// The id, for logs.
    pub fn id(&self) -> &TokenId {
        &self.id
    }

    /// The refresh token (use `secrecy::ExposeSecret` to read it).
    pub fn refresh_token(&self) -> &SecretString {
        &self.refresh_token
    }

    /// When the record was made (wall clock).
    pub fn saved_at(&self) -> SystemTime {
        self.saved_at
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("id", &self.id)
            .field("refresh_token", &"<redacted>")
            .field("saved_at", &self.saved_at)
            .finish()
    }
}

/// Keeps one refresh token per tenant, so that a rotated refresh token is
/// not lost: in memory for the life of the process, in an encrypted file
/// across restarts, in a shared store (Redis) for a fleet, or your own.
///
/// Keys are tenants (`None` for calls made without one): a store never
/// returns one tenant's token for another. Every implementation should emit
/// an access-log event per read and write (tenant and token id, never the
/// value).
pub trait TokenStore: Send + Sync {
    /// The tenant's refresh token, if one is stored.
    fn load<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<Option<StoredToken>, Error>>;

    /// Stores `token` as the tenant's refresh token, replacing any other.
    /// Returns only once the token is durable (for a persistent store).
    fn save<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Forgets the tenant's refresh token.
    fn remove<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<(), Error>>;
}

/// An access token as a fleet shares it: id, secret, granted scope, and how
/// long it still lives (a remaining lifetime, never a wall-clock instant, so
/// the replicas' clocks need not agree). `Debug` shows no secret.
#[derive(Clone)]
pub struct SharedToken {
    /// The token's id, the same in every replica.
    pub id: TokenId,
    /// The access token.
    pub secret: SecretString,
    /// The scope it was granted, if known.
    pub scope: Option<String>,
    /// How long it is still valid.
    pub remaining: Duration,
}

impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("scope", &self.scope)
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// The right, for a short time, to be a tenant's one token fetcher in a
/// fleet: taken with [`SharedTokens::try_lock`], ended by
/// [`SharedTokens::publish`] or [`SharedTokens::unlock`], or by its expiry.
/// Its id is random and not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    id: String,
}

impl Lease {
    /// A new lease with a random id.
    pub fn generate() -> Self {
        Lease {
            id: format!("{:016x}{:016x}", next_u64(), next_u64()),
        }
    }

    /// A lease with a given id (a store that reads one back).
    pub fn from_id(id: impl Into<String>) -> Self {
        Lease { id: id.into() }
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lease({})", self.id)
    }
}

/// Access tokens shared by a fleet, with single flight across it: the first
/// replica that needs a token takes a short lock and fetches; the others
/// wait and read what it publishes.
///
/// The protocol a token cache follows (`conn-auth`'s does):
///
/// 1. [`get`](Self::get): a token with enough life left is used as is;
/// 2. otherwise [`try_lock`](Self::try_lock) for at most the fetch's time
///    limit; the winner checks [`get`](Self::get) once more, fetches,
///    [`publish`](Self::publish)es (which releases the lock), or
///    [`unlock`](Self::unlock)s when the fetch failed;
/// 3. a loser polls [`get`](Self::get) every [`poll_interval`](Self::poll_interval)
///    until a token appears, the lock frees (it tries again) or its deadline.
///
/// After a 401, [`discard`](Self::discard) removes the token only if it is
/// still the refused one, so N replicas refused at once make one fetch.
///
/// Keys are tenants within the store's namespace (one connector's); a store
/// never returns one tenant's token for another. Tokens at rest in a
/// shared backend are encrypted.
pub trait SharedTokens: Send + Sync {
    /// The fleet's current token for the tenant, if any is alive.
    fn get<'a>(
        &'a self,
        tenant: Option<&'a str>,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Option<SharedToken>, Error>>;

    /// Becomes the tenant's one fetcher for at most `hold`, or `None` when
    /// another replica is.
    fn try_lock<'a>(
        &'a self,
        tenant: Option<&'a str>,
        hold: Duration,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Option<Lease>, Error>>;

    /// Publishes a token fetched under `lease` (alive for `token.remaining`)
    /// and releases the lease.
    fn publish<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a SharedToken,
        lease: &'a Lease,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Releases `lease` without publishing (the fetch failed).
    fn unlock<'a>(&'a self, tenant: Option<&'a str>, lease: &'a Lease) -> BoxFuture<'a, Result<(), Error>>;

    /// Removes the tenant's token if it is still `refused` (the API answered 401).
    fn discard<'a>(
        &'a self,
        tenant: Option<&'a str>,
        refused: &'a TokenId,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// How often a replica waiting for another's fetch looks again.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(20)
    }
}

/// The in-process [`SharedTokens`]: what several token caches of one process
/// (or a test's simulated replicas) share, on tokio time.
///
/// Cheap to clone; clones share the tokens.
#[derive(Clone, Default)]
pub struct LocalSharedTokens {
    inner: Arc<Mutex<HashMap<Option<String>, LocalEntry>>>,
}

#[derive(Default)]
struct LocalEntry {
    token: Option<(SharedToken, Instant)>,
    lock: Option<(Lease, Instant)>,
}

impl LocalSharedTokens {
    /// An empty store.
    pub fn new() -> Self {
        LocalSharedTokens::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Option<String>, LocalEntry>> {
        // Every update is complete before the guard drops.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SharedTokens for LocalSharedTokens {
    fn get<'a>(
        &'a self,
        tenant: Option<&'a str>,
        _: Deadline,
    ) -> BoxFuture<'a, Result<Option<SharedToken>, Error>> {
        let now = Instant::now();
        let found = self
            .lock()
            .get(&tenant.map(str::to_owned))
            .and_then(|e| e.token.as_ref())
            .filter(|(_, expires)| *expires > now)
            .map(|(token, expires)| SharedToken {
                remaining: *expires - now,
                ..token.clone()
            });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn try_lock<'a>(
        &'a self,
        tenant: Option<&'a str>,
        hold: Duration,
        _: Deadline,
    ) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        let now = Instant::now();
        let mut map = self.lock();
        let entry = map.entry(tenant.map(str::to_owned)).or_default();
        let taken = entry.lock.as_ref().is_some_and(|(_, until)| *until > now);
        let lease = (!taken).then(|| {
            let lease = Lease::generate();
            entry.lock = Some((lease.clone(), now + hold));
            lease
        });
        Box::pin(std::future::ready(Ok(lease)))
    }

    fn publish<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a SharedToken,
        lease: &'a Lease,
        _: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let now = Instant::now();
        let mut map = self.lock();
        let entry = map.entry(tenant.map(str::to_owned)).or_default();
        entry.token = Some((token.clone(), now + token.remaining));
        if entry.lock.as_ref().is_some_and(|(held, _)| held == lease) {
            entry.lock = None;
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn unlock<'a>(&'a self, tenant: Option<&'a str>, lease: &'a Lease) -> BoxFuture<'a, Result<(), Error>> {
        if let Some(entry) = self.lock().get_mut(&tenant.map(str::to_owned))
            && entry.lock.as_ref().is_some_and(|(held, _)| held == lease)
        {
            entry.lock = None;
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn discard<'a>(
        &'a self,
        tenant: Option<&'a str>,
        refused: &'a TokenId,
        _: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>> {
        if let Some(entry) = self.lock().get_mut(&tenant.map(str::to_owned))
            && entry.token.as_ref().is_some_and(|(t, _)| &t.id == refused)
        {
            entry.token = None;
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

impl fmt::Debug for LocalSharedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSharedTokens")
            .field("tenants", &self.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &TokenId, secs: u64) -> SharedToken {
        SharedToken {
            id: id.clone(),
            secret: SecretString::from("s"),
            scope: None,
            remaining: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_lock_holder_publishes_and_discard_checks_the_id() {
        let store = LocalSharedTokens::new();
        let hold = Duration::from_secs(5);
        let lease = store
            .try_lock(Some("a"), hold, Deadline::NONE)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .try_lock(Some("a"), hold, Deadline::NONE)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .try_lock(Some("b"), hold, Deadline::NONE)
                .await
                .unwrap()
                .is_some(),
            "tenants apart"
        );
        let id = TokenId::generate();
        store
            .publish(Some("a"), &token(&id, 60), &lease, Deadline::NONE)
            .await
            .unwrap();
        assert!(
            store
                .try_lock(Some("a"), hold, Deadline::NONE)
                .await
                .unwrap()
                .is_some(),
            "published: lock freed"
        );
        store
            .discard(Some("a"), &TokenId::generate(), Deadline::NONE)
            .await
            .unwrap();
        assert!(
            store.get(Some("a"), Deadline::NONE).await.unwrap().is_some(),
            "another id: kept"
        );
        store.discard(Some("a"), &id, Deadline::NONE).await.unwrap();
        assert!(store.get(Some("a"), Deadline::NONE).await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_and_locks_expire() {
        let store = LocalSharedTokens::new();
        let lease = store
            .try_lock(None, Duration::from_secs(1), Deadline::NONE)
            .await
            .unwrap()
            .unwrap();
        store
            .publish(None, &token(&TokenId::generate(), 10), &lease, Deadline::NONE)
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(4)).await;
        let left = store.get(None, Deadline::NONE).await.unwrap().unwrap().remaining;
        assert_eq!(left, Duration::from_secs(6));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(store.get(None, Deadline::NONE).await.unwrap().is_none());
    }
}
