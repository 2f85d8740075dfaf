//! Canary secrets for request signing and discovery: SigV4 (secret key,
//! session token), HMAC keys, an OIDC client secret and a private key go
//! through their flows (signing, skew correction, 401 refresh, failures)
//! with every tracing event captured at TRACE and every strategy, request,
//! error and URL Debug-printed; none may appear anywhere.

use std::sync::Arc;
use std::time::Duration;

mod common;

use common::log_capture::capture;
use conn_auth::{
    AwsCredentials, ClientAssertionKey, ClientAuth, HmacAuth, HmacKey, HmacScheme, HmacVerifier,
    OAuth2Client, OidcClientCredentials, OidcDiscovery, PrivateKeyJwt, SigV4, SigningClock, TokenAuth,
    aws_credentials_fn,
};
use conn_core::{AuthStrategy, Connector, Context, Error, ErrorKind, Request};
use conn_testkit::{MockReply, ScriptedTransport};
use secrecy::{ExposeSecret, SecretString};

const AWS_SECRET: &str = "CANARY-aws-secret-key-6c1f0a";
const SESSION: &str = "CANARY-aws-session-token-94be2d";
const REFRESHED_SECRET: &str = "CANARY-aws-refreshed-secret-1d77";
const HMAC_SECRET: &str = "CANARY-hmac-key-52ad9e";
const OIDC_SECRET: &str = "CANARY-oidc-client-secret-e03b";
const RSA_PEM: &str = include_str!("data/keys/test-rsa-2048.pk8.pem");

fn assert_clean(what: &str, text: &str) {
    let key_lines: Vec<&str> = RSA_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    for canary in [AWS_SECRET, SESSION, REFRESHED_SECRET, HMAC_SECRET, OIDC_SECRET] {
        assert!(!text.contains(canary), "{what} contains {canary}:\n{text}");
    }
    for line in key_lines {
        assert!(!text.contains(line), "{what} contains private key material");
    }
}

