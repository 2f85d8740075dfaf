//! [`TestServer`]: a real HTTP/1.1 + HTTP/2 server on 127.0.0.1 that plays
//! scripted replies and records every request.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::body::ScriptedBody;
use crate::record::RecordedRequest;
use crate::reply::{Reply, no_route};
use crate::tls::{self, ServerTls};

/// A real HTTP server on `127.0.0.1` with an ephemeral port, for tests that
/// must exercise a genuine network stack: HTTP/1.1 and HTTP/2 (both by
/// default, told apart per connection), optionally over TLS with a
/// certificate made at start.
///
/// Each route (method + exact path) plays a script of [`Reply`]s, one per
/// request, repeating the last one forever; every request is recorded as a
/// [`RecordedRequest`]. Dropping the server stops it: the listener closes and
/// every connection is aborted.
///
/// The server runs on the tokio runtime that started it and waits on real
/// sockets, so test it under a normal (not paused) clock with generous
/// timeouts.
///
/// ```
/// use conn_testkit::{Reply, TestServer};
/// use http::Method;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = TestServer::start().await?;
/// server.route(
///     Method::GET,
///     "/v1/items",
///     [Reply::status(503), Reply::json(200, r#"{"items":[]}"#)],
/// );
/// let base = server.url(); // "http://127.0.0.1:PORT": point the client under test here
/// // ... run the client against `base` ...
/// assert_eq!(server.hits("/v1/items"), 0);
/// # let _ = base;
/// # Ok(())
/// # }
/// ```
pub struct TestServer {
    addr: SocketAddr,
    certificate_pem: Option<String>,
    client_identity: Option<(String, String)>,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
    /// Dropping this tells every task of the server to stop (see
    /// [`spawn_until_shutdown`]).
    _shutdown: watch::Sender<()>,
}

/// Configures a [`TestServer`] before starting it: TLS and which HTTP
/// versions it speaks.
///
/// ```
/// use conn_testkit::TestServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = TestServer::builder().tls(true).http2_only().start().await?;
/// assert!(server.url().starts_with("https://localhost:"));
/// assert!(server.ca_certificate_pem().is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct TestServerBuilder {
    tls: bool,
    client_auth: bool,
    versions: Versions,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Versions {
    #[default]
    Both,
    Http1,
    Http2,
}

impl TestServerBuilder {
    /// Serves over TLS (`https://localhost:PORT`) with a fresh self-signed
    /// certificate for `localhost` and `127.0.0.1`, negotiating the HTTP
    /// version by ALPN (`h2`, `http/1.1`). Clients must trust
    /// [`TestServer::ca_certificate_pem`].
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Requires a client certificate (mutual TLS; implies [`tls`](Self::tls)):
    /// the server trusts a CA made at start, and
    /// [`TestServer::client_identity_pem`] is an identity it issued. A
    /// client without it, or with another certificate, fails the handshake.
    pub fn require_client_certificate(mut self) -> Self {
        self.tls = true;
        self.client_auth = true;
        self
    }

    /// Speaks HTTP/1.x only (ALPN `http/1.1` only with TLS).
    pub fn http1_only(mut self) -> Self {
        self.versions = Versions::Http1;
        self
    }

