//! SigV4: AWS's published test vectors, re-signing of every attempt on a
//! paused clock, clock-skew correction, refreshing credentials, and an
//! end-to-end run against a real local server whose received requests are
//! verified with the same algorithm.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use conn_auth::{AwsCredentials, PayloadSigning, SigV4, SigningClock, aws_credentials_fn};
use conn_core::{AttemptOutcome, Error};
use conn_core::{AuthStrategy, CallInfo, Connector, Context, Request, RetryDecision, RetryPolicy};
use conn_testkit::{MockReply, Reply, ScriptedTransport, TestServer};
use conn_transport_hyper::HyperTransport;
use http::{HeaderMap, Method};
use secrecy::ExposeSecret;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aws-sigv4-test-suite")
}

/// `YYYYMMDDTHHMMSSZ` or `YYYY-MM-DDTHH:MM:SSZ` as a `SystemTime`.
fn parse_time(text: &str) -> SystemTime {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let n = |range: std::ops::Range<usize>| digits[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(8..10) * 3600 + n(10..12) * 60 + n(12..14);
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A vector's request as a conn `Request`: method, path, query pairs,
/// headers (not `Host`, which comes from the base URL, nor what the signer
/// adds), body.
fn vector_request(text: &str) -> Request {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut parts = request_line.split(' ');
    let method: Method = parts.next().unwrap().parse().unwrap();
    let target = parts.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request::new(method, path);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        request = request.query(percent_decode(key), percent_decode(value));
    }
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        let lower = name.to_ascii_lowercase();
        if ["host", "x-amz-date", "x-amz-security-token"].contains(&lower.as_str()) {
            continue;
        }
        // Appended, not replaced: some vectors repeat a header.
        let name = http::HeaderName::from_bytes(lower.as_bytes()).unwrap();
        request.headers_mut().append(name, value.parse().unwrap());
    }
    if !body.is_empty() {
        request = request.body(Bytes::from(body.to_owned()));
    }
    request
}

fn expected_header(signed: &str, name: &str) -> Option<String> {
    signed.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.to_owned())
    })
}

#[tokio::test]
async fn published_test_vectors_sign_identically() {
    let mut checked = 0;
    let mut presigned = 0;
    let mut entries: Vec<_> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for dir in entries {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let context: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("context.json")).unwrap()).unwrap();
        let creds = &context["credentials"];
        let mut credentials = AwsCredentials::new(
            creds["access_key_id"].as_str().unwrap(),
            creds["secret_access_key"].as_str().unwrap().to_owned(),
        );
        if let Some(token) = creds["token"].as_str() {
            credentials = credentials.session_token(token.to_owned());
        }
        let sign_body = context["sign_body"].as_bool().unwrap();
        let sigv4 = SigV4::builder(
            context["region"].as_str().unwrap(),
            context["service"].as_str().unwrap(),
        )
        .base_url("https://example.amazonaws.com")
        .credentials(credentials)
        .content_sha256_header(sign_body)
        .clock(SigningClock::fixed(parse_time(
            context["timestamp"].as_str().unwrap(),
        )))
        .build()
        .unwrap();

        let text = std::fs::read_to_string(dir.join("request.txt")).unwrap();
        let mut request = vector_request(&text);
        sigv4.authorize(&mut request, &Context::new()).await.unwrap();
        let signed = std::fs::read_to_string(dir.join("header-signed-request.txt")).unwrap();
        let expected = expected_header(&signed, "authorization").unwrap();
        let actual = request.headers()["authorization"].to_str().unwrap();
        assert_eq!(actual, expected, "vector {name}: Authorization differs");
        for extra in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
            if let Some(value) = expected_header(&signed, extra) {
                assert_eq!(
                    request.headers()[extra].to_str().unwrap(),
                    value,
                    "vector {name}: {extra}"
                );
            }
        }
        checked += 1;

        // Query-string presigning, for the vectors without signed extra headers.
        let only_host = text.lines().skip(1).take_while(|l| !l.is_empty()).count() == 1;
        if only_host && creds["token"].is_null() {
            let query: Vec<(String, String)> = request.query_pairs().to_vec();
            let endpoint = request.path().to_owned();
            let url = sigv4
                .presign(
                    request.method().clone(),
                    &endpoint,
                    &query,
                    Duration::from_secs(3600),
                )
                .await
                .unwrap();
            let want = std::fs::read_to_string(dir.join("query-signature.txt")).unwrap();
            assert!(
                url.url()
                    .expose_secret()
                    .ends_with(&format!("X-Amz-Signature={}", want.trim())),
                "vector {name}: presigned signature differs"
            );
            presigned += 1;
        }
    }
    assert_eq!(checked, 18, "every kept vector was checked");
    assert!(
        presigned >= 5,
        "presigning was checked on several vectors ({presigned})"
    );
}

