//! Bad bodies: every failure is a classified, bounded, scrubbed error, and
//! hostile documents are refused without exhausting memory or the stack.

mod common;

use common::{normalize, normalize_with, response, response_with, shown};
use conn_core::{ErrorKind, Format, Normalizer};
use conn_normalize::{DecodeProblem, EmptyBody, Normalize, decode_error, problem};
use http::Method;

const HTML_502: &str = "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n\
    <body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\n</html>\n";

#[test]
fn html_502_page_served_as_json() {
    let err = Normalize::new()
        .normalize(&response(502, Some("application/json"), HTML_502))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(problem(&err), Some(DecodeProblem::HtmlPage));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    let message = err.to_string();
    assert!(
        message.contains("an HTML page where JSON was expected"),
        "{message}"
    );
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(message.contains("application/json"), "{message}");
    assert_eq!(decode_error(&err).unwrap().format(), Some(Format::Json));

    // The same page on a 200, as XML, or with no content type at all.
    for content_type in [
        Some("application/json"),
        Some("text/xml"),
        Some("text/html"),
        None,
    ] {
        let err = normalize(content_type, HTML_502).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::HtmlPage), "{content_type:?}");
    }
}

#[test]
fn truncated_json() {
    let body = r#"{"orders": [{"id": 1, "sku": "A-1"}, {"id": 2, "sku": "#;
    let err = normalize(Some("application/json"), body).unwrap_err();
    assert!(err.is_decode());
    assert_eq!(problem(&err), Some(DecodeProblem::Truncated));
    let detail = decode_error(&err).unwrap();
    assert_eq!(detail.line(), Some(1));
    assert!(detail.byte_offset().is_some());
    let message = err.to_string();
    assert!(
        message.starts_with("decode error: truncated JSON at line 1, column"),
        "{message}"
    );
    assert!(message.contains("near `"), "{message}");

    for cut in [
        r#"{"a": [1, 2"#,
        r#"{"a""#,
        "[",
        r#"{"a": "unterminated"#,
        r#"{"a": tr"#,
    ] {
        let err = normalize(Some("application/json"), cut).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::Truncated), "{cut}");
    }
}

#[test]
fn truncated_xml() {
    for cut in [
        r#"<orders><order id="1"><sku>A-1</sku></order><order id="2"><sk"#,
        r#"<orders><order id="1"><sku>A-1"#,
        r#"<orders><order id="1""#,
        "<orders><order>&amp",
        "<orders>",
    ] {
        let err = normalize(Some("application/xml"), cut).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::Truncated), "{cut}: {err}");
        assert!(err.to_string().contains("truncated XML"), "{err}");
    }
}

#[test]
fn malformed_documents_say_where() {
    let err = normalize(Some("application/json"), "{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::Syntax));
    let detail = decode_error(&err).unwrap();
    assert_eq!((detail.line(), detail.column()), (Some(3), Some(7)));
    assert!(
        err.to_string().contains("malformed JSON at line 3, column 7"),
        "{err}"
    );

    let err = normalize(Some("application/xml"), "<a>\n<b></c>\n</a>").unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::Syntax));
    let detail = decode_error(&err).unwrap();
    assert_eq!(detail.line(), Some(2));
    assert!(err.to_string().contains("malformed XML at line 2"), "{err}");
    assert!(err.to_string().contains("closing tag"), "{err}");
}

fn deep_json(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn deep_json_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

fn deep_xml(depth: usize) -> String {
    format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth))
}

#[test]
fn ten_thousand_levels_are_refused_without_overflowing_the_stack() {
    let cases = [
        (deep_json(10_000), "application/json"),
        (deep_json_objects(10_000), "application/json"),
        (deep_xml(10_000), "application/xml"),
        // Deep and never closed.
        ("[".repeat(10_000), "application/json"),
        ("<a>".repeat(10_000), "application/xml"),
    ];
    for (body, content_type) in cases {
        let err = normalize(Some(content_type), body.clone()).unwrap_err();
        let found = problem(&err);
        assert!(
            found == Some(DecodeProblem::TooDeep)
                || (found == Some(DecodeProblem::Truncated) && body.len() < 40_000),
            "{content_type}: {err}"
        );
        assert!(err.to_string().len() < 400, "bounded message: {err}");
    }
    let err = normalize(Some("application/json"), deep_json(10_000)).unwrap_err();
    assert!(err.to_string().contains("JSON nested too deep"), "{err}");
    assert!(err.to_string().contains("more than 64 levels"), "{err}");
    let err = normalize(Some("application/xml"), deep_xml(10_000)).unwrap_err();
    assert!(err.to_string().contains("XML nested too deep"), "{err}");

    // A configured limit above the ceiling still stops at the ceiling.
    let lax = Normalize::builder().max_depth(100_000).build().unwrap();
    for (body, content_type) in [
        (deep_json(10_000), "application/json"),
        (deep_xml(10_000), "application/xml"),
    ] {
        let err = normalize_with(&lax, Some(content_type), body).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::TooDeep));
    }
}

