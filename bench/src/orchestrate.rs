//! The orchestrator: server process, interleaved client processes, report.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::clients::Kind;

/// Kills the server process when the run ends, however it ends.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `taskset -c <core>` when available, so server and clients do not share a core.
fn pinned(core: &str) -> Command {
    let exe = std::env::current_exe().expect("the benchmark knows its own path");
    if Path::new("/usr/bin/taskset").exists()
        && std::thread::available_parallelism().map_or(1, |n| n.get()) > 1
    {
        let mut command = Command::new("/usr/bin/taskset");
        command.arg("-c").arg(core).arg(exe);
        command
    } else {
        Command::new(exe)
    }
}

fn start_server() -> Result<(ServerProcess, String), Box<dyn std::error::Error>> {
    let mut child = pinned("1").arg("serve").stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    let server = ServerProcess(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("port ")
        .ok_or("the server did not report its port")?
        .to_owned();
    Ok((server, format!("http://127.0.0.1:{port}")))
}

fn client_run(
    base: &str,
    kind: Kind,
    route: &str,
    concurrency: usize,
    tenants: usize,
    seconds: f64,
) -> Result<Value, Box<dyn std::error::Error>> {
    let output = pinned("0")
        .args(["client", "--kind", kind.name(), "--base", base, "--route", route])
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--tenants",
            &tenants.to_string(),
        ])
        .args(["--seconds", &seconds.to_string()])
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "client {} failed: {}",
            kind.name(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let result: Value = serde_json::from_slice(&output.stdout)?;
    eprintln!(
        "  {:<19} {:<7} c={:<5} t={:<6} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  rss {:>6} KiB",
        kind.name(),
        route,
        concurrency,
        tenants,
        result["rps"].as_f64().unwrap_or_default(),
        result["p50_us"].as_f64().unwrap_or_default(),
        result["p99_us"].as_f64().unwrap_or_default(),
        result["peak_rss_kb"].as_u64().unwrap_or_default(),
    );
    Ok(result)
}

/// The median of a field over runs.
fn median(runs: &[Value], field: &str) -> f64 {
    let mut values: Vec<f64> = runs.iter().filter_map(|r| r[field].as_f64()).collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn max_u64(runs: &[Value], field: &str) -> u64 {
    runs.iter()
        .filter_map(|r| r[field].as_u64())
        .max()
        .unwrap_or_default()
}

pub fn run(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (rounds, seconds) = if quick { (1, 0.5) } else { (3, 2.0) };
    let (_server, base) = start_server()?;
    eprintln!("conn-bench: server at {base}; {rounds} interleaved rounds of {seconds} s per run");

    // 1. The headline: four clients, same server, same job, interleaved.
    eprintln!("headline: /small JSON, 64 callers");
    let mut headline: Vec<Vec<Value>> = vec![Vec::new(); Kind::ALL.len()];
    for _ in 0..rounds {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            headline[i].push(client_run(&base, kind, "/small", 64, 1, seconds)?);
        }
    }

    // 2. Payloads: 64 KiB JSON and small XML.
    eprintln!("payloads");
    let mut payloads = Vec::new();
    for route in ["/large", "/xml"] {
        for kind in [Kind::Raw, Kind::ConnFull, Kind::ReqwestMiddleware] {
            if route == "/xml" && kind == Kind::ReqwestMiddleware {
                continue; // reqwest's job here parses JSON
            }
            let runs: Vec<Value> = (0..rounds.min(2))
                .map(|_| client_run(&base, kind, route, 64, 1, seconds))
                .collect::<Result<_, _>>()?;
            payloads.push((route, kind, runs));
        }
    }

    // 3. Scale: concurrency and key count.
    eprintln!("scale");
    let mut scale = Vec::new();
    for (concurrency, tenants) in [(1, 1), (64, 1), (1024, 1), (64, 10_000)] {
        for kind in [Kind::Raw, Kind::ConnFull] {
            if kind == Kind::Raw && tenants > 1 {
                continue;
            }
            scale.push((
                concurrency,
                tenants,
                kind,
                client_run(&base, kind, "/small", concurrency, tenants, seconds)?,
            ));
        }
    }

    // 4. Fault mix: 10% 503 + Retry-After: 0, 5% dropped connections.
    eprintln!("fault mix");
    let faults: Vec<(Kind, Value)> = [Kind::ConnFull, Kind::ReqwestMiddleware]
        .into_iter()
        .map(|kind| client_run(&base, kind, "/flaky", 64, 1, seconds).map(|r| (kind, r)))
        .collect::<Result<_, _>>()?;

    let report = Report {
        headline,
        payloads,
        scale,
        faults,
        rounds,
        seconds,
    };
    let markdown = report.markdown();
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/report.md", &markdown)?;
    std::fs::write(
        "target/bench/report.json",
        serde_json::to_string_pretty(&report.json())?,
    )?;
    println!("{markdown}");
    eprintln!("written: target/bench/report.md, target/bench/report.json");
    Ok(())
}

