//! An in-process paginated API: a transport that answers from a function of
//! the request, records every request, and can fail or delay on cue.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use conn_core::{
    AttemptOutcome, BoxFuture, CallInfo, Connector, Error, ErrorKind, RetryDecision, RetryPolicy, Transport,
    TransportRequest, TransportResponse,
};

/// What the fake API answers: status, headers, body, and a delay first.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn json(body: impl Into<String>) -> Self {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&http::Request<Bytes>) -> Answer + Send + Sync;

/// The fake API.
pub struct FakeApi {
    handler: Box<Handler>,
    pub requests: Mutex<Vec<http::Request<Bytes>>>,
}

impl FakeApi {
    pub fn new(handler: impl Fn(&http::Request<Bytes>) -> Answer + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(FakeApi {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
        })
    }

    pub fn uris(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.uri().to_string())
            .collect()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Transport for FakeApi {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let answer = (self.handler)(&request.request);
        self.requests.lock().unwrap().push(request.request);
        Box::pin(async move {
            if !answer.delay.is_zero() {
                tokio::time::sleep(answer.delay).await;
            }
            let mut builder = http::Response::builder().status(answer.status);
            for (name, value) in answer.headers {
                builder = builder.header(name, value);
            }
            let response = builder
                .body(Bytes::from(answer.body))
                .map_err(|_| Error::config("bad fake answer"))?;
            Ok(TransportResponse::new(response))
        })
    }
}

/// The value of query parameter `key` in `request`.
pub fn query(request: &http::Request<Bytes>, key: &str) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

/// Retries transient failures up to `max` attempts, without delay.
pub struct RetryTransient(pub u32);

impl RetryPolicy for RetryTransient {
    fn decide(&self, call: &CallInfo<'_>, outcome: &AttemptOutcome<'_>) -> RetryDecision {
        let transient = match outcome.result {
            Ok(response) => response.status().is_server_error(),
            Err(err) => err.is_transient(),
        };
        if transient && call.attempt < self.0 {
            RetryDecision::Retry {
                delay: Duration::from_millis(10),
            }
        } else {
            RetryDecision::Stop
        }
    }
}

pub fn connector(api: Arc<FakeApi>) -> Connector {
    Connector::builder("fake")
        .base_url("https://api.example.com/v1")
        .transport(api)
        .retry(Arc::new(RetryTransient(4)))
        .build()
        .unwrap()
}

pub fn transient(kind: ErrorKind) -> Error {
    Error::new(kind, "scripted")
}
