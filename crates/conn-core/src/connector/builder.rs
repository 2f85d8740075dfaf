//! `ConnectorBuilder`: a connector's settings and components, validated once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use super::Connector;
use super::hedging::Hedging;
use super::pipeline::Pipeline;
use crate::{
    AuthStrategy, BaseUrl, Breaker, Error, HintParser, JsonPassThrough, NoAuth, NoBreaker, NoRetry,
    NoThrottle, Normalizer, RetryPolicy, Telemetry, Throttle, Transport,
};

/// The default correlation header.
pub const DEFAULT_CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Per-attempt timeout unless configured: generous, but an attempt never hangs forever.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Total timeout of a call (attempts and waits) unless configured.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(120);

impl Connector {
    /// Starts building a connector named `name` (the name appears in reports,
    /// logs and metrics).
    pub fn builder(name: impl Into<String>) -> ConnectorBuilder {
        ConnectorBuilder::new(name.into())
    }
}

/// Builds a [`Connector`]. Only the base URL and the transport are required;
/// every other component defaults to its pass-through implementation.
pub struct ConnectorBuilder {
    name: String,
    base_url: Option<String>,
    allow_http: bool,
    default_headers: HeaderMap,
    invalid: Option<&'static str>,
    attempt_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    correlation_header: Option<HeaderName>,
    hints: HintParser,
    telemetry: Telemetry,
    transport: Option<Arc<dyn Transport>>,
    auth: Arc<dyn AuthStrategy>,
    retry: Arc<dyn RetryPolicy>,
    throttle: Arc<dyn Throttle>,
    breaker: Arc<dyn Breaker>,
    normalizer: Arc<dyn Normalizer>,
    hedging: Option<Hedging>,
}

impl ConnectorBuilder {
    fn new(name: String) -> Self {
        ConnectorBuilder {
            name,
            base_url: None,
            allow_http: false,
            default_headers: HeaderMap::new(),
            invalid: None,
            attempt_timeout: Some(DEFAULT_ATTEMPT_TIMEOUT),
            total_timeout: Some(DEFAULT_TOTAL_TIMEOUT),
            correlation_header: Some(DEFAULT_CORRELATION_HEADER),
            hints: HintParser::default(),
            telemetry: Telemetry::default(),
            transport: None,
            auth: Arc::new(NoAuth),
            retry: Arc::new(NoRetry),
            throttle: Arc::new(NoThrottle),
            breaker: Arc::new(NoBreaker),
            normalizer: Arc::new(JsonPassThrough),
            hedging: None,
        }
    }

    /// The base URL every endpoint is joined onto (`https://` unless
    /// [`allow_http`](Self::allow_http) is set).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows a plain `http://` base URL (local services, tests). Off by default.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// A header sent with every request (a request's own header wins).
    pub fn default_header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.default_headers.insert(name, value);
            }
            (Err(_), _) => self.invalid = Some("invalid default header name"),
            (_, Err(_)) => self.invalid = Some("invalid default header value"),
        }
        self
    }

    /// Time limit of each attempt, body included (default 30 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Time limit of a whole call, retries and waits included (default 120 s).
    /// A context deadline that is earlier wins.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// Removes the default time limits (a context deadline still applies).
    pub fn no_timeouts(mut self) -> Self {
        self.attempt_timeout = None;
        self.total_timeout = None;
        self
    }

    /// The header that carries the correlation id (default `X-Request-Id`);
    /// `None` sends none.
    pub fn correlation_header(mut self, name: Option<HeaderName>) -> Self {
        self.correlation_header = name;
        self
    }

    /// How server hints (Retry-After, RateLimit fields, vendor reset headers)
    /// are read from this API's responses (default: the standard fields plus
    /// `X-RateLimit-Reset` in any common format).
    pub fn server_hints(mut self, parser: HintParser) -> Self {
        self.hints = parser;
        self
    }

    /// Instrumentation: spans, events, metrics, body tracing, label choices
    /// (default: on, bodies off, no endpoint or tenant labels).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The transport (required).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The auth strategy (default: none).
    pub fn auth(mut self, auth: Arc<dyn AuthStrategy>) -> Self {
        self.auth = auth;
        self
    }

    /// The retry policy (default: never retry).
    pub fn retry(mut self, retry: Arc<dyn RetryPolicy>) -> Self {
        self.retry = retry;
        self
    }

    /// The throttle (default: none). Pass the same `Arc` to several
    /// connectors to share one quota.
    pub fn throttle(mut self, throttle: Arc<dyn Throttle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// The circuit breaker (default: always closed).
    pub fn breaker(mut self, breaker: Arc<dyn Breaker>) -> Self {
        self.breaker = breaker;
        self
    }

    /// The normalizer used by [`Connector::call_document`] (default: JSON pass-through).
    pub fn normalizer(mut self, normalizer: Arc<dyn Normalizer>) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Hedged requests for reads: a second attempt races a slow first one
    /// (default: off). Hedges are granted by the retry policy like retries
    /// (see [`Hedging`]).
    pub fn hedging(mut self, hedging: Hedging) -> Self {
        self.hedging = Some(hedging);
        self
    }

    /// Validates the configuration and builds the connector.
    pub fn build(self) -> Result<Connector, Error> {
        if let Some(reason) = self.invalid {
            return Err(Error::config(reason));
        }
        let base_url = self
            .base_url
            .ok_or_else(|| Error::config("the connector has no base URL"))?;
        let base = BaseUrl::parse(&base_url, self.allow_http)?;
        let transport = self
            .transport
            .ok_or_else(|| Error::config("the connector has no transport"))?;
        if self.attempt_timeout.is_some_and(|t| t.is_zero())
            || self.total_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(Error::config("timeouts must be greater than zero"));
        }
        self.auth.bind_telemetry(&self.name, self.telemetry);
        Ok(Connector {
            pipeline: Arc::new(Pipeline {
                name: Arc::from(self.name),
                base,
                default_headers: self.default_headers,
                attempt_timeout: self.attempt_timeout,
                total_timeout: self.total_timeout,
                correlation_header: self.correlation_header,
                hints: self.hints,
                telemetry: self.telemetry,
                metrics: OnceLock::new(),
                transport,
                auth: self.auth,
                retry: self.retry,
                throttle: self.throttle,
                breaker: self.breaker,
                normalizer: self.normalizer,
                hedging: self.hedging,
            }),
        })
    }
}
