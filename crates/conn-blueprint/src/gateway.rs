//! The `[gateway]` section: what `conn serve` needs besides the connectors —
//! listen address, inbound limits, callers with their keys (secret
//! references, as everywhere), the admin key, and named workflows.
//!
//! Read with the same reader as the connector tables, so its problems come
//! with key paths and lines, all at once. The gateway crate turns the
//! declaration into its run-time settings; this crate only validates it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::build::{SecretRules, resolve_secret};
use crate::errors::ValidationErrors;
use crate::layers::Override;
use crate::schema::Kind;
use crate::secret::Secret;
use crate::tree::{Node, Raw};
use crate::values::LimitSpec;
use crate::values::{Reader, Value};

/// Puts `CONN__GATEWAY__...` overrides (already read as their key's kind)
/// on top of the section; a problem names the variable.
pub(crate) fn apply_env(
    section: &mut GatewaySection,
    overrides: Vec<Override>,
    errors: &mut ValidationErrors,
) {
    for (path, value, var) in overrides {
        let shown = format!("env.{var}");
        match (path, value) {
            ("listen", Value::Str(text)) => match text.parse() {
                Ok(addr) => section.listen = addr,
                Err(_) => errors.push(
                    shown,
                    None,
                    format!("expected an address such as \"127.0.0.1:8080\", found {text:?}"),
                ),
            },
            (key, Value::Int(i)) => {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                match key {
                    "body_limit" => section.body_limit = i,
                    "max_in_flight" => section.max_in_flight = i,
                    _ => section.max_header_bytes = i,
                }
            }
            ("request_timeout", Value::Duration(d)) => section.request_timeout = d,
            (_, Value::Duration(d)) => section.shutdown_grace = d,
            (key, _) => errors.push(shown, None, format!("{key} cannot be set from the environment")),
        }
    }
}

/// A validated `[gateway]` section.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GatewaySection {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// Requests handled at once before shedding.
    pub max_in_flight: usize,
    /// Largest total size of request headers, in bytes.
    pub max_header_bytes: usize,
    /// Drain time on SIGTERM.
    pub shutdown_grace: Duration,
    /// The admin API's key.
    pub admin_key: Option<Secret>,
    /// Callers by name.
    pub callers: BTreeMap<String, CallerSection>,
    /// Workflows by name.
    pub workflows: BTreeMap<String, WorkflowSection>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        GatewaySection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(30),
            admin_key: None,
            callers: BTreeMap::new(),
            workflows: BTreeMap::new(),
        }
    }
}

/// One `[gateway.callers.<name>]` table.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CallerSection {
    /// The key (its `Debug` shows only where it came from).
    pub key: Secret,
    /// Connectors it may use (`"*"`: all).
    pub connectors: Vec<String>,
    /// Tenants it may act for (`"*"`: any).
    pub tenants: Vec<String>,
    /// Its own rate limit.
    pub rate_limit: Option<LimitSpec>,
}

/// One `[gateway.workflows.<name>]` table.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct WorkflowSection {
    /// The deadline of the whole workflow.
    pub timeout: Option<Duration>,
    /// The calls.
    pub steps: Vec<WorkflowStep>,
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowStep {
    /// Its name in the answer.
    pub name: String,
    /// The connector it calls.
    pub connector: String,
    /// The HTTP method (upper case).
    pub method: String,
    /// The endpoint; `{param}` is filled from the workflow request's query.
    pub path: String,
}

