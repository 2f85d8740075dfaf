//! Feature flags: a connector's alternative retry / throttle configuration,
//! used for a share of calls (by correlation id) or for listed tenants.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use conn_core::{
    AttemptOutcome, BoxFuture, CallInfo, Context, Error, Permit, RetryDecision, RetryPolicy, Throttle,
};

/// Decides, per call, whether it runs on the variant. The choice depends only
/// on the tenant and the correlation id, so every attempt of a call (and a
/// retried call that keeps its correlation id) sees the same configuration.
#[derive(Debug)]
pub struct Selector {
    connector: String,
    name: String,
    /// Share in basis points (1/100 of a percent).
    basis_points: u64,
    tenants: HashSet<String>,
    on_variant: AtomicU64,
    on_base: AtomicU64,
}

impl Selector {
    /// A selector for `percent` of calls (0-100) plus every call of `tenants`.
    pub fn new(connector: &str, name: &str, percent: f64, tenants: &[String]) -> Selector {
        Selector {
            connector: connector.to_owned(),
            name: name.to_owned(),
            basis_points: (percent.clamp(0.0, 100.0) * 100.0).round() as u64,
            tenants: tenants.iter().cloned().collect(),
            on_variant: AtomicU64::new(0),
            on_base: AtomicU64::new(0),
        }
    }

    /// Whether a call with `context` runs on the variant.
    pub fn selects(&self, context: &Context) -> bool {
        if context.tenant_id().is_some_and(|t| self.tenants.contains(t)) {
            return true;
        }
        let Some(id) = context.correlation() else {
            return false;
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.connector.hash(&mut hasher);
        id.hash(&mut hasher);
        hasher.finish() % 10_000 < self.basis_points
    }

    /// Calls counted on (variant, base) so far (counted at their first attempt).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.on_variant.load(Ordering::Relaxed),
            self.on_base.load(Ordering::Relaxed),
        )
    }

    fn pick(&self, call: &CallInfo<'_>, count: bool) -> bool {
        let variant = self.selects(call.context);
        if count && call.attempt <= 1 {
            let counter = if variant { &self.on_variant } else { &self.on_base };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        variant
    }

    fn label(&self, variant: bool) -> &str {
        if variant { &self.name } else { "base" }
    }
}

/// A retry policy that delegates to the base or the variant policy per call
/// and records each decision as metric `conn_blueprint_variant_decisions_total`
/// labelled `connector`, `variant` and `decision`.
pub(crate) struct SplitRetry {
    pub(crate) selector: Arc<Selector>,
    pub(crate) base: Arc<dyn RetryPolicy>,
    pub(crate) variant: Arc<dyn RetryPolicy>,
}

impl RetryPolicy for SplitRetry {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let on_variant = self.selector.pick(call, false);
        let decision = if on_variant { &self.variant } else { &self.base }.decide(call, outcome);
        let label = match decision {
            RetryDecision::Retry { .. } => "retry",
            RetryDecision::GiveUp { .. } => "give_up",
            _ => "stop",
        };
        metrics::counter!(
            "conn_blueprint_variant_decisions_total",
            "connector" => self.selector.connector.clone(),
            "variant" => self.selector.label(on_variant).to_owned(),
            "decision" => label,
        )
        .increment(1);
        decision
    }
}

/// A throttle that delegates to the base or the variant throttle per call;
/// it also counts calls per variant (see [`Selector::counts`]).
pub(crate) struct SplitThrottle {
    pub(crate) selector: Arc<Selector>,
    pub(crate) base: Arc<dyn Throttle>,
    pub(crate) variant: Arc<dyn Throttle>,
}

impl Throttle for SplitThrottle {
    fn acquire<'a>(&'a self, call: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        let on_variant = self.selector.pick(call, true);
        if on_variant { &self.variant } else { &self.base }.acquire(call)
    }

    fn observe(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
        let on_variant = self.selector.pick(call, false);
        if on_variant { &self.variant } else { &self.base }.observe(call, outcome)
    }
}
