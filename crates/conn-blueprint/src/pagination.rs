//! Named pagination settings per connector
//! (`[connectors.<name>.pagination.<walk>]`): walking a collection becomes
//! configuration, like the rest of an integration. The blueprint only
//! chooses and parameterizes one of conn-paginate's kinds; every page is
//! still one call through the connector's whole pipeline.
//!
//! ```
//! use std::collections::HashMap;
//! use conn_blueprint::{Blueprint, PaginationKind};
//!
//! let blueprint = Blueprint::from_str_with_env(r#"
//! [connectors.catalog]
//! base_url = "https://catalog.example/v1"
//!
//! [connectors.catalog.pagination.items]
//! kind = "cursor"
//! next = "/meta/next_cursor"
//! cursor_param = "after"
//! items = "/data"
//! page_size = 100
//! "#, &HashMap::new()).unwrap();
//! let walk = &blueprint.connector("catalog").unwrap().pagination["items"];
//! assert_eq!(walk.kind, PaginationKind::Cursor);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use conn_core::{Connector, Context, Error, Request};
use conn_paginate::{Cursor, NextUrl, Offset, PageNumber, PageView, Pages, PaginateExt, Paginator, Position};

use crate::errors::ValidationErrors;
use crate::schema::{PAGINATION_KEYS, PAGINATION_KINDS};
use crate::tree::{Node, Raw};
use crate::values::{Reader, Value};

/// Which keys each kind uses, besides the ones every kind has.
fn used_by(kind: PaginationKind) -> &'static [&'static str] {
    match kind {
        PaginationKind::Cursor => &[
            "next",
            "next_header",
            "cursor_param",
            "cursor_header",
            "cursor_field",
            "page_size",
            "page_size_param",
        ],
        PaginationKind::NextUrl => &["next", "page_size", "page_size_param"],
        PaginationKind::Offset => &[
            "offset_param",
            "page_size",
            "page_size_param",
            "start",
            "total",
            "stop_on_short_page",
        ],
        PaginationKind::PageNumber => &[
            "page_param",
            "page_size",
            "page_size_param",
            "start",
            "total",
            "total_pages",
            "stop_on_short_page",
        ],
    }
}

const COMMON: &[&str] = &["kind", "items", "max_pages", "max_items", "prefetch"];

/// The kind of a pagination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaginationKind {
    /// An opaque token from the body or a header ([`conn_paginate::Cursor`]).
    Cursor,
    /// A next link from the body or the `Link` header ([`conn_paginate::NextUrl`]).
    NextUrl,
    /// Offset and limit ([`conn_paginate::Offset`]).
    Offset,
    /// Page numbers ([`conn_paginate::PageNumber`]).
    PageNumber,
}

/// A validated `[connectors.<name>.pagination.<walk>]` table: the
/// keys it sets (see [`PAGINATION_KEYS`] for their meaning and defaults).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PaginationConfig {
    /// The kind.
    pub kind: PaginationKind,
    /// JSON pointer to the items.
    pub items: String,
    /// JSON pointer to the next token or link.
    pub next: Option<String>,
    /// Header holding the next token.
    pub next_header: Option<String>,
    /// Query parameter the token is sent as.
    pub cursor_param: String,
    /// Header the token is sent as.
    pub cursor_header: Option<String>,
    /// JSON body field the token is sent as.
    pub cursor_field: Option<String>,
    /// Items per page.
    pub page_size: Option<u32>,
    /// Parameter carrying the page size.
    pub page_size_param: String,
    /// Parameter carrying the offset.
    pub offset_param: String,
    /// Parameter carrying the page number.
    pub page_param: String,
    /// First offset or page number (`None`: 0 or 1).
    pub start: Option<u64>,
    /// JSON pointer to the total item count.
    pub total: Option<String>,
    /// JSON pointer to the total page count.
    pub total_pages: Option<String>,
    /// Whether a short page is the last.
    pub stop_on_short_page: bool,
    /// Page limit of one run.
    pub max_pages: Option<u64>,
    /// Item limit of one run.
    pub max_items: Option<u64>,
    /// Fetch one page ahead.
    pub prefetch: bool,
}

