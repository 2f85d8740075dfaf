//! [`Normalize`]: the configured normalizer, and its builder.

use conn_core::{Document, Error, Format, Normalizer, Response};
use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::charset;
use crate::detect::{self, Detection, MediaType};
use crate::envelope::{self, DEFAULT_ENVELOPE_HEADERS, Envelope};
use crate::json;
use crate::lenient;
use crate::limits::Limits;
use crate::problem::{DecodeError, DecodeProblem, format_name};
use crate::scrub;
use crate::xml::{self, ArrayPath, XmlRules};

/// Default length of the body excerpt in error messages, in characters.
pub const DEFAULT_EXCERPT_LEN: usize = 64;

/// When an empty (or blank) body is a valid, empty document.
///
/// An empty document is `Document { format: Format::Empty, value: Value::Null }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmptyBody {
    /// Empty is valid for 1xx, 204, 205 and 304 responses, for `HEAD` calls,
    /// and when the `Content-Type` is missing or names neither JSON nor XML.
    /// A response that declares JSON or XML and sends nothing is
    /// [`DecodeProblem::EmptyBody`]. The default.
    #[default]
    Auto,
    /// Empty is always valid.
    Document,
    /// Empty is valid only for 1xx, 204, 205 and 304 responses and `HEAD` calls.
    Error,
}

/// The normalizer: JSON and XML bodies into one [`Document`], bounded, with
/// clear errors. Implements [`Normalizer`], so a connector uses it for
/// `call_document` and `call_as`.
///
/// ```
/// use std::sync::Arc;
/// use conn_normalize::{Detection, Normalize};
///
/// let normalize = Normalize::builder()
///     .detect(Detection::Auto)
///     .force_array("/orders/order")
///     .max_depth(32)
///     .build()
///     .unwrap();
/// // Connector::builder("vendor").normalizer(Arc::new(normalize))
/// # let _: Arc<dyn conn_core::Normalizer> = Arc::new(normalize);
/// ```
#[derive(Clone, Debug)]
pub struct Normalize {
    detection: Detection,
    limits: Limits,
    xml: XmlRules,
    empty: EmptyBody,
    excerpt_len: usize,
    envelope_headers: Vec<HeaderName>,
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize::new()
    }
}

impl Normalize {
    /// The defaults: [`Detection::Auto`], [`Limits::default`], the standard
    /// XML rules, [`EmptyBody::Auto`].
    pub fn new() -> Normalize {
        Normalize {
            detection: Detection::Auto,
            limits: Limits::default(),
            xml: XmlRules::default(),
            empty: EmptyBody::Auto,
            excerpt_len: DEFAULT_EXCERPT_LEN,
            envelope_headers: DEFAULT_ENVELOPE_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
        }
    }

