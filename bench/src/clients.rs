//! The four clients compared, each doing the same job: GET a route, read the
//! whole body, and (for the "full" clients) authenticate, retry transient
//! failures and parse the JSON.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn::auth::StaticBearer;
use conn::breaker::{self, CircuitBreaker};
use conn::normalize::Normalize;
use conn::retry::Retry;
use conn::throttle::{KeyBy, Limit, Throttler, ThrottlerBuilder};
use conn::transport::{HyperTransport, Protocols};
use conn::{Connector, Context, Request};
use conn_redis::{FailurePolicy, Fleet, FleetConfig, RedisRateStore};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};

/// The bearer token every "full" client sends.
const TOKEN: &str = "Bearer bench-token";

/// Which client a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// hyper-util's pooled client: the limit.
    Raw,
    /// A conn Connector with only the hyper transport.
    ConnTransport,
    /// A conn Connector with static auth, retry, a keyed throttle, a keyed
    /// breaker, JSON/XML normalization and telemetry (no subscriber).
    ConnFull,
    /// Plain reqwest: GET and read the body (the transport-only job).
    Reqwest,
    /// reqwest + reqwest-middleware + reqwest-retry doing the full job.
    ReqwestMiddleware,
    /// `conn-full` with its throttle counting in Redis (conn-redis's
    /// `RedisRateStore`) under a quota that never binds: the difference to
    /// `conn-full` is the fleet quota's Redis round trip. `cargo xtask bench --fleet`.
    ConnFullFleet,
    /// A bare `PING` through redis-rs's connection manager (the client the
    /// fleet store uses): one Redis round trip, to compare with.
    RedisPing,
    /// The gateway bench's direct path: the connector of the gateway's
    /// blueprint, built the same way, called in process.
    Direct,
    /// The gateway bench's proxied paths (gateway, nginx): hyper-util's
    /// pooled client sending the caller key, the same code for both.
    Proxied,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Raw,
        Kind::ConnTransport,
        Kind::ConnFull,
        Kind::Reqwest,
        Kind::ReqwestMiddleware,
    ];

    /// The clients of `cargo xtask bench --fleet` (they need `--redis URL`).
    pub const FLEET: [Kind; 3] = [Kind::ConnFull, Kind::ConnFullFleet, Kind::RedisPing];

    /// The clients of `cargo xtask bench --gateway`.
    pub const GATEWAY: [Kind; 2] = [Kind::Direct, Kind::Proxied];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw-hyper",
            Kind::ConnTransport => "conn-transport",
            Kind::ConnFull => "conn-full",
            Kind::ConnFullFleet => "conn-full-fleet",
            Kind::RedisPing => "redis-ping",
            Kind::Reqwest => "reqwest",
            Kind::ReqwestMiddleware => "reqwest-middleware",
            Kind::Direct => "direct-connector",
            Kind::Proxied => "plain-hyper",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .chain(Kind::GATEWAY)
            .chain(Kind::FLEET)
            .find(|k| k.name() == name)
    }
}

/// How one logical call went.
pub struct Outcome {
    pub ok: bool,
    /// Upstream attempts it took (1 for clients that do not report it).
    pub attempts: u32,
}

/// A ready-to-use client of one kind.
pub enum Client {
    Raw(Box<HyperClient<HttpConnector, Full<Bytes>>>, String),
    Conn {
        connector: Connector,
        normalize: bool,
        tenants: Arc<[Arc<str>]>,
    },
    Reqwest(reqwest::Client, String),
    RedisPing(redis::aio::ConnectionManager),
    ReqwestMiddleware(ClientWithMiddleware, String),
    /// Raw hyper plus the caller key (`Authorization`), to a base that may
    /// carry a path prefix.
    Proxied(
        Box<HyperClient<HttpConnector, Full<Bytes>>>,
        String,
        http::HeaderValue,
    ),
}

