//! The `[fleet]` section and each connector's `fleet` opt-in: where the
//! fleet's Redis is, and which connectors keep their quota, tokens and
//! breaker signals there, so N replicas of one blueprint behave like one
//! client (docs/fleet.md).
//!
//! Connecting to Redis is async while building a registry is not, so the
//! connection is made once, before the registry ([`FleetConnection::connect`],
//! or [`Registry::from_blueprint_with_fleet`] doing both), and the registry
//! keeps it: a reload never reconnects, it only rebuilds the parts whose
//! settings changed. The sync constructors refuse a blueprint with `[fleet]`
//! instead of silently running every replica on its own quota.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conn_core::store::{BreakerSignal, RateStore, SharedTokens, StoreKey};
use conn_core::{Error, Transport};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore, RedisSignal, RedisTokenStore};
use secrecy::ExposeSecret;

use crate::assembly::TransportFactory;
use crate::blueprint::Blueprint;
use crate::build::{SecretRules, resolve_secret};
use crate::config::{AuthConfig, ConnectorConfig, Secret};
use crate::errors::ValidationErrors;
use crate::layers::{Effective, Origin};
use crate::registry::Registry;
use crate::schema::{KeySpec, Kind};
use crate::tree::{Node, Raw};
use crate::values::{Reader, Value};

const fn key(path: &'static str, kind: Kind, default: Option<&'static str>, doc: &'static str) -> KeySpec {
    KeySpec {
        path,
        kind,
        default,
        doc,
    }
}

/// Every key of the `[fleet]` section, in documentation order (paths
/// relative to `[fleet]`).
pub const FLEET_KEYS: &[KeySpec] = &[
    key(
        "url",
        Kind::Secret,
        None,
        "The fleet's Redis: redis:// (or rediss:// for TLS) URL, password included if any; with cluster = true, the seed nodes' URLs separated by commas. Required.",
    ),
    key(
        "cluster",
        Kind::Bool,
        Some("false"),
        "url names Redis Cluster seed nodes instead of one standalone Redis (or Sentinel-managed master).",
    ),
    key(
        "key_prefix",
        Kind::Str,
        Some("\"conn\""),
        "Prefix of every Redis key: one per application, so several share a Redis without meeting.",
    ),
    key(
        "op_timeout",
        Kind::Duration,
        Some("\"50ms\""),
        "Time limit of one Redis operation, always within the call's own deadline.",
    ),
    key(
        "connect_timeout",
        Kind::Duration,
        Some("\"1s\""),
        "Time limit of connecting at start (an unreachable Redis is not an error: the fallback runs until it answers).",
    ),
    key(
        "failure_policy",
        Kind::Enum(&["fail_open", "fail_closed"]),
        Some("\"fail_open\""),
        "While Redis does not answer: count quota / replicas locally (fail_open), or refuse with RateLimited (fail_closed).",
    ),
    key(
        "replicas",
        Kind::Int { min: 1 },
        Some("1"),
        "Replicas expected to share each quota: fail_open counts quota / replicas in each process.",
    ),
    key(
        "token_key",
        Kind::Secret,
        None,
        "32-byte key (hex or base64) encrypting tokens at rest in Redis. Required when a connector shares tokens.",
    ),
    key(
        "announce_opens",
        Kind::Bool,
        Some("false"),
        "A circuit opened in one replica opens in the others too, for its cooldown (off: one sick replica cannot trip the fleet).",
    ),
];

/// The keys `fleet = true` under a connector turns on.
const USE_KEYS: [&str; 3] = ["fleet.throttle", "fleet.tokens", "fleet.breaker"];

