//! The orchestrator: server process, interleaved client processes, callgrind
//! runs, and the report.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::clients::Kind;
use crate::report::{Instructions, OpenLoop, Report, median};

/// What to run, from the command line.
pub struct Options {
    /// One short round (a smoke test).
    pub quick: bool,
    /// Instructions per request under callgrind: per client, or of the
    /// gateway process with `--gateway`.
    pub instructions: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> Options {
        Options {
            quick: args.iter().any(|a| a == "--quick"),
            instructions: args.iter().any(|a| a == "--instructions"),
        }
    }
}

/// Kills the server process when the run ends, however it ends.
pub(crate) struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `taskset -c <core>` when available, so server and clients do not share a
/// core; `prefix` runs the benchmark under another program (valgrind).
pub(crate) fn pinned(core: &str, prefix: &[&str]) -> Command {
    let exe = std::env::current_exe().expect("the benchmark knows its own path");
    match prefix.split_first() {
        None => on_core(core, &exe),
        Some((program, rest)) => {
            let mut command = on_core(core, program);
            command.args(rest).arg(&exe);
            command
        }
    }
}

/// `program` under `taskset -c <core>` when taskset exists and there is more
/// than one core to choose from; otherwise `program` as it is.
pub(crate) fn on_core(core: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if Path::new("/usr/bin/taskset").exists()
        && std::thread::available_parallelism().map_or(1, |n| n.get()) > 1
    {
        let mut command = Command::new("/usr/bin/taskset");
        command.args(["-c", core]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

pub(crate) fn start_server() -> Result<(ServerProcess, String), Box<dyn std::error::Error>> {
    let mut child = pinned("1", &[]).arg("serve").stdout(Stdio::piped()).spawn()?;
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

/// One client run; `extra` selects the mode (`--seconds`, `--rate`, `--calls`).
pub(crate) fn client_process(
    prefix: &[&str],
    base: &str,
    kind: Kind,
    route: &str,
    concurrency: usize,
    tenants: usize,
    extra: &[String],
) -> Result<Value, Box<dyn std::error::Error>> {
    let output = pinned("0", prefix)
        .args(["client", "--kind", kind.name(), "--base", base, "--route", route])
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--tenants",
            &tenants.to_string(),
        ])
        .args(extra)
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
    Ok(result)
}

fn client_run(
    base: &str,
    kind: Kind,
    route: &str,
    concurrency: usize,
    tenants: usize,
    seconds: f64,
) -> Result<Value, Box<dyn std::error::Error>> {
    let extra = ["--seconds".to_owned(), seconds.to_string()];
    let result = client_process(&[], base, kind, route, concurrency, tenants, &extra)?;
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

/// An open-loop run at `rate` calls per second.
fn open_loop_run(
    base: &str,
    kind: Kind,
    rate: f64,
    seconds: f64,
) -> Result<Value, Box<dyn std::error::Error>> {
    let extra = [
        "--rate".to_owned(),
        format!("{rate:.0}"),
        "--seconds".to_owned(),
        seconds.to_string(),
    ];
    let result = client_process(&[], base, kind, "/small", 64, 1, &extra)?;
    eprintln!(
        "  {:<19} open loop {:>7.0}/s  p50 {:>7.0} us  p99 {:>7.0} us  failed {}",
        kind.name(),
        rate,
        result["p50_us"].as_f64().unwrap_or_default(),
        result["p99_us"].as_f64().unwrap_or_default(),
        result["failed"].as_u64().unwrap_or_default(),
    );
    Ok(result)
}

/// Instructions per request: two callgrind runs of `kind` (`short` and
/// `long` calls at 64 callers), the difference divided by the extra calls,
/// so start-up, connection set-up and warm-up cancel out.
fn instructions_per_request(
    base: &str,
    kind: Kind,
    short: u64,
    long: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("conn-bench-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut totals = Vec::new();
    for calls in [short, long] {
        let out = dir.join(format!("{}.{calls}.out", kind.name()));
        let out_flag = format!("--callgrind-out-file={}", out.display());
        let prefix = ["valgrind", "--tool=callgrind", "--quiet", out_flag.as_str()];
        client_process(
            &prefix,
            base,
            kind,
            "/small",
            64,
            1,
            &["--calls".to_owned(), calls.to_string()],
        )?;
        totals.push(callgrind_total(&out)?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let per_request = (totals[1].saturating_sub(totals[0])) as f64 / (long - short) as f64;
    eprintln!(
        "  {:<19} {:>9.0} instructions per request",
        kind.name(),
        per_request
    );
    Ok(per_request)
}

/// The total instruction count (`totals:` or `summary:` line) of a callgrind output file.
pub(crate) fn callgrind_total(path: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no instruction total in {}", path.display()).into())
}

pub fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let (rounds, seconds) = if options.quick { (1, 0.5) } else { (3, 2.0) };
    let (_server, base) = start_server()?;
    eprintln!("conn-bench: server at {base}; {rounds} interleaved rounds of {seconds} s per run");

    // 1. The headline: every client, same server, same job, interleaved.
    eprintln!("headline: /small JSON, 64 callers");
    let mut headline: Vec<Vec<Value>> = vec![Vec::new(); Kind::ALL.len()];
    for _ in 0..rounds {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            headline[i].push(client_run(&base, kind, "/small", 64, 1, seconds)?);
        }
    }

    // 2. Latency at a fixed offered load: a third of raw hyper's capacity.
    let raw_rps = median(&headline[0], "rps");
    let rate = (raw_rps / 3.0).max(100.0);
    eprintln!("open loop: {rate:.0} calls/s offered");
    let mut open_loop: Vec<Vec<Value>> = vec![Vec::new(); Kind::ALL.len()];
    for _ in 0..rounds {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            open_loop[i].push(open_loop_run(&base, kind, rate, seconds)?);
        }
    }

    // 3. Instructions per request, when asked (deterministic, slow).
    let instructions = if options.instructions {
        eprintln!("instructions per request (callgrind)");
        let (short, long) = if options.quick {
            (500, 2_500)
        } else {
            (2_000, 12_000)
        };
        let counts = Kind::ALL
            .into_iter()
            .map(|kind| instructions_per_request(&base, kind, short, long))
            .collect::<Result<Vec<_>, _>>()?;
        Some(Instructions {
            counts,
            calls: long - short,
        })
    } else {
        None
    };

    // 4. Payloads: 64 KiB JSON and small XML.
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

    // 5. Scale: concurrency and key count.
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

    // 6. Fault mix: 10% 503 + Retry-After: 0, 5% dropped connections.
    eprintln!("fault mix");
    let faults: Vec<(Kind, Value)> = [Kind::ConnFull, Kind::ReqwestMiddleware]
        .into_iter()
        .map(|kind| client_run(&base, kind, "/flaky", 64, 1, seconds).map(|r| (kind, r)))
        .collect::<Result<_, _>>()?;

    let report = Report {
        headline,
        open_loop: OpenLoop {
            rate,
            runs: open_loop,
        },
        instructions,
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
