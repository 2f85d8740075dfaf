//! Builds every connector of a blueprint once and hands them out by name;
//! reloads atomically, keeping the state of parts whose config did not change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use conn_auth::{ApiKey, BasicAuth, ClientAuth, ClientCredentials, OAuth2Client, StaticBearer, TokenAuth};
use conn_breaker::{CircuitBreaker, Window};
use conn_core::{
    AttemptOutcome, AuthStrategy, BoxFuture, CallInfo, Connector, Context, Error, Format, NoAuth, NoThrottle,
    Permit, Request, RetryDecision, RetryPolicy, Throttle, Transport,
};
use conn_normalize::{Detection, Normalize};
use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
use conn_throttle::{Limit, Mode, Throttler};
use conn_transport_hyper::{CrossOrigin, HyperTransport, Redirects, Roots};
use secrecy::ExposeSecret;

use crate::blueprint::Blueprint;
use crate::config::{AuthConfig, BreakerConfig, BudgetConfig, ConnectorConfig, RetryConfig, ThrottleConfig};
use crate::variant::{CountingAuth, CountingBreaker, Selector, SplitRetry, SplitThrottle};

/// Makes the transport of one connector from its configuration.
pub type TransportFactory = Arc<dyn Fn(&ConnectorConfig) -> Result<Arc<dyn Transport>, Error> + Send + Sync>;

#[derive(Clone)]
struct Slot {
    config: ConnectorConfig,
    connector: Connector,
    transport: Arc<dyn Transport>,
    auth: Arc<dyn AuthStrategy>,
    throttle: Option<Arc<Throttler>>,
    breaker: Option<Arc<CircuitBreaker>>,
    budget: Option<Arc<RetryBudget>>,
    selector: Option<Arc<Selector>>,
    variant_throttle: Option<Arc<Throttler>>,
    /// Per-tenant quotas, kept across reloads while the tenant's throttle is equal.
    tenant_throttles: HashMap<String, Arc<Throttler>>,
    /// Per-tenant retry budgets, kept across reloads while the tenant's budget is equal.
    tenant_budgets: HashMap<String, Arc<RetryBudget>>,
}

#[derive(Default)]
struct State {
    slots: BTreeMap<String, Slot>,
    throttle_groups: HashMap<String, (ThrottleConfig, Arc<Throttler>)>,
    budget_groups: HashMap<String, (BudgetConfig, Arc<RetryBudget>)>,
}

/// Every connector of a blueprint, built once, by name.
///
/// `get` hands out a `Connector` clone: a call in flight keeps the connector
/// it started with, so [`reload`](Self::reload) never drops one.
pub struct Registry {
    state: RwLock<Arc<State>>,
    factory: TransportFactory,
    runtime_auth: Arc<RuntimeAuth>,
}

/// Tenant credentials supplied at run time, by (connector, tenant); they
/// survive reloads.
#[derive(Default)]
struct RuntimeAuth {
    strategies: RwLock<HashMap<(String, String), Arc<dyn AuthStrategy>>>,
}

impl RuntimeAuth {
    fn get(&self, connector: &str, tenant: &str) -> Option<Arc<dyn AuthStrategy>> {
        let map = self.strategies.read().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return None;
        }
        map.get(&(connector.to_owned(), tenant.to_owned())).cloned()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connectors", &self.names())
            .finish()
    }
}

impl Registry {
    /// Builds every connector with one shared transport (a mock, or your own).
    pub fn from_blueprint(blueprint: &Blueprint, transport: Arc<dyn Transport>) -> Result<Registry, Error> {
        Registry::with_factory(
            blueprint,
            Arc::new(move |_: &ConnectorConfig| Ok(transport.clone())),
        )
    }

    /// Builds every connector with a [`HyperTransport`] made from its
    /// `redirects` and `tls` settings (connectors with equal settings are
    /// still given one transport each).
    pub fn from_blueprint_hyper(blueprint: &Blueprint) -> Result<Registry, Error> {
        Registry::with_factory(blueprint, Arc::new(hyper_transport))
    }

