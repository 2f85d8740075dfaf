//! One component from its configuration: transport, auth, throttle,
//! retry, breaker, normalizer. Nothing here knows about reloads or tenants.

use std::sync::Arc;

use conn_auth::{ApiKey, BasicAuth, ClientAuth, ClientCredentials, OAuth2Client, StaticBearer, TokenAuth};
use conn_breaker::{CircuitBreaker, Window};
use conn_core::store::{BreakerSignal, RateStore, SharedTokens};
use conn_core::{AuthStrategy, Error, Format, Hedging, NoAuth, Transport};
use conn_normalize::{Detection, Normalize};
use conn_retry::{Backoff, Jitter, Retry, RetryBudget};
use conn_throttle::{Limit, Mode, Throttler};
use conn_transport_hyper::{CrossOrigin, HyperTransport, Redirects, Roots};
use secrecy::ExposeSecret;

use crate::config::{AuthConfig, BreakerConfig, ConnectorConfig, HedgingConfig, RetryConfig, ThrottleConfig};

pub(crate) fn hyper_transport(config: &ConnectorConfig) -> Result<Arc<dyn Transport>, Error> {
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
    let builder = HyperTransport::builder()
        .connect_timeout(config.connect_timeout)
        .body_limit(config.body_limit)
        .roots(roots)
        .redirects(redirects);
    Ok(Arc::new(config.egress.apply(builder)?.build()?))
}

pub(crate) fn auth(
    settings: &AuthConfig,
    allow_http: bool,
    transport: Arc<dyn Transport>,
    shared: Option<Arc<dyn SharedTokens>>,
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
        AuthConfig::Signing(settings) => {
            crate::signing_auth::strategy(settings, allow_http, transport, shared)?
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
            let mut builder = TokenAuth::builder(Arc::new(grant));
            if let Some(shared) = shared {
                builder = builder.shared(shared);
            }
            Arc::new(builder.build())
        }
    })
}

/// Makes the transport of one connector from its configuration.
pub type TransportFactory = Arc<dyn Fn(&ConnectorConfig) -> Result<Arc<dyn Transport>, Error> + Send + Sync>;

/// A throttle; `quota`, when given, is the fleet's rate store and the
/// namespace its limits count under.
pub(crate) fn new_throttle(
    config: &ThrottleConfig,
    quota: Option<(Arc<dyn RateStore>, String)>,
) -> Arc<Throttler> {
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
    if let Some((store, namespace)) = quota {
        builder = builder.rate_store(store, namespace);
    }
    Arc::new(builder.build())
}

pub(crate) fn retry(config: &RetryConfig, budget: Option<Arc<RetryBudget>>) -> Retry {
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

/// The hedging settings (each connector gets its own: a percentile delay
/// learns from that connector's latencies only).
pub(crate) fn hedging(config: &HedgingConfig) -> Hedging {
    let hedging = match config.percentile {
        Some(quantile) => Hedging::at_percentile(quantile, config.after),
        None => Hedging::after(config.after),
    };
    hedging.min_delay(config.min_delay)
}

pub(crate) fn breaker(
    config: &BreakerConfig,
    signal: Option<Arc<dyn BreakerSignal>>,
) -> Option<Arc<CircuitBreaker>> {
    if !config.enabled {
        return None;
    }
    let mut builder = CircuitBreaker::builder();
    if let Some(signal) = signal {
        builder = builder.signal(signal);
    }
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

pub(crate) fn normalizer(config: &ConnectorConfig) -> Result<Normalize, Error> {
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
