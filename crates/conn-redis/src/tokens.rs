//! `RedisTokenStore`: refresh tokens and shared access tokens in Redis,
//! encrypted, with the lock that makes a fleet fetch a token once.

use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn_core::store::{
    Cipher, Lease, SharedToken, SharedTokens, StoreKey, StoredToken, TokenId, TokenStore,
};
use conn_core::{BoxFuture, Deadline, Error, ErrorKind};
use redis::Script;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Fleet;

/// Default lifetime of a stored refresh token, renewed by every save.
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// The token and its remaining life, read together.
const GET: &str = r"
local v = redis.call('HMGET', KEYS[1], 'id', 'v')
return {v[1], v[2], redis.call('PTTL', KEYS[1])}
";

/// Publishes a token (KEYS[1]) and frees the lock (KEYS[2]) if the caller
/// still holds it. ARGV: id, sealed value, lifetime ms, lease.
const PUBLISH: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'v', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return 1
";

/// Frees the lock (KEYS[1]) if it is still the caller's lease (ARGV[1]).
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Removes the token (KEYS[1]) if its id is still ARGV[1].
const DISCARD: &str = r"
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

static GET_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GET));
static PUBLISH_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PUBLISH));
static UNLOCK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(UNLOCK));
static DISCARD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DISCARD));

/// Tokens of one connector in Redis, for a fleet: its refresh tokens (a
/// [`TokenStore`]) and its current access tokens with a fetch lock (a
/// [`SharedTokens`]), per tenant.
///
/// - **Encrypted at rest** with the cipher of conn-auth's encrypted file
///   store (XChaCha20-Poly1305 under a [`StoreKey`]); each value's key name
///   is its associated data, so a value copied to another tenant's key does
///   not decrypt. Token ids (random, not secret) are stored in the clear so
///   Redis can compare them.
/// - **Single flight**: the lock is `SET NX PX`; a token is published and
///   the lock freed in one script, only by the lease holder.
/// - **Rotation**: the fetch that holds the lock is the only one to read
///   and present the refresh token; the rotated one is saved before the
///   new access token is published or used.
/// - Every read and write is access-logged on `conn_redis::access` (tenant
///   and token id, never a value).
pub struct RedisTokenStore {
    fleet: Fleet,
    namespace: String,
    cipher: Cipher,
    refresh_ttl: Duration,
}

#[derive(Deserialize)]
struct SealedRefresh {
    id: String,
    token: SecretString,
    saved_at: u64,
}

#[derive(Serialize)]
struct AccessOut<'a> {
    secret: &'a str,
    scope: Option<&'a str>,
}

#[derive(Deserialize)]
struct AccessIn {
    secret: SecretString,
    scope: Option<String>,
}

impl RedisTokenStore {
    /// The tokens of `namespace` (the connector's name) on `fleet`,
    /// encrypted with `key`.
    pub fn new(fleet: Fleet, namespace: impl Into<String>, key: &StoreKey) -> Self {
        RedisTokenStore {
            fleet,
            namespace: namespace.into(),
            cipher: Cipher::new(key),
            refresh_ttl: REFRESH_TOKEN_TTL,
        }
    }

    /// How long a stored refresh token lives without being saved again
    /// (default 90 days; every rotation renews it).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    fn key(&self, tenant: Option<&str>, what: &str) -> String {
        self.fleet.keys().token(&self.namespace, tenant, what)
    }

    fn seal(&self, key: &str, value: &impl Serialize) -> Result<Vec<u8>, Error> {
        let mut plain = Zeroizing::new(Vec::with_capacity(512));
        serde_json::to_writer(&mut *plain, value)
            .map_err(|_| Error::new(ErrorKind::AuthProvider, "a token could not be serialized"))?;
        self.cipher.seal(&plain, key.as_bytes())
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, key: &str, sealed: &[u8]) -> Result<T, Error> {
        let plain = self.cipher.open(sealed, key.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::AuthProvider,
                "a token in Redis does not decrypt: another key wrote it, or it was modified",
            )
        })?;
        serde_json::from_slice(&plain).map_err(|_| {
            Error::new(
                ErrorKind::AuthProvider,
                "a token in Redis decrypted to unreadable content",
            )
        })
    }
}

fn access_log(op: &'static str, tenant: Option<&str>, token_id: Option<&str>, outcome: &str) {
    tracing::info!(
        target: "conn_redis::access",
        store = "redis",
        op,
        tenant = tenant.unwrap_or("-"),
        token_id = token_id.unwrap_or("-"),
        outcome,
        "token store access"
    );
}

fn logged<T>(
    op: &'static str,
    tenant: Option<&str>,
    id: Option<&str>,
    result: Result<T, Error>,
) -> Result<T, Error> {
    access_log(op, tenant, id, if result.is_ok() { "ok" } else { "error" });
    result
}

impl TokenStore for RedisTokenStore {
    fn load<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<Option<StoredToken>, Error>> {
        Box::pin(async move {
            let key = self.key(tenant, "rt");
            let sealed: Option<Vec<u8>> = self
                .fleet
                .query(redis::cmd("GET").arg(&key), Deadline::NONE)
                .await
                .map_err(auth_error)?;
            let Some(sealed) = sealed else {
                access_log("read", tenant, None, "absent");
                return Ok(None);
            };
            let stored: SealedRefresh = logged("read", tenant, None, self.open(&key, &sealed))?;
            let token = StoredToken::restore(
                TokenId::from_stored(&stored.id),
                stored.token,
                UNIX_EPOCH + Duration::from_secs(stored.saved_at),
            );
            access_log("read", tenant, Some(token.id().as_str()), "found");
            Ok(Some(token))
        })
    }

