//! HMAC request signing and verification: Slack's published example,
//! Stripe's layout computed independently, replay protection, key
//! rotation, malformed input, and re-signing of every attempt on a paused
//! clock.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use conn_auth::{
    HmacAlgorithm, HmacAuth, HmacKey, HmacScheme, HmacVerifier, SignatureEncoding, SignatureLayout,
    SignedPart, SigningClock,
};
use conn_core::{
    AttemptOutcome, AuthStrategy, CallInfo, Connector, Context, Request, RetryDecision, RetryPolicy,
};
use conn_testkit::{MockReply, ScriptedTransport};
use hmac::{Hmac, Mac};
use http::{HeaderName, Method};
use sha2::Sha256;

fn at(secs: u64) -> SigningClock {
    SigningClock::fixed(UNIX_EPOCH + Duration::from_secs(secs))
}

fn to_http(request: &Request, base: &str) -> http::Request<Bytes> {
    let mut uri = format!("{base}{}", request.endpoint());
    let query: Vec<String> = request
        .query_pairs()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    let mut out = http::Request::new(request.body_bytes().clone());
    *out.method_mut() = request.method().clone();
    *out.uri_mut() = uri.parse().unwrap();
    *out.headers_mut() = request.headers().clone();
    out
}

#[test]
fn slacks_published_example_verifies_and_a_changed_body_does_not() {
    // From Slack's "Verifying requests from Slack" guide.
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let timestamp = "1531420618";
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let verifier = HmacVerifier::new(HmacScheme::slack(), HmacKey::from(secret)).clock(at(1_531_420_700));
    let request = |body: &'static str| {
        http::Request::post("/slack/commands")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    };
    let body: &'static str = Box::leak(body.to_owned().into_boxed_str());
    verifier.verify_request(&request(body)).unwrap();
    let tampered: &'static str = Box::leak(body.replace("foobar", "foobaz").into_boxed_str());
    assert!(
        verifier
            .verify_request(&request(tampered))
            .unwrap_err()
            .is_unauthorized()
    );
    // Ten minutes later the same request is a replay.
    let late = HmacVerifier::new(HmacScheme::slack(), HmacKey::from(secret)).clock(at(1_531_421_300));
    let err = late.verify_request(&request(body)).unwrap_err();
    assert!(err.to_string().contains("outside the allowed window"), "{err}");
}

#[tokio::test]
async fn stripe_layout_matches_an_independent_computation() {
    let secret = "whsec_CANARY-stripe-key-7d1e";
    let auth = HmacAuth::new(HmacScheme::stripe(), HmacKey::from(secret)).clock(at(1_700_000_000));
    let mut request = Request::post("/webhooks").body(r#"{"id":"evt_1","type":"charge.succeeded"}"#);
    auth.authorize(&mut request, &Context::new()).await.unwrap();
    let header = request.headers()["stripe-signature"].to_str().unwrap().to_owned();

    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"1700000000.");
    mac.update(request.body_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header, format!("t=1700000000,v1={hex}"));

    // Stripe may send several v1 signatures (rotation) and a v0: any valid v1 passes.
    let verifier = HmacVerifier::new(HmacScheme::stripe(), HmacKey::from(secret)).clock(at(1_700_000_030));
    let mut received = to_http(&request, "https://hooks.example");
    received.headers_mut().insert(
        "stripe-signature",
        format!("t=1700000000,v1={},v1={hex},v0=abc", "0".repeat(64))
            .parse()
            .unwrap(),
    );
    verifier.verify_request(&received).unwrap();
}

#[tokio::test]
async fn the_generic_scheme_signs_method_path_query_timestamp_nonce_and_body_and_refuses_replays() {
    let key = "CANARY-generic-hmac-key-31aa";
    let auth = HmacAuth::new(HmacScheme::default(), HmacKey::from(key))
        .base_url("https://api.partner.example/v1")
        .unwrap()
        .clock(at(1_700_000_000));
    let mut request = Request::post("/orders")
        .query("dry_run", "true")
        .body("{\"sku\":\"A-1\"}");
    auth.authorize(&mut request, &Context::new()).await.unwrap();
    assert_eq!(request.headers()["x-timestamp"], "1700000000");
    assert_eq!(request.headers()["x-nonce"].len(), 32);
    let received = {
        // What the server receives: the base path plus the endpoint.
        let mut r = to_http(&request, "https://api.partner.example/v1");
        *r.uri_mut() = "https://api.partner.example/v1/orders?dry_run=true"
            .parse()
            .unwrap();
        r
    };
    let verifier = HmacVerifier::new(HmacScheme::default(), HmacKey::from(key)).clock(at(1_700_000_010));
    verifier.verify_request(&received).unwrap();
    let again = verifier.verify_request(&received).unwrap_err();
    assert!(again.to_string().contains("nonce was already used"), "{again}");

    // Every signed part matters.
    let changes: [fn(&mut http::Request<Bytes>); 5] = [
        |r| *r.method_mut() = Method::PUT,
        |r| {
            *r.uri_mut() = "https://api.partner.example/v1/orders?dry_run=false"
                .parse()
                .unwrap()
        },
        |r| {
            *r.uri_mut() = "https://api.partner.example/v1/refunds?dry_run=true"
                .parse()
                .unwrap()
        },
        |r| *r.body_mut() = Bytes::from_static(b"{\"sku\":\"B-2\"}"),
        |r| {
            r.headers_mut()
                .insert("x-timestamp", "1700000001".parse().unwrap());
        },
    ];
    for (i, change) in changes.iter().enumerate() {
        let mut changed = received.clone();
        change(&mut changed);
        changed
            .headers_mut()
            .insert("x-nonce", format!("fresh-nonce-{i}").parse().unwrap());
        let err = HmacVerifier::new(HmacScheme::default(), HmacKey::from(key))
            .clock(at(1_700_000_010))
            .verify_request(&changed)
            .unwrap_err();
        assert!(err.is_unauthorized(), "change {i}: {err}");
        assert!(!err.to_string().contains(key));
    }
}

