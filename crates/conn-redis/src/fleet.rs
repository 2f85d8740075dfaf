//! `Fleet`: one Redis connection (standalone or Cluster) shared by every
//! store of a process, with a time limit on every operation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conn_core::{Deadline, Error, ErrorKind};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Value};
use secrecy::{ExposeSecret, SecretString};

use crate::health::Health;
use crate::keys::Keys;

/// Default time limit of one Redis operation.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(50);
/// Default time limit of connecting.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the fleet's Redis is and how to talk to it.
///
/// The URL is a secret (it may carry a password): it is never shown by
/// `Debug`, in errors or logs. `redis://` is plain TCP, `rediss://` is TLS
/// (rustls, system roots).
///
/// ```
/// use std::time::Duration;
/// use conn_redis::FleetConfig;
///
/// let config = FleetConfig::new("redis://:hunter2@10.0.0.5:6379")
///     .key_prefix("billing-sync")
///     .op_timeout(Duration::from_millis(30));
/// assert!(!format!("{config:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
pub struct FleetConfig {
    urls: Vec<SecretString>,
    cluster: bool,
    prefix: String,
    op_timeout: Duration,
    connect_timeout: Duration,
}

impl FleetConfig {
    /// A standalone Redis (or a Sentinel-managed master's address, or a
    /// managed service endpoint) at `url`.
    pub fn new(url: impl Into<SecretString>) -> Self {
        FleetConfig {
            urls: vec![url.into()],
            cluster: false,
            prefix: "conn".to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// A Redis Cluster reached through any of `urls` (its seed nodes).
    pub fn cluster<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<SecretString>,
    {
        FleetConfig {
            urls: urls.into_iter().map(Into::into).collect(),
            cluster: true,
            ..FleetConfig::new(String::new())
        }
    }

    /// The prefix of every key (default `conn`): one per application, so
    /// several share a Redis without meeting.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Time limit of one Redis operation (default 50 ms), always within the
    /// call's own deadline.
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Time limit of connecting (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("urls", &format_args!("<{} redacted>", self.urls.len()))
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A connection to the fleet's Redis, shared by the stores of one process.
///
/// Cheap to clone. Reconnects by itself after Redis restarts; every
/// operation is bounded by the operation time limit and by the caller's
/// deadline, so a slow or dead Redis never holds a call.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    keys: Keys,
    op_timeout: Duration,
    health: Health,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Fleet {
    /// Connects and checks the connection with a `PING`.
    ///
    /// # Errors
    ///
    /// A configuration error, naming the problem but never the URL's
    /// secret, when the URL is malformed, the password is refused, or TLS
    /// does not match (a `rediss://` URL to a plain server or the reverse).
    /// A Redis that is merely unreachable is not an error: the fleet starts
    /// in its fallback mode and connects when Redis appears (a standalone
    /// Redis; a Cluster needs one seed node to start).
    pub async fn connect(config: FleetConfig) -> Result<Fleet, Error> {
        let op_timeout = config.op_timeout;
        let conn = if config.cluster {
            Conn::Cluster(connect_cluster(&config).await?)
        } else {
            Conn::Single(connect_single(&config).await?)
        };
        Ok(Fleet {
            inner: Arc::new(Inner {
                conn,
                keys: Keys::new(&config.prefix),
                op_timeout,
                health: Health::new(),
            }),
        })
    }

    /// The key names of this fleet.
    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// Whether the last Redis operation succeeded.
    pub fn is_up(&self) -> bool {
        self.inner.health.is_up()
    }

    /// The operation time limit.
    pub fn op_timeout(&self) -> Duration {
        self.inner.op_timeout
    }

    /// Runs a command, bounded by the time limit and `deadline`.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd, deadline: Deadline) -> Result<T, Error> {
        let mut conn = self.inner.conn.clone();
        self.bounded(deadline, async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// Runs a Lua script, bounded by the time limit and `deadline`.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        deadline: Deadline,
    ) -> Result<T, Error> {
        let mut conn = self.inner.conn.clone();
        self.bounded(
            deadline,
            async move { invocation.invoke_async::<T>(&mut conn).await },
        )
        .await
    }

    async fn bounded<T>(
        &self,
        deadline: Deadline,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Error> {
        if !self.inner.health.should_try() {
            return Err(
                Error::new(ErrorKind::Connect, "Redis is down (it is probed again shortly)").transient(true),
            );
        }
        let limit = Deadline::after(self.inner.op_timeout).earliest(deadline);
        let outcome = match limit.instant() {
            Some(at) => tokio::time::timeout_at(at, op).await.map_err(|_| {
                Error::new(
                    ErrorKind::Timeout(conn_core::TimeoutKind::Attempt),
                    format!(
                        "Redis did not answer within {} ms",
                        limit
                            .remaining()
                            .unwrap_or_default()
                            .max(self.inner.op_timeout)
                            .as_millis()
                    ),
                )
            }),
            None => Ok(op.await),
        };
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(redis_error(&err)),
            Err(err) => Err(err),
        };
        self.inner.health.record(result.is_ok());
        result
    }
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field(
                "kind",
                &match self.inner.conn {
                    Conn::Single(_) => "standalone",
                    Conn::Cluster(_) => "cluster",
                },
            )
            .field("prefix", &self.inner.keys.prefix())
            .field("op_timeout", &self.inner.op_timeout)
            .field("up", &self.is_up())
            .finish()
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

async fn connect_single(config: &FleetConfig) -> Result<ConnectionManager, Error> {
    let url = config.urls.first().map(|u| u.expose_secret()).unwrap_or_default();
    let client = redis::Client::open(url).map_err(|e| config_error("the Redis URL is not valid", &e))?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.op_timeout.max(Duration::from_secs(1))))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let first = tokio::time::timeout(
        config.connect_timeout + Duration::from_millis(100),
        ConnectionManager::new_with_config(client.clone(), manager_config.clone()),
    )
    .await;
    match first {
        Ok(Ok(mut manager)) => {
            check(&mut manager).await?;
            Ok(manager)
        }
        Ok(Err(err)) if is_config_problem(&err) => Err(config_error("Redis refused the connection", &err)),
        // Unreachable now: start in the fallback mode, connect on first use.
        _ => {
            if let redis::ConnectionAddr::TcpTls { host, port, .. } = client.get_connection_info().addr()
                && speaks_plain_redis(host, *port, config.connect_timeout).await
            {
                return Err(Error::config(
                    "the Redis URL asks for TLS (rediss://) but the server speaks plain Redis: use redis://, or enable TLS on the server",
                ));
            }
            tracing::warn!(
                target: "conn_redis",
                "Redis is unreachable at start; fleet state falls back to each store's policy until it answers"
            );
            ConnectionManager::new_lazy_with_config(client, manager_config)
                .map_err(|e| config_error("the Redis client cannot be created", &e))
        }
    }
}

async fn connect_cluster(config: &FleetConfig) -> Result<ClusterConnection, Error> {
    let urls: Vec<String> = config.urls.iter().map(|u| u.expose_secret().to_owned()).collect();
    let client = ClusterClientBuilder::new(urls)
        .connection_timeout(config.connect_timeout)
        .response_timeout(config.op_timeout.max(Duration::from_secs(1)))
        .retries(1)
        .build()
        .map_err(|e| config_error("the Redis Cluster URLs are not valid", &e))?;
    let connect = tokio::time::timeout(config.connect_timeout * 3, client.get_async_connection())
        .await
        .map_err(|_| Error::new(ErrorKind::Connect, "no Redis Cluster seed node answered in time"))?;
    let mut conn = match connect {
        Ok(conn) => conn,
        Err(err) if is_config_problem(&err) => {
            return Err(config_error("Redis Cluster refused the connection", &err));
        }
        Err(err) => {
            return Err(Error::new(
                ErrorKind::Connect,
                format!("no Redis Cluster seed node answered: {}", describe(&err)),
            ));
        }
    };
    check(&mut conn).await?;
    Ok(conn)
}

/// Whether a plain-text `PING` to `host:port` gets a Redis answer: tells a
/// TLS mismatch (the TLS handshake hangs on a plain server) from an outage.
async fn speaks_plain_redis(host: &str, port: u16, within: Duration) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await.ok()?;
        // `+PONG`, or `-NOAUTH ...` from a server that wants a password.
        Some(first[0] == b'+' || first[0] == b'-')
    };
    tokio::time::timeout(within, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// A `PING`: a refused password shows here when the server accepts the
/// connection but not the command.
async fn check(conn: &mut impl ConnectionLike) -> Result<(), Error> {
    match redis::cmd("PING").query_async::<String>(conn).await {
        Ok(_) => Ok(()),
        Err(err) if is_config_problem(&err) => Err(config_error("Redis refused the connection", &err)),
        Err(_) => Ok(()),
    }
}

/// Whether an error is one no retry fixes: a password refused or missing, TLS mismatch.
fn is_config_problem(err: &redis::RedisError) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    err.kind() == redis::ErrorKind::AuthenticationFailed
        || text.contains("noauth")
        || text.contains("wrongpass")
        || text.contains("invalid password")
        || text.contains("tls")
        || text.contains("certificate")
        || text.contains("handshake")
        || text.contains("invalid client config")
        || text.contains("invaliddata")
        || text.contains("invalid data")
}

fn config_error(what: &str, err: &redis::RedisError) -> Error {
    Error::config(format!(
        "{what}: {} (check the password, and rediss:// only for a TLS server)",
        describe(err)
    ))
}

/// An error's text with anything URL-like cut, so no password appears.
fn describe(err: &redis::RedisError) -> String {
    conn_core::scrub_secrets(&err.to_string())
        .split_whitespace()
        .map(|word| if word.contains("://") { "<url>" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

fn redis_error(err: &redis::RedisError) -> Error {
    Error::new(ErrorKind::Connect, format!("Redis failed: {}", describe(err))).transient(true)
}