/// A validated `[fleet]` section.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FleetSection {
    /// The Redis URL (or, for a cluster, the seed URLs); `Debug` shows only its source.
    pub url: Secret,
    /// Redis Cluster seed nodes rather than one Redis.
    pub cluster: bool,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Time limit of one operation.
    pub op_timeout: Duration,
    /// Time limit of connecting.
    pub connect_timeout: Duration,
    /// What a fleet quota does while Redis does not answer (`replicas` included).
    pub failure_policy: FailurePolicy,
    /// The key tokens are encrypted with in Redis.
    pub token_key: Option<Secret>,
    /// Announce opened circuits to the other replicas.
    pub announce_opens: bool,
}

impl FleetSection {
    /// What a Redis connection is made from: a reload that changes it
    /// needs a restart (the registry keeps the connection it started with).
    fn same_connection(&self, other: &FleetSection) -> bool {
        self.url == other.url
            && self.cluster == other.cluster
            && self.key_prefix == other.key_prefix
            && self.op_timeout == other.op_timeout
            && self.connect_timeout == other.connect_timeout
            && self.announce_opens == other.announce_opens
    }

    fn urls(&self) -> Vec<String> {
        split_urls(self.url.value().expose_secret())
    }
}

/// Which of a connector's state lives in the fleet's Redis
/// (`connectors.<name>.fleet`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetUse {
    /// Its rate limits (its own, its shared group's and its tenants') count in Redis.
    pub throttle: bool,
    /// Its OAuth2 access tokens are fetched once for the fleet and shared.
    pub tokens: bool,
    /// Operator overrides of its breaker (and, with `announce_opens`, opened circuits) reach every replica.
    pub breaker: bool,
}

impl FleetUse {
    /// Whether any of its state is shared.
    pub fn any(&self) -> bool {
        self.throttle || self.tokens || self.breaker
    }

    pub(crate) fn read(effective: &Effective) -> FleetUse {
        let on = |k: &str| matches!(effective.get(k), Some((Value::Bool(true), _)));
        FleetUse {
            throttle: on("fleet.throttle"),
            tokens: on("fleet.tokens"),
            breaker: on("fleet.breaker"),
        }
    }
}

/// `fleet = true` / `fleet = false` under a connector (or `[defaults]`):
/// the table that turns every part on or off, at the same line.
pub(crate) fn shorthand(path: &str, node: &Node) -> Option<Node> {
    match (path, &node.raw) {
        ("fleet", Raw::Bool(on)) => Some(Node {
            raw: Raw::Table(
                USE_KEYS
                    .iter()
                    .map(|k| {
                        let part = k.trim_start_matches("fleet.").to_owned();
                        (
                            part,
                            Node {
                                raw: Raw::Bool(*on),
                                line: node.line,
                            },
                        )
                    })
                    .collect(),
            ),
            line: node.line,
        }),
        _ => None,
    }
}

