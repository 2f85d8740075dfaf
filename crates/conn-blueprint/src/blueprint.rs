//! `Blueprint`: a validated blueprint, and the order in which one is read:
//! the TOML tree, its sections, environment overrides, layering, then each
//! connector and its tenants built, and checks across connectors.

use std::collections::{BTreeMap, HashMap};

use crate::build::{Build, SecretRules};
use crate::config::{BudgetConfig, ConnectorConfig, ThrottleConfig};
use crate::errors::ValidationErrors;
use crate::fleet::section::FleetSection;
use crate::gateway::{self, GatewaySection};
use crate::layers::{Effective, EnvOverrides, Override, effective_connector, effective_defaults};
use crate::sections::{ConnectorSection, Sections};
use crate::tenants::{TenantBase, TenantKeys};
use crate::tree;

/// A validated blueprint: every connector's effective configuration.
#[derive(Clone, Debug, Default)]
pub struct Blueprint {
    connectors: BTreeMap<String, ConnectorConfig>,
    /// Per connector, every key's displayed value and where it came from.
    pub(crate) explain: BTreeMap<String, BTreeMap<&'static str, (String, String)>>,
    /// Per connector and tenant, the keys the tenant sets and their values.
    pub(crate) tenant_explain: BTreeMap<String, BTreeMap<String, TenantKeys>>,
    /// The `[gateway]` section, if the blueprint has one.
    gateway: Option<GatewaySection>,
    /// The `[fleet]` section, if the blueprint has one.
    fleet: Option<FleetSection>,
}

impl std::str::FromStr for Blueprint {
    type Err = ValidationErrors;

    /// Parses with the process environment (for `{ env = ... }` secrets and `CONN__...` overrides).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Blueprint::from_str_with_env(text, &env)
    }
}

