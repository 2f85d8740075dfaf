//! From effective values to typed configuration: each section of a
//! connector (auth, retry, throttle, breaker, normalize, ...) checked and built.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::config::{
    AdaptiveConfig, AuthConfig, BreakerConfig, BudgetConfig, ConnectorConfig, HedgingConfig, NormalizeConfig,
    RedirectConfig, RetryConfig, ThrottleConfig, TlsConfig, VariantConfig,
};
use crate::errors::ValidationErrors;
use crate::layers::{Effective, Origin};
use crate::secret::{Secret, SecretSource};
use crate::values::{SecretRef, Value, format_duration};

mod egress;
mod signing_keys;

/// Where secret references may point: the environment to read `{ env }`
/// from, and whether inline secrets are allowed.
#[derive(Clone, Copy)]
pub(crate) struct SecretRules<'a> {
    pub(crate) env: &'a HashMap<String, String>,
    pub(crate) allow_inline: bool,
}

/// Builds one table's typed configuration from its effective values.
pub(crate) struct Build<'a> {
    /// Display path of the table being built (`connectors.billing`).
    prefix: String,
    name: &'a str,
    line: Option<usize>,
    effective: &'a Effective,
    errors: &'a mut ValidationErrors,
    secrets: SecretRules<'a>,
    /// `"variant."` while building a feature-flag variant: its keys win.
    overlay: &'static str,
}

impl<'a> Build<'a> {
    /// Starts building the table at `prefix` (`connectors.billing`, or a
    /// tenant's) of connector `name`, declared at `line`.
    pub(crate) fn new(
        prefix: String,
        name: &'a str,
        line: Option<usize>,
        effective: &'a Effective,
        errors: &'a mut ValidationErrors,
        secrets: SecretRules<'a>,
    ) -> Self {
        Build {
            prefix,
            name,
            line,
            effective,
            errors,
            secrets,
            overlay: "",
        }
    }