/// Reads the `[fleet]` table; every problem goes to `errors` with its path and line.
pub(crate) fn read(
    node: &Node,
    secrets: SecretRules<'_>,
    errors: &mut ValidationErrors,
) -> Option<FleetSection> {
    let entries = node.entries("fleet", errors)?;
    let before = errors.len();
    let mut reader = Reader { errors };
    let mut url = None;
    let mut cluster = false;
    let mut key_prefix = "conn".to_owned();
    let mut op_timeout = conn_redis::DEFAULT_OP_TIMEOUT;
    let mut connect_timeout = conn_redis::DEFAULT_CONNECT_TIMEOUT;
    let mut fail_closed = false;
    let mut replicas = 1u32;
    let mut token_key = None;
    let mut announce_opens = false;
    let mut url_line = node.line;
    for (k, value) in entries {
        let shown = format!("fleet.{k}");
        let Some(spec) = FLEET_KEYS.iter().find(|s| s.path == k) else {
            let known: Vec<&str> = FLEET_KEYS.iter().map(|s| s.path).collect();
            reader.errors.push(
                shown,
                value.line,
                format!("unknown key (expected {})", known.join(", ")),
            );
            continue;
        };
        let Some(read) = reader.read(spec.kind, value, &shown) else {
            continue;
        };
        match (k.as_str(), read) {
            ("url", Value::Secret(reference)) => {
                url_line = value.line;
                url = secret(&mut reader, reference, value, &shown, secrets);
            }
            ("token_key", Value::Secret(reference)) => {
                token_key = secret(&mut reader, reference, value, &shown, secrets);
                if let Some(key) = &token_key
                    && StoreKey::parse(key.value().expose_secret()).is_err()
                {
                    reader.errors.push(
                        shown,
                        value.line,
                        format!(
                            "{} does not hold a 32-byte key in hex or base64 (make one with `openssl rand -base64 32`)",
                            key.source()
                        ),
                    );
                }
            }
            ("cluster", Value::Bool(b)) => cluster = b,
            ("announce_opens", Value::Bool(b)) => announce_opens = b,
            ("key_prefix", Value::Str(s)) => {
                if s.is_empty() || s.contains(['{', '}']) || s.chars().any(char::is_whitespace) {
                    reader.errors.push(
                        shown,
                        value.line,
                        "must be non-empty, without spaces, '{' or '}' (braces are Redis Cluster hash tags)",
                    );
                }
                key_prefix = s;
            }
            ("op_timeout" | "connect_timeout", Value::Duration(d)) => {
                if d.is_zero() {
                    reader.errors.push(shown, value.line, "must be more than 0");
                } else if k == "op_timeout" {
                    op_timeout = d;
                } else {
                    connect_timeout = d;
                }
            }
            ("failure_policy", Value::Str(s)) => fail_closed = s == "fail_closed",
            ("replicas", Value::Int(i)) => replicas = u32::try_from(i).unwrap_or(u32::MAX),
            _ => {}
        }
    }
    match &url {
        Some(url) => check_urls(reader.errors, url, cluster, url_line),
        None if !entries.iter().any(|(k, _)| k == "url") => reader.errors.push(
            "fleet.url",
            node.line,
            "missing (the fleet's Redis, e.g. url = { env = \"REDIS_URL\" })",
        ),
        None => {}
    }
    if errors.len() != before {
        return None;
    }
    Some(FleetSection {
        url: url?,
        cluster,
        key_prefix,
        op_timeout,
        connect_timeout,
        failure_policy: if fail_closed {
            FailurePolicy::FailClosed
        } else {
            FailurePolicy::fail_open(replicas)
        },
        token_key,
        announce_opens,
    })
}

fn secret(
    reader: &mut Reader<'_>,
    reference: crate::values::SecretRef,
    node: &Node,
    shown: &str,
    secrets: SecretRules<'_>,
) -> Option<Secret> {
    match resolve_secret(reference, secrets, shown) {
        Ok(secret) => Some(secret),
        Err(message) => {
            reader.errors.push(shown, node.line, message);
            None
        }
    }
}

