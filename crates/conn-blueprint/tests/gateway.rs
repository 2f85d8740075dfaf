//! The `[gateway]` section: read, validated with key paths and lines,
//! secrets by reference, documented in docs/configuration.md.

use std::collections::HashMap;
use std::time::Duration;

use conn_blueprint::{Blueprint, GATEWAY_KEYS};

const CONNECTORS: &str = r#"
[connectors.orders]
base_url = "https://orders.example"

[connectors.catalog]
base_url = "https://catalog.example"
"#;

fn env() -> HashMap<String, String> {
    HashMap::from([
        ("SHOP_KEY".to_owned(), "s3cr3t-shop-key".to_owned()),
        ("ADMIN_KEY".to_owned(), "s3cr3t-admin-key".to_owned()),
    ])
}

#[test]
fn a_full_section_is_read() {
    let text = format!(
        r#"{CONNECTORS}
[gateway]
listen = "0.0.0.0:9000"
body_limit = 2048
request_timeout = "5s"
max_in_flight = 8
max_header_bytes = 4096
shutdown_grace = "2s"
admin_key = {{ env = "ADMIN_KEY" }}

[gateway.callers.shop]
key = {{ env = "SHOP_KEY" }}
connectors = ["orders"]
tenants = ["acme", "globex"]
rate_limit = {{ count = 10, per_seconds = 1, burst = 3 }}

[gateway.workflows.overview]
timeout = "3s"
steps = [
  {{ name = "order", connector = "orders", path = "/orders/{{id}}" }},
  {{ name = "stock", connector = "catalog", method = "post", path = "/stock" }},
]
"#
    );
    let blueprint = Blueprint::from_str_with_env(&text, &env()).unwrap_or_else(|e| panic!("{e}"));
    let gateway = blueprint.gateway().expect("a [gateway] section");
    assert_eq!(gateway.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(gateway.body_limit, 2048);
    assert_eq!(gateway.request_timeout, Duration::from_secs(5));
    assert_eq!(gateway.max_in_flight, 8);
    assert_eq!(gateway.max_header_bytes, 4096);
    assert_eq!(gateway.shutdown_grace, Duration::from_secs(2));
    let shop = &gateway.callers["shop"];
    assert_eq!(shop.connectors, ["orders"]);
    assert_eq!(shop.tenants, ["acme", "globex"]);
    assert_eq!(shop.rate_limit.unwrap().burst, 3);
    let overview = &gateway.workflows["overview"];
    assert_eq!(overview.timeout, Some(Duration::from_secs(3)));
    assert_eq!(overview.steps[1].method, "POST");
    assert_eq!(overview.steps[0].path, "/orders/{id}");
    // Keys are secrets: never in Debug.
    let debug = format!("{blueprint:?}");
    assert!(
        !debug.contains("s3cr3t") && debug.contains("<env SHOP_KEY>"),
        "{debug}"
    );
}

#[test]
fn no_section_is_fine() {
    let blueprint = Blueprint::from_str_with_env(CONNECTORS, &env()).unwrap();
    assert!(blueprint.gateway().is_none());
}

#[test]
fn every_problem_is_reported_with_its_path_and_line() {
    let text = format!(
        r#"{CONNECTORS}
[gateway]
listen = "not an address"
body_limit = 0
surprise = true
admin_key = {{ value = "inline" }}

[gateway.callers.shop]
connectors = ["orders", "nope"]
tenants = "acme"

[gateway.callers.other]
key = {{ env = "UNSET_KEY" }}

[gateway.workflows.broken]
steps = [{{ name = "x", connector = "ghost", method = "BREW", path = "/x" }}]
"#
    );
    let errors = Blueprint::from_str_with_env(&text, &env()).unwrap_err();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    for (path, needle) in [
        ("gateway.listen", "listen ="),
        ("gateway.body_limit", "body_limit"),
        ("gateway.surprise", "surprise"),
        ("gateway.admin_key", "admin_key"),
        ("gateway.callers.shop.connectors", "\"nope\""),
        ("gateway.callers.shop.tenants", "tenants = \"acme\""),
        ("gateway.callers.other.key", "UNSET_KEY"),
    ] {
        let error = errors
            .at(path)
            .unwrap_or_else(|| panic!("no problem at {path}: {errors}"));
        assert_eq!(error.line, line_of(needle), "{path}: {errors}");
    }
    assert!(errors.has("gateway.callers.shop.key"), "{errors}");
    assert!(
        errors.has("gateway.workflows.broken.steps[0].connector"),
        "{errors}"
    );
    assert!(errors.has("gateway.workflows.broken.steps[0].method"), "{errors}");
    assert!(!errors.to_string().contains("inline\""), "{errors}");
}

#[test]
fn docs_list_every_gateway_key() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    for spec in GATEWAY_KEYS {
        let row = format!("| `gateway.{}` |", spec.path);
        assert!(
            docs.contains(&row),
            "docs/configuration.md has no row for gateway.{}",
            spec.path
        );
    }
}