#[tokio::test(start_paused = true)]
async fn no_signing_secret_reaches_logs_errors_or_debug_output() {
    let capture = capture();
    let mut shown = Vec::<String>::new();
    let base = "https://bucket.s3.amazonaws.example";

    // SigV4, static credentials with a session token: a skew refusal, a retry.
    let sigv4 = SigV4::builder("us-east-1", "s3")
        .base_url(base)
        .credentials(AwsCredentials::new("AKIDCANARY", AWS_SECRET).session_token(SESSION))
        .clock(SigningClock::following_tokio())
        .build()
        .unwrap();
    let skewed = MockReply::status(403)
        .header("date", "Sun, 30 Aug 2015 12:36:00 GMT")
        .body(format!(
            "<Error><Code>RequestTimeTooSkewed</Code><Echo>{SESSION}</Echo></Error>"
        ));
    let api = Arc::new(ScriptedTransport::new([skewed, MockReply::status(200)]));
    let connector = Connector::builder("s3")
        .base_url(base)
        .transport(sigv4.correcting_skew(api.clone()))
        .auth(Arc::new(sigv4.clone()))
        .build()
        .unwrap();
    let response = connector.call(Request::get("/k"), Context::new()).await.unwrap();
    shown.push(format!("{response:?} {}", response.report()));
    shown.push(format!("{sigv4:?} {:?}", SigV4::builder("r", "s")));
    let mut signed = Request::put("/k").body("x");
    sigv4.authorize(&mut signed, &Context::new()).await.unwrap();
    shown.push(format!("{signed:?}"));
    let url = sigv4
        .presign(http::Method::GET, "/k", &[], Duration::from_secs(60))
        .await
        .unwrap();
    shown.push(format!("{url:?}"));
    assert!(
        url.url().expose_secret().contains("X-Amz-Security-Token"),
        "the token is in the URL itself"
    );
    // A 403 that echoes the token is the call's error.
    api.push([MockReply::status(403).body(format!("denied {SESSION} {AWS_SECRET}"))]);
    let err = connector
        .call(Request::get("/k"), Context::new())
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));

    // SigV4 with refreshing credentials: a 401 renews; a failing source.
    let source = aws_credentials_fn(|| async {
        Ok(AwsCredentials::new("ASIACANARY", REFRESHED_SECRET).session_token(SESSION))
    });
    let refreshing = SigV4::builder("eu-west-1", "sqs")
        .base_url(base)
        .credential_source(Arc::new(source))
        .build()
        .unwrap();
    let api = Arc::new(ScriptedTransport::new([
        MockReply::status(401),
        MockReply::status(200),
    ]));
    let connector = Connector::builder("sqs")
        .base_url(base)
        .transport(api)
        .auth(Arc::new(refreshing.clone()))
        .build()
        .unwrap();
    connector
        .call(Request::post("/q").body("m"), Context::new())
        .await
        .unwrap();
    shown.push(format!("{refreshing:?}"));
    let failing = SigV4::builder("eu-west-1", "sqs")
        .base_url(base)
        .credential_source(Arc::new(aws_credentials_fn(|| async {
            Err(Error::new(ErrorKind::AuthProvider, "sts said no: AccessDenied"))
        })))
        .build()
        .unwrap();
    let err = failing
        .authorize(&mut Request::get("/q"), &Context::new())
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));

    // HMAC: signing, verification failures of every kind.
    let hmac = HmacAuth::new(HmacScheme::default(), HmacKey::from(HMAC_SECRET));
    let mut request = Request::post("/hook").body("{}");
    hmac.authorize(&mut request, &Context::new()).await.unwrap();
    shown.push(format!("{hmac:?} {request:?}"));
    let verifier = HmacVerifier::new(HmacScheme::default(), HmacKey::from(HMAC_SECRET));
    shown.push(format!("{verifier:?}"));
    let received = http::Request::post("https://me.example/hook")
        .header("x-signature", "00")
        .header("x-timestamp", "1")
        .header("x-nonce", "n")
        .body(bytes::Bytes::new())
        .unwrap();
    let err = verifier.verify_request(&received).unwrap_err();
    shown.push(format!("{err} {err:?}"));
    let stripe = HmacVerifier::new(
        HmacScheme::stripe(),
        HmacKey::new(HMAC_SECRET.as_bytes().to_vec()),
    );
    let err = stripe.verify_request(&received).unwrap_err();
    shown.push(format!(
        "{err} {err:?} {:?}",
        HmacKey::from_secret(&SecretString::from(HMAC_SECRET))
    ));

    // OIDC: a foreign issuer, then a token endpoint that echoes the secret.
    let provider = Arc::new(ScriptedTransport::new([MockReply::json(
        200,
        serde_json::json!({ "issuer": "https://evil.example", "token_endpoint": "https://evil.example/t" })
            .to_string(),
    )]));
    let discovery = OidcDiscovery::builder("https://login.example")
        .transport(provider.clone())
        .build()
        .unwrap();
    let grant = OidcClientCredentials::new(discovery.clone(), "client", OIDC_SECRET);
    shown.push(format!("{grant:?} {discovery:?}"));
    let auth = TokenAuth::new(Arc::new(grant));
    let err = auth
        .authorize(&mut Request::get("/x"), &Context::new())
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));
    let provider = Arc::new(ScriptedTransport::new([
        MockReply::json(
            200,
            serde_json::json!({ "issuer": "https://login.example", "token_endpoint": "https://login.example/t" })
                .to_string(),
        ),
        MockReply::json(400, format!(r#"{{"error":"invalid_client","error_description":"bad secret {OIDC_SECRET}"}}"#)),
    ]));
    let discovery = OidcDiscovery::builder("https://login.example")
        .transport(provider)
        .build()
        .unwrap();
    let auth = TokenAuth::new(Arc::new(OidcClientCredentials::new(
        discovery,
        "client",
        OIDC_SECRET,
    )));
    let err = auth
        .authorize(&mut Request::get("/x"), &Context::new())
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?} {auth:?}"));

    // private_key_jwt: a refused assertion.
    let endpoint = Arc::new(ScriptedTransport::new([MockReply::json(
        400,
        r#"{"error":"invalid_client"}"#,
    )]));
    let client = OAuth2Client::builder("https://auth.bank.example/token")
        .client_id("ledger")
        .auth_method(ClientAuth::Public)
        .transport(endpoint)
        .max_attempts(1)
        .build()
        .unwrap();
    let key = ClientAssertionKey::from_pem(&SecretString::from(RSA_PEM)).unwrap();
    let grant = PrivateKeyJwt::new(client, key.clone());
    shown.push(format!("{grant:?} {key:?}"));
    let auth = TokenAuth::new(Arc::new(grant));
    let err = auth
        .authorize(&mut Request::get("/x"), &Context::new())
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));

    tokio::time::sleep(Duration::from_millis(10)).await;
    for (i, text) in shown.iter().enumerate() {
        assert_clean(&format!("output {i}"), text);
    }
    let logs = capture.logs();
    assert!(
        logs.contains("conn_auth::sigv4"),
        "the flows were logged (the check is not vacuous)"
    );
    assert_clean("the logs", &logs);
}
