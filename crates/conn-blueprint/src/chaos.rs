//! `[connectors.<name>.chaos]`: fault injection for a game day, set in the
//! blueprint an operator already edits, so a staging deployment gets chaos
//! by configuration and loses it on the next reload without a rebuild.
//! Absent or `enabled = false`, nothing wraps the transport. A release
//! binary also needs `allow_in_release = "why"`, as conn-chaos demands.

use std::sync::Arc;
use std::time::Duration;

use conn_chaos::{ChaosTransport, Faults, Target};
use conn_core::{Error, Transport};

use crate::layers::Effective;
use crate::values::Value;

/// The chaos settings of one connector.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosConfig {
    /// The fault mix.
    pub faults: Faults,
    /// Only requests whose path (base path included) starts with one of these; all if empty.
    pub paths: Vec<String>,
    /// Only requests whose header `tenant_header` is one of `tenants`.
    pub tenant_header: Option<String>,
    /// The tenants chaos may touch (with `tenant_header`).
    pub tenants: Vec<String>,
    /// A fixed seed for reproducible faults.
    pub seed: Option<u64>,
    /// Why chaos runs in a release binary, if it may.
    pub allow_in_release: Option<String>,
}

impl ChaosConfig {
    /// The settings under `chaos.*`, or `None` when chaos is not enabled.
    pub(crate) fn read(effective: &Effective) -> Option<ChaosConfig> {
        let get = |k: &str| effective.get(k).map(|(v, _)| v);
        if !matches!(get("chaos.enabled"), Some(Value::Bool(true))) {
            return None;
        }
        let rate = |k: &str| match get(k) {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            _ => 0.0,
        };
        let duration = |k: &str, default: Duration| match get(k) {
            Some(Value::Duration(d)) => *d,
            _ => default,
        };
        let text = |k: &str| match get(k) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let list = |k: &str| match get(k) {
            Some(Value::StrList(l)) => l.clone(),
            _ => Vec::new(),
        };
        let faults = Faults::none()
            .server_errors(rate("chaos.server_errors"))
            .rate_limits(
                rate("chaos.rate_limits"),
                duration("chaos.retry_after", Duration::from_secs(1)),
            )
            .resets(rate("chaos.resets"))
            .timeouts(rate("chaos.timeouts"))
            .malformed_bodies(rate("chaos.malformed_bodies"))
            .latency(
                rate("chaos.latency"),
                duration("chaos.latency_min", Duration::ZERO),
                duration("chaos.latency_max", Duration::ZERO),
            );
        Some(ChaosConfig {
            faults,
            paths: list("chaos.paths"),
            tenant_header: text("chaos.tenant_header"),
            tenants: list("chaos.tenants"),
            seed: match get("chaos.seed") {
                Some(Value::Int(i)) => u64::try_from(*i).ok(),
                _ => None,
            },
            allow_in_release: text("chaos.allow_in_release"),
        })
    }

    /// What is wrong with these settings, if anything (checked when the
    /// blueprint is loaded, so `conn check` reports it).
    pub(crate) fn problem(&self) -> Option<String> {
        if let Err(err) = self.faults.validate() {
            return Some(err.message().to_owned());
        }
        if !self.tenants.is_empty() && self.tenant_header.is_none() {
            return Some(
                "chaos.tenants needs chaos.tenant_header (the request header that names the tenant)".into(),
            );
        }
        None
    }

    /// Wraps `transport` in a chaos transport, enabled from the start.
    pub(crate) fn wrap(&self, transport: Arc<dyn Transport>) -> Result<Arc<dyn Transport>, Error> {
        let mut target = Target::all();
        for path in &self.paths {
            target = target.path_prefix(path.clone());
        }
        if let Some(header) = &self.tenant_header {
            target = target.tenants(header, self.tenants.iter().cloned());
        }
        let mut builder = ChaosTransport::builder(transport)
            .faults(self.faults.clone())
            .target(target)
            .enabled(true);
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        if let Some(reason) = &self.allow_in_release {
            builder = builder.allow_in_release(reason.clone());
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// The transport a connector uses: `transport` itself, or wrapped in chaos.
pub(crate) fn wrap(
    transport: Arc<dyn Transport>,
    chaos: &Option<ChaosConfig>,
) -> Result<Arc<dyn Transport>, Error> {
    match chaos {
        Some(chaos) => chaos.wrap(transport),
        None => Ok(transport),
    }
}
