//! Per-tenant credentials from the blueprint: a tenant's context selects its
//! token; no credential crosses tenants.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use conn_blueprint::{AuthConfig, Blueprint, Registry};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

#[tokio::test(start_paused = true)]
async fn one_hundred_concurrent_tenants_each_send_only_their_own_token() {
    let mut text = String::from(
        "[connectors.vendor]\nbase_url = \"https://vendor.example\"\n\
         auth = { type = \"bearer\", token = { env = \"SHARED_TOKEN\" } }\n",
    );
    let mut env = HashMap::from([("SHARED_TOKEN".to_owned(), "shared".to_owned())]);
    for i in 0..100 {
        writeln!(
            text,
            "[connectors.vendor.tenants.t{i}]\nauth = {{ type = \"bearer\", token = {{ env = \"TOKEN_{i}\" }} }}"
        )
        .unwrap();
        env.insert(format!("TOKEN_{i}"), format!("token-of-t{i}"));
    }
    let bp = Blueprint::from_str_with_env(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bp.connector("vendor").unwrap().tenant_auth.len(), 100);

    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(200).delay(Duration::from_millis(50))
    ]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    let mut calls = Vec::new();
    for round in 0..3 {
        for i in 0..100 {
            let vendor = registry.get("vendor").unwrap();
            calls.push(tokio::spawn(async move {
                let tenant = format!("t{i}");
                let request = Request::get(format!("/r{round}")).header("x-tenant", tenant.as_str());
                vendor.call(request, Context::new().tenant(tenant)).await
            }));
        }
    }
    // A call without a tenant, and one for an unknown tenant, use the connector's own token.
    let vendor = registry.get("vendor").unwrap();
    vendor.call(Request::get("/anon"), Context::new()).await.unwrap();
    vendor
        .call(Request::get("/other"), Context::new().tenant("zz"))
        .await
        .unwrap();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let sent = transport.requests();
    assert_eq!(sent.len(), 302);
    for request in &sent {
        let headers = request.request.headers();
        let auth = headers["authorization"].to_str().unwrap();
        match headers.get("x-tenant") {
            Some(tenant) => assert_eq!(auth, format!("Bearer token-of-{}", tenant.to_str().unwrap())),
            None => assert_eq!(auth, "Bearer shared"),
        }
    }
}

#[test]
fn tenant_sections_are_validated_with_paths() {
    let text = r#"
[connectors.vendor]
base_url = "https://vendor.example"
[connectors.vendor.tenants.acme]
auth = { type = "bearer", token = { env = "ACME_TOKEN" } }
throttle = { max_in_flight = 1 }
[connectors.vendor.tenants.globex.auth]
type = "api_key"
key = { env = "GLOBEX_KEY" }
"#;
    let errs = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_err();
    let shown = errs.to_string();
    let acme = errs.at("connectors.vendor.tenants.acme.auth.token").unwrap();
    assert!(
        acme.message.contains("ACME_TOKEN") && acme.line == Some(5),
        "{shown}"
    );
    assert!(
        errs.at("connectors.vendor.tenants.acme.throttle")
            .unwrap()
            .message
            .contains("only auth"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.vendor.tenants.globex.auth.key").is_some(),
        "{shown}"
    );
    assert_eq!(errs.len(), 3, "{shown}");

    let env = HashMap::from([
        ("ACME_TOKEN".to_owned(), "a".to_owned()),
        ("GLOBEX_KEY".to_owned(), "g".to_owned()),
    ]);
    let ok = text.replace("throttle = { max_in_flight = 1 }\n", "");
    let bp = Blueprint::from_str_with_env(&ok, &env).unwrap();
    let config = bp.connector("vendor").unwrap();
    assert_eq!(config.auth, AuthConfig::None);
    assert!(matches!(config.tenant_auth["acme"], AuthConfig::Bearer { .. }));
    assert!(matches!(config.tenant_auth["globex"], AuthConfig::ApiKey { .. }));
    assert!(!format!("{bp:?}").contains("\"a\""));
}