    /// Speaks HTTP/2 only: prior knowledge (h2c) without TLS, ALPN `h2` only
    /// with TLS.
    pub fn http2_only(mut self) -> Self {
        self.versions = Versions::Http2;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// Must be called within a tokio runtime with I/O and time enabled.
    ///
    /// # Errors
    ///
    /// Fails if the port cannot be bound or, with TLS, if the certificate
    /// cannot be made.
    pub async fn start(self) -> io::Result<TestServer> {
        let alpn: &[&[u8]] = match self.versions {
            Versions::Both => &[b"h2", b"http/1.1"],
            Versions::Http1 => &[b"http/1.1"],
            Versions::Http2 => &[b"h2"],
        };
        let tls = if self.tls {
            Some(tls::self_signed(alpn, self.client_auth)?)
        } else {
            None
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;

        let (shutdown_tx, shutdown_rx) = watch::channel(());
        let executor = ShutdownExecutor {
            shutdown: shutdown_rx.clone(),
        };
        let mut builder = auto::Builder::new(executor.clone());
        builder = match self.versions {
            Versions::Both => builder,
            Versions::Http1 => builder.http1_only(),
            Versions::Http2 => builder.http2_only(),
        };
        // hyper's default 30 s header timeout needs a timer and would fire
        // at once on a paused test clock; a test server waits for as long
        // as the client under test takes.
        builder.http1().header_read_timeout(None);

        let shared = Arc::new(Shared::default());
        let (certificate_pem, acceptor, client_identity) = match tls {
            Some(ServerTls {
                acceptor,
                certificate_pem,
                client_identity,
            }) => (Some(certificate_pem), Some(acceptor), client_identity),
            None => (None, None, None),
        };
        let accept_task = spawn_until_shutdown(
            shutdown_rx,
            accept_loop(listener, shared.clone(), acceptor, Arc::new(builder), executor),
        );
        Ok(TestServer {
            addr,
            certificate_pem,
            client_identity,
            shared,
            accept_task,
            _shutdown: shutdown_tx,
        })
    }
}

impl TestServer {
    /// Starts a plain-HTTP server speaking HTTP/1.1 and HTTP/2 (h2c, prior
    /// knowledge), told apart per connection; see [`TestServer::builder`]
    /// for TLS or a single version.
    ///
    /// # Errors
    ///
    /// Fails if `127.0.0.1:0` cannot be bound.
    pub async fn start() -> io::Result<TestServer> {
        TestServer::builder().start().await
    }

    /// A builder for a server with TLS or a single HTTP version.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// The address the server listens on (`127.0.0.1` and its port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, without trailing slash: `http://127.0.0.1:PORT`, or
    /// `https://localhost:PORT` with TLS (the name the certificate is for;
    /// `localhost` must resolve to 127.0.0.1, as it does on common systems).
    pub fn url(&self) -> String {
        match self.certificate_pem {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// The server's self-signed certificate in PEM, for the client under
    /// test to trust as its root; `None` without TLS.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.certificate_pem.clone()
    }

    /// With [`require_client_certificate`](TestServerBuilder::require_client_certificate):
    /// a client certificate chain and its PKCS#8 key (both PEM) that the
    /// server accepts.
    pub fn client_identity_pem(&self) -> Option<(String, String)> {
        self.client_identity.clone()
    }

    /// Sets the script of `method` + `path` (exact path, query ignored),
    /// replacing any previous one and starting from its first reply.
    ///
    /// Each request plays the next reply; once the last is reached it answers
    /// every further request. An empty script removes the route, so requests
    /// get the `404` of unknown routes again.
    pub fn route(&self, method: Method, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies: Vec<Reply> = replies.into_iter().collect();
        let mut routes = lock(&self.shared.routes);
        let key = (method, path.to_owned());
        if replies.is_empty() {
            routes.remove(&key);
        } else {
            routes.insert(key, Script { replies, next: 0 });
        }
    }

    /// Every request received since start (or the last
    /// [`reset_records`](Self::reset_records)), in the order their reception
    /// completed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.records).clone()
    }

    /// The recorded requests whose path (query ignored) is `path`, any method.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.shared.records)
            .iter()
            .filter(|r| r.path() == path)
            .cloned()
            .collect()
    }

    /// How many recorded requests have the path `path` (query ignored), any
    /// method.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.records)
            .iter()
            .filter(|r| r.path() == path)
            .count()
    }

    /// The largest number of requests the server has handled at once: a
    /// request counts from the moment its head arrives until its response
    /// head is ready (so a [`Reply::delay`] keeps it in flight). For
    /// concurrency-limit tests.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many TCP connections the server has accepted since start.
    pub fn connections(&self) -> usize {
        usize::try_from(self.shared.connections.load(Ordering::SeqCst)).unwrap_or(usize::MAX)
    }

    /// Forgets the recorded requests and restarts [`max_in_flight`]
    /// from the number of requests in flight now. Routes, their positions in
    /// their scripts and the connection count are kept.
    ///
    /// [`max_in_flight`]: Self::max_in_flight
    pub fn reset_records(&self) {
        lock(&self.shared.records).clear();
        let now = self.shared.in_flight.load(Ordering::SeqCst);
        self.shared.max_in_flight.store(now, Ordering::SeqCst);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Dropping `_shutdown` right after this stops the connection tasks;
        // aborting here as well closes the listener without waiting for the
        // accept task to be polled again.
        self.accept_task.abort();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url())
            .field("tls", &self.certificate_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// State shared by the [`TestServer`] handle and its tasks.
#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<(Method, String), Script>>,
    records: Mutex<Vec<RecordedRequest>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    connections: AtomicU64,
}

struct Script {
    replies: Vec<Reply>,
    next: usize,
}

impl Script {
    fn next_reply(&mut self) -> Option<Reply> {
        let reply = self.replies.get(self.next).or(self.replies.last())?.clone();
        if self.next + 1 < self.replies.len() {
            self.next += 1;
        }
        Some(reply)
    }
}

/// A poisoned lock only means another test thread panicked while holding it;
/// the records are still worth reading.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `future` as a task that also ends as soon as the server's shutdown
/// sender is dropped.
fn spawn_until_shutdown<F>(mut shutdown: watch::Receiver<()>, future: F) -> JoinHandle<()>
where
    F: Future + Send + 'static,
{
    tokio::spawn(async move {
        tokio::select! {
            _ = future => {}
            // Only ever an Err: the sender never sends, it is dropped.
            _ = shutdown.changed() => {}
        }
    })
}

/// The executor hyper spawns HTTP/2 stream tasks on, so those stop with the
/// server too rather than outliving it until their next I/O.
#[derive(Clone)]
struct ShutdownExecutor {
    shutdown: watch::Receiver<()>,
}

impl<F> hyper::rt::Executor<F> for ShutdownExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(spawn_until_shutdown(self.shutdown.clone(), future));
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    builder: Arc<auto::Builder<ShutdownExecutor>>,
    executor: ShutdownExecutor,
) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Typically out of file descriptors: pause instead of spinning,
            // the condition may clear.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Stalls and small scripted chunks must reach the client when sent,
        // not when Nagle's algorithm decides.
        let _ = stream.set_nodelay(true);
        let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let connection = serve_connection(stream, id, shared.clone(), acceptor.clone(), builder.clone());
        drop(spawn_until_shutdown(executor.shutdown.clone(), connection));
    }
}