    /// The key actually in effect: the variant's own, when building one and it has it.
    fn resolve(&self, key: &str) -> String {
        let overlaid = format!("{}{key}", self.overlay);
        if !self.overlay.is_empty() && self.effective.contains_key(overlaid.as_str()) {
            overlaid
        } else {
            key.to_owned()
        }
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, self.resolve(key))
    }

    fn line(&self, key: &str) -> Option<usize> {
        self.effective
            .get(self.resolve(key).as_str())
            .and_then(|(_, o)| o.line())
            .or(self.line)
    }

    pub(crate) fn error(&mut self, key: &str, message: impl Into<String>) {
        let path = self.path(key);
        let line = self.line(key);
        let origin = self
            .effective
            .get(self.resolve(key).as_str())
            .map(|(_, o)| o.clone());
        let mut message = message.into();
        if let Some(Origin::Env(var)) = origin {
            message.push_str(&format!(" (set by {var})"));
        }
        self.errors.push(path, line, message);
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.effective.get(self.resolve(key).as_str()).map(|(v, _)| v)
    }

    fn bool(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            Some(Value::Int(i)) => *i,
            _ => 0,
        }
    }

    fn float(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Value::Float(f)) => *f,
            _ => 0.0,
        }
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn duration(&self, key: &str) -> Duration {
        match self.get(key) {
            Some(Value::Duration(d)) => *d,
            _ => Duration::ZERO,
        }
    }

    /// `hedging.*`: off unless `hedging.after` is set.
    fn hedging(&mut self) -> Option<HedgingConfig> {
        let percentile = self
            .get("hedging.percentile")
            .map(|_| self.float("hedging.percentile"));
        if self.get("hedging.after").is_none() {
            if percentile.is_some() {
                self.error(
                    "hedging.percentile",
                    "needs hedging.after, the delay until 20 latencies are known",
                );
            }
            return None;
        }
        if let Some(q) = percentile
            && !(q > 0.0 && q < 1.0)
        {
            self.error("hedging.percentile", "must be between 0 and 1 (0.95 = p95)");
        }
        Some(HedgingConfig {
            after: self.duration("hedging.after"),
            percentile,
            min_delay: self.duration("hedging.min_delay"),
        })
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::StrList(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    fn secret(&mut self, key: &str) -> Option<Secret> {
        let reference = match self.get(key) {
            Some(Value::Secret(r)) => r.clone(),
            _ => {
                self.error(key, "missing (required by this auth.type)");
                return None;
            }
        };
        let shown = self.path(key);
        match resolve_secret(reference, self.secrets, &shown) {
            Ok(secret) => Some(secret),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    fn required(&mut self, key: &str) -> Option<String> {
        let value = self.str(key);
        if value.is_none() {
            self.error(key, "missing (required by this auth.type)");
        }
        value
    }

    pub(crate) fn auth(&mut self) -> Option<AuthConfig> {
        let kind = self.str("auth.type").unwrap_or_else(|| "none".into());
        let used: &[&str] = match kind.as_str() {
            "none" => &[],
            "bearer" => &["auth.token"],
            "api_key" => &["auth.header", "auth.query", "auth.key", "auth.prefix"],
            "basic" => &["auth.username", "auth.password"],
            k if signing_keys::is_signing(k) => signing_keys::used_keys(k),
            _ => &[
                "auth.token_url",
                "auth.client_id",
                "auth.client_secret",
                "auth.scopes",
                "auth.audience",
                "auth.client_auth",
            ],
        };
        let stray: Vec<&'static str> = self
            .effective
            .iter()
            .filter(|(k, (_, origin))| {
                k.starts_with("auth.")
                    && **k != "auth.type"
                    && *origin != Origin::Default
                    && !used.contains(k)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in stray {
            self.error(key, format!("not used by auth.type = {kind:?}"));
        }
        match kind.as_str() {
            "none" => Some(AuthConfig::None),
            "bearer" => Some(AuthConfig::Bearer {
                token: self.secret("auth.token")?,
            }),
            "api_key" => {
                let header = self.str("auth.header");
                let query = self.str("auth.query");
                if header.is_some() && query.is_some() {
                    self.error("auth.query", "set auth.header or auth.query, not both");
                }
                let key = self.secret("auth.key")?;
                Some(AuthConfig::ApiKey {
                    header,
                    query,
                    key,
                    prefix: self.str("auth.prefix"),
                })
            }
            "basic" => {
                let username = self.required("auth.username");
                let password = self.secret("auth.password");
                Some(AuthConfig::Basic {
                    username: username?,
                    password: password?,
                })
            }
            k if signing_keys::is_signing(k) => self.signing_auth(k),
            _ => {
                let token_url = self.required("auth.token_url");
                let client_id = self.required("auth.client_id");
                let client_secret = self.secret("auth.client_secret");
                if let Some(url) = &token_url {
                    if url.starts_with("http://") && !self.bool("allow_http") {
                        self.error("auth.token_url", "an http:// token URL needs allow_http = true");
                    } else if !url.starts_with("https://") && !url.starts_with("http://") {
                        self.error("auth.token_url", "expected an absolute https:// URL");
                    }
                }
                Some(AuthConfig::OAuth2ClientCredentials {
                    token_url: token_url?,
                    client_id: client_id?,
                    client_secret: client_secret?,
                    scopes: self.list("auth.scopes"),
                    audience: self.str("auth.audience"),
                    client_auth: self.str("auth.client_auth").unwrap_or_else(|| "basic".into()),
                })
            }
        }
    }

    pub(crate) fn retry_config(&mut self) -> RetryConfig {
        let retry = RetryConfig {
            max_attempts: self.int("retry.max_attempts").clamp(1, i64::from(u32::MAX)) as u32,
            backoff: self.str("retry.backoff").unwrap_or_default(),
            base: self.duration("retry.base"),
            factor: self.float("retry.factor"),
            step: self.duration("retry.step"),
            max_delay: self.duration("retry.max_delay"),
            jitter: self.str("retry.jitter").unwrap_or_default(),
            retry_500: self.bool("retry.retry_500"),
            max_hint_wait: self.duration("retry.max_hint_wait"),
            budget: BudgetConfig {
                ratio: self.float("retry.budget.ratio"),
                min_per_second: self.int("retry.budget.min_per_second").min(i64::from(u32::MAX)) as u32,
            },
            shared_budget: self.str("retry.shared_budget"),
        };
        if retry.factor < 1.0 {
            self.error("retry.factor", "must be at least 1.0");
        }
        if retry.budget.ratio < 0.0 {
            self.error("retry.budget.ratio", "must be 0 or more");
        }
        if retry.max_delay < retry.base {
            self.error("retry.max_delay", "is shorter than retry.base");
        }

        retry
    }

    pub(crate) fn throttle_config(&mut self) -> ThrottleConfig {
        let limits = match self.get("throttle.limits") {
            Some(Value::Limits(l)) => l.clone(),
            _ => Vec::new(),
        };
        let throttle = ThrottleConfig {
            limits,
            max_in_flight: self.int("throttle.max_in_flight") as usize,
            key: self.str("throttle.key").unwrap_or_default(),
            mode: self.str("throttle.mode").unwrap_or_default(),
            max_wait: self.duration("throttle.max_wait"),
            shared: self.str("throttle.shared"),
            honour_server_hints: self.bool("throttle.honour_server_hints"),
            adaptive: self.bool("throttle.adaptive.enabled").then(|| AdaptiveConfig {
                initial_rate: self.float("throttle.adaptive.initial_rate"),
                min_rate: self.float("throttle.adaptive.min_rate"),
                max_rate: self.float("throttle.adaptive.max_rate"),
            }),
        };
        if let Some(adaptive) = throttle.adaptive {
            if adaptive.min_rate.is_nan() || adaptive.min_rate <= 0.0 {
                self.error("throttle.adaptive.min_rate", "must be more than 0");
            } else if adaptive.max_rate < adaptive.min_rate {
                self.error(
                    "throttle.adaptive.max_rate",
                    "is lower than throttle.adaptive.min_rate",
                );
            } else if !(adaptive.min_rate..=adaptive.max_rate).contains(&adaptive.initial_rate) {
                self.error(
                    "throttle.adaptive.initial_rate",
                    "must be between throttle.adaptive.min_rate and throttle.adaptive.max_rate",
                );
            }
        }
        if throttle.shared.is_some() && !throttle.enabled() {
            self.error(
                "throttle.shared",
                "a shared throttle needs throttle.limits, throttle.max_in_flight or throttle.adaptive",
            );
        }

        throttle
    }

    fn variant(&mut self) -> Option<VariantConfig> {
        let overrides = self
            .effective
            .keys()
            .any(|k| k.starts_with("variant.retry.") || k.starts_with("variant.throttle."));
        let percent = self.float("variant.percent");
        let tenants = self.list("variant.tenants");
        if !(0.0..=100.0).contains(&percent) {
            self.error("variant.percent", "must be between 0 and 100");
        }
        if !overrides {
            if percent > 0.0 || !tenants.is_empty() {
                self.error(
                    "variant",
                    "selects calls but overrides nothing: add variant.retry or variant.throttle keys",
                );
            }
            return None;
        }
        if percent == 0.0 && tenants.is_empty() {
            self.error(
                "variant.percent",
                "the variant is never used: set variant.percent or variant.tenants",
            );
        }
        self.overlay = "variant.";
        let retry = self.retry_config();
        let mut throttle = self.throttle_config();
        self.overlay = "";
        // A variant's throttle is its own, never a shared group's.
        throttle.shared = None;
        Some(VariantConfig {
            name: self.str("variant.name").unwrap_or_else(|| "b".into()),
            percent,
            tenants,
            retry,
            throttle,
        })
    }

    pub(crate) fn config(&mut self) -> Option<ConnectorConfig> {
        let before = self.errors.len();
        let allow_http = self.bool("allow_http");
        let auth = self.auth();
        let base_url = match self.str("base_url") {
            None => {
                self.error("base_url", "missing (set it in the connector or in [defaults])");
                String::new()
            }
            Some(url) => {
                let has_credentials = !matches!(auth, Some(AuthConfig::None));
                if let Some(rest) = url.strip_prefix("http://") {
                    if !allow_http {
                        if has_credentials {
                            self.error(
                                "base_url",
                                "http:// base URL with credentials (auth.type is not \"none\") needs allow_http = true",
                            );
                        } else {
                            self.error("base_url", "http:// base URL needs allow_http = true");
                        }
                    }
                    if rest.is_empty() {
                        self.error("base_url", "the URL has no host");
                    }
                } else if let Some(rest) = url.strip_prefix("https://") {
                    if rest.is_empty() {
                        self.error("base_url", "the URL has no host");
                    }
                } else {
                    self.error("base_url", "expected an absolute https:// (or http://) URL");
                }
                if (url.starts_with("http://") || url.starts_with("https://"))
                    && url.len() > 8
                    && let Err(e) = conn_core::BaseUrl::parse(&url, true)
                {
                    self.error("base_url", format!("not a valid base URL: {}", e.message()));
                }
                url
            }
        };

        let headers = match self.get("headers") {
            Some(Value::StrMap(map)) => map.clone(),
            _ => BTreeMap::new(),
        };
        for (name, value) in &headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.error(&format!("headers.{name}"), "not a valid header name");
            } else if http::HeaderValue::from_str(value).is_err() {
                self.error(&format!("headers.{name}"), "not a valid header value");
            }
        }

        let connect_timeout = self.duration("timeouts.connect");
        if connect_timeout.is_zero() {
            self.error("timeouts.connect", "must be more than 0");
        }
        let body_limit = usize::try_from(self.int("body_limit")).unwrap_or(usize::MAX);
        let attempt_timeout = self.duration("timeouts.attempt");
        let total_timeout = self.duration("timeouts.total");
        if attempt_timeout.is_zero() {
            self.error("timeouts.attempt", "must be more than 0");
        }
        if total_timeout < attempt_timeout {
            self.error(
                "timeouts.total",
                format!(
                    "total timeout {} is shorter than one attempt timeout {}",
                    format_duration(total_timeout),
                    format_duration(attempt_timeout)
                ),
            );
        }

        let retry = self.retry_config();
        let throttle = self.throttle_config();
        let variant = self.variant();

        let breaker = BreakerConfig {
            enabled: self.bool("breaker.enabled"),
            consecutive_failures: self.int("breaker.consecutive_failures") as u32,
            failure_rate: self.float("breaker.failure_rate"),
            window_calls: self.int("breaker.window_calls") as u32,
            minimum_calls: self.int("breaker.minimum_calls") as u32,
            cooldown: self.duration("breaker.cooldown"),
            probes: self.int("breaker.probes") as u32,
            key: self.str("breaker.key").unwrap_or_default(),
            slow_call_threshold: match self.get("breaker.slow_call_threshold") {
                Some(Value::Duration(d)) => Some(*d),
                _ => None,
            },
            slow_call_rate: self.float("breaker.slow_call_rate"),
        };
        if !(breaker.slow_call_rate > 0.0 && breaker.slow_call_rate <= 1.0) {
            self.error("breaker.slow_call_rate", "must be more than 0 and at most 1");
        }
        if breaker.slow_call_threshold.is_some_and(|d| d.is_zero()) {
            self.error("breaker.slow_call_threshold", "must be more than 0");
        }
        if !(breaker.failure_rate > 0.0 && breaker.failure_rate <= 1.0) {
            self.error("breaker.failure_rate", "must be more than 0 and at most 1");
        }
        if breaker.cooldown.is_zero() {
            self.error("breaker.cooldown", "must be more than 0");
        }

        let normalize = NormalizeConfig {
            format: self.str("normalize.format").unwrap_or_default(),
            force_array: self.list("normalize.force_array"),
            mapping: match self.get("normalize.mapping") {
                Some(Value::Mapping(mapping, _)) => Some((**mapping).clone()),
                _ => None,
            },
        };
        let redirects = RedirectConfig {
            follow: self.bool("redirects.follow"),
            max_hops: self.int("redirects.max_hops").clamp(1, 255) as u8,
            cross_origin: self.str("redirects.cross_origin").unwrap_or_default(),
        };
        if self.int("redirects.max_hops") > 255 {
            self.error("redirects.max_hops", "must be at most 255");
        }
        let ca_file = self.str("tls.ca_file").map(PathBuf::from);
        let ca_pem = match &ca_file {
            Some(path) => match std::fs::read(path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    self.error(
                        "tls.ca_file",
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    );
                    None
                }
            },
            None => None,
        };
        let tls = TlsConfig {
            roots: self.str("tls.roots").unwrap_or_default(),
            ca_file,
            ca_pem,
        };
        if tls.roots == "none" && tls.ca_pem.is_none() && base_url.starts_with("https://") {
            self.error("tls.roots", "\"none\" without tls.ca_file trusts no server");
        }

        let egress = self.egress();
        let hedging = self.hedging();
        let chaos = crate::chaos::ChaosConfig::read(self.effective);
        if let Some(problem) = chaos.as_ref().and_then(|c| c.problem()) {
            self.error("chaos", problem);
        }

        if self.errors.len() != before {
            return None;
        }
        Some(ConnectorConfig {
            name: self.name.to_owned(),
            base_url,
            allow_http,
            headers,
            attempt_timeout,
            total_timeout,
            connect_timeout,
            body_limit,
            auth: auth?,
            retry,
            throttle,
            variant,
            tenant_auth: BTreeMap::new(),
            tenant_retry: BTreeMap::new(),
            tenant_throttle: BTreeMap::new(),
            breaker,
            normalize,
            redirects,
            tls,
            egress,
            hedging,
            fleet: crate::config::FleetUse::read(self.effective),
            pagination: BTreeMap::new(),
            chaos,
        })
    }
}

/// Reads the secret `reference` points to (at `shown`, for the warning an
/// inline secret earns); the message says what is wrong, never a value.
/// Shared by connector auth and the `[gateway]` section's keys.
pub(crate) fn resolve_secret(
    reference: SecretRef,
    rules: SecretRules<'_>,
    shown: &str,
) -> Result<Secret, String> {
    match reference {
        SecretRef::Env(name) => match rules.env.get(&name) {
            Some(value) if !value.is_empty() => Ok(Secret::new(
                SecretSource::Env(name),
                SecretString::from(value.clone()),
            )),
            _ => Err(format!("environment variable {name} is not set")),
        },
        SecretRef::File(path) => match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value = text.trim_end_matches(['\r', '\n']).to_owned();
                Ok(Secret::new(SecretSource::File(path), SecretString::from(value)))
            }
            Err(e) => Err(format!(
                "cannot read secret file {}: {}",
                path.display(),
                e.kind()
            )),
        },
        SecretRef::Inline(value) => {
            if rules.allow_inline {
                tracing::warn!(
                    key = %shown,
                    "inline secret in the blueprint; prefer {{ env = ... }} or {{ file = ... }}"
                );
                Ok(Secret::new(SecretSource::Inline, value))
            } else {
                Err("inline secrets are refused; use { env = \"NAME\" } or { file = \"/path\" }, or set allow_inline_secrets = true at the top level".into())
            }
        }
    }
}