    /// Builds every connector, asking `factory` for each one's transport.
    pub fn with_factory(blueprint: &Blueprint, factory: TransportFactory) -> Result<Registry, Error> {
        let runtime_auth = Arc::new(RuntimeAuth::default());
        let state = build(blueprint, &State::default(), &factory, &runtime_auth)?;
        Ok(Registry {
            state: RwLock::new(Arc::new(state)),
            factory,
            runtime_auth,
        })
    }

    /// Supplies the credentials of `tenant` on `connector` at run time. They
    /// are used for calls whose `Context::tenant` is `tenant` when the
    /// blueprint has no `[connectors.<connector>.tenants.<tenant>.auth]`
    /// (the blueprint's entry wins); they apply at once to connectors
    /// already handed out and survive reloads. Replaces an earlier one.
    pub fn set_tenant_auth(
        &self,
        connector: impl Into<String>,
        tenant: impl Into<String>,
        auth: Arc<dyn AuthStrategy>,
    ) {
        self.runtime_auth
            .strategies
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((connector.into(), tenant.into()), auth);
    }

    /// Withdraws credentials given by [`set_tenant_auth`](Self::set_tenant_auth);
    /// returns whether there were any.
    pub fn remove_tenant_auth(&self, connector: &str, tenant: &str) -> bool {
        self.runtime_auth
            .strategies
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(connector.to_owned(), tenant.to_owned()))
            .is_some()
    }

    /// The field mapping of `name` (its `normalize.mapping`), if it has one:
    /// `registry.mapping("billing")?.apply(&document.value)`.
    pub fn mapping(&self, name: &str) -> Option<conn_normalize::Mapping> {
        self.current()
            .slots
            .get(name)
            .and_then(|s| s.config.normalize.mapping.clone())
    }

    /// The quota of `tenant` on `name`, if the blueprint gives that tenant a throttle.
    pub fn tenant_throttle(&self, name: &str, tenant: &str) -> Option<Arc<Throttler>> {
        self.current()
            .slots
            .get(name)
            .and_then(|s| s.tenant_throttles.get(tenant).cloned())
    }

    fn current(&self) -> Arc<State> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The connector named `name`.
    pub fn get(&self, name: &str) -> Option<Connector> {
        self.current().slots.get(name).map(|s| s.connector.clone())
    }

    /// The effective configuration the connector named `name` was built from.
    pub fn config(&self, name: &str) -> Option<ConnectorConfig> {
        self.current().slots.get(name).map(|s| s.config.clone())
    }

    /// The names of all connectors, sorted.
    pub fn names(&self) -> Vec<String> {
        self.current().slots.keys().cloned().collect()
    }

    /// The throttle of `name`, if it has one (shared groups give the same `Arc`).
    pub fn throttle(&self, name: &str) -> Option<Arc<Throttler>> {
        self.current().slots.get(name).and_then(|s| s.throttle.clone())
    }

    /// The breaker of `name`, if it has one.
    pub fn breaker(&self, name: &str) -> Option<Arc<CircuitBreaker>> {
        self.current().slots.get(name).and_then(|s| s.breaker.clone())
    }

    /// The retry budget of `name`, if it has one (shared groups give the same `Arc`).
    pub fn retry_budget(&self, name: &str) -> Option<Arc<RetryBudget>> {
        self.current().slots.get(name).and_then(|s| s.budget.clone())
    }

    /// The feature-flag selector of `name`, if it has a variant (see [`Selector::counts`]).
    pub fn variant_selector(&self, name: &str) -> Option<Arc<Selector>> {
        self.current().slots.get(name).and_then(|s| s.selector.clone())
    }

    /// Swaps in the connectors of `blueprint` at once. Calls already started
    /// finish on the connector they hold; new `get`s see the new ones. A
    /// throttle, breaker, retry budget, auth strategy (token cache) or
    /// transport (connection pool) whose section did not change is kept
    /// with its state. On error nothing changes.
    pub fn reload(&self, blueprint: &Blueprint) -> Result<(), Error> {
        let old = self.current();
        let new = build(blueprint, &old, &self.factory, &self.runtime_auth)?;
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(new);
        Ok(())
    }
}

