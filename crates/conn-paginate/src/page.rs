//! `Page`: one page of a paginated collection.

use conn_core::{CallReport, Document, Response};
use serde_json::Value;

use crate::{Checkpoint, Position};

/// One page: its items, the rest of its document, the response (with the
/// report of what the call did: attempts, waits) and the checkpoint taken
/// right after it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Page {
    /// The 1-based number of this page in the walk (counted across resumes).
    pub number: u64,
    /// The position this page was fetched at.
    pub position: Position,
    /// The items, taken out of the document at the configured JSON pointer.
    pub items: Vec<Value>,
    /// The normalized body, with `null` where the items were: page
    /// metadata (totals, links) stays readable without keeping the items twice.
    pub document: Document,
    /// The response (headers, status) and its [`CallReport`].
    pub response: Response,
    /// Where the walk stands after this page: store it once the items are
    /// processed, to resume right after this page.
    pub checkpoint: Checkpoint,
}

impl Page {
    /// What the page's call did: attempts, retries, throttle waits.
    pub fn report(&self) -> &CallReport {
        self.response.report()
    }

    /// Decodes the items into `T`.
    pub fn items_as<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, conn_core::Error> {
        self.items
            .iter()
            .map(|item| {
                T::deserialize(item).map_err(|e| {
                    conn_core::Error::new(
                        conn_core::ErrorKind::Decode,
                        "an item does not match the expected type",
                    )
                    .with_source(e)
                })
            })
            .collect()
    }
}
