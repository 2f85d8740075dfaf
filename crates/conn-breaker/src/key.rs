//! `KeyBy`: which calls share one circuit.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use conn_core::CallInfo;

/// Separates the parts of a built-in key. A validated endpoint never contains
/// it (control characters are refused), and the tenant, the only part a
/// caller controls, always comes last, so two different (connector,
/// endpoint, tenant) triples can never produce the same key.
pub const KEY_SEPARATOR: char = '\u{1f}';

/// How calls are grouped into circuits. Each key has its own state, windows
/// and probes: one failing endpoint (or one tenant's failing account) never
/// blocks another.
///
/// Built-in keys always start with the connector's name, so one breaker can be
/// shared by several connectors without mixing them up. Use
/// [`KeyBy::key_parts`] to name a key for [`snapshot`](crate::CircuitBreaker::snapshot)
/// or manual control.
///
/// ```
/// use conn_breaker::KeyBy;
///
/// assert_eq!(KeyBy::Connector.key_parts("billing", "/invoices", Some("acme")), "billing");
/// assert_eq!(
///     KeyBy::TenantAndEndpoint.key_parts("billing", "/invoices", Some("acme")),
///     "billing\u{1f}/invoices\u{1f}acme"
/// );
/// ```
#[derive(Clone, Default)]
pub enum KeyBy {
    /// One circuit per connector (its name). The default: a breaker shared by
    /// two connectors still judges each upstream on its own (unlike the
    /// throttle's `KeyBy::Global`, where sharing one quota is the point).
    #[default]
    Connector,
    /// One circuit per (connector, tenant); calls without a tenant share one.
    Tenant,
    /// One circuit per (connector, endpoint path); the query is not part of it.
    /// Paths with ids in them (`/orders/123`) make one key per id: group them
    /// with [`KeyBy::Custom`] instead.
    Endpoint,
    /// One circuit per (connector, endpoint path, tenant).
    TenantAndEndpoint,
    /// A user function of the call. It runs on every attempt, so keep it cheap;
    /// include the tenant if tenants must be isolated.
    Custom(Arc<dyn Fn(&CallInfo<'_>) -> String + Send + Sync>),
}

thread_local! {
    /// Built keys are assembled here and looked up by `&str`, so the hot path
    /// allocates only when a key is seen for the first time.
    static KEY_BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

impl KeyBy {
    /// The key of `call`, as an owned string.
    pub fn key(&self, call: &CallInfo<'_>) -> String {
        self.with_key(call, str::to_owned)
    }

    /// The key for a connector, endpoint (query ignored) and tenant, as
    /// [`KeyBy::key`] would build it for such a call. [`KeyBy::Custom`] has no
    /// parts to build from and returns the connector's name.
    pub fn key_parts(&self, connector: &str, endpoint: &str, tenant: Option<&str>) -> String {
        let mut key = String::new();
        self.build(&mut key, connector, conn_core::endpoint_path(endpoint), tenant);
        key
    }

    /// Runs `f` with the key of `call`, without allocating for the built-in keys.
    pub(crate) fn with_key<R>(&self, call: &CallInfo<'_>, f: impl FnOnce(&str) -> R) -> R {
        let endpoint = || call.request.path();
        match self {
            KeyBy::Connector => f(call.connector),
            KeyBy::Custom(key) => f(&key(call)),
            _ => KEY_BUFFER.with(|buffer| match buffer.try_borrow_mut() {
                Ok(mut buffer) => {
                    buffer.clear();
                    self.build(&mut buffer, call.connector, endpoint(), call.context.tenant_id());
                    f(&buffer)
                }
                // Only reachable if `f` itself built a key; stay correct, just slower.
                Err(_) => {
                    let mut key = String::new();
                    self.build(&mut key, call.connector, endpoint(), call.context.tenant_id());
                    f(&key)
                }
            }),
        }
    }

    /// Whether `key` is the key of `call`: the same answer as comparing with
    /// the built key, without building it. Always false for `Custom`, whose
    /// key must be computed.
    pub(crate) fn matches(&self, key: &str, call: &CallInfo<'_>) -> bool {
        let endpoint = || call.request.path();
        let tenant = || call.context.tenant_id().unwrap_or_default();
        let after_connector = || {
            key.strip_prefix(call.connector)
                .and_then(|rest| rest.strip_prefix(KEY_SEPARATOR))
        };
        match self {
            KeyBy::Connector => key == call.connector,
            KeyBy::Custom(_) => false,
            KeyBy::Endpoint => after_connector().is_some_and(|rest| rest == endpoint()),
            KeyBy::Tenant => after_connector().is_some_and(|rest| rest == tenant()),
            KeyBy::TenantAndEndpoint => after_connector()
                .and_then(|rest| rest.strip_prefix(endpoint()))
                .and_then(|rest| rest.strip_prefix(KEY_SEPARATOR))
                .is_some_and(|rest| rest == tenant()),
        }
    }

    fn build(&self, key: &mut String, connector: &str, endpoint: &str, tenant: Option<&str>) {
        key.push_str(connector);
        match self {
            KeyBy::Connector | KeyBy::Custom(_) => {}
            KeyBy::Endpoint => {
                key.push(KEY_SEPARATOR);
                key.push_str(endpoint);
            }
            KeyBy::Tenant => {
                key.push(KEY_SEPARATOR);
                key.push_str(tenant.unwrap_or_default());
            }
            KeyBy::TenantAndEndpoint => {
                key.push(KEY_SEPARATOR);
                key.push_str(endpoint);
                key.push(KEY_SEPARATOR);
                key.push_str(tenant.unwrap_or_default());
            }
        }
    }
}

impl fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyBy::Connector => "Connector",
            KeyBy::Endpoint => "Endpoint",
            KeyBy::Tenant => "Tenant",
            KeyBy::TenantAndEndpoint => "TenantAndEndpoint",
            KeyBy::Custom(_) => "Custom",
        })
    }
}

