//! Normalize throughput against the raw parsers, in the same run:
//!
//! - a ~64 KiB JSON document: `Normalize` vs `serde_json::from_slice::<Value>`;
//! - XML, a ~64 KiB document and a ~100-byte one, each against two baselines:
//!   - `raw_roxmltree_parse_walk`: `roxmltree::Document::parse` + a walk
//!     touching every node, attribute and text, building nothing;
//!   - `raw_roxmltree_value`: `roxmltree::Document::parse` + a recursive walk
//!     building the same `Value` shape the normalizer builds (element ->
//!     object or string, `@` attributes, `#text`, repeats as arrays), without
//!     limits, namespaces or checks: the like-for-like baseline.
//!
//! Criterion reports MB/s for each; an interleaved A/B run then prints the
//! median throughput ratio `normalize / raw` per format and baseline (goals
//! from the performance issue: JSON >= 0.95, XML >= 0.7 of a raw roxmltree
//! parse + walk). The gap between the two XML baselines is what the
//! `serde_json::Value` document model itself costs (a `String` per key and
//! text, a `BTreeMap` node per object, and dropping them all).
//!
//! ```sh
//! cargo bench -p conn-normalize
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conn_core::{CallOutcome, CallReport, Normalizer, Response};
use conn_normalize::Normalize;
use criterion::{Criterion, Throughput};
use serde_json::Value;

const TARGET_SIZE: usize = 64 * 1024;

/// Orders with nested customers, line arrays, numbers, booleans and unicode.
fn json_document() -> Vec<u8> {
    let mut out = String::from("{\"orders\": [");
    let mut i = 0;
    while out.len() < TARGET_SIZE - 400 {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!(
            r#"{{"id": {i}, "status": "shipped", "paid": {}, "customer": {{"name": "Zoë Müller {i}", "email": "c{i}@example.com", "tier": "gold"}}, "total": {}.{:02}, "currency": "EUR", "lines": [{{"sku": "SKU-{}", "qty": {}, "price": 9.99}}, {{"sku": "SKU-{}", "qty": 1, "price": 120.5}}], "note": null}}"#,
            i % 2 == 0,
            i * 7 % 500,
            i % 100,
            i * 3,
            i % 5 + 1,
            i * 3 + 1
        ));
        i += 1;
    }
    out.push_str("]}");
    out.into_bytes()
}

/// A small XML body, the size of a typical single-record API response.
const SMALL_XML: &[u8] = br#"<?xml version="1.0"?><item id="42"><name>widget</name><price>12.5</price><tag>a</tag><tag>b</tag></item>"#;

/// The same kind of data in XML: attributes, nested elements, repeats, text.
fn xml_document() -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<orders>");
    let mut i = 0;
    while out.len() < TARGET_SIZE - 400 {
        out.push_str(&format!(
            r#"<order id="{i}" status="shipped"><paid>{}</paid><customer tier="gold"><name>Zoë Müller {i}</name><email>c{i}@example.com</email></customer><total currency="EUR">{}.{:02}</total><line sku="SKU-{}"><qty>{}</qty><price>9.99</price></line><line sku="SKU-{}"><qty>1</qty><price>120.5</price></line><note/></order>"#,
            i % 2 == 0,
            i * 7 % 500,
            i % 100,
            i * 3,
            i % 5 + 1,
            i * 3 + 1
        ));
        i += 1;
    }
    out.push_str("</orders>");
    out.into_bytes()
}

fn response(content_type: &str, body: &[u8]) -> Response {
    let response = http::Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Bytes::copy_from_slice(body))
        .unwrap();
    let report = CallReport {
        connector: Arc::from("bench"),
        method: http::Method::GET,
        endpoint: "/orders".to_owned(),
        correlation_id: Arc::from("bench"),
        started: tokio::time::Instant::now(),
        total: Duration::ZERO,
        throttle_wait: Duration::ZERO,
        attempts: Default::default(),
        outcome: CallOutcome::Success,
        degraded: None,
    };
    Response::new(response, report)
}

fn raw_json(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body).unwrap()
}

/// roxmltree's parse plus a walk over every node that reads what a mapping
/// reads: names, attributes, text.
fn raw_xml(text: &str) -> usize {
    let document = roxmltree::Document::parse(text).unwrap();
    let mut seen = 0;
    for node in document.descendants() {
        if node.is_element() {
            seen += node.tag_name().name().len();
            for attribute in node.attributes() {
                seen += attribute.name().len() + attribute.value().len();
            }
        } else if let Some(text) = node.text() {
            seen += text.len();
        }
    }
    seen
}

/// roxmltree's parse plus a recursive walk building the `Value` the
/// normalizer builds for these documents (element -> object or string, `@`
/// attributes, `#text`, repeats as arrays); no limits, no namespaces, no
/// checks. Keys are built without `format!`, as a careful hand-written
/// conversion would.
fn raw_xml_value(text: &str) -> Value {
    fn element(node: roxmltree::Node<'_, '_>) -> Value {
        let has_children = node.children().any(|c| c.is_element());
        if !has_children && node.attributes().len() == 0 {
            return Value::String(node.text().unwrap_or_default().to_owned());
        }
        let mut map = serde_json::Map::new();
        for attribute in node.attributes() {
            let mut key = String::with_capacity(1 + attribute.name().len());
            key.push('@');
            key.push_str(attribute.name());
            map.insert(key, Value::String(attribute.value().to_owned()));
        }
        for child in node.children().filter(|c| c.is_element()) {
            let value = element(child);
            match map.get_mut(child.tag_name().name()) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    map.insert(child.tag_name().name().to_owned(), value);
                }
            }
        }
        if !has_children && let Some(text) = node.text() {
            map.insert("#text".to_owned(), Value::String(text.to_owned()));
        }
        Value::Object(map)
    }
    let document = roxmltree::Document::parse(text).unwrap();
    let root = document.root_element();
    let mut map = serde_json::Map::new();
    map.insert(root.tag_name().name().to_owned(), element(root));
    Value::Object(map)
}

