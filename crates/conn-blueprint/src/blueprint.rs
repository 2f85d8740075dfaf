//! Parsing, layering (schema defaults < `[defaults]` < connector < env) and validation.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{
    AdaptiveConfig, AuthConfig, BreakerConfig, BudgetConfig, ConnectorConfig, LimitSpec, NormalizeConfig,
    RedirectConfig, RetryConfig, Secret, SecretSource, ThrottleConfig, TlsConfig, VariantConfig,
};
use crate::schema::{self, KEYS, Kind};

// ---------------------------------------------------------------- errors

/// One problem in a blueprint: where (key path, and line when known) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Dotted key path, e.g. `connectors.billing.retry.max_attempts`, or
    /// `env.CONN__BILLING__RETRY__MAX_ATTEMPTS` for an environment override.
    pub path: String,
    /// 1-based line in the TOML text, when the problem is at a key there.
    pub line: Option<usize>,
    /// What is wrong (never contains a secret value).
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// Every problem found in a blueprint, all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    /// The problems, in the order found (file order, then cross-key checks).
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether some problem is at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }

    /// The first problem at `path`.
    pub fn at(&self, path: &str) -> Option<&ValidationError> {
        self.errors.iter().find(|e| e.path == path)
    }

    fn push(&mut self, path: impl Into<String>, line: Option<usize>, message: impl Into<String>) {
        self.errors.push(ValidationError {
            path: path.into(),
            line,
            message: message.into(),
        });
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the blueprint:", self.errors.len())?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

// ---------------------------------------------------------------- raw tree

#[derive(Clone)]
enum Raw {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
    Other(&'static str),
}

#[derive(Clone)]
struct Node {
    raw: Raw,
    line: Option<usize>,
}

impl Raw {
    fn type_name(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Float(_) => "a float",
            Raw::Bool(_) => "a boolean",
            Raw::Array(_) => "an array",
            Raw::Table(_) => "a table",
            Raw::Other(t) => t,
        }
    }
}

struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

fn convert_value(value: &DeValue<'_>, line: Option<usize>, lines: Option<&Lines>) -> Node {
    let raw = match value {
        DeValue::String(s) => Raw::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(v) => Raw::Int(v),
                Err(_) => Raw::Other("an out-of-range integer"),
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(v) => Raw::Float(v),
            Err(_) => Raw::Other("a special float"),
        },
        DeValue::Boolean(b) => Raw::Bool(*b),
        DeValue::Datetime(_) => Raw::Other("a datetime"),
        DeValue::Array(items) => Raw::Array(
            items
                .iter()
                .map(|item| {
                    let line = lines.map(|l| l.line(item.span().start)).or(line);
                    convert_value(item.get_ref(), line, lines)
                })
                .collect(),
        ),
        DeValue::Table(table) => Raw::Table(convert_table(table, lines)),
    };
    Node { raw, line }
}

fn convert_table(table: &DeTable<'_>, lines: Option<&Lines>) -> Vec<(String, Node)> {
    table
        .iter()
        .map(
            |(k, v): (&Spanned<std::borrow::Cow<'_, str>>, &Spanned<DeValue<'_>>)| {
                let line = lines.map(|l| l.line(k.span().start));
                (k.get_ref().to_string(), convert_value(v.get_ref(), line, lines))
            },
        )
        .collect()
}

// ---------------------------------------------------------------- typed values

/// Where a secret comes from, as written in the blueprint.
#[derive(Clone)]
enum SecretRef {
    Env(String),
    File(PathBuf),
    Inline(SecretString),
}

/// A value of a key, checked against its kind.
#[derive(Clone)]
enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Duration(Duration),
    Secret(SecretRef),
    StrMap(BTreeMap<String, String>),
    StrList(Vec<String>),
    Limits(Vec<LimitSpec>),
    Mapping(Box<conn_normalize::Mapping>, usize),
}

