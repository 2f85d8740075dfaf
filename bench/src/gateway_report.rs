//! The gateway bench's report: per path req/s, p50, p99 (closed loop) and
//! p50, p99 at a fixed offered load (open loop); the goal's two figures.

use serde_json::{Value, json};

use crate::clients::Kind;
use crate::report::{machine, median};

/// One path's runs.
pub struct PathRuns {
    pub name: &'static str,
    pub kind: Kind,
    pub base: String,
    /// Closed loop, 64 connections.
    pub closed: Vec<Value>,
    /// Closed loop, 1 connection.
    pub sequential: Vec<Value>,
    /// Open loop at the report's rate.
    pub open: Vec<Value>,
}

impl PathRuns {
    pub fn new(name: &'static str, kind: Kind, base: String) -> PathRuns {
        PathRuns {
            name,
            kind,
            base,
            closed: Vec::new(),
            sequential: Vec::new(),
            open: Vec::new(),
        }
    }

    fn describe(&self) -> &'static str {
        match self.name {
            "direct" => "`Connector` from the same blueprint, in the client process",
            "gateway" => "conn-gateway (own process), plain hyper client",
            _ => "nginx `proxy_pass` (1 worker, upstream keep-alive), plain hyper client",
        }
    }
}

/// The p50 the gateway adds over the direct call, in µs, three ways.
struct Added {
    sequential: f64,
    open: f64,
    closed: f64,
}

/// The lowest value of a field over runs.
fn best(runs: &[Value], field: &str) -> f64 {
    runs.iter()
        .filter_map(|r| r[field].as_f64())
        .fold(f64::INFINITY, f64::min)
}

pub struct GatewayReport {
    pub paths: Vec<PathRuns>,
    pub rounds: usize,
    pub seconds: f64,
    /// Calls per second offered in the open loop.
    pub rate: f64,
    pub nginx_version: String,
    /// Instructions per request in the gateway process, and over how many calls.
    pub instructions: Option<(f64, u64)>,
}

impl GatewayReport {
    fn path(&self, name: &str) -> Option<&PathRuns> {
        self.paths.iter().find(|p| p.name == name)
    }

    /// Gateway req/s over nginx req/s (closed loop), when nginx ran.
    fn ratio(&self) -> Option<f64> {
        let gateway = median(&self.path("gateway")?.closed, "rps");
        let nginx = median(&self.path("nginx")?.closed, "rps");
        Some(gateway / nginx)
    }

    /// p50 of the gateway minus p50 of the direct call: sequential
    /// (median of rounds), open loop (best round), closed loop (median).
    fn added_p50(&self) -> Option<Added> {
        let (gateway, direct) = (self.path("gateway")?, self.path("direct")?);
        Some(Added {
            sequential: median(&gateway.sequential, "p50_us") - median(&direct.sequential, "p50_us"),
            open: best(&gateway.open, "p50_us") - best(&direct.open, "p50_us"),
            closed: median(&gateway.closed, "p50_us") - median(&direct.closed, "p50_us"),
        })
    }

    pub fn markdown(&self) -> String {
        let mut md = format!(
            "## Gateway benchmark\n\n{}; the proxies (gateway, {}) share core 1 with the upstream. \
             GET /small (70-byte JSON), one load generator. Medians of {} interleaved rounds of {} s \
             (the open loop: the best round, as interference only adds latency).\n\n",
            machine(),
            self.nginx_version,
            self.rounds,
            self.seconds
        );
        md.push_str(&format!(
            "| path | how | req/s (64 conn.) | p50 µs | p99 µs | p50 µs, 1 conn. | p99 µs, 1 conn. | p50 µs at {:.0}/s | p99 µs at {:.0}/s | failed |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.rate, self.rate
        ));
        for path in &self.paths {
            let failed: u64 = path
                .closed
                .iter()
                .chain(&path.sequential)
                .chain(&path.open)
                .filter_map(|r| r["failed"].as_u64())
                .sum();
            md.push_str(&format!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {failed} |\n",
                path.name,
                path.describe(),
                median(&path.closed, "rps"),
                median(&path.closed, "p50_us"),
                median(&path.closed, "p99_us"),
                median(&path.sequential, "p50_us"),
                median(&path.sequential, "p99_us"),
                best(&path.open, "p50_us"),
                best(&path.open, "p99_us"),
            ));
        }
        md.push('\n');
        match self.ratio() {
            Some(ratio) => md.push_str(&format!(
                "Gateway / nginx req/s at 64 connections: **{ratio:.3}** (goal ≥ 0.8: {}).\n\n",
                if ratio >= 0.8 { "met" } else { "missed" }
            )),
            None => md.push_str("Gateway / nginx: nginx was not available, no ratio.\n\n"),
        }
        if let Some(added) = self.added_p50() {
            md.push_str(&format!(
                "p50 added by the gateway over the direct call: **{:.0} µs** one call at a time (goal < 150 µs: {}); \
                 {:.0} µs at {:.0} calls/s offered over 64 connections; {:.0} µs in the saturated closed loop, \
                 where p50 is mostly queueing (64 connections / throughput).\n",
                added.sequential,
                if added.sequential < 150.0 { "met" } else { "missed" },
                added.open,
                self.rate,
                added.closed,
            ));
        }
        if let Some((per_request, calls)) = self.instructions {
            md.push_str(&format!(
                "\nGateway process: **{per_request:.0} instructions per request** (callgrind, difference of two runs {calls} calls apart).\n"
            ));
        }
        md
    }

    pub fn json(&self) -> Value {
        json!({
            "machine": machine(),
            "nginx": self.nginx_version,
            "rounds": self.rounds,
            "seconds": self.seconds,
            "open_loop_rate": self.rate,
            "gateway_over_nginx_rps": self.ratio(),
            "p50_added_us": self.added_p50().map(|a| json!({"sequential": a.sequential, "open_loop_best": a.open, "closed_loop": a.closed})),
            "gateway_instructions_per_request": self.instructions.map(|(n, _)| n),
            "paths": self.paths.iter().map(|p| json!({
                "path": p.name,
                "client": p.kind.name(),
                "base": p.base,
                "closed_loop": p.closed,
                "sequential": p.sequential,
                "open_loop": p.open,
            })).collect::<Vec<_>>(),
        })
    }
}
