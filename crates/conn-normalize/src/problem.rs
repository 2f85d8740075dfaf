//! What exactly went wrong decoding a body: [`DecodeProblem`] and [`DecodeError`].
//!
//! `conn_core` has two kinds for a bad body, [`ErrorKind::Decode`] and
//! [`ErrorKind::BodyTooLarge`]. The finer problem travels as the `source` of
//! the core [`Error`], so the pipeline stays format-agnostic and a program
//! that cares gets it back with [`problem`] or [`decode_error`].

use std::borrow::Cow;
use std::fmt;

use conn_core::{Error, ErrorKind, Format};
use http::StatusCode;

/// The finer kind of a decode failure.
///
/// ```
/// use conn_normalize::{DecodeProblem, Normalize};
/// use http::{HeaderMap, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", "application/json".parse().unwrap());
/// let err = Normalize::new()
///     .normalize_parts(StatusCode::OK, &headers, br#"{"id": 1, "name": "#)
///     .unwrap_err();
/// assert_eq!(conn_normalize::problem(&err), Some(DecodeProblem::Truncated));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeProblem {
    /// The body is empty although a document was expected (a 204, a HEAD, or a
    /// response without a document content type is an empty document instead).
    EmptyBody,
    /// The bytes are not valid text in the body's charset (UTF-8 unless declared otherwise).
    InvalidEncoding,
    /// The declared charset is not one this crate decodes.
    UnsupportedCharset,
    /// The body is neither JSON nor XML (or the content type names another format
    /// and detection trusts the header).
    UnknownFormat,
    /// An HTML page (typically a proxy's or load balancer's error page) where
    /// JSON or XML was expected.
    HtmlPage,
    /// The document ends before it is complete.
    Truncated,
    /// The document is malformed.
    Syntax,
    /// The document nests deeper than the depth limit.
    TooDeep,
    /// The body is larger than the size limit (the core kind is [`ErrorKind::BodyTooLarge`]).
    TooLarge,
    /// The XML document has more nodes than the node limit.
    TooManyNodes,
    /// The XML document has a DTD and DTDs are not allowed, or its DTD declares
    /// an external entity (never fetched).
    DtdRefused,
    /// The XML document's entities would expand past the expansion limit, or refer to each other in a loop.
    EntityExpansion,
    /// The document parsed but does not fit the expected shape (typed decoding or a field mapping).
    Schema,
}

impl DecodeProblem {
    /// A short description, e.g. `"truncated document"`.
    pub fn describe(self) -> &'static str {
        match self {
            DecodeProblem::EmptyBody => "empty body",
            DecodeProblem::InvalidEncoding => "invalid text encoding",
            DecodeProblem::UnsupportedCharset => "unsupported charset",
            DecodeProblem::UnknownFormat => "unknown format",
            DecodeProblem::HtmlPage => "HTML page instead of a document",
            DecodeProblem::Truncated => "truncated document",
            DecodeProblem::Syntax => "malformed document",
            DecodeProblem::TooDeep => "document nested too deep",
            DecodeProblem::TooLarge => "document too large",
            DecodeProblem::TooManyNodes => "too many XML nodes",
            DecodeProblem::DtdRefused => "DTD refused",
            DecodeProblem::EntityExpansion => "entity expansion over the limit",
            DecodeProblem::Schema => "document does not match the expected shape",
        }
    }

    /// The `conn_core` kind this problem is reported as: [`ErrorKind::BodyTooLarge`]
    /// for [`DecodeProblem::TooLarge`], [`ErrorKind::Decode`] for everything else.
    pub fn error_kind(self) -> ErrorKind {
        match self {
            DecodeProblem::TooLarge => ErrorKind::BodyTooLarge,
            _ => ErrorKind::Decode,
        }
    }
}

impl fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The details of a decode failure: the source of the `conn_core` [`Error`].
///
/// Everything in it is safe to log: the detail is written by this crate (never a
/// parser's message quoting the body), and the excerpt is bounded and scrubbed
/// of secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    problem: DecodeProblem,
    format: Option<Format>,
    line: Option<u32>,
    column: Option<u32>,
    offset: Option<usize>,
    detail: Cow<'static, str>,
    excerpt: Option<String>,
}

impl DecodeError {
    pub(crate) fn new(problem: DecodeProblem, format: Option<Format>) -> Self {
        DecodeError {
            problem,
            format,
            line: None,
            column: None,
            offset: None,
            detail: Cow::Borrowed(""),
            excerpt: None,
        }
    }

