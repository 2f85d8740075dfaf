//! conn's normalizer: JSON and XML response bodies into one internal document.
//!
//! What it is for: integration code should never care whether an API speaks
//! JSON or XML, nor crash, hang or leak a secret on a bad body. [`Normalize`]
//! implements `conn_core`'s [`Normalizer`](conn_core::Normalizer): it decides
//! the format ([`Detection`]: the `Content-Type`, sniffing the body, or a
//! forced format), decodes the charset, parses under [`Limits`] (size,
//! depth, XML nodes, DTDs and entity expansion), and returns a
//! [`Document`](conn_core::Document) whose value is a `serde_json::Value`:
//! JSON unchanged, XML mapped by documented rules (`@attr`, `#text`, repeated
//! elements as arrays, force-array paths, namespaces, CDATA, entities).
//!
//! - A bad body is an `ErrorKind::Decode` error (or `BodyTooLarge`) whose
//!   message says the format, the line, column and byte, and shows a short,
//!   secret-scrubbed excerpt; the finer [`DecodeProblem`] (truncated, HTML
//!   page, invalid UTF-8, too deep, DTD refused...) is its source: [`problem`].
//! - [`decode`] turns a document from either format into any `serde` type,
//!   reading XML's strings as numbers and booleans where the type says so.
//! - [`Mapping`] maps differing vendor documents onto one internal shape,
//!   from configuration.
//! - [`Envelope`] carries the document with status, selected headers and what
//!   the call did.
//!
//! ```
//! use conn_core::Format;
//! use conn_normalize::Normalize;
//! use http::{HeaderMap, StatusCode};
//!
//! let normalize = Normalize::builder().force_array("/orders/order").build().unwrap();
//! let xml = br#"<orders><order id="1"><sku>A-1</sku></order></orders>"#;
//! let json = br#"{"orders": {"order": [{"@id": "1", "sku": "A-1"}]}}"#;
//! let from_xml = normalize.normalize_parts(StatusCode::OK, &HeaderMap::new(), xml).unwrap();
//! let from_json = normalize.normalize_parts(StatusCode::OK, &HeaderMap::new(), json).unwrap();
//! assert_eq!(from_xml.format, Format::Xml);
//! assert_eq!(from_xml.value, from_json.value);
//! ```
//!
//! With a connector: `Connector::builder("vendor").normalizer(Arc::new(normalize))`,
//! then `call_document`, or [`ConnectorExt::call_decoded`] for typed results.
//! docs/normalize.md has every rule, limit and problem kind.
#![deny(missing_docs)]

mod charset;
mod detect;
mod dtd;
mod envelope;
mod ext;
mod json;
mod lenient;
mod limits;
mod mapping;
mod normalize;
mod problem;
mod scrub;
mod xml;

pub use detect::{Detection, MediaType};
pub use envelope::{DEFAULT_ENVELOPE_HEADERS, DENIED_HEADERS, Envelope, Metadata};
pub use ext::ConnectorExt;
pub use lenient::decode;
pub use limits::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTITY_EXPANSION, DEFAULT_MAX_NODES, DEFAULT_MAX_SIZE, Limits,
    MAX_DEPTH_CEILING,
};
pub use mapping::{Coerce, FieldMapping, Mapping, Pointer};
pub use normalize::{DEFAULT_EXCERPT_LEN, EmptyBody, Normalize, NormalizeBuilder};
pub use problem::{DecodeError, DecodeProblem, decode_error, problem};
