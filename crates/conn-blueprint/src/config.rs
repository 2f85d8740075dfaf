//! The effective, validated configuration of one connector.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::layers::Effective;
use crate::secret::Secret;
use crate::values::{LimitSpec, Value};

/// The auth strategy of a connector.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthConfig {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// An API key in a header (default `X-API-Key`) or a query parameter.
    ApiKey {
        /// Header name.
        header: Option<String>,
        /// Query parameter (instead of a header).
        query: Option<String>,
        /// The key.
        key: Secret,
        /// Text before the key in the header.
        prefix: Option<String>,
    },
    /// HTTP Basic.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// OAuth2 client credentials grant with a token cache.
    OAuth2ClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: Secret,
        /// Scopes.
        scopes: Vec<String>,
        /// Audience parameter.
        audience: Option<String>,
        /// `basic` or `post`.
        client_auth: String,
    },
    /// Request signing and discovery: `aws_sigv4`, `hmac`,
    /// `oidc_client_credentials`, `private_key_jwt`.
    Signing(crate::signing_auth::SigningAuth),
}

impl AuthConfig {
    /// Whether it sends credentials.
    pub fn has_credentials(&self) -> bool {
        !matches!(self, AuthConfig::None)
    }
}

/// A retry budget's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetConfig {
    /// Retries per first attempt (0: no budget).
    pub ratio: f64,
    /// Retries always allowed per second.
    pub min_per_second: u32,
}

/// Retry settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all.
    pub max_attempts: u32,
    /// `exponential`, `constant`, `linear` or `decorrelated`.
    pub backoff: String,
    /// First delay.
    pub base: Duration,
    /// Exponential growth.
    pub factor: f64,
    /// Linear step.
    pub step: Duration,
    /// Delay cap.
    pub max_delay: Duration,
    /// `full`, `equal` or `none`.
    pub jitter: String,
    /// Retry 500s.
    pub retry_500: bool,
    /// Longest server hint honoured.
    pub max_hint_wait: Duration,
    /// Budget.
    pub budget: BudgetConfig,
    /// Shared budget group.
    pub shared_budget: Option<String>,
}

/// Throttle settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleConfig {
    /// Rate limits.
    pub limits: Vec<LimitSpec>,
    /// Concurrency ceiling (0: none).
    pub max_in_flight: usize,
    /// `global`, `tenant`, `endpoint` or `tenant_endpoint`.
    pub key: String,
    /// `wait` or `reject`.
    pub mode: String,
    /// Longest wait in `wait` mode.
    pub max_wait: Duration,
    /// Shared quota group.
    pub shared: Option<String>,
    /// Pause on server rate-limit hints.
    pub honour_server_hints: bool,
    /// A rate learned from 429s (`throttle.adaptive.enabled = true`).
    pub adaptive: Option<AdaptiveConfig>,
}

/// Settings of a rate learned from 429s (requests per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveConfig {
    /// Rate assumed when the first 429 arrives.
    pub initial_rate: f64,
    /// Lower bound.
    pub min_rate: f64,
    /// Upper bound.
    pub max_rate: f64,
}

impl ThrottleConfig {
    /// Whether a throttle is built at all.
    pub fn enabled(&self) -> bool {
        !self.limits.is_empty() || self.max_in_flight > 0 || self.adaptive.is_some()
    }

    /// Whether two connectors may share one quota built from these settings.
    pub fn same_quota(&self, other: &ThrottleConfig) -> bool {
        self == other
    }
}

/// A feature flag: an alternative retry / throttle configuration for some calls.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantConfig {
    /// Its label in metrics.
    pub name: String,
    /// Share of calls (0-100), chosen by a hash of the correlation id.
    pub percent: f64,
    /// Tenants that always use it.
    pub tenants: Vec<String>,
    /// Retry for calls on the variant (the connector's, with `variant.retry.*` applied).
    pub retry: RetryConfig,
    /// Throttle for calls on the variant (the connector's, with `variant.throttle.*` applied).
    pub throttle: ThrottleConfig,
}

/// Circuit breaker settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// Whether a breaker is used.
    pub enabled: bool,
    /// Failures in a row that open it (0: off).
    pub consecutive_failures: u32,
    /// Window failure rate that opens it.
    pub failure_rate: f64,
    /// Window size in calls.
    pub window_calls: u32,
    /// Calls needed before the rate counts.
    pub minimum_calls: u32,
    /// Time open before probing.
    pub cooldown: Duration,
    /// Probes to close.
    pub probes: u32,
    /// `connector`, `endpoint`, `tenant` or `tenant_endpoint`.
    pub key: String,
    /// Calls at least this long count as slow (`None`: not tracked).
    pub slow_call_threshold: Option<Duration>,
    /// Slow-call share of the window that opens it.
    pub slow_call_rate: f64,
}

