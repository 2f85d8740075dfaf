//! Pagination against an in-process API on a paused clock: every kind,
//! the guards, checkpoints and cancellation.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Answer, FakeApi, connector, query};
use conn_core::{BoxFuture, CallInfo, Connector, Context, Error, Permit, Request, Throttle};
use conn_paginate::{Checkpoint, Cursor, NextUrl, Offset, PageNumber, PaginateExt, Position};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

/// 10,000 items over 100 cursor pages; page `fail_page` answers 503 `fails` times first.
fn cursor_api(fail_page: u64, fails: usize) -> Arc<FakeApi> {
    let failures = AtomicUsize::new(0);
    FakeApi::new(move |request| {
        let page: u64 = query(request, "cursor")
            .and_then(|c| c.strip_prefix('c')?.parse().ok())
            .unwrap_or(1);
        if page == fail_page && failures.fetch_add(1, Ordering::SeqCst) < fails {
            return Answer::status(503);
        }
        let items: Vec<u64> = ((page - 1) * 100..page * 100).collect();
        let next = if page < 100 {
            json!(format!("c{}", page + 1))
        } else {
            json!(null)
        };
        Answer::json(json!({ "data": items, "meta": { "next": next } }).to_string())
    })
}

fn ids(items: &[serde_json::Value]) -> Vec<u64> {
    items.iter().map(|v| v.as_u64().unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_items_with_a_flaky_page_arrive_exactly_once() {
    let api = cursor_api(57, 2);
    let connector = connector(api.clone());
    let mut pages = connector
        .paginate(
            Request::get("/items"),
            Cursor::from_body("/meta/next").page_size("limit", 100),
        )
        .items_at("/data");
    let mut seen = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        let expected_attempts = if page.number == 57 { 3 } else { 1 };
        assert_eq!(
            page.report().attempts.len(),
            expected_attempts,
            "page {}",
            page.number
        );
        seen.extend(ids(&page.items));
        if page.number == 100 {
            assert!(page.checkpoint.is_done());
        }
    }
    assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
    assert_eq!(api.count(), 102);
    assert!(api.uris()[1].contains("limit=100") && api.uris()[1].contains("cursor=c2"));
}

#[tokio::test(start_paused = true)]
async fn a_job_resumed_from_its_checkpoint_gets_exactly_the_rest() {
    let api = cursor_api(0, 0);
    let connector = connector(api.clone());
    let paginator = Cursor::from_body("/meta/next");
    let mut first_run = Vec::new();
    let mut saved = String::new();
    {
        let mut items = connector
            .paginate(Request::get("/items"), paginator.clone())
            .items_at("/data")
            .items();
        // The job is killed after page 40 and part of page 41.
        while let Some(item) = items.next().await {
            first_run.push(item.unwrap().as_u64().unwrap());
            if let Some(checkpoint) = items.checkpoint() {
                saved = serde_json::to_string(checkpoint).unwrap();
            }
            if first_run.len() == 4_050 {
                break;
            }
        }
    }
    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    assert_eq!(checkpoint.pages, 40);
    assert_eq!(checkpoint.next, Some(Position::Cursor("c41".into())));
    let processed = &first_run[..checkpoint.items as usize];

    let rest: Vec<u64> = connector
        .paginate(Request::get("/items"), paginator)
        .items_at("/data")
        .resume(checkpoint)
        .items()
        .map(|item| item.unwrap().as_u64().unwrap())
        .collect()
        .await;
    let all: Vec<u64> = processed.iter().copied().chain(rest).collect();
    assert_eq!(all, (0..10_000).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_repeated_cursor_is_an_error_after_the_repeating_page() {
    let api = FakeApi::new(|request| {
        let next = match query(request, "cursor").as_deref() {
            None => "a",
            Some("a") => "b",
            _ => "a",
        };
        Answer::json(json!({ "data": [1], "next": next }).to_string())
    });
    let results: Vec<_> = connector(api.clone())
        .paginate(Request::get("/items"), Cursor::from_body("/next"))
        .items_at("/data")
        .collect()
        .await;
    assert_eq!(results.len(), 4, "three pages, then the error");
    assert!(results[..3].iter().all(Result::is_ok));
    let err = results[3].as_ref().unwrap_err();
    assert!(err.to_string().contains("repeated"), "{err}");
    assert_eq!(api.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_next_link_to_another_host_is_refused_and_never_requested() {
    let api = FakeApi::new(|request| {
        if request.uri().query() == Some("page=2") {
            return Answer::json("[3]").header("link", r#"<http://other.host/v1/items?page=3>; rel="next""#);
        }
        Answer::json("[1, 2]").header("link", r#"<https://api.example.com/v1/items?page=2>; rel="next""#)
    });
    let results: Vec<_> = connector(api.clone())
        .paginate(
            Request::get("/items").query("filter", "x"),
            NextUrl::link_header(),
        )
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    assert_eq!(ids(&results[1].as_ref().unwrap().items), [3]);
    assert!(results[2].as_ref().unwrap_err().is_redirect());
    assert_eq!(
        api.uris(),
        [
            "https://api.example.com/v1/items?filter=x",
            "https://api.example.com/v1/items?page=2"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_first_page_ends_the_walk() {
    for paginator in [0, 1, 2] {
        let api = FakeApi::new(|_| Answer::json(r#"{"data": [], "next": null, "total": 0}"#));
        let connector = connector(api.clone());
        let request = Request::get("/items");
        let pages: Vec<_> = match paginator {
            0 => {
                connector
                    .paginate(request, Cursor::from_body("/next"))
                    .items_at("/data")
                    .collect()
                    .await
            }
            1 => {
                connector
                    .paginate(request, Offset::new("offset", "limit", 10))
                    .items_at("/data")
                    .collect()
                    .await
            }
            _ => {
                connector
                    .paginate(request, PageNumber::new("page"))
                    .items_at("/data")
                    .collect()
                    .await
            }
        };
        assert_eq!(pages.len(), 1);
        let page = pages[0].as_ref().unwrap();
        assert!(page.items.is_empty() && page.checkpoint.is_done());
        assert_eq!(api.count(), 1);
    }
}

/// 95 items served 10 at a time by offset, with a `total` that says `claimed`.
fn offset_api(claimed: u64) -> Arc<FakeApi> {
    FakeApi::new(move |request| {
        let offset: u64 = query(request, "offset").unwrap().parse().unwrap();
        let limit: u64 = query(request, "limit").unwrap().parse().unwrap();
        let items: Vec<u64> = (offset..(offset + limit).min(95)).collect();
        Answer::json(json!({ "data": items, "total": claimed }).to_string())
    })
}

#[tokio::test(start_paused = true)]
async fn a_lying_total_neither_loops_nor_crashes() {
    let walk = |claimed, stop_on_short| async move {
        let api = offset_api(claimed);
        let items: Vec<u64> = connector(api.clone())
            .paginate(
                Request::get("/items"),
                Offset::new("offset", "limit", 10)
                    .total_at("/total")
                    .stop_on_short_page(stop_on_short),
            )
            .items_at("/data")
            .items()
            .map(|item| item.unwrap().as_u64().unwrap())
            .collect()
            .await;
        (items, api.count())
    };
    // Too large: the empty page past the end stops the walk.
    assert_eq!(walk(1_000, false).await, ((0..95).collect(), 11));
    // The short page stops it first when allowed to.
    assert_eq!(walk(1_000, true).await, ((0..95).collect(), 10));
    // Too small: the API is taken at its word.
    assert_eq!(walk(30, true).await, ((0..30).collect(), 3));
}

#[tokio::test(start_paused = true)]
async fn page_numbers_stop_at_the_total_page_count() {
    let api = FakeApi::new(|request| {
        let page: u64 = query(request, "page").unwrap().parse().unwrap();
        Answer::json(json!({ "data": [page * 10, page * 10 + 1], "pages": 3 }).to_string())
    });
    let items: Vec<u64> = connector(api.clone())
        .paginate(
            Request::get("/items"),
            PageNumber::new("page")
                .first(0)
                .page_size("per_page", 2)
                .total_pages_at("/pages"),
        )
        .items_at("/data")
        .items()
        .map(|item| item.unwrap().as_u64().unwrap())
        .collect()
        .await;
    assert_eq!(items, [0, 1, 10, 11, 20, 21]);
    assert!(api.uris()[2].ends_with("page=2&per_page=2"), "{:?}", api.uris());
}

#[tokio::test(start_paused = true)]
async fn limits_stop_the_walk_with_a_checkpoint_to_continue_from() {
    let api = cursor_api(0, 0);
    let connector = connector(api.clone());
    let pages: Vec<_> = connector
        .paginate(Request::get("/items"), Cursor::from_body("/meta/next"))
        .items_at("/data")
        .max_pages(3)
        .collect()
        .await;
    assert_eq!(pages.len(), 3);
    let last = pages[2].as_ref().unwrap();
    assert_eq!(last.checkpoint.next, Some(Position::Cursor("c4".into())));

    let by_items: Vec<_> = connector
        .paginate(Request::get("/items"), Cursor::from_body("/meta/next"))
        .items_at("/data")
        .max_items(150)
        .collect()
        .await;
    assert_eq!(by_items.len(), 2, "whole pages until 150 items were reached");
}

#[tokio::test(start_paused = true)]
async fn a_final_page_failure_ends_the_stream_after_the_pages_before() {
    let api = cursor_api(3, usize::MAX);
    let results: Vec<_> = connector(api)
        .paginate(Request::get("/items"), Cursor::from_body("/meta/next"))
        .items_at("/data")
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn prefetch_fetches_one_page_ahead_and_loses_nothing() {
    let api = cursor_api(0, 0);
    let mut pages = connector(api.clone())
        .paginate(Request::get("/items"), Cursor::from_body("/meta/next"))
        .items_at("/data")
        .prefetch(true);
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.number, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        api.count(),
        2,
        "the next page is fetched while the first is processed, no further"
    );
    let mut seen: Vec<u64> = ids(&first.items);
    while let Some(page) = pages.next().await {
        seen.extend(ids(&page.unwrap().items));
    }
    assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
}

/// A concurrency ceiling of one call at a time.
struct OneAtATime(Arc<Semaphore>);

impl Throttle for OneAtATime {
    fn acquire<'a>(&'a self, _: &'a CallInfo<'a>) -> BoxFuture<'a, Result<Permit, Error>> {
        Box::pin(async move {
            let permit = self
                .0
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::config("closed"))?;
            Ok(Permit::new(permit))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_mid_page_cancels_the_request_and_frees_the_slot() {
    for prefetch in [false, true] {
        let api = FakeApi::new(|request| {
            if query(request, "cursor").is_some() {
                // The second page hangs.
                return Answer::json(r#"{"data": [2]}"#).delay(Duration::from_secs(3600));
            }
            Answer::json(r#"{"data": [1], "next": "c2"}"#)
        });
        let slots = Arc::new(Semaphore::new(1));
        let connector = Connector::builder("fake")
            .base_url("https://api.example.com")
            .transport(api.clone())
            .throttle(Arc::new(OneAtATime(slots.clone())))
            .no_timeouts()
            .build()
            .unwrap();
        let mut pages = connector
            .paginate(Request::get("/items"), Cursor::from_body("/next"))
            .items_at("/data")
            .prefetch(prefetch);
        pages.next().await.unwrap().unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), pages.next()).await;
        assert!(second.is_err(), "the second page is still in flight");
        assert_eq!(slots.available_permits(), 0, "and holds the throttle slot");
        drop(pages);
        tokio::task::yield_now().await;
        assert_eq!(
            slots.available_permits(),
            1,
            "dropping the stream freed the slot (prefetch {prefetch})"
        );
        assert_eq!(api.count(), 2);
    }
}

#[tokio::test(start_paused = true)]
async fn cursors_can_travel_in_headers_and_bodies() {
    let api = FakeApi::new(|request| {
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or(json!({}));
        match body.get("after").and_then(|v| v.as_str()) {
            None => Answer::json(r#"{"hits": [1]}"#).header("x-next", "t2"),
            Some("t2") => Answer::json(r#"{"hits": [2]}"#).header("x-next", ""),
            Some(_) => Answer::status(400),
        }
    });
    let request = Request::post("/search")
        .json(&json!({ "q": "shoes" }))
        .idempotent(true);
    let mut seen = HashSet::new();
    let mut items = connector(api.clone())
        .paginate(request, Cursor::from_header("x-next").body_field("after"))
        .items_at("/hits")
        .items();
    while let Some(item) = items.next().await {
        seen.insert(item.unwrap().as_u64().unwrap());
    }
    assert_eq!(seen, HashSet::from([1, 2]));
    let second = &api.requests.lock().unwrap()[1];
    let body: serde_json::Value = serde_json::from_slice(second.body()).unwrap();
    assert_eq!(body, json!({ "q": "shoes", "after": "t2" }));
}

#[tokio::test(start_paused = true)]
async fn a_context_reaches_every_page_call() {
    let api = FakeApi::new(|request| match query(request, "page").as_deref() {
        Some("1") => Answer::json(r#"{"data":[1,2]}"#),
        _ => Answer::json(r#"{"data":[]}"#),
    });
    let pages: Vec<_> = connector(api.clone())
        .paginate(Request::get("/items"), PageNumber::new("page"))
        .items_at("/data")
        .context(Context::new().correlation_id("job-7"))
        .collect()
        .await;
    assert_eq!(pages.len(), 2);
    for request in api.requests.lock().unwrap().iter() {
        assert_eq!(request.headers()["x-request-id"], "job-7");
    }
}