    /// Starts from the defaults.
    pub fn builder() -> NormalizeBuilder {
        NormalizeBuilder {
            normalize: Normalize::new(),
            problems: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Normalizes a body given its status and headers (no [`Response`] needed:
    /// handy for stored payloads, webhooks and tests).
    ///
    /// ```
    /// use conn_core::Format;
    /// use conn_normalize::Normalize;
    /// use http::{HeaderMap, StatusCode};
    ///
    /// let doc = Normalize::new()
    ///     .normalize_parts(StatusCode::OK, &HeaderMap::new(), b"<order id='7'><total>9.50</total></order>")
    ///     .unwrap();
    /// assert_eq!(doc.format, Format::Xml);
    /// assert_eq!(doc.value, serde_json::json!({ "order": { "@id": "7", "total": "9.50" } }));
    /// ```
    pub fn normalize_parts(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Document, Error> {
        self.document(status, None, headers, body)
            .map_err(|e| e.into_error(Some(status)))
    }

    /// Normalizes the body an error from a call kept (a 4xx or 5xx response):
    /// vendors explain failures in their error payloads. `None` when the error
    /// holds no response.
    ///
    /// ```
    /// use conn_normalize::Normalize;
    /// use http::{HeaderMap, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("content-type", "application/problem+json".parse().unwrap());
    /// let err = conn_core::Error::from_response(
    ///     StatusCode::UNPROCESSABLE_ENTITY,
    ///     headers,
    ///     bytes::Bytes::from_static(br#"{"title": "invalid sku"}"#),
    /// )
    /// .unwrap();
    /// let detail = Normalize::new().normalize_error_body(&err).unwrap().unwrap();
    /// assert_eq!(detail.value["title"], "invalid sku");
    /// ```
    pub fn normalize_error_body(&self, error: &Error) -> Option<Result<Document, Error>> {
        let body = error.response_body()?;
        let status = error.status()?;
        let empty = HeaderMap::new();
        let headers = error.response_headers().unwrap_or(&empty);
        Some(self.normalize_parts(status, headers, body))
    }

    /// Normalizes a response into an [`Envelope`]: status, the allowed
    /// headers, the document and what the call did.
    pub fn envelope(&self, response: &Response) -> Result<Envelope, Error> {
        let document = self.normalize(response)?;
        Ok(Envelope::new(response, document, &self.envelope_headers))
    }

    /// Decodes a document into `T` leniently (see [`decode`](crate::decode)),
    /// with this normalizer's text key.
    pub fn decode<T: DeserializeOwned>(&self, document: &Document) -> Result<T, Error> {
        lenient::decode_value(&document.value, &self.xml.text_key)
    }

    /// The whole normalization, failing with the finer problem.
    fn document(
        &self,
        status: StatusCode,
        method: Option<&Method>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Document, DecodeError> {
        if body.len() > self.limits.max_size {
            return Err(DecodeError::new(DecodeProblem::TooLarge, None).detail(format!(
                "{} bytes, over the limit of {} bytes",
                body.len(),
                self.limits.max_size
            )));
        }
        if self.detection == Detection::Force(Format::Empty) {
            return Ok(empty_document());
        }
        let media = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(MediaType::parse);
        if is_blank(body) {
            return self.empty(status, method, media.as_ref());
        }

        let decision = detect::decide(self.detection, media.as_ref(), body);
        let format = match decision.format {
            Some(format @ (Format::Json | Format::Xml)) => format,
            Some(Format::Empty) => return Ok(empty_document()),
            _ => {
                let detail = match &media {
                    Some(media) => format!("Content-Type is {}", scrub::snippet(media.essence(), 64)),
                    None => "no Content-Type, and the body does not start like JSON or XML".to_owned(),
                };
                let text = charset::strip_utf8_bom(body);
                return Err(DecodeError::new(DecodeProblem::UnknownFormat, None)
                    .detail(detail)
                    .excerpt(scrub::excerpt(text, 0, self.excerpt_len)));
            }
        };
        let text = charset::to_utf8(body, media.as_ref().and_then(MediaType::charset), format)?;
        if decision.check_html && detect::looks_like_html(&text) {
            return Err(self.html_page(&text, decision.expected, media.as_ref()));
        }
        match format {
            Format::Json => Ok(Document {
                format: Format::Json,
                value: json::parse(&text, self.limits.effective_depth(), self.excerpt_len)?,
            }),
            _ => {
                let text = charset::check_utf8(&text, Format::Xml).map_err(|e| {
                    let at = e.byte_offset().unwrap_or(0);
                    e.excerpt(scrub::excerpt(&text, at, self.excerpt_len))
                })?;
                Ok(Document {
                    format: Format::Xml,
                    value: xml::parse(text, &self.xml, &self.limits, self.excerpt_len)?,
                })
            }
        }
    }

    /// An empty body: a document or a problem, per [`EmptyBody`].
    fn empty(
        &self,
        status: StatusCode,
        method: Option<&Method>,
        media: Option<&MediaType>,
    ) -> Result<Document, DecodeError> {
        let no_content = status.is_informational()
            || matches!(status.as_u16(), 204 | 205 | 304)
            || method == Some(&Method::HEAD);
        let declared = media.and_then(MediaType::format);
        let valid = match self.empty {
            EmptyBody::Document => true,
            EmptyBody::Auto => no_content || declared.is_none(),
            EmptyBody::Error => no_content,
        };
        if valid {
            return Ok(empty_document());
        }
        let detail = match declared {
            Some(format) => format!(
                "status {status} declares {} but sends no body",
                format_name(format)
            ),
            None => format!("status {status} sends no body"),
        };
        Err(DecodeError::new(DecodeProblem::EmptyBody, declared).detail(detail))
    }

    fn html_page(&self, text: &[u8], expected: Option<Format>, media: Option<&MediaType>) -> DecodeError {
        let mut detail = match media {
            Some(media) => format!("Content-Type {}", scrub::snippet(media.essence(), 64)),
            None => "no Content-Type".to_owned(),
        };
        if let Some(title) = detect::html_title(text) {
            let title = scrub::snippet(&String::from_utf8_lossy(title), self.excerpt_len);
            if !title.is_empty() && self.excerpt_len > 0 {
                detail.push_str(&format!(", title \"{title}\""));
            }
        }
        detail.push_str(" (an error page from a proxy or gateway?)");
        DecodeError::new(DecodeProblem::HtmlPage, expected).detail(detail)
    }
}

impl Normalizer for Normalize {
    fn normalize(&self, response: &Response) -> Result<Document, Error> {
        let status = response.status();
        self.document(
            status,
            Some(&response.report().method),
            response.headers(),
            response.body(),
        )
        .map_err(|e| e.into_error(Some(status)))
    }
}

fn empty_document() -> Document {
    Document {
        format: Format::Empty,
        value: Value::Null,
    }
}

/// Whether a body is empty or only whitespace (after a UTF-8 mark).
fn is_blank(body: &[u8]) -> bool {
    charset::strip_utf8_bom(body).iter().all(u8::is_ascii_whitespace)
}

/// Builds a [`Normalize`]; every setting has a default.
#[derive(Clone, Debug)]
#[must_use]
pub struct NormalizeBuilder {
    normalize: Normalize,
    /// Configuration mistakes, reported by `build`.
    problems: Vec<String>,
}

impl NormalizeBuilder {
    /// How the format is decided (default [`Detection::Auto`]).
    pub fn detect(mut self, detection: Detection) -> Self {
        self.normalize.detection = detection;
        self
    }

    /// All limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.normalize.limits = limits;
        self
    }

    /// Maximum body size in bytes (default 16 MiB).
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.normalize.limits.max_size = bytes;
        self
    }

    /// Maximum nesting depth, at most [`MAX_DEPTH_CEILING`](crate::MAX_DEPTH_CEILING) (default 64).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.normalize.limits.max_depth = depth;
        self
    }

    /// Maximum number of XML nodes (default 1,000,000).
    pub fn max_nodes(mut self, nodes: u32) -> Self {
        self.normalize.limits.max_nodes = nodes;
        self
    }

    /// Whether XML documents may carry a DTD (default `false`).
    pub fn allow_dtd(mut self, allow: bool) -> Self {
        self.normalize.limits.allow_dtd = allow;
        self
    }

    /// With DTDs allowed, the most bytes entity references may expand to (default 1 MiB).
    pub fn max_entity_expansion(mut self, bytes: usize) -> Self {
        self.normalize.limits.max_entity_expansion = bytes;
        self
    }

    /// Makes an XML element path always an array, so one item and many give
    /// the same shape: `/orders/order` (from the root element, `*` matching
    /// any one name; an absolute path with no item gives `[]`) or `order`
    /// (that name anywhere). Names are as they appear in the document value
    /// (`ns:name` for prefixed elements).
    pub fn force_array(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        match ArrayPath::parse(&path) {
            Some(path) => self.normalize.xml.force_arrays.push(path),
            None => self.problems.push(format!(
                "force-array path `{path}` is neither `/a/b` nor a single name"
            )),
        }
        self
    }

    /// Writes elements and attributes of namespace `uri` with `prefix`
    /// (`""`: no prefix), whatever prefix the document used.
    pub fn namespace(mut self, uri: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.normalize.xml.namespaces.push((uri.into(), prefix.into()));
        self
    }

    /// The prefix of attribute keys (default `@`; may be empty, and then an
    /// attribute and a child element of the same name make an array).
    pub fn attribute_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.normalize.xml.attribute_prefix = prefix.into();
        self
    }

    /// The key of an element's text beside attributes or children (default `#text`).
    pub fn text_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if key.is_empty() {
            self.problems.push("the text key must not be empty".to_owned());
        }
        self.normalize.xml.text_key = key;
        self
    }