#[test]
fn gateway_scalars_come_from_conn_gateway_variables() {
    let text = format!(
        r#"{CONNECTORS}
[gateway]
listen = "127.0.0.1:8080"
body_limit = 2048
"#
    );
    let mut env = env();
    env.insert("CONN__GATEWAY__LISTEN".to_owned(), "0.0.0.0:9100".to_owned());
    env.insert("CONN__GATEWAY__MAX_IN_FLIGHT".to_owned(), "7".to_owned());
    env.insert("CONN__GATEWAY__REQUEST_TIMEOUT".to_owned(), "5s".to_owned());
    env.insert("CONN__GATEWAY__SHUTDOWN_GRACE".to_owned(), "2s".to_owned());
    let blueprint = Blueprint::from_str_with_env(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    let gateway = blueprint.gateway().unwrap();
    assert_eq!(
        gateway.listen.to_string(),
        "0.0.0.0:9100",
        "the variable wins over the file"
    );
    assert_eq!(gateway.max_in_flight, 7);
    assert_eq!(gateway.request_timeout, Duration::from_secs(5));
    assert_eq!(gateway.shutdown_grace, Duration::from_secs(2));
    assert_eq!(
        gateway.body_limit, 2048,
        "keys without a variable keep the file's value"
    );

    // Without a [gateway] table, the variables make one.
    let only_env = HashMap::from([("CONN__GATEWAY__BODY_LIMIT".to_owned(), "4096".to_owned())]);
    let blueprint = Blueprint::from_str_with_env(CONNECTORS, &only_env).unwrap();
    assert_eq!(blueprint.gateway().unwrap().body_limit, 4096);
}

#[test]
fn bad_conn_gateway_variables_are_named_in_the_problems() {
    let mut env = env();
    for (var, value) in [
        ("CONN__GATEWAY__LISTEN", "not an address"),
        ("CONN__GATEWAY__MAX_IN_FLIGHT", "0"),
        ("CONN__GATEWAY__REQUEST_TIMEOUT", "soon"),
        ("CONN__GATEWAY__ADMIN_KEY", "s3cr3t-from-env"),
        ("CONN__GATEWAY__CALLERS__SHOP__KEY", "s3cr3t-caller"),
    ] {
        env.insert(var.to_owned(), value.to_owned());
    }
    let errors = Blueprint::from_str_with_env(CONNECTORS, &env).unwrap_err();
    for var in [
        "CONN__GATEWAY__LISTEN",
        "CONN__GATEWAY__MAX_IN_FLIGHT",
        "CONN__GATEWAY__REQUEST_TIMEOUT",
        "CONN__GATEWAY__ADMIN_KEY",
        "CONN__GATEWAY__CALLERS__SHOP__KEY",
    ] {
        assert!(
            errors.has(&format!("env.{var}")),
            "no problem for {var}: {errors}"
        );
    }
    let shown = errors.to_string();
    assert!(shown.contains("settable from the environment: listen"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn a_connector_named_gateway_keeps_its_variables() {
    let text = r#"
[connectors.gateway]
base_url = "https://gateway.example"
"#;
    let env = HashMap::from([("CONN__GATEWAY__RETRY__MAX_ATTEMPTS".to_owned(), "5".to_owned())]);
    let blueprint = Blueprint::from_str_with_env(text, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(blueprint.gateway().is_none());
    assert!(
        blueprint.explain().contains("5 [env]"),
        "the connector's retry comes from the variable:\n{}",
        blueprint.explain()
    );
}