/// Formats a duration the way the blueprint writes it.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Value {
    fn display(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => format!("{s:?}"),
            Value::Duration(d) => format!("\"{}\"", format_duration(*d)),
            Value::Secret(SecretRef::Env(name)) => format!("<env {name}>"),
            Value::Secret(SecretRef::File(path)) => format!("<file {}>", path.display()),
            Value::Secret(SecretRef::Inline(_)) => "<inline secret>".into(),
            Value::StrMap(map) => {
                let names: Vec<&str> = map.keys().map(String::as_str).collect();
                format!("{{{}}}", names.join(", "))
            }
            Value::StrList(list) => format!("{list:?}"),
            Value::Mapping(_, fields) => format!("<mapping of {fields} field(s)>"),
            Value::Limits(limits) => {
                let parts: Vec<String> = limits
                    .iter()
                    .map(|l| format!("{}/{}s burst {}", l.count, l.per_seconds, l.burst))
                    .collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let Some(split) = text.find(|c: char| !(c.is_ascii_digit() || c == '.')) else {
        // A bare number is seconds (handy in environment overrides).
        return text
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    };
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// Turns a raw node back into a TOML value (for serde-configured parts).
fn to_toml(node: &Node) -> Result<toml::Value, &'static str> {
    Ok(match &node.raw {
        Raw::Str(s) => toml::Value::String(s.clone()),
        Raw::Int(i) => toml::Value::Integer(*i),
        Raw::Float(f) => toml::Value::Float(*f),
        Raw::Bool(b) => toml::Value::Boolean(*b),
        Raw::Array(items) => toml::Value::Array(items.iter().map(to_toml).collect::<Result<_, _>>()?),
        Raw::Table(entries) => {
            let mut table = toml::Table::new();
            for (k, v) in entries {
                table.insert(k.clone(), to_toml(v)?);
            }
            toml::Value::Table(table)
        }
        Raw::Other(t) => return Err(t),
    })
}

struct Reader<'a> {
    errors: &'a mut ValidationErrors,
}

