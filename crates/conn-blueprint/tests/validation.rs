//! Blueprint parsing, layering, env overrides, secrets and validation.

mod common;

use std::time::Duration;

use common::{env, errors};
use conn_blueprint::{AuthConfig, Blueprint, SecretSource};

#[test]
fn minimal_blueprint_gets_documented_defaults() {
    let bp = Blueprint::from_str_with_env(
        "[connectors.billing]\nbase_url = \"https://api.billing.example/v1\"\n",
        &env(&[]),
    )
    .unwrap();
    let c = bp.connector("billing").unwrap();
    assert_eq!(c.attempt_timeout, Duration::from_secs(30));
    assert_eq!(c.total_timeout, Duration::from_secs(120));
    assert_eq!(c.retry.max_attempts, 3);
    assert_eq!(c.retry.backoff, "exponential");
    assert_eq!(c.retry.budget.ratio, 0.1);
    assert!(c.breaker.enabled);
    assert_eq!(c.breaker.consecutive_failures, 5);
    assert!(!c.throttle.enabled());
    assert_eq!(c.auth, AuthConfig::None);
    assert!(!c.allow_http);
    assert!(!c.redirects.follow);
    assert_eq!(bp.names().collect::<Vec<_>>(), ["billing"]);
}

#[test]
fn every_validation_error_kind_is_reported_together_with_paths_and_lines() {
    let text = r#"allow_inline_secrets = false
bogus_top = 1

[defaults]
timeouts = { attempt = "10s", total = "5s" }

[connectors.billing]
base_url = "http://billing.internal"
auth = { type = "bearer", token = { env = "BILLING_TOKEN" } }
retry = { max_attempts = "five", backof = "exponential" }
throttle = { limits = [{ count = 10, per_seconds = 1, burst = 0 }], key = "planet" }

[connectors.crm]
base_url = "https://crm.example"
auth = { type = "api_key", key = { value = "inline-key" } }
breaker = { cooldown = "soon", colour = "red" }
normalize.force_array = [1]
"#;
    let errs = errors(text, &[]);
    let shown = errs.to_string();
    let expect = [
        ("bogus_top", Some(2), "unknown key"),
        (
            "connectors.billing.retry.max_attempts",
            Some(10),
            "expected an integer",
        ),
        ("connectors.billing.retry.backof", Some(10), "unknown key"),
        (
            "connectors.billing.throttle.limits[0].burst",
            Some(11),
            "at least 1",
        ),
        (
            "connectors.billing.throttle.key",
            Some(11),
            "expected one of global, tenant",
        ),
        ("connectors.crm.breaker.cooldown", Some(16), "expected a duration"),
        ("connectors.crm.breaker.colour", Some(16), "unknown key"),
        (
            "connectors.crm.normalize.force_array[0]",
            Some(17),
            "expected a string",
        ),
        (
            "connectors.billing.auth.token",
            Some(9),
            "environment variable BILLING_TOKEN is not set",
        ),
        (
            "connectors.billing.base_url",
            Some(8),
            "http:// base URL with credentials",
        ),
        (
            "connectors.billing.timeouts.total",
            Some(5),
            "shorter than one attempt timeout",
        ),
        ("connectors.crm.auth.key", Some(15), "inline secrets are refused"),
        (
            "connectors.crm.timeouts.total",
            Some(5),
            "shorter than one attempt timeout",
        ),
    ];
    for (path, line, needle) in expect {
        let e = errs
            .at(path)
            .unwrap_or_else(|| panic!("no error at {path}:\n{shown}"));
        assert_eq!(e.line, line, "line of {path}:\n{shown}");
        assert!(
            e.message.contains(needle),
            "{path}: {} lacks {needle:?}",
            e.message
        );
    }
    assert_eq!(errs.len(), expect.len(), "{shown}");
    assert!(!shown.contains("inline-key"), "a secret leaked: {shown}");
    assert!(shown.contains("connectors.billing.retry.max_attempts: expected an integer (at least 1), found a string (line 10)"), "{shown}");
}

#[test]
fn toml_syntax_error_has_a_line() {
    let errs = errors("[connectors.a]\nbase_url = \"https://x\"\nretry = {\n", &[]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs.errors()[0].path, "<toml>");
    assert!(errs.errors()[0].line.is_some());
}