/// What a verifying server does: recompute the signature of a received
/// request, at the time it claims, over the headers it says it signed.
fn verify(method: &Method, path_and_query: &str, headers: &HeaderMap, body: &[u8], secret: &str) -> bool {
    let Some(authorization) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let field = |key: &str| {
        authorization
            .split([' ', ','])
            .find_map(|part| part.strip_prefix(key))
            .unwrap_or_default()
            .to_owned()
    };
    let credential = field("Credential=");
    let scope: Vec<&str> = credential.split('/').collect();
    let signed_headers = field("SignedHeaders=");
    let claimed = field("Signature=");
    let Some(date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers["host"].to_str().unwrap();
    let mut owned = Vec::new();
    for name in signed_headers
        .split(';')
        .filter(|n| *n != "host" && *n != "x-amz-date")
    {
        for value in headers.get_all(name) {
            owned.push((name.to_owned(), value.to_str().unwrap().to_owned()));
        }
    }
    let mut signable: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    signable.push(("host", host));
    let uri = format!("http://{host}{path_and_query}");
    let identity = aws_credential_types::Credentials::new(scope[0], secret, None, None, "verifier").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::NoHeader;
    if scope[3] == "s3" {
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(scope[2])
        .name(scope[3])
        .time(parse_time(date))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = match headers.get("x-amz-content-sha256").map(|v| v.to_str().unwrap()) {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(body),
    };
    let request = SignableRequest::new(method.as_str(), uri, signable.into_iter(), body).unwrap();
    let (_, signature) = sign(request, &params).unwrap().into_parts();
    signature == claimed
}

/// Retries once, `delay` later, whatever the outcome.
struct RetryOnceAfter(Duration);

impl RetryPolicy for RetryOnceAfter {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let failed = outcome.result.is_err() || outcome.result.is_ok_and(|r| r.status().is_server_error());
        if failed && call.attempt == 1 {
            RetryDecision::Retry { delay: self.0 }
        } else {
            RetryDecision::Stop
        }
    }
}

fn date_of(request: &http::Request<Bytes>) -> String {
    request.headers()["x-amz-date"].to_str().unwrap().to_owned()
}

fn signature_of(request: &http::Request<Bytes>) -> String {
    let auth = request.headers()["authorization"].to_str().unwrap();
    auth.rsplit("Signature=").next().unwrap().to_owned()
}

fn scripted_verify(request: &http::Request<Bytes>) -> bool {
    let mut headers = request.headers().clone();
    headers.insert(
        "host",
        request.uri().authority().unwrap().as_str().parse().unwrap(),
    );
    let pq = request.uri().path_and_query().unwrap().as_str();
    verify(request.method(), pq, &headers, request.body(), SECRET)
}

#[tokio::test(start_paused = true)]
async fn a_retried_request_is_signed_again_with_a_fresh_timestamp_and_verifies() {
    let base = "https://queue.amazonaws.example";
    let sigv4 = SigV4::builder("eu-west-1", "sqs")
        .base_url(base)
        .credentials(AwsCredentials::new("AKIDEXAMPLE", SECRET))
        .clock(SigningClock::following_tokio())
        .build()
        .unwrap();
    let transport = Arc::new(ScriptedTransport::new([
        MockReply::status(503),
        MockReply::status(200),
    ]));
    let connector = Connector::builder("sqs")
        .base_url(base)
        .transport(transport.clone())
        .retry(Arc::new(RetryOnceAfter(Duration::from_secs(2))))
        .auth(Arc::new(sigv4))
        .build()
        .unwrap();
    let request = Request::post("/123456789012/orders")
        .query("Action", "SendMessage")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("MessageBody=hello")
        .idempotent(true);
    connector.call(request, Context::new()).await.unwrap();

    let sent = transport.requests();
    assert_eq!(sent.len(), 2);
    let (first, second) = (&sent[0].request, &sent[1].request);
    assert_eq!(sent[1].at - sent[0].at, Duration::from_secs(2));
    assert_eq!(
        parse_time(&date_of(second))
            .duration_since(parse_time(&date_of(first)))
            .unwrap(),
        Duration::from_secs(2),
        "the retry carries a timestamp two seconds later"
    );
    assert_ne!(signature_of(first), signature_of(second));
    assert!(
        scripted_verify(first) && scripted_verify(second),
        "both attempts verify"
    );
    // A tampered body no longer verifies: the verifier is not a rubber stamp.
    let mut tampered = second.clone();
    *tampered.body_mut() = Bytes::from_static(b"MessageBody=evil");
    assert!(!scripted_verify(&tampered));
}

#[tokio::test(start_paused = true)]
async fn clock_skew_reported_by_the_server_is_corrected_once_and_the_attempt_re_sent() {
    let base = "https://bucket.s3.amazonaws.example";
    let local = parse_time("20240102T030405Z");
    let server = local + Duration::from_secs(20 * 60);
    let sigv4 = SigV4::builder("us-east-1", "s3")
        .base_url(base)
        .credentials(AwsCredentials::new("AKIDEXAMPLE", SECRET))
        .clock(SigningClock::fixed(local))
        .build()
        .unwrap();
    let skewed = MockReply::status(403)
        .header("date", &httpdate::fmt_http_date(server))
        .header("content-type", "application/xml")
        .body("<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>");
    let scripted = Arc::new(ScriptedTransport::new([skewed.clone(), MockReply::status(200)]));
    let connector = Connector::builder("s3")
        .base_url(base)
        .transport(sigv4.correcting_skew(scripted.clone()))
        .auth(Arc::new(sigv4.clone()))
        .build()
        .unwrap();
    connector
        .call(Request::get("/reports/a.csv"), Context::new())
        .await
        .unwrap();
    let sent = scripted.requests();
    assert_eq!(sent.len(), 2, "refused once, re-sent once");
    assert_eq!(parse_time(&date_of(&sent[0].request)), local);
    assert_eq!(
        parse_time(&date_of(&sent[1].request)),
        server,
        "re-signed at the server's time"
    );
    assert!(scripted_verify(&sent[1].request));
    assert_eq!(sigv4.clock_skew(), Duration::from_secs(20 * 60));

    // Later calls are signed with the corrected time at once.
    scripted.push([MockReply::status(200)]);
    connector
        .call(Request::get("/reports/b.csv"), Context::new())
        .await
        .unwrap();
    assert_eq!(parse_time(&date_of(&scripted.requests()[2].request)), server);

    // A server that keeps refusing gets one re-send, not a loop.
    scripted.push([skewed.clone(), skewed.clone(), skewed]);
    let err = connector
        .call(Request::get("/reports/c.csv"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    assert_eq!(scripted.count(), 5);
}

#[tokio::test(start_paused = true)]
async fn refreshing_credentials_are_cached_renewed_ahead_of_expiry_and_after_a_401() {
    let clock = SigningClock::following_tokio();
    let fetches = Arc::new(AtomicU32::new(0));
    let counter = fetches.clone();
    let source = aws_credentials_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let now = clock.now();
        async move {
            Ok(AwsCredentials::new(format!("ASIA{n}"), SECRET)
                .session_token(format!("session-{n}"))
                .expires_at(now + Duration::from_secs(15 * 60)))
        }
    });
    let base = "https://dynamodb.eu-west-1.amazonaws.example";
    let sigv4 = SigV4::builder("eu-west-1", "dynamodb")
        .base_url(base)
        .credential_source(Arc::new(source))
        .clock(clock)
        .build()
        .unwrap();
    let transport = Arc::new(ScriptedTransport::new([MockReply::status(200)]));
    let connector = Connector::builder("ddb")
        .base_url(base)
        .transport(transport.clone())
        .auth(Arc::new(sigv4))
        .build()
        .unwrap();
    let call = || connector.call(Request::post("/").body("{}"), Context::new());
    call().await.unwrap();
    call().await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "cached while fresh");
    tokio::time::advance(Duration::from_secs(11 * 60)).await; // 4 minutes left: renew
    call().await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let last = &transport.requests()[2].request;
    assert!(signature_of(last).len() == 64);
    assert!(
        last.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("Credential=ASIA2/")
    );
    assert_eq!(last.headers()["x-amz-security-token"], "session-2");

    transport.push([MockReply::status(401), MockReply::status(200)]);
    call().await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 3, "a 401 fetches new credentials");
    let replayed = transport.requests().last().unwrap().request.clone();
    assert!(
        replayed.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("Credential=ASIA3/")
    );
}

