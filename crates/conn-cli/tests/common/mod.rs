//! What the CLI tests share: the `conn` binary, the caller key their
//! blueprints read from `CONN_TEST_KEY`, a blueprint file per test, `conn
//! serve` started and listening, and one request's status.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};
use tokio::task::JoinHandle;

pub const CONN: &str = env!("CARGO_BIN_EXE_conn");
pub const KEY: &str = "cli-test-caller-key";

/// A blueprint file of its own for each test.
pub fn write_blueprint(text: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "conn-cli-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `conn serve`, its address, and the rest of its log lines.
pub struct Serving {
    pub child: Child,
    pub addr: String,
    /// Every log line after the listening one, joined, once `conn serve`
    /// closes its stderr (it exited). The lines are read from the start,
    /// whether or not a test awaits them: a stderr nobody reads would fail
    /// the server's log writes (a closed pipe) or block them (a full one).
    pub logs: JoinHandle<String>,
}

/// Starts `conn serve` on `path` (on a free port, with the caller key and
/// `env`) and waits until it says it listens.
pub async fn serve(path: &Path, env: &[(&str, &str)]) -> Serving {
    let (child, addr, mut lines) = listening(path, env).await;
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    Serving { child, addr, logs }
}

/// [`serve`], handing over its stderr as it is: a test that drops it
/// closes the pipe under the server.
pub async fn listening(path: &Path, env: &[(&str, &str)]) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    let mut child = tokio::process::Command::new(CONN)
        .arg("serve")
        .arg(path)
        .args(["--listen", "127.0.0.1:0"])
        .env("CONN_TEST_KEY", KEY)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("conn: listening on http://") {
                return addr.to_owned();
            }
        }
        panic!("conn serve ended before listening");
    })
    .await
    .expect("conn serve listens within 30 s");
    (child, addr, lines)
}

/// One HTTP/1.1 request over a fresh connection, with the caller key; the status code.
pub async fn status_of(addr: &str, path: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: conn\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}
