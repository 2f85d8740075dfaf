//! Assembling a registry's connectors from a blueprint: each connector's
//! parts built, or kept from the running set when their configuration did
//! not change (so a reload keeps quotas, circuits, budgets and tokens).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use conn_breaker::CircuitBreaker;
use conn_core::{AuthStrategy, Connector, Error, NoThrottle, RetryPolicy, Throttle, Transport};
use conn_retry::RetryBudget;
use conn_throttle::Throttler;

use crate::blueprint::Blueprint;
use crate::components::{auth, breaker, new_throttle, normalizer, retry};
use crate::config::{BudgetConfig, ConnectorConfig, ThrottleConfig};
use crate::per_tenant::{RuntimeAuth, TenantAuth, TenantRetry, TenantThrottle};
use crate::variant::{CountingAuth, CountingBreaker, Selector, SplitRetry, SplitThrottle};

/// Makes the transport of one connector from its configuration.
pub type TransportFactory = Arc<dyn Fn(&ConnectorConfig) -> Result<Arc<dyn Transport>, Error> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) config: ConnectorConfig,
    pub(crate) connector: Connector,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) auth: Arc<dyn AuthStrategy>,
    pub(crate) throttle: Option<Arc<Throttler>>,
    pub(crate) breaker: Option<Arc<CircuitBreaker>>,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    pub(crate) selector: Option<Arc<Selector>>,
    pub(crate) variant_throttle: Option<Arc<Throttler>>,
    /// Per-tenant quotas, kept across reloads while the tenant's throttle is equal.
    pub(crate) tenant_throttles: HashMap<String, Arc<Throttler>>,
    /// Per-tenant retry budgets, kept across reloads while the tenant's budget is equal.
    pub(crate) tenant_budgets: HashMap<String, Arc<RetryBudget>>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) slots: BTreeMap<String, Slot>,
    pub(crate) throttle_groups: HashMap<String, (ThrottleConfig, Arc<Throttler>)>,
    pub(crate) budget_groups: HashMap<String, (BudgetConfig, Arc<RetryBudget>)>,
}

pub(crate) fn assemble(
    blueprint: &Blueprint,
    old: &State,
    factory: &TransportFactory,
    runtime_auth: &Arc<RuntimeAuth>,
) -> Result<State, Error> {
    let mut state = State::default();
    for (name, config) in blueprint.connectors() {
        let previous = old.slots.get(name);
        let transport = match previous {
            Some(slot) if slot.config.same_transport(config) => slot.transport.clone(),
            _ => factory(config)?,
        };
        let transport_kept = previous.is_some_and(|s| Arc::ptr_eq(&s.transport, &transport));
        let auth = match previous {
            Some(slot)
                if transport_kept
                    && slot.config.auth == config.auth
                    && slot.config.tenant_auth == config.tenant_auth
                    && slot.config.allow_http == config.allow_http =>
            {
                slot.auth.clone()
            }
            _ => connector_auth(config, transport.clone(), runtime_auth)?,
        };
        let throttle = throttle(config, previous, old, &mut state);
        let budget = budget(config, previous, old, &mut state);
        let breaker = match previous {
            Some(slot) if slot.config.breaker == config.breaker => slot.breaker.clone(),
            _ => breaker(&config.breaker),
        };

        let base_retry: Arc<dyn RetryPolicy> = Arc::new(retry(&config.retry, budget.clone()));
        let (retry_policy, selector, variant_throttle, split_throttle) = match &config.variant {
            None => (base_retry, None, None, None),
            Some(variant) => {
                let kept = previous.filter(|slot| slot.config.variant.as_ref() == Some(variant));
                let selector = match kept.and_then(|slot| slot.selector.clone()) {
                    Some(selector) => selector,
                    None => Arc::new(Selector::new(
                        name,
                        &variant.name,
                        variant.percent,
                        &variant.tenants,
                    )),
                };
                let variant_throttle = match kept {
                    Some(slot) => slot.variant_throttle.clone(),
                    None => variant
                        .throttle
                        .enabled()
                        .then(|| new_throttle(&variant.throttle)),
                };
                let split_retry: Arc<dyn RetryPolicy> = Arc::new(SplitRetry {
                    selector: selector.clone(),
                    base: base_retry,
                    variant: Arc::new(retry(&variant.retry, budget.clone())),
                });
                let split_throttle: Arc<dyn Throttle> = Arc::new(SplitThrottle {
                    selector: selector.clone(),
                    base: match &throttle {
                        Some(t) => t.clone(),
                        None => Arc::new(NoThrottle),
                    },
                    variant: match &variant_throttle {
                        Some(t) => t.clone(),
                        None => Arc::new(NoThrottle),
                    },
                });
                (
                    split_retry,
                    Some(selector),
                    variant_throttle,
                    Some(split_throttle),
                )
            }
        };
        // Per-tenant quotas and retry: the context's tenant picks its own.
        let mut tenant_throttles = HashMap::new();
        for (tenant, settings) in &config.tenant_throttle {
            let kept = previous
                .filter(|slot| slot.config.tenant_throttle.get(tenant) == Some(settings))
                .and_then(|slot| slot.tenant_throttles.get(tenant).cloned());
            tenant_throttles.insert(tenant.clone(), kept.unwrap_or_else(|| new_throttle(settings)));
        }
        let mut tenant_budgets = HashMap::new();
        let mut tenant_retries: HashMap<String, Arc<dyn RetryPolicy>> = HashMap::new();
        for (tenant, settings) in &config.tenant_retry {
            let tenant_budget = if settings.budget.ratio > 0.0 {
                let kept = previous
                    .filter(|slot| {
                        slot.config.tenant_retry.get(tenant).map(|r| r.budget) == Some(settings.budget)
                    })
                    .and_then(|slot| slot.tenant_budgets.get(tenant).cloned());
                let budget = kept.unwrap_or_else(|| {
                    Arc::new(RetryBudget::new(
                        settings.budget.ratio,
                        settings.budget.min_per_second,
                    ))
                });
                tenant_budgets.insert(tenant.clone(), budget.clone());
                Some(budget)
            } else {
                None
            };
            tenant_retries.insert(tenant.clone(), Arc::new(retry(settings, tenant_budget)));
        }
        let retry_policy: Arc<dyn RetryPolicy> = if tenant_retries.is_empty() {
            retry_policy
        } else {
            Arc::new(TenantRetry {
                default: retry_policy,
                tenants: tenant_retries,
            })
        };
        let split_throttle = if tenant_throttles.is_empty() {
            split_throttle
        } else {
            let default: Arc<dyn Throttle> = match (&split_throttle, &throttle) {
                (Some(split), _) => split.clone(),
                (None, Some(throttle)) => throttle.clone(),
                (None, None) => Arc::new(NoThrottle),
            };
            Some(Arc::new(TenantThrottle {
                default,
                tenants: tenant_throttles.clone(),
            }) as Arc<dyn Throttle>)
        };

        let mut builder = Connector::builder(name.clone())
            .base_url(config.base_url.clone())
            .allow_http(config.allow_http)
            .attempt_timeout(config.attempt_timeout)
            .total_timeout(config.total_timeout)
            .transport(transport.clone())
            .auth(match &selector {
                Some(selector) => Arc::new(CountingAuth {
                    selector: selector.clone(),
                    inner: auth.clone(),
                }),
                None => auth.clone(),
            })
            .retry(retry_policy)
            .normalizer(Arc::new(normalizer(config)?));
        for (header, value) in &config.headers {
            builder = builder.default_header(header.as_str(), value.as_str());
        }
        if let Some(split) = split_throttle {
            builder = builder.throttle(split);
        } else if let Some(throttle) = &throttle {
            builder = builder.throttle(throttle.clone());
        }
        if let Some(breaker) = &breaker {
            builder = builder.breaker(match &selector {
                Some(selector) => Arc::new(CountingBreaker {
                    selector: selector.clone(),
                    inner: breaker.clone(),
                }),
                None => breaker.clone(),
            });
        }
        let connector = builder.build()?;
        state.slots.insert(
            name.clone(),
            Slot {
                config: config.clone(),
                connector,
                transport,
                auth,
                throttle,
                breaker,
                budget,
                selector,
                variant_throttle,
                tenant_throttles,
                tenant_budgets,
            },
        );
    }
    Ok(state)
}

