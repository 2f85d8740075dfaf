//! Builds every connector of a blueprint once and hands them out by name;
//! reloads atomically, keeping the state of parts whose config did not change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use conn_auth::{ApiKey, BasicAuth, ClientAuth, ClientCredentials, OAuth2Client, StaticBearer, TokenAuth};
use conn_breaker::{CircuitBreaker, Window};
use conn_core::{
    AuthStrategy, BoxFuture, Connector, Context, Error, Format, NoAuth, NoThrottle, Request, RetryPolicy,
    Throttle, Transport,
};
use conn_normalize::{Detection, Normalize};
use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
use conn_throttle::{Limit, Mode, Throttler};
use conn_transport_hyper::{CrossOrigin, HyperTransport, Redirects, Roots};
use secrecy::ExposeSecret;

use crate::blueprint::Blueprint;
use crate::config::{AuthConfig, BreakerConfig, BudgetConfig, ConnectorConfig, RetryConfig, ThrottleConfig};
use crate::variant::{Selector, SplitRetry, SplitThrottle};

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
        let state = build(blueprint, &State::default(), &factory)?;
        Ok(Registry {
            state: RwLock::new(Arc::new(state)),
            factory,
        })
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
        let new = build(blueprint, &old, &self.factory)?;
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
            .roots(roots)
            .redirects(redirects)
            .build()?,
    ))
}

fn build(blueprint: &Blueprint, old: &State, factory: &TransportFactory) -> Result<State, Error> {
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
            _ => connector_auth(config, transport.clone())?,
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
        let mut builder = Connector::builder(name.clone())
            .base_url(config.base_url.clone())
            .allow_http(config.allow_http)
            .attempt_timeout(config.attempt_timeout)
            .total_timeout(config.total_timeout)
            .transport(transport.clone())
            .auth(auth.clone())
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
            builder = builder.breaker(breaker.clone());
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
            },
        );
    }
    Ok(state)
}

/// The connector's auth, dispatching per tenant when tenants have their own.
fn connector_auth(
    config: &ConnectorConfig,
    transport: Arc<dyn Transport>,
) -> Result<Arc<dyn AuthStrategy>, Error> {
    let default = auth(&config.auth, config.allow_http, transport.clone())?;
    if config.tenant_auth.is_empty() {
        return Ok(default);
    }
    let mut tenants = HashMap::new();
    for (tenant, settings) in &config.tenant_auth {
        tenants.insert(
            tenant.clone(),
            auth(settings, config.allow_http, transport.clone())?,
        );
    }
    Ok(Arc::new(TenantAuth { default, tenants }))
}

/// Per-tenant credentials: the context's tenant picks the strategy; a tenant
/// not listed (or no tenant) uses the connector's own.
struct TenantAuth {
    default: Arc<dyn AuthStrategy>,
    tenants: HashMap<String, Arc<dyn AuthStrategy>>,
}

impl TenantAuth {
    fn pick(&self, context: &Context) -> &Arc<dyn AuthStrategy> {
        context
            .tenant_id()
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.default)
    }
}

impl AuthStrategy for TenantAuth {
    fn authorize<'a>(
        &'a self,
        request: &'a mut Request,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.pick(context).authorize(request, context)
    }

    fn refresh<'a>(&'a self, context: &'a Context) -> BoxFuture<'a, Result<bool, Error>> {
        self.pick(context).refresh(context)
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
    Some(Arc::new(
        CircuitBreaker::builder()
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
