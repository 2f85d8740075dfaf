//! What the gateway is told: listen address, inbound limits, callers and
//! their keys, the admin key, named workflows.
//!
//! These are run-time settings built in code or from a blueprint's
//! `[gateway]` section; keys are `SecretString`s here and are hashed as soon
//! as the gateway takes them (see `callers.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use conn_blueprint::GatewaySection;
use secrecy::SecretString;

/// Every setting of a gateway. `Default` gives the safe defaults: listen on
/// `127.0.0.1:8080`, 1 MiB request bodies, 30 s per request, 256 requests in
/// flight, 16 KiB of request headers, 30 s to drain, no callers (so every
/// call is refused) and no admin key (so the admin API is closed).
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where `conn serve` listens.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger is refused with 413.
    pub body_limit: usize,
    /// Time limit of one request, the upstream call included; past it 504.
    pub request_timeout: Duration,
    /// Requests handled at once on the `/v1` routes; more are shed with 503
    /// and `Retry-After` instead of queueing.
    pub max_in_flight: usize,
    /// Largest total size of request header names and values, in bytes; more
    /// is refused with 431.
    pub max_header_bytes: usize,
    /// On SIGTERM, how long calls in flight may take to finish.
    pub shutdown_grace: Duration,
    /// The key of the admin API (`None`: the admin API refuses everyone).
    pub admin_key: Option<SecretString>,
    /// Who may call, by name.
    pub callers: BTreeMap<String, CallerConfig>,
    /// Named workflows served at `POST /v1/workflows/{name}`.
    pub workflows: BTreeMap<String, WorkflowSpec>,
}

impl Default for GatewayConfig {
    /// The limits a blueprint's `[gateway]` section defaults to (one
    /// definition, in conn-blueprint), with no callers and no admin key.
    fn default() -> Self {
        let section = GatewaySection::default();
        GatewayConfig {
            listen: section.listen,
            body_limit: section.body_limit,
            request_timeout: section.request_timeout,
            max_in_flight: section.max_in_flight,
            max_header_bytes: section.max_header_bytes,
            shutdown_grace: section.shutdown_grace,
            admin_key: None,
            callers: BTreeMap::new(),
            workflows: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("callers", &self.callers)
            .field("workflows", &self.workflows)
            .finish()
    }
}

/// One caller: its key and what it may use.
#[derive(Clone)]
pub struct CallerConfig {
    /// The caller's key (sent as `Authorization: Bearer <key>` or `X-Conn-Key`).
    pub key: SecretString,
    /// Connectors it may call; `"*"` means every one.
    pub connectors: Vec<String>,
    /// Tenants it may act for; `"*"` means any. Empty: it calls without a
    /// tenant and may not name one.
    pub tenants: Vec<String>,
    /// Its own rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

impl CallerConfig {
    /// A caller with `key` and no permission yet.
    pub fn new(key: impl Into<String>) -> CallerConfig {
        CallerConfig {
            key: SecretString::from(key.into()),
            connectors: Vec::new(),
            tenants: Vec::new(),
            rate_limit: None,
        }
    }

    /// Adds connectors it may call (`"*"`: all).
    pub fn connectors<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.connectors.extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds tenants it may act for (`"*"`: any).
    pub fn tenants<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants.extend(names.into_iter().map(Into::into));
        self
    }

    /// Gives it a rate limit of its own.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }
}

impl fmt::Debug for CallerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallerConfig")
            .field("key", &"<redacted>")
            .field("connectors", &self.connectors)
            .field("tenants", &self.tenants)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// `count` requests every `per_seconds` seconds, `burst` of them back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per period.
    pub count: u32,
    /// The period, in seconds.
    pub per_seconds: u32,
    /// How many may come back to back (at least 1).
    pub burst: u32,
}

/// A named workflow: calls run concurrently under one correlation id and
/// one deadline (see `conn_blueprint::Workflow`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowSpec {
    /// The calls, in the order of the answer.
    pub steps: Vec<StepSpec>,
    /// The deadline of the whole workflow (default: the request timeout).
    pub timeout: Option<Duration>,
}

/// One call of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// The step's name in the answer.
    pub name: String,
    /// The connector it calls.
    pub connector: String,
    /// The HTTP method.
    pub method: http::Method,
    /// The endpoint; `{param}` is replaced by the workflow request's query
    /// parameter `param` (percent-encoded).
    pub path: String,
}

impl GatewayConfig {
    /// The settings a blueprint's `[gateway]` section declares (the
    /// defaults when it has none: no callers, no admin key).
    pub fn from_blueprint(blueprint: &conn_blueprint::Blueprint) -> GatewayConfig {
        let Some(section) = blueprint.gateway() else {
            return GatewayConfig::default();
        };
        GatewayConfig {
            listen: section.listen,
            body_limit: section.body_limit,
            request_timeout: section.request_timeout,
            max_in_flight: section.max_in_flight,
            max_header_bytes: section.max_header_bytes,
            shutdown_grace: section.shutdown_grace,
            admin_key: section.admin_key.as_ref().map(|k| k.value().clone()),
            callers: section
                .callers
                .iter()
                .map(|(name, caller)| {
                    let config = CallerConfig {
                        key: caller.key.value().clone(),
                        connectors: caller.connectors.clone(),
                        tenants: caller.tenants.clone(),
                        rate_limit: caller.rate_limit.map(|l| RateLimit {
                            count: l.count,
                            per_seconds: l.per_seconds,
                            burst: l.burst,
                        }),
                    };
                    (name.clone(), config)
                })
                .collect(),
            workflows: section
                .workflows
                .iter()
                .map(|(name, workflow)| {
                    let spec = WorkflowSpec {
                        timeout: workflow.timeout,
                        steps: workflow
                            .steps
                            .iter()
                            .map(|step| StepSpec {
                                name: step.name.clone(),
                                connector: step.connector.clone(),
                                method: http::Method::from_bytes(step.method.as_bytes())
                                    .unwrap_or(http::Method::GET),
                                path: step.path.clone(),
                            })
                            .collect(),
                    };
                    (name.clone(), spec)
                })
                .collect(),
        }
    }
}