    fn save<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let key = self.key(tenant, "rt");
            let value = SealedRefresh {
                id: token.id().as_str().to_owned(),
                token: token.refresh_token().clone(),
                saved_at: token
                    .saved_at()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            };
            let sealed = self.seal(&key, &Sealable(&value))?;
            let ttl = u64::try_from(self.refresh_ttl.as_millis()).unwrap_or(u64::MAX);
            let result = self
                .fleet
                .query::<()>(
                    redis::cmd("SET").arg(&key).arg(sealed).arg("PX").arg(ttl),
                    Deadline::NONE,
                )
                .await
                .map_err(auth_error);
            logged("write", tenant, Some(token.id().as_str()), result)
        })
    }

    fn remove<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let key = self.key(tenant, "rt");
            let result = self
                .fleet
                .query::<()>(redis::cmd("DEL").arg(&key), Deadline::NONE)
                .await
                .map_err(auth_error);
            logged("remove", tenant, None, result)
        })
    }
}

/// Serializes a refresh record with its secret exposed, only into the
/// buffer that is sealed (and wiped) right away.
struct Sealable<'a>(&'a SealedRefresh);

impl Serialize for Sealable<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("SealedRefresh", 3)?;
        s.serialize_field("id", &self.0.id)?;
        s.serialize_field("token", self.0.token.expose_secret())?;
        s.serialize_field("saved_at", &self.0.saved_at)?;
        s.end()
    }
}

impl SharedTokens for RedisTokenStore {
    fn get<'a>(
        &'a self,
        tenant: Option<&'a str>,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Option<SharedToken>, Error>> {
        Box::pin(async move {
            let key = self.key(tenant, "at");
            let mut invocation = GET_SCRIPT.prepare_invoke();
            invocation.key(&key);
            let (id, sealed, pttl): (Option<String>, Option<Vec<u8>>, i64) =
                self.fleet.invoke(&invocation, deadline).await?;
            let (Some(id), Some(sealed)) = (id, sealed) else {
                return Ok(None);
            };
            if pttl <= 0 {
                return Ok(None);
            }
            let access: AccessIn = self.open(&key, &sealed)?;
            Ok(Some(SharedToken {
                id: TokenId::from_stored(&id),
                secret: access.secret,
                scope: access.scope,
                remaining: Duration::from_millis(pttl.unsigned_abs()),
            }))
        })
    }

    fn try_lock<'a>(
        &'a self,
        tenant: Option<&'a str>,
        hold: Duration,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<Option<Lease>, Error>> {
        Box::pin(async move {
            let lease = Lease::generate();
            let hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1);
            let set: Option<String> = self
                .fleet
                .query(
                    redis::cmd("SET")
                        .arg(self.key(tenant, "lock"))
                        .arg(lease.id())
                        .arg("NX")
                        .arg("PX")
                        .arg(hold_ms),
                    deadline,
                )
                .await?;
            Ok(set.map(|_| lease))
        })
    }

    fn publish<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a SharedToken,
        lease: &'a Lease,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let key = self.key(tenant, "at");
            let sealed = self.seal(
                &key,
                &AccessOut {
                    secret: token.secret.expose_secret(),
                    scope: token.scope.as_deref(),
                },
            )?;
            let ms = u64::try_from(token.remaining.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut invocation = PUBLISH_SCRIPT.prepare_invoke();
            invocation
                .key(&key)
                .key(self.key(tenant, "lock"))
                .arg(token.id.as_str())
                .arg(sealed)
                .arg(ms)
                .arg(lease.id());
            let result = self.fleet.invoke::<i64>(&invocation, deadline).await.map(|_| ());
            logged("publish", tenant, Some(token.id.as_str()), result)
        })
    }

    fn unlock<'a>(&'a self, tenant: Option<&'a str>, lease: &'a Lease) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut invocation = UNLOCK_SCRIPT.prepare_invoke();
            invocation.key(self.key(tenant, "lock")).arg(lease.id());
            self.fleet
                .invoke::<i64>(&invocation, Deadline::NONE)
                .await
                .map(|_| ())
        })
    }

    fn discard<'a>(
        &'a self,
        tenant: Option<&'a str>,
        refused: &'a TokenId,
        deadline: Deadline,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut invocation = DISCARD_SCRIPT.prepare_invoke();
            invocation.key(self.key(tenant, "at")).arg(refused.as_str());
            let result = self.fleet.invoke::<i64>(&invocation, deadline).await.map(|_| ());
            logged("discard", tenant, Some(refused.as_str()), result)
        })
    }
}

/// A Redis failure seen by a refresh-token grant: the token endpoint was not
/// asked, so it is transient, with the Redis error as its message.
fn auth_error(err: Error) -> Error {
    Error::new(
        ErrorKind::AuthProvider,
        format!("the fleet token store is unavailable: {}", err.message()),
    )
    .transient(true)
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("fleet", &self.fleet)
            .field("namespace", &self.namespace)
            .field("cipher", &Cipher::NAME)
            .field("key", &"<redacted>")
            .finish()
    }
}