    pub(crate) fn detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    pub(crate) fn position(mut self, line: u32, column: u32, offset: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self.offset = Some(offset);
        self
    }

    pub(crate) fn offset(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }

    pub(crate) fn excerpt(mut self, excerpt: String) -> Self {
        if !excerpt.trim().is_empty() {
            self.excerpt = Some(excerpt);
        }
        self
    }

    /// What went wrong.
    pub fn problem(&self) -> DecodeProblem {
        self.problem
    }

    /// The format being decoded, when it was known.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// The 1-based column of the problem, when known (bytes for JSON, characters for XML).
    pub fn column(&self) -> Option<u32> {
        self.column
    }

    /// The byte offset of the problem in the decoded text (the body itself
    /// when it is UTF-8), when known.
    pub fn byte_offset(&self) -> Option<usize> {
        self.offset
    }

    /// What the parser or the check said, in this crate's words.
    pub fn detail_text(&self) -> &str {
        &self.detail
    }

    /// A short (bounded), scrubbed excerpt of the body around the problem.
    pub fn excerpt_text(&self) -> Option<&str> {
        self.excerpt.as_deref()
    }

    /// The full message: what, where, why, and an excerpt.
    pub fn message(&self) -> String {
        let format = self.format.map(format_name);
        let mut message = match (self.problem, format) {
            (DecodeProblem::EmptyBody, Some(f)) => format!("empty body where {f} was expected"),
            (DecodeProblem::EmptyBody, None) => "empty body where a document was expected".to_owned(),
            (DecodeProblem::HtmlPage, Some(f)) => format!("an HTML page where {f} was expected"),
            (DecodeProblem::HtmlPage, None) => "an HTML page where JSON or XML was expected".to_owned(),
            (DecodeProblem::Truncated, Some(f)) => format!("truncated {f}"),
            (DecodeProblem::Syntax, Some(f)) => format!("malformed {f}"),
            (DecodeProblem::TooDeep, Some(f)) => format!("{f} nested too deep"),
            (DecodeProblem::TooLarge, Some(f)) => format!("{f} body too large"),
            (DecodeProblem::InvalidEncoding, Some(f)) => format!("{f} body is not valid text"),
            (problem, _) => problem.describe().to_owned(),
        };
        if let (Some(line), Some(column)) = (self.line, self.column) {
            message.push_str(&format!(" at line {line}, column {column}"));
            if let Some(offset) = self.offset {
                message.push_str(&format!(" (byte {offset})"));
            }
        } else if let Some(offset) = self.offset {
            message.push_str(&format!(" at byte {offset}"));
        }
        if !self.detail.is_empty() {
            message.push_str(": ");
            message.push_str(&self.detail);
        }
        if let Some(excerpt) = &self.excerpt {
            message.push_str("; near `");
            message.push_str(excerpt);
            message.push('`');
        }
        message
    }

    /// The `conn_core` error carrying this one as its source.
    pub fn into_error(self, status: Option<StatusCode>) -> Error {
        let error = Error::new(self.problem.error_kind(), self.message());
        let error = match status {
            Some(status) => error.with_status(status),
            None => error,
        };
        error.with_source(self)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short on purpose: the core error's message already says where and
        // why, and error reporters print the whole chain.
        match self.format {
            Some(format) => write!(f, "{} ({})", self.problem, format_name(format)),
            None => write!(f, "{}", self.problem),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The finer problem behind a `conn_core` error from this crate, if it is one.
///
/// ```
/// use conn_normalize::{DecodeProblem, Normalize};
/// use http::{HeaderMap, StatusCode};
///
/// let err = Normalize::new().normalize_parts(StatusCode::OK, &HeaderMap::new(), b"<a><b></a>").unwrap_err();
/// assert!(err.is_decode());
/// assert_eq!(conn_normalize::problem(&err), Some(DecodeProblem::Syntax));
/// ```
pub fn problem(error: &Error) -> Option<DecodeProblem> {
    decode_error(error).map(DecodeError::problem)
}

/// The [`DecodeError`] behind a `conn_core` error from this crate, if it is one.
pub fn decode_error(error: &Error) -> Option<&DecodeError> {
    std::error::Error::source(error)?.downcast_ref::<DecodeError>()
}

/// How a format is named in messages.
pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Json => "JSON",
        Format::Xml => "XML",
        Format::Empty => "an empty body",
        _ => "the document",
    }
}
