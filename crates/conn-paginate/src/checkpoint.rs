//! `Checkpoint`: where a walk stands after a page, to resume it exactly.

use serde::{Deserialize, Serialize};

use crate::Position;

/// Where a walk through a paginated collection stands after a page: the
/// position of the next page and the counts so far. Each [`Page`](crate::Page)
/// carries the checkpoint taken right after it.
///
/// Store it (it is `serde`) once the page's items are processed; a job that
/// restarts passes it to [`Pages::resume`](crate::Pages::resume) and gets
/// exactly the items after that page: none twice, none missing (as long as
/// the API's own positions are stable, which cursors and next links are by
/// design and offsets are only for collections that do not change).
///
/// ```
/// use conn_paginate::{Checkpoint, Position};
///
/// let checkpoint = Checkpoint { next: Some(Position::Cursor("c41".into())), pages: 40, items: 4000 };
/// let saved = serde_json::to_string(&checkpoint).unwrap();
/// let restored: Checkpoint = serde_json::from_str(&saved).unwrap();
/// assert_eq!(restored, checkpoint);
/// assert!(!restored.is_done());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The next page to fetch; `None` when the collection was walked to its end.
    pub next: Option<Position>,
    /// Pages yielded so far (across resumes).
    pub pages: u64,
    /// Items yielded so far (across resumes).
    pub items: u64,
}

impl Checkpoint {
    /// The checkpoint of a walk that has not started.
    pub fn start() -> Self {
        Checkpoint {
            next: Some(Position::Start),
            pages: 0,
            items: 0,
        }
    }

    /// Whether the walk reached the end of the collection.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::start()
    }
}
