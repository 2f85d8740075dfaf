//! The soak's upstream: a local HTTP/1.1 server with a fixed fault mix,
//! counting what it receives per call so the driver can check every call's
//! report against what actually reached the server.
//!
//! Why not the test kit's `TestServer`: its routes play scripts in order,
//! and the soak wants a random mix over 100,000 requests with a counter per
//! call that costs no lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use conn::core::component::random;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The fault mix, as shares of all requests (the rest answer 200 at once).
pub const MIX: [(Fault, f64); 6] = [
    (Fault::ServerError, 0.10),
    (Fault::RateLimited, 0.05),
    (Fault::Reset, 0.05),
    (Fault::Stall, 0.02),
    (Fault::Malformed, 0.01),
    (Fault::SlowHeaders, 0.05),
];

/// What the server does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 503.
    ServerError,
    /// 429 with `Retry-After: 0`: a one-second hint would pause a whole
    /// tenant's throttle key and turn the soak into a throttle test.
    RateLimited,
    /// The connection is closed without an answer.
    Reset,
    /// The answer comes after [`STALL`], long after the attempt timeout.
    Stall,
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 after 20 to 60 ms.
    SlowHeaders,
}

/// How long a stalled answer takes.
pub const STALL: Duration = Duration::from_secs(2);

const BODY: &str = r#"{"id":42,"name":"widget","price":12.5,"tags":["a","b"],"in_stock":true}"#;

/// What the server saw: requests per call (indexed by the number in the
/// correlation id `soak-<n>`), requests without a usable id, 401s sent.
pub struct Seen {
    pub per_call: Vec<AtomicU32>,
    pub unknown: AtomicU64,
    pub unauthorized: AtomicU64,
    pub total: AtomicU64,
}

impl Seen {
    pub fn new(calls: usize) -> Arc<Seen> {
        Arc::new(Seen {
            per_call: (0..calls).map(|_| AtomicU32::new(0)).collect(),
            unknown: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            total: AtomicU64::new(0),
        })
    }
}

/// Starts the server on its own thread and runtime (so the client's
/// scheduling does not delay it more than the machine does); returns its port.
pub fn start(seen: Arc<Seen>, seed: u64) -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    std::thread::Builder::new()
        .name("soak-server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(err) => return eprintln!("soak server: {err}"),
            };
            runtime.block_on(serve(listener, seen, seed));
        })?;
    Ok(port)
}

async fn serve(listener: std::net::TcpListener, seen: Arc<Seen>, seed: u64) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let draws = Arc::new(AtomicU64::new(0));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // A full file table must not end the server.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (seen, draws) = (seen.clone(), draws.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (seen, draws) = (seen.clone(), draws.clone());
                async move {
                    let n = draws.fetch_add(1, Ordering::Relaxed);
                    let draw = random::unit_from(random::splitmix64(seed ^ random::splitmix64(n)));
                    respond(&request, &seen, draw).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The fault for a uniform draw.
fn pick(draw: f64) -> Option<Fault> {
    let mut edge = 0.0;
    for (fault, share) in MIX {
        edge += share;
        if draw < edge {
            return Some(fault);
        }
    }
    None
}

async fn respond(
    request: &Request<hyper::body::Incoming>,
    seen: &Seen,
    draw: f64,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    seen.total.fetch_add(1, Ordering::Relaxed);
    let call = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("soak-"))
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| seen.per_call.get(n));
    match call {
        Some(counter) => counter.fetch_add(1, Ordering::Relaxed),
        None => seen.unknown.fetch_add(1, Ordering::Relaxed) as u32,
    };
    let authorized = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes().starts_with(b"Bearer soak-"));
    if !authorized {
        seen.unauthorized.fetch_add(1, Ordering::Relaxed);
        return answer(401, &[], Bytes::new());
    }
    let json = || {
        answer(
            200,
            &[("content-type", "application/json")],
            Bytes::from_static(BODY.as_bytes()),
        )
    };
    match pick(draw) {
        Some(Fault::ServerError) => answer(503, &[], Bytes::new()),
        Some(Fault::RateLimited) => answer(429, &[("retry-after", "0")], Bytes::new()),
        // Failing the service makes hyper close the connection without an answer.
        Some(Fault::Reset) => Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "soak reset",
        )),
        Some(Fault::Stall) => {
            tokio::time::sleep(STALL).await;
            json()
        }
        Some(Fault::Malformed) => answer(
            200,
            &[("content-type", "application/json")],
            Bytes::from_static(&BODY.as_bytes()[..BODY.len() / 2]),
        ),
        Some(Fault::SlowHeaders) => {
            tokio::time::sleep(Duration::from_millis(20 + (draw * 1000.0) as u64 % 40)).await;
            json()
        }
        None => json(),
    }
}

fn answer(
    status: u16,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body)).map_err(std::io::Error::other)
}