fn criterion_benches(c: &mut Criterion, normalize: &Normalize, json: &Response, xml: &[(&str, Response)]) {
    let mut group = c.benchmark_group("normalize_json");
    group.throughput(Throughput::Bytes(json.body().len() as u64));
    group.bench_function("raw_serde_json_value", |b| {
        b.iter(|| raw_json(black_box(json.body())))
    });
    group.bench_function("normalize", |b| {
        b.iter(|| normalize.normalize(black_box(json)).unwrap())
    });
    group.finish();

    for (name, response) in xml {
        let text = std::str::from_utf8(response.body()).unwrap();
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Bytes(response.body().len() as u64));
        group.bench_function("raw_roxmltree_parse_walk", |b| {
            b.iter(|| raw_xml(black_box(text)))
        });
        group.bench_function("raw_roxmltree_value", |b| {
            b.iter(|| raw_xml_value(black_box(text)))
        });
        group.bench_function("normalize", |b| {
            b.iter(|| normalize.normalize(black_box(response)).unwrap())
        });
        group.finish();
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Interleaved A/B rounds: each round times `batch` raw runs then `batch`
/// normalize runs, so both see the same machine noise. Returns MB/s of each
/// (medians) and the median ratio.
fn interleaved(
    bytes: usize,
    rounds: usize,
    batch: usize,
    mut raw: impl FnMut(),
    mut ours: impl FnMut(),
) -> (f64, f64, f64) {
    let mut raw_rates = Vec::new();
    let mut our_rates = Vec::new();
    let mut ratios = Vec::new();
    let mb = (bytes * batch) as f64 / 1e6;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..batch {
            raw();
        }
        let raw_time = start.elapsed().as_secs_f64();
        let start = Instant::now();
        for _ in 0..batch {
            ours();
        }
        let our_time = start.elapsed().as_secs_f64();
        raw_rates.push(mb / raw_time);
        our_rates.push(mb / our_time);
        ratios.push(raw_time / our_time);
    }
    (
        median(&mut raw_rates),
        median(&mut our_rates),
        median(&mut ratios),
    )
}

fn main() {
    let normalize = Normalize::new();
    let json = response("application/json", &json_document());
    let xml = [
        ("normalize_xml", response("application/xml", &xml_document())),
        ("normalize_xml_small", response("application/xml", SMALL_XML)),
    ];
    // Same documents, same results: the benchmark compares equal work.
    assert_eq!(normalize.normalize(&json).unwrap().value, raw_json(json.body()));
    for (_, response) in &xml {
        let text = std::str::from_utf8(response.body()).unwrap();
        assert!(raw_xml(text) > 0);
        assert_eq!(normalize.normalize(response).unwrap().value, raw_xml_value(text));
    }

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut criterion, &normalize, &json, &xml);
    criterion.final_summary();

    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 21 } else { 1 };
    // About 40 ms per batch either way.
    let batch = |bytes: usize| {
        if full {
            (2_600_000 / bytes).clamp(40, 20_000)
        } else {
            1
        }
    };
    let (raw_json_rate, json_rate, json_ratio) = interleaved(
        json.body().len(),
        rounds,
        batch(json.body().len()),
        || {
            black_box(raw_json(black_box(json.body())));
        },
        || {
            black_box(normalize.normalize(black_box(&json)).unwrap());
        },
    );
    println!(
        "normalize_json: {} bytes, raw serde_json {raw_json_rate:.0} MB/s, normalize {json_rate:.0} MB/s, median ratio {json_ratio:.3} (goal >= 0.95)",
        json.body().len()
    );
    for (name, response) in &xml {
        let text = std::str::from_utf8(response.body()).unwrap();
        let bytes = response.body().len();
        let (walk_rate, walk_ours, walk_ratio) = interleaved(
            bytes,
            rounds,
            batch(bytes),
            || {
                black_box(raw_xml(black_box(text)));
            },
            || {
                black_box(normalize.normalize(black_box(response)).unwrap());
            },
        );
        let (value_rate, value_ours, value_ratio) = interleaved(
            bytes,
            rounds,
            batch(bytes),
            || {
                black_box(raw_xml_value(black_box(text)));
            },
            || {
                black_box(normalize.normalize(black_box(response)).unwrap());
            },
        );
        println!(
            "{name}: {bytes} bytes, raw roxmltree parse+walk {walk_rate:.0} MB/s vs normalize {walk_ours:.0} MB/s, median ratio {walk_ratio:.3} (goal >= 0.7); \
             raw roxmltree parse+Value {value_rate:.0} MB/s vs normalize {value_ours:.0} MB/s, median ratio {value_ratio:.3}"
        );
    }
}