/// The connector's auth, dispatching per tenant when tenants have their own.
fn connector_auth(
    config: &ConnectorConfig,
    transport: Arc<dyn Transport>,
    runtime: &Arc<RuntimeAuth>,
) -> Result<Arc<dyn AuthStrategy>, Error> {
    let default = auth(&config.auth, config.allow_http, transport.clone())?;
    let mut tenants = HashMap::new();
    for (tenant, settings) in &config.tenant_auth {
        tenants.insert(
            tenant.clone(),
            auth(settings, config.allow_http, transport.clone())?,
        );
    }
    Ok(Arc::new(TenantAuth {
        connector: config.name.clone(),
        default,
        tenants,
        runtime: runtime.clone(),
    }))
}

fn throttle(
    config: &ConnectorConfig,
    previous: Option<&Slot>,
    old: &State,
    state: &mut State,
) -> Option<Arc<Throttler>> {
    let settings = &config.throttle;
    if !settings.enabled() {
        return None;
    }
    if let Some(group) = &settings.shared {
        if let Some((_, throttle)) = state.throttle_groups.get(group) {
            return Some(throttle.clone());
        }
        let throttle = match old.throttle_groups.get(group) {
            Some((old_settings, throttle)) if old_settings == settings => throttle.clone(),
            _ => new_throttle(settings),
        };
        state
            .throttle_groups
            .insert(group.clone(), (settings.clone(), throttle.clone()));
        return Some(throttle);
    }
    match previous {
        Some(slot) if slot.config.throttle == *settings => slot.throttle.clone(),
        _ => Some(new_throttle(settings)),
    }
}

fn budget(
    config: &ConnectorConfig,
    previous: Option<&Slot>,
    old: &State,
    state: &mut State,
) -> Option<Arc<RetryBudget>> {
    let settings = config.retry.budget;
    if settings.ratio <= 0.0 {
        return None;
    }
    let fresh = || Arc::new(RetryBudget::new(settings.ratio, settings.min_per_second));
    if let Some(group) = &config.retry.shared_budget {
        if let Some((_, budget)) = state.budget_groups.get(group) {
            return Some(budget.clone());
        }
        let budget = match old.budget_groups.get(group) {
            Some((old_settings, budget)) if *old_settings == settings => budget.clone(),
            _ => fresh(),
        };
        state
            .budget_groups
            .insert(group.clone(), (settings, budget.clone()));
        return Some(budget);
    }
    match previous {
        Some(slot) if slot.config.retry.budget == settings && slot.config.retry.shared_budget.is_none() => {
            slot.budget.clone()
        }
        _ => Some(fresh()),
    }
}
