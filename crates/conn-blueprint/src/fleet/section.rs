//! Reading the `[fleet]` section and checking each connector's opt-in
//! against it.

use std::time::Duration;

use conn_core::store::StoreKey;
use conn_redis::FailurePolicy;
use secrecy::ExposeSecret;

use crate::build::{SecretRules, resolve_secret};
use crate::config::ConnectorConfig;
use crate::errors::ValidationErrors;
use crate::layers::{Effective, Origin};
use crate::schema::{FLEET_KEYS, FLEET_USE_KEYS};
use crate::secret::Secret;
use crate::tree::Node;
use crate::values::{Reader, Value};

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
    pub(crate) fn same_connection(&self, other: &FleetSection) -> bool {
        self.url == other.url
            && self.cluster == other.cluster
            && self.key_prefix == other.key_prefix
            && self.op_timeout == other.op_timeout
            && self.connect_timeout == other.connect_timeout
            && self.announce_opens == other.announce_opens
    }

    pub(crate) fn urls(&self) -> Vec<String> {
        split_urls(self.url.value().expose_secret())
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
    let fleet_use = crate::config::FleetUse::read(effective);
    let line = |k: &str| effective.get(k).and_then(|(_, origin)| origin.line());
    let set_by = |k: &str| match effective.get(k) {
        Some((_, Origin::Env(var))) => format!(" (set by {var})"),
        _ => String::new(),
    };
    if fleet_use.any() && !section_present {
        for k in FLEET_USE_KEYS {
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
