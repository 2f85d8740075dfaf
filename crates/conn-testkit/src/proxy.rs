//! `TestProxy`: an HTTP proxy on 127.0.0.1 for tests of egress through one.
//!
//! Why in the kit: a client's proxy support is only believable against a
//! proxy that behaves like one: it tunnels `CONNECT host:port` (so TLS
//! stays end to end), forwards absolute-form plain-HTTP requests, demands
//! credentials when told to (407) and refuses when told to (502), and
//! records what it was asked, so a test can check that proxy credentials
//! reach the proxy and origin credentials do not.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The largest request head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy was asked, one entry per request head it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `CONNECT`, or the method of a forwarded request.
    pub method: String,
    /// `host:port` for CONNECT, the absolute URI otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
    /// The `Authorization` header, if any (an origin's credential the
    /// proxy could read: only on plain-HTTP requests).
    pub authorization: Option<String>,
}

/// Configures a [`TestProxy`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct TestProxyBuilder {
    basic_auth: Option<String>,
    refuse: Option<u16>,
}

impl TestProxyBuilder {
    /// Answers 407 unless the request carries these Basic credentials.
    pub fn require_basic_auth(mut self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.basic_auth = Some(format!("Basic {token}"));
        self
    }

    /// Answers every request with `status` (502 for a proxy that cannot
    /// reach upstream) and closes the connection.
    pub fn refuse_with(mut self, status: u16) -> Self {
        self.refuse = Some(status);
        self
    }

    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// Fails if the port cannot be bound.
    pub async fn start(self) -> io::Result<TestProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let settings = Arc::new(self);
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, settings.clone(), seen.clone()));
            }
        });
        Ok(TestProxy { addr, requests, task })
    }
}

/// An HTTP proxy on `127.0.0.1` that tunnels CONNECT, forwards
/// absolute-form requests and records each request head; stopped on drop.
///
/// ```
/// use conn_testkit::TestProxy;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let proxy = TestProxy::builder().require_basic_auth("svc", "s3cret").start().await?;
/// let url = proxy.url(); // "http://127.0.0.1:PORT": the client's proxy setting
/// // ... call through it, then:
/// assert!(proxy.requests().is_empty());
/// # let _ = url;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestProxy {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: JoinHandle<()>,
}

impl TestProxy {
    /// A proxy that tunnels and forwards everything, without credentials.
    ///
    /// # Errors
    ///
    /// Fails if the port cannot be bound.
    pub async fn start() -> io::Result<TestProxy> {
        TestProxyBuilder::default().start().await
    }

    /// A builder for a proxy that demands credentials or refuses.
    pub fn builder() -> TestProxyBuilder {
        TestProxyBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request head read so far.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection: its first request head decides what follows.
async fn serve(
    mut client: TcpStream,
    settings: Arc<TestProxyBuilder>,
    seen: Arc<Mutex<Vec<ProxiedRequest>>>,
) {
    let Ok(Some((head, rest))) = read_head(&mut client).await else {
        return;
    };
    let Some(request) = parse(&head) else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request.clone());

    if let Some(status) = settings.refuse {
        let answer = format!("HTTP/1.1 {status} Refused\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    }
    if let Some(expected) = &settings.basic_auth
        && request.proxy_authorization.as_deref() != Some(expected.as_str())
    {
        let answer = "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"test\"\r\n\
                      content-length: 0\r\nconnection: close\r\n\r\n";
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    }

    if request.method == "CONNECT" {
        let Ok(mut upstream) = TcpStream::connect(&request.target).await else {
            let _ = client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }

    // Forwarding: to the URI's authority, the head without the proxy's credentials.
    let Some(authority) = request
        .target
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.to_string()))
    else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let forwarded: String = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("proxy-authorization:"))
        .collect();
    if upstream.write_all(forwarded.as_bytes()).await.is_err() || upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Reads up to the end of the request head; the head as text and the
/// bytes read past it.
async fn read_head(client: &mut TcpStream) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok(String::from_utf8(buffer).ok().map(|head| (head, rest)));
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn parse(head: &str) -> Option<ProxiedRequest> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let mut proxy_authorization = None;
    let mut authorization = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = Some(value.trim().to_owned());
            match name.trim().to_ascii_lowercase().as_str() {
                "proxy-authorization" => proxy_authorization = value,
                "authorization" => authorization = value,
                _ => {}
            }
        }
    }
    Some(ProxiedRequest {
        method,
        target,
        proxy_authorization,
        authorization,
    })
}