#[cfg(test)]
mod tests {
    use conn_core::{Context, Request};

    use super::*;

    fn key_of(by: &KeyBy, endpoint: &str, tenant: Option<&str>) -> String {
        let request = Request::get(endpoint);
        let context = match tenant {
            Some(t) => Context::new().tenant(t),
            None => Context::new(),
        };
        let call = CallInfo::new("c", &request, &context);
        by.key(&call)
    }

    #[test]
    fn built_in_keys() {
        assert_eq!(key_of(&KeyBy::Connector, "/a?x=1", Some("t")), "c");
        assert_eq!(key_of(&KeyBy::Endpoint, "/a?x=1", Some("t")), "c\u{1f}/a");
        assert_eq!(key_of(&KeyBy::Tenant, "/a", Some("t")), "c\u{1f}t");
        assert_eq!(key_of(&KeyBy::Tenant, "/a", None), "c\u{1f}");
        assert_eq!(
            key_of(&KeyBy::TenantAndEndpoint, "/a?q", Some("t")),
            "c\u{1f}/a\u{1f}t"
        );
        let custom = KeyBy::Custom(Arc::new(|call: &CallInfo<'_>| call.request.method().to_string()));
        assert_eq!(key_of(&custom, "/a", None), "GET");
    }

    #[test]
    fn matching_agrees_with_building() {
        let request = Request::get("/a/b?q=1");
        let context = Context::new().tenant("t");
        let call = CallInfo::new("c", &request, &context);
        let candidates = [
            "c",
            "c\u{1f}/a/b",
            "c\u{1f}t",
            "c\u{1f}/a/b\u{1f}t",
            "c\u{1f}/a/b\u{1f}",
            "c\u{1f}/a\u{1f}t",
            "c\u{1f}/a/b\u{1f}tt",
            "cc\u{1f}t",
            "",
            "c\u{1f}",
        ];
        for by in [
            KeyBy::Connector,
            KeyBy::Endpoint,
            KeyBy::Tenant,
            KeyBy::TenantAndEndpoint,
        ] {
            for key in candidates {
                assert_eq!(by.matches(key, &call), by.key(&call) == key, "{by:?} {key:?}");
            }
            assert!(by.matches(&by.key(&call), &call));
        }
    }

    #[test]
    fn a_hostile_tenant_cannot_reach_another_key() {
        // The endpoint cannot hold the separator (the pipeline refuses control
        // characters) and the tenant comes last, so a key always splits back
        // into exactly the parts it was made of.
        let key = key_of(&KeyBy::TenantAndEndpoint, "/a", Some("b\u{1f}/c"));
        let parts: Vec<&str> = key.splitn(3, KEY_SEPARATOR).collect();
        assert_eq!(parts, ["c", "/a", "b\u{1f}/c"]);
        assert_eq!(
            KeyBy::TenantAndEndpoint.key_parts("c", "/a?q=1", Some("t")),
            key_of(&KeyBy::TenantAndEndpoint, "/a?q=1", Some("t"))
        );
    }
}