impl PaginationConfig {
    fn new(kind: PaginationKind) -> Self {
        PaginationConfig {
            kind,
            items: String::new(),
            next: None,
            next_header: None,
            cursor_param: "cursor".into(),
            cursor_header: None,
            cursor_field: None,
            page_size: None,
            page_size_param: "limit".into(),
            offset_param: "offset".into(),
            page_param: "page".into(),
            start: None,
            total: None,
            total_pages: None,
            stop_on_short_page: true,
            max_pages: None,
            max_items: None,
            prefetch: false,
        }
    }

    /// The paginator of this configuration.
    fn paginator(&self) -> Arc<dyn Paginator> {
        let size = self.page_size.map(|n| (self.page_size_param.clone(), n));
        match self.kind {
            PaginationKind::Cursor => {
                let mut cursor = match (&self.next, &self.next_header) {
                    (_, Some(header)) => Cursor::from_header(header.clone()),
                    (next, None) => Cursor::from_body(next.clone().unwrap_or_default()),
                };
                cursor = match (&self.cursor_header, &self.cursor_field) {
                    (Some(header), _) => cursor.header(header.clone()),
                    (None, Some(field)) => cursor.body_field(field.clone()),
                    (None, None) => cursor.query(self.cursor_param.clone()),
                };
                if let Some((param, n)) = size {
                    cursor = cursor.page_size(param, n);
                }
                Arc::new(cursor)
            }
            PaginationKind::NextUrl => {
                let mut next = match &self.next {
                    Some(pointer) => NextUrl::from_body(pointer.clone()),
                    None => NextUrl::link_header(),
                };
                if let Some((param, n)) = size {
                    next = next.page_size(param, n);
                }
                Arc::new(next)
            }
            PaginationKind::Offset => {
                let mut offset = Offset::new(
                    self.offset_param.clone(),
                    self.page_size_param.clone(),
                    self.page_size.unwrap_or(1),
                )
                .start_at(self.start.unwrap_or(0))
                .stop_on_short_page(self.stop_on_short_page);
                if let Some(total) = &self.total {
                    offset = offset.total_at(total.clone());
                }
                Arc::new(offset)
            }
            PaginationKind::PageNumber => {
                let mut pages = PageNumber::new(self.page_param.clone())
                    .first(self.start.unwrap_or(1))
                    .stop_on_short_page(self.stop_on_short_page);
                if let Some((param, n)) = size {
                    pages = pages.page_size(param, n);
                }
                if let Some(total) = &self.total {
                    pages = pages.total_at(total.clone());
                }
                if let Some(total) = &self.total_pages {
                    pages = pages.total_pages_at(total.clone());
                }
                Arc::new(pages)
            }
        }
    }
}

/// Reads a connector's `pagination` table (`prefix` is
/// `connectors.<name>.pagination`); every problem goes to `errors`.
pub(crate) fn read(
    node: &Node,
    prefix: &str,
    errors: &mut ValidationErrors,
) -> BTreeMap<String, PaginationConfig> {
    let mut out = BTreeMap::new();
    let Raw::Table(walks) = &node.raw else {
        errors.push(
            prefix,
            node.line,
            format!(
                "expected a table of named paginations ([{prefix}.<name>]), found {}",
                node.raw.type_name()
            ),
        );
        return out;
    };
    for (name, table) in walks {
        let shown = format!("{prefix}.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.push(
                &shown,
                table.line,
                "a pagination name uses only letters, digits, '-' and '_'",
            );
            continue;
        }
        if let Some(config) = read_one(table, &shown, errors) {
            out.insert(name.clone(), config);
        }
    }
    out
}

