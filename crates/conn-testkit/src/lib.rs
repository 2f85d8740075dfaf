//! Test kit for code that talks to HTTP APIs, used by conn's own tests and by
//! its users' tests.
//!
//! [`TestServer`] is a real HTTP/1.1 + HTTP/2 server on `127.0.0.1` (optionally
//! TLS with a self-signed certificate made at start) whose routes play scripts
//! of [`Reply`]s, faults included: delays, stalled and truncated bodies,
//! connection resets, gigabyte bodies streamed from a single chunk. Every request it receives is kept as a
//! [`RecordedRequest`], so a test can assert both on what its client got and
//! on what it sent.
//!
//! ```
//! use std::time::Duration;
//! use conn_testkit::{Reply, TestServer};
//! use http::Method;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = TestServer::start().await?;
//! // Two failures, then success for every later call.
//! server.route(
//!     Method::GET,
//!     "/v1/orders",
//!     [
//!         Reply::status(503).header("retry-after", "0"),
//!         Reply::reset(),
//!         Reply::json(200, r#"{"orders":[]}"#).delay(Duration::from_millis(10)),
//!     ],
//! );
//! let base_url = server.url();
//! // ... point the client under test at `base_url`, call it, then:
//! for request in server.requests_to("/v1/orders") {
//!     assert!(request.header("authorization").is_some());
//! }
//! # let _ = base_url;
//! # Ok(())
//! # }
//! ```
//!
//! [`fixture`] records real interactions (credentials scrubbed) to a JSON
//! file and replays them with a strict matcher, so tests of a connector run
//! offline and deterministically.
//!
//! [`RedisServer`] and [`RedisCluster`] start real `redis-server` processes
//! on free loopback ports (killed on drop), for tests of fleet state.
//!
//! The server waits on real sockets, so its tests run on a normal tokio clock:
//! a paused clock advances by itself while the runtime waits for I/O. Use
//! small delays (tens of milliseconds) and generous timeouts, and assert only
//! "at least this long" about time.
#![deny(missing_docs)]

mod body;
pub mod fixture;
mod mock;
mod proxy;
mod record;
mod redis;
mod reply;
mod server;
mod tls;

pub use body::ScriptedBody;
pub use mock::{MockReply, MockTransport, ScriptedTransport, SentRequest};
pub use proxy::{ProxiedRequest, TestProxy, TestProxyBuilder};
pub use record::RecordedRequest;
pub use redis::{RedisCluster, RedisServer, RedisServerBuilder, redis_available};
pub use reply::Reply;
pub use server::{TestServer, TestServerBuilder};
