//! private_key_jwt (RFC 7523): the token request carries a fresh signed
//! assertion instead of a secret; RS256 and ES256 signatures verify with
//! the public key; bad keys are clear configuration errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use conn_auth::{
    ClientAssertionKey, ClientAuth, JWT_BEARER_ASSERTION, OAuth2Client, PrivateKeyJwt, TokenAuth,
};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};
use ring::signature;
use secrecy::SecretString;

const RSA_PEM: &str = include_str!("data/keys/test-rsa-2048.pk8.pem");

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn public_client(endpoint: &Arc<ScriptedTransport>) -> OAuth2Client {
    OAuth2Client::builder(TOKEN_URL)
        .client_id(CLIENT_ID)
        .auth_method(ClientAuth::Public)
        .transport(endpoint.clone())
        .build()
        .unwrap()
}

fn decode_json(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Requests two tokens and returns the two assertions sent.
async fn two_assertions(key: ClientAssertionKey) -> Vec<String> {
    let endpoint = Arc::new(ScriptedTransport::new([
        token("at-1", Some(1), None),
        token("at-2", Some(3600), None),
    ]));
    let grant = PrivateKeyJwt::new(public_client(&endpoint), key).scope("accounts:read");
    let auth = TokenAuth::builder(Arc::new(grant))
        .skew(Duration::ZERO)
        .jitter(Duration::ZERO)
        .build();
    let api_transport = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
    let connector = api(Arc::new(auth), &api_transport);
    connector.call(Request::get("/a"), Context::new()).await.unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    connector.call(Request::get("/a"), Context::new()).await.unwrap();
    assert_eq!(bearers(&api_transport), ["Bearer at-1", "Bearer at-2"]);
    endpoint
        .requests()
        .iter()
        .map(|sent| {
            let form = form(sent);
            assert_eq!(form["grant_type"], "client_credentials");
            assert_eq!(form["client_assertion_type"], JWT_BEARER_ASSERTION);
            assert_eq!(form["scope"], "accounts:read");
            assert!(!form.contains_key("client_secret"));
            assert!(sent.request.headers().get("authorization").is_none());
            form["client_assertion"].clone()
        })
        .collect()
}

fn check_claims(assertion: &str, alg: &str) -> (String, Vec<u8>) {
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_json(parts[0]);
    assert_eq!(header["alg"], alg);
    assert_eq!(header["kid"], "key-1");
    let claims = decode_json(parts[1]);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], TOKEN_URL);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iat = claims["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(now) < 60);
    assert_eq!(claims["exp"].as_u64().unwrap() - iat, 60);
    (
        claims["jti"].as_str().unwrap().to_owned(),
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
}

fn signing_input(assertion: &str) -> &str {
    &assertion[..assertion.rfind('.').unwrap()]
}

#[tokio::test(start_paused = true)]
async fn rs256_assertions_are_fresh_and_verify_with_the_public_key() {
    let key = ClientAssertionKey::from_pem(&SecretString::from(RSA_PEM))
        .unwrap()
        .key_id("key-1");
    assert_eq!(key.algorithm(), "RS256");
    let assertions = two_assertions(key).await;
    let public = ring::signature::RsaKeyPair::from_pkcs8(&der_of(RSA_PEM))
        .unwrap()
        .public()
        .as_ref()
        .to_vec();
    let verifier = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public);
    let mut jtis = Vec::new();
    for assertion in &assertions {
        let (jti, sig) = check_claims(assertion, "RS256");
        verifier
            .verify(signing_input(assertion).as_bytes(), &sig)
            .unwrap();
        let mut forged = sig.clone();
        forged[0] ^= 1;
        assert!(
            verifier
                .verify(signing_input(assertion).as_bytes(), &forged)
                .is_err()
        );
        jtis.push(jti);
    }
    assert_ne!(jtis[0], jtis[1], "every assertion has its own jti");
}

#[tokio::test(start_paused = true)]
async fn es256_assertions_verify_with_the_public_key() {
    let pair = rcgen::KeyPair::generate().unwrap();
    let key = ClientAssertionKey::from_pem(&SecretString::from(pair.serialize_pem()))
        .unwrap()
        .key_id("key-1");
    assert_eq!(key.algorithm(), "ES256");
    let assertions = two_assertions(key).await;
    let verifier = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_FIXED,
        pair.public_key_raw().to_vec(),
    );
    for assertion in &assertions {
        let (_, sig) = check_claims(assertion, "ES256");
        assert_eq!(sig.len(), 64, "JWS form: r || s");
        verifier
            .verify(signing_input(assertion).as_bytes(), &sig)
            .unwrap();
    }
}

#[test]
fn bad_keys_are_configuration_errors_that_quote_nothing() {
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIG5vdC1hLXJlYWwta2V5LWp1c3QtdGVzdA==\n-----END EC PRIVATE KEY-----\n";
    let truncated = &RSA_PEM[..RSA_PEM.len() / 2];
    let garbage_body = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    for pem in [
        "",
        "not a key",
        sec1,
        truncated,
        garbage_body,
        "-----BEGIN PRIVATE KEY-----",
    ] {
        let err = ClientAssertionKey::from_pem(&SecretString::from(pem)).unwrap_err();
        assert!(err.is_config(), "{err}");
        assert!(!err.to_string().contains("MHcCAQEE") && !err.to_string().contains("bm90IGEga2V5"));
    }
    let key = ClientAssertionKey::from_pem(&SecretString::from(RSA_PEM)).unwrap();
    let shown = format!("{key:?}");
    let middle_of_key = RSA_PEM.lines().nth(5).unwrap();
    assert!(!shown.contains(middle_of_key) && shown.contains("<redacted>"));
}
