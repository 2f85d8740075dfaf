//! `cargo xtask bench --gateway`: what the gateway costs. The same upstream
//! (the bench's server, `/small`) called
//! (a) directly through a `Connector` built from the gateway's blueprint,
//! (b) through the gateway (`conn-bench gateway`, its own process), and
//! (c) through nginx `proxy_pass` (skipped with a message when nginx is
//!     missing),
//! by one load generator at 64 connections; (b) and (c) are called with the
//! same plain hyper client. Interleaved a b c, a b c, ... so drift on a
//! shared machine hits every path alike; medians reported.
//!
//! Cores (2): the client alone on core 0; the upstream and the proxy
//! (gateway or nginx, one worker each) on core 1, so both proxies pay the
//! same upstream cost on the core they share.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clients::Kind;
use crate::gateway_report::{GatewayReport, PathRuns};
use crate::nginx::Nginx;
use crate::orchestrate::{Options, callgrind_total, client_process, pinned, start_server};
use crate::report::median;

/// The gateway process; closing its stdin stops it (a normal exit, so a
/// callgrind run writes its counts), killed if it does not stop.
struct GatewayProcess {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl GatewayProcess {
    /// Starts `conn-bench gateway` pinned to core 1, optionally under
    /// `prefix` (valgrind); returns it with its base URL.
    fn start(
        upstream: &str,
        prefix: &[&str],
    ) -> Result<(GatewayProcess, String), Box<dyn std::error::Error>> {
        let mut child = pinned("1", prefix)
            .args(["gateway", "--upstream", upstream])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no gateway stdout")?;
        let process = GatewayProcess { child, stdin };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("port ")
            .ok_or("the gateway did not report its port")?
            .to_owned();
        Ok((process, format!("http://127.0.0.1:{port}")))
    }

