//! `TokenStore`: where refresh tokens outlive the process.

use std::fmt;
use std::time::SystemTime;

use conn_core::{BoxFuture, Error};
use secrecy::SecretString;

use crate::TokenId;

/// A refresh token as a [`TokenStore`] keeps it: the secret, a non-secret
/// [`TokenId`] for logs, and when it was stored.
///
/// ```
/// use conn_auth::StoredToken;
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
/// not lost: [`MemoryStore`](crate::MemoryStore) for the life of the
/// process, [`EncryptedFileStore`](crate::EncryptedFileStore) across
/// restarts, or your own (a database, a secrets manager).
///
/// Keys are tenants (`None` for calls made without one): a store never
/// returns one tenant's token for another. Every implementation should emit
/// an access-log event per read and write (tenant and token id, never the
/// value); the two here do, on the `conn_auth::access` target.
///
/// ```
/// use conn_auth::{MemoryStore, StoredToken, TokenStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), conn_core::Error> {
/// let store = MemoryStore::new();
/// store.save(Some("acme"), &StoredToken::new("rt-1")).await?;
/// assert!(store.load(Some("acme")).await?.is_some());
/// assert!(store.load(Some("globex")).await?.is_none());
/// # Ok(()) }
/// ```
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

/// How a tenant appears in logs: its id, or `-` for calls without one.
pub(crate) fn tenant_label(tenant: Option<&str>) -> &str {
    tenant.unwrap_or("-")
}

/// The access-log event of one store operation.
pub(crate) fn access_log(
    store: &'static str,
    op: &'static str,
    tenant: Option<&str>,
    token_id: Option<&TokenId>,
    outcome: &str,
) {
    tracing::info!(
        target: "conn_auth::access",
        store,
        op,
        tenant = tenant_label(tenant),
        token_id = token_id.map_or("-", TokenId::as_str),
        outcome,
        "token store access"
    );
}
