//! `cargo xtask bench`: conn end to end on this machine, side by side with
//! raw hyper-util and reqwest + reqwest-middleware, in one run.
//!
//! The binary plays three roles:
//! - `conn-bench` (no argument): the orchestrator. Starts the server in its own
//!   process (pinned to one core with `taskset` when available), runs every
//!   client as its own process (so peak RSS is per client) interleaved
//!   A B C D, A B C D, ..., and writes `target/bench/report.md` and `.json`.
//! - `conn-bench serve`: the local HTTP/1.1 server.
//! - `conn-bench client ...`: one measured run of one client; prints one JSON line.
//! - `conn-bench --gateway [--quick] [--instructions]`: the gateway bench's
//!   orchestrator (direct vs gateway vs nginx), report in `target/bench/gateway.md`.
//! - `conn-bench gateway --upstream URL`: the gateway in front of the server.
//! - `conn-bench --fleet [--quick]`: conn-full with its quota in Redis vs in
//!   process, and a bare Redis PING; report in `target/bench/fleet.md`.

mod clients;
mod fleet;
mod gateway;
mod gateway_report;
mod gateway_serve;
mod load;
mod nginx;
mod orchestrate;
mod report;
mod server;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => server::serve(),
        Some("client") => load::client(&args[1..]),
        Some("gateway") => gateway_serve::serve(&args[1..]),
        _ if args.iter().any(|a| a == "--fleet") => fleet::run(args.iter().any(|a| a == "--quick")),
        _ if args.iter().any(|a| a == "--gateway") => gateway::run(orchestrate::Options::parse(&args)),
        None | Some("--quick" | "--instructions") => orchestrate::run(orchestrate::Options::parse(&args)),
        Some(other) => Err(format!("unknown role {other:?}: expected serve, client or nothing").into()),
    }
}
