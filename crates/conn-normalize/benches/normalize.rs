//! Normalize throughput against the raw parsers, in the same run:
//!
//! - a ~64 KiB JSON document: `Normalize` vs `serde_json::from_slice::<Value>`;
//! - a ~64 KiB XML document: `Normalize` (parse + mapping onto a `Value`) vs
//!   `roxmltree::Document::parse` + a walk touching every node, attribute and text.
//!
//! Criterion reports MB/s for each; an interleaved A/B run then prints the
//! median throughput ratio `normalize / raw` per format (goals: JSON >= 0.9,
//! XML >= 0.7). For XML a third line, a naive roxmltree-to-`Value`
//! conversion, shows what the document model itself costs.
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
        attempts: Vec::new(),
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

/// A reference point, not a goal: the least a conversion onto `Value` does
/// (element -> object or string, `@` attributes, repeats as arrays; no limits,
/// no namespaces, no checks). The gap between it and `raw_xml` is the cost of
/// the document model itself (allocating every key, string and map).
fn naive_xml_value(text: &str) -> Value {
    fn element(node: roxmltree::Node<'_, '_>) -> Value {
        let has_children = node.children().any(|c| c.is_element());
        if !has_children && node.attributes().len() == 0 {
            return Value::String(node.text().unwrap_or_default().to_owned());
        }
        let mut map = serde_json::Map::new();
        for attribute in node.attributes() {
            map.insert(
                format!("@{}", attribute.name()),
                Value::String(attribute.value().to_owned()),
            );
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

fn criterion_benches(c: &mut Criterion, normalize: &Normalize, json: &Response, xml: &Response) {
    let mut group = c.benchmark_group("normalize_json");
    group.throughput(Throughput::Bytes(json.body().len() as u64));
    group.bench_function("raw_serde_json_value", |b| {
        b.iter(|| raw_json(black_box(json.body())))
    });
    group.bench_function("normalize", |b| {
        b.iter(|| normalize.normalize(black_box(json)).unwrap())
    });
    group.finish();

    let xml_text = std::str::from_utf8(xml.body()).unwrap();
    let mut group = c.benchmark_group("normalize_xml");
    group.throughput(Throughput::Bytes(xml.body().len() as u64));
    group.bench_function("raw_roxmltree_parse_walk", |b| {
        b.iter(|| raw_xml(black_box(xml_text)))
    });
    group.bench_function("reference_naive_value", |b| {
        b.iter(|| naive_xml_value(black_box(xml_text)))
    });
    group.bench_function("normalize", |b| {
        b.iter(|| normalize.normalize(black_box(xml)).unwrap())
    });
    group.finish();
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
    let xml = response("application/xml", &xml_document());
    // Same documents, same results: the benchmark compares equal work.
    assert_eq!(normalize.normalize(&json).unwrap().value, raw_json(json.body()));
    assert!(raw_xml(std::str::from_utf8(xml.body()).unwrap()) > 0);
    assert_eq!(
        normalize.normalize(&xml).unwrap().value,
        naive_xml_value(std::str::from_utf8(xml.body()).unwrap())
    );

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut criterion, &normalize, &json, &xml);
    criterion.final_summary();

    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, batch) = if full { (21, 40) } else { (1, 1) };
    let xml_text = std::str::from_utf8(xml.body()).unwrap();
    let (raw_json_rate, json_rate, json_ratio) = interleaved(
        json.body().len(),
        rounds,
        batch,
        || {
            black_box(raw_json(black_box(json.body())));
        },
        || {
            black_box(normalize.normalize(black_box(&json)).unwrap());
        },
    );
    let (raw_xml_rate, xml_rate, xml_ratio) = interleaved(
        xml.body().len(),
        rounds,
        batch,
        || {
            black_box(raw_xml(black_box(xml_text)));
        },
        || {
            black_box(normalize.normalize(black_box(&xml)).unwrap());
        },
    );
    let (_, naive_rate, naive_ratio) = interleaved(
        xml.body().len(),
        rounds,
        batch,
        || {
            black_box(naive_xml_value(black_box(xml_text)));
        },
        || {
            black_box(normalize.normalize(black_box(&xml)).unwrap());
        },
    );
    println!(
        "normalize_json: {} bytes, raw serde_json {raw_json_rate:.0} MB/s, normalize {json_rate:.0} MB/s, median ratio {json_ratio:.3} (goal >= 0.9)",
        json.body().len()
    );
    println!(
        "normalize_xml: {} bytes, raw roxmltree+walk {raw_xml_rate:.0} MB/s, normalize {xml_rate:.0} MB/s, median ratio {xml_ratio:.3} (goal >= 0.7)",
        xml.body().len()
    );
    println!(
        "normalize_xml vs the naive Value conversion (reference, {naive_rate:.0} MB/s in its own rounds): median ratio {naive_ratio:.3}"
    );
}
