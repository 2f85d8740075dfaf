//! `Cursor`: pagination by an opaque token the API hands out with each page.

use conn_core::{Error, Request};
use serde_json::{Map, Value};

use crate::paginator::{check_pointer, text_at};
use crate::{PageView, Paginator, Position};

/// Cursor pagination: the next token is read from the body (a JSON pointer)
/// or a response header, and sent with the next request as a query
/// parameter, a header or a field of the JSON body. The walk ends when the
/// token is absent, null or empty.
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`from_body(pointer)`](Self::from_body) / [`from_header(name)`](Self::from_header) | — | where the next token is |
/// | [`query(name)`](Self::query) | `cursor` | send it as this query parameter |
/// | [`header(name)`](Self::header) | | send it as this request header instead |
/// | [`body_field(name)`](Self::body_field) | | send it as this top-level field of the JSON request body (search APIs that page by POST) |
/// | [`page_size(param, size)`](Self::page_size) | none | a page-size query parameter sent with every page |
///
/// ```
/// use conn_paginate::Cursor;
///
/// // {"data": [...], "meta": {"next_cursor": "c2"}}  ->  GET /items?after=c2&limit=100
/// let cursor = Cursor::from_body("/meta/next_cursor").query("after").page_size("limit", 100);
/// # let _ = cursor;
/// ```
#[derive(Clone, Debug)]
pub struct Cursor {
    source: Source,
    target: Target,
    page_size: Option<(String, u32)>,
}

#[derive(Clone, Debug)]
enum Source {
    Body(String),
    Header(String),
}

#[derive(Clone, Debug)]
enum Target {
    Query(String),
    Header(String),
    BodyField(String),
}

impl Cursor {
    /// The next token is the string (or number) at this JSON pointer of the body.
    pub fn from_body(pointer: impl Into<String>) -> Self {
        Cursor {
            source: Source::Body(pointer.into()),
            target: Target::Query("cursor".into()),
            page_size: None,
        }
    }

    /// The next token is the value of this response header.
    pub fn from_header(name: impl Into<String>) -> Self {
        Cursor {
            source: Source::Header(name.into()),
            target: Target::Query("cursor".into()),
            page_size: None,
        }
    }

    /// Sends the token as this query parameter (the default, named `cursor`).
    pub fn query(mut self, name: impl Into<String>) -> Self {
        self.target = Target::Query(name.into());
        self
    }

    /// Sends the token as this request header.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.target = Target::Header(name.into());
        self
    }

    /// Sends the token as this top-level field of the JSON request body.
    pub fn body_field(mut self, name: impl Into<String>) -> Self {
        self.target = Target::BodyField(name.into());
        self
    }

    /// Sends `param=size` with every page request.
    pub fn page_size(mut self, param: impl Into<String>, size: u32) -> Self {
        self.page_size = Some((param.into(), size));
        self
    }
}

impl Paginator for Cursor {
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
        let mut request = base.clone();
        if let Some((param, size)) = &self.page_size {
            request = request.set_query(param.as_str(), size.to_string());
        }
        let token = match position {
            Position::Start => return Ok(request),
            Position::Cursor(token) => token,
            other => {
                return Err(Error::config(format!(
                    "a cursor paginator cannot resume from {other:?}"
                )));
            }
        };
        Ok(match &self.target {
            Target::Query(name) => request.set_query(name.as_str(), token.as_str()),
            Target::Header(name) => request.header(name.as_str(), token.as_str()),
            Target::BodyField(name) => with_body_field(request, name, token)?,
        })
    }

    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
        let token = match &self.source {
            Source::Body(pointer) => {
                check_pointer(pointer)?;
                text_at(page.document, pointer)
            }
            Source::Header(name) => page
                .response
                .headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        };
        Ok(token.map(Position::Cursor))
    }
}

/// The request with `field: token` set in its JSON object body (an empty
/// body counts as `{}`).
fn with_body_field(request: Request, field: &str, token: &str) -> Result<Request, Error> {
    let body = request.body_bytes();
    let mut object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => object,
            _ => {
                return Err(Error::config(
                    "a cursor sent in the body needs a JSON object request body",
                ));
            }
        }
    };
    object.insert(field.to_owned(), Value::String(token.to_owned()));
    Ok(request.json(&Value::Object(object)))
}
