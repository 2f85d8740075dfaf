//! The TOML document as a plain tree of nodes, each with its line, so that
//! every later step can say where a problem is.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::errors::ValidationErrors;

/// Parses `text` into the tree of its top-level table; a syntax error is the
/// one problem reported (nothing later can be checked without a tree).
pub(crate) fn parse(
    text: &str,
    errors: &mut ValidationErrors,
) -> Result<Vec<(String, Node)>, ValidationErrors> {
    let lines = Lines::new(text);
    match DeTable::parse(text) {
        Ok(table) => Ok(convert_table(table.get_ref(), Some(&lines))),
        Err(e) => {
            let line = e.span().map(|s| lines.line(s.start));
            errors.push("<toml>", line, format!("not valid TOML: {}", e.message().trim()));
            Err(std::mem::take(errors))
        }
    }
}

#[derive(Clone)]
pub(crate) enum Raw {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
    Other(&'static str),
}

#[derive(Clone)]
pub(crate) struct Node {
    pub(crate) raw: Raw,
    pub(crate) line: Option<usize>,
}

impl Node {
    /// The entries of a table node; anything else is reported at `path` as
    /// "expected a table, found ..." (the one wording of that problem).
    pub(crate) fn entries(&self, path: &str, errors: &mut ValidationErrors) -> Option<&[(String, Node)]> {
        match &self.raw {
            Raw::Table(entries) => Some(entries),
            other => {
                errors.push(
                    path,
                    self.line,
                    format!("expected a table, found {}", other.type_name()),
                );
                None
            }
        }
    }
}

impl Raw {
    pub(crate) fn type_name(&self) -> &'static str {
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

pub(crate) struct Lines(Vec<usize>);

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

pub(crate) fn convert_value(value: &DeValue<'_>, line: Option<usize>, lines: Option<&Lines>) -> Node {
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

pub(crate) fn convert_table(table: &DeTable<'_>, lines: Option<&Lines>) -> Vec<(String, Node)> {
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

/// Turns a raw node back into a TOML value (for serde-configured parts).
pub(crate) fn to_toml(node: &Node) -> Result<toml::Value, &'static str> {
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
