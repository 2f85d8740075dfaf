//! Real `redis-server` processes for tests: standalone or a 3-master
//! cluster, each on a free loopback port in its own temporary directory,
//! killed when dropped. A test can kill and restart one to prove what
//! happens when Redis goes away and comes back.
//!
//! The binaries come from Debian's `redis-server` package (redis-cli comes
//! with it, in redis-tools); `cargo xtask test-all` installs it when missing.

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const STARTUP: Duration = Duration::from_secs(10);

/// One `redis-server` process on `127.0.0.1`.
///
/// ```no_run
/// use conn_testkit::RedisServer;
///
/// let mut redis = RedisServer::start()?;
/// let url = redis.url(); // redis://127.0.0.1:<port>
/// redis.kill();          // Redis is gone...
/// redis.restart()?;      // ...and back, on the same port, empty
/// # let _ = url;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    cluster: bool,
    child: Option<Child>,
}

/// Options of a [`RedisServer`].
#[derive(Clone, Debug, Default)]
pub struct RedisServerBuilder {
    password: Option<String>,
}

impl RedisServerBuilder {
    /// Requires this password (`requirepass`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Starts the server and waits until it answers.
    pub fn start(self) -> io::Result<RedisServer> {
        RedisServer::spawn(self.password, false)
    }
}

impl RedisServer {
    /// A standalone server without a password.
    pub fn start() -> io::Result<Self> {
        RedisServer::builder().start()
    }

    /// Options: a password.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    fn spawn(password: Option<String>, cluster: bool) -> io::Result<Self> {
        let dir = temp_dir()?;
        let mut server = RedisServer {
            port: 0,
            dir,
            password,
            cluster,
            child: None,
        };
        // A free port can be taken between the probe and the bind: try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    fn launch(&mut self) -> io::Result<()> {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port, "--bind", "127.0.0.1", "--protected-mode", "no"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        if self.cluster {
            command.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--cluster-node-timeout",
                "2000",
            ]);
        }
        let child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot run redis-server ({e}); install it: apt-get install -y redis-server \
                     (cargo xtask test-all does when it may)"
                ),
            )
        })?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "redis-server on port {port} exited at start ({status})"
                )));
            }
            if self.cli(&["PING"]).is_ok_and(|out| out.trim() == "PONG") {
                return Ok(());
            }
            if started.elapsed() > STARTUP {
                self.kill();
                return Err(io::Error::other(format!(
                    "redis-server on port {port} did not answer within {STARTUP:?}"
                )));
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[:password@]127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().is_ok_and(|s| s.is_none()))
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        // The port may linger briefly after the kill.
        let started = Instant::now();
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(err) if started.elapsed() > STARTUP => return Err(err),
                Err(_) => sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs `redis-cli` against this server with `args`; its output.
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        cli(self.port, self.password.as_deref(), args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three masters (no replicas) on free loopback ports,
/// created with `redis-cli --cluster create`; every node killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes, joins them and waits until the cluster is up.
    pub fn start() -> io::Result<Self> {
        let nodes = (0..3)
            .map(|_| RedisServer::spawn(None, true))
            .collect::<io::Result<Vec<_>>>()?;
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let output = nodes[0].cli(&args)?;
        if !output.contains("[OK]") {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {output}"
            )));
        }
        let started = Instant::now();
        while !nodes.iter().all(|n| {
            n.cli(&["CLUSTER", "INFO"])
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        }) {
            if started.elapsed() > STARTUP {
                return Err(io::Error::other("the cluster did not reach cluster_state:ok"));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(RedisCluster { nodes })
    }

    /// The nodes, e.g. to count keys per master or kill one.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// Runs `redis-cli -p port [-a password] args...`.
fn cli(port: u16, password: Option<&str>, args: &[&str]) -> io::Result<String> {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(password) = password {
        // Through the environment, so it is not on the command line.
        command.env("REDISCLI_AUTH", password);
    }
    let output = command.args(args).stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A loopback port nobody listens on right now, whose cluster bus port
/// (port + 10000) is free too.
fn free_port() -> io::Result<u16> {
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        drop(listener);
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free loopback port pair for redis-server"))
}

/// A new empty directory under the system's temporary directory.
fn temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "conn-redis-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Whether `redis-server` can be run here.
pub fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
