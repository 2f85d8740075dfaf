//! `normalize.mapping`: a connector's field mapping from the blueprint.

use std::collections::HashMap;
use std::sync::Arc;

use conn_blueprint::{Blueprint, Registry};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

#[tokio::test(start_paused = true)]
async fn a_connector_maps_its_documents_by_name() {
    let text = r#"
[connectors.billing]
base_url = "https://billing.example"

[[connectors.billing.normalize.mapping.fields]]
field = "id"
from = ["/order/@id", "/order/id"]
coerce = "integer"
required = true

[[connectors.billing.normalize.mapping.fields]]
field = "total"
from = "/order/total"
coerce = "float"
default = 0

[connectors.plain]
base_url = "https://plain.example"
"#;
    let bp = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(bp.explain().contains("<mapping of 2 field(s)>"));
    let transport = Arc::new(ScriptedTransport::new([MockReply::json(
        200,
        r#"{ "order": { "id": "7", "total": "12.50" } }"#,
    )]));
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    let mapping = registry.mapping("billing").expect("billing has a mapping");
    assert!(registry.mapping("plain").is_none());
    assert!(registry.mapping("nope").is_none());
    let billing = registry.get("billing").unwrap();
    let (document, _) = billing
        .call_document(Request::get("/orders/7"), Context::new())
        .await
        .unwrap();
    let mapped = mapping.apply(&document.value).unwrap();
    assert_eq!(mapped.to_string(), r#"{"id":7,"total":12.5}"#);
}

#[test]
fn mapping_mistakes_point_at_the_key() {
    let text = r#"
[connectors.billing]
base_url = "https://billing.example"
normalize.mapping = { fields = [{ field = "id", form = "/id" }] }

[connectors.crm]
base_url = "https://crm.example"
[connectors.crm.normalize]
mapping = { fields = [{ field = "id", from = "/id", coerce = "roman" }] }

[connectors.erp]
base_url = "https://erp.example"
normalize = { mapping = "id <- /id" }
"#;
    let errs = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_err();
    let shown = errs.to_string();
    let billing = errs.at("connectors.billing.normalize.mapping").unwrap();
    assert!(
        billing.message.contains("form") && billing.line == Some(4),
        "{shown}"
    );
    let crm = errs.at("connectors.crm.normalize.mapping").unwrap();
    assert!(crm.message.contains("roman") && crm.line == Some(9), "{shown}");
    let erp = errs.at("connectors.erp.normalize.mapping").unwrap();
    assert!(erp.message.contains("field mapping"), "{shown}");
    assert_eq!(errs.len(), 3, "{shown}");
}

#[tokio::test(start_paused = true)]
async fn the_example_catalog_mapping_maps_its_xml() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/blueprint.toml"
    ))
    .unwrap();
    let env = HashMap::from([
        ("ORDERS_CLIENT_SECRET".to_owned(), "s".to_owned()),
        ("CATALOG_API_KEY".to_owned(), "k".to_owned()),
    ]);
    let bp = Blueprint::from_str_with_env(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bp.connector("orders").unwrap().tenant_throttle["bulk-importer"].max_in_flight,
        1
    );
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)
        .header("content-type", "application/xml")
        .body("<catalog><item sku='A-1'>Anvil</item></catalog>")]));
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    let (document, _) = registry
        .get("catalog")
        .unwrap()
        .call_document(Request::get("/items/A-1"), Context::new())
        .await
        .unwrap();
    let mapped = registry
        .mapping("catalog")
        .unwrap()
        .apply(&document.value)
        .unwrap_or_else(|e| panic!("{e}: {}", document.value));
    assert_eq!(mapped.to_string(), r#"{"items":[{"name":"Anvil","sku":"A-1"}]}"#);
}