async fn serve_connection(
    stream: TcpStream,
    id: u64,
    shared: Arc<Shared>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    builder: Arc<auto::Builder<ShutdownExecutor>>,
) {
    let faults = SocketFaults::default();
    let io = FaultyStream {
        stream,
        faults: faults.clone(),
        lingering: false,
    };
    let service = service_fn(move |request| handle(shared.clone(), id, faults.clone(), request));
    // Connection errors (client went away, scripted reset or abort) are
    // part of what the server is for; there is no one to report them to.
    match acceptor {
        Some(acceptor) => {
            if let Ok(tls_stream) = acceptor.accept(io).await {
                let _ = builder.serve_connection(TokioIo::new(tls_stream), service).await;
            }
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(io), service).await;
        }
    }
}

/// Serves one request: read and record it, then play the route's next reply.
async fn handle(
    shared: Arc<Shared>,
    connection: u64,
    faults: SocketFaults,
    request: Request<Incoming>,
) -> io::Result<Response<ScriptedBody>> {
    let _in_flight = InFlight::enter(&shared);
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?
        .to_bytes();

    let http1 = parts.version < Version::HTTP_2;
    let key = (parts.method.clone(), parts.uri.path().to_owned());
    {
        let mut records = lock(&shared.records);
        // Timestamp under the lock so record order and times agree.
        records.push(RecordedRequest {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body,
            received_at: Instant::now(),
            connection,
        });
    }
    let reply = lock(&shared.routes)
        .get_mut(&key)
        .and_then(Script::next_reply)
        .unwrap_or_else(no_route);

    let delay = reply.head_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if reply.is_reset() {
        // On HTTP/2 the error alone resets just this stream; resetting the
        // socket would kill the other streams sharing the connection.
        if http1 {
            faults.reset.store(true, Ordering::SeqCst);
        }
        return Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "conn-testkit: scripted reset",
        ));
    }
    let response = reply.to_response();
    Ok(response.map(|body| {
        if http1 {
            body.abort_via(faults.close_after_flush.clone())
        } else {
            body.abort_for_http2()
        }
    }))
}

/// What a request handler can do to its connection's socket, beyond what
/// hyper does with it. Only used on HTTP/1, where a connection carries one
/// exchange at a time.
#[derive(Clone, Default)]
struct SocketFaults {
    /// Set by [`Reply::reset`]: fail every I/O from now on and close with a
    /// TCP RST.
    reset: Arc<AtomicBool>,
    /// Set by a body that aborts (see `ScriptedBody::abort_via`): fail the
    /// connection as soon as hyper has flushed what it buffered, so the
    /// client receives every byte sent before the abort.
    close_after_flush: Arc<AtomicBool>,
}

/// The accepted TCP stream, playing the [`SocketFaults`] of its connection.
///
/// Once `reset` is set every further read or write fails and closing the
/// socket sends RST instead of FIN, because the linger time is zero. Once
/// `close_after_flush` is set the next flush fails, which makes hyper drop
/// the connection with a plain close after its buffered bytes went out.
struct FaultyStream {
    stream: TcpStream,
    faults: SocketFaults,
    lingering: bool,
}

impl FaultyStream {
    fn check(&mut self) -> io::Result<()> {
        if !self.faults.reset.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.arm_rst();
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "conn-testkit: scripted reset",
        ))
    }

    fn arm_rst(&mut self) {
        if !self.lingering {
            self.lingering = true;
            // Deprecated because a non-zero linger blocks the thread on
            // close; a zero linger never blocks, it makes close send RST,
            // which is the whole point here.
            #[allow(deprecated)]
            let _ = self.stream.set_linger(Some(Duration::ZERO));
        }
    }
}

impl Drop for FaultyStream {
    fn drop(&mut self) {
        // hyper may drop the connection after the service error without
        // touching the socket again; the RST must still happen on close.
        if self.faults.reset.load(Ordering::SeqCst) {
            self.arm_rst();
        }
    }
}

impl AsyncRead for FaultyStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        // hyper (and TLS) write out everything they buffered before flushing
        // the socket, so by now every byte sent before the abort is with the
        // kernel, which delivers it before the FIN.
        if this.faults.close_after_flush.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "conn-testkit: scripted body abort",
            )));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A FIN now would turn the reset into a clean close.
        this.check()?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
