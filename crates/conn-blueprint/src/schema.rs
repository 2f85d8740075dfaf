//! Every key a connector table accepts, with its kind, default and meaning.
//!
//! This table is the single source of truth: validation, `explain()`,
//! environment overrides and docs/configuration.md all follow it.

/// What a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false`.
    Bool,
    /// A whole number, at least `min`.
    Int {
        /// The smallest accepted value.
        min: i64,
    },
    /// A number (integers accepted).
    Float,
    /// A string.
    Str,
    /// A duration: `"250ms"`, `"5s"`, `"2m"`, `"1h"`, or a number of seconds.
    Duration,
    /// One of a fixed list of strings.
    Enum(&'static [&'static str]),
    /// A secret reference: `{ env = "NAME" }`, `{ file = "/path" }` or `{ value = "..." }`.
    Secret,
    /// A table of string to string (headers).
    StrMap,
    /// An array of strings.
    StrList,
    /// An array of `{ count, per_seconds, burst }` tables.
    Limits,
    /// A `conn_normalize::Mapping`: `{ fields = [{ field, from, ... }] }`.
    Mapping,
}

impl Kind {
    /// Whether an environment variable can override it.
    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            Kind::Bool | Kind::Int { .. } | Kind::Float | Kind::Str | Kind::Duration | Kind::Enum(_)
        )
    }

    /// What the value should be, for error messages.
    pub fn expected(self) -> String {
        match self {
            Kind::Bool => "expected a boolean".into(),
            Kind::Int { min } => format!("expected an integer (at least {min})"),
            Kind::Float => "expected a number".into(),
            Kind::Str => "expected a string".into(),
            Kind::Duration => {
                "expected a duration such as \"250ms\", \"5s\", \"2m\" or a number of seconds".into()
            }
            Kind::Enum(values) => format!("expected one of {}", values.join(", ")),
            Kind::Secret => "expected a secret reference { env = \"NAME\" } or { file = \"/path\" }".into(),
            Kind::StrMap => "expected a table of strings".into(),
            Kind::StrList => "expected an array of strings".into(),
            Kind::Limits => "expected an array of { count, per_seconds, burst } tables".into(),
            Kind::Mapping => {
                "expected a field mapping { fields = [{ field = \"...\", from = \"/...\" }] }".into()
            }
        }
    }
}

/// One key of a connector table.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Dotted path inside a connector table, e.g. `retry.max_attempts`.
    pub path: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// The default, as written in TOML (`None`: no default, see the meaning).
    pub default: Option<&'static str>,
    /// What it means.
    pub doc: &'static str,
}

const fn key(path: &'static str, kind: Kind, default: Option<&'static str>, doc: &'static str) -> KeySpec {
    KeySpec {
        path,
        kind,
        default,
        doc,
    }
}

/// Auth types.
pub const AUTH_TYPES: &[&str] = &[
    "none",
    "bearer",
    "api_key",
    "basic",
    "oauth2_client_credentials",
    "oidc_client_credentials",
    "private_key_jwt",
    "aws_sigv4",
    "hmac",
];