struct Report {
    headline: Vec<Vec<Value>>,
    payloads: Vec<(&'static str, Kind, Vec<Value>)>,
    scale: Vec<(usize, usize, Kind, Value)>,
    faults: Vec<(Kind, Value)>,
    rounds: usize,
    seconds: f64,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{date}, {cores} cores ({cpu}), Linux; server pinned to core 1, clients to core 0")
}

impl Report {
    fn headline_of(&self, kind: Kind) -> &[Value] {
        let i = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        &self.headline[i]
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!(
            "## conn end-to-end benchmark\n\n{}. Medians of {} interleaved rounds of {} s.\n\n",
            machine(),
            self.rounds,
            self.seconds
        ));
        md.push_str("### Same job, same server: GET small JSON, 64 concurrent callers\n\n");
        md.push_str("| client | req/s | p50 µs | p99 µs | peak RSS KiB |\n|---|---:|---:|---:|---:|\n");
        for kind in Kind::ALL {
            let runs = self.headline_of(kind);
            md.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.0} | {} |\n",
                kind.name(),
                median(runs, "rps"),
                median(runs, "p50_us"),
                median(runs, "p99_us"),
                max_u64(runs, "peak_rss_kb")
            ));
        }
        let rps = |kind| median(self.headline_of(kind), "rps");
        let p99 = |kind| median(self.headline_of(kind), "p99_us");
        md.push_str(&format!(
            "\nRatios (req/s): conn-transport / raw = **{:.3}**, conn-full / raw = **{:.3}**, conn-full / reqwest-middleware = **{:.3}**. p99 added by the full stack at 64 callers: **{:.0} µs**.\n\n",
            rps(Kind::ConnTransport) / rps(Kind::Raw),
            rps(Kind::ConnFull) / rps(Kind::Raw),
            rps(Kind::ConnFull) / rps(Kind::ReqwestMiddleware),
            p99(Kind::ConnFull) - p99(Kind::Raw)
        ));
        md.push_str("### Payloads (64 callers)\n\n| route | client | req/s | p50 µs | p99 µs |\n|---|---|---:|---:|---:|\n");
        for (route, kind, runs) in &self.payloads {
            md.push_str(&format!(
                "| {route} | {} | {:.0} | {:.0} | {:.0} |\n",
                kind.name(),
                median(runs, "rps"),
                median(runs, "p50_us"),
                median(runs, "p99_us")
            ));
        }
        md.push_str("\n### Scale: callers and keys (small JSON)\n\n| callers | tenants | client | req/s | p50 µs | p99 µs | peak RSS KiB |\n|---:|---:|---|---:|---:|---:|---:|\n");
        for (concurrency, tenants, kind, run) in &self.scale {
            md.push_str(&format!(
                "| {concurrency} | {tenants} | {} | {:.0} | {:.0} | {:.0} | {} |\n",
                kind.name(),
                run["rps"].as_f64().unwrap_or_default(),
                run["p50_us"].as_f64().unwrap_or_default(),
                run["p99_us"].as_f64().unwrap_or_default(),
                run["peak_rss_kb"].as_u64().unwrap_or_default()
            ));
        }
        let rss = |concurrency: usize, kind: Kind| {
            self.scale
                .iter()
                .find(|(c, t, k, _)| *c == concurrency && *t == 1 && *k == kind)
                .and_then(|(_, _, _, r)| r["peak_rss_kb"].as_u64())
                .unwrap_or_default() as f64
        };
        md.push_str(&format!(
            "\nMemory per 1,000 in-flight calls (peak RSS at 1,024 callers minus at 1, scaled): conn-full {:.0} KiB, raw hyper {:.0} KiB.\n\n",
            (rss(1024, Kind::ConnFull) - rss(1, Kind::ConnFull)) * 1000.0 / 1023.0,
            (rss(1024, Kind::Raw) - rss(1, Kind::Raw)) * 1000.0 / 1023.0
        ));
        md.push_str("### Fault mix: 10% 503 + Retry-After: 0, 5% dropped connections (64 callers)\n\n| client | calls/s | goodput/s | failed | upstream attempts per call |\n|---|---:|---:|---:|---:|\n");
        for (kind, run) in &self.faults {
            let attempts = if *kind == Kind::ConnFull {
                format!("{:.3}", run["attempts_per_call"].as_f64().unwrap_or_default())
            } else {
                "n/a".to_owned()
            };
            md.push_str(&format!(
                "| {} | {:.0} | {:.0} | {} | {attempts} |\n",
                kind.name(),
                run["rps"].as_f64().unwrap_or_default(),
                run["goodput"].as_f64().unwrap_or_default(),
                run["failed"].as_u64().unwrap_or_default()
            ));
        }
        md
    }

    fn json(&self) -> Value {
        serde_json::json!({
            "machine": machine(),
            "rounds": self.rounds,
            "seconds": self.seconds,
            "headline": Kind::ALL.iter().zip(&self.headline).map(|(k, runs)| serde_json::json!({"client": k.name(), "runs": runs})).collect::<Vec<_>>(),
            "payloads": self.payloads.iter().map(|(route, k, runs)| serde_json::json!({"route": route, "client": k.name(), "runs": runs})).collect::<Vec<_>>(),
            "scale": self.scale.iter().map(|(_, _, _, run)| run.clone()).collect::<Vec<_>>(),
            "faults": self.faults.iter().map(|(_, run)| run.clone()).collect::<Vec<_>>(),
        })
    }
}
