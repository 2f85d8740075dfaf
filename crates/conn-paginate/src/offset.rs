//! `Offset`: pagination by item offset and limit.

use conn_core::{Error, Request};

use crate::paginator::{check_pointer, count_at};
use crate::{PageView, Paginator, Position};

/// Offset / limit pagination: `?offset=0&limit=100`, then `offset=100`...
/// The next offset is this one plus the items received (not plus the
/// limit), so an API that caps the page size below the limit loses nothing.
///
/// The walk ends on an empty page, on a short page (fewer items than the
/// limit, unless [`stop_on_short_page(false)`](Self::stop_on_short_page)),
/// or once the offset reaches the total count, if one is configured.
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`new(offset_param, limit_param, limit)`](Self::new) | — | parameter names and page size |
/// | [`start_at(offset)`](Self::start_at) | 0 | the first offset |
/// | [`total_at(pointer)`](Self::total_at) | none | a JSON pointer to the total item count |
/// | [`stop_on_short_page(bool)`](Self::stop_on_short_page) | true | end on a page with fewer items than the limit (turn off for APIs that cap the page size silently) |
///
/// A total that lies is survived either way: one too large ends at the
/// first empty page, one too small ends the walk early (at the total), as
/// the API asked.
///
/// ```
/// use conn_paginate::Offset;
///
/// let offsets = Offset::new("offset", "limit", 100).total_at("/meta/total");
/// # let _ = offsets;
/// ```
#[derive(Clone, Debug)]
pub struct Offset {
    offset_param: String,
    limit_param: String,
    limit: u32,
    start: u64,
    total: Option<String>,
    stop_on_short: bool,
}

impl Offset {
    /// Sends `offset_param=<offset>&limit_param=<limit>`.
    pub fn new(offset_param: impl Into<String>, limit_param: impl Into<String>, limit: u32) -> Self {
        Offset {
            offset_param: offset_param.into(),
            limit_param: limit_param.into(),
            limit,
            start: 0,
            total: None,
            stop_on_short: true,
        }
    }

    /// The offset of the first page (default 0).
    pub fn start_at(mut self, offset: u64) -> Self {
        self.start = offset;
        self
    }

    /// Reads the total item count at this JSON pointer of each page.
    pub fn total_at(mut self, pointer: impl Into<String>) -> Self {
        self.total = Some(pointer.into());
        self
    }

    /// Whether a page with fewer items than the limit is the last (default true).
    pub fn stop_on_short_page(mut self, stop: bool) -> Self {
        self.stop_on_short = stop;
        self
    }

    fn offset_of(&self, position: &Position) -> Result<u64, Error> {
        match position {
            Position::Start => Ok(self.start),
            Position::Offset(offset) => Ok(*offset),
            other => Err(Error::config(format!(
                "an offset paginator cannot resume from {other:?}"
            ))),
        }
    }
}

impl Paginator for Offset {
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
        let offset = self.offset_of(position)?;
        Ok(base
            .clone()
            .set_query(self.offset_param.as_str(), offset.to_string())
            .set_query(self.limit_param.as_str(), self.limit.to_string()))
    }

    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
        let received = page.items.len() as u64;
        if received == 0 || (self.stop_on_short && received < u64::from(self.limit)) {
            return Ok(None);
        }
        let next = self.offset_of(page.position)?.saturating_add(received);
        if let Some(pointer) = &self.total {
            check_pointer(pointer)?;
            if let Some(total) = count_at(page.document, pointer)?
                && next >= total
            {
                return Ok(None);
            }
        }
        Ok(Some(Position::Offset(next)))
    }
}
