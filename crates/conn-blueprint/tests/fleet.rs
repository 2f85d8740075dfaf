//! The `[fleet]` section and per-connector opt-in: validation with paths
//! and lines, the async constructor, and two registries of one blueprint
//! sharing one quota and one token on a real redis-server (real sockets:
//! generous limits, exact counts at the test server).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{env, errors, line};
use conn_blueprint::{Blueprint, FLEET_KEYS, FleetUse, Registry};
use conn_core::store::{BreakerSignal, OperatorState};
use conn_core::{Context, ErrorKind, Request};
use conn_redis::FailurePolicy;
use conn_testkit::{MockReply, RedisServer, Reply, ScriptedTransport, TestServer};
use http::Method;

const TOKEN_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[test]
fn a_full_section_and_the_shorthand_are_read() {
    let text = r#"
[fleet]
url = { env = "REDIS_URL" }
key_prefix = "billing-sync"
op_timeout = "30ms"
connect_timeout = "2s"
failure_policy = "fail_open"
replicas = 8
token_key = { env = "FLEET_KEY" }
announce_opens = true

[connectors.billing]
base_url = "https://billing.example"
fleet = true

[connectors.crm]
base_url = "https://crm.example"
fleet = { throttle = true }

[connectors.local]
base_url = "https://local.example"
"#;
    let bp = Blueprint::from_str_with_env(
        text,
        &env(&[
            ("REDIS_URL", "redis://:hunter2@10.0.0.5:6379"),
            ("FLEET_KEY", TOKEN_KEY),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let fleet = bp.fleet().expect("a [fleet] section");
    assert_eq!(fleet.key_prefix, "billing-sync");
    assert_eq!(fleet.op_timeout, Duration::from_millis(30));
    assert_eq!(fleet.connect_timeout, Duration::from_secs(2));
    assert_eq!(fleet.failure_policy, FailurePolicy::fail_open(8));
    assert!(fleet.announce_opens && !fleet.cluster);
    let billing = bp.connector("billing").unwrap().fleet;
    assert!(billing.throttle && billing.tokens && billing.breaker);
    let crm = bp.connector("crm").unwrap().fleet;
    assert!(crm.throttle && !crm.tokens && !crm.breaker);
    assert_eq!(bp.connector("local").unwrap().fleet, FleetUse::default());
    // The URL holds a password: neither Debug nor explain shows it.
    let shown = format!("{bp:?}{}", bp.explain());
    assert!(!shown.contains("hunter2") && !shown.contains("MDEy"), "{shown}");
    assert!(bp.explain().contains("fleet.throttle"));
}

#[test]
fn every_problem_has_its_path_and_line() {
    let text = r#"
[fleet]
url = { env = "REDIS_URL" }
failure_policy = "maybe"
replicas = 0
op_timeout = "0s"
token_key = { env = "FLEET_KEY" }
key_prefix = "a{b}"
colour = "blue"

[connectors.billing]
base_url = "https://billing.example"
fleet = { throttle = true, tokens = true, gossip = true }
"#;
    let errs = errors(text, &[("FLEET_KEY", "too-short")]);
    assert_eq!(line(&errs, "fleet.url"), Some(3));
    assert!(
        errs.at("fleet.url")
            .unwrap()
            .message
            .contains("REDIS_URL is not set"),
        "{errs}"
    );
    assert_eq!(line(&errs, "fleet.failure_policy"), Some(4));
    assert_eq!(line(&errs, "fleet.replicas"), Some(5));
    assert_eq!(line(&errs, "fleet.op_timeout"), Some(6));
    assert_eq!(line(&errs, "fleet.token_key"), Some(7));
    assert!(
        errs.at("fleet.token_key")
            .unwrap()
            .message
            .contains("<env FLEET_KEY>"),
        "{errs}"
    );
    assert_eq!(line(&errs, "fleet.key_prefix"), Some(8));
    assert_eq!(line(&errs, "fleet.colour"), Some(9));
    assert_eq!(line(&errs, "connectors.billing.fleet.gossip"), Some(13));
    assert!(!errs.to_string().contains("too-short"), "a secret in: {errs}");
}

#[test]
fn opting_in_needs_a_fleet_section_and_tokens_need_a_key() {
    let text = r#"
[connectors.billing]
base_url = "https://billing.example"
fleet.breaker = true
"#;
    let errs = errors(text, &[]);
    assert_eq!(line(&errs, "connectors.billing.fleet.breaker"), Some(4));
    assert!(errs.to_string().contains("no [fleet] section"), "{errs}");

    let errs = errors(
        text,
        &[
            ("CONN__BILLING__FLEET__THROTTLE", "true"),
            ("CONN__BILLING__FLEET__BREAKER", "false"),
        ],
    );
    let problem = errs
        .at("connectors.billing.fleet.throttle")
        .expect("set from the environment");
    assert!(
        problem.message.contains("CONN__BILLING__FLEET__THROTTLE"),
        "{errs}"
    );

    let text = r#"
[fleet]
url = { env = "REDIS_URL" }

[connectors.billing]
base_url = "https://billing.example"
fleet.tokens = true
"#;
    let errs = errors(text, &[("REDIS_URL", "redis://127.0.0.1:1")]);
    assert_eq!(line(&errs, "connectors.billing.fleet.tokens"), Some(7));
    assert!(errs.to_string().contains("token_key"), "{errs}");
}

#[test]
fn urls_are_checked_without_being_shown() {
    let base = "\n[connectors.a]\nbase_url = \"https://a.example\"\n";
    let with = |extra: &str| format!("[fleet]\nurl = {{ env = \"REDIS_URL\" }}\n{extra}{base}");
    let errs = errors(&with(""), &[("REDIS_URL", "http://:s3cret@redis.example")]);
    assert!(
        errs.at("fleet.url").unwrap().message.contains("not a redis://"),
        "{errs}"
    );
    let errs = errors(
        &with(""),
        &[("REDIS_URL", "redis://:s3cret@a:1,redis://:s3cret@b:2")],
    );
    assert!(
        errs.at("fleet.url").unwrap().message.contains("cluster = true"),
        "{errs}"
    );
    assert!(!errs.to_string().contains("s3cret"), "{errs}");
    let bp = Blueprint::from_str_with_env(
        &with("cluster = true\n"),
        &env(&[("REDIS_URL", "redis://a:1, redis://b:2")]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(bp.fleet().unwrap().cluster);
    let errs = errors(&format!("[fleet]\ncluster = true\n{base}"), &[]);
    assert_eq!(line(&errs, "fleet.url"), Some(1));
}

#[test]
fn quota_groups_agree_on_the_fleet() {
    let text = r#"
[fleet]
url = { env = "REDIS_URL" }

[connectors.a]
base_url = "https://a.example"
throttle = { limits = [{ count = 5, per_seconds = 1 }], shared = "vendor" }
fleet.throttle = true

[connectors.b]
base_url = "https://b.example"
throttle = { limits = [{ count = 5, per_seconds = 1 }], shared = "vendor" }
"#;
    let errs = errors(text, &[("REDIS_URL", "redis://127.0.0.1:1")]);
    assert!(errs.has("connectors.b.fleet.throttle"), "{errs}");
}

#[test]
fn the_sync_constructors_refuse_a_fleet_blueprint() {
    let text = "[fleet]\nurl = { env = \"REDIS_URL\" }\n[connectors.a]\nbase_url = \"https://a.example\"\n";
    let bp = Blueprint::from_str_with_env(text, &env(&[("REDIS_URL", "redis://127.0.0.1:1")])).unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let err = Registry::from_blueprint(&bp, transport).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("from_blueprint_with_fleet"), "{err}");
    let err = Registry::from_blueprint_hyper(&bp).unwrap_err();
    assert!(err.to_string().contains("from_blueprint_with_fleet"), "{err}");
}

#[test]
fn the_docs_list_every_fleet_key_with_its_default() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    for spec in FLEET_KEYS {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `fleet.{}` |", spec.path)))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for fleet.{}", spec.path));
        if let Some(default) = spec.default {
            assert!(
                row.contains(&format!("`{default}`")),
                "fleet.{}: {row}",
                spec.path
            );
        }
    }
}

const TOKEN: &str = r#"{"access_token": "fleet-token", "token_type": "Bearer", "expires_in": 3600}"#;

fn fleet_blueprint(api: &str) -> String {
    format!(
        r#"
[fleet]
url = {{ env = "REDIS_URL" }}
key_prefix = "bp-test"
op_timeout = "500ms"
token_key = {{ env = "FLEET_KEY" }}

[connectors.vendor]
base_url = "{api}"
allow_http = true
retry.max_attempts = 1
throttle = {{ limits = [{{ count = 10, per_seconds = 3600, burst = 10 }}], mode = "reject" }}
auth = {{ type = "oauth2_client_credentials", token_url = "{api}/token", client_id = "c", client_secret = {{ env = "SECRET" }} }}
fleet = true

[connectors.solo]
base_url = "{api}"
allow_http = true
throttle = {{ limits = [{{ count = 10, per_seconds = 3600, burst = 10 }}], mode = "reject" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_registries_of_one_blueprint_share_one_quota_and_one_token() {
    let redis = RedisServer::start().expect("redis-server (installed by cargo xtask test-all)");
    let api = TestServer::start().await.unwrap();
    api.route(Method::GET, "/items", [Reply::json(200, "{}")]);
    api.route(Method::GET, "/solo", [Reply::json(200, "{}")]);
    api.route(Method::POST, "/token", [Reply::json(200, TOKEN)]);
    let vars = env(&[
        ("REDIS_URL", &redis.url()),
        ("FLEET_KEY", TOKEN_KEY),
        ("SECRET", "s"),
    ]);
    let bp =
        Blueprint::from_str_with_env(&fleet_blueprint(&api.url()), &vars).unwrap_or_else(|e| panic!("{e}"));
    let a = Registry::from_blueprint_hyper_with_fleet(&bp).await.unwrap();
    let b = Registry::from_blueprint_hyper_with_fleet(&bp).await.unwrap();

    // 15 calls from each replica; the fleet quota is 10 in all.
    let mut refused = 0;
    for _ in 0..15 {
        for registry in [&a, &b] {
            let vendor = registry.get("vendor").unwrap();
            match vendor.call(Request::get("/items"), Context::new()).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::RateLimited => refused += 1,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
    }
    assert_eq!(api.hits("/items"), 10, "the upstream saw the fleet's quota");
    assert_eq!(refused, 20);
    assert_eq!(api.hits("/token"), 1, "one token request for the fleet");

    // A connector that did not opt in keeps its quota per process.
    for registry in [&a, &b] {
        for _ in 0..10 {
            registry
                .get("solo")
                .unwrap()
                .call(Request::get("/solo"), Context::new())
                .await
                .unwrap();
        }
    }
    assert_eq!(api.hits("/solo"), 20);

    // An operator's force-open on one replica reaches the other.
    a.fleet()
        .expect("connected")
        .signal()
        .set_operator_state("vendor", OperatorState::ForcedOpen)
        .await
        .unwrap();
    let vendor_b = b.get("vendor").unwrap();
    let mut open = false;
    for _ in 0..50 {
        let err = vendor_b
            .call(Request::get("/items"), Context::new())
            .await
            .unwrap_err();
        if err.kind() == ErrorKind::CircuitOpen {
            open = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(open, "the override reached the other registry");

    // A reload keeps the connection (and the fleet quota); one that changes it is refused.
    b.reload(&bp).unwrap();
    assert!(b.fleet().is_some());
    let mut moved = vars.clone();
    moved.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    let elsewhere = Blueprint::from_str_with_env(&fleet_blueprint(&api.url()), &moved).unwrap();
    let err = b.reload(&elsewhere).unwrap_err();
    assert!(err.to_string().contains("restart"), "{err}");
    assert!(!err.to_string().contains("127.0.0.1:1"), "{err}");
}