#[tokio::test]
async fn static_credentials_refused_are_final_and_bad_configs_are_refused() {
    let sigv4 = SigV4::builder("us-east-1", "s3")
        .base_url("https://b.s3.amazonaws.example")
        .credentials(AwsCredentials::new("AKID", SECRET))
        .build()
        .unwrap();
    assert!(!sigv4.refresh(&Context::new()).await.unwrap());
    let no_base = SigV4::builder("us-east-1", "s3")
        .credentials(AwsCredentials::new("AKID", SECRET))
        .build();
    assert!(no_base.unwrap_err().is_config());
    let no_credentials = SigV4::builder("us-east-1", "s3")
        .base_url("https://x.example")
        .build();
    assert!(no_credentials.unwrap_err().is_config());
    let bad_region = SigV4::builder("us east", "s3")
        .base_url("https://x.example")
        .credentials(AwsCredentials::new("AKID", SECRET))
        .build();
    assert!(bad_region.unwrap_err().is_config());
    let plain_http = SigV4::builder("us-east-1", "s3")
        .base_url("http://x.example")
        .credentials(AwsCredentials::new("AKID", SECRET))
        .build();
    assert!(plain_http.unwrap_err().is_config());
    let too_long = sigv4
        .presign(Method::GET, "/k", &[], Duration::from_secs(8 * 24 * 3600))
        .await;
    assert!(too_long.unwrap_err().is_config());
    // A hostile endpoint is refused before anything is signed.
    let mut request = Request::get("//evil.example/x");
    assert!(sigv4.authorize(&mut request, &Context::new()).await.is_err());
    assert!(request.headers().get("authorization").is_none());
}