impl Reader<'_> {
    fn wrong(&mut self, path: &str, node: &Node, kind: Kind) {
        self.errors.push(
            path,
            node.line,
            format!("{}, found {}", kind.expected(), node.raw.type_name()),
        );
    }

    /// Reads `node` as `kind`; `path` is the full display path.
    fn read(&mut self, kind: Kind, node: &Node, path: &str) -> Option<Value> {
        match (kind, &node.raw) {
            (Kind::Bool, Raw::Bool(b)) => Some(Value::Bool(*b)),
            (Kind::Int { min }, Raw::Int(i)) => {
                if *i < min {
                    self.errors
                        .push(path, node.line, format!("must be at least {min}, found {i}"));
                    None
                } else {
                    Some(Value::Int(*i))
                }
            }
            (Kind::Float, Raw::Float(f)) => Some(Value::Float(*f)),
            (Kind::Float, Raw::Int(i)) => Some(Value::Float(*i as f64)),
            (Kind::Str, Raw::Str(s)) => Some(Value::Str(s.clone())),
            (Kind::Duration, Raw::Str(s)) => match parse_duration(s) {
                Some(d) => Some(Value::Duration(d)),
                None => {
                    self.wrong(path, node, kind);
                    None
                }
            },
            (Kind::Duration, Raw::Int(i)) if *i >= 0 => Some(Value::Duration(Duration::from_secs(*i as u64))),
            (Kind::Duration, Raw::Float(f)) if *f >= 0.0 => {
                Duration::try_from_secs_f64(*f).ok().map(Value::Duration)
            }
            (Kind::Enum(values), Raw::Str(s)) => {
                if values.contains(&s.as_str()) {
                    Some(Value::Str(s.clone()))
                } else {
                    self.errors
                        .push(path, node.line, format!("{}, found {s:?}", kind.expected()));
                    None
                }
            }
            (Kind::Secret, Raw::Table(entries)) => self.secret(entries, node, path),
            (Kind::Mapping, Raw::Table(_)) => {
                let value = match to_toml(node) {
                    Ok(value) => value,
                    Err(found) => {
                        self.errors
                            .push(path, node.line, format!("{}, found {found}", kind.expected()));
                        return None;
                    }
                };
                let fields = match &value {
                    toml::Value::Table(t) => match t.get("fields") {
                        Some(toml::Value::Array(a)) => a.len(),
                        _ => 0,
                    },
                    _ => 0,
                };
                match value.try_into::<conn_normalize::Mapping>() {
                    Ok(mapping) => Some(Value::Mapping(Box::new(mapping), fields)),
                    Err(e) => {
                        self.errors.push(
                            path,
                            node.line,
                            format!("not a valid field mapping: {}", e.message().trim()),
                        );
                        None
                    }
                }
            }
            (Kind::StrMap, Raw::Table(entries)) => {
                let mut map = BTreeMap::new();
                let mut ok = true;
                for (k, v) in entries {
                    match &v.raw {
                        Raw::Str(s) => {
                            map.insert(k.clone(), s.clone());
                        }
                        _ => {
                            self.wrong(&format!("{path}.{k}"), v, Kind::Str);
                            ok = false;
                        }
                    }
                }
                ok.then_some(Value::StrMap(map))
            }
            (Kind::StrList, Raw::Array(items)) => {
                let mut list = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match &item.raw {
                        Raw::Str(s) => list.push(s.clone()),
                        _ => {
                            self.wrong(&format!("{path}[{i}]"), item, Kind::Str);
                            ok = false;
                        }
                    }
                }
                ok.then_some(Value::StrList(list))
            }
            (Kind::Limits, Raw::Array(items)) => {
                let mut limits = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.limit(item, &format!("{path}[{i}]")) {
                        Some(limit) => limits.push(limit),
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Limits(limits))
            }
            _ => {
                self.wrong(path, node, kind);
                None
            }
        }
    }

    fn secret(&mut self, entries: &[(String, Node)], node: &Node, path: &str) -> Option<Value> {
        if entries.len() != 1 {
            self.errors.push(
                path,
                node.line,
                "a secret reference has exactly one of env, file or value",
            );
            return None;
        }
        let (k, v) = &entries[0];
        let Raw::Str(s) = &v.raw else {
            self.wrong(&format!("{path}.{k}"), v, Kind::Str);
            return None;
        };
        match k.as_str() {
            "env" => Some(Value::Secret(SecretRef::Env(s.clone()))),
            "file" => Some(Value::Secret(SecretRef::File(PathBuf::from(s)))),
            "value" => Some(Value::Secret(SecretRef::Inline(SecretString::from(s.clone())))),
            other => {
                self.errors.push(
                    format!("{path}.{other}"),
                    v.line,
                    "unknown key (a secret reference is { env = ... }, { file = ... } or { value = ... })",
                );
                None
            }
        }
    }

    fn limit(&mut self, node: &Node, path: &str) -> Option<LimitSpec> {
        let Raw::Table(entries) = &node.raw else {
            self.wrong(path, node, Kind::Limits);
            return None;
        };
        let mut count = None;
        let mut per_seconds = None;
        let mut burst = Some(1u32);
        let mut ok = true;
        for (k, v) in entries {
            let key_path = format!("{path}.{k}");
            let target = match k.as_str() {
                "count" => &mut count,
                "per_seconds" => &mut per_seconds,
                "burst" => &mut burst,
                _ => {
                    self.errors.push(
                        key_path,
                        v.line,
                        "unknown key (expected count, per_seconds, burst)",
                    );
                    ok = false;
                    continue;
                }
            };
            match &v.raw {
                Raw::Int(i) if *i >= 1 && *i <= i64::from(u32::MAX) => *target = Some(*i as u32),
                Raw::Int(i) => {
                    self.errors
                        .push(key_path, v.line, format!("must be at least 1, found {i}"));
                    ok = false;
                }
                _ => {
                    self.wrong(&key_path, v, Kind::Int { min: 1 });
                    ok = false;
                }
            }
        }
        for (name, value) in [("count", count), ("per_seconds", per_seconds)] {
            if value.is_none() && ok && !entries.iter().any(|(k, _)| k == name) {
                self.errors.push(format!("{path}.{name}"), node.line, "missing");
                ok = false;
            }
        }
        match (ok, count, per_seconds, burst) {
            (true, Some(count), Some(per_seconds), Some(burst)) => Some(LimitSpec {
                count,
                per_seconds,
                burst,
            }),
            _ => None,
        }
    }

    /// Reads `tenants = { <tenant> = { auth = { ... } } }`.
    fn tenants(&mut self, node: &Node, display: &str, out: &mut Vec<TenantLayer>) {
        let Raw::Table(tenants) = &node.raw else {
            self.errors.push(
                display,
                node.line,
                format!("expected a table of tenants, found {}", node.raw.type_name()),
            );
            return;
        };
        for (tenant, table) in tenants {
            let shown = format!("{display}.{tenant}");
            let Raw::Table(entries) = &table.raw else {
                self.errors.push(
                    &shown,
                    table.line,
                    format!("expected a table, found {}", table.raw.type_name()),
                );
                continue;
            };
            let mut layer = Layer::new();
            for (k, node) in entries {
                if matches!(k.as_str(), "auth" | "retry" | "throttle") {
                    self.flatten(
                        std::slice::from_ref(&(k.clone(), node.clone())),
                        "",
                        &shown,
                        &mut layer,
                    );
                } else {
                    self.errors.push(
                        format!("{shown}.{k}"),
                        node.line,
                        "unknown key (only auth, retry and throttle can be set per tenant)",
                    );
                }
            }
            out.push((tenant.clone(), layer, table.line));
        }
    }

    /// Reads a connector-shaped table into `(schema path -> value, line)`.
    fn flatten(
        &mut self,
        entries: &[(String, Node)],
        prefix: &str,
        display: &str,
        out: &mut BTreeMap<&'static str, (Value, Option<usize>)>,
    ) {
        for (k, node) in entries {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let shown = format!("{display}.{k}");
            if let Some(spec) = schema::spec(&path) {
                if let Some(value) = self.read(spec.kind, node, &shown) {
                    out.insert(spec.path, (value, node.line));
                }
            } else if schema::is_section(&path) {
                match &node.raw {
                    Raw::Table(inner) => self.flatten(inner, &path, &shown, out),
                    _ => self.errors.push(
                        shown,
                        node.line,
                        format!("expected a table, found {}", node.raw.type_name()),
                    ),
                }
            } else {
                self.errors.push(shown, node.line, "unknown key");
            }
        }
    }
}

