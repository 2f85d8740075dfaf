//! The token cache's metrics: refreshes and the expiry of the token each
//! connector sends, so an operator can alert before a token runs out with
//! nothing renewing it.
//!
//! The cache learns its connector only when a connector is built with it
//! ([`AuthStrategy::bind_telemetry`](conn_core::AuthStrategy::bind_telemetry)):
//! until then its metrics have no connector label. Without the
//! connector's tenant label the gauge is the soonest expiry among the
//! tenants' tokens, so this keeps each tenant's expiry to take the minimum.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use conn_core::Telemetry;
use conn_core::component::hooks;
use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct TokenMetrics {
    binding: OnceLock<Binding>,
    /// Each tenant's current token's expiry (`None`: calls without a tenant).
    expiries: Mutex<HashMap<Option<Arc<str>>, Instant>>,
}

struct Binding {
    connector: String,
    telemetry: Telemetry,
}

impl TokenMetrics {
    /// The first connector built with the cache names its metrics (a cache
    /// shared by several connectors keeps the first name).
    pub(crate) fn bind(&self, connector: &str, telemetry: Telemetry) {
        let _ = self.binding.set(Binding {
            connector: connector.to_owned(),
            telemetry,
        });
    }

    /// The connector label and whether tenants are labelled; `None` when the
    /// connector's telemetry is off.
    fn labels(&self) -> Option<(&str, bool)> {
        match self.binding.get() {
            None => Some(("", false)),
            Some(b) if !b.telemetry.enabled => None,
            Some(b) => Some((&b.connector, b.telemetry.tenant_label)),
        }
    }

    /// A token request finished.
    pub(crate) fn refreshed(&self, ok: bool) {
        if let Some((connector, _)) = self.labels() {
            hooks::token_refreshed(connector, ok);
        }
    }

    /// The tenant has a new token, good until `expires_at`.
    pub(crate) fn cached(&self, tenant: Option<&Arc<str>>, expires_at: Instant) {
        let Some((connector, tenant_label)) = self.labels() else {
            return;
        };
        let mut expiries = self.lock();
        expiries.insert(tenant.cloned(), expires_at);
        if tenant_label {
            let tenant = tenant.map_or("", |t| t);
            hooks::token_expiry(connector, Some(tenant), wall_clock(expires_at));
        } else {
            publish_soonest(connector, &mut expiries);
        }
    }

    /// The tenant's token was discarded (refused, invalidated, forgotten).
    pub(crate) fn discarded(&self, tenant: Option<&str>) {
        let Some((connector, tenant_label)) = self.labels() else {
            return;
        };
        let mut expiries = self.lock();
        expiries.retain(|t, _| t.as_deref() != tenant);
        // With tenant labels the tenant's own series keeps its last value: a
        // new token replaces it, an idle tenant's lapses.
        if !tenant_label {
            publish_soonest(connector, &mut expiries);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<Arc<str>>, Instant>> {
        // Every update leaves the map consistent.
        self.expiries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sets the connector's gauge to the soonest expiry among tokens still
/// valid: one that lapsed unused (an idle tenant) is not about to expire, it
/// will be fetched again when needed. With none left the gauge keeps its
/// last value.
fn publish_soonest(connector: &str, expiries: &mut HashMap<Option<Arc<str>>, Instant>) {
    let now = Instant::now();
    expiries.retain(|_, at| *at > now);
    if let Some(soonest) = expiries.values().min() {
        hooks::token_expiry(connector, None, wall_clock(*soonest));
    }
}

/// The wall-clock time of a (future) instant of tokio's clock.
fn wall_clock(at: Instant) -> SystemTime {
    SystemTime::now() + at.saturating_duration_since(Instant::now())
}
