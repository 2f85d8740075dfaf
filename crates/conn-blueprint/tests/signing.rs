//! Blueprints configure request signing and discovery: aws_sigv4, hmac,
//! oidc_client_credentials and private_key_jwt build working strategies,
//! and mistakes are validation errors at their keys.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::env;
use conn_auth::{HmacKey, HmacScheme, HmacVerifier};
use conn_blueprint::{AuthConfig, Blueprint, Registry, SigningAuth};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};

const RSA_PEM: &str = include_str!("../../conn-auth/tests/data/keys/test-rsa-2048.pk8.pem");

const SIGNING: &str = r#"
[connectors.s3]
base_url = "https://reports.s3.eu-west-1.amazonaws.com"
auth = { type = "aws_sigv4", region = "eu-west-1", service = "s3", access_key_id = { env = "AWS_KEY_ID" }, secret_access_key = { env = "AWS_SECRET" }, session_token = { env = "AWS_TOKEN" }, payload = "unsigned" }

[connectors.partner]
base_url = "https://api.partner.example/v1"
auth = { type = "hmac", key = { env = "PARTNER_KEY" }, signed_parts = ["timestamp", "method", "path", "body_sha256"], signature_header = "X-Partner-Signature", signature_prefix = "sha256=", separator = "|", timestamp_header = "X-Partner-Timestamp" }

[connectors.hooks]
base_url = "https://hooks.example"
auth = { type = "hmac", scheme = "stripe", key = { env = "PARTNER_KEY" } }

[connectors.crm]
base_url = "https://api.crm.example"
auth = { type = "oidc_client_credentials", issuer = "https://login.crm.example/realms/acme", client_id = "sync", client_secret = { env = "CRM_SECRET" }, scopes = ["contacts:read"] }

[connectors.bank]
base_url = "https://api.bank.example"
auth = { type = "private_key_jwt", token_url = "https://auth.bank.example/token", client_id = "ledger", private_key = { env = "BANK_KEY" }, key_id = "2024-01" }
"#;

fn signing_env() -> HashMap<String, String> {
    env(&[
        ("AWS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET", "CANARY-aws-secret-0b1e"),
        ("AWS_TOKEN", "CANARY-aws-token-77ac"),
        ("PARTNER_KEY", "CANARY-partner-key-19d3"),
        ("CRM_SECRET", "CANARY-crm-secret-5e20"),
        ("BANK_KEY", RSA_PEM),
    ])
}

#[tokio::test(start_paused = true)]
async fn every_signing_type_builds_a_working_strategy() {
    let bp = Blueprint::from_str_with_env(SIGNING, &signing_env()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        bp.connector("s3").unwrap().auth,
        AuthConfig::Signing(SigningAuth::AwsSigV4 {
            unsigned_payload: true,
            ..
        })
    ));
    let shown = format!("{bp:?} {}", bp.explain());
    for canary in [
        "CANARY-aws-secret",
        "CANARY-aws-token",
        "CANARY-partner-key",
        "CANARY-crm-secret",
        "PRIVATE KEY",
    ] {
        assert!(!shown.contains(canary), "{canary} shown");
    }

    let transport = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();

    registry
        .get("s3")
        .unwrap()
        .call(Request::get("/2024/q4.csv"), Context::new())
        .await
        .unwrap();
    let sent = transport.requests().pop().unwrap().request;
    let authorization = sent.headers()["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{authorization}"
    );
    assert!(authorization.contains("/eu-west-1/s3/aws4_request"));
    assert_eq!(sent.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    assert_eq!(sent.headers()["x-amz-security-token"], "CANARY-aws-token-77ac");

    registry
        .get("partner")
        .unwrap()
        .call(Request::post("/orders").body("{}"), Context::new())
        .await
        .unwrap();
    let sent = transport.requests().pop().unwrap().request;
    assert!(
        sent.headers()["x-partner-signature"]
            .to_str()
            .unwrap()
            .starts_with("sha256=")
    );
    let partner = HmacScheme::new(
        ["timestamp", "method", "path", "body_sha256"]
            .iter()
            .map(|p| match *p {
                "timestamp" => conn_auth::SignedPart::Timestamp,
                "method" => conn_auth::SignedPart::Method,
                "path" => conn_auth::SignedPart::Path,
                _ => conn_auth::SignedPart::BodySha256,
            })
            .collect(),
        conn_auth::SignatureLayout::Header {
            name: http::HeaderName::from_static("x-partner-signature"),
            prefix: "sha256=".into(),
        },
    )
    .separator("|")
    .timestamp_header(http::HeaderName::from_static("x-partner-timestamp"));
    HmacVerifier::new(partner, HmacKey::from("CANARY-partner-key-19d3"))
        .verify_request(&sent)
        .unwrap();

    registry
        .get("hooks")
        .unwrap()
        .call(Request::post("/e").body("{}"), Context::new())
        .await
        .unwrap();
    let sent = transport.requests().pop().unwrap().request;
    HmacVerifier::new(HmacScheme::stripe(), HmacKey::from("CANARY-partner-key-19d3"))
        .verify_request(&sent)
        .unwrap();

    transport.push([
        MockReply::json(
            200,
            r#"{"issuer": "https://login.crm.example/realms/acme",
                "token_endpoint": "https://login.crm.example/realms/acme/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post"]}"#,
        ),
        MockReply::json(200, r#"{"access_token":"crm-token","expires_in":3600}"#),
        MockReply::json(200, "{}"),
    ]);
    registry
        .get("crm")
        .unwrap()
        .call(Request::get("/contacts"), Context::new())
        .await
        .unwrap();
    let sent = transport.requests();
    let n = sent.len();
    assert_eq!(
        sent[n - 3].request.uri(),
        "https://login.crm.example/realms/acme/.well-known/openid-configuration"
    );
    assert_eq!(
        sent[n - 2].request.uri(),
        "https://login.crm.example/realms/acme/token"
    );
    assert_eq!(sent[n - 1].request.headers()["authorization"], "Bearer crm-token");

    transport.push([
        MockReply::json(200, r#"{"access_token":"bank-token","expires_in":3600}"#),
        MockReply::json(200, "{}"),
    ]);
    registry
        .get("bank")
        .unwrap()
        .call(Request::get("/accounts"), Context::new())
        .await
        .unwrap();
    let sent = transport.requests();
    let n = sent.len();
    let form = String::from_utf8(sent[n - 2].request.body().to_vec()).unwrap();
    assert!(
        form.contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        )
    );
    assert!(form.contains("client_assertion=ey"));
    assert_eq!(
        sent[n - 1].request.headers()["authorization"],
        "Bearer bank-token"
    );
}

