//! What one key is: its path, the kind of value it holds, its default and
//! its meaning.

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

/// A [`KeySpec`], short enough for the key tables to read as tables.
pub(crate) const fn key(
    path: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        path,
        kind,
        default,
        doc,
    }
}