#[test]
fn depth_limit_is_exact_for_both_formats() {
    let strict = Normalize::builder().max_depth(5).build().unwrap();
    assert!(normalize_with(&strict, None, deep_json(5)).is_ok());
    assert!(normalize_with(&strict, None, deep_json(6)).is_err());
    assert!(normalize_with(&strict, None, deep_xml(5)).is_ok());
    assert!(normalize_with(&strict, None, deep_xml(6)).is_err());
}

fn billion_laughs() -> String {
    let mut dtd = String::from("<!ENTITY lol \"lol\">");
    let mut previous = "lol".to_owned();
    for level in 1..=9 {
        let name = format!("lol{level}");
        dtd.push_str(&format!(
            "<!ENTITY {name} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
        previous = name;
    }
    format!("<?xml version=\"1.0\"?><!DOCTYPE lolz [{dtd}]><lolz>&{previous};</lolz>")
}

#[test]
fn billion_laughs_is_refused() {
    // DTDs are refused by default.
    let err = normalize(Some("application/xml"), billion_laughs()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::DtdRefused));
    assert!(err.to_string().contains("DTD"), "{err}");

    // Allowed, the expansion is bounded.
    let allow = Normalize::builder().allow_dtd(true).build().unwrap();
    let err = normalize_with(&allow, Some("application/xml"), billion_laughs()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::EntityExpansion));
}

#[test]
fn quadratic_blowup_is_refused() {
    // One 50 KB entity referenced 50,000 times at the top level: 2.5 GB if
    // expanded, from a 250 KB document. roxmltree's loop detector allows it.
    let entity = "x".repeat(50_000);
    let body = format!(
        "<!DOCTYPE kaboom [<!ENTITY a \"{entity}\">]><kaboom>{}</kaboom>",
        "&a;".repeat(50_000)
    );
    let allow = Normalize::builder().allow_dtd(true).build().unwrap();
    let err = normalize_with(&allow, Some("application/xml"), body.clone()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::EntityExpansion));
    assert!(
        err.to_string().contains("expand to more than 1048576 bytes"),
        "{err}"
    );
    // The same in attribute values.
    let in_attributes = format!(
        "<!DOCTYPE k [<!ENTITY a \"{entity}\">]><k>{}</k>",
        "<i v=\"&a;&a;&a;&a;\"/>".repeat(100)
    );
    let err = normalize_with(&allow, None, in_attributes).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::EntityExpansion));
    // And refused by default as a DTD.
    let err = normalize(None, body).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::DtdRefused));
}

#[test]
fn external_entities_are_never_fetched() {
    let allow = Normalize::builder().allow_dtd(true).build().unwrap();
    for body in [
        r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#,
        r#"<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd">]><a/>"#,
        r#"<!DOCTYPE a [<!ENTITY x PUBLIC "-//X//EN" "http://127.0.0.1:9/x">]><a>&x;</a>"#,
    ] {
        let err = normalize_with(&allow, None, body).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::DtdRefused), "{body}");
    }
}

#[test]
fn node_limit_applies() {
    let few = Normalize::builder().max_nodes(100).build().unwrap();
    let body = format!("<a>{}</a>", "<b/>".repeat(200));
    let err = normalize_with(&few, None, body).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::TooManyNodes));
}

#[test]
fn size_limit_is_checked_before_parsing() {
    let small = Normalize::builder().max_size(16).build().unwrap();
    let err = normalize_with(&small, Some("application/json"), r#"{"a": "0123456789"}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge);
    assert!(err.is_body_too_large());
    assert_eq!(problem(&err), Some(DecodeProblem::TooLarge));
    // Even garbage is refused for its size, not its syntax.
    let err = normalize_with(&small, None, vec![0xFFu8; 17]).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::TooLarge));
}

#[test]
fn invalid_utf8() {
    let err = normalize(Some("application/json"), b"{\"name\": \"caf\xe9\"}".to_vec()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::InvalidEncoding));
    assert_eq!(decode_error(&err).unwrap().byte_offset(), Some(13));
    assert!(err.to_string().contains("invalid UTF-8"), "{err}");

    let err = normalize(Some("application/xml"), b"<a>caf\xe9</a>".to_vec()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::InvalidEncoding));
    assert_eq!(decode_error(&err).unwrap().byte_offset(), Some(6));

    // Outside a JSON string too.
    let err = normalize(Some("application/json"), b"{\"a\": 1, \xff}".to_vec()).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::InvalidEncoding));

    // A charset nobody decodes.
    let err = normalize(Some("application/json; charset=shift_jis"), "{}").unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::UnsupportedCharset));
}

#[test]
fn byte_order_marks_are_stripped() {
    let json = normalize(Some("application/json"), b"\xEF\xBB\xBF{\"a\": 1}".to_vec()).unwrap();
    assert_eq!(json.value, serde_json::json!({"a": 1}));
    let xml = normalize(Some("application/xml"), b"\xEF\xBB\xBF<a>1</a>".to_vec()).unwrap();
    assert_eq!(xml.value, serde_json::json!({"a": "1"}));
    let utf16be: Vec<u8> = "\u{FEFF}<a>é</a>"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    assert_eq!(
        normalize(None, utf16be).unwrap().value,
        serde_json::json!({"a": "é"})
    );
    // A mark and nothing else is an empty body.
    assert_eq!(
        normalize(None, b"\xEF\xBB\xBF".to_vec()).unwrap().format,
        Format::Empty
    );
}