fn hyper_transport(config: &ConnectorConfig) -> Result<Arc<dyn Transport>, Error> {
    let mut roots = match config.tls.roots.as_str() {
        "native" => Roots::native(),
        "none" => Roots::none(),
        _ => Roots::webpki(),
    };
    if let Some(pem) = &config.tls.ca_pem {
        roots = roots.with_pem(pem.clone());
    }
    let redirects = if config.redirects.follow {
        Redirects::Follow {
            max_hops: config.redirects.max_hops,
            cross_origin: if config.redirects.cross_origin == "strip" {
                CrossOrigin::StripCredentials
            } else {
                CrossOrigin::Refuse
            },
        }
    } else {
        Redirects::None
    };
    Ok(Arc::new(
        HyperTransport::builder()
            .connect_timeout(config.connect_timeout)
            .body_limit(config.body_limit)
            .roots(roots)
            .redirects(redirects)
            .build()?,
    ))
}

fn build(
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

/// Per-tenant credentials: the context's tenant picks the strategy (the
/// blueprint's, else one supplied at run time); a tenant with neither (or no
/// tenant) uses the connector's own.
struct TenantAuth {
    connector: String,
    default: Arc<dyn AuthStrategy>,
    tenants: HashMap<String, Arc<dyn AuthStrategy>>,
    runtime: Arc<RuntimeAuth>,
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
}

/// Per-tenant quotas: the call's tenant picks its own throttle; a tenant
/// not listed (or no tenant) uses the connector's.
struct TenantThrottle {
    default: Arc<dyn Throttle>,
    tenants: HashMap<String, Arc<Throttler>>,
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
struct TenantRetry {
    default: Arc<dyn RetryPolicy>,
    tenants: HashMap<String, Arc<dyn RetryPolicy>>,
}

impl RetryPolicy for TenantRetry {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        match call.context.tenant_id().and_then(|t| self.tenants.get(t)) {
            Some(policy) => policy.decide(call, outcome),
            None => self.default.decide(call, outcome),
        }
    }
}

fn auth(
    settings: &AuthConfig,
    allow_http: bool,
    transport: Arc<dyn Transport>,
) -> Result<Arc<dyn AuthStrategy>, Error> {
    Ok(match settings {
        AuthConfig::None => Arc::new(NoAuth),
        AuthConfig::Bearer { token } => Arc::new(StaticBearer::new(token.value().clone())),
        AuthConfig::ApiKey {
            header,
            query,
            key,
            prefix,
        } => {
            let mut api_key = match query {
                Some(param) => ApiKey::query(param.clone(), key.value().clone()),
                None => ApiKey::header(header.as_deref().unwrap_or("X-API-Key"), key.value().clone()),
            };
            if let Some(prefix) = prefix {
                api_key = api_key.prefix(prefix.clone());
            }
            Arc::new(api_key)
        }
        AuthConfig::Basic { username, password } => {
            Arc::new(BasicAuth::new(username.clone(), password.value().clone()))
        }
        AuthConfig::OAuth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scopes,
            audience,
            client_auth,
        } => {
            let client = OAuth2Client::builder(token_url.clone())
                .client_id(client_id.clone())
                .client_secret(secrecy::SecretString::from(
                    client_secret.value().expose_secret().to_owned(),
                ))
                .auth_method(if client_auth == "post" {
                    ClientAuth::Post
                } else {
                    ClientAuth::Basic
                })
                .transport(transport)
                .allow_http(allow_http)
                .build()?;
            let mut grant = ClientCredentials::new(client).scopes(scopes.iter().cloned());
            if let Some(audience) = audience {
                grant = grant.audience(audience.clone());
            }
            Arc::new(TokenAuth::new(Arc::new(grant)))
        }
    })
}