/// Reads the `[gateway]` table; `connectors` are the blueprint's connector
/// names, which callers and workflow steps must name.
pub(crate) fn read(
    node: &Node,
    connectors: &[String],
    secrets: SecretRules<'_>,
    errors: &mut ValidationErrors,
) -> Option<GatewaySection> {
    let entries = node.entries("gateway", errors)?;
    let before = errors.len();
    let mut section = GatewaySection::default();
    let mut reader = Reader { errors };
    for (k, value) in entries {
        let shown = format!("gateway.{k}");
        match k.as_str() {
            "listen" => {
                if let Some(Value::Str(text)) = reader.read(Kind::Str, value, &shown) {
                    match text.parse() {
                        Ok(addr) => section.listen = addr,
                        Err(_) => reader.errors.push(
                            shown,
                            value.line,
                            format!("expected an address such as \"127.0.0.1:8080\", found {text:?}"),
                        ),
                    }
                }
            }
            "body_limit" | "max_in_flight" | "max_header_bytes" => {
                if let Some(Value::Int(i)) = reader.read(Kind::Int { min: 1 }, value, &shown) {
                    let i = usize::try_from(i).unwrap_or(usize::MAX);
                    match k.as_str() {
                        "body_limit" => section.body_limit = i,
                        "max_in_flight" => section.max_in_flight = i,
                        _ => section.max_header_bytes = i,
                    }
                }
            }
            "request_timeout" | "shutdown_grace" => {
                if let Some(Value::Duration(d)) = reader.read(Kind::Duration, value, &shown) {
                    if k == "request_timeout" {
                        section.request_timeout = d;
                    } else {
                        section.shutdown_grace = d;
                    }
                }
            }
            "admin_key" => section.admin_key = secret(&mut reader, value, &shown, secrets),
            "callers" => match &value.raw {
                Raw::Table(callers) => {
                    for (name, table) in callers {
                        if let Some(caller) = read_caller(&mut reader, name, table, connectors, secrets) {
                            section.callers.insert(name.clone(), caller);
                        }
                    }
                }
                _ => reader.errors.push(shown, value.line, "expected a table of callers"),
            },
            "workflows" => match &value.raw {
                Raw::Table(workflows) => {
                    for (name, table) in workflows {
                        if let Some(workflow) = read_workflow(&mut reader, name, table, connectors) {
                            section.workflows.insert(name.clone(), workflow);
                        }
                    }
                }
                _ => reader.errors.push(shown, value.line, "expected a table of workflows"),
            },
            _ => reader.errors.push(
                shown,
                value.line,
                "unknown key (expected listen, body_limit, request_timeout, max_in_flight, max_header_bytes, shutdown_grace, admin_key, [gateway.callers.<name>], [gateway.workflows.<name>])",
            ),
        }
    }
    (errors.len() == before).then_some(section)
}

