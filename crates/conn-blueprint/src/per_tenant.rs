//! Components that route each call to its tenant's own part: credentials
//! (from the blueprint or supplied at run time), quota and retry policy.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conn_core::{
    AttemptOutcome, AuthStrategy, BoxFuture, CallInfo, Context, CredentialStatus, Error, Permit, Request,
    RetryDecision, RetryPolicy, Throttle, Transport,
};
use conn_throttle::Throttler;

/// Tenant credentials supplied at run time, by (connector, tenant); they
/// survive reloads.
#[derive(Default)]
pub(crate) struct RuntimeAuth {
    pub(crate) strategies: RwLock<HashMap<(String, String), Arc<dyn AuthStrategy>>>,
}

impl RuntimeAuth {
    pub(crate) fn get(&self, connector: &str, tenant: &str) -> Option<Arc<dyn AuthStrategy>> {
        let map = self.strategies.read().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return None;
        }
        map.get(&(connector.to_owned(), tenant.to_owned())).cloned()
    }
}

/// Per-tenant credentials: the context's tenant picks the strategy (the
/// blueprint's, else one supplied at run time); a tenant with neither (or no
/// tenant) uses the connector's own.
pub(crate) struct TenantAuth {
    pub(crate) connector: String,
    pub(crate) default: Arc<dyn AuthStrategy>,
    pub(crate) tenants: HashMap<String, Arc<dyn AuthStrategy>>,
    pub(crate) runtime: Arc<RuntimeAuth>,
}

impl TenantAuth {
    fn pick(&self, context: &Context) -> Arc<dyn AuthStrategy> {
        let Some(tenant) = context.tenant_id() else {
            return self.default.clone();
        };
        if let Some(strategy) = self.tenants.get(tenant) {
            return strategy.clone();
        }
        self.runtime
            .get(&self.connector, tenant)
            .unwrap_or_else(|| self.default.clone())
    }
}

impl AuthStrategy for TenantAuth {
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let strategy = self.pick(context);
        Box::pin(async move { strategy.authorize(request, context).await })
    }

    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        let strategy = self.pick(context);
        Box::pin(async move { strategy.refresh(context).await })
    }

    /// The connector's own strategy's entries, then each tenant's own
    /// (blueprint, then run time), each tenant's only for that tenant: a
    /// tenant's strategy serves no other, so anything else it holds is
    /// not this connector's.
    fn credential_status(&self) -> Vec<CredentialStatus> {
        let mut statuses = self.default.credential_status();
        let own = |tenant: &str, strategy: &Arc<dyn AuthStrategy>| {
            strategy
                .credential_status()
                .into_iter()
                .filter(|s| s.tenant.as_deref() == Some(tenant))
                .collect::<Vec<_>>()
        };
        let mut tenants: Vec<_> = self.tenants.iter().collect();
        tenants.sort_by(|a, b| a.0.cmp(b.0));
        for (tenant, strategy) in tenants {
            statuses.extend(own(tenant, strategy));
        }
        let runtime: Vec<(String, Arc<dyn AuthStrategy>)> = {
            let map = self.runtime.strategies.read().unwrap_or_else(|e| e.into_inner());
            let mut list: Vec<_> = map
                .iter()
                .filter(|((connector, tenant), _)| {
                    *connector == self.connector && !self.tenants.contains_key(tenant)
                })
                .map(|((_, tenant), strategy)| (tenant.clone(), strategy.clone()))
                .collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list
        };
        for (tenant, strategy) in &runtime {
            statuses.extend(own(tenant, strategy));
        }
        statuses
    }

    /// The connector's own strategy and each tenant's from the blueprint
    /// (`Registry::set_tenant_auth` binds those supplied at run time).
    fn bind_telemetry(&self, connector: &str, telemetry: conn_core::Telemetry) {
        self.default.bind_telemetry(connector, telemetry);
        for strategy in self.tenants.values() {
            strategy.bind_telemetry(connector, telemetry);
        }
    }

    /// The connector's own strategy decides (a tenant's strategy of another
    /// kind cannot wrap a transport the connector shares).
    fn wrap_transport(&self, transport: Arc<dyn Transport>) -> Arc<dyn Transport> {
        self.default.wrap_transport(transport)
    }
}

/// Per-tenant quotas: the call's tenant picks its own throttle; a tenant
/// not listed (or no tenant) uses the connector's.
pub(crate) struct TenantThrottle {
    pub(crate) default: Arc<dyn Throttle>,
    pub(crate) tenants: HashMap<String, Arc<Throttler>>,
}

impl TenantThrottle {
    fn pick(&self, context: &Context) -> &dyn Throttle {
        match context.tenant_id().and_then(|t| self.tenants.get(t)) {
            Some(throttle) => &**throttle,
            None => &*self.default,
        }
    }
}

impl Throttle for TenantThrottle {
    fn acquire<'a>(&'a self, call: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        self.pick(call.context).acquire(call)
    }

    fn observe(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) {
        self.pick(call.context).observe(call, outcome)
    }
}

/// Per-tenant retry: the call's tenant picks its own policy (and budget).
pub(crate) struct TenantRetry {
    pub(crate) default: Arc<dyn RetryPolicy>,
    pub(crate) tenants: HashMap<String, Arc<dyn RetryPolicy>>,
}

impl RetryPolicy for TenantRetry {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        match call.context.tenant_id().and_then(|t| self.tenants.get(t)) {
            Some(policy) => policy.decide(call, outcome),
            None => self.default.decide(call, outcome),
        }
    }

    // A hedge spends the budget of the policy that would decide its retries.
    fn allow_hedge(&self, call: &CallInfo<'_>) -> bool {
        match call.context.tenant_id().and_then(|t| self.tenants.get(t)) {
            Some(policy) => policy.allow_hedge(call),
            None => self.default.allow_hedge(call),
        }
    }
}