// ---------------------------------------------------------------- layering

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    Default,
    Defaults(Option<usize>),
    Connector(Option<usize>),
    Env(String),
}

impl Origin {
    fn line(&self) -> Option<usize> {
        match self {
            Origin::Defaults(line) | Origin::Connector(line) => *line,
            _ => None,
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            Origin::Default => "",
            Origin::Defaults(_) => " [defaults]",
            Origin::Connector(_) => "",
            Origin::Env(_) => " [env]",
        }
    }
}

type Layer = BTreeMap<&'static str, (Value, Option<usize>)>;

/// One tenant's table: its name, its `auth.*` keys and its line.
type TenantLayer = (String, Layer, Option<usize>);

/// Environment variable name part for a connector: upper case, `-` as `_`.
pub fn env_name(connector: &str) -> String {
    connector.to_ascii_uppercase().replace('-', "_")
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

// ---------------------------------------------------------------- blueprint

/// The keys one tenant section sets, with their displayed values.
type TenantKeys = Vec<(&'static str, String)>;

/// A validated blueprint: every connector's effective configuration.
#[derive(Clone, Debug)]
pub struct Blueprint {
    connectors: BTreeMap<String, ConnectorConfig>,
    explain: BTreeMap<String, BTreeMap<&'static str, (String, String)>>,
    /// Per connector and tenant, the keys the tenant sets and their values.
    tenant_explain: BTreeMap<String, BTreeMap<String, TenantKeys>>,
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
        let lines = Lines::new(text);
        let root = match DeTable::parse(text) {
            Ok(table) => convert_table(table.get_ref(), Some(&lines)),
            Err(e) => {
                let line = e.span().map(|s| lines.line(s.start));
                errors.push("<toml>", line, format!("not valid TOML: {}", e.message().trim()));
                return Err(errors);
            }
        };

        let mut allow_inline = false;
        let mut defaults = Layer::new();
        let mut connectors: Vec<(String, Layer, Option<usize>, Vec<TenantLayer>)> = Vec::new();
        {
            let mut reader = Reader { errors: &mut errors };
            for (k, node) in &root {
                match (k.as_str(), &node.raw) {
                    ("allow_inline_secrets", Raw::Bool(b)) => allow_inline = *b,
                    ("allow_inline_secrets", _) => reader.wrong(k, node, Kind::Bool),
                    ("defaults", Raw::Table(entries)) => {
                        reader.flatten(entries, "", "defaults", &mut defaults)
                    }
                    ("connectors", Raw::Table(entries)) => {
                        for (name, table) in entries {
                            let shown = format!("connectors.{name}");
                            if name.is_empty()
                                || !name
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                            {
                                reader.errors.push(
                                    &shown,
                                    table.line,
                                    "a connector name uses only letters, digits, '-' and '_'",
                                );
                                continue;
                            }
                            match &table.raw {
                                Raw::Table(inner) => {
                                    let mut layer = Layer::new();
                                    let (tenant_entries, rest): (Vec<_>, Vec<_>) =
                                        inner.iter().partition(|(k, _)| k == "tenants");
                                    let rest: Vec<(String, Node)> =
                                        rest.into_iter().map(|(k, n)| (k.clone(), n.clone())).collect();
                                    reader.flatten(&rest, "", &shown, &mut layer);
                                    let mut tenants = Vec::new();
                                    for (_, node) in tenant_entries {
                                        reader.tenants(node, &format!("{shown}.tenants"), &mut tenants);
                                    }
                                    connectors.push((name.clone(), layer, table.line, tenants));
                                }
                                _ => reader.wrong(&shown, table, Kind::StrMap),
                            }
                        }
                    }
                    ("defaults" | "connectors", _) => reader.errors.push(
                        k.as_str(),
                        node.line,
                        format!("expected a table, found {}", node.raw.type_name()),
                    ),
                    _ => reader.errors.push(
                        k.as_str(),
                        node.line,
                        "unknown key (expected allow_inline_secrets, [defaults], [connectors.<name>])",
                    ),
                }
            }
        }

        // Environment overrides, collected per target.
        let mut env_layers: BTreeMap<String, Vec<(&'static str, Value, String)>> = BTreeMap::new();
        let mut vars: Vec<(&String, &String)> = env.iter().filter(|(k, _)| k.starts_with("CONN__")).collect();
        vars.sort();
        for (var, text) in vars {
            let shown = format!("env.{var}");
            let parts: Vec<&str> = var.split("__").collect();
            if parts.len() < 3 {
                errors.push(shown, None, "expected CONN__<CONNECTOR>__<SECTION>__<KEY>");
                continue;
            }
            let target = if parts[1] == "DEFAULTS" {
                Some("defaults".to_owned())
            } else {
                connectors
                    .iter()
                    .find(|(name, _, _, _)| env_name(name) == parts[1])
                    .map(|(n, _, _, _)| n.clone())
            };
            let Some(target) = target else {
                errors.push(shown, None, format!("no connector matches {}", parts[1]));
                continue;
            };
            let path = parts[2..].join(".").to_ascii_lowercase();
            let Some(spec) = schema::spec(&path) else {
                errors.push(shown, None, format!("unknown key {path}"));
                continue;
            };
            if !spec.kind.is_scalar() {
                errors.push(shown, None, format!("{path} cannot be set from the environment"));
                continue;
            }
            let mut reader = Reader { errors: &mut errors };
            if let Some(value) = reader.read(spec.kind, &env_value(spec.kind, text), &shown) {
                env_layers
                    .entry(target)
                    .or_default()
                    .push((spec.path, value, var.clone()));
            }
        }

        let base = schema_defaults();
        let mut defaults_effective: BTreeMap<&'static str, (Value, Origin)> = base
            .into_iter()
            .map(|(k, (v, _))| (k, (v, Origin::Default)))
            .collect();
        for (k, (v, line)) in defaults {
            defaults_effective.insert(k, (v, Origin::Defaults(line)));
        }
        for (path, value, var) in env_layers.remove("defaults").unwrap_or_default() {
            defaults_effective.insert(path, (value, Origin::Env(var)));
        }

        let mut result = Blueprint {
            connectors: BTreeMap::new(),
            explain: BTreeMap::new(),
            tenant_explain: BTreeMap::new(),
        };
        if connectors.is_empty() && errors.is_empty() {
            errors.push(
                "connectors",
                None,
                "no connector defined (add a [connectors.<name>] table)",
            );
        }
        for (name, layer, line, tenants) in connectors {
            let mut effective = defaults_effective.clone();
            if layer.keys().any(|k| k.starts_with("auth.")) {
                // The connector's [auth] replaces the defaults' one as a whole.
                effective.retain(|k, (_, origin)| !(k.starts_with("auth.") && *origin != Origin::Default));
            }
            for (k, (v, l)) in layer {
                effective.insert(k, (v, Origin::Connector(l)));
            }
            for (path, value, var) in env_layers.remove(&name).unwrap_or_default() {
                effective.insert(path, (value, Origin::Env(var)));
            }
            let explain = effective
                .iter()
                .map(|(k, (v, origin))| (*k, (v.display(), origin.tag().to_owned())))
                .collect();
            let mut build = Build {
                prefix: format!("connectors.{name}"),
                name: &name,
                line,
                effective: &effective,
                errors: &mut errors,
                env,
                allow_inline,
                overlay: "",
            };
            let config = build.config();
            let mut tenant_auth = BTreeMap::new();
            let mut tenant_retry = BTreeMap::new();
            let mut tenant_throttle = BTreeMap::new();
            for (tenant, tenant_layer, tenant_line) in tenants {
                result.tenant_explain.entry(name.clone()).or_default().insert(
                    tenant.clone(),
                    tenant_layer.iter().map(|(k, (v, _))| (*k, v.display())).collect(),
                );
                let (auth_layer, policy_layer): (Layer, Layer) = tenant_layer
                    .into_iter()
                    .partition(|(k, _)| k.starts_with("auth."));
                let has_retry = policy_layer.keys().any(|k| k.starts_with("retry."));
                let has_throttle = policy_layer.keys().any(|k| k.starts_with("throttle."));
                for group in ["retry.shared_budget", "throttle.shared"] {
                    if let Some((_, line)) = policy_layer.get(group) {
                        errors.push(
                            format!("connectors.{name}.tenants.{tenant}.{group}"),
                            *line,
                            "a tenant's retry budget and quota are its own; shared groups are set on the connector",
                        );
                    }
                }
                if has_retry || has_throttle {
                    // A tenant's retry / throttle start from the connector's effective values.
                    let mut policy_effective = effective.clone();
                    for (k, (v, l)) in policy_layer {
                        policy_effective.insert(k, (v, Origin::Connector(l)));
                    }
                    let mut build = Build {
                        prefix: format!("connectors.{name}.tenants.{tenant}"),
                        name: &name,
                        line: tenant_line,
                        effective: &policy_effective,
                        errors: &mut errors,
                        env,
                        allow_inline,
                        overlay: "",
                    };
                    if has_retry {
                        let mut retry = build.retry_config();
                        retry.shared_budget = None;
                        tenant_retry.insert(tenant.clone(), retry);
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
                        tenant_throttle.insert(tenant.clone(), throttle);
                    }
                }
                let has_auth = !auth_layer.is_empty();
                let tenant_layer = auth_layer;
                // A tenant's auth starts from the built-in auth defaults, never the connector's.
                let mut tenant_effective: BTreeMap<&'static str, (Value, Origin)> = defaults_effective
                    .iter()
                    .filter(|(k, (_, origin))| {
                        **k == "allow_http" || (k.starts_with("auth.") && *origin == Origin::Default)
                    })
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                if let Some(allow_http) = effective.get("allow_http") {
                    tenant_effective.insert("allow_http", allow_http.clone());
                }
                for (k, (v, l)) in tenant_layer {
                    tenant_effective.insert(k, (v, Origin::Connector(l)));
                }
                let mut build = Build {
                    prefix: format!("connectors.{name}.tenants.{tenant}"),
                    name: &name,
                    line: tenant_line,
                    effective: &tenant_effective,
                    errors: &mut errors,
                    env,
                    allow_inline,
                    overlay: "",
                };
                if has_auth {
                    if let Some(auth) = build.auth() {
                        tenant_auth.insert(tenant, auth);
                    }
                }
            }
            if let Some(mut config) = config {
                config.tenant_auth = tenant_auth;
                config.tenant_retry = tenant_retry;
                config.tenant_throttle = tenant_throttle;
                result.connectors.insert(name.clone(), config);
            }
            result.explain.insert(name, explain);
        }
        check_shared(&result.connectors, &mut errors);

        if errors.is_empty() {
            Ok(result)
        } else {
            Err(errors)
        }
    }

    /// The connectors' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// The effective configuration of one connector.
    pub fn connector(&self, name: &str) -> Option<&ConnectorConfig> {
        self.connectors.get(name)
    }

    /// Every connector's effective configuration, by name.
    pub fn connectors(&self) -> &BTreeMap<String, ConnectorConfig> {
        &self.connectors
    }

    /// A text table: every key, its default and its effective value per
    /// connector (`[defaults]` / `[env]` mark where a value came from; secrets
    /// show as `<env NAME>` / `<file PATH>`).
    pub fn explain(&self) -> String {
        let mut header = vec!["key".to_owned(), "default".to_owned()];
        header.extend(self.explain.keys().cloned());
        let mut rows = vec![header];
        let used_variant_keys = schema::variant_keys()
            .iter()
            .filter(|k| self.explain.values().any(|values| values.contains_key(k.path)));
        for spec in KEYS.iter().chain(used_variant_keys) {
            let mut row = vec![spec.path.to_owned(), spec.default.unwrap_or("-").to_owned()];
            for values in self.explain.values() {
                row.push(match values.get(spec.path) {
                    Some((value, tag)) => format!("{value}{tag}"),
                    None => "-".to_owned(),
                });
            }
            rows.push(row);
        }
        let columns = rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("-|-"));
                out.push('\n');
            }
        }
        if !self.tenant_explain.is_empty() {
            out.push_str("\ntenants (keys set per tenant; auth starts from the built-in defaults, retry and throttle from the connector's):\n");
            for (connector, tenants) in &self.tenant_explain {
                for (tenant, keys) in tenants {
                    let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    out.push_str(&format!("  {connector}.tenants.{tenant}: {}\n", keys.join(", ")));
                }
            }
        }
        out
    }
}

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

