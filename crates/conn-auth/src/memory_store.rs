//! `MemoryStore`: refresh tokens for the life of the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use conn_core::{BoxFuture, Error};

use crate::store::access_log;
use crate::{StoredToken, TokenStore};

/// A [`TokenStore`] in memory: the default. A rotated refresh token lasts
/// as long as the process; use an
/// [`EncryptedFileStore`](crate::EncryptedFileStore) (or your own store) for
/// it to survive a restart.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<HashMap<Option<String>, StoredToken>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many tenants have a token.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no tenant has a token.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Option<String>, StoredToken>> {
        // The map is consistent after every statement, so a panic elsewhere
        // while it was held leaves nothing half-done.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TokenStore for MemoryStore {
    fn load<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<Option<StoredToken>, Error>> {
        Box::pin(async move {
            let found = self.lock().get(&tenant.map(str::to_owned)).cloned();
            let outcome = if found.is_some() { "found" } else { "absent" };
            access_log(
                "memory",
                "read",
                tenant,
                found.as_ref().map(StoredToken::id),
                outcome,
            );
            Ok(found)
        })
    }

    fn save<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.lock().insert(tenant.map(str::to_owned), token.clone());
            access_log("memory", "write", tenant, Some(token.id()), "saved");
            Ok(())
        })
    }

    fn remove<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let removed = self.lock().remove(&tenant.map(str::to_owned));
            access_log(
                "memory",
                "remove",
                tenant,
                removed.as_ref().map(StoredToken::id),
                "removed",
            );
            Ok(())
        })
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("tenants", &self.len())
            .finish()
    }
}