fn split_urls(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The URL's shape (the value itself is never shown: it may hold a password).
fn check_urls(errors: &mut ValidationErrors, url: &Secret, cluster: bool, line: Option<usize>) {
    let urls = split_urls(url.value().expose_secret());
    let source = url.source();
    if urls.is_empty() {
        errors.push("fleet.url", line, format!("{source} is empty"));
    } else if urls.len() > 1 && !cluster {
        errors.push(
            "fleet.url",
            line,
            format!("{source} holds several URLs: set cluster = true for Redis Cluster seed nodes"),
        );
    } else if !urls
        .iter()
        .all(|u| u.starts_with("redis://") || u.starts_with("rediss://"))
    {
        errors.push(
            "fleet.url",
            line,
            format!("{source} is not a redis:// or rediss:// URL"),
        );
    }
}

/// Checks one connector's opt-in against the section: a connector cannot
/// share state without a `[fleet]`, nor tokens without a `token_key`.
pub(crate) fn check_use(
    connector: &str,
    effective: &Effective,
    section: Option<&FleetSection>,
    section_present: bool,
    errors: &mut ValidationErrors,
) {
    let fleet_use = FleetUse::read(effective);
    let line = |k: &str| effective.get(k).and_then(|(_, origin)| origin.line());
    let set_by = |k: &str| match effective.get(k) {
        Some((_, Origin::Env(var))) => format!(" (set by {var})"),
        _ => String::new(),
    };
    if fleet_use.any() && !section_present {
        for k in USE_KEYS {
            if matches!(effective.get(k), Some((Value::Bool(true), _))) {
                errors.push(
                    format!("connectors.{connector}.{k}"),
                    line(k),
                    format!(
                        "shares state with the fleet, but the blueprint has no [fleet] section (add [fleet] with url = {{ env = \"REDIS_URL\" }}){}",
                        set_by(k)
                    ),
                );
            }
        }
        return;
    }
    if fleet_use.tokens && section.is_some_and(|s| s.token_key.is_none()) {
        errors.push(
            format!("connectors.{connector}.fleet.tokens"),
            line("fleet.tokens"),
            "shares tokens, which are encrypted in Redis: set token_key = { env = \"...\" } in [fleet]",
        );
    }
}

/// Connectors sharing one quota group must agree on whether it is the fleet's.
pub(crate) fn check_groups(
    connectors: &std::collections::BTreeMap<String, ConnectorConfig>,
    errors: &mut ValidationErrors,
) {
    let mut groups: std::collections::BTreeMap<&str, (&str, bool)> = std::collections::BTreeMap::new();
    for (name, config) in connectors {
        let Some(group) = config.throttle.shared.as_deref() else {
            continue;
        };
        match groups.get(group) {
            Some((first, fleet)) if *fleet != config.fleet.throttle => errors.push(
                format!("connectors.{name}.fleet.throttle"),
                None,
                format!("shares quota group {group:?} with {first}, which sets fleet.throttle differently; make them equal"),
            ),
            Some(_) => {}
            None => {
                groups.insert(group, (name, config.fleet.throttle));
            }
        }
    }
}

/// A connection to the fleet's Redis made from a blueprint's `[fleet]`
/// section, with the breaker signal every connector of the registry shares.
/// Cheap to clone; a [`Registry`] keeps it across reloads.
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

impl Registry {
    /// Builds every connector with one shared transport, like
    /// [`from_blueprint`](Self::from_blueprint), after connecting to the
    /// blueprint's `[fleet]` Redis if it has one (without one it is
    /// `from_blueprint`).
    pub async fn from_blueprint_with_fleet(
        blueprint: &Blueprint,
        transport: Arc<dyn Transport>,
    ) -> Result<Registry, Error> {
        let connection = FleetConnection::connect(blueprint).await?;
        Registry::with_fleet(
            blueprint,
            Arc::new(move |_: &ConnectorConfig| Ok(transport.clone())),
            connection,
        )
    }

    /// Builds every connector with its own `HyperTransport`, like
    /// [`from_blueprint_hyper`](Self::from_blueprint_hyper), after
    /// connecting to the blueprint's `[fleet]` Redis if it has one.
    pub async fn from_blueprint_hyper_with_fleet(blueprint: &Blueprint) -> Result<Registry, Error> {
        let connection = FleetConnection::connect(blueprint).await?;
        Registry::with_fleet(
            blueprint,
            Arc::new(crate::components::hyper_transport),
            connection,
        )
    }

    /// Builds every connector on a fleet connection made beforehand
    /// ([`FleetConnection::connect`]): sync, so it also suits code that
    /// connects once and builds several registries. `None` is for a
    /// blueprint without `[fleet]`.
    pub fn with_fleet(
        blueprint: &Blueprint,
        factory: TransportFactory,
        connection: Option<FleetConnection>,
    ) -> Result<Registry, Error> {
        if blueprint.fleet().is_some() && connection.is_none() {
            return Err(needs_connect());
        }
        check_reload(connection.as_ref(), blueprint)?;
        Registry::build(blueprint, factory, connection)
    }
}
