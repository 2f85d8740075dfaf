//! Pages, polls and streams for conn connectors: the loops every
//! integration writes around its calls, written once.
//!
//! - [`PaginateExt::paginate`] walks a paginated collection as a
//!   [`Stream`](futures_core::Stream) of [`Page`]s (or of items), with
//!   [`Cursor`], [`NextUrl`], [`Offset`] and [`PageNumber`] pagination or a
//!   custom [`Paginator`]; guards against repeated positions, page and item
//!   limits, and a serializable [`Checkpoint`] after every page.
//! - [`PaginateExt::poll`] polls a resource and yields it only when it
//!   changed (`ETag`, `Last-Modified`, `X-Poll-Interval`, `Retry-After`).
//! - [`PaginateExt::call_ndjson`] reads an NDJSON export as a stream of
//!   documents, in bounded memory, on top of
//!   [`Connector::call_stream`](conn_core::Connector::call_stream).
//!
//! Everything is built on [`Connector::call`](conn_core::Connector::call)
//! and its siblings: each page and each poll is one call through the whole
//! pipeline (breaker, throttle, auth, retry), so this crate adds no failure
//! handling of its own and depends on `conn-core` only. It is a crate of
//! its own rather than part of the core because the core is the pipeline
//! of one call, and these are loops of calls that a connector may not need.
//!
//! ```no_run
//! use conn_core::{Connector, Request};
//! use conn_paginate::{Cursor, PaginateExt};
//! use futures_util::StreamExt;
//!
//! # async fn demo(connector: Connector) -> Result<(), conn_core::Error> {
//! let mut pages = connector
//!     .paginate(Request::get("/items"), Cursor::from_body("/next").query("cursor"))
//!     .items_at("/data");
//! while let Some(page) = pages.next().await {
//!     let page = page?;
//!     println!("page {}: {} items; resume with {:?}", page.number, page.items.len(), page.checkpoint);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod checkpoint;
mod cursor;
mod link;
mod ndjson;
mod next_url;
mod offset;
mod page;
mod page_number;
mod pages;
mod paginator;
mod poll;
mod position;
mod walk;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Context, Error, Request};
use serde::de::DeserializeOwned;

pub use checkpoint::Checkpoint;
pub use cursor::Cursor;
pub use ndjson::{DEFAULT_MAX_LINE, Ndjson};
pub use next_url::NextUrl;
pub use offset::Offset;
pub use page::Page;
pub use page_number::PageNumber;
pub use pages::{Items, Pages};
pub use paginator::{PageView, Paginator};
pub use poll::{DEFAULT_MAX_INTERVAL, Poller, X_POLL_INTERVAL};
pub use position::Position;

/// Pagination, polling and NDJSON streaming on a [`Connector`].
pub trait PaginateExt {
    /// Walks the collection `request` points at, page by page, as
    /// `paginator` says: see [`Pages`] for the settings.
    fn paginate(&self, request: Request, paginator: impl Paginator + 'static) -> Pages;

    /// Polls `request` every `every`, yielding a document only when it
    /// changed: see [`Poller`].
    fn poll(&self, request: Request, every: Duration) -> Poller;

    /// Calls with [`Connector::call_stream`] and decodes the body as NDJSON
    /// (JSON Lines) while it arrives.
    fn call_ndjson<T: DeserializeOwned>(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Ndjson<T>, Error>> + Send;
}

impl PaginateExt for Connector {
    fn paginate(&self, request: Request, paginator: impl Paginator + 'static) -> Pages {
        Pages::new(self, request, Arc::new(paginator))
    }

    fn poll(&self, request: Request, every: Duration) -> Poller {
        Poller::new(self, request, every)
    }

    fn call_ndjson<T: DeserializeOwned>(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Ndjson<T>, Error>> + Send {
        let connector = self.clone();
        async move {
            let response = connector.call_stream(request, context).await?;
            Ok(Ndjson::new(response.into_body()))
        }
    }
}
