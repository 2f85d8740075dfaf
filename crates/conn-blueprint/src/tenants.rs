//! Per-tenant settings: a tenant's own auth (starting from the built-in
//! defaults, never the connector's credentials) and its own retry and
//! throttle (starting from the connector's).

use std::collections::BTreeMap;

use crate::build::{Build, SecretRules};
use crate::config::{AuthConfig, RetryConfig, ThrottleConfig};
use crate::errors::ValidationErrors;
use crate::layers::{Effective, Origin, overlay};
use crate::sections::TenantSection;
use crate::values::Layer;

/// The keys one tenant section sets, with their displayed values.
pub(crate) type TenantKeys = Vec<(&'static str, String)>;

/// One connector's tenants, built.
#[derive(Default)]
pub(crate) struct Tenants {
    pub(crate) auth: BTreeMap<String, AuthConfig>,
    pub(crate) retry: BTreeMap<String, RetryConfig>,
    pub(crate) throttle: BTreeMap<String, ThrottleConfig>,
    /// What each tenant sets, for `explain`.
    pub(crate) explain: BTreeMap<String, TenantKeys>,
}

/// What building a connector's tenants starts from.
pub(crate) struct TenantBase<'a> {
    pub(crate) connector: &'a str,
    /// Everything in effect for the connector.
    pub(crate) connector_effective: &'a Effective,
    /// Schema defaults and `[defaults]` (tenant auth starts from the built-in part).
    pub(crate) defaults: &'a Effective,
    pub(crate) secrets: SecretRules<'a>,
}

impl TenantBase<'_> {
    /// Builds every tenant of the connector; problems go to `errors`.
    pub(crate) fn build(&self, sections: Vec<TenantSection>, errors: &mut ValidationErrors) -> Tenants {
        let mut tenants = Tenants::default();
        for section in sections {
            tenants.explain.insert(
                section.name.clone(),
                section
                    .layer
                    .iter()
                    .map(|(k, (v, _))| (*k, v.display()))
                    .collect(),
            );
            let (auth, policy): (Layer, Layer) = section
                .layer
                .into_iter()
                .partition(|(k, _)| k.starts_with("auth."));
            let prefix = format!("connectors.{}.tenants.{}", self.connector, section.name);
            self.policies(&prefix, &section.name, section.line, policy, &mut tenants, errors);
            if !auth.is_empty()
                && let Some(config) = self.auth(&prefix, section.line, auth, errors)
            {
                tenants.auth.insert(section.name, config);
            }
        }
        tenants
    }

    /// The tenant's retry and throttle, on top of the connector's.
    fn policies(
        &self,
        prefix: &str,
        tenant: &str,
        line: Option<usize>,
        policy: Layer,
        tenants: &mut Tenants,
        errors: &mut ValidationErrors,
    ) {
        for group in ["retry.shared_budget", "throttle.shared"] {
            if let Some((_, line)) = policy.get(group) {
                errors.push(
                    format!("{prefix}.{group}"),
                    *line,
                    "a tenant's retry budget and quota are its own; shared groups are set on the connector",
                );
            }
        }
        let has_retry = policy.keys().any(|k| k.starts_with("retry."));
        let has_throttle = policy.keys().any(|k| k.starts_with("throttle."));
        if !has_retry && !has_throttle {
            return;
        }
        let mut effective = self.connector_effective.clone();
        overlay(&mut effective, policy);
        let mut build = Build::new(
            prefix.to_owned(),
            self.connector,
            line,
            &effective,
            errors,
            self.secrets,
        );
        if has_retry {
            let mut retry = build.retry_config();
            retry.shared_budget = None;
            tenants.retry.insert(tenant.to_owned(), retry);
        }
        if has_throttle {
            let mut throttle = build.throttle_config();
            throttle.shared = None;
            if !throttle.enabled() {
                build.error(
                    "throttle",
                    "a tenant throttle needs throttle.limits, throttle.max_in_flight or throttle.adaptive",
                );
            }
            tenants.throttle.insert(tenant.to_owned(), throttle);
        }
    }

    /// The tenant's own credentials: from the built-in auth defaults (and
    /// the connector's `allow_http`), never from the connector's auth.
    fn auth(
        &self,
        prefix: &str,
        line: Option<usize>,
        auth: Layer,
        errors: &mut ValidationErrors,
    ) -> Option<AuthConfig> {
        let mut effective: Effective = self
            .defaults
            .iter()
            .filter(|(k, (_, origin))| {
                **k == "allow_http" || (k.starts_with("auth.") && *origin == Origin::Default)
            })
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        if let Some(allow_http) = self.connector_effective.get("allow_http") {
            effective.insert("allow_http", allow_http.clone());
        }
        overlay(&mut effective, auth);
        Build::new(
            prefix.to_owned(),
            self.connector,
            line,
            &effective,
            errors,
            self.secrets,
        )
        .auth()
    }
}
