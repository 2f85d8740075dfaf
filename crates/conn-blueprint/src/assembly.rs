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
use crate::components::{self, TransportFactory, auth, breaker, new_throttle, normalizer, retry};
use crate::config::{BudgetConfig, ConnectorConfig, ThrottleConfig};
use crate::fleet::connection::{FleetConnection, FleetStores};
use crate::per_tenant::{RuntimeAuth, TenantAuth, TenantRetry, TenantThrottle};
use crate::variant::{CountingAuth, CountingBreaker, Selector, SplitRetry, SplitThrottle};

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
    /// Per group: its settings, whether it counts in the fleet, its throttle.
    pub(crate) throttle_groups: HashMap<String, (ThrottleConfig, bool, Arc<Throttler>)>,
    pub(crate) budget_groups: HashMap<String, (BudgetConfig, Arc<RetryBudget>)>,
    /// The fleet's stores, when the registry has a `[fleet]` connection.
    pub(crate) fleet: Option<FleetStores>,
}

pub(crate) fn assemble(
    blueprint: &Blueprint,
    old: &State,
    factory: &TransportFactory,
    runtime_auth: &Arc<RuntimeAuth>,
    fleet: Option<&FleetConnection>,
) -> Result<State, Error> {
    let mut state = State {
        fleet: FleetStores::new(blueprint, fleet, old.fleet.as_ref())?,
        ..State::default()
    };
    let stores = state.fleet.clone();
    // Whether parts built on the running fleet stores count and share the same way now.
    let same_rate = FleetStores::same_rate(old.fleet.as_ref(), stores.as_ref());
    let same_tokens = FleetStores::same_tokens(old.fleet.as_ref(), stores.as_ref());
    for (name, config) in blueprint.connectors() {
        let quota_store = stores.as_ref().filter(|_| config.fleet.throttle);
        let previous = old.slots.get(name);
        let transport = match previous {
            Some(slot) if slot.config.same_transport(config) => slot.transport.clone(),
            _ => crate::chaos::wrap(factory(config)?, &config.chaos)?,
        };
        let transport_kept = previous.is_some_and(|s| Arc::ptr_eq(&s.transport, &transport));
        let auth = match previous {
            Some(slot)
                if transport_kept
                    && slot.config.auth == config.auth
                    && slot.config.tenant_auth == config.tenant_auth
                    && slot.config.allow_http == config.allow_http
                    && slot.config.fleet.tokens == config.fleet.tokens
                    && (!config.fleet.tokens || same_tokens) =>
            {
                slot.auth.clone()
            }
            _ => connector_auth(
                config,
                transport.clone(),
                runtime_auth,
                stores.as_ref().filter(|_| config.fleet.tokens),
            )?,
        };
        let throttle = throttle(config, previous, old, &mut state, quota_store, same_rate);
        let budget = budget(config, previous, old, &mut state);
        let breaker = match previous {
            Some(slot)
                if slot.config.breaker == config.breaker
                    && slot.config.fleet.breaker == config.fleet.breaker =>
            {
                slot.breaker.clone()
            }
            _ => breaker(
                &config.breaker,
                stores
                    .as_ref()
                    .filter(|_| config.fleet.breaker)
                    .map(FleetStores::signal),
            ),
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
                        .then(|| new_throttle(&variant.throttle, None)),
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
                .filter(|slot| {
                    slot.config.tenant_throttle.get(tenant) == Some(settings)
                        && slot.config.fleet.throttle == config.fleet.throttle
                        && (!config.fleet.throttle || same_rate)
                })
                .and_then(|slot| slot.tenant_throttles.get(tenant).cloned());
            // Connector names have no '/': a tenant's namespace meets no connector's.
            let quota = quota_store.map(|s| s.quota(format!("{name}/tenants/{tenant}")));
            tenant_throttles.insert(
                tenant.clone(),
                kept.unwrap_or_else(|| new_throttle(settings, quota)),
            );
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
            .transport(auth.wrap_transport(transport.clone()))
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
        if let Some(hedging) = &config.hedging {
            builder = builder.hedging(components::hedging(hedging));
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
    fleet: Option<&FleetStores>,
) -> Result<Arc<dyn AuthStrategy>, Error> {
    // Each set of credentials shares its tokens under a namespace of its own.
    let shared = |owner: &str, settings| fleet.and_then(|f| f.tokens(owner, settings));
    let default = auth(
        &config.auth,
        config.allow_http,
        transport.clone(),
        shared(&config.name, &config.auth),
    )?;
    let mut tenants = HashMap::new();
    for (tenant, settings) in &config.tenant_auth {
        let owner = format!("{}/tenants/{tenant}", config.name);
        tenants.insert(
            tenant.clone(),
            auth(
                settings,
                config.allow_http,
                transport.clone(),
                shared(&owner, settings),
            )?,
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
    fleet: Option<&FleetStores>,
    same_rate: bool,
) -> Option<Arc<Throttler>> {
    let settings = &config.throttle;
    if !settings.enabled() {
        return None;
    }
    let in_fleet = fleet.is_some();
    let counts_alike = |was_in_fleet: bool| was_in_fleet == in_fleet && (!in_fleet || same_rate);
    if let Some(group) = &settings.shared {
        if let Some((_, _, throttle)) = state.throttle_groups.get(group) {
            return Some(throttle.clone());
        }
        let throttle = match old.throttle_groups.get(group) {
            Some((old_settings, was_in_fleet, throttle))
                if old_settings == settings && counts_alike(*was_in_fleet) =>
            {
                throttle.clone()
            }
            // Connector names have no '.': a group's namespace meets no connector's.
            _ => new_throttle(settings, fleet.map(|f| f.quota(format!("shared.{group}")))),
        };
        state
            .throttle_groups
            .insert(group.clone(), (settings.clone(), in_fleet, throttle.clone()));
        return Some(throttle);
    }
    match previous {
        Some(slot) if slot.config.throttle == *settings && counts_alike(slot.config.fleet.throttle) => {
            slot.throttle.clone()
        }
        _ => Some(new_throttle(
            settings,
            fleet.map(|f| f.quota(config.name.clone())),
        )),
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
