//! `Secret`: a resolved secret value that never shows itself, and where it
//! was read from (what `Debug` and `explain()` show instead).

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// Where a secret was read from (what `Debug` and `explain()` show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
    /// Written in the blueprint (needs `allow_inline_secrets = true`).
    Inline,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "<env {name}>"),
            SecretSource::File(path) => write!(f, "<file {}>", path.display()),
            SecretSource::Inline => f.write_str("<inline secret>"),
        }
    }
}

/// A resolved secret: its value (never shown) and where it came from.
#[derive(Clone)]
pub struct Secret {
    source: SecretSource,
    value: SecretString,
}

impl Secret {
    pub(crate) fn new(source: SecretSource, value: SecretString) -> Secret {
        Secret { source, value }
    }

    /// Where it came from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// The value, as a `SecretString`.
    pub fn value(&self) -> &SecretString {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.source == other.source && same_secret(&self.value, &other.value)
    }
}

/// Compares two secrets by value (used to keep auth state across reloads).
fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}
