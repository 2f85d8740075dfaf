//! Pages through a local API, is "killed" halfway, and resumes from its
//! checkpoint: no item twice, none missing.
//!
//! `cargo run -p conn-paginate --example paginate`

use std::sync::Arc;

use conn_core::{Connector, Context, Request};
use conn_paginate::{Checkpoint, NextUrl, PaginateExt};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::HyperTransport;
use futures_util::StreamExt;

/// Page `page` of 10, with 5 orders, linking to the next page in the body.
fn page(page: u32) -> Reply {
    let ids: Vec<u32> = (page * 5 - 4..=page * 5).collect();
    let next = if page < 10 {
        format!("\"/orders/page/{}\"", page + 1)
    } else {
        "null".into()
    };
    Reply::json(
        200,
        format!(r#"{{"orders": {ids:?}, "paging": {{"next": {next}}}}}"#),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    // Every page at its own path, so a wrong resume would show.
    server.route(http::Method::GET, "/orders", [page(1)]);
    for n in 2..=10 {
        server.route(http::Method::GET, &format!("/orders/page/{n}"), [page(n)]);
    }
    let connector = Connector::builder("shop")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(HyperTransport::builder().build()?))
        .build()?;
    let paginator = NextUrl::from_body("/paging/next").page_size("limit", 5);
    let context = Context::new().tenant("acme");

    // First run: process items, save the checkpoint as pages complete, and
    // "crash" in the middle of page 5.
    let mut processed = Vec::new();
    let mut saved = serde_json::to_string(&Checkpoint::start())?;
    {
        let mut items = connector
            .paginate(Request::get("/orders"), paginator.clone())
            .items_at("/orders")
            .context(context.clone())
            .items();
        while let Some(item) = items.next().await {
            processed.push(item?);
            if let Some(checkpoint) = items.checkpoint() {
                saved = serde_json::to_string(checkpoint)?; // a database row, in real life
            }
            if processed.len() == 22 {
                println!("killed after {} items; saved checkpoint {saved}", processed.len());
                break;
            }
        }
    }
    // Items after the checkpoint were not committed: they come again.
    let checkpoint: Checkpoint = serde_json::from_str(&saved)?;
    processed.truncate(usize::try_from(checkpoint.items)?);

    // Second run: resume where the checkpoint says.
    let mut pages = connector
        .paginate(Request::get("/orders"), paginator)
        .items_at("/orders")
        .context(context)
        .resume(checkpoint);
    while let Some(page) = pages.next().await {
        let page = page?;
        println!(
            "page {:>2}: {} items, {} attempt(s)",
            page.number,
            page.items.len(),
            page.report().attempts.len()
        );
        processed.extend(page.items);
    }
    let ids: Vec<u64> = processed.iter().filter_map(|v| v.as_u64()).collect();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    for n in 1..=10 {
        let path = if n == 1 {
            "/orders".to_owned()
        } else {
            format!("/orders/page/{n}")
        };
        // Page 5 was read by the killed run and again by the resumed one.
        let expected = if n == 5 { 2 } else { 1 };
        assert_eq!(server.hits(&path), expected, "{path}");
    }
    println!("all 50 orders processed exactly once");
    Ok(())
}
