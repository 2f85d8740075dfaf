//! Layering: schema defaults < `[defaults]` < connector < `CONN__...`
//! environment overrides, each effective value remembering where it came from.
//! `CONN__GATEWAY__<KEY>` sets a scalar key of the `[gateway]` section the
//! same way (unless a connector is named `gateway`: then it is that
//! connector's, as before).

use std::collections::{BTreeMap, HashMap};

use toml::de::DeValue;

use crate::errors::ValidationErrors;
use crate::schema::{self, KEYS, Kind};
use crate::tree::{Node, Raw, convert_value};
use crate::values::{Layer, Reader, Value};

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Default,
    Defaults(Option<usize>),
    Connector(Option<usize>),
    Env(String),
}

impl Origin {
    pub(crate) fn line(&self) -> Option<usize> {
        match self {
            Origin::Defaults(line) | Origin::Connector(line) => *line,
            _ => None,
        }
    }

    /// How `explain` marks a value that did not come from the connector's table.
    pub(crate) fn tag(&self) -> &'static str {
        match self {
            Origin::Default => "",
            Origin::Defaults(_) => " [defaults]",
            Origin::Connector(_) => "",
            Origin::Env(_) => " [env]",
        }
    }
}

/// The values in effect for one connector (or tenant): schema path -> (value, origin).
pub(crate) type Effective = BTreeMap<&'static str, (Value, Origin)>;

/// Environment variable name part for a connector: upper case, `-` as `_`.
pub fn env_name(connector: &str) -> String {
    connector.to_ascii_uppercase().replace('-', "_")
}

/// One `CONN__...` override: the key it sets, its value and the variable's name.
pub(crate) type Override = (&'static str, Value, String);

/// The target of `CONN__GATEWAY__...` overrides: not a name a connector
/// can have, so a connector named `gateway` keeps its own.
pub(crate) const GATEWAY_TARGET: &str = "[gateway]";

/// `CONN__<CONNECTOR>__<SECTION>__<KEY>` overrides, by target (`defaults`,
/// [`GATEWAY_TARGET`] or a connector's name).
pub(crate) struct EnvOverrides(BTreeMap<String, Vec<Override>>);

impl EnvOverrides {
    /// Reads every `CONN__` variable of `env`, in name order; `connectors`
    /// are the names the blueprint defines.
    pub(crate) fn read<'a>(
        env: &HashMap<String, String>,
        connectors: impl Iterator<Item = &'a str> + Clone,
        errors: &mut ValidationErrors,
    ) -> EnvOverrides {
        let mut by_target: BTreeMap<String, Vec<Override>> = BTreeMap::new();
        let mut vars: Vec<(&String, &String)> = env.iter().filter(|(k, _)| k.starts_with("CONN__")).collect();
        vars.sort();
        for (var, text) in vars {
            let shown = format!("env.{var}");
            let parts: Vec<&str> = var.split("__").collect();
            if parts.len() < 3 {
                errors.push(shown, None, "expected CONN__<CONNECTOR>__<SECTION>__<KEY>");
                continue;
            }
            let gateway =
                parts[1] == "GATEWAY" && !connectors.clone().any(|name| env_name(name) == "GATEWAY");
            let target = if parts[1] == "DEFAULTS" {
                Some("defaults".to_owned())
            } else if gateway {
                Some(GATEWAY_TARGET.to_owned())
            } else {
                connectors
                    .clone()
                    .find(|name| env_name(name) == parts[1])
                    .map(str::to_owned)
            };
            let Some(target) = target else {
                errors.push(shown, None, format!("no connector matches {}", parts[1]));
                continue;
            };
            let path = parts[2..].join(".").to_ascii_lowercase();
            let spec = if gateway {
                crate::schema::env_key(&path)
            } else {
                schema::spec(&path)
            };
            let Some(spec) = spec else {
                let known = if gateway {
                    format!(
                        " (the [gateway] keys settable from the environment: {})",
                        crate::schema::ENV_KEYS.join(", ")
                    )
                } else {
                    String::new()
                };
                errors.push(shown, None, format!("unknown key {path}{known}"));
                continue;
            };
            if !spec.kind.is_scalar() {
                errors.push(shown, None, format!("{path} cannot be set from the environment"));
                continue;
            }
            let mut reader = Reader { errors };
            if let Some(value) = reader.read(spec.kind, &env_value(spec.kind, text), &shown) {
                by_target
                    .entry(target)
                    .or_default()
                    .push((spec.path, value, var.clone()));
            }
        }
        EnvOverrides(by_target)
    }

    /// Takes the overrides for `target` (`defaults`, [`GATEWAY_TARGET`] or a connector's name).
    pub(crate) fn take(&mut self, target: &str) -> Vec<Override> {
        self.0.remove(target).unwrap_or_default()
    }
}

/// What every connector starts from: the schema's defaults, then the
/// blueprint's `[defaults]`, then `CONN__DEFAULTS__...`.
pub(crate) fn effective_defaults(defaults: Layer, overrides: Vec<Override>) -> Effective {
    let mut effective: Effective = schema_defaults()
        .into_iter()
        .map(|(k, (v, _))| (k, (v, Origin::Default)))
        .collect();
    for (k, (v, line)) in defaults {
        effective.insert(k, (v, Origin::Defaults(line)));
    }
    apply(&mut effective, overrides);
    effective
}

/// One connector's values: `defaults` with its own table on top (its
/// `[auth]` replaces the defaults' one as a whole), then its overrides.
pub(crate) fn effective_connector(defaults: &Effective, layer: Layer, overrides: Vec<Override>) -> Effective {
    let mut effective = defaults.clone();
    if layer.keys().any(|k| k.starts_with("auth.")) {
        effective.retain(|k, (_, origin)| !(k.starts_with("auth.") && *origin != Origin::Default));
    }
    overlay(&mut effective, layer);
    apply(&mut effective, overrides);
    effective
}

/// Puts a table's values on top of `effective`.
pub(crate) fn overlay(effective: &mut Effective, layer: Layer) {
    for (k, (v, line)) in layer {
        effective.insert(k, (v, Origin::Connector(line)));
    }
}

fn apply(effective: &mut Effective, overrides: Vec<Override>) {
    for (path, value, var) in overrides {
        effective.insert(path, (value, Origin::Env(var)));
    }
}

fn schema_defaults() -> Layer {
    let mut layer = Layer::new();
    let mut sink = ValidationErrors::default();
    let mut reader = Reader { errors: &mut sink };
    for spec in KEYS {
        if let Some(text) = spec.default {
            let parsed = DeValue::parse(text).expect("schema defaults are valid TOML");
            let node = convert_value(parsed.get_ref(), None, None);
            if let Some(value) = reader.read(spec.kind, &node, spec.path) {
                layer.insert(spec.path, (value, None));
            }
        }
    }
    debug_assert!(sink.is_empty(), "schema defaults are valid: {sink}");
    layer
}

/// An environment variable's text as the node its key's kind expects.
fn env_value(kind: Kind, text: &str) -> Node {
    let raw = match kind {
        Kind::Bool => match text {
            "true" => Raw::Bool(true),
            "false" => Raw::Bool(false),
            _ => Raw::Str(text.to_owned()),
        },
        Kind::Int { .. } => text
            .parse()
            .map(Raw::Int)
            .unwrap_or_else(|_| Raw::Str(text.to_owned())),
        Kind::Float => text
            .parse()
            .map(Raw::Float)
            .unwrap_or_else(|_| Raw::Str(text.to_owned())),
        _ => Raw::Str(text.to_owned()),
    };
    Node { raw, line: None }
}
