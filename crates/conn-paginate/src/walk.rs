//! `Walk`: the sequential loop over pages, with its guards. Each page is
//! one `Connector::call_document`, so every page goes through the whole
//! pipeline (throttle, auth, retry, breaker).

use std::collections::HashSet;
use std::sync::Arc;

use conn_core::{Connector, Context, Document, Error, ErrorKind, Request};
use serde_json::Value;

use crate::{Checkpoint, Page, PageView, Paginator, Position};

/// The settings of a walk (see [`Pages`](crate::Pages) for each).
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    pub(crate) items_pointer: String,
    pub(crate) max_pages: Option<u64>,
    pub(crate) max_items: Option<u64>,
}

/// One walk through a collection.
pub(crate) struct Walk {
    pub(crate) connector: Connector,
    pub(crate) base: Request,
    pub(crate) context: Context,
    pub(crate) paginator: Arc<dyn Paginator>,
    pub(crate) limits: Limits,
    pub(crate) checkpoint: Checkpoint,
    /// Positions already requested or scheduled: a repeat is an error.
    seen: HashSet<String>,
    /// Pages and items of this run (the guards count per run).
    pages: u64,
    items: u64,
    /// An error found after a page was read (a repeated cursor, a foreign
    /// link): the page is yielded first, the error next.
    pending: Option<Error>,
    ended: bool,
}

impl Walk {
    pub(crate) fn new(
        connector: Connector,
        base: Request,
        context: Context,
        paginator: Arc<dyn Paginator>,
        limits: Limits,
        checkpoint: Checkpoint,
    ) -> Self {
        let mut seen = HashSet::new();
        if let Some(next) = &checkpoint.next {
            seen.insert(next.key());
        }
        Walk {
            connector,
            base,
            context,
            paginator,
            limits,
            checkpoint,
            seen,
            pages: 0,
            items: 0,
            pending: None,
            ended: false,
        }
    }

    /// The next page; `None` at the end of the collection or at a limit.
    /// After an error, only `None` follows.
    pub(crate) async fn next_page(&mut self) -> Option<Result<Page, Error>> {
        if let Some(err) = self.pending.take() {
            self.ended = true;
            return Some(Err(err));
        }
        if self.ended
            || self.limits.max_pages.is_some_and(|max| self.pages >= max)
            || self.limits.max_items.is_some_and(|max| self.items >= max)
        {
            return None;
        }
        let position = self.checkpoint.next.clone()?;
        let page = self.fetch(position).await;
        if page.is_err() {
            self.ended = true;
        }
        Some(page)
    }

    async fn fetch(&mut self, position: Position) -> Result<Page, Error> {
        let request = self.paginator.request(&self.base, &position)?;
        let (mut document, response) = self
            .connector
            .call_document(request, self.context.clone())
            .await?;
        let items = take_items(&mut document, &self.limits.items_pointer)
            .map_err(|err| err.with_report(response.report().clone()))?;
        let view = PageView::new(&position, &document, &items, &response, self.connector.base_url());
        let next = match self.paginator.next(&view) {
            Ok(Some(next)) if !self.seen.insert(next.key()) => {
                self.pending = Some(Error::new(
                    ErrorKind::Decode,
                    format!(
                        "the API repeated a page position after page {} ({}); stopped instead of looping",
                        self.checkpoint.pages + 1,
                        kind_of(&next)
                    ),
                ));
                None
            }
            Ok(next) => next,
            Err(err) => {
                self.pending = Some(err);
                None
            }
        };
        let count = items.len() as u64;
        self.pages += 1;
        self.items += count;
        self.checkpoint.pages += 1;
        self.checkpoint.items += count;
        self.checkpoint.next = next;
        Ok(Page {
            number: self.checkpoint.pages,
            position,
            items,
            document,
            response,
            checkpoint: self.checkpoint.clone(),
        })
    }
}

/// Names a position's kind without its value (a cursor may be sensitive).
fn kind_of(position: &Position) -> &'static str {
    match position {
        Position::Start => "the first page",
        Position::Cursor(_) => "a cursor",
        Position::Url(_) => "a next-page link",
        Position::Offset(_) => "an offset",
        Position::Page(_) => "a page number",
        Position::Custom(_) => "a custom position",
    }
}

/// Takes the items out of the document: an array at the pointer; absent or
/// `null` is an empty page (APIs omit empty lists); anything else is a
/// decode error.
fn take_items(document: &mut Document, pointer: &str) -> Result<Vec<Value>, Error> {
    match document.value.pointer_mut(pointer).map(Value::take) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(Error::new(
            ErrorKind::Decode,
            format!("the value at the items pointer {pointer:?} is not an array"),
        )),
    }
}
