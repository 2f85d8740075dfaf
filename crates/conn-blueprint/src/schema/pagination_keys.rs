//! The keys of a `[connectors.<name>.pagination.<walk>]` table.

use super::key_spec::{KeySpec, Kind, key};

/// The kinds of pagination, as `kind` names them.
pub(crate) const PAGINATION_KINDS: &[&str] = &["cursor", "next_url", "offset", "page_number"];

/// Every key of a `[connectors.<name>.pagination.<walk>]` table, in
/// documentation order (paths relative to that table).
pub const PAGINATION_KEYS: &[KeySpec] = &[
    key(
        "kind",
        Kind::Enum(PAGINATION_KINDS),
        None,
        "How the next page is found: cursor, next_url, offset or page_number. Required.",
    ),
    key(
        "items",
        Kind::Str,
        Some("\"\""),
        "JSON pointer to a page's items (\"\": the body is the array); absent or null is an empty page.",
    ),
    key(
        "next",
        Kind::Str,
        None,
        "cursor: JSON pointer to the next token in the body (or set next_header); next_url: JSON pointer to the next link (unset: the Link header's rel=\"next\").",
    ),
    key(
        "next_header",
        Kind::Str,
        None,
        "cursor: response header holding the next token, instead of next.",
    ),
    key(
        "cursor_param",
        Kind::Str,
        Some("\"cursor\""),
        "cursor: query parameter the token is sent as.",
    ),
    key(
        "cursor_header",
        Kind::Str,
        None,
        "cursor: request header the token is sent as, instead of cursor_param.",
    ),
    key(
        "cursor_field",
        Kind::Str,
        None,
        "cursor: top-level field of the JSON request body the token is sent as (POST searches), instead of cursor_param.",
    ),
    key(
        "page_size",
        Kind::Int { min: 1 },
        None,
        "Items asked per page, sent as page_size_param (next_url: on the first request only). Required by offset.",
    ),
    key(
        "page_size_param",
        Kind::Str,
        Some("\"limit\""),
        "Query parameter carrying page_size.",
    ),
    key(
        "offset_param",
        Kind::Str,
        Some("\"offset\""),
        "offset: query parameter carrying the offset.",
    ),
    key(
        "page_param",
        Kind::Str,
        Some("\"page\""),
        "page_number: query parameter carrying the page number.",
    ),
    key(
        "start",
        Kind::Int { min: 0 },
        None,
        "offset: the first offset (default 0); page_number: the first page's number (default 1; 0 for zero-based APIs).",
    ),
    key(
        "total",
        Kind::Str,
        None,
        "offset, page_number: JSON pointer to the total item count; the walk ends there.",
    ),
    key(
        "total_pages",
        Kind::Str,
        None,
        "page_number: JSON pointer to the total page count; the walk ends there.",
    ),
    key(
        "stop_on_short_page",
        Kind::Bool,
        Some("true"),
        "offset, page_number: a page with fewer items than page_size is the last (false for APIs that cap the page size silently).",
    ),
    key(
        "max_pages",
        Kind::Int { min: 1 },
        None,
        "Stop after this many pages in one run (unset: no limit).",
    ),
    key(
        "max_items",
        Kind::Int { min: 1 },
        None,
        "Request no further page once this many items came in one run (pages stay whole; unset: no limit).",
    ),
    key(
        "prefetch",
        Kind::Bool,
        Some("false"),
        "Fetch the next page while the current one is processed (one ahead).",
    ),
];
