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
breaker = { enabled = false }
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
        errs.at("connectors.vendor.tenants.acme.breaker")
            .unwrap()
            .message
            .contains("only auth, retry and throttle"),
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
    let ok = text.replace("breaker = { enabled = false }\n", "");
    let bp = Blueprint::from_str_with_env(&ok, &env).unwrap();
    let config = bp.connector("vendor").unwrap();
    assert_eq!(config.auth, AuthConfig::None);
    assert!(matches!(config.tenant_auth["acme"], AuthConfig::Bearer { .. }));
    assert!(matches!(config.tenant_auth["globex"], AuthConfig::ApiKey { .. }));
    assert!(!format!("{bp:?}").contains("\"a\""));
    let explain = bp.explain();
    assert!(
        explain.contains("vendor.tenants.acme: auth.token = <env ACME_TOKEN>, auth.type = \"bearer\""),
        "{explain}"
    );
    assert!(!explain.contains("| a "), "{explain}");
}

#[tokio::test(start_paused = true)]
async fn each_tenant_has_its_own_quota_and_retry_from_the_blueprint() {
    let text = r#"
[connectors.vendor]
base_url = "https://vendor.example"
breaker = { enabled = false }
retry = { max_attempts = 1, base = "10ms", jitter = "none", budget = { ratio = 0 } }

[connectors.vendor.tenants.a]
throttle = { limits = [{ count = 2, per_seconds = 60, burst = 2 }], mode = "reject" }

[connectors.vendor.tenants.b.throttle]
limits = [{ count = 5, per_seconds = 60, burst = 5 }]
mode = "reject"

[connectors.vendor.tenants.patient]
retry.max_attempts = 4
"#;
    let bp = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let config = bp.connector("vendor").unwrap();
    assert_eq!(config.tenant_throttle["a"].limits[0].count, 2);
    assert_eq!(config.tenant_throttle["b"].mode, "reject");
    assert_eq!(config.tenant_retry["patient"].max_attempts, 4);
    assert_eq!(
        config.tenant_retry["patient"].base,
        Duration::from_millis(10),
        "inherited from the connector"
    );
    assert!(config.tenant_auth.is_empty(), "no tenant sets auth");
    let explain = bp.explain();
    assert!(
        explain.contains("  vendor.tenants.a: throttle.limits = [2/60s burst 2], throttle.mode = \"reject\"")
            && explain.contains("  vendor.tenants.patient: retry.max_attempts = 4"),
        "{explain}"
    );
    assert!(!config.throttle.enabled());

    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    let vendor = registry.get("vendor").unwrap();
    let call = |tenant: &'static str| {
        let vendor = vendor.clone();
        async move {
            vendor
                .call(Request::get("/x"), Context::new().tenant(tenant))
                .await
        }
    };
    // Tenant a uses up its quota of 2; b's quota of 5 is untouched by it.
    call("a").await.unwrap();
    call("a").await.unwrap();
    let refused = call("a").await.unwrap_err();
    assert!(refused.is_rate_limited(), "{refused}");
    for _ in 0..5 {
        call("b").await.unwrap();
    }
    assert!(call("b").await.unwrap_err().is_rate_limited());
    assert!(call("a").await.unwrap_err().is_rate_limited());
    // Tenants without a throttle of their own, and calls without a tenant, are not limited.
    for _ in 0..10 {
        call("c").await.unwrap();
        vendor.call(Request::get("/y"), Context::new()).await.unwrap();
    }
    assert!(registry.tenant_throttle("vendor", "a").is_some());
    assert!(registry.tenant_throttle("vendor", "c").is_none());
    assert!(!Arc::ptr_eq(
        &registry.tenant_throttle("vendor", "a").unwrap(),
        &registry.tenant_throttle("vendor", "b").unwrap()
    ));
    assert_eq!(transport.count(), 2 + 5 + 20);

    // A minute later a's quota is back; a reload that keeps a's section keeps its state.
    tokio::time::advance(Duration::from_secs(61)).await;
    let a_before = registry.tenant_throttle("vendor", "a").unwrap();
    let changed = text.replace(
        "count = 5, per_seconds = 60, burst = 5",
        "count = 1, per_seconds = 60",
    );
    registry
        .reload(&Blueprint::from_str_with_env(&changed, &HashMap::new()).unwrap())
        .unwrap();
    assert!(Arc::ptr_eq(
        &a_before,
        &registry.tenant_throttle("vendor", "a").unwrap()
    ));
    let vendor = registry.get("vendor").unwrap();
    vendor
        .call(Request::get("/x"), Context::new().tenant("a"))
        .await
        .unwrap();

    // Retry per tenant: "patient" tries 4 times, everyone else once.
    let flaky = Arc::new(ScriptedTransport::new([MockReply::status(503)]));
    let registry = Registry::from_blueprint(&bp, flaky.clone()).unwrap();
    let vendor = registry.get("vendor").unwrap();
    let err = vendor
        .call(Request::get("/z"), Context::new().tenant("patient"))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 4);
    let err = vendor
        .call(Request::get("/z"), Context::new().tenant("a"))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(flaky.count(), 5);
}

