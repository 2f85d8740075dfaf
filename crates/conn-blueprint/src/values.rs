//! Typed values: each key read against its schema kind, with every problem
//! reported rather than the first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::errors::ValidationErrors;
use crate::schema::{self, Kind};
use crate::tree::{Node, Raw, to_toml};

/// One rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSpec {
    /// Requests per period.
    pub count: u32,
    /// The period, in seconds.
    pub per_seconds: u32,
    /// Requests allowed back to back.
    pub burst: u32,
}

/// Values read from one table: schema path -> (value, line).
pub(crate) type Layer = BTreeMap<&'static str, (Value, Option<usize>)>;

/// Where a secret comes from, as written in the blueprint.
#[derive(Clone)]
pub(crate) enum SecretRef {
    Env(String),
    File(PathBuf),
    Inline(SecretString),
}

/// A value of a key, checked against its kind.
#[derive(Clone)]
pub(crate) enum Value {
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
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Value {
    pub(crate) fn display(&self) -> String {
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

pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
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

pub(crate) struct Reader<'a> {
    pub(crate) errors: &'a mut ValidationErrors,
}

impl Reader<'_> {
    pub(crate) fn wrong(&mut self, path: &str, node: &Node, kind: Kind) {
        self.errors.push(
            path,
            node.line,
            format!("{}, found {}", kind.expected(), node.raw.type_name()),
        );
    }

    /// Reads `node` as `kind`; `path` is the full display path.
    pub(crate) fn read(&mut self, kind: Kind, node: &Node, path: &str) -> Option<Value> {
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

    pub(crate) fn limit(&mut self, node: &Node, path: &str) -> Option<LimitSpec> {
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
    /// Reads a connector-shaped table into `(schema path -> value, line)`.
    pub(crate) fn flatten(
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
            // `fleet = true` is short for every `fleet.*` key.
            let expanded = fleet_shorthand(&path, node);
            let node = expanded.as_ref().unwrap_or(node);
            if let Some(spec) = schema::spec(&path) {
                if let Some(value) = self.read(spec.kind, node, &shown) {
                    out.insert(spec.path, (value, node.line));
                }
            } else if schema::is_section(&path) {
                if let Some(inner) = node.entries(&shown, self.errors) {
                    self.flatten(inner, &path, &shown, out);
                }
            } else {
                self.errors.push(shown, node.line, "unknown key");
            }
        }
    }
}

/// `fleet = true` / `fleet = false` under a connector (or `[defaults]`):
/// the table that turns every part on or off, at the same line.
fn fleet_shorthand(path: &str, node: &Node) -> Option<Node> {
    match (path, &node.raw) {
        ("fleet", Raw::Bool(on)) => Some(Node {
            raw: Raw::Table(
                schema::FLEET_USE_KEYS
                    .iter()
                    .map(|k| {
                        let part = k.trim_start_matches("fleet.").to_owned();
                        (
                            part,
                            Node {
                                raw: Raw::Bool(*on),
                                line: node.line,
                            },
                        )
                    })
                    .collect(),
            ),
            line: node.line,
        }),
        _ => None,
    }
}