/// Every key, in documentation order.
pub const KEYS: &[KeySpec] = &[
    key(
        "base_url",
        Kind::Str,
        None,
        "Base URL every endpoint is joined onto. Required (in the connector or in [defaults]).",
    ),
    key(
        "allow_http",
        Kind::Bool,
        Some("false"),
        "Allow a plain http:// base URL (and token URL). Needed for local services.",
    ),
    key(
        "headers",
        Kind::StrMap,
        Some("{}"),
        "Default headers sent with every request.",
    ),
    key(
        "timeouts.attempt",
        Kind::Duration,
        Some("\"30s\""),
        "Timeout of one attempt, body included.",
    ),
    key(
        "timeouts.total",
        Kind::Duration,
        Some("\"120s\""),
        "Timeout of the whole call, retries and waits included. Must be >= timeouts.attempt.",
    ),
    key(
        "timeouts.connect",
        Kind::Duration,
        Some("\"10s\""),
        "Time to establish a connection, TLS included (HTTP transport built from the blueprint).",
    ),
    key(
        "body_limit",
        Kind::Int { min: 1 },
        Some("16777216"),
        "Largest response body accepted, in bytes (HTTP transport built from the blueprint; default 16 MiB).",
    ),
    key(
        "auth.type",
        Kind::Enum(AUTH_TYPES),
        Some("\"none\""),
        "Auth strategy. The [auth] table of a connector replaces the one in [defaults] as a whole.",
    ),
    key("auth.token", Kind::Secret, None, "bearer: the token."),
    key(
        "auth.header",
        Kind::Str,
        None,
        "api_key: header carrying the key (default X-API-Key unless auth.query is set).",
    ),
    key(
        "auth.query",
        Kind::Str,
        None,
        "api_key: query parameter carrying the key instead of a header.",
    ),
    key(
        "auth.key",
        Kind::Secret,
        None,
        "api_key: the key. hmac: the shared signing key.",
    ),
    key(
        "auth.prefix",
        Kind::Str,
        None,
        "api_key: scheme put before the key and a space in the header (e.g. \"Token\").",
    ),
    key("auth.username", Kind::Str, None, "basic: user name."),
    key("auth.password", Kind::Secret, None, "basic: password."),
    key(
        "auth.token_url",
        Kind::Str,
        None,
        "oauth2_client_credentials, private_key_jwt: token endpoint (https://, or http:// with allow_http).",
    ),
    key(
        "auth.client_id",
        Kind::Str,
        None,
        "oauth2_client_credentials, oidc_client_credentials, private_key_jwt: client id.",
    ),
    key(
        "auth.client_secret",
        Kind::Secret,
        None,
        "oauth2_client_credentials, oidc_client_credentials: client secret.",
    ),
    key(
        "auth.scopes",
        Kind::StrList,
        Some("[]"),
        "oauth2_client_credentials, oidc_client_credentials, private_key_jwt: scopes requested.",
    ),
    key(
        "auth.audience",
        Kind::Str,
        None,
        "oauth2_client_credentials, oidc_client_credentials, private_key_jwt: audience parameter, if the provider wants one.",
    ),
    key(
        "auth.client_auth",
        Kind::Enum(&["basic", "post"]),
        Some("\"basic\""),
        "oauth2_client_credentials: client_secret_basic or client_secret_post. oidc_client_credentials: required method (default: chosen from the discovery document).",
    ),
    key(
        "auth.issuer",
        Kind::Str,
        None,
        "oidc_client_credentials: issuer URL; its /.well-known/openid-configuration names the token endpoint.",
    ),
    key(
        "auth.private_key",
        Kind::Secret,
        None,
        "private_key_jwt, oidc_client_credentials (instead of client_secret): PEM private key (PKCS#8 RSA or P-256, or PKCS#1 RSA) signing the client assertions.",
    ),
    key(
        "auth.key_id",
        Kind::Str,
        None,
        "private_key_jwt, oidc_client_credentials: kid header of the client assertions.",
    ),
    key(
        "auth.region",
        Kind::Str,
        None,
        "aws_sigv4: signing region (us-east-1...).",
    ),
    key(
        "auth.service",
        Kind::Str,
        None,
        "aws_sigv4: signing name (s3, sqs, dynamodb, execute-api...).",
    ),
    key(
        "auth.access_key_id",
        Kind::Secret,
        None,
        "aws_sigv4: access key id.",
    ),
    key(
        "auth.secret_access_key",
        Kind::Secret,
        None,
        "aws_sigv4: secret access key.",
    ),
    key(
        "auth.session_token",
        Kind::Secret,
        None,
        "aws_sigv4: session token of temporary credentials, if any.",
    ),
    key(
        "auth.payload",
        Kind::Enum(&["signed", "unsigned"]),
        Some("\"signed\""),
        "aws_sigv4: sign the body's SHA-256, or send UNSIGNED-PAYLOAD (S3).",
    ),
    key(
        "auth.scheme",
        Kind::Enum(&["generic", "stripe", "slack"]),
        Some("\"generic\""),
        "hmac: preset the keys below adjust (generic: method, path, query, timestamp, nonce, body_sha256).",
    ),
    key(
        "auth.algorithm",
        Kind::Enum(&["sha256", "sha512"]),
        Some("\"sha256\""),
        "hmac: hash under the HMAC.",
    ),
    key(
        "auth.encoding",
        Kind::Enum(&["hex", "base64"]),
        Some("\"hex\""),
        "hmac: how the signature is written.",
    ),
    key(
        "auth.signed_parts",
        Kind::StrList,
        Some("[]"),
        "hmac: parts signed, in order (method, path, query, timestamp, nonce, body, body_sha256, header:<name>, literal:<text>); [] keeps the scheme's.",
    ),
    key(
        "auth.signature_header",
        Kind::Str,
        None,
        "hmac: header carrying the signature.",
    ),
    key(
        "auth.signature_prefix",
        Kind::Str,
        None,
        "hmac: text before the signature (e.g. \"sha256=\").",
    ),
    key(
        "auth.separator",
        Kind::Str,
        None,
        "hmac: what joins the signed parts (generic: a newline).",
    ),
    key(
        "auth.timestamp_header",
        Kind::Str,
        None,
        "hmac: header carrying the timestamp.",
    ),
    key(
        "auth.nonce_header",
        Kind::Str,
        None,
        "hmac: header carrying the nonce.",
    ),
    key(
        "retry.max_attempts",
        Kind::Int { min: 1 },
        Some("3"),
        "Attempts in all, the first included. 1 disables retries.",
    ),
    key(
        "retry.backoff",
        Kind::Enum(&["exponential", "constant", "linear", "decorrelated"]),
        Some("\"exponential\""),
        "Backoff schedule.",
    ),
    key(
        "retry.base",
        Kind::Duration,
        Some("\"100ms\""),
        "First delay (constant: every delay).",
    ),
    key(
        "retry.factor",
        Kind::Float,
        Some("2.0"),
        "exponential: growth per attempt (>= 1).",
    ),
    key(
        "retry.step",
        Kind::Duration,
        Some("\"100ms\""),
        "linear: added per further attempt.",
    ),
    key(
        "retry.max_delay",
        Kind::Duration,
        Some("\"20s\""),
        "Upper bound of one delay.",
    ),
    key(
        "retry.jitter",
        Kind::Enum(&["full", "equal", "none"]),
        Some("\"full\""),
        "Randomness mixed into delays.",
    ),
    key(
        "retry.retry_500",
        Kind::Bool,
        Some("true"),
        "Retry a 500 Internal Server Error (502/503/504/429 are always retried).",
    ),
    key(
        "retry.max_hint_wait",
        Kind::Duration,
        Some("\"60s\""),
        "Longest server hint (Retry-After, ...) honoured; longer hints give up.",
    ),
    key(
        "retry.budget.ratio",
        Kind::Float,
        Some("0.1"),
        "Retry budget: retries allowed per first attempt. 0 disables the budget.",
    ),
    key(
        "retry.budget.min_per_second",
        Kind::Int { min: 0 },
        Some("10"),
        "Retry budget: retries always allowed per second.",
    ),
    key(
        "retry.shared_budget",
        Kind::Str,
        None,
        "Group name: connectors naming the same group share one retry budget.",
    ),
    key(
        "throttle.limits",
        Kind::Limits,
        Some("[]"),
        "Rate limits, all enforced: [{ count = 10, per_seconds = 1, burst = 1 }].",
    ),
    key(
        "throttle.max_in_flight",
        Kind::Int { min: 0 },
        Some("0"),
        "Concurrency ceiling; 0 means none.",
    ),
    key(
        "throttle.key",
        Kind::Enum(&["global", "tenant", "endpoint", "tenant_endpoint"]),
        Some("\"global\""),
        "What one quota covers.",
    ),
    key(
        "throttle.mode",
        Kind::Enum(&["wait", "reject"]),
        Some("\"wait\""),
        "Wait for capacity (FIFO) or fail at once.",
    ),
    key(
        "throttle.max_wait",
        Kind::Duration,
        Some("\"30s\""),
        "wait mode: longest wait for capacity (never past the call deadline).",
    ),
    key(
        "throttle.honour_server_hints",
        Kind::Bool,
        Some("true"),
        "Pause the quota on server hints (remaining = 0 with a reset, 429 with Retry-After).",
    ),
    key(
        "throttle.adaptive.enabled",
        Kind::Bool,
        Some("false"),
        "Learn a rate from 429s (drops x0.7 per 429, recovers along a cubic curve); enough for a throttle on its own.",
    ),
    key(
        "throttle.adaptive.initial_rate",
        Kind::Float,
        Some("10.0"),
        "adaptive: requests/second assumed when the first 429 arrives.",
    ),
    key(
        "throttle.adaptive.min_rate",
        Kind::Float,
        Some("0.5"),
        "adaptive: the learned rate never drops below this (> 0).",
    ),
    key(
        "throttle.adaptive.max_rate",
        Kind::Float,
        Some("1000.0"),
        "adaptive: the learned rate never recovers above this (>= min_rate).",
    ),
    key(
        "throttle.shared",
        Kind::Str,
        None,
        "Group name: connectors naming the same group share one quota (their throttle sections must be equal).",
    ),
    key(
        "breaker.enabled",
        Kind::Bool,
        Some("true"),
        "Use a circuit breaker.",
    ),
    key(
        "breaker.consecutive_failures",
        Kind::Int { min: 0 },
        Some("5"),
        "Open after this many failures in a row; 0 turns it off.",
    ),
    key(
        "breaker.failure_rate",
        Kind::Float,
        Some("0.5"),
        "Open when this share of the window failed (0 < rate <= 1).",
    ),
    key(
        "breaker.window_calls",
        Kind::Int { min: 1 },
        Some("100"),
        "Size of the failure-rate window, in calls.",
    ),
    key(
        "breaker.minimum_calls",
        Kind::Int { min: 1 },
        Some("20"),
        "Calls the window needs before its rate can open the circuit.",
    ),
    key(
        "breaker.cooldown",
        Kind::Duration,
        Some("\"30s\""),
        "Time open before half-open probes.",
    ),
    key(
        "breaker.probes",
        Kind::Int { min: 1 },
        Some("3"),
        "Half-open probe calls that must succeed to close.",
    ),
    key(
        "breaker.slow_call_threshold",
        Kind::Duration,
        None,
        "Calls taking this long or longer count as slow (unset: slow calls are not tracked).",
    ),
    key(
        "breaker.slow_call_rate",
        Kind::Float,
        Some("1.0"),
        "With slow_call_threshold: open when this share of the window was slow (0 < rate <= 1).",
    ),
    key(
        "breaker.key",
        Kind::Enum(&["connector", "endpoint", "tenant", "tenant_endpoint"]),
        Some("\"connector\""),
        "What one circuit covers.",
    ),
    key(
        "normalize.format",
        Kind::Enum(&["auto", "header", "sniff", "json", "xml"]),
        Some("\"auto\""),
        "How the body format is chosen.",
    ),
    key(
        "normalize.force_array",
        Kind::StrList,
        Some("[]"),
        "XML paths always mapped to arrays (e.g. \"orders.order\").",
    ),
    key(
        "normalize.mapping",
        Kind::Mapping,
        None,
        "Field mapping of the connector's documents (conn_normalize::Mapping): { fields = [{ field, from, default, required, coerce, each }] }; see registry.mapping(name).",
    ),
    key(
        "redirects.follow",
        Kind::Bool,
        Some("false"),
        "Follow redirects (same origin only unless cross_origin = \"strip\").",
    ),
    key(
        "redirects.max_hops",
        Kind::Int { min: 1 },
        Some("5"),
        "Redirect hop limit.",
    ),
    key(
        "redirects.cross_origin",
        Kind::Enum(&["refuse", "strip"]),
        Some("\"refuse\""),
        "A hop to another origin: refuse it, or follow with all credentials stripped.",
    ),
    key(
        "tls.roots",
        Kind::Enum(&["webpki", "native", "none"]),
        Some("\"webpki\""),
        "Trusted roots: compiled-in Mozilla set, the OS store, or none (only tls.ca_file).",
    ),
    key(
        "tls.ca_file",
        Kind::Str,
        None,
        "Extra root CA, PEM file, read when the blueprint is loaded.",
    ),
    key(
        "tls.client_cert_file",
        Kind::Str,
        None,
        "Client certificate chain (PEM file, read at load) for APIs that require mutual TLS; with tls.client_key.",
    ),
    key(
        "tls.client_key",
        Kind::Secret,
        None,
        "The client certificate's private key (PEM), a secret reference.",
    ),
    key(
        "proxy.url",
        Kind::Str,
        None,
        "Every request through this HTTP proxy (http://host:port): CONNECT for https, absolute form for http.",
    ),
    key(
        "proxy.from_env",
        Kind::Bool,
        Some("false"),
        "The proxy from HTTPS_PROXY / http_proxy / ALL_PROXY / NO_PROXY of the environment the blueprint is loaded with.",
    ),
    key(
        "proxy.no_proxy",
        Kind::Str,
        None,
        "Hosts reached directly, comma-separated: names (and subdomains), IPs, subnets, or *.",
    ),
    key(
        "proxy.username",
        Kind::Str,
        None,
        "The proxy's user (Basic), with proxy.password.",
    ),
    key(
        "proxy.password",
        Kind::Secret,
        None,
        "The proxy's password, a secret reference; sent to the proxy only.",
    ),
    key(
        "compression",
        Kind::Bool,
        Some("true"),
        "Ask for gzip/deflate/br/zstd responses and decode them (the body limit counts decoded bytes).",
    ),
    key(
        "max_connections_per_host",
        Kind::Int { min: 1 },
        None,
        "Most sockets open to one origin, idle ones included (default: no cap); a burst waits for one.",
    ),
    key(
        "fleet.throttle",
        Kind::Bool,
        Some("false"),
        "Count the rate limits (the connector's, its shared group's, its tenants') in the [fleet] Redis. `fleet = true` sets all three fleet keys.",
    ),
    key(
        "fleet.tokens",
        Kind::Bool,
        Some("false"),
        "Auth that fetches tokens (oauth2_client_credentials...): fetch them once for the fleet and share them, encrypted, in the [fleet] Redis.",
    ),
    key(
        "fleet.breaker",
        Kind::Bool,
        Some("false"),
        "Follow the [fleet] breaker signals: operator overrides (and, with announce_opens, opened circuits) reach every replica.",
    ),
    key(
        "chaos.enabled",
        Kind::Bool,
        Some("false"),
        "Game day: wrap the transport in conn-chaos and inject the faults below (a release binary also needs chaos.allow_in_release).",
    ),
    key(
        "chaos.server_errors",
        Kind::Float,
        Some("0.0"),
        "Game day: share of attempts answered 503 (0-1).",
    ),
    key(
        "chaos.rate_limits",
        Kind::Float,
        Some("0.0"),
        "Game day: share of attempts answered 429 with Retry-After (0-1).",
    ),
    key(
        "chaos.retry_after",
        Kind::Duration,
        Some("\"1s\""),
        "Game day: the Retry-After of injected 429s.",
    ),
    key(
        "chaos.resets",
        Kind::Float,
        Some("0.0"),
        "Game day: share of attempts failed with a lost connection (0-1).",
    ),
    key(
        "chaos.timeouts",
        Kind::Float,
        Some("0.0"),
        "Game day: share of attempts that hang until the attempt timeout (0-1).",
    ),
    key(
        "chaos.malformed_bodies",
        Kind::Float,
        Some("0.0"),
        "Game day: share of real answers whose body is corrupted (0-1).",
    ),
    key(
        "chaos.latency",
        Kind::Float,
        Some("0.0"),
        "Game day: share of attempts delayed by latency_min..latency_max (0-1).",
    ),
    key(
        "chaos.latency_min",
        Kind::Duration,
        Some("\"0s\""),
        "Game day: shortest added latency.",
    ),
    key(
        "chaos.latency_max",
        Kind::Duration,
        Some("\"0s\""),
        "Game day: longest added latency.",
    ),
    key(
        "chaos.paths",
        Kind::StrList,
        Some("[]"),
        "Game day: only requests whose path (base path included) starts with one of these; all if empty.",
    ),
    key(
        "chaos.tenant_header",
        Kind::Str,
        None,
        "Game day: the request header naming the tenant, for chaos.tenants.",
    ),
    key(
        "chaos.tenants",
        Kind::StrList,
        Some("[]"),
        "Game day: only requests whose chaos.tenant_header is one of these.",
    ),
    key(
        "chaos.seed",
        Kind::Int { min: 0 },
        None,
        "Game day: fixed seed, so the same faults come in the same order.",
    ),
    key(
        "chaos.allow_in_release",
        Kind::Str,
        None,
        "Game day: why chaos may run in a release binary (refused there without it).",
    ),
    key(
        "variant.name",
        Kind::Str,
        Some("\"b\""),
        "Feature flag: label of the alternative configuration (in metrics and explain).",
    ),
    key(
        "variant.percent",
        Kind::Float,
        Some("0.0"),
        "Feature flag: share of calls (0-100, by correlation id) that use the variant's retry/throttle.",
    ),
    key(
        "variant.tenants",
        Kind::StrList,
        Some("[]"),
        "Feature flag: tenants whose calls always use the variant.",
    ),
];

