//! A cap on open connections per origin.
//!
//! Why at the connector: hyper-util's pool limits *idle* connections per
//! host but opens a new one for every request that finds none idle, so a
//! burst of 1,000 calls opens up to 1,000 sockets. Capping requests in
//! flight would not be enough either: the pool may open a socket while an
//! idle one is on its way back, and keep both. So each new connection takes
//! a slot of its origin (scheme, host and port) when it is made and holds it
//! for as long as the socket lives; a request that finds every connection
//! busy waits in the pool for one to come free. The sockets to an origin
//! therefore never exceed the cap, idle ones included.
//!
//! A slot is waited for at most the connect timeout; past it the connect
//! fails (nothing was sent, so even a POST may be retried).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use conn_core::{BoxError, BoxFuture};
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

/// Slots per origin, shared by every clone of the transport.
#[derive(Debug)]
pub(crate) struct HostSlots {
    per_host: usize,
    wait: Duration,
    origins: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostSlots {
    pub(crate) fn new(per_host: usize, wait: Duration) -> Self {
        HostSlots {
            per_host,
            wait,
            origins: Mutex::new(HashMap::new()),
        }
    }

    /// Waits (at most the connect timeout) for a slot of `uri`'s origin.
    async fn acquire(&self, uri: &Uri) -> Result<OwnedSemaphorePermit, BoxError> {
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str())
        );
        let semaphore = {
            let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
            origins
                .entry(origin)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        match tokio::time::timeout(self.wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(closed.into()),
            Err(_) => Err(format!(
                "all {} connections to the host stayed busy for the connect timeout ({} ms)",
                self.per_host,
                self.wait.as_millis()
            )
            .into()),
        }
    }
}

/// A connector whose connections each hold a slot of their origin (or
/// nothing, without a cap).
///
/// Also the one `Arc` around the whole connector stack: hyper-util clones
/// its connector for every request, connection or not, so the stack
/// (TLS, proxy and TCP settings, a handful of `Arc`s) is cloned here only
/// when a connection is really made.
#[derive(Debug)]
pub(crate) struct CappedConnector<S> {
    shared: Arc<Capping<S>>,
}

#[derive(Debug)]
struct Capping<S> {
    connector: S,
    slots: Option<Arc<HostSlots>>,
}

impl<S> CappedConnector<S> {
    pub(crate) fn new(connector: S, slots: Option<Arc<HostSlots>>) -> Self {
        CappedConnector {
            shared: Arc::new(Capping { connector, slots }),
        }
    }
}

impl<S> Clone for CappedConnector<S> {
    fn clone(&self) -> Self {
        CappedConnector {
            shared: self.shared.clone(),
        }
    }
}

impl<S> Service<Uri> for CappedConnector<S>
where
    S: Service<Uri> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = Capped<S::Response>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Capped<S::Response>, BoxError>>;

    /// Always ready: readiness is asked of the stack's own clone in `call`.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let slot = match &shared.slots {
                Some(slots) => Some(slots.acquire(&uri).await?),
                None => None,
            };
            let mut connector = shared.connector.clone();
            std::future::poll_fn(|cx| connector.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let io = connector.call(uri).await.map_err(Into::into)?;
            Ok(Capped { io, _slot: slot })
        })
    }
}

/// A connection and the slot it holds until it closes.
#[derive(Debug)]
pub(crate) struct Capped<T> {
    io: T,
    _slot: Option<OwnedSemaphorePermit>,
}

impl<T: Connection> Connection for Capped<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: Read + Unpin> Read for Capped<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Capped<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
