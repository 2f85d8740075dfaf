//! Two vendors onto one internal struct, typed decoding from both formats,
//! envelopes, and the normalizer inside a connector.

mod common;

use std::sync::Arc;

use common::{normalize, response_with};
use conn_core::{Connector, Context, Format, Normalizer, Request};
use conn_normalize::{ConnectorExt, DecodeProblem, Mapping, Normalize, decode, problem};
use conn_testkit::{MockReply, ScriptedTransport};
use http::{Method, StatusCode};
use serde::Deserialize;

/// The internal shape every vendor's order is mapped onto.
#[derive(Debug, Deserialize, PartialEq)]
struct Order {
    id: String,
    customer: Customer,
    total: f64,
    currency: String,
    paid: bool,
    lines: Vec<Line>,
    note: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Customer {
    name: String,
    vip: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Line {
    sku: String,
    qty: u32,
}

/// Vendor A: JSON, snake case, numbers as numbers, nested under `data`.
const VENDOR_A_BODY: &str = r#"{
    "data": {
        "order_id": 1001,
        "buyer": {"full_name": "Ada Lovelace", "tier": "vip"},
        "amount": {"value": 42.5, "currency": "EUR"},
        "status": {"paid": true},
        "items": [{"sku": "A-1", "quantity": 2}, {"sku": "B-7", "quantity": 1}]
    }
}"#;

const VENDOR_A_MAPPING: &str = r#"{ "fields": [
    { "field": "id", "from": "/data/order_id", "coerce": "string", "required": true },
    { "field": "customer.name", "from": "/data/buyer/full_name", "required": true },
    { "field": "customer.vip", "from": "/data/buyer/is_vip", "coerce": "bool", "default": true },
    { "field": "total", "from": "/data/amount/value", "coerce": "float", "required": true },
    { "field": "currency", "from": "/data/amount/currency", "default": "EUR" },
    { "field": "paid", "from": "/data/status/paid", "coerce": "bool", "default": false },
    { "field": "lines", "from": "/data/items", "default": [], "each": { "fields": [
        { "field": "sku", "from": "/sku", "required": true },
        { "field": "qty", "from": "/quantity", "coerce": "integer", "default": 1 }
    ] } },
    { "field": "note", "from": ["/data/note", "/data/comment"] }
] }"#;

/// Vendor B: XML, attributes, everything a string, one line only.
const VENDOR_B_BODY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<OrderResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Order id="1001" paid="Y">
    <Customer vip="1"><Name>Ada Lovelace</Name></Customer>
    <Total currency="EUR">42.50</Total>
    <Line sku="A-1"><Qty>2</Qty></Line>
    <Line sku="B-7"><Qty/></Line>
    <Note xsi:nil="true"/>
  </Order>
</OrderResponse>"#;

const VENDOR_B_MAPPING: &str = r#"{ "fields": [
    { "field": "id", "from": "/OrderResponse/Order/@id", "required": true },
    { "field": "customer.name", "from": "/OrderResponse/Order/Customer/Name", "required": true },
    { "field": "customer.vip", "from": "/OrderResponse/Order/Customer/@vip", "coerce": "bool", "default": false },
    { "field": "total", "from": "/OrderResponse/Order/Total", "coerce": "float", "required": true },
    { "field": "currency", "from": "/OrderResponse/Order/Total/@currency", "required": true },
    { "field": "paid", "from": "/OrderResponse/Order/@paid", "coerce": "bool", "default": false },
    { "field": "lines", "from": "/OrderResponse/Order/Line", "default": [], "each": { "fields": [
        { "field": "sku", "from": "/@sku", "required": true },
        { "field": "qty", "from": "/Qty", "coerce": "integer", "default": 1 }
    ] } },
    { "field": "note", "from": "/OrderResponse/Order/Note" }
] }"#;

fn expected_order() -> Order {
    Order {
        id: "1001".into(),
        customer: Customer {
            name: "Ada Lovelace".into(),
            vip: true,
        },
        total: 42.5,
        currency: "EUR".into(),
        paid: true,
        lines: vec![
            Line {
                sku: "A-1".into(),
                qty: 2,
            },
            Line {
                sku: "B-7".into(),
                qty: 1,
            },
        ],
        note: None,
    }
}