impl Blueprint {
    /// Reads and parses a blueprint file with the process environment.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Blueprint, ValidationErrors> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => text.parse(),
            Err(e) => {
                let mut errors = ValidationErrors::default();
                errors.push(
                    path.display().to_string(),
                    None,
                    format!("cannot read the blueprint: {e}"),
                );
                Err(errors)
            }
        }
    }

    /// Parses `text` with `env` standing in for the process environment:
    /// `{ env = "NAME" }` secrets and `CONN__<CONNECTOR>__<SECTION>__<KEY>`
    /// overrides are looked up there only.
    pub fn from_str_with_env(
        text: &str,
        env: &HashMap<String, String>,
    ) -> Result<Blueprint, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let root = tree::parse(text, &mut errors)?;
        let sections = Sections::read(&root, &mut errors);
        let names = sections.connectors.iter().map(|c| c.name.as_str());
        let mut overrides = EnvOverrides::read(env, names, &mut errors);
        let defaults = effective_defaults(sections.defaults, overrides.take("defaults"));
        if sections.connectors.is_empty() && errors.is_empty() {
            errors.push(
                "connectors",
                None,
                "no connector defined (add a [connectors.<name>] table)",
            );
        }
        let secrets = SecretRules {
            env,
            allow_inline: sections.allow_inline,
        };
        let mut blueprint = Blueprint::default();
        let names: Vec<String> = sections.connectors.iter().map(|c| c.name.clone()).collect();
        // `CONN__GATEWAY__...` alone makes a section: `conn serve` reads it.
        let gateway_env = overrides.take(crate::layers::GATEWAY_TARGET);
        if sections.gateway.is_some() || !gateway_env.is_empty() {
            let mut section = match &sections.gateway {
                Some(node) => gateway::read(node, &names, secrets, &mut errors),
                None => Some(GatewaySection::default()),
            };
            if let Some(section) = &mut section {
                gateway::apply_env(section, gateway_env, &mut errors);
            }
            blueprint.gateway = section;
        }
        let fleet_present = sections.fleet.is_some();
        if let Some(node) = &sections.fleet {
            blueprint.fleet = crate::fleet::section::read(node, secrets, &mut errors);
        }
        for section in sections.connectors {
            let overrides = overrides.take(&section.name);
            blueprint.add_connector(section, &defaults, overrides, secrets, fleet_present, &mut errors);
        }
        check_shared(&blueprint.connectors, &mut errors);
        crate::fleet::section::check_groups(&blueprint.connectors, &mut errors);
        errors.into_result(blueprint)
    }

    /// Layers, builds and records one connector and its tenants.
    fn add_connector(
        &mut self,
        section: ConnectorSection,
        defaults: &Effective,
        overrides: Vec<Override>,
        secrets: SecretRules<'_>,
        fleet_present: bool,
        errors: &mut ValidationErrors,
    ) {
        let name = section.name;
        let effective = effective_connector(defaults, section.layer, overrides);
        crate::fleet::section::check_use(&name, &effective, self.fleet.as_ref(), fleet_present, errors);
        let pagination = section
            .pagination
            .as_ref()
            .map(|node| crate::pagination::read(node, &format!("connectors.{name}.pagination"), errors))
            .unwrap_or_default();
        let explain = effective
            .iter()
            .map(|(k, (v, origin))| (*k, (v.display(), origin.tag().to_owned())))
            .collect();
        let config = Build::new(
            format!("connectors.{name}"),
            &name,
            section.line,
            &effective,
            errors,
            secrets,
        )
        .config();
        let tenants = TenantBase {
            connector: &name,
            connector_effective: &effective,
            defaults,
            secrets,
        }
        .build(section.tenants, errors);
        if !tenants.explain.is_empty() {
            self.tenant_explain.insert(name.clone(), tenants.explain);
        }
        if let Some(mut config) = config {
            config.tenant_auth = tenants.auth;
            config.tenant_retry = tenants.retry;
            config.tenant_throttle = tenants.throttle;
            config.pagination = pagination;
            self.connectors.insert(name.clone(), config);
        }
        self.explain.insert(name, explain);
    }

    /// The connectors' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// The effective configuration of one connector.
    pub fn connector(&self, name: &str) -> Option<&ConnectorConfig> {
        self.connectors.get(name)
    }

    /// The `[gateway]` section (what `conn serve` needs besides the
    /// connectors), if the blueprint has one.
    pub fn gateway(&self) -> Option<&GatewaySection> {
        self.gateway.as_ref()
    }

    /// The `[fleet]` section (the fleet's Redis, see docs/fleet.md), if the
    /// blueprint has one.
    pub fn fleet(&self) -> Option<&FleetSection> {
        self.fleet.as_ref()
    }

    /// Every connector's effective configuration, by name.
    pub fn connectors(&self) -> &BTreeMap<String, ConnectorConfig> {
        &self.connectors
    }
}

/// Connectors sharing a quota or a retry budget must agree on its settings.
fn check_shared(connectors: &BTreeMap<String, ConnectorConfig>, errors: &mut ValidationErrors) {
    let mut throttles: BTreeMap<&str, (&str, &ThrottleConfig)> = BTreeMap::new();
    let mut budgets: BTreeMap<&str, (&str, &BudgetConfig)> = BTreeMap::new();
    for (name, config) in connectors {
        if let Some(group) = config.throttle.shared.as_deref() {
            match throttles.get(group) {
                Some((first, cfg)) if !cfg.same_quota(&config.throttle) => errors.push(
                    format!("connectors.{name}.throttle"),
                    None,
                    format!("shares group {group:?} with {first} but its throttle settings differ; make them equal"),
                ),
                Some(_) => {}
                None => {
                    throttles.insert(group, (name, &config.throttle));
                }
            }
        }
        if let Some(group) = config.retry.shared_budget.as_deref() {
            match budgets.get(group) {
                Some((first, cfg)) if **cfg != config.retry.budget => errors.push(
                    format!("connectors.{name}.retry.budget"),
                    None,
                    format!(
                        "shares budget {group:?} with {first} but its budget settings differ; make them equal"
                    ),
                ),
                Some(_) => {}
                None => {
                    budgets.insert(group, (name, &config.retry.budget));
                }
            }
        }
    }
}