fn read_one(table: &Node, prefix: &str, errors: &mut ValidationErrors) -> Option<PaginationConfig> {
    let entries = table.entries(prefix, errors)?;
    let before = errors.len();
    let mut reader = Reader { errors };
    // Every key read first, so that each problem is reported, then checked against the kind.
    let mut values: BTreeMap<&'static str, (Value, Option<usize>)> = BTreeMap::new();
    for (k, node) in entries {
        let shown = format!("{prefix}.{k}");
        match PAGINATION_KEYS.iter().find(|s| s.path == k) {
            Some(spec) => {
                if let Some(value) = reader.read(spec.kind, node, &shown) {
                    values.insert(spec.path, (value, node.line));
                }
            }
            None => {
                let known: Vec<&str> = PAGINATION_KEYS.iter().map(|s| s.path).collect();
                reader.errors.push(
                    shown,
                    node.line,
                    format!("unknown key (expected {})", known.join(", ")),
                );
            }
        }
    }
    let kind = match values.get("kind") {
        Some((Value::Str(kind), _)) => match kind.as_str() {
            "cursor" => PaginationKind::Cursor,
            "next_url" => PaginationKind::NextUrl,
            "offset" => PaginationKind::Offset,
            _ => PaginationKind::PageNumber,
        },
        _ => {
            if !entries.iter().any(|(k, _)| k == "kind") {
                reader.errors.push(
                    format!("{prefix}.kind"),
                    table.line,
                    format!("missing (one of {})", PAGINATION_KINDS.join(", ")),
                );
            }
            return None;
        }
    };
    let mut check = Check {
        prefix,
        values: &values,
        errors: reader.errors,
    };
    let kind_name = PAGINATION_KINDS[match kind {
        PaginationKind::Cursor => 0,
        PaginationKind::NextUrl => 1,
        PaginationKind::Offset => 2,
        PaginationKind::PageNumber => 3,
    }];
    for (k, (_, line)) in &values {
        if !COMMON.contains(k) && !used_by(kind).contains(k) {
            check.errors.push(
                format!("{prefix}.{k}"),
                *line,
                format!("not used by kind = {kind_name:?}"),
            );
        }
    }
    let mut config = PaginationConfig::new(kind);
    config.items = check.pointer("items").unwrap_or_default();
    config.next = check.pointer("next");
    config.total = check.pointer("total");
    config.total_pages = check.pointer("total_pages");
    config.next_header = check.header("next_header");
    config.cursor_header = check.header("cursor_header");
    config.cursor_field = check.param("cursor_field");
    for (field, k) in [
        (&mut config.cursor_param, "cursor_param"),
        (&mut config.page_size_param, "page_size_param"),
        (&mut config.offset_param, "offset_param"),
        (&mut config.page_param, "page_param"),
    ] {
        if let Some(param) = check.param(k) {
            *field = param;
        }
    }
    config.page_size = check
        .int("page_size")
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    config.start = check.int("start");
    config.max_pages = check.int("max_pages");
    config.max_items = check.int("max_items");
    config.stop_on_short_page = !matches!(values.get("stop_on_short_page"), Some((Value::Bool(false), _)));
    config.prefetch = matches!(values.get("prefetch"), Some((Value::Bool(true), _)));
    match kind {
        PaginationKind::Cursor => {
            match (&config.next, &config.next_header) {
                (None, None) => check.error(
                    "next",
                    table.line,
                    "missing: where the next token is (next = \"/json/pointer\", or next_header = \"...\")",
                ),
                (Some(_), Some(_)) => check.error("next_header", None, "set next or next_header, not both"),
                _ => {}
            }
            let targets = ["cursor_param", "cursor_header", "cursor_field"]
                .iter()
                .filter(|k| values.contains_key(**k))
                .count();
            if targets > 1 {
                check.error(
                    "cursor_header",
                    None,
                    "set one of cursor_param, cursor_header, cursor_field",
                );
            }
        }
        PaginationKind::Offset if config.page_size.is_none() => check.error(
            "page_size",
            table.line,
            "missing (offset pagination sends page_size as its limit)",
        ),
        _ => {}
    }
    if kind != PaginationKind::Offset && values.contains_key("page_size_param") && config.page_size.is_none()
    {
        check.error(
            "page_size_param",
            None,
            "set page_size too (the parameter is sent with it)",
        );
    }
    if kind == PaginationKind::PageNumber && config.total.is_some() && config.page_size.is_none() {
        check.error("total", None, "needs page_size (pages = total / page_size)");
    }
    (errors.len() == before).then_some(config)
}