/// The sections a feature-flag variant can override: `variant.retry.*`, `variant.throttle.*`.
pub const VARIANT_SECTIONS: &[&str] = &["retry.", "throttle."];

/// `variant.retry.*` and `variant.throttle.*`: the same keys as `retry.*` and
/// `throttle.*` (shared groups excepted), with no default of their own: they
/// inherit the connector's effective values.
pub fn variant_keys() -> &'static [KeySpec] {
    static VARIANT: std::sync::LazyLock<Vec<KeySpec>> = std::sync::LazyLock::new(|| {
        KEYS.iter()
            .filter(|k| VARIANT_SECTIONS.iter().any(|s| k.path.starts_with(s)))
            .filter(|k| !matches!(k.path, "retry.shared_budget" | "throttle.shared"))
            .map(|k| KeySpec {
                path: Box::leak(format!("variant.{}", k.path).into_boxed_str()),
                kind: k.kind,
                default: None,
                doc: k.doc,
            })
            .collect()
    });
    &VARIANT
}

/// The spec of `path`, if it is a key.
pub fn spec(path: &str) -> Option<&'static KeySpec> {
    KEYS.iter().chain(variant_keys()).find(|k| k.path == path)
}

/// Whether `path` is a table that holds keys (`retry`, `retry.budget`, ...).
pub fn is_section(path: &str) -> bool {
    KEYS.iter().chain(variant_keys()).any(|k| {
        k.path.len() > path.len() && k.path.starts_with(path) && k.path.as_bytes()[path.len()] == b'.'
    })
}