fn errors(text: &str, vars: &[(&str, &str)]) -> String {
    common::errors(text, vars).to_string()
}

#[test]
fn mistakes_are_validation_errors_at_their_keys() {
    let missing = errors(
        r#"
[connectors.s3]
base_url = "https://s3.example"
auth = { type = "aws_sigv4", service = "s3", secret_access_key = { env = "S" } }
"#,
        &[("S", "s")],
    );
    assert!(missing.contains("connectors.s3.auth.region"), "{missing}");
    assert!(missing.contains("connectors.s3.auth.access_key_id"), "{missing}");

    let bad_part = errors(
        r#"
[connectors.p]
base_url = "https://p.example"
auth = { type = "hmac", key = { env = "K" }, signed_parts = ["method", "bogus"] }
"#,
        &[("K", "k")],
    );
    assert!(
        bad_part.contains("auth.signed_parts") && bad_part.contains("bogus"),
        "{bad_part}"
    );

    let nowhere_for_the_timestamp = errors(
        r#"
[connectors.p]
base_url = "https://p.example"
auth = { type = "hmac", scheme = "stripe", key = { env = "K" }, signature_header = "X-Sig" }
"#,
        &[("K", "k")],
    );
    assert!(
        nowhere_for_the_timestamp.contains("timestamp header"),
        "{nowhere_for_the_timestamp}"
    );

    let stray = errors(
        r#"
[connectors.p]
base_url = "https://p.example"
auth = { type = "hmac", key = { env = "K" }, region = "eu-west-1" }
"#,
        &[("K", "k")],
    );
    assert!(
        stray.contains("auth.region") && stray.contains("not used by auth.type"),
        "{stray}"
    );

    let bad_key = errors(
        r#"
[connectors.b]
base_url = "https://b.example"
auth = { type = "private_key_jwt", token_url = "https://b.example/token", client_id = "c", private_key = { env = "PK" } }
"#,
        &[(
            "PK",
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----",
        )],
    );
    assert!(
        bad_key.contains("auth.private_key") && !bad_key.contains("bm90IGEga2V5"),
        "{bad_key}"
    );

    let plain_issuer = errors(
        r#"
[connectors.c]
base_url = "https://c.example"
auth = { type = "oidc_client_credentials", issuer = "http://login.example", client_id = "c", client_secret = { env = "S" } }
"#,
        &[("S", "s")],
    );
    assert!(
        plain_issuer.contains("auth.issuer") && plain_issuer.contains("allow_http"),
        "{plain_issuer}"
    );
}

#[test]
fn oidc_takes_a_secret_or_a_private_key_not_both() {
    let with_key = r#"
[connectors.crm]
base_url = "https://api.crm.example"
auth = { type = "oidc_client_credentials", issuer = "https://login.crm.example", client_id = "sync", private_key = { env = "PK" }, key_id = "k1" }
"#;
    let bp =
        Blueprint::from_str_with_env(with_key, &env(&[("PK", RSA_PEM)])).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        &bp.connector("crm").unwrap().auth,
        AuthConfig::Signing(SigningAuth::OidcClientCredentials {
            private_key: Some(_),
            client_secret: None,
            ..
        })
    ));
    let both = with_key.replace("key_id = \"k1\"", "client_secret = { env = \"S\" }");
    let err = errors(&both, &[("PK", RSA_PEM), ("S", "s")]);
    assert!(err.contains("not both"), "{err}");
    let neither = with_key.replace("private_key = { env = \"PK\" }, ", "");
    let err = errors(&neither, &[]);
    assert!(err.contains("auth.client_secret"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_blueprint_aws_sigv4_connector_corrects_clock_skew_once() {
    let bp = Blueprint::from_str_with_env(SIGNING, &signing_env()).unwrap_or_else(|e| panic!("{e}"));
    // The server's clock runs 20 minutes ahead and says so, the way S3 does.
    let server_time = std::time::SystemTime::now() + std::time::Duration::from_secs(20 * 60);
    let skewed = MockReply::status(403)
        .header("date", &httpdate::fmt_http_date(server_time))
        .header("content-type", "application/xml")
        .body("<Error><Code>RequestTimeTooSkewed</Code><Message>too skewed</Message></Error>");
    let transport = Arc::new(ScriptedTransport::new([skewed, MockReply::status(200)]));
    let registry = Registry::from_blueprint(&bp, transport.clone()).unwrap();

    registry
        .get("s3")
        .unwrap()
        .call(Request::get("/2024/q4.csv"), Context::new())
        .await
        .expect("re-signed at the server's time and re-sent once");

    let sent = transport.requests();
    assert_eq!(sent.len(), 2, "refused once, re-sent once");
    let date = |i: usize| {
        sent[i].request.headers()["x-amz-date"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(date(0), date(1), "the re-sent request carries the server's time");
}
