//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use conn_breaker::{CircuitBreaker, Transition};
use conn_core::{
    AttemptOutcome, BoxFuture, Connector, Context, Error, Request, ServerHints, Transport, TransportRequest,
    TransportResponse,
};
use conn_testkit::{MockReply, ScriptedTransport};
use tokio::sync::broadcast;

pub const MS: Duration = Duration::from_millis(1);
pub const SEC: Duration = Duration::from_secs(1);

/// A connector named `api` over `transport` with `breaker`, no retries and
/// no timeouts unless the test sets them (the pipeline's own attempt timeout
/// would otherwise race the tests' cancellations).
pub fn connector(transport: Arc<dyn Transport>, breaker: &CircuitBreaker) -> Connector {
    Connector::builder("api")
        .base_url("https://api.example.com")
        .transport(transport)
        .breaker(Arc::new(breaker.clone()))
        .no_timeouts()
        .build()
        .unwrap()
}

pub fn scripted(replies: impl IntoIterator<Item = MockReply>) -> Arc<ScriptedTransport> {
    Arc::new(ScriptedTransport::new(replies))
}

pub async fn get(connector: &Connector, endpoint: &str) -> Result<u16, Error> {
    connector
        .call(Request::get(endpoint), Context::new())
        .await
        .map(|r| r.status().as_u16())
}

pub async fn get_as(connector: &Connector, endpoint: &str, tenant: &str) -> Result<u16, Error> {
    // The upstream tells tenants apart by a header (as by their credentials).
    connector
        .call(
            Request::get(endpoint).header("x-tenant", tenant),
            Context::new().tenant(tenant),
        )
        .await
        .map(|r| r.status().as_u16())
}

/// Every transition received so far.
pub fn drain(events: &mut broadcast::Receiver<Transition>) -> Vec<Transition> {
    let mut all = Vec::new();
    while let Ok(t) = events.try_recv() {
        all.push(t);
    }
    all
}

/// Sends each request to the scripted transport of its route: the path, or
/// the path and the `x-tenant` header. So one "upstream" can fail for one
/// endpoint or one tenant only, and each route's requests are counted apart.
#[derive(Default)]
pub struct Router {
    routes: HashMap<String, Arc<ScriptedTransport>>,
}

impl Router {
    pub fn route(mut self, route: &str, replies: impl IntoIterator<Item = MockReply>) -> Self {
        self.routes.insert(route.to_owned(), scripted(replies));
        self
    }

    pub fn hits(&self, route: &str) -> usize {
        self.routes.get(route).map_or(0, |t| t.count())
    }

    fn route_of(request: &TransportRequest) -> String {
        let path = request.request.uri().path().to_owned();
        match request
            .request
            .headers()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
        {
            Some(tenant) => format!("{tenant}:{path}"),
            None => path,
        }
    }
}

impl Transport for Router {
    fn send(&self, request: TransportRequest) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        match self.routes.get(&Router::route_of(&request)) {
            Some(transport) => transport.send(request),
            None => Box::pin(async { Err(Error::config("no such test route")) }),
        }
    }
}

/// A buffered response with `status` and headers, for hand-built outcomes.
pub fn response(status: u16) -> TransportResponse {
    TransportResponse::new(
        http::Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap(),
    )
}

pub fn outcome(response: &TransportResponse, latency: Duration) -> AttemptOutcome<'_> {
    AttemptOutcome {
        result: Ok(response),
        latency,
        hints: ServerHints::default(),
    }
}