fn secret(reader: &mut Reader<'_>, node: &Node, shown: &str, secrets: SecretRules<'_>) -> Option<Secret> {
    let Some(Value::Secret(reference)) = reader.read(Kind::Secret, node, shown) else {
        return None;
    };
    match resolve_secret(reference, secrets, shown) {
        Ok(secret) => Some(secret),
        Err(message) => {
            reader.errors.push(shown, node.line, message);
            None
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn read_caller(
    reader: &mut Reader<'_>,
    name: &str,
    table: &Node,
    connectors: &[String],
    secrets: SecretRules<'_>,
) -> Option<CallerSection> {
    let prefix = format!("gateway.callers.{name}");
    if !valid_name(name) {
        reader.errors.push(
            &prefix,
            table.line,
            "a caller name uses only letters, digits, '-' and '_'",
        );
        return None;
    }
    let Raw::Table(entries) = &table.raw else {
        reader.errors.push(&prefix, table.line, "expected a table");
        return None;
    };
    let mut key = None;
    let mut allowed = Vec::new();
    let mut tenants = Vec::new();
    let mut rate_limit = None;
    for (k, value) in entries {
        let shown = format!("{prefix}.{k}");
        match k.as_str() {
            "key" => key = secret(reader, value, &shown, secrets),
            "connectors" => {
                if let Some(Value::StrList(list)) = reader.read(Kind::StrList, value, &shown) {
                    for connector in &list {
                        if connector != "*" && !connectors.contains(connector) {
                            reader.errors.push(
                                &shown,
                                value.line,
                                format!("no connector named {connector:?} (use a [connectors.<name>] name or \"*\")"),
                            );
                        }
                    }
                    allowed = list;
                }
            }
            "tenants" => {
                if let Some(Value::StrList(list)) = reader.read(Kind::StrList, value, &shown) {
                    tenants = list;
                }
            }
            "rate_limit" => rate_limit = reader.limit(value, &shown),
            _ => reader.errors.push(
                shown,
                value.line,
                "unknown key (expected key, connectors, tenants, rate_limit)",
            ),
        }
    }
    if key.is_none() && !entries.iter().any(|(k, _)| k == "key") {
        reader.errors.push(
            format!("{prefix}.key"),
            table.line,
            "missing (every caller needs a key)",
        );
    }
    Some(CallerSection {
        key: key?,
        connectors: allowed,
        tenants,
        rate_limit,
    })
}

fn read_workflow(
    reader: &mut Reader<'_>,
    name: &str,
    table: &Node,
    connectors: &[String],
) -> Option<WorkflowSection> {
    let prefix = format!("gateway.workflows.{name}");
    if !valid_name(name) {
        reader.errors.push(
            &prefix,
            table.line,
            "a workflow name uses only letters, digits, '-' and '_'",
        );
        return None;
    }
    let Raw::Table(entries) = &table.raw else {
        reader.errors.push(&prefix, table.line, "expected a table");
        return None;
    };
    let mut workflow = WorkflowSection::default();
    let mut ok = true;
    for (k, value) in entries {
        let shown = format!("{prefix}.{k}");
        match (k.as_str(), &value.raw) {
            ("timeout", _) => {
                if let Some(Value::Duration(d)) = reader.read(Kind::Duration, value, &shown) {
                    workflow.timeout = Some(d);
                }
            }
            ("steps", Raw::Array(steps)) => {
                for (i, step) in steps.iter().enumerate() {
                    match read_step(reader, step, &format!("{shown}[{i}]"), connectors) {
                        Some(step) => workflow.steps.push(step),
                        None => ok = false,
                    }
                }
            }
            ("steps", _) => {
                reader.errors.push(
                    shown,
                    value.line,
                    "expected an array of { name, connector, method, path } tables",
                );
                ok = false;
            }
            _ => reader
                .errors
                .push(shown, value.line, "unknown key (expected timeout, steps)"),
        }
    }
    if workflow.steps.is_empty() && ok {
        reader.errors.push(
            format!("{prefix}.steps"),
            table.line,
            "a workflow needs at least one step",
        );
        ok = false;
    }
    ok.then_some(workflow)
}

fn read_step(
    reader: &mut Reader<'_>,
    node: &Node,
    shown: &str,
    connectors: &[String],
) -> Option<WorkflowStep> {
    let Raw::Table(entries) = &node.raw else {
        reader.errors.push(
            shown,
            node.line,
            "expected a { name, connector, method, path } table",
        );
        return None;
    };
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    let mut ok = true;
    for (k, value) in entries {
        let path = format!("{shown}.{k}");
        match (k.as_str(), &value.raw) {
            ("name" | "connector" | "method" | "path", Raw::Str(s)) => {
                fields.insert(
                    match k.as_str() {
                        "name" => "name",
                        "connector" => "connector",
                        "method" => "method",
                        _ => "path",
                    },
                    s.clone(),
                );
            }
            ("name" | "connector" | "method" | "path", _) => {
                reader.wrong(&path, value, Kind::Str);
                ok = false;
            }
            _ => {
                reader.errors.push(
                    path,
                    value.line,
                    "unknown key (expected name, connector, method, path)",
                );
                ok = false;
            }
        }
    }
    for required in ["name", "connector", "path"] {
        if !fields.contains_key(required) {
            reader
                .errors
                .push(format!("{shown}.{required}"), node.line, "missing");
            ok = false;
        }
    }
    if let Some(connector) = fields.get("connector").filter(|c| !connectors.contains(c)) {
        reader.errors.push(
            format!("{shown}.connector"),
            node.line,
            format!("no connector named {connector:?}"),
        );
        ok = false;
    }
    let method = fields
        .get("method")
        .cloned()
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    if !matches!(
        method.as_str(),
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
    ) {
        reader.errors.push(
            format!("{shown}.method"),
            node.line,
            format!("expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, found {method:?}"),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(WorkflowStep {
        name: fields.remove("name")?,
        connector: fields.remove("connector")?,
        method,
        path: fields.remove("path")?,
    })
}
