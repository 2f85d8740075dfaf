//! `Position`: where a page is, in the terms of its paginator.

use serde::{Deserialize, Serialize};

/// Where a page is: what a paginator read from the previous page and puts
/// into the next request. Serializable, so it can be checkpointed.
///
/// ```
/// use conn_paginate::Position;
///
/// let json = serde_json::to_string(&Position::Cursor("c2".into())).unwrap();
/// assert_eq!(json, r#"{"cursor":"c2"}"#);
/// assert_eq!(serde_json::from_str::<Position>(r#""start""#).unwrap(), Position::Start);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The first page: the caller's request as given (plus the paginator's
    /// first-page parameters).
    Start,
    /// An opaque cursor token from the previous page.
    Cursor(String),
    /// The endpoint of the next page (path and query, relative to the
    /// connector's base URL), from a next-page link on the connector's origin.
    Url(String),
    /// An item offset.
    Offset(u64),
    /// A page number.
    Page(u64),
    /// Whatever a custom [`Paginator`](crate::Paginator) needs.
    Custom(serde_json::Value),
}

impl Position {
    /// A stable text form, for telling positions apart (repeat detection).
    pub(crate) fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
