//! The report: medians, ratios and tables in Markdown and JSON.

use std::process::Command;

use serde_json::Value;

use crate::clients::Kind;

/// The median of a field over runs.
pub fn median(runs: &[Value], field: &str) -> f64 {
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

/// Everything one run measured.
pub struct Report {
    /// Per kind (in `Kind::ALL` order), its closed-loop runs.
    pub headline: Vec<Vec<Value>>,
    pub open_loop: OpenLoop,
    pub instructions: Option<Instructions>,
    pub payloads: Vec<(&'static str, Kind, Vec<Value>)>,
    pub scale: Vec<(usize, usize, Kind, Value)>,
    pub faults: Vec<(Kind, Value)>,
    pub rounds: usize,
    pub seconds: f64,
}

/// Latency at a fixed offered load.
pub struct OpenLoop {
    /// Calls per second offered.
    pub rate: f64,
    /// Per kind (in `Kind::ALL` order), its runs.
    pub runs: Vec<Vec<Value>>,
}

/// Instructions per request under callgrind.
pub struct Instructions {
    /// Per kind, in `Kind::ALL` order.
    pub counts: Vec<f64>,
    /// How many calls the difference of the two runs spans.
    pub calls: u64,
}

pub(crate) fn machine() -> String {
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

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!(
            "## conn end-to-end benchmark\n\n{}. Medians of {} interleaved rounds of {} s.\n\n",
            machine(),
            self.rounds,
            self.seconds
        ));
        md.push_str("### Same job, same server: GET small JSON, 64 concurrent callers\n\n");
        md.push_str(&format!(
            "Closed loop (req/s, p50, p99), instructions per request (callgrind), and latency in an open loop at {:.0} calls/s (a third of raw hyper's capacity).\n\n",
            self.open_loop.rate
        ));
        md.push_str("| client | req/s | p50 µs | p99 µs | instr/req | open-loop p50 µs | open-loop p99 µs | peak RSS KiB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let runs = self.headline_of(kind);
            let instructions = self
                .instructions
                .as_ref()
                .map_or("-".to_owned(), |ins| format!("{:.0}", ins.counts[i]));
            md.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.0} | {instructions} | {:.0} | {:.0} | {} |\n",
                kind.name(),
                median(runs, "rps"),
                median(runs, "p50_us"),
                median(runs, "p99_us"),
                median(&self.open_loop.runs[i], "p50_us"),
                median(&self.open_loop.runs[i], "p99_us"),
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
        let open_p50 = |kind: Kind| {
            let i = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
            median(&self.open_loop.runs[i], "p50_us")
        };
        md.push_str(&format!(
            "Open loop: conn-full p50 / raw p50 = **{:.3}**.\n\n",
            open_p50(Kind::ConnFull) / open_p50(Kind::Raw)
        ));
        if let Some(ins) = &self.instructions {
            let count = |kind: Kind| ins.counts[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)];
            md.push_str(&format!(
                "Instructions per request (difference of two callgrind runs, {} calls apart): conn-transport / raw = **{:.3}**, conn-full / raw = **{:.3}**, reqwest / raw = **{:.3}**.\n\n",
                ins.calls,
                count(Kind::ConnTransport) / count(Kind::Raw),
                count(Kind::ConnFull) / count(Kind::Raw),
                count(Kind::Reqwest) / count(Kind::Raw)
            ));
        }
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

    pub fn json(&self) -> Value {
        serde_json::json!({
            "machine": machine(),
            "rounds": self.rounds,
            "seconds": self.seconds,
            "headline": Kind::ALL.iter().zip(&self.headline).map(|(k, runs)| serde_json::json!({"client": k.name(), "runs": runs})).collect::<Vec<_>>(),
            "open_loop": {
                "rate": self.open_loop.rate,
                "clients": Kind::ALL.iter().zip(&self.open_loop.runs).map(|(k, runs)| serde_json::json!({"client": k.name(), "runs": runs})).collect::<Vec<_>>(),
            },
            "instructions_per_request": self.instructions.as_ref().map(|ins| Kind::ALL.iter().zip(&ins.counts).map(|(k, n)| serde_json::json!({"client": k.name(), "instructions": n})).collect::<Vec<_>>()),
            "payloads": self.payloads.iter().map(|(route, k, runs)| serde_json::json!({"route": route, "client": k.name(), "runs": runs})).collect::<Vec<_>>(),
            "scale": self.scale.iter().map(|(_, _, _, run)| run.clone()).collect::<Vec<_>>(),
            "faults": self.faults.iter().map(|(_, run)| run.clone()).collect::<Vec<_>>(),
        })
    }
}
