//! Project automation, run as `cargo xtask <task>`.
//!
//! - `test-all`: formatting, clippy, every test and doctest, the examples
//!   built and the quickstart run; exits non-zero on the first failing step
//!   and ends with one summary line. Installs (or names) the real servers and
//!   tools the tests start.
//! - `features`: the facade's feature slices build without the other
//!   components' heavy dependencies (also a step of `test-all`).
//! - `rules`: promtool over the alert rules in deploy/prometheus (`check
//!   rules`, `test rules`; also a step of `test-all`).
//! - `bench [--quick] [--instructions]`: the end-to-end load benchmark (conn
//!   vs raw hyper vs reqwest), report in `target/bench/report.md`.
//! - `bench --gateway [--quick]`: the same upstream directly, through the
//!   gateway and through nginx (installed when missing), report in
//!   `target/bench/gateway.md`.
//! - `bench --fleet [--quick]`: the full stack with its quota in Redis vs in
//!   process, report in `target/bench/fleet.md`.
//! - `soak [--calls N] [--concurrency N] [--seconds N] [--dev]`: the whole
//!   stack against a fault server at volume, with its checks (also a short
//!   version in `test-all`).
//! - `fuzz [--seconds N] [--target NAME]`: the parsers under random input.

mod cargo;
mod features;
mod fuzz;
mod rules;
mod soak;
mod test_all;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("", &[][..]),
    };
    match task {
        "test-all" => test_all::run(),
        "bench" => bench(rest),
        "soak" => soak::run(rest),
        "fuzz" => fuzz::run(rest),
        "rules" => match rules::check() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        },
        "features" => match features::check() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <test-all | features | rules | bench [--quick] [--instructions] [--gateway] [--fleet] [--memory] | soak [--calls N] [--concurrency N] [--seconds N] [--dev] | fuzz [--seconds N] [--target NAME]>"
            );
            ExitCode::from(2)
        }
    }
}

/// The end-to-end load benchmark (`bench/`), flags passed through.
fn bench(flags: &[String]) -> ExitCode {
    if flags.iter().any(|f| f == "--instructions")
        && let Err(err) = tools::ensure(&tools::VALGRIND)
    {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }
    if flags.iter().any(|f| f == "--fleet")
        && let Err(err) = tools::ensure(&tools::REDIS)
    {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }
    // A missing nginx does not stop the gateway bench: it measures the
    // other paths and says why nginx is absent.
    if flags.iter().any(|f| f == "--gateway")
        && let Err(err) = tools::ensure(&tools::NGINX)
    {
        eprintln!("{err}\nthe gateway bench runs without the nginx baseline");
    }
    // Live bytes per call and per key: a binary of its own, because its
    // counting allocator would tax every client of the load bench.
    let mut args = vec!["run", "--release", "--quiet", "-p", "conn-bench"];
    if flags.iter().any(|f| f == "--memory") {
        args.extend(["--bin", "conn-memory"]);
    }
    args.push("--");
    args.extend(flags.iter().filter(|f| *f != "--memory").map(String::as_str));
    match cargo::run(&args, &mut cargo::TestTotals::default()) {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
