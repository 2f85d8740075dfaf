//! The `Normalizer` trait: response bodies into one internal document.

use serde::de::DeserializeOwned;

use crate::{Error, ErrorKind, Response};

/// The wire format a document was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON.
    Json,
    /// XML.
    Xml,
    /// No body (e.g. 204).
    Empty,
}

/// The internal document every format is normalized into: a JSON value tree,
/// so integration code and typed decoding never care what the API spoke.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The format the body was read from.
    pub format: Format,
    /// The normalized content.
    pub value: serde_json::Value,
}

impl Document {
    /// Decodes the document into any `serde` type.
    ///
    /// ```
    /// use conn_core::{Document, Format};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Item { id: u32 }
    ///
    /// let doc = Document { format: Format::Json, value: serde_json::json!({ "id": 7 }) };
    /// assert_eq!(doc.decode::<Item>().unwrap().id, 7);
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&self.value).map_err(|e| {
            Error::new(ErrorKind::Decode, "the document does not match the expected type").with_source(e)
        })
    }
}

/// Turns a final response body into a [`Document`].
///
/// ```
/// use conn_core::{Document, Error, Format, Normalizer, Response};
///
/// /// Treats every body as one string.
/// struct Text;
///
/// impl Normalizer for Text {
///     fn normalize(&self, response: &Response) -> Result<Document, Error> {
///         let text = String::from_utf8_lossy(response.body()).into_owned();
///         Ok(Document { format: Format::Json, value: serde_json::Value::String(text) })
///     }
/// }
/// ```
pub trait Normalizer: Send + Sync {
    /// Parses `response`'s body.
    fn normalize(&self, response: &Response) -> Result<Document, Error>;
}

/// The default normalizer: JSON passes through as-is, an empty body is
/// `null`, anything else is a decode error.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonPassThrough;

impl Normalizer for JsonPassThrough {
    fn normalize(&self, response: &Response) -> Result<Document, Error> {
        let body = response.body();
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Document {
                format: Format::Empty,
                value: serde_json::Value::Null,
            });
        }
        match serde_json::from_slice(body) {
            Ok(value) => Ok(Document {
                format: Format::Json,
                value,
            }),
            Err(e) => Err(Error::new(
                ErrorKind::Decode,
                format!("malformed JSON at line {}, column {}", e.line(), e.column()),
            )
            .with_status(response.status())),
        }
    }
}
