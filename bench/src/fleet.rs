//! `cargo xtask bench --fleet`: what the fleet quota costs. The full stack
//! with its throttle counting in Redis (`conn-full-fleet`) against the same
//! stack counting in process (`conn-full`), interleaved, at 64 callers and
//! at 1, next to a bare Redis `PING` through the same client library: the
//! goal is p50 added <= one Redis round trip + 50 µs.

use serde_json::Value;

use crate::clients::Kind;
use crate::orchestrate::{client_process, start_server};
use crate::report::{machine, median};

/// Runs the fleet bench and writes `target/bench/fleet.md`.
pub fn run(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (rounds, seconds) = if quick { (1, 0.5) } else { (3, 2.0) };
    let (_server, base) = start_server()?;
    // Killed when dropped, however the run ends.
    let redis = conn_testkit::RedisServer::start()
        .map_err(|err| format!("redis-server did not start (apt-get install redis-server): {err}"))?;
    let url = redis.url();
    eprintln!(
        "conn-bench --fleet: server at {base}, Redis at {url}; {rounds} interleaved rounds of {seconds} s"
    );
    let mut table: Vec<(usize, Kind, Vec<Value>)> = Vec::new();
    for concurrency in [64, 1] {
        for kind in Kind::FLEET {
            table.push((concurrency, kind, Vec::new()));
        }
    }
    for _ in 0..rounds {
        for (concurrency, kind, runs) in &mut table {
            let extra = [
                "--seconds".to_owned(),
                seconds.to_string(),
                "--redis".to_owned(),
                url.clone(),
            ];
            let result = client_process(&[], &base, *kind, "/small", *concurrency, 1, &extra)?;
            eprintln!(
                "  {:<16} c={:<3} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  failed {}",
                kind.name(),
                concurrency,
                result["rps"].as_f64().unwrap_or_default(),
                result["p50_us"].as_f64().unwrap_or_default(),
                result["p99_us"].as_f64().unwrap_or_default(),
                result["failed"].as_u64().unwrap_or_default(),
            );
            runs.push(result);
        }
    }
    let markdown = markdown(&table, rounds, seconds);
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/fleet.md", &markdown)?;
    println!("{markdown}");
    eprintln!("written: target/bench/fleet.md");
    Ok(())
}

fn markdown(table: &[(usize, Kind, Vec<Value>)], rounds: usize, seconds: f64) -> String {
    let find = |concurrency: usize, kind: Kind| {
        table
            .iter()
            .find(|(c, k, _)| *c == concurrency && *k == kind)
            .map_or(&[][..], |(_, _, runs)| &runs[..])
    };
    let mut md = format!(
        "## Fleet throttle: the full stack with its quota in Redis vs in process\n\n{}; Redis on loopback. Medians of {rounds} interleaved rounds of {seconds} s; GET small JSON, quota never binding.\n\n",
        machine()
    );
    md.push_str("| callers | client | req/s | p50 µs | p99 µs | failed |\n|---:|---|---:|---:|---:|---:|\n");
    for (concurrency, kind, runs) in table {
        let failed: u64 = runs.iter().filter_map(|r| r["failed"].as_u64()).sum();
        md.push_str(&format!(
            "| {concurrency} | {} | {:.0} | {:.0} | {:.0} | {failed} |\n",
            kind.name(),
            median(runs, "rps"),
            median(runs, "p50_us"),
            median(runs, "p99_us"),
        ));
    }
    md.push('\n');
    for concurrency in [64, 1] {
        let (local, fleet, ping) = (
            find(concurrency, Kind::ConnFull),
            find(concurrency, Kind::ConnFullFleet),
            find(concurrency, Kind::RedisPing),
        );
        let added = median(fleet, "p50_us") - median(local, "p50_us");
        // The goal at 1 caller: one round trip (the PING's p50) + 50 µs.
        let budget = median(find(1, Kind::RedisPing), "p50_us") + 50.0;
        md.push_str(&format!(
            "{concurrency} callers: fleet / local req/s = **{:.3}**; p50 added **{added:.0} µs** (bare PING p50 {:.0} µs at {concurrency} callers; goal at most one round trip + 50 µs = {budget:.0} µs: {}); p99 added {:.0} µs.\n\n",
            median(fleet, "rps") / median(local, "rps").max(1e-9),
            median(ping, "p50_us"),
            if added <= budget { "met" } else { "not met" },
            median(fleet, "p99_us") - median(local, "p99_us"),
        ));
    }
    md
}