fn new_throttle(config: &ThrottleConfig) -> Arc<Throttler> {
    let mut builder = Throttler::builder()
        .key_by(match config.key.as_str() {
            "tenant" => conn_throttle::KeyBy::Tenant,
            "endpoint" => conn_throttle::KeyBy::Endpoint,
            "tenant_endpoint" => conn_throttle::KeyBy::TenantAndEndpoint,
            _ => conn_throttle::KeyBy::Global,
        })
        .mode(if config.mode == "reject" {
            Mode::Reject
        } else {
            Mode::Wait {
                max_wait: config.max_wait,
            }
        });
    for limit in &config.limits {
        builder = builder.limit(
            Limit::new(
                limit.count,
                std::time::Duration::from_secs(u64::from(limit.per_seconds)),
            )
            .burst(limit.burst),
        );
    }
    if config.max_in_flight > 0 {
        builder = builder.max_in_flight(config.max_in_flight);
    }
    if let Some(adaptive) = config.adaptive {
        builder = builder.adaptive(conn_throttle::Adaptive {
            initial_rate: adaptive.initial_rate,
            min_rate: adaptive.min_rate,
            max_rate: adaptive.max_rate,
        });
    }
    builder = builder.honour_server_hints(config.honour_server_hints);
    Arc::new(builder.build())
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

fn retry(config: &RetryConfig, budget: Option<Arc<RetryBudget>>) -> Retry {
    let backoff = match config.backoff.as_str() {
        "constant" => Backoff::constant(config.base),
        "linear" => Backoff::linear(config.base, config.step, config.max_delay),
        "decorrelated" => Backoff::decorrelated_jitter(config.base, config.max_delay),
        _ => Backoff::exponential(config.base, config.factor, config.max_delay),
    };
    let mut builder = Retry::builder()
        .max_attempts(config.max_attempts)
        .backoff(backoff)
        .jitter(match config.jitter.as_str() {
            "none" => Jitter::None,
            "equal" => Jitter::Equal,
            _ => Jitter::Full,
        })
        .retry_500(config.retry_500)
        .max_hint_wait(config.max_hint_wait);
    if let Some(budget) = budget {
        builder = builder.budget(budget);
    }
    builder.build()
}

fn breaker(config: &BreakerConfig) -> Option<Arc<CircuitBreaker>> {
    if !config.enabled {
        return None;
    }
    let mut builder = CircuitBreaker::builder();
    if let Some(threshold) = config.slow_call_threshold {
        builder = builder.slow_calls(threshold, config.slow_call_rate);
    }
    Some(Arc::new(
        builder
            .consecutive_failures(config.consecutive_failures)
            .window(Window::last_calls(config.window_calls).minimum_calls(config.minimum_calls))
            .failure_rate(config.failure_rate)
            .cooldown(config.cooldown)
            .half_open_probes(config.probes)
            .key_by(match config.key.as_str() {
                "endpoint" => conn_breaker::KeyBy::Endpoint,
                "tenant" => conn_breaker::KeyBy::Tenant,
                "tenant_endpoint" => conn_breaker::KeyBy::TenantAndEndpoint,
                _ => conn_breaker::KeyBy::Connector,
            })
            .build(),
    ))
}

fn normalizer(config: &ConnectorConfig) -> Result<Normalize, Error> {
    let mut builder = Normalize::builder().detect(match config.normalize.format.as_str() {
        "header" => Detection::Header,
        "sniff" => Detection::Sniff,
        "json" => Detection::Force(Format::Json),
        "xml" => Detection::Force(Format::Xml),
        _ => Detection::Auto,
    });
    for path in &config.normalize.force_array {
        builder = builder.force_array(path.clone());
    }
    builder.build()
}
