//! The real servers and tools that tests and benchmarks start, from
//! Debian's packages: installed when missing and the machine allows it,
//! otherwise a stop with the exact command to run.
//!
//! Why install instead of skipping: a test that skips when redis-server is
//! missing proves nothing on the one machine (CI) where it matters most.

use std::process::{Command, Stdio};

/// A command the project needs and the Debian package that provides it.
pub struct Tool {
    /// The command looked up on `PATH` (or an absolute path).
    pub command: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// What needs it, for the messages.
    pub purpose: &'static str,
}

/// Callgrind, for instruction counts per request.
pub const VALGRIND: Tool = Tool {
    command: "valgrind",
    package: "valgrind",
    purpose: "cargo xtask bench --instructions",
};

/// redis-server, for conn-redis's tests (standalone and cluster). Debian's
/// package also brings redis-cli (redis-tools), which creates the cluster.
pub const REDIS: Tool = Tool {
    command: "redis-server",
    package: "redis-server",
    purpose: "conn-redis's tests (the test kit starts its own redis-server processes)",
};

/// curl, the client outside Rust that proves the gateway's HTTP contract
/// (conn-gateway's `curl_sees_the_http_contract`).
pub const CURL: Tool = Tool {
    command: "curl",
    package: "curl",
    purpose: "conn-gateway's tests (curl as the client of the gateway)",
};

/// nginx, the reference reverse proxy of `cargo xtask bench --gateway`
/// (the bench starts its own on loopback with a generated config). Not a
/// test tool: only that bench ensures it.
pub const NGINX: Tool = Tool {
    command: "nginx",
    package: "nginx",
    purpose: "cargo xtask bench --gateway (nginx proxy_pass as the baseline)",
};

/// promtool, which checks deploy/prometheus/alerts.yml and runs its unit
/// tests (Debian's `prometheus` package brings it).
pub const PROMTOOL: Tool = Tool {
    command: "promtool",
    package: "prometheus",
    purpose: "the alert rules' check and unit tests (deploy/prometheus)",
};

/// Headless Chromium, the browser of conn-gateway's status page test.
pub const CHROMIUM: Tool = Tool {
    command: "chromium",
    package: "chromium",
    purpose: "conn-gateway's status page test (headless Chromium loads /status)",
};

/// Every tool `cargo xtask test-all` needs before the tests run.
pub const FOR_TESTS: &[&Tool] = &[&REDIS, &CURL, &PROMTOOL, &CHROMIUM];

/// Whether `command` can be run.
pub fn available(command: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {command}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure `tool` is installed: installs its package with apt-get when
/// it is missing and this process may (root, apt-get present), otherwise
/// returns the exact command to run.
pub fn ensure(tool: &Tool) -> Result<(), String> {
    if available(tool.command) {
        return Ok(());
    }
    let install = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        tool.package
    );
    let manual = || {
        format!(
            "{} needs `{}` (Debian package {}), which is missing and cannot be installed from here.\n\
             Run: sudo sh -c '{install}'",
            tool.purpose, tool.command, tool.package
        )
    };
    if !is_root() || !available("apt-get") {
        return Err(manual());
    }
    eprintln!("==> installing {} for {} ({install})", tool.package, tool.purpose);
    let installed = Command::new("sh")
        .args(["-c", &install])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if installed && available(tool.command) {
        Ok(())
    } else {
        Err(manual())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
