//! `KeyBy`: which calls share one throttle state.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use conn_core::CallInfo;

/// How calls are grouped into throttle keys. Each key has its own quotas,
/// queue, concurrency ceiling and server-driven pause; keys are created on
/// demand and evicted when idle.
#[derive(Clone, Default)]
pub enum KeyBy {
    /// One state for every call through this throttle (one account-wide
    /// quota). The default. Keys do not include the connector's name: two
    /// connectors sharing one throttle share its quota, which is what a
    /// vendor's account-wide limit needs (the breaker's default,
    /// `KeyBy::Connector`, keeps connectors apart instead).
    #[default]
    Global,
    /// One state per tenant (calls without a tenant share one).
    Tenant,
    /// One state per endpoint path (query excluded).
    Endpoint,
    /// One state per (tenant, endpoint).
    TenantAndEndpoint,
    /// A user function of the call.
    Custom(Arc<dyn Fn(&CallInfo<'_>) -> String + Send + Sync>),
}

impl KeyBy {
    /// The key of `call`.
    pub fn key<'a>(&self, call: &CallInfo<'a>) -> Cow<'a, str> {
        let endpoint = || call.request.path();
        match self {
            KeyBy::Global => Cow::Borrowed(""),
            KeyBy::Tenant => Cow::Borrowed(call.context.tenant_id().unwrap_or_default()),
            KeyBy::Endpoint => Cow::Borrowed(endpoint()),
            KeyBy::TenantAndEndpoint => {
                // The separator cannot appear in a validated endpoint, so keys never collide.
                Cow::Owned(format!(
                    "{}\u{1f}{}",
                    call.context.tenant_id().unwrap_or_default(),
                    endpoint()
                ))
            }
            KeyBy::Custom(key) => Cow::Owned(key(call)),
        }
    }
}

impl fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyBy::Global => "Global",
            KeyBy::Tenant => "Tenant",
            KeyBy::Endpoint => "Endpoint",
            KeyBy::TenantAndEndpoint => "TenantAndEndpoint",
            KeyBy::Custom(_) => "Custom",
        })
    }
}