#[tokio::test]
async fn unsigned_payload_is_declared_and_s3_keys_keep_their_slashes() {
    let sigv4 = SigV4::builder("us-east-1", "s3")
        .base_url("https://b.s3.amazonaws.example")
        .credentials(AwsCredentials::new("AKID", SECRET))
        .payload(PayloadSigning::Unsigned)
        .build()
        .unwrap();
    let mut request = Request::put("/photos//2024/a b.jpg".replace(' ', "%20")).body("bytes");
    sigv4.authorize(&mut request, &Context::new()).await.unwrap();
    assert_eq!(request.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    let mut headers = request.headers().clone();
    headers.insert("host", "b.s3.amazonaws.example".parse().unwrap());
    assert!(verify(
        &Method::PUT,
        "/photos//2024/a%20b.jpg",
        &headers,
        b"ignored",
        SECRET
    ));
}

#[tokio::test]
async fn end_to_end_over_a_real_server_every_attempt_verifies() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::POST,
        "/2012-11-05/queue",
        [Reply::status(503), Reply::status(200)],
    );
    let sigv4 = SigV4::builder("us-east-1", "sqs")
        .base_url(server.url())
        .allow_http(true)
        .credentials(AwsCredentials::new("AKIDEXAMPLE", SECRET).session_token("FQoGZXIvYXdzEXAMPLE"))
        .build()
        .unwrap();
    let transport = Arc::new(HyperTransport::builder().build().unwrap());
    let connector = Connector::builder("sqs")
        .base_url(server.url())
        .allow_http(true)
        .transport(sigv4.correcting_skew(transport))
        .retry(Arc::new(RetryOnceAfter(Duration::from_millis(1100))))
        .auth(Arc::new(sigv4))
        .build()
        .unwrap();
    let request = Request::post("/2012-11-05/queue")
        .query("Action", "SendMessage")
        .query("MessageBody", "hello world & more")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Version=2012-11-05")
        .idempotent(true);
    connector.call(request, Context::new()).await.unwrap();
    let received = server.requests_to("/2012-11-05/queue");
    assert_eq!(received.len(), 2);
    for request in &received {
        let pq = request.uri.path_and_query().unwrap().as_str();
        assert!(
            verify(&request.method, pq, &request.headers, &request.body, SECRET),
            "the server verifies attempt {pq}"
        );
        assert!(!verify(
            &request.method,
            pq,
            &request.headers,
            &request.body,
            "wrong-secret"
        ));
    }
    let dates: Vec<_> = received.iter().map(|r| r.headers["x-amz-date"].clone()).collect();
    assert_ne!(dates[0], dates[1], "the retry was signed again, later");
}

#[test]
fn helpers_parse_what_the_vectors_use() {
    assert_eq!(
        parse_time("2015-08-30T12:36:00Z"),
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    );
    assert_eq!(
        parse_time("20150830T123600Z"),
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    );
    let _: Option<Error> = None;
}