#[test]
fn two_vendors_map_onto_one_internal_struct() {
    let a = normalize(Some("application/json"), VENDOR_A_BODY).unwrap();
    let b = normalize(Some("application/xml"), VENDOR_B_BODY).unwrap();
    assert_eq!((a.format, b.format), (Format::Json, Format::Xml));

    let from_a: Order = Mapping::from_json(VENDOR_A_MAPPING)
        .unwrap()
        .apply_as(&a)
        .unwrap();
    let from_b: Order = Mapping::from_json(VENDOR_B_MAPPING)
        .unwrap()
        .apply_as(&b)
        .unwrap();
    assert_eq!(from_a, expected_order());
    assert_eq!(from_b, expected_order());
}

#[test]
fn a_single_line_still_maps_to_a_list() {
    let one_line = VENDOR_B_BODY.replace(r#"<Line sku="B-7"><Qty/></Line>"#, "");
    let doc = normalize(None, one_line).unwrap();
    let order: Order = Mapping::from_json(VENDOR_B_MAPPING)
        .unwrap()
        .apply_as(&doc)
        .unwrap();
    assert_eq!(order.lines.len(), 1);
}

#[test]
fn mapping_failures_are_schema_problems() {
    let doc = normalize(None, "<OrderResponse><Order id='1'/></OrderResponse>").unwrap();
    let err = Mapping::from_json(VENDOR_B_MAPPING)
        .unwrap()
        .apply_as::<Order>(&doc)
        .unwrap_err();
    assert!(err.is_decode());
    assert_eq!(problem(&err), Some(DecodeProblem::Schema));
    assert!(err.to_string().contains("customer.name"), "{err}");
}

/// A struct decoded directly, without a mapping.
#[derive(Debug, Deserialize, PartialEq)]
struct Invoice {
    number: u64,
    amount: f64,
    settled: bool,
    due: Option<String>,
    status: Status,
    items: Items,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Items {
    item: Vec<Item>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Item {
    #[serde(rename = "@code")]
    code: String,
    #[serde(rename = "#text")]
    label: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Status {
    Open,
    Closed,
}

#[test]
fn typed_decoding_from_both_formats() {
    let json = r##"{"invoice": {"number": 77, "amount": 19.99, "settled": false, "status": "open",
        "items": {"item": [{"@code": "X", "#text": "Widget"}]}}}"##;
    let xml = r#"<invoice><number>77</number><amount>19.99</amount><settled>false</settled><due/>
        <status>open</status><items><item code="X">Widget</item></items></invoice>"#;
    let expected = Invoice {
        number: 77,
        amount: 19.99,
        settled: false,
        due: None,
        status: Status::Open,
        items: Items {
            item: vec![Item {
                code: "X".into(),
                label: "Widget".into(),
            }],
        },
    };
    #[derive(Debug, Deserialize)]
    struct Wrapper {
        invoice: Invoice,
    }
    for (content_type, body) in [("application/json", json), ("application/xml", xml)] {
        let doc = normalize(Some(content_type), body).unwrap();
        let decoded: Wrapper = decode(&doc).unwrap_or_else(|e| panic!("{content_type}: {e}"));
        assert_eq!(decoded.invoice, expected, "{content_type}");
    }
    // A wrong type says where, not what.
    let doc = normalize(None, "<invoice><number>sEcReT</number></invoice>").unwrap();
    let err = decode::<Wrapper>(&doc).unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::Schema));
    assert!(err.to_string().contains("/invoice/number"), "{err}");
    assert!(!format!("{err} {err:?}").contains("sEcReT"));
}

