//! The bounds every body is parsed under.

use serde::Deserialize;

/// Default maximum body size: 16 MiB, the transport's default body limit.
pub const DEFAULT_MAX_SIZE: usize = 16 * 1024 * 1024;

/// Default maximum nesting depth (arrays/objects for JSON, elements for XML).
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// The highest nesting depth that can be configured: serde_json's fixed
/// recursion limit lets a JSON document nest 127 levels, and XML is held to the
/// same ceiling so both formats behave alike and every recursive walk over the
/// resulting value (serde, `Drop`) stays shallow.
pub const MAX_DEPTH_CEILING: usize = 127;

/// Default maximum number of XML nodes (elements, text, comments, instructions).
pub const DEFAULT_MAX_NODES: u32 = 1_000_000;

/// Default maximum number of bytes XML entity references may expand to, in
/// total, when DTDs are allowed.
pub const DEFAULT_MAX_ENTITY_EXPANSION: usize = 1024 * 1024;

/// The bounds a body is parsed under. Loadable from configuration (every
/// field is optional there):
///
/// ```
/// use conn_normalize::Limits;
///
/// let limits: Limits = serde_json::from_str(r#"{ "max_size": 1048576, "max_depth": 32 }"#).unwrap();
/// assert_eq!(limits.max_size, 1 << 20);
/// assert!(!limits.allow_dtd);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum body size in bytes, checked before anything is parsed; over it
    /// the error kind is `BodyTooLarge`. Default [`DEFAULT_MAX_SIZE`].
    pub max_size: usize,
    /// Maximum nesting depth; values above [`MAX_DEPTH_CEILING`] act as the
    /// ceiling. Default [`DEFAULT_MAX_DEPTH`].
    pub max_depth: usize,
    /// Maximum number of XML nodes (roxmltree's `nodes_limit`). Default [`DEFAULT_MAX_NODES`].
    pub max_nodes: u32,
    /// Whether an XML document may carry a DTD (internal entity declarations).
    /// Default `false`: a DTD is refused. External entities are never fetched either way.
    pub allow_dtd: bool,
    /// When DTDs are allowed, the most bytes all entity references of a
    /// document may expand to. Default [`DEFAULT_MAX_ENTITY_EXPANSION`].
    pub max_entity_expansion: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: DEFAULT_MAX_SIZE,
            max_depth: DEFAULT_MAX_DEPTH,
            max_nodes: DEFAULT_MAX_NODES,
            allow_dtd: false,
            max_entity_expansion: DEFAULT_MAX_ENTITY_EXPANSION,
        }
    }
}

impl Limits {
    /// The depth limit actually applied: at least 1, at most [`MAX_DEPTH_CEILING`].
    pub fn effective_depth(&self) -> usize {
        self.max_depth.clamp(1, MAX_DEPTH_CEILING)
    }
}
