//! The `Paginator` trait: how a kind of pagination moves from page to page.

use conn_core::{BaseUrl, Document, Error, ErrorKind, Request, Response};
use serde_json::Value;

use crate::Position;

/// One kind of pagination: how the request for a page is made, and where
/// the next page is. The built-in kinds are [`Cursor`](crate::Cursor),
/// [`NextUrl`](crate::NextUrl), [`Offset`](crate::Offset) and
/// [`PageNumber`](crate::PageNumber); implement this for the rest.
///
/// Every page request goes through the connector's whole pipeline, so a
/// paginator only shapes requests and reads pages.
///
/// ```
/// use conn_core::{Error, Request};
/// use conn_paginate::{PageView, Paginator, Position};
///
/// /// An API that pages by date: `?day=2026-01-01`, and `"next_day"` in the body.
/// struct ByDay;
///
/// impl Paginator for ByDay {
///     fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
///         Ok(match position {
///             Position::Custom(day) => base.clone().set_query("day", day.as_str().unwrap_or_default()),
///             _ => base.clone(),
///         })
///     }
///
///     fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
///         Ok(page.document.value.get("next_day").cloned().map(Position::Custom))
///     }
/// }
/// ```
pub trait Paginator: Send + Sync {
    /// The request for the page at `position`, made from the caller's request.
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error>;

    /// Where the page after `page` is; `None` ends the walk.
    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error>;
}

/// What a paginator sees of a page it has to find the successor of.
#[derive(Debug)]
#[non_exhaustive]
pub struct PageView<'a> {
    /// The position this page was fetched at.
    pub position: &'a Position,
    /// The normalized body, the items taken out (see [`Page`](crate::Page)).
    pub document: &'a Document,
    /// The page's items.
    pub items: &'a [Value],
    /// The response, with its headers and report.
    pub response: &'a Response,
    /// The connector's base URL: next-page links must stay under it.
    pub base_url: &'a BaseUrl,
}

impl<'a> PageView<'a> {
    /// A view of a page (for testing custom paginators).
    pub fn new(
        position: &'a Position,
        document: &'a Document,
        items: &'a [Value],
        response: &'a Response,
        base_url: &'a BaseUrl,
    ) -> Self {
        PageView {
            position,
            document,
            items,
            response,
            base_url,
        }
    }
}

/// The text at a JSON pointer: a string as is, a number in decimal; `None`
/// when absent, null, empty, or of another type.
pub(crate) fn text_at(document: &Document, pointer: &str) -> Option<String> {
    match document.value.pointer(pointer)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The unsigned number at a JSON pointer (a number, or a string of digits).
pub(crate) fn count_at(document: &Document, pointer: &str) -> Result<Option<u64>, Error> {
    match document.value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| not_a_count(pointer)),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| not_a_count(pointer)),
        Some(_) => Err(not_a_count(pointer)),
    }
}

fn not_a_count(pointer: &str) -> Error {
    Error::new(
        ErrorKind::Decode,
        format!("the value at {pointer} is not a non-negative integer"),
    )
}

/// Checks a JSON pointer given in configuration.
pub(crate) fn check_pointer(pointer: &str) -> Result<(), Error> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(Error::config(format!(
            "the JSON pointer {pointer:?} must be empty or start with '/'"
        )))
    }
}