struct Build<'a> {
    /// Display path of the table being built (`connectors.billing`).
    prefix: String,
    name: &'a str,
    line: Option<usize>,
    effective: &'a BTreeMap<&'static str, (Value, Origin)>,
    errors: &'a mut ValidationErrors,
    env: &'a HashMap<String, String>,
    allow_inline: bool,
    /// `"variant."` while building a feature-flag variant: its keys win.
    overlay: &'static str,
}

impl Build<'_> {
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

    fn error(&mut self, key: &str, message: impl Into<String>) {
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
        match reference {
            SecretRef::Env(name) => match self.env.get(&name) {
                Some(value) if !value.is_empty() => Some(Secret::new(
                    SecretSource::Env(name),
                    SecretString::from(value.clone()),
                )),
                _ => {
                    self.error(key, format!("environment variable {name} is not set"));
                    None
                }
            },
            SecretRef::File(path) => match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let value = text.trim_end_matches(['\r', '\n']).to_owned();
                    Some(Secret::new(SecretSource::File(path), SecretString::from(value)))
                }
                Err(e) => {
                    self.error(
                        key,
                        format!("cannot read secret file {}: {}", path.display(), e.kind()),
                    );
                    None
                }
            },
            SecretRef::Inline(value) => {
                if self.allow_inline {
                    tracing::warn!(
                        key = %self.path(key),
                        "inline secret in the blueprint; prefer {{ env = ... }} or {{ file = ... }}"
                    );
                    Some(Secret::new(SecretSource::Inline, value))
                } else {
                    self.error(
                        key,
                        "inline secrets are refused; use { env = \"NAME\" } or { file = \"/path\" }, or set allow_inline_secrets = true at the top level",
                    );
                    None
                }
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

    fn auth(&mut self) -> Option<AuthConfig> {
        let kind = self.str("auth.type").unwrap_or_else(|| "none".into());
        let used: &[&str] = match kind.as_str() {
            "none" => &[],
            "bearer" => &["auth.token"],
            "api_key" => &["auth.header", "auth.query", "auth.key", "auth.prefix"],
            "basic" => &["auth.username", "auth.password"],
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

    fn retry_config(&mut self) -> RetryConfig {
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

    fn throttle_config(&mut self) -> ThrottleConfig {
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

    fn config(&mut self) -> Option<ConnectorConfig> {
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
                if (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8 {
                    if let Err(e) = conn_core::BaseUrl::parse(&url, true) {
                        self.error("base_url", format!("not a valid base URL: {}", e.message()));
                    }
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
        })
    }
}

/// Compares two secrets by value (used to keep auth state across reloads).
pub(crate) fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}