#[test]
fn key_rotation_other_algorithms_and_malformed_input() {
    let scheme = HmacScheme::new(
        vec![SignedPart::Timestamp, SignedPart::Body],
        SignatureLayout::Header {
            name: HeaderName::from_static("x-sig"),
            prefix: "sha512=".into(),
        },
    )
    .algorithm(HmacAlgorithm::Sha512)
    .encoding(SignatureEncoding::Base64)
    .timestamp_header(HeaderName::from_static("x-ts"));
    let old = HmacVerifier::new(scheme.clone(), HmacKey::from("old-key")).clock(at(100));
    let rotated = HmacVerifier::new(scheme.clone(), HmacKey::from("new-key"))
        .also_accept(HmacKey::from("old-key"))
        .clock(at(100));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let signed = rt.block_on(async {
        let auth = HmacAuth::new(scheme.clone(), HmacKey::from("old-key")).clock(at(100));
        let mut request = Request::post("/hook").body("payload");
        auth.authorize(&mut request, &Context::new()).await.unwrap();
        to_http(&request, "https://me.example")
    });
    assert!(signed.headers()["x-sig"].to_str().unwrap().starts_with("sha512="));
    old.verify_request(&signed).unwrap();
    rotated.verify_request(&signed).unwrap();
    let only_new = HmacVerifier::new(scheme.clone(), HmacKey::from("new-key")).clock(at(100));
    assert!(only_new.verify_request(&signed).is_err());

    for garbage in [
        "",
        "sha512=",
        "sha512=!!!",
        "sha512=AAAA",
        "md5=abc",
        "sha512=\u{7f}",
    ] {
        let mut bad = signed.clone();
        match http::HeaderValue::from_str(garbage) {
            Ok(value) => {
                bad.headers_mut().insert("x-sig", value);
            }
            Err(_) => continue,
        }
        assert!(
            old.verify_request(&bad).unwrap_err().is_unauthorized(),
            "{garbage:?}"
        );
    }
    let mut no_sig = signed.clone();
    no_sig.headers_mut().remove("x-sig");
    assert!(old.verify_request(&no_sig).is_err());
    let mut bad_ts = signed.clone();
    bad_ts.headers_mut().insert("x-ts", "soon".parse().unwrap());
    assert!(old.verify_request(&bad_ts).is_err());
    let mut stripe_garbage = signed;
    stripe_garbage
        .headers_mut()
        .insert("stripe-signature", ",,t,=,v1".parse().unwrap());
    let stripe = HmacVerifier::new(HmacScheme::stripe(), HmacKey::from("k")).clock(at(100));
    assert!(stripe.verify_request(&stripe_garbage).is_err());
}

/// Retries once, `delay` later, on a 5xx.
struct RetryOnceAfter(Duration);

impl RetryPolicy for RetryOnceAfter {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let failed = outcome.result.is_ok_and(|r| r.status().is_server_error());
        if failed && call.attempt == 1 {
            RetryDecision::Retry { delay: self.0 }
        } else {
            RetryDecision::Stop
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_attempt_is_signed_with_its_own_timestamp_and_nonce() {
    let key = "retry-key";
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(200),
    ]));
    let connector = Connector::builder("partner")
        .base_url("https://api.partner.example")
        .transport(transport.clone())
        .retry(Arc::new(RetryOnceAfter(Duration::from_secs(3))))
        .auth(Arc::new(
            HmacAuth::new(HmacScheme::default(), HmacKey::from(key)).clock(SigningClock::following_tokio()),
        ))
        .build()
        .unwrap();
    let verifier =
        HmacVerifier::new(HmacScheme::default(), HmacKey::from(key)).clock(SigningClock::following_tokio());
    connector
        .call(
            Request::post("/charges").body("{}").idempotent(true),
            Context::new(),
        )
        .await
        .unwrap();
    let sent = transport.requests();
    assert_eq!(sent.len(), 2);
    let ts = |i: usize| {
        sent[i].request.headers()["x-timestamp"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(ts(1) - ts(0), 3, "the retry is stamped three seconds later");
    assert_ne!(
        sent[0].request.headers()["x-nonce"],
        sent[1].request.headers()["x-nonce"]
    );
    for attempt in &sent {
        verifier.verify_request(&attempt.request).unwrap();
    }
    assert!(
        verifier.verify_request(&sent[0].request).is_err(),
        "a replayed attempt is refused"
    );
}