    /// Closes stdin and waits for the exit (at most `patience`).
    fn stop(mut self, patience: Duration) -> bool {
        self.stdin.take();
        let until = Instant::now() + patience;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.stdin.take();
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// One measured run of `kind` against `base` over `connections`; `extra`
/// selects the mode.
fn measure(
    label: &str,
    base: &str,
    kind: Kind,
    connections: usize,
    extra: &[String],
) -> Result<Value, Box<dyn std::error::Error>> {
    let result = client_process(&[], base, kind, "/small", connections, 1, extra)?;
    eprintln!(
        "  {label:<8} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  failed {}",
        result["rps"].as_f64().unwrap_or_default(),
        result["p50_us"].as_f64().unwrap_or_default(),
        result["p99_us"].as_f64().unwrap_or_default(),
        result["failed"].as_u64().unwrap_or_default(),
    );
    Ok(result)
}

pub fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let (rounds, seconds) = if options.quick { (1, 0.5) } else { (5, 3.0) };
    let (_server, upstream) = start_server()?;
    let upstream_port: u16 = upstream.rsplit(':').next().unwrap_or("0").parse()?;
    let (gateway, gateway_base) = GatewayProcess::start(&upstream, &[])?;
    let nginx = match Nginx::start(upstream_port, "1") {
        Ok(nginx) => Some(nginx),
        Err(why) => {
            eprintln!("conn-bench: the nginx path is skipped: {why}");
            None
        }
    };
    let mut paths = vec![
        PathRuns::new("direct", Kind::Direct, upstream.clone()),
        PathRuns::new(
            "gateway",
            Kind::Proxied,
            format!("{gateway_base}/v1/connectors/{}", crate::gateway_serve::CONNECTOR),
        ),
    ];
    if let Some(nginx) = &nginx {
        paths.push(PathRuns::new("nginx", Kind::Proxied, nginx.base.clone()));
    }
    eprintln!(
        "conn-bench --gateway: upstream {upstream}, gateway {gateway_base}, nginx {}; {rounds} interleaved rounds of {seconds} s",
        nginx.as_ref().map_or("skipped", |n| n.base.as_str())
    );

    // 1. Closed loop: 64 connections, each calling again as soon as it has an answer.
    eprintln!("closed loop, 64 connections");
    let timed = ["--seconds".to_owned(), seconds.to_string()];
    for _ in 0..rounds {
        for path in &mut paths {
            let run = measure(path.name, &path.base, path.kind, 64, &timed)?;
            path.closed.push(run);
        }
    }

    // 2. One connection, one call at a time: each path's own latency with
    // no queue in front of it (where the p50 the gateway adds is read).
    eprintln!("sequential, 1 connection");
    for _ in 0..rounds {
        for path in &mut paths {
            let run = measure(path.name, &path.base, path.kind, 1, &timed)?;
            path.sequential.push(run);
        }
    }

    // 3. Open loop at one fixed rate for every path: a third of the slowest
    // path's capacity, so latency is the path's, not queueing's.
    let slowest = paths
        .iter()
        .map(|p| median(&p.closed, "rps"))
        .fold(f64::INFINITY, f64::min);
    let rate = (slowest / 3.0).max(100.0);
    eprintln!("open loop: {rate:.0} calls/s offered");
    let open = [
        "--rate".to_owned(),
        format!("{rate:.0}"),
        "--seconds".to_owned(),
        seconds.to_string(),
    ];
    for _ in 0..rounds {
        for path in &mut paths {
            let run = measure(path.name, &path.base, path.kind, 64, &open)?;
            path.open.push(run);
        }
    }
    let gateway_clean = gateway.stop(Duration::from_secs(10));
    drop(nginx);

    // 4. Instructions per request in the gateway process, when asked.
    let instructions = if options.instructions {
        let (short, long) = if options.quick {
            (500, 2_500)
        } else {
            (2_000, 12_000)
        };
        Some((gateway_instructions(&upstream, short, long)?, long - short))
    } else {
        None
    };

    let report = GatewayReport {
        paths,
        rounds,
        seconds,
        rate,
        nginx_version: Nginx::version(),
        instructions,
    };
    let markdown = report.markdown();
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/gateway.md", &markdown)?;
    std::fs::write(
        "target/bench/gateway.json",
        serde_json::to_string_pretty(&report.json())?,
    )?;
    println!("{markdown}");
    if !gateway_clean {
        eprintln!("conn-bench: the gateway did not stop cleanly when asked");
    }
    eprintln!("written: target/bench/gateway.md, target/bench/gateway.json");
    Ok(())
}

/// Instructions the gateway process executes per proxied request: two
/// callgrind runs of the gateway (`short` and `long` calls from 64
/// connections), the difference divided by the extra calls, so start-up
/// and connection set-up cancel out.
fn gateway_instructions(upstream: &str, short: u64, long: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("conn-bench-gateway-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut totals = Vec::new();
    for calls in [short, long] {
        let out: PathBuf = dir.join(format!("gateway.{calls}.out"));
        let flag = format!("--callgrind-out-file={}", out.display());
        let prefix = ["valgrind", "--tool=callgrind", "--quiet", flag.as_str()];
        let (gateway, base) = GatewayProcess::start(upstream, &prefix)?;
        let base = format!("{base}/v1/connectors/{}", crate::gateway_serve::CONNECTOR);
        client_process(
            &[],
            &base,
            Kind::Proxied,
            "/small",
            64,
            1,
            &["--calls".to_owned(), calls.to_string()],
        )?;
        if !gateway.stop(Duration::from_secs(120)) {
            return Err("the gateway under callgrind did not exit".into());
        }
        totals.push(callgrind_total(&out)?);
        eprintln!("  callgrind output kept: {}", out.display());
    }
    let per_request = totals[1].saturating_sub(totals[0]) as f64 / (long - short) as f64;
    eprintln!("  gateway  {per_request:>9.0} instructions per request");
    Ok(per_request)
}