#[test]
fn envelope_carries_status_allowed_headers_document_and_metadata() {
    let response = response_with(
        Method::GET,
        200,
        Some("application/json"),
        &[
            ("etag", "\"v3\""),
            ("x-request-id", "vendor-77"),
            ("set-cookie", "session=s3cr3t"),
            ("authorization", "Bearer s3cr3t"),
            ("x-internal", "not kept"),
        ],
        r#"{"ok": true}"#,
    );
    let envelope = Normalize::new().envelope(&response).unwrap();
    assert_eq!(envelope.status, StatusCode::OK);
    assert_eq!(envelope.document.value, serde_json::json!({"ok": true}));
    assert_eq!(envelope.headers.get("etag").unwrap(), "\"v3\"");
    assert_eq!(envelope.headers.get("x-request-id").unwrap(), "vendor-77");
    assert!(envelope.headers.get("set-cookie").is_none());
    assert!(envelope.headers.get("authorization").is_none());
    assert!(envelope.headers.get("x-internal").is_none());
    assert_eq!(&*envelope.meta.connector, "vendor-a");
    assert_eq!(&*envelope.meta.correlation_id, "corr-42");
    assert_eq!(envelope.meta.format, Format::Json);
    assert_eq!(envelope.meta.attempts, 1);
    assert_eq!(envelope.meta.latency.as_millis(), 120);

    let serialized = serde_json::to_value(&envelope).unwrap();
    assert_eq!(serialized["format"], "json");
    assert_eq!(serialized["meta"]["connector"], "vendor-a");
    assert_eq!(serialized["headers"]["etag"], "\"v3\"");
    assert!(!serialized.to_string().contains("s3cr3t"));

    // Credential headers cannot be allowed.
    for denied in ["Authorization", "cookie", "Set-Cookie", "x-api-key"] {
        let err = Normalize::builder().keep_header(denied).build().unwrap_err();
        assert!(err.is_config(), "{denied}");
    }
    let custom = Normalize::builder()
        .envelope_headers(["x-internal"])
        .build()
        .unwrap()
        .envelope(&response)
        .unwrap();
    assert_eq!(custom.headers.len(), 1);
}

fn connector(transport: Arc<ScriptedTransport>, normalize: Normalize) -> Connector {
    Connector::builder("vendor-b")
        .base_url("https://api.vendor-b.example/v2")
        .transport(transport)
        .normalizer(Arc::new(normalize))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn inside_a_connector() {
    let xml_reply = || {
        MockReply::status(200)
            .header("content-type", "text/xml")
            .body(VENDOR_B_BODY)
    };
    let transport = Arc::new(ScriptedTransport::new([xml_reply(), xml_reply(), xml_reply()]));
    let vendor = connector(transport, Normalize::new());

    let (document, response) = vendor
        .call_document(Request::get("/orders/1001"), Context::new())
        .await
        .unwrap();
    assert_eq!(document.format, Format::Xml);
    assert_eq!(document.value["OrderResponse"]["Order"]["@id"], "1001");
    assert_eq!(response.status(), StatusCode::OK);

    let mapping = Mapping::from_json(VENDOR_B_MAPPING).unwrap();
    let order: Order = vendor
        .call_mapped(Request::get("/orders/1001"), Context::new(), &mapping)
        .await
        .unwrap();
    assert_eq!(order, expected_order());

    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "OrderResponse")]
        response: HeadOrder,
    }
    #[derive(Deserialize)]
    struct HeadOrder {
        #[serde(rename = "Order")]
        order: HeadId,
    }
    #[derive(Deserialize)]
    struct HeadId {
        #[serde(rename = "@id")]
        id: u64,
    }
    let head: Head = vendor
        .call_decoded(Request::get("/orders/1001"), Context::new().correlation_id("c-1"))
        .await
        .unwrap();
    assert_eq!(head.response.order.id, 1001);
}

#[tokio::test(start_paused = true)]
async fn html_502_through_a_connector() {
    let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::json(502, page),
        MockReply::json(200, page),
    ]));
    let vendor = connector(transport, Normalize::new());

    // The 502 is a server error; its body explains what answered.
    let err = vendor
        .call(Request::get("/orders"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_transient());
    let body_err = Normalize::new().normalize_error_body(&err).unwrap().unwrap_err();
    assert_eq!(problem(&body_err), Some(DecodeProblem::HtmlPage));
    assert!(body_err.to_string().contains("502 Bad Gateway"), "{body_err}");

    // The same page on a 200 fails normalization, with the call's details attached.
    let err = vendor
        .call_document(Request::get("/orders"), Context::new().correlation_id("c-2"))
        .await
        .unwrap_err();
    assert_eq!(problem(&err), Some(DecodeProblem::HtmlPage));
    assert_eq!(err.correlation_id(), Some("c-2"));
    assert_eq!(err.attempts(), 1);
}

#[test]
fn normalizer_is_object_safe_and_shareable() {
    let shared: Arc<dyn Normalizer> = Arc::new(Normalize::new());
    let doc = shared
        .normalize(&response_with(Method::GET, 200, None, &[], "{}"))
        .unwrap();
    assert_eq!(doc.format, Format::Json);
}