#[test]
fn missing_base_url_and_auth_params_and_stray_auth_keys() {
    let text = r#"
[connectors.a]
auth = { type = "basic", password = { env = "PW" }, token = { env = "T" } }

[connectors.c]
base_url = "https://user:pw@c.example"

[connectors.b]
base_url = "ftp://b.example"
auth = { type = "oauth2_client_credentials", token_url = "http://idp.local/token", client_id = "id", client_secret = { env = "SECRET" } }
"#;
    let errs = errors(text, &[("PW", "pw"), ("SECRET", "s")]);
    let shown = errs.to_string();
    assert!(
        errs.at("connectors.a.base_url")
            .unwrap()
            .message
            .contains("missing"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.a.auth.username")
            .unwrap()
            .message
            .contains("missing"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.a.auth.token")
            .unwrap()
            .message
            .contains("not used by auth.type"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.b.base_url")
            .unwrap()
            .message
            .contains("absolute"),
        "{shown}"
    );
    assert!(
        errs.at("connectors.b.auth.token_url")
            .unwrap()
            .message
            .contains("allow_http"),
        "{shown}"
    );
    let c = errs.at("connectors.c.base_url").unwrap();
    assert!(
        c.message.contains("not a valid base URL") && !c.message.contains("pw"),
        "{shown}"
    );
    assert_eq!(errs.len(), 6, "{shown}");
}

#[test]
fn missing_secret_env_var_is_an_error_and_present_one_resolves() {
    let text = r#"
[connectors.vendor]
base_url = "https://api.vendor.example"
auth = { type = "api_key", header = "X-Key", key = { env = "VENDOR_KEY" } }
"#;
    let errs = errors(text, &[]);
    let e = errs.at("connectors.vendor.auth.key").unwrap();
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("VENDOR_KEY"));

    let bp = Blueprint::from_str_with_env(text, &env(&[("VENDOR_KEY", "sup3r-s3cret")])).unwrap();
    let debug = format!("{bp:?}");
    assert!(!debug.contains("sup3r-s3cret"), "{debug}");
    assert!(debug.contains("<env VENDOR_KEY>"), "{debug}");
    match &bp.connector("vendor").unwrap().auth {
        AuthConfig::ApiKey { key, .. } => {
            assert_eq!(key.source(), &SecretSource::Env("VENDOR_KEY".into()));
            assert_eq!(secrecy::ExposeSecret::expose_secret(key.value()), "sup3r-s3cret");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn file_secrets_and_inline_opt_in() {
    let dir = std::env::temp_dir().join(format!("conn-blueprint-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let text = format!(
        r#"allow_inline_secrets = true
[connectors.a]
base_url = "https://a.example"
auth = {{ type = "bearer", token = {{ file = "{}" }} }}
[connectors.b]
base_url = "https://b.example"
auth = {{ type = "basic", username = "u", password = {{ value = "inline-pw" }} }}
[connectors.c]
base_url = "https://c.example"
auth = {{ type = "bearer", token = {{ file = "{}/missing" }} }}
"#,
        file.display(),
        dir.display()
    );
    let errs = errors(&text, &[]);
    assert_eq!(errs.len(), 1, "{errs}");
    assert!(
        errs.at("connectors.c.auth.token")
            .unwrap()
            .message
            .contains("cannot read secret file")
    );

    let ok = text.split("[connectors.c]").next().unwrap();
    let bp = Blueprint::from_str_with_env(ok, &env(&[])).unwrap();
    let explain = bp.explain();
    assert!(
        explain.contains(&format!("<file {}>", file.display())),
        "{explain}"
    );
    assert!(explain.contains("<inline secret>"), "{explain}");
    assert!(
        !explain.contains("inline-pw") && !explain.contains("from-file"),
        "{explain}"
    );
    match &bp.connector("a").unwrap().auth {
        AuthConfig::Bearer { token } => {
            assert_eq!(secrecy::ExposeSecret::expose_secret(token.value()), "from-file")
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(dir).ok();
}

const LAYERED: &str = r#"
[defaults]
retry.max_attempts = 2
timeouts.attempt = "5s"
auth = { type = "bearer", token = { env = "DEFAULT_TOKEN" } }

[connectors.billing]
base_url = "https://billing.example"
retry.max_attempts = 4

[connectors.my-crm]
base_url = "https://crm.example"
auth = { type = "none" }
"#;

#[test]
fn precedence_is_env_over_connector_over_defaults_over_schema() {
    let bp = Blueprint::from_str_with_env(LAYERED, &env(&[("DEFAULT_TOKEN", "t")])).unwrap();
    assert_eq!(bp.connector("billing").unwrap().retry.max_attempts, 4);
    assert_eq!(bp.connector("my-crm").unwrap().retry.max_attempts, 2);
    assert_eq!(
        bp.connector("my-crm").unwrap().attempt_timeout,
        Duration::from_secs(5)
    );
    assert_eq!(bp.connector("billing").unwrap().retry.jitter, "full");
    // The connector's [auth] replaces the defaults' one as a whole.
    assert_eq!(bp.connector("my-crm").unwrap().auth, AuthConfig::None);
    assert!(matches!(
        bp.connector("billing").unwrap().auth,
        AuthConfig::Bearer { .. }
    ));

    let bp = Blueprint::from_str_with_env(
        LAYERED,
        &env(&[
            ("DEFAULT_TOKEN", "t"),
            ("CONN__BILLING__RETRY__MAX_ATTEMPTS", "7"),
            ("CONN__MY_CRM__TIMEOUTS__ATTEMPT", "750ms"),
            ("CONN__DEFAULTS__RETRY__MAX_ATTEMPTS", "5"),
            ("CONN__MY_CRM__BREAKER__ENABLED", "false"),
            ("CONN__BILLING__TIMEOUTS__TOTAL", "90"),
        ]),
    )
    .unwrap();
    let billing = bp.connector("billing").unwrap();
    let crm = bp.connector("my-crm").unwrap();
    assert_eq!(billing.retry.max_attempts, 7, "env beats the connector table");
    assert_eq!(
        crm.retry.max_attempts, 5,
        "env [defaults] beats the defaults table"
    );
    assert_eq!(crm.attempt_timeout, Duration::from_millis(750));
    assert!(!crm.breaker.enabled);
    assert_eq!(
        billing.total_timeout,
        Duration::from_secs(90),
        "a bare number is seconds"
    );
    let explain = bp.explain();
    assert!(explain.contains("7 [env]"), "{explain}");
    assert!(explain.contains("<env DEFAULT_TOKEN> [defaults]"), "{explain}");
}

#[test]
fn bad_env_overrides_are_reported_with_the_variable() {
    let errs = errors(
        LAYERED,
        &[
            ("DEFAULT_TOKEN", "t"),
            ("CONN__BILLING__RETRY__MAX_ATTEMPTS", "many"),
            ("CONN__BILLING__RETRY__NOPE", "1"),
            ("CONN__NOBODY__RETRY__MAX_ATTEMPTS", "1"),
            ("CONN__BILLING__HEADERS", "x"),
            ("CONN__BILLING__TIMEOUTS__TOTAL", "1s"),
        ],
    );
    let shown = errs.to_string();
    assert!(
        errs.at("env.CONN__BILLING__RETRY__MAX_ATTEMPTS")
            .unwrap()
            .message
            .contains("expected an integer"),
        "{shown}"
    );
    assert!(
        errs.at("env.CONN__BILLING__RETRY__NOPE")
            .unwrap()
            .message
            .contains("unknown key"),
        "{shown}"
    );
    assert!(
        errs.at("env.CONN__NOBODY__RETRY__MAX_ATTEMPTS")
            .unwrap()
            .message
            .contains("no connector"),
        "{shown}"
    );
    assert!(
        errs.at("env.CONN__BILLING__HEADERS")
            .unwrap()
            .message
            .contains("cannot be set"),
        "{shown}"
    );
    let total = errs.at("connectors.billing.timeouts.total").unwrap();
    assert!(
        total.message.contains("set by CONN__BILLING__TIMEOUTS__TOTAL"),
        "{shown}"
    );
    assert_eq!(errs.len(), 5, "{shown}");
}

#[test]
fn shared_groups_must_agree() {
    let text = r#"
[connectors.a]
base_url = "https://a.example"
throttle = { limits = [{ count = 10, per_seconds = 1 }], shared = "vendor" }
retry = { shared_budget = "vendor", budget = { ratio = 0.2 } }
[connectors.b]
base_url = "https://b.example"
throttle = { limits = [{ count = 20, per_seconds = 1 }], shared = "vendor" }
retry = { shared_budget = "vendor" }
"#;
    let errs = errors(text, &[]);
    assert!(errs.has("connectors.b.throttle"), "{errs}");
    assert!(errs.has("connectors.b.retry.budget"), "{errs}");
    assert_eq!(errs.len(), 2, "{errs}");
}

#[test]
fn explain_lists_every_key_with_default_and_values() {
    let bp = Blueprint::from_str_with_env(LAYERED, &env(&[("DEFAULT_TOKEN", "t")])).unwrap();
    let explain = bp.explain();
    for spec in conn_blueprint::schema::KEYS {
        assert!(
            explain.lines().any(|l| l.starts_with(spec.path)),
            "{} missing:\n{explain}",
            spec.path
        );
    }
    let header = explain.lines().next().unwrap();
    assert!(header.contains("billing") && header.contains("my-crm") && header.contains("default"));
    let attempts = explain
        .lines()
        .find(|l| l.starts_with("retry.max_attempts"))
        .unwrap();
    assert!(
        attempts.contains("| 3 ") && attempts.contains("| 4 ") && attempts.contains("2 [defaults]"),
        "{attempts}"
    );
}

#[test]
fn the_example_blueprint_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/blueprint.toml"
    ))
    .unwrap();
    let bp = Blueprint::from_str_with_env(
        &text,
        &env(&[("ORDERS_CLIENT_SECRET", "s"), ("CATALOG_API_KEY", "k")]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bp.names().collect::<Vec<_>>(), ["catalog", "flaky", "orders"]);
    let errs = errors(&text, &[]);
    assert_eq!(errs.len(), 2, "both secrets missing: {errs}");
}

#[test]
fn docs_table_lists_every_key_with_its_default() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    for spec in conn_blueprint::schema::KEYS {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", spec.path)))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {}", spec.path));
        if let Some(default) = spec.default {
            assert!(
                row.contains(&format!("`{default}`")),
                "{} default {default} not in: {row}",
                spec.path
            );
        }
    }
}