#[test]
fn tenant_quota_and_retry_are_validated_with_paths() {
    let text = r#"
[connectors.vendor]
base_url = "https://vendor.example"
[connectors.vendor.tenants.a]
throttle = { shared = "pool", max_in_flight = 2 }
retry = { max_attempts = 0, shared_budget = "x" }
[connectors.vendor.tenants.b]
throttle = { mode = "reject" }
"#;
    let errs = Blueprint::from_str_with_env(text, &HashMap::new()).unwrap_err();
    let shown = errs.to_string();
    assert!(errs.has("connectors.vendor.tenants.a.throttle.shared"), "{shown}");
    assert!(
        errs.has("connectors.vendor.tenants.a.retry.shared_budget"),
        "{shown}"
    );
    assert_eq!(
        errs.at("connectors.vendor.tenants.a.retry.max_attempts")
            .unwrap()
            .line,
        Some(6),
        "{shown}"
    );
    assert!(
        errs.at("connectors.vendor.tenants.b.throttle")
            .unwrap()
            .message
            .contains("needs throttle.limits"),
        "{shown}"
    );
    assert_eq!(errs.len(), 4, "{shown}");
}

#[tokio::test(start_paused = true)]
async fn tenant_credentials_supplied_at_run_time() {
    let text = r#"
[connectors.vendor]
base_url = "https://vendor.example"
auth = { type = "bearer", token = { env = "SHARED_TOKEN" } }
[connectors.vendor.tenants.acme]
auth = { type = "bearer", token = { env = "ACME_TOKEN" } }
"#;
    let env = HashMap::from([
        ("SHARED_TOKEN".to_owned(), "shared".to_owned()),
        ("ACME_TOKEN".to_owned(), "acme-bp".to_owned()),
    ]);
    let bp = Blueprint::from_str_with_env(text, &env).unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();
    // A connector handed out before the credentials are supplied sees them too.
    let vendor = registry.get("vendor").unwrap();
    let bearer = |token: &str| -> Arc<dyn conn_core::AuthStrategy> {
        Arc::new(conn_auth::StaticBearer::new(secrecy::SecretString::from(
            token.to_owned(),
        )))
    };
    registry.set_tenant_auth("vendor", "late", bearer("late-rt"));
    registry.set_tenant_auth("vendor", "acme", bearer("acme-rt"));
    registry.set_tenant_auth("other", "late", bearer("wrong-connector"));
    let sent = |tenant: Option<&'static str>| {
        let vendor = vendor.clone();
        let transport = transport.clone();
        async move {
            let context = match tenant {
                Some(t) => Context::new().tenant(t),
                None => Context::new(),
            };
            vendor.call(Request::get("/x"), context).await.unwrap();
            let last = transport.requests().pop().unwrap();
            last.request.headers()["authorization"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(sent(Some("late")).await, "Bearer late-rt");
    assert_eq!(sent(Some("acme")).await, "Bearer acme-bp", "the blueprint wins");
    assert_eq!(sent(Some("nobody")).await, "Bearer shared");
    assert_eq!(sent(None).await, "Bearer shared");

    // Supplied credentials survive a reload; withdrawn ones fall back to the connector's.
    registry.reload(&bp).unwrap();
    let vendor = registry.get("vendor").unwrap();
    vendor
        .call(Request::get("/x"), Context::new().tenant("late"))
        .await
        .unwrap();
    let last = transport.requests().pop().unwrap();
    assert_eq!(last.request.headers()["authorization"], "Bearer late-rt");
    assert!(registry.remove_tenant_auth("vendor", "late"));
    assert!(!registry.remove_tenant_auth("vendor", "late"));
    assert_eq!(sent(Some("late")).await, "Bearer shared");
}

/// The same isolation over real sockets, checked where requests land: the
/// test kit server records which token every tenant's request carried.
#[tokio::test]
async fn one_hundred_concurrent_tenants_checked_at_the_test_kit_server() {
    use conn_testkit::{Reply, TestServer};
    let server = TestServer::start().await.unwrap();
    server.route(
        http::Method::GET,
        "/data",
        [Reply::json(200, "{}").delay(Duration::from_millis(5))],
    );
    let mut text = format!(
        "[connectors.vendor]\nbase_url = \"{}\"\nallow_http = true\n\
         auth = {{ type = \"bearer\", token = {{ env = \"SHARED_TOKEN\" }} }}\n",
        server.url()
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
    let transport = Arc::new(conn_transport_hyper::HyperTransport::builder().build().unwrap());
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let vendor = registry.get("vendor").unwrap();
            tokio::spawn(async move {
                let tenant = format!("t{i}");
                let request = Request::get("/data").query("tenant", tenant.as_str());
                vendor.call(request, Context::new().tenant(tenant)).await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let received = server.requests_to("/data");
    assert_eq!(received.len(), 100);
    for request in received {
        let tenant = request.query().unwrap().trim_start_matches("tenant=").to_owned();
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer token-of-{tenant}").as_str())
        );
    }
}

/// `Registry::credential_status`: a tenant's own strategy reports only that
/// tenant (one `TokenAuth` given to two tenants is listed once per tenant
/// that has a token), the connector's static bearer nothing, and never a token.
#[tokio::test(start_paused = true)]
async fn credential_status_lists_each_tenants_token_once() {
    let text = r#"
[connectors.vendor]
base_url = "https://vendor.example"
auth = { type = "bearer", token = { env = "SHARED_TOKEN" } }
"#;
    let env = HashMap::from([("SHARED_TOKEN".to_owned(), "shared".to_owned())]);
    let bp = Blueprint::from_str_with_env(text, &env).unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let registry = Registry::from_blueprint(&bp, transport).unwrap();
    let tokens = Arc::new(
        conn_auth::TokenAuth::builder(Arc::new(conn_auth::provider_fn(|_| async {
            Ok(conn_auth::Token::new("canary-tenant-T0KEN").expires_in(Duration::from_secs(900)))
        })))
        .build(),
    );
    registry.set_tenant_auth("vendor", "acme", tokens.clone());
    registry.set_tenant_auth("vendor", "globex", tokens);
    assert_eq!(registry.credential_status("vendor"), Some(Vec::new()));
    assert_eq!(registry.credential_status("nope"), None);

    let vendor = registry.get("vendor").unwrap();
    vendor
        .call(Request::get("/x"), Context::new().tenant("acme"))
        .await
        .unwrap();
    vendor
        .call(Request::get("/x"), Context::new().tenant("nobody"))
        .await
        .unwrap();
    let statuses = registry.credential_status("vendor").unwrap();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].tenant.as_deref(), Some("acme"));
    assert_eq!(statuses[0].expires_in, Some(Duration::from_secs(900)));
    assert!(!format!("{statuses:?}").contains("canary-tenant-T0KEN"));
}
