//! Fuzz-style properties for both parsers: arbitrary bytes and mutated valid
//! documents never panic, and every failure is a decode (or size) error.
//!
//! Bounded (a few hundred cases per property) so the suite runs in seconds in
//! CI; raise `PROPTEST_CASES` locally for a longer run.

mod common;

use common::normalize_with;
use conn_core::{Error, ErrorKind, Format};
use conn_normalize::{Detection, Normalize};
use proptest::prelude::*;

const JSON_SEEDS: &[&str] = &[
    r#"{"orders": [{"id": 1, "sku": "A-1", "price": 12.5, "tags": ["x", "y"], "paid": true, "note": null}]}"#,
    r#"[1, -2.5e3, "é\u00e9\ud83d\ude00", {"a": {"b": {"c": []}}}, false]"#,
    r#"{"token": "abc", "nested": {"deep": [[[[1]]]]}, "s": "line\nbreak \"quoted\""}"#,
];

const XML_SEEDS: &[&str] = &[
    r#"<?xml version="1.0"?><orders><order id="1"><sku>A-1</sku><price currency="EUR">12.50</price></order><order id="2"/></orders>"#,
    r#"<s:Envelope xmlns:s="urn:s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body><x xsi:nil="true"/><p>a<b>b</b>c<![CDATA[<d>]]>&amp;&#233;</p></s:Body></s:Envelope>"#,
    r#"<!DOCTYPE a [<!ENTITY e "entity &amp; text"><!ENTITY f "&e;&e;">]><a k="&f;">&e;<!-- c --><?pi?>&f;</a>"#,
];

fn normalizers() -> Vec<Normalize> {
    let small = |b: conn_normalize::NormalizeBuilder| b.max_depth(8).max_nodes(200).max_size(4096);
    vec![
        Normalize::new(),
        Normalize::builder()
            .detect(Detection::Force(Format::Json))
            .build()
            .unwrap(),
        Normalize::builder()
            .detect(Detection::Force(Format::Xml))
            .build()
            .unwrap(),
        small(Normalize::builder().allow_dtd(true).max_entity_expansion(512))
            .force_array("/orders/order")
            .force_array("b")
            .build()
            .unwrap(),
        small(Normalize::builder().detect(Detection::Sniff).allow_dtd(true))
            .build()
            .unwrap(),
    ]
}

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/xml"),
    Some("text/html"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/json; charset=utf-16"),
];

fn check(result: Result<conn_core::Document, Error>) -> Result<(), TestCaseError> {
    if let Err(err) = result {
        prop_assert!(
            matches!(err.kind(), ErrorKind::Decode | ErrorKind::BodyTooLarge),
            "unexpected kind {:?}",
            err.kind()
        );
        prop_assert!(conn_normalize::problem(&err).is_some());
        prop_assert!(err.to_string().len() < 600, "unbounded message: {err}");
    }
    Ok(())
}

/// A mutation of a seed document.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..32).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
    ]
}

fn apply(mut doc: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = doc.len().max(1);
        match m {
            Mutation::Flip(at, b) => {
                if let Some(byte) = doc.get_mut(at % len) {
                    *byte = *b;
                }
            }
            Mutation::Insert(at, bytes) => {
                let at = at % (doc.len() + 1);
                doc.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(doc.len());
                if at < end {
                    doc.drain(at..end);
                }
            }
            Mutation::Truncate(at) => doc.truncate(at % len),
            Mutation::Duplicate(at, n) => {
                let at = at % len;
                let end = (at + n).min(doc.len());
                if at < end {
                    let copy = doc[at..end].to_vec();
                    doc.splice(at..at, copy);
                }
            }
        }
    }
    doc
}

/// 256 cases per property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        which in 0usize..5,
        content_type in 0usize..6,
    ) {
        let normalizer = &normalizers()[which];
        check(normalize_with(normalizer, CONTENT_TYPES[content_type], body))?;
    }

    #[test]
    fn markup_like_bytes_never_panic(
        body in proptest::collection::vec(
            prop_oneof![
                Just(b'<'), Just(b'>'), Just(b'/'), Just(b'&'), Just(b';'), Just(b'"'), Just(b'{'),
                Just(b'}'), Just(b'['), Just(b']'), Just(b':'), Just(b','), Just(b'!'), Just(b'?'),
                Just(b'a'), Just(b'='), Just(b' '), Just(b'#'), Just(b'x'), Just(b'-'), Just(b'0'),
            ],
            0..256,
        ),
        which in 0usize..5,
    ) {
        let normalizer = &normalizers()[which];
        check(normalize_with(normalizer, None, body))?;
    }

    #[test]
    fn mutated_json_never_panics(
        seed in 0usize..JSON_SEEDS.len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        which in 0usize..5,
    ) {
        let body = apply(JSON_SEEDS[seed].as_bytes().to_vec(), &mutations);
        check(normalize_with(&normalizers()[which], Some("application/json"), body))?;
    }

    #[test]
    fn mutated_xml_never_panics(
        seed in 0usize..XML_SEEDS.len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        which in 0usize..5,
    ) {
        let body = apply(XML_SEEDS[seed].as_bytes().to_vec(), &mutations);
        check(normalize_with(&normalizers()[which], Some("application/xml"), body))?;
    }

    #[test]
    fn unmutated_seeds_parse(seed in 0usize..XML_SEEDS.len()) {
        let allow = Normalize::builder().allow_dtd(true).build().unwrap();
        prop_assert!(normalize_with(&allow, None, XML_SEEDS[seed]).is_ok());
        prop_assert!(normalize_with(&allow, None, JSON_SEEDS[seed % JSON_SEEDS.len()]).is_ok());
    }
}
