//! Helpers shared by the integration tests: responses without a network.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_core::{
    AttemptRecord, AttemptResult, CallOutcome, CallReport, Document, Error, Normalizer, Response,
};
use conn_normalize::Normalize;
use http::{Method, StatusCode};
use tokio::time::Instant;

/// A call report as the connector would write it: `attempts` attempts, the
/// last one answered with `status`.
pub fn report(method: Method, status: StatusCode, attempts: u32) -> CallReport {
    let started = Instant::now();
    CallReport {
        connector: Arc::from("vendor-a"),
        method,
        endpoint: "/v1/orders".to_owned(),
        correlation_id: Arc::from("corr-42"),
        started,
        total: Duration::from_millis(120),
        throttle_wait: Duration::ZERO,
        attempts: (1..=attempts)
            .map(|number| AttemptRecord {
                number,
                started,
                sent: started,
                first_byte: None,
                done: started,
                throttle_wait: Duration::ZERO,
                result: AttemptResult::Status(if number == attempts {
                    status
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }),
                auth_replay: false,
                delay_after: None,
                hedge: false,
            })
            .collect(),
        outcome: CallOutcome::Success,
        degraded: None,
    }
}

/// A response with `status`, an optional content type, extra headers and `body`.
pub fn response_with(
    method: Method,
    status: u16,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response {
    let mut builder = http::Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = builder.body(body.into()).expect("valid test response");
    let status = response.status();
    Response::new(response, report(method, status, 1))
}

/// A GET response with `status`, an optional content type and `body`.
pub fn response(status: u16, content_type: Option<&str>, body: impl Into<Bytes>) -> Response {
    response_with(Method::GET, status, content_type, &[], body)
}

/// Normalizes a 200 response with the default normalizer.
pub fn normalize(content_type: Option<&str>, body: impl Into<Bytes>) -> Result<Document, Error> {
    Normalize::new().normalize(&response(200, content_type, body))
}

/// Normalizes with `normalizer` a 200 response.
pub fn normalize_with(
    normalizer: &Normalize,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Result<Document, Error> {
    normalizer.normalize(&response(200, content_type, body))
}

/// Everything an error shows a person or a log.
pub fn shown(err: &Error) -> String {
    format!(
        "{err}\n{err:?}\n{}",
        conn_normalize::decode_error(err)
            .map(|e| format!("{e} {e:?}"))
            .unwrap_or_default()
    )
}
