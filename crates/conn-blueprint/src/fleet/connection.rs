//! The connection to the fleet's Redis, and the stores one assembly of a
//! registry takes from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conn_core::Error;
use conn_core::store::{BreakerSignal, RateStore, SharedTokens, StoreKey};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore, RedisSignal, RedisTokenStore};
use secrecy::ExposeSecret;

use super::section::FleetSection;
use crate::blueprint::Blueprint;
use crate::config::AuthConfig;
use crate::secret::Secret;

/// A connection to the fleet's Redis made from a blueprint's `[fleet]`
/// section, with the breaker signal every connector of the registry shares.
/// Cheap to clone; a [`Registry`](crate::Registry) keeps it across reloads.
#[derive(Clone)]
pub struct FleetConnection {
    section: FleetSection,
    fleet: Fleet,
    signal: Arc<RedisSignal>,
}

impl FleetConnection {
    /// Connects to the Redis of `blueprint`'s `[fleet]` section; `None` when
    /// it has none. Must run inside a tokio runtime (the breaker signal
    /// polls Redis on a task of its own).
    ///
    /// # Errors
    ///
    /// A configuration error (never showing the URL) when the URL is
    /// malformed, the password is refused or TLS does not match. A Redis
    /// that is merely unreachable is not an error: its stores fall back to
    /// their failure policy until it answers.
    pub async fn connect(blueprint: &Blueprint) -> Result<Option<FleetConnection>, Error> {
        let Some(section) = blueprint.fleet() else {
            return Ok(None);
        };
        let config = if section.cluster {
            FleetConfig::cluster(section.urls())
        } else {
            FleetConfig::new(section.urls().into_iter().next().unwrap_or_default())
        }
        .key_prefix(section.key_prefix.clone())
        .op_timeout(section.op_timeout)
        .connect_timeout(section.connect_timeout);
        let fleet = Fleet::connect(config).await?;
        let signal = Arc::new(RedisSignal::with_options(
            fleet.clone(),
            Duration::from_millis(250),
            section.announce_opens,
        ));
        Ok(Some(FleetConnection {
            section: section.clone(),
            fleet,
            signal,
        }))
    }

    /// The Redis connection (for the application's own stores).
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The breaker signal the registry's connectors follow: an operator's
    /// `set_operator_state` here reaches every replica.
    pub fn signal(&self) -> Arc<RedisSignal> {
        self.signal.clone()
    }
}

impl fmt::Debug for FleetConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConnection")
            .field("fleet", &self.fleet)
            .field("failure_policy", &self.section.failure_policy)
            .finish()
    }
}

/// The fleet's stores for one assembly of a registry: the rate store of
/// the section's failure policy (kept across reloads while the policy is
/// equal, so its fallback counts survive), the token key, the signal.
#[derive(Clone)]
pub(crate) struct FleetStores {
    fleet: Fleet,
    policy: FailurePolicy,
    rate: Arc<RedisRateStore>,
    token_key: Option<(Secret, Arc<StoreKey>)>,
    signal: Arc<RedisSignal>,
}

impl FleetStores {
    /// The stores for `blueprint` on `connection`; `old` are the running ones.
    pub(crate) fn new(
        blueprint: &Blueprint,
        connection: Option<&FleetConnection>,
        old: Option<&FleetStores>,
    ) -> Result<Option<FleetStores>, Error> {
        let (Some(section), Some(connection)) = (blueprint.fleet(), connection) else {
            return Ok(None);
        };
        let rate = match old {
            Some(old) if old.policy == section.failure_policy => old.rate.clone(),
            _ => Arc::new(RedisRateStore::new(
                connection.fleet.clone(),
                section.failure_policy,
            )),
        };
        let token_key = match &section.token_key {
            Some(secret) => match old.and_then(|o| o.token_key.as_ref()) {
                Some((old_secret, key)) if old_secret == secret => Some((secret.clone(), key.clone())),
                _ => Some((
                    secret.clone(),
                    Arc::new(StoreKey::parse(secret.value().expose_secret())?),
                )),
            },
            None => None,
        };
        Ok(Some(FleetStores {
            fleet: connection.fleet.clone(),
            policy: section.failure_policy,
            rate,
            token_key,
            signal: connection.signal.clone(),
        }))
    }

    /// Whether a throttle built on `old`'s rate store counts the same way as one on `new`'s.
    pub(crate) fn same_rate(old: Option<&FleetStores>, new: Option<&FleetStores>) -> bool {
        match (old, new) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(&a.rate, &b.rate),
            _ => false,
        }
    }

    /// Whether tokens shared through `old` are readable through `new`.
    pub(crate) fn same_tokens(old: Option<&FleetStores>, new: Option<&FleetStores>) -> bool {
        let key = |s: Option<&FleetStores>| s.and_then(|s| s.token_key.as_ref().map(|(k, _)| k.clone()));
        old.is_some() == new.is_some() && key(old) == key(new)
    }

    /// The rate store and namespace of a throttle that counts in the fleet.
    pub(crate) fn quota(&self, namespace: String) -> (Arc<dyn RateStore>, String) {
        (self.rate.clone(), namespace)
    }

    /// The shared token store of one set of credentials that fetch tokens
    /// (OAuth2 and the like); `None` for static credentials.
    ///
    /// Its namespace names the connector (and tenant) *and* the
    /// credentials' public parts, so a token fetched with other credentials
    /// (an older blueprint on a replica not yet redeployed, a tenant given
    /// its own client) is never adopted.
    pub(crate) fn tokens(&self, owner: &str, auth: &AuthConfig) -> Option<Arc<dyn SharedTokens>> {
        if matches!(
            auth,
            AuthConfig::None
                | AuthConfig::Bearer { .. }
                | AuthConfig::ApiKey { .. }
                | AuthConfig::Basic { .. }
        ) {
            return None; // static credentials: no token to fetch
        }
        let (_, key) = self.token_key.as_ref()?;
        // `Debug` shows a secret's source, never its value: the public identity.
        let namespace = format!("{owner}#{:016x}", fnv1a(&[&format!("{auth:?}")]));
        Some(Arc::new(RedisTokenStore::new(self.fleet.clone(), namespace, key)))
    }

    /// The breaker signal.
    pub(crate) fn signal(&self) -> Arc<dyn BreakerSignal> {
        self.signal.clone()
    }
}

/// FNV-1a over the parts (with a separator): stable across builds and
/// replicas, unlike `DefaultHasher`; not a secret, only an identity.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0x1f]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// What a reload may change: not the connection the registry was built with.
pub(crate) fn check_reload(connection: Option<&FleetConnection>, blueprint: &Blueprint) -> Result<(), Error> {
    match (connection, blueprint.fleet()) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err(Error::config(
            "the new blueprint has a [fleet] section but the registry was built without one: a reload cannot connect to Redis; restart, building the registry with Registry::from_blueprint_with_fleet",
        )),
        (Some(connection), Some(section)) if !connection.section.same_connection(section) => {
            Err(Error::config(
                "the [fleet] connection settings changed (url, cluster, key_prefix, op_timeout, connect_timeout or announce_opens): restart to apply them; nothing was reloaded",
            ))
        }
        _ => Ok(()),
    }
}

/// The message of a sync constructor given a blueprint with `[fleet]`.
pub(crate) fn needs_connect() -> Error {
    Error::config(
        "the blueprint has a [fleet] section, and connecting to Redis is async: build the registry with `Registry::from_blueprint_with_fleet(&blueprint, transport).await` (or `from_blueprint_hyper_with_fleet`, or `FleetConnection::connect` then `Registry::with_fleet`)",
    )
}
