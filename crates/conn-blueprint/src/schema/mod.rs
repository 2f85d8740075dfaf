//! Every key a connector table accepts, with its kind, default and meaning.
//!
//! This table is the single source of truth: validation, `explain()`,
//! environment overrides and docs/configuration.md all follow it.
//!
//! `key_spec` says what a key is, `keys` lists them; this module answers
//! the questions the readers ask of the table.

mod fleet_keys;
mod gateway_keys;
mod key_spec;
mod keys;
mod pagination_keys;

pub use fleet_keys::FLEET_KEYS;
pub(crate) use fleet_keys::FLEET_USE_KEYS;
pub(crate) use gateway_keys::env_key;
pub use gateway_keys::{ENV_KEYS, GATEWAY_KEYS};
pub use key_spec::{KeySpec, Kind};
pub use keys::{AUTH_TYPES, KEYS};
pub use pagination_keys::PAGINATION_KEYS;
pub(crate) use pagination_keys::PAGINATION_KINDS;

/// The sections a feature-flag variant can override: `variant.retry.*`, `variant.throttle.*`.
pub const VARIANT_SECTIONS: &[&str] = &["retry.", "throttle."];

/// `variant.retry.*` and `variant.throttle.*`: the same keys as `retry.*` and
/// `throttle.*` (shared groups excepted), with no default of their own: they
/// inherit the connector's effective values.
pub fn variant_keys() -> &'static [KeySpec] {
    static VARIANT: std::sync::LazyLock<Vec<KeySpec>> = std::sync::LazyLock::new(|| {
        KEYS.iter()
            .filter(|k| VARIANT_SECTIONS.iter().any(|s| k.path.starts_with(s)))
            .filter(|k| !matches!(k.path, "retry.shared_budget" | "throttle.shared"))
            .map(|k| KeySpec {
                path: Box::leak(format!("variant.{}", k.path).into_boxed_str()),
                kind: k.kind,
                default: None,
                doc: k.doc,
            })
            .collect()
    });
    &VARIANT
}

/// The spec of `path`, if it is a key.
pub fn spec(path: &str) -> Option<&'static KeySpec> {
    KEYS.iter().chain(variant_keys()).find(|k| k.path == path)
}

/// Whether `path` is a table that holds keys (`retry`, `retry.budget`, ...).
pub fn is_section(path: &str) -> bool {
    KEYS.iter().chain(variant_keys()).any(|k| {
        k.path.len() > path.len() && k.path.starts_with(path) && k.path.as_bytes()[path.len()] == b'.'
    })
}