#[test]
fn empty_bodies() {
    let normalize_response = |r| Normalize::new().normalize(&r);
    // 204 is an empty document, whatever the content type says.
    let doc = normalize_response(response(204, Some("application/json"), "")).unwrap();
    assert_eq!(doc.format, Format::Empty);
    assert!(doc.value.is_null());
    // So is a HEAD, a 304, and a body without a document content type.
    assert!(
        normalize_response(response_with(
            Method::HEAD,
            200,
            Some("application/json"),
            &[],
            ""
        ))
        .is_ok()
    );
    assert!(normalize_response(response(304, Some("application/xml"), "")).is_ok());
    assert!(normalize_response(response(200, None, " \r\n")).is_ok());
    // A 200 promising JSON and sending nothing is a problem.
    let err = normalize_response(response(200, Some("application/json"), "")).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::EmptyBody));
    assert!(
        err.to_string().contains("empty body where JSON was expected"),
        "{err}"
    );
    // Unless empty bodies are always fine.
    let lenient = Normalize::builder()
        .empty_body(EmptyBody::Document)
        .build()
        .unwrap();
    assert!(
        lenient
            .normalize(&response(200, Some("application/json"), ""))
            .is_ok()
    );
    // Or strict about it.
    let strict = Normalize::builder().empty_body(EmptyBody::Error).build().unwrap();
    assert!(strict.normalize(&response(200, None, "")).is_err());
    assert!(strict.normalize(&response(204, None, "")).is_ok());
}

#[test]
fn neither_json_nor_xml() {
    for (content_type, body) in [
        (Some("text/plain"), "Service Unavailable"),
        (None, "404 Not Found"),
        (Some("application/octet-stream"), "\u{1}\u{2}binary"),
    ] {
        let err = normalize(content_type, body).unwrap_err();
        assert_eq!(problem(&err), Some(DecodeProblem::UnknownFormat), "{body}");
    }
    let err = normalize(Some("text/plain"), "Service Unavailable").unwrap_err();
    assert!(
        err.to_string().contains("Service Unavailable"),
        "excerpt shown: {err}"
    );
}

#[test]
fn secrets_in_malformed_bodies_are_scrubbed() {
    let secrets = [
        "hunter2-secret-pw",
        "tok_live_0123456789",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "sk_live_51Habcdefghijklmnopqrstu",
        "Zm9vOmJhcg",
    ];
    let bodies = [
        (
            "application/json",
            format!(r#"{{"user": "ada", "password": "{}", "oops" 1}}"#, secrets[0]),
        ),
        (
            "application/json",
            format!(
                r#"{{"access_token":"{}","token_type":"bearer" "expires_in":3600}}"#,
                secrets[1]
            ),
        ),
        (
            "application/json",
            format!(r#"{{"debug": "Authorization: Bearer {}", }}"#, secrets[2]),
        ),
        ("application/json", format!(r#"{{"data": "{}" "#, secrets[3])),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type=client_credentials&client_secret={}&x=1", secrets[0]),
        ),
        (
            "application/xml",
            format!(
                "<login><user>ada</user><password>{}</password><broken></login>",
                secrets[0]
            ),
        ),
        (
            "application/xml",
            format!(
                r#"<auth api_key="{}" basic="Basic {}"><unclosed></auth>"#,
                secrets[1], secrets[4]
            ),
        ),
        (
            "text/html",
            format!(
                "<html><head><title>error token={}</title></head></html>",
                secrets[1]
            ),
        ),
    ];
    for (content_type, body) in &bodies {
        let err = normalize(Some(content_type), body.clone()).unwrap_err();
        let text = shown(&err);
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret} leaked for {content_type}:\n{text}"
            );
        }
        assert!(err.to_string().len() < 400, "{err}");
    }
}

#[test]
fn excerpts_are_bounded_and_can_be_turned_off() {
    let body = format!("{{\"a\": {}, \"b\" 1}}", "1".repeat(10_000));
    let err = normalize(Some("application/json"), body.clone()).unwrap_err();
    let excerpt = decode_error(&err).unwrap().excerpt_text().unwrap().to_owned();
    assert!(excerpt.chars().count() <= 64, "{excerpt}");
    let quiet = Normalize::builder().excerpt_len(0).build().unwrap();
    let err = normalize_with(&quiet, Some("application/json"), body).unwrap_err();
    assert!(decode_error(&err).unwrap().excerpt_text().is_none());
    assert!(!err.to_string().contains("near"), "{err}");
}

#[test]
fn errors_from_a_call_keep_the_status_and_the_problem() {
    let err = Normalize::new()
        .normalize(&response(200, Some("application/json"), "{\"a\":"))
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert!(!err.is_transient());
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "truncated document (JSON)");
}
