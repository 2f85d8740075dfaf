//! Feature flags: a connector's alternative retry / throttle configuration,
//! used for a share of calls (by correlation id) or for listed tenants.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use conn_core::{
    AttemptOutcome, AuthStrategy, BoxFuture, Breaker, CallInfo, Context, Error, ErrorKind, Permit, Request,
    RetryDecision, RetryPolicy, Throttle,
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

    fn outcome(&self, variant: bool, outcome: &'static str) {
        metrics::counter!(
            VARIANT_CALLS_TOTAL,
            "connector" => self.connector.clone(),
            "variant" => self.label(variant).to_owned(),
            "outcome" => outcome,
        )
        .increment(1);
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
            VARIANT_DECISIONS_TOTAL,
            "connector" => self.selector.connector.clone(),
            "variant" => self.selector.label(on_variant).to_owned(),
            "decision" => label,
        )
        .increment(1);
        // The attempt whose outcome is the call's result: count it per variant.
        let last = match &decision {
            RetryDecision::Retry { delay } => !call.deadline.allows_wait(*delay),
            _ => true,
        };
        if last {
            let outcome = match outcome.result {
                Ok(response) => ErrorKind::from_status(response.status()).map_or("success", ErrorKind::label),
                Err(error) => error.kind().label(),
            };
            self.selector.outcome(on_variant, outcome);
        }
        decision
    }

    // A hedge spends the budget of the policy that would decide its retries.
    fn allow_hedge(&self, call: &CallInfo<'_>) -> bool {
        if self.selector.pick(call, false) {
            self.variant.allow_hedge(call)
        } else {
            self.base.allow_hedge(call)
        }
    }
}

/// Retry decisions per variant: labels `connector`, `variant`, `decision`.
pub const VARIANT_DECISIONS_TOTAL: &str = "conn_blueprint_variant_decisions_total";
/// Calls finished per variant: labels `connector`, `variant` (`base` or the
/// variant's name) and `outcome` (`success` or an `ErrorKind::label`, as in
/// `conn_requests_total`; `rate_limited` for a call the throttle refused).
pub const VARIANT_CALLS_TOTAL: &str = "conn_blueprint_variant_calls_total";

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
        let throttle = if on_variant { &self.variant } else { &self.base };
        Box::pin(async move {
            let result = throttle.acquire(call).await;
            if let Err(error) = &result {
                self.selector.outcome(on_variant, error.kind().label());
            }
            result
        })
    }

    fn observe(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
        let on_variant = self.selector.pick(call, false);
        if on_variant { &self.variant } else { &self.base }.observe(call, outcome)
    }
}

/// The connector's breaker, counting calls it refuses per variant (a refused
/// call never reaches the retry decision).
pub(crate) struct CountingBreaker {
    pub(crate) selector: Arc<Selector>,
    pub(crate) inner: Arc<dyn Breaker>,
}

impl Breaker for CountingBreaker {
    fn admit(&self, call: &CallInfo<'_>) -> Result<Permit, Error> {
        let result = self.inner.admit(call);
        if let Err(error) = &result {
            let on_variant = self.selector.pick(call, false);
            self.selector.outcome(on_variant, error.kind().label());
        }
        result
    }

    fn record(&self, call: &CallInfo<'_>, permit: Permit, outcome: &AttemptOutcome<'_>) {
        self.inner.record(call, permit, outcome)
    }
}

/// The connector's auth, counting calls that fail on it per variant (such a
/// call never reaches the retry decision).
pub(crate) struct CountingAuth {
    pub(crate) selector: Arc<Selector>,
    pub(crate) inner: Arc<dyn AuthStrategy>,
}

impl AuthStrategy for CountingAuth {
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let result = self.inner.authorize(request, context).await;
            if let Err(error) = &result {
                self.selector
                    .outcome(self.selector.selects(context), error.kind().label());
            }
            result
        })
    }

    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let result = self.inner.refresh(context).await;
            if let Err(error) = &result {
                self.selector
                    .outcome(self.selector.selects(context), error.kind().label());
            }
            result
        })
    }

    fn bind_telemetry(&self, connector: &str, telemetry: conn_core::Telemetry) {
        self.inner.bind_telemetry(connector, telemetry);
    }
}
