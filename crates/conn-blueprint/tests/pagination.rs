//! Named paginations per connector: validated with paths and lines,
//! documented, and walked end to end through a local server.

mod common;

use std::collections::HashMap;

use common::{errors, line};
use conn_blueprint::{Blueprint, PAGINATION_KEYS, PaginationKind, Registry};
use conn_core::{Context, Request};
use conn_testkit::{Reply, TestServer};
use futures_util::StreamExt;
use http::Method;

#[test]
fn every_problem_has_its_path_and_line() {
    let text = r#"
[connectors.catalog]
base_url = "https://catalog.example"

[connectors.catalog.pagination.cursor]
kind = "cursor"
items = "data"
offset_param = "o"
cursor_header = "bad header"
colour = "blue"

[connectors.catalog.pagination.offsets]
kind = "offset"
max_pages = 0

[connectors.catalog.pagination.pages]
kind = "pages"

[connectors.catalog.pagination.nameless]
page_size = 10

[connectors.catalog.pagination."bad name"]
kind = "cursor"
"#;
    let errs = errors(text, &[]);
    let at = "connectors.catalog.pagination";
    assert_eq!(line(&errs, &format!("{at}.cursor.items")), Some(7));
    assert!(
        errs.at(&format!("{at}.cursor.items"))
            .unwrap()
            .message
            .contains("JSON pointer")
    );
    assert_eq!(line(&errs, &format!("{at}.cursor.offset_param")), Some(8));
    assert!(
        errs.to_string().contains("not used by kind = \"cursor\""),
        "{errs}"
    );
    assert_eq!(line(&errs, &format!("{at}.cursor.cursor_header")), Some(9));
    assert_eq!(line(&errs, &format!("{at}.cursor.colour")), Some(10));
    assert_eq!(
        line(&errs, &format!("{at}.cursor.next")),
        Some(5),
        "cursor needs next: {errs}"
    );
    assert_eq!(line(&errs, &format!("{at}.offsets.max_pages")), Some(14));
    assert_eq!(line(&errs, &format!("{at}.offsets.page_size")), Some(12));
    assert_eq!(line(&errs, &format!("{at}.pages.kind")), Some(17));
    assert_eq!(line(&errs, &format!("{at}.nameless.kind")), Some(19));
    assert!(errs.has(&format!("{at}.bad name")), "{errs}");
}

#[test]
fn every_kind_is_read() {
    let text = r#"
[connectors.c]
base_url = "https://c.example"
pagination.links = { kind = "next_url", items = "/items" }
pagination.body_links = { kind = "next_url", next = "/links/next", page_size = 50, page_size_param = "per_page" }
pagination.offsets = { kind = "offset", page_size = 100, total = "/meta/total", stop_on_short_page = false, max_items = 1000 }
pagination.numbers = { kind = "page_number", page_param = "p", start = 0, total_pages = "/pages", prefetch = true }
pagination.search = { kind = "cursor", next_header = "x-next", cursor_field = "after" }
"#;
    let bp = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let walks = &bp.connector("c").unwrap().pagination;
    assert_eq!(walks.len(), 5);
    assert_eq!(walks["links"].kind, PaginationKind::NextUrl);
    assert_eq!(walks["links"].next, None);
    assert_eq!(walks["body_links"].page_size_param, "per_page");
    assert_eq!(walks["offsets"].kind, PaginationKind::Offset);
    assert!(!walks["offsets"].stop_on_short_page);
    assert_eq!(walks["offsets"].max_items, Some(1000));
    assert_eq!(walks["numbers"].start, Some(0));
    assert!(walks["numbers"].prefetch);
    assert_eq!(walks["search"].cursor_field.as_deref(), Some("after"));
}

#[test]
fn the_docs_list_every_pagination_key_with_its_default() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    for spec in PAGINATION_KEYS {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `pagination.<name>.{}` |", spec.path)))
            .unwrap_or_else(|| {
                panic!(
                    "docs/configuration.md has no row for pagination.<name>.{}",
                    spec.path
                )
            });
        if let Some(default) = spec.default {
            assert!(row.contains(&format!("`{default}`")), "{}: {row}", spec.path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_walk_pages_through_a_local_api() {
    let api = TestServer::start().await.unwrap();
    let page = |ids: &str| {
        Reply::json(
            200,
            format!(r#"{{"result": {{"rows": [{ids}]}}, "meta": {{"total": 7}}}}"#),
        )
    };
    api.route(
        Method::GET,
        "/rows",
        [
            page("1, 2, 3"),
            Reply::json(503, "{}"),
            page("4, 5, 6"),
            page("7"),
            page(""),
        ],
    );
    let text = format!(
        r#"
[connectors.rows]
base_url = "{}"
allow_http = true
retry = {{ max_attempts = 3, base = "10ms" }}

[connectors.rows.pagination.all]
kind = "offset"
page_size = 3
offset_param = "skip"
page_size_param = "take"
total = "/meta/total"
items = "/result/rows"
"#,
        api.url()
    );
    let bp = Blueprint::from_str_with_env(&text, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::from_blueprint_hyper(&bp).unwrap();
    assert!(registry.pagination("rows", "none").is_none());
    let walk = registry.pagination("rows", "all").expect("configured");
    let connector = registry.get("rows").unwrap();
    let pages: Vec<_> = walk
        .pages(&connector, Request::get("/rows"), Context::new().tenant("acme"))
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.unwrap()).collect();
    let items: Vec<_> = pages.iter().flat_map(|p| p.items.clone()).collect();
    assert_eq!(items, (1..=7).map(serde_json::Value::from).collect::<Vec<_>>());
    assert_eq!(
        pages[1].report().attempts.len(),
        2,
        "the 503 was retried by the connector"
    );
    let queries: Vec<_> = api
        .requests_to("/rows")
        .iter()
        .map(|r| r.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        queries,
        ["skip=0&take=3", "skip=3&take=3", "skip=3&take=3", "skip=6&take=3"]
    );

    // The same settings through PaginateExt, and a limit from the blueprint.
    use conn_paginate::PaginateExt;
    api.route(Method::GET, "/rows", [page("1, 2, 3"), page("4, 5, 6")]);
    let limited = text.replace(
        "items = \"/result/rows\"",
        "items = \"/result/rows\"\nmax_pages = 1",
    );
    registry
        .reload(&Blueprint::from_str_with_env(&limited, &HashMap::new()).unwrap())
        .unwrap();
    let walk = registry.pagination("rows", "all").unwrap();
    let pages: Vec<_> = walk
        .configure(connector.paginate(Request::get("/rows"), walk.clone()))
        .collect()
        .await;
    assert_eq!(pages.len(), 1);
}