/// Checks of one pagination table's values, each problem at its key's line.
struct Check<'a> {
    prefix: &'a str,
    values: &'a BTreeMap<&'static str, (Value, Option<usize>)>,
    errors: &'a mut ValidationErrors,
}

impl Check<'_> {
    fn error(&mut self, k: &str, fallback: Option<usize>, message: impl Into<String>) {
        let line = self.values.get(k).and_then(|(_, l)| *l).or(fallback);
        self.errors.push(format!("{}.{k}", self.prefix), line, message);
    }

    fn str(&self, k: &str) -> Option<String> {
        match self.values.get(k) {
            Some((Value::Str(s), _)) => Some(s.clone()),
            _ => None,
        }
    }

    fn int(&self, k: &str) -> Option<u64> {
        match self.values.get(k) {
            Some((Value::Int(i), _)) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    fn pointer(&mut self, k: &str) -> Option<String> {
        let pointer = self.str(k)?;
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            self.error(
                k,
                None,
                format!("{pointer:?} is not a JSON pointer (\"\" or starting with '/')"),
            );
        }
        Some(pointer)
    }

    fn header(&mut self, k: &str) -> Option<String> {
        let name = self.str(k)?;
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            self.error(k, None, format!("{name:?} is not a valid header name"));
        }
        Some(name)
    }

    fn param(&mut self, k: &str) -> Option<String> {
        let name = self.str(k)?;
        if name.is_empty() {
            self.error(k, None, "must not be empty");
        }
        Some(name)
    }
}

/// A connector's named pagination, ready to walk: a [`Paginator`] for
/// [`PaginateExt::paginate`], with the walk settings of its table
/// (`items`, `max_pages`, `max_items`, `prefetch`) applied by
/// [`configure`](Self::configure) or [`pages`](Self::pages).
///
/// ```no_run
/// use conn_blueprint::Registry;
/// use conn_core::{Context, Request};
/// use futures_util::StreamExt;
///
/// # async fn demo(registry: Registry) -> Result<(), conn_core::Error> {
/// let walk = registry.pagination("catalog", "items").expect("in the blueprint");
/// let connector = registry.get("catalog").expect("in the blueprint");
/// let mut pages = walk.pages(&connector, Request::get("/items"), Context::new().tenant("acme"));
/// while let Some(page) = pages.next().await {
///     let page = page?;
///     println!("{} items; {}", page.items.len(), page.report());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pagination {
    config: PaginationConfig,
    paginator: Arc<dyn Paginator>,
}

impl std::fmt::Debug for Pagination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pagination")
            .field("config", &self.config)
            .finish()
    }
}

impl Pagination {
    /// The pagination `config` describes.
    pub fn new(config: PaginationConfig) -> Self {
        Pagination {
            paginator: config.paginator(),
            config,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &PaginationConfig {
        &self.config
    }

    /// Applies the walk settings (items pointer, limits, prefetch) to `pages`.
    pub fn configure(&self, pages: Pages) -> Pages {
        let mut pages = pages
            .items_at(self.config.items.clone())
            .prefetch(self.config.prefetch);
        if let Some(n) = self.config.max_pages {
            pages = pages.max_pages(n);
        }
        if let Some(n) = self.config.max_items {
            pages = pages.max_items(n);
        }
        pages
    }

    /// Walks `request` on `connector`, every page with `context`.
    pub fn pages(&self, connector: &Connector, request: Request, context: Context) -> Pages {
        self.configure(connector.paginate(request, self.clone()).context(context))
    }
}

impl Paginator for Pagination {
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
        self.paginator.request(base, position)
    }

    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
        self.paginator.next(page)
    }
}