impl Client {
    pub fn new(kind: Kind, base: &str, tenants: usize) -> Result<Client, Box<dyn std::error::Error>> {
        let tenants: Arc<[Arc<str>]> = (0..tenants.max(1))
            .map(|i| Arc::from(format!("tenant-{i}")))
            .collect();
        Ok(match kind {
            Kind::Raw => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Client::Raw(
                    Box::new(HyperClient::builder(TokioExecutor::new()).build(connector)),
                    base.to_owned(),
                )
            }
            Kind::ConnTransport => {
                let connector = Connector::builder("bench")
                    .base_url(base)
                    .allow_http(true)
                    .transport(Arc::new(
                        HyperTransport::builder().protocols(Protocols::Http1).build()?,
                    ))
                    .build()?;
                Client::Conn {
                    connector,
                    normalize: false,
                    tenants,
                }
            }
            Kind::ConnFull => {
                let throttle = full_throttle().build();
                Client::Conn {
                    connector: full_connector(base, throttle)?,
                    normalize: true,
                    tenants,
                }
            }
            Kind::ConnFullFleet | Kind::RedisPing => {
                return Err(format!("{} needs Redis: Client::connect with --redis URL", kind.name()).into());
            }
            Kind::Direct => {
                let blueprint = crate::gateway_serve::blueprint(base)?;
                let registry = conn::blueprint::Registry::from_blueprint_hyper(&blueprint)?;
                Client::Conn {
                    connector: registry
                        .get(crate::gateway_serve::CONNECTOR)
                        .ok_or("the bench blueprint has no connector")?,
                    normalize: false,
                    tenants,
                }
            }
            Kind::Proxied => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Client::Proxied(
                    Box::new(HyperClient::builder(TokioExecutor::new()).build(connector)),
                    base.to_owned(),
                    http::HeaderValue::from_str(&format!("Bearer {}", crate::gateway_serve::CALLER_KEY))?,
                )
            }
            Kind::Reqwest => Client::Reqwest(reqwest_client()?, base.to_owned()),
            Kind::ReqwestMiddleware => {
                let retry = ExponentialBackoff::builder().build_with_max_retries(2);
                let client = ClientBuilder::new(reqwest_client()?)
                    .with(RetryTransientMiddleware::new_with_policy(retry))
                    .build();
                Client::ReqwestMiddleware(client, base.to_owned())
            }
        })
    }

    /// [`Client::new`], plus the kinds that need a Redis at `redis`.
    pub async fn connect(
        kind: Kind,
        base: &str,
        tenants: usize,
        redis: Option<&str>,
    ) -> Result<Client, Box<dyn std::error::Error>> {
        let url = match kind {
            Kind::ConnFullFleet | Kind::RedisPing => redis.ok_or("--redis URL is required for this kind")?,
            _ => return Client::new(kind, base, tenants),
        };
        if kind == Kind::RedisPing {
            let client = redis::Client::open(url)?;
            return Ok(Client::RedisPing(
                redis::aio::ConnectionManager::new(client).await?,
            ));
        }
        let fleet = Fleet::connect(FleetConfig::new(url.to_owned()).key_prefix("bench")).await?;
        // Fail closed: a Redis that stops answering shows as failed calls
        // rather than silently measuring the local fallback.
        let store = Arc::new(RedisRateStore::new(fleet, FailurePolicy::FailClosed));
        let throttle = full_throttle().rate_store(store, "bench").build();
        Ok(Client::Conn {
            connector: full_connector(base, throttle)?,
            normalize: true,
            tenants: (0..tenants.max(1))
                .map(|i| Arc::from(format!("tenant-{i}")))
                .collect(),
        })
    }

    /// One logical call to `route`, for caller number `caller`.
    pub async fn call(&self, route: &str, caller: usize) -> Outcome {
        match self {
            Client::Raw(client, base) | Client::Proxied(client, base, _) => {
                let Ok(uri) = format!("{base}{route}").parse::<http::Uri>() else {
                    return Outcome {
                        ok: false,
                        attempts: 1,
                    };
                };
                let mut request = http::Request::get(uri);
                if let Client::Proxied(_, _, key) = self {
                    request = request.header(http::header::AUTHORIZATION, key.clone());
                }
                let Ok(request) = request.body(Full::new(Bytes::new())) else {
                    return Outcome {
                        ok: false,
                        attempts: 1,
                    };
                };
                let ok = match client.request(request).await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        response.into_body().collect().await.is_ok() && success
                    }
                    Err(_) => false,
                };
                Outcome { ok, attempts: 1 }
            }
            Client::Conn {
                connector,
                normalize,
                tenants,
            } => {
                let context = Context::new().tenant(tenants[caller % tenants.len()].clone());
                let request = Request::get(route);
                if *normalize {
                    match connector.call_document(request, context).await {
                        Ok((_, response)) => Outcome {
                            ok: true,
                            attempts: response.report().attempts.len() as u32,
                        },
                        Err(err) => Outcome {
                            ok: false,
                            attempts: err.attempts(),
                        },
                    }
                } else {
                    match connector.call(request, context).await {
                        Ok(response) => Outcome {
                            ok: true,
                            attempts: response.report().attempts.len() as u32,
                        },
                        Err(err) => Outcome {
                            ok: false,
                            attempts: err.attempts(),
                        },
                    }
                }
            }
            Client::RedisPing(connection) => {
                let mut connection = connection.clone();
                let pong = redis::cmd("PING").query_async::<String>(&mut connection).await;
                Outcome {
                    ok: pong.is_ok_and(|p| p == "PONG"),
                    attempts: 1,
                }
            }
            Client::Reqwest(client, base) => {
                let ok = match client.get(format!("{base}{route}")).send().await {
                    Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
                    _ => false,
                };
                Outcome { ok, attempts: 1 }
            }
            Client::ReqwestMiddleware(client, base) => {
                let sent = client
                    .get(format!("{base}{route}"))
                    .header("authorization", TOKEN)
                    .send()
                    .await;
                let ok = match sent {
                    Ok(response) if response.status().is_success() => match response.bytes().await {
                        Ok(body) => serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
                        Err(_) => false,
                    },
                    _ => false,
                };
                Outcome { ok, attempts: 1 }
            }
        }
    }
}

/// The full stack's throttle: keyed by tenant, a quota that never binds.
fn full_throttle() -> ThrottlerBuilder {
    Throttler::builder()
        .limit(Limit::per_second(1_000_000_000))
        .key_by(KeyBy::Tenant)
}

/// The full stack (`conn-full`, `conn-full-fleet`) around `throttle`.
fn full_connector(base: &str, throttle: Throttler) -> Result<Connector, Box<dyn std::error::Error>> {
    Ok(Connector::builder("bench")
        .base_url(base)
        .allow_http(true)
        .transport(Arc::new(
            HyperTransport::builder().protocols(Protocols::Http1).build()?,
        ))
        .auth(Arc::new(StaticBearer::new(
            TOKEN.trim_start_matches("Bearer ").to_owned(),
        )))
        .retry(Arc::new(Retry::builder().max_attempts(3).build()))
        .throttle(Arc::new(throttle))
        .breaker(Arc::new(
            CircuitBreaker::builder().key_by(breaker::KeyBy::Tenant).build(),
        ))
        .normalizer(Arc::new(Normalize::new()))
        .build()?)
}

fn reqwest_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
}