    /// Whether an XML document is its root element's value rather than
    /// `{ root-name: value }` (default `false`).
    pub fn unwrap_root(mut self, unwrap: bool) -> Self {
        self.normalize.xml.unwrap_root = unwrap;
        self
    }

    /// When an empty body is a valid document (default [`EmptyBody::Auto`]).
    pub fn empty_body(mut self, empty: EmptyBody) -> Self {
        self.normalize.empty = empty;
        self
    }

    /// Length of the body excerpt in error messages, in characters (default
    /// 64; 0 shows none).
    pub fn excerpt_len(mut self, chars: usize) -> Self {
        self.normalize.excerpt_len = chars;
        self
    }

    /// Replaces the headers an [`Envelope`] keeps (default
    /// [`DEFAULT_ENVELOPE_HEADERS`]). Credential and cookie headers
    /// ([`DENIED_HEADERS`](crate::DENIED_HEADERS)) are refused by `build`.
    pub fn envelope_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.normalize.envelope_headers.clear();
        for name in names {
            self = self.keep_header(name.as_ref());
        }
        self
    }

    /// Adds a header an [`Envelope`] keeps.
    pub fn keep_header(mut self, name: &str) -> Self {
        match HeaderName::from_bytes(name.trim().as_bytes()) {
            Ok(name) if envelope::is_denied(&name) => self.problems.push(format!(
                "header `{name}` carries credentials and is never kept in an envelope"
            )),
            Ok(name) => {
                if !self.normalize.envelope_headers.contains(&name) {
                    self.normalize.envelope_headers.push(name);
                }
            }
            Err(_) => self
                .problems
                .push(format!("`{}` is not a header name", scrub::snippet(name, 64))),
        }
        self
    }

    /// The normalizer, or a configuration error naming every mistake.
    pub fn build(self) -> Result<Normalize, Error> {
        if self.problems.is_empty() {
            Ok(self.normalize)
        } else {
            Err(Error::config(format!(
                "invalid normalizer configuration: {}",
                self.problems.join("; ")
            )))
        }
    }
}
