//! `Pages` and `Items`: the streams a walk is consumed through.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use conn_core::{Connector, Context, Error, Request};
use futures_core::Stream;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::walk::{Limits, Walk};
use crate::{Checkpoint, Page, Paginator};

type PageStream = Pin<Box<dyn Stream<Item = Result<Page, Error>> + Send>>;

/// A paginated collection as a [`Stream`] of [`Page`]s, made by
/// [`PaginateExt::paginate`](crate::PaginateExt::paginate). Nothing is
/// sent until it is first polled; settings are chained before that.
///
/// Each page is one call through the connector's whole pipeline: a page
/// that fails is retried like any call, and a final failure ends the stream
/// with that error, after the pages already yielded. A walk is complete
/// only when the stream ends without an error (and the last checkpoint
/// [`is_done`](Checkpoint::is_done)).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`items_at(pointer)`](Self::items_at) | `""` (the body is the array) | JSON pointer to the page's items |
/// | [`context(context)`](Self::context) | `Context::new()` | tenant, tags and deadline of every page call |
/// | [`max_pages(n)`](Self::max_pages) | none | stop after `n` pages in this run |
/// | [`max_items(n)`](Self::max_items) | none | request no further page once `n` items came in this run (pages are yielded whole, so checkpoints stay exact) |
/// | [`prefetch(true)`](Self::prefetch) | off | fetch the next page while the current one is processed (one page ahead, on a spawned task) |
/// | [`resume(checkpoint)`](Self::resume) | the start | continue right after the page the checkpoint was taken at |
///
/// A repeated cursor or next link is an error (after the page that
/// repeated it), never an endless loop. Dropping the stream cancels the
/// page request in flight, which frees its throttle slot.
#[must_use = "a page stream does nothing unless polled"]
pub struct Pages {
    setup: Option<Walk>,
    prefetch: bool,
    running: Option<PageStream>,
}

impl Pages {
    pub(crate) fn new(connector: &Connector, request: Request, paginator: Arc<dyn Paginator>) -> Self {
        Pages {
            setup: Some(Walk::new(
                connector.clone(),
                request,
                Context::new(),
                paginator,
                Limits::default(),
                Checkpoint::start(),
            )),
            prefetch: false,
            running: None,
        }
    }

    fn configure(mut self, change: impl FnOnce(&mut Walk)) -> Self {
        if let Some(walk) = &mut self.setup {
            change(walk);
        }
        self
    }

    /// The JSON pointer to the items of a page (default `""`: the whole body
    /// is the array). An absent or `null` value is an empty page.
    pub fn items_at(self, pointer: impl Into<String>) -> Self {
        let pointer = pointer.into();
        self.configure(|walk| walk.limits.items_pointer = pointer)
    }

    /// The context of every page call (tenant, tags, deadline).
    pub fn context(self, context: Context) -> Self {
        self.configure(|walk| walk.context = context)
    }

    /// Stops after `n` pages in this run.
    pub fn max_pages(self, n: u64) -> Self {
        self.configure(|walk| walk.limits.max_pages = Some(n))
    }

    /// Requests no further page once `n` items came in this run.
    pub fn max_items(self, n: u64) -> Self {
        self.configure(|walk| walk.limits.max_items = Some(n))
    }

    /// Fetches the next page while the consumer processes the current one
    /// (default off: strictly one request at a time).
    pub fn prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// Continues a walk from a [`Checkpoint`]: the first page yielded is the
    /// one after the page the checkpoint was taken at.
    pub fn resume(self, checkpoint: Checkpoint) -> Self {
        self.configure(|walk| {
            *walk = Walk::new(
                walk.connector.clone(),
                walk.base.clone(),
                walk.context.clone(),
                walk.paginator.clone(),
                walk.limits.clone(),
                checkpoint,
            );
        })
    }

    /// The items of every page, one by one.
    pub fn items(self) -> Items {
        Items {
            pages: self,
            current: Vec::new().into_iter(),
            page_checkpoint: None,
            checkpoint: None,
        }
    }

    fn start(&mut self) -> Option<&mut PageStream> {
        if self.running.is_none() {
            let walk = self.setup.take()?;
            self.running = Some(if self.prefetch {
                prefetching(walk)
            } else {
                Box::pin(futures_util::stream::unfold(walk, |mut walk| async move {
                    walk.next_page().await.map(|page| (page, walk))
                }))
            });
        }
        self.running.as_mut()
    }
}

impl Stream for Pages {
    type Item = Result<Page, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().start() {
            Some(stream) => stream.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("started", &self.running.is_some())
            .field("prefetch", &self.prefetch)
            .finish_non_exhaustive()
    }
}

/// The walk on its own task, exactly one page ahead: the task reserves room
/// for a page before fetching it, so it fetches page n+1 only once the
/// consumer took page n.
fn prefetching(mut walk: Walk) -> PageStream {
    let (sender, receiver) = mpsc::channel::<Result<Page, Error>>(1);
    let task = tokio::spawn(async move {
        loop {
            let Ok(slot) = sender.reserve().await else { return };
            let next = tokio::select! {
                next = walk.next_page() => next,
                // The consumer is gone: drop the request in flight.
                () = sender.closed() => return,
            };
            let Some(next) = next else { return };
            slot.send(next);
        }
    });
    Box::pin(Prefetched {
        receiver,
        _task: AbortOnDrop(task),
    })
}

struct Prefetched {
    receiver: mpsc::Receiver<Result<Page, Error>>,
    _task: AbortOnDrop,
}

impl Stream for Prefetched {
    type Item = Result<Page, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}

/// Aborts the prefetch task (and the request it has in flight) when the
/// stream is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The items of a paginated collection, one by one, made by
/// [`Pages::items`].
///
/// [`checkpoint`](Self::checkpoint) is the checkpoint to store once every
/// item yielded so far is processed: it moves forward when the last item of
/// a page has been yielded, so resuming from it repeats and skips nothing.
#[must_use = "an item stream does nothing unless polled"]
pub struct Items {
    pages: Pages,
    current: std::vec::IntoIter<Value>,
    page_checkpoint: Option<Checkpoint>,
    checkpoint: Option<Checkpoint>,
}

impl Items {
    /// The checkpoint after the last page whose items were all yielded;
    /// `None` before the first page is done.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }
}

impl Stream for Items {
    type Item = Result<Value, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.current.next() {
                if this.current.len() == 0 {
                    this.checkpoint = this.page_checkpoint.take();
                }
                return Poll::Ready(Some(Ok(item)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(Some(Ok(page))) => {
                    if page.items.is_empty() {
                        this.checkpoint = Some(page.checkpoint);
                    } else {
                        this.page_checkpoint = Some(page.checkpoint);
                        this.current = page.items.into_iter();
                    }
                }
            }
        }
    }
}

impl fmt::Debug for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pending_in_page", &self.current.len())
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}