/// Normalizer settings.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizeConfig {
    /// `auto`, `header`, `sniff`, `json` or `xml`.
    pub format: String,
    /// XML paths always mapped to arrays.
    pub force_array: Vec<String>,
    /// Field mapping of the connector's documents (`normalize.mapping`).
    pub mapping: Option<conn_normalize::Mapping>,
}

/// Redirect settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RedirectConfig {
    /// Follow redirects.
    pub follow: bool,
    /// Hop limit.
    pub max_hops: u8,
    /// `refuse` or `strip`.
    pub cross_origin: String,
}

/// TLS settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsConfig {
    /// `webpki`, `native` or `none`.
    pub roots: String,
    /// Extra root CA file.
    pub ca_file: Option<PathBuf>,
    /// Its contents, read when the blueprint was loaded.
    pub ca_pem: Option<Vec<u8>>,
}

/// Hedged reads (`hedging.*`): when a second attempt may race a slow first
/// one (see `conn_core::Hedging`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgingConfig {
    /// The fixed delay, or with `percentile` the delay until enough latencies are known.
    pub after: Duration,
    /// Hedge after this quantile of recent latencies instead.
    pub percentile: Option<f64>,
    /// The smallest delay.
    pub min_delay: Duration,
}

/// Everything needed to build one connector.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorConfig {
    /// Its name (the `[connectors.<name>]` key).
    pub name: String,
    /// Base URL.
    pub base_url: String,
    /// Plain http allowed.
    pub allow_http: bool,
    /// Default headers.
    pub headers: BTreeMap<String, String>,
    /// Per-attempt timeout.
    pub attempt_timeout: Duration,
    /// Whole-call timeout.
    pub total_timeout: Duration,
    /// Connect timeout of the HTTP transport built from the blueprint.
    pub connect_timeout: Duration,
    /// Largest response body of the HTTP transport built from the blueprint, in bytes.
    pub body_limit: usize,
    /// Auth.
    pub auth: AuthConfig,
    /// Retry.
    pub retry: RetryConfig,
    /// Throttle.
    pub throttle: ThrottleConfig,
    /// Feature-flag variant of retry and throttle.
    pub variant: Option<VariantConfig>,
    /// Per-tenant credentials (`[connectors.<name>.tenants.<tenant>.auth]`);
    /// tenants not listed use `auth`.
    pub tenant_auth: BTreeMap<String, AuthConfig>,
    /// Per-tenant retry (`[connectors.<name>.tenants.<tenant>.retry]`): the
    /// connector's effective retry with the tenant's keys applied.
    pub tenant_retry: BTreeMap<String, RetryConfig>,
    /// Per-tenant quota (`[connectors.<name>.tenants.<tenant>.throttle]`): the
    /// connector's effective throttle with the tenant's keys applied; never shared.
    pub tenant_throttle: BTreeMap<String, ThrottleConfig>,
    /// Breaker.
    pub breaker: BreakerConfig,
    /// Normalizer.
    pub normalize: NormalizeConfig,
    /// Redirects.
    pub redirects: RedirectConfig,
    /// TLS.
    pub tls: TlsConfig,
    /// Hedged reads, if `hedging.after` is set.
    pub hedging: Option<HedgingConfig>,
    /// Proxy, client certificate, compression, connections per host.
    pub egress: crate::egress::EgressConfig,
    /// Which of its state lives in the fleet's Redis (`fleet.*`, with a `[fleet]` section).
    pub fleet: FleetUse,
    /// Named paginations (`[connectors.<name>.pagination.<walk>]`).
    pub pagination: BTreeMap<String, crate::pagination::PaginationConfig>,
    /// Fault injection for a game day (`[connectors.<name>.chaos]`), if enabled.
    pub chaos: Option<crate::chaos::ChaosConfig>,
}

impl ConnectorConfig {
    /// Whether two configurations need the same transport (base URL origin aside).
    pub fn same_transport(&self, other: &ConnectorConfig) -> bool {
        self.redirects == other.redirects
            && self.tls == other.tls
            && self.egress == other.egress
            && self.connect_timeout == other.connect_timeout
            && self.body_limit == other.body_limit
            && self.chaos == other.chaos
    }
}

/// Which of a connector's state lives in the fleet's Redis
/// (`connectors.<name>.fleet`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetUse {
    /// Its rate limits (its own, its shared group's and its tenants') count in Redis.
    pub throttle: bool,
    /// Its OAuth2 access tokens are fetched once for the fleet and shared.
    pub tokens: bool,
    /// Operator overrides of its breaker (and, with `announce_opens`, opened circuits) reach every replica.
    pub breaker: bool,
}

impl FleetUse {
    /// Whether any of its state is shared.
    pub fn any(&self) -> bool {
        self.throttle || self.tokens || self.breaker
    }

    pub(crate) fn read(effective: &Effective) -> FleetUse {
        let on = |k: &str| matches!(effective.get(k), Some((Value::Bool(true), _)));
        FleetUse {
            throttle: on("fleet.throttle"),
            tokens: on("fleet.tokens"),
            breaker: on("fleet.breaker"),
        }
    }
}
