//! `PageNumber`: pagination by page number.

use conn_core::{Error, Request};

use crate::paginator::{check_pointer, count_at};
use crate::{PageView, Paginator, Position};

/// Page-number pagination: `?page=1&per_page=100`, then `page=2`...
///
/// The walk ends on an empty page, on a short page (fewer items than the
/// page size, when one is set and unless
/// [`stop_on_short_page(false)`](Self::stop_on_short_page)), or at the
/// total: a total page count, or a total item count divided by the page size.
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`new(page_param)`](Self::new) | — | the page parameter |
/// | [`first(number)`](Self::first) | 1 | the number of the first page (0 for zero-based APIs) |
/// | [`page_size(param, size)`](Self::page_size) | none | a page-size parameter and value |
/// | [`total_pages_at(pointer)`](Self::total_pages_at) | none | a JSON pointer to the page count |
/// | [`total_at(pointer)`](Self::total_at) | none | a JSON pointer to the item count (needs a page size) |
/// | [`stop_on_short_page(bool)`](Self::stop_on_short_page) | true | end on a short page |
///
/// ```
/// use conn_paginate::PageNumber;
///
/// let pages = PageNumber::new("page").page_size("per_page", 50).total_pages_at("/meta/pages");
/// # let _ = pages;
/// ```
#[derive(Clone, Debug)]
pub struct PageNumber {
    param: String,
    first: u64,
    page_size: Option<(String, u32)>,
    total_pages: Option<String>,
    total_items: Option<String>,
    stop_on_short: bool,
}

impl PageNumber {
    /// Sends the page number as `param`.
    pub fn new(param: impl Into<String>) -> Self {
        PageNumber {
            param: param.into(),
            first: 1,
            page_size: None,
            total_pages: None,
            total_items: None,
            stop_on_short: true,
        }
    }

    /// The number of the first page (default 1).
    pub fn first(mut self, number: u64) -> Self {
        self.first = number;
        self
    }

    /// Sends `param=size` with every page.
    pub fn page_size(mut self, param: impl Into<String>, size: u32) -> Self {
        self.page_size = Some((param.into(), size));
        self
    }

    /// Reads the total page count at this JSON pointer.
    pub fn total_pages_at(mut self, pointer: impl Into<String>) -> Self {
        self.total_pages = Some(pointer.into());
        self
    }

    /// Reads the total item count at this JSON pointer (used with a page size).
    pub fn total_at(mut self, pointer: impl Into<String>) -> Self {
        self.total_items = Some(pointer.into());
        self
    }

    /// Whether a page with fewer items than the page size is the last (default true).
    pub fn stop_on_short_page(mut self, stop: bool) -> Self {
        self.stop_on_short = stop;
        self
    }

    fn number_of(&self, position: &Position) -> Result<u64, Error> {
        match position {
            Position::Start => Ok(self.first),
            Position::Page(number) => Ok(*number),
            other => Err(Error::config(format!(
                "a page-number paginator cannot resume from {other:?}"
            ))),
        }
    }
}

impl Paginator for PageNumber {
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
        let number = self.number_of(position)?;
        let mut request = base.clone().set_query(self.param.as_str(), number.to_string());
        if let Some((param, size)) = &self.page_size {
            request = request.set_query(param.as_str(), size.to_string());
        }
        Ok(request)
    }

    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
        let received = page.items.len() as u64;
        let size = self.page_size.as_ref().map(|(_, size)| u64::from(*size));
        if received == 0 || (self.stop_on_short && size.is_some_and(|size| received < size)) {
            return Ok(None);
        }
        let number = self.number_of(page.position)?;
        // Pages fetched so far, this one included.
        let fetched = number.saturating_sub(self.first).saturating_add(1);
        if let Some(pointer) = &self.total_pages {
            check_pointer(pointer)?;
            if let Some(total) = count_at(page.document, pointer)?
                && fetched >= total
            {
                return Ok(None);
            }
        }
        if let (Some(pointer), Some(size)) = (&self.total_items, size) {
            check_pointer(pointer)?;
            if let Some(total) = count_at(page.document, pointer)?
                && fetched.saturating_mul(size) >= total
            {
                return Ok(None);
            }
        }
        Ok(Some(Position::Page(number.saturating_add(1))))
    }
}
