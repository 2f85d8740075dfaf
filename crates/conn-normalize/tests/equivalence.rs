//! The same data as JSON and as XML normalizes to the same document, and the
//! XML mapping rules (arrays, force-array paths, namespaces, mixed content).

mod common;

use common::{normalize, normalize_with};
use conn_core::Format;
use conn_normalize::Normalize;
use serde_json::{Value, json};

/// (what, JSON, XML): each pair must normalize to the same value.
const PAIRS: &[(&str, &str, &str)] = &[
    ("text", r#"{"a": "x"}"#, "<a>x</a>"),
    (
        "nesting",
        r#"{"a": {"b": {"c": {"d": "deep"}}}}"#,
        "<a><b><c><d>deep</d></c></b></a>",
    ),
    (
        "siblings",
        r#"{"person": {"first": "Ada", "last": "Lovelace"}}"#,
        "<person><first>Ada</first><last>Lovelace</last></person>",
    ),
    (
        "repeated element is an array",
        r#"{"list": {"n": ["1", "2", "3"]}}"#,
        "<list><n>1</n><n>2</n><n>3</n></list>",
    ),
    (
        "array of objects",
        r#"{"orders": {"order": [{"id": "1", "sku": "A"}, {"id": "2", "sku": "B"}]}}"#,
        "<orders><order><id>1</id><sku>A</sku></order><order><id>2</id><sku>B</sku></order></orders>",
    ),
    (
        "attributes only",
        r#"{"user": {"@id": "7", "@role": "admin"}}"#,
        r#"<user id="7" role='admin'/>"#,
    ),
    (
        "attributes and children",
        r#"{"user": {"@id": "7", "name": "Ada"}}"#,
        r#"<user id="7"><name>Ada</name></user>"#,
    ),
    (
        "attributes and text",
        r##"{"price": {"@currency": "EUR", "#text": "12.50"}}"##,
        r#"<price currency="EUR">12.50</price>"#,
    ),
    (
        "empty elements",
        r#"{"a": {"b": "", "c": ""}}"#,
        "<a><b/><c></c></a>",
    ),
    (
        "numbers and booleans stay strings",
        r#"{"n": {"int": "42", "float": "-1.5e3", "flag": "true"}}"#,
        "<n><int>42</int><float>-1.5e3</float><flag>true</flag></n>",
    ),
    (
        "unicode",
        r#"{"greeting": "héllo wörld — 日本語 🎉"}"#,
        "<greeting>héllo wörld — 日本語 🎉</greeting>",
    ),
    (
        "predefined entities",
        r#"{"t": "<tag> & \"quoted\" 'apos'"}"#,
        "<t>&lt;tag&gt; &amp; &quot;quoted&quot; &apos;apos&apos;</t>",
    ),
    (
        "character references",
        r#"{"t": "é€😀"}"#,
        "<t>&#233;&#x20AC;&#128512;</t>",
    ),
    (
        "CDATA",
        r#"{"snippet": "<b>bold</b> & more"}"#,
        "<snippet><![CDATA[<b>bold</b> & more]]></snippet>",
    ),
    (
        "CDATA between text",
        r#"{"t": "a<b>c"}"#,
        "<t>a<![CDATA[<b>]]>c</t>",
    ),
    (
        "text-only whitespace is kept",
        r#"{"t": "  padded  "}"#,
        "<t>  padded  </t>",
    ),
    (
        "indentation is dropped",
        r#"{"a": {"b": "1", "c": "2"}}"#,
        "<a>\n  <b>1</b>\n  <c>2</c>\n</a>\n",
    ),
    (
        "comments and processing instructions are dropped",
        r#"{"a": {"b": "1"}}"#,
        r#"<?xml version="1.0" encoding="UTF-8"?><!-- c --><a><?pi x?><b>1</b><!-- d --></a>"#,
    ),
    (
        "xsi:nil is null",
        r#"{"a": {"b": null, "c": "x"}}"#,
        r#"<a xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><b xsi:nil="true"/><c>x</c></a>"#,
    ),
    (
        "default namespace: no prefix",
        r#"{"feed": {"title": "x"}}"#,
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>"#,
    ),
    (
        "prefixed namespaces keep their prefix",
        r#"{"soap:Envelope": {"soap:Body": {"m:ok": "1"}}}"#,
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:ok xmlns:m="urn:m">1</m:ok></soap:Body></soap:Envelope>"#,
    ),
    (
        "entity in an attribute",
        r#"{"link": {"@href": "/a?x=1&y=2"}}"#,
        r#"<link href="/a?x=1&amp;y=2"/>"#,
    ),
    (
        "multi-line text",
        r#"{"t": "line1\nline2"}"#,
        "<t>line1\nline2</t>",
    ),
    (
        "repeated elements with attributes",
        r##"{"r": {"i": [{"@k": "a", "#text": "1"}, {"@k": "b", "#text": "2"}]}}"##,
        r#"<r><i k="a">1</i><i k="b">2</i></r>"#,
    ),
    (
        "interleaved repeats are grouped",
        r#"{"a": {"b": ["1", "2"], "c": "x"}}"#,
        "<a><b>1</b><c>x</c><b>2</b></a>",
    ),
    (
        "mixed content",
        r##"{"p": {"#text": ["Hello", "!"], "b": "world"}}"##,
        "<p>Hello <b>world</b>!</p>",
    ),
    (
        "xml:lang",
        r##"{"t": {"@xml:lang": "fr", "#text": "bonjour"}}"##,
        r#"<t xml:lang="fr">bonjour</t>"#,
    ),
    (
        "ten levels",
        r#"{"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": {"l9": {"l10": "bottom"}}}}}}}}}}"#,
        "<l1><l2><l3><l4><l5><l6><l7><l8><l9><l10>bottom</l10></l9></l8></l7></l6></l5></l4></l3></l2></l1>",
    ),
    ("byte order mark", r#"{"a": "x"}"#, "\u{FEFF}<a>x</a>"),
    ("CRLF line ends become LF", r#"{"t": "a\nb"}"#, "<t>a\r\nb</t>"),
];

#[test]
fn json_and_xml_pairs_normalize_to_the_same_document() {
    assert!(PAIRS.len() >= 20);
    for (what, json, xml) in PAIRS {
        let from_json = normalize(Some("application/json"), json.as_bytes().to_vec())
            .unwrap_or_else(|e| panic!("{what}: JSON failed: {e}"));
        let from_xml = normalize(Some("application/xml"), xml.as_bytes().to_vec())
            .unwrap_or_else(|e| panic!("{what}: XML failed: {e}"));
        assert_eq!(from_json.format, Format::Json, "{what}");
        assert_eq!(from_xml.format, Format::Xml, "{what}");
        assert_eq!(from_xml.value, from_json.value, "{what}");
        // JSON passes through unchanged.
        let raw: Value = serde_json::from_str(json).unwrap();
        assert_eq!(from_json.value, raw, "{what}");
    }
}

#[test]
fn json_passes_through_unchanged() {
    let json =
        r#"{"n": 1, "f": 2.5, "big": 18446744073709551615, "neg": -3, "b": [true, false, null], "s": "x"}"#;
    let doc = normalize(Some("application/json"), json).unwrap();
    assert_eq!(doc.value, serde_json::from_str::<Value>(json).unwrap());
}

#[test]
fn single_and_repeated_elements_have_the_same_shape_with_force_array() {
    let one = "<orders><order><id>1</id></order></orders>";
    let two = "<orders><order><id>1</id></order><order><id>2</id></order></orders>";
    let none = "<orders/>";

    // Without configuration, one item is an object and two are an array.
    assert_eq!(
        normalize(None, one).unwrap().value,
        json!({"orders": {"order": {"id": "1"}}})
    );
    assert_eq!(
        normalize(None, two).unwrap().value,
        json!({"orders": {"order": [{"id": "1"}, {"id": "2"}]}})
    );

    for path in ["/orders/order", "/*/order", "order"] {
        let forced = Normalize::builder().force_array(path).build().unwrap();
        assert_eq!(
            normalize_with(&forced, None, one).unwrap().value,
            json!({"orders": {"order": [{"id": "1"}]}}),
            "{path}"
        );
        assert_eq!(
            normalize_with(&forced, None, two).unwrap().value,
            json!({"orders": {"order": [{"id": "1"}, {"id": "2"}]}}),
            "{path}"
        );
    }
    // An absolute path gives `[]` when there is no item at all.
    let forced = Normalize::builder().force_array("/orders/order").build().unwrap();
    assert_eq!(
        normalize_with(&forced, None, none).unwrap().value,
        json!({"orders": {"order": []}})
    );
    // Only that path: a same-named element elsewhere is not forced.
    assert_eq!(
        normalize_with(&forced, None, "<x><order>1</order></x>")
            .unwrap()
            .value,
        json!({"x": {"order": "1"}})
    );
}

#[test]
fn force_array_paths_are_validated() {
    for bad in ["", "/orders//order", "orders/order"] {
        let err = Normalize::builder().force_array(bad).build().unwrap_err();
        assert!(err.is_config(), "{bad}");
    }
}

#[test]
fn namespaces_keep_the_document_prefix_or_a_configured_one() {
    let xml = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:x">
        <SOAP-ENV:Body><x:Item x:id="9" plain="p">v</x:Item></SOAP-ENV:Body>
    </SOAP-ENV:Envelope>"#;
    assert_eq!(
        normalize(None, xml).unwrap().value,
        json!({"SOAP-ENV:Envelope": {"SOAP-ENV:Body": {"x:Item": {"@x:id": "9", "@plain": "p", "#text": "v"}}}})
    );
    // Mapping URIs to chosen prefixes makes two vendors' prefixes agree.
    let mapped = Normalize::builder()
        .namespace("http://schemas.xmlsoap.org/soap/envelope/", "soap")
        .namespace("urn:x", "")
        .build()
        .unwrap();
    assert_eq!(
        normalize_with(&mapped, None, xml).unwrap().value,
        json!({"soap:Envelope": {"soap:Body": {"Item": {"@id": "9", "@plain": "p", "#text": "v"}}}})
    );
    // A default namespace and a prefix bound to the same URI in another
    // document give the same names once the URI is mapped.
    let other = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><i:Item xmlns:i="urn:x" i:id="9" plain="p">v</i:Item></Body></Envelope>"#;
    assert_eq!(
        normalize_with(&mapped, None, other).unwrap().value,
        json!({"soap:Envelope": {"soap:Body": {"Item": {"@id": "9", "@plain": "p", "#text": "v"}}}})
    );
}

#[test]
fn mixed_content_keeps_text_segments_in_order() {
    let xml = "<note>First <b>bold</b> then <i>italic</i> end.<b>again</b></note>";
    assert_eq!(
        normalize(None, xml).unwrap().value,
        json!({"note": {"#text": ["First", "then", "end."], "b": ["bold", "again"], "i": "italic"}})
    );
    // One segment is a plain string.
    assert_eq!(
        normalize(None, "<p>only <b>x</b></p>").unwrap().value,
        json!({"p": {"#text": "only", "b": "x"}})
    );
}

#[test]
fn unwrap_root_and_custom_keys() {
    let custom = Normalize::builder()
        .unwrap_root(true)
        .attribute_prefix("_")
        .text_key("$")
        .build()
        .unwrap();
    assert_eq!(
        normalize_with(
            &custom,
            None,
            r#"<response status="ok"><amount cur="EUR">5</amount></response>"#
        )
        .unwrap()
        .value,
        json!({"_status": "ok", "amount": {"_cur": "EUR", "$": "5"}})
    );
    assert!(Normalize::builder().text_key("").build().is_err());
}

#[test]
fn allowed_dtd_entities_expand() {
    let allow = Normalize::builder().allow_dtd(true).build().unwrap();
    let xml = r#"<!DOCTYPE a [<!ENTITY co "ACME &amp; Sons">]><a><name>&co;</name><at who="&co;"/></a>"#;
    assert_eq!(
        normalize_with(&allow, None, xml).unwrap().value,
        json!({"a": {"name": "ACME & Sons", "at": {"@who": "ACME & Sons"}}})
    );
}

#[test]
fn declared_charsets_are_decoded() {
    let latin1 = b"<a>caf\xe9</a>".to_vec();
    assert_eq!(
        normalize(Some("text/xml; charset=ISO-8859-1"), latin1)
            .unwrap()
            .value,
        json!({"a": "café"})
    );
    let declared = b"<?xml version='1.0' encoding='windows-1252'?><a>\x80 5</a>".to_vec();
    assert_eq!(normalize(None, declared).unwrap().value, json!({"a": "€ 5"}));
    let utf16: Vec<u8> = "\u{FEFF}{\"a\": \"é\"}"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert_eq!(
        normalize(Some("application/json"), utf16).unwrap().value,
        json!({"a": "é"})
    );
}

#[test]
fn detection_modes() {
    use conn_normalize::Detection;
    // Auto: a JSON content type with an XML body is read as XML.
    assert_eq!(
        normalize(Some("application/json"), "<a>1</a>").unwrap().format,
        Format::Xml
    );
    // Missing or generic content types are sniffed.
    assert_eq!(normalize(None, " [1, 2]").unwrap().format, Format::Json);
    assert_eq!(
        normalize(Some("application/octet-stream"), "<a/>")
            .unwrap()
            .format,
        Format::Xml
    );
    // Header: only the header counts.
    let header = Normalize::builder().detect(Detection::Header).build().unwrap();
    assert!(normalize_with(&header, Some("application/json"), "<a>1</a>").is_err());
    assert!(normalize_with(&header, None, "{}").is_err());
    // Force: the body is parsed as told.
    let force = Normalize::builder()
        .detect(Detection::Force(Format::Xml))
        .build()
        .unwrap();
    assert_eq!(
        normalize_with(&force, Some("application/json"), "<a>1</a>")
            .unwrap()
            .value,
        json!({"a": "1"})
    );
    assert!(normalize_with(&force, None, "{}").is_err());
    let empty = Normalize::builder()
        .detect(Detection::Force(Format::Empty))
        .build()
        .unwrap();
    assert_eq!(
        normalize_with(&empty, None, "junk").unwrap().format,
        Format::Empty
    );
}
