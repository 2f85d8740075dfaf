//! Project automation, run as `cargo xtask <task>`.
//!
//! - `test-all`: formatting, clippy, every test and doctest, the examples
//!   built and the quickstart run; exits non-zero on the first failing step
//!   and ends with one summary line.
//! - `bench`: the end-to-end load benchmark (conn vs raw hyper vs
//!   reqwest-middleware), report in `target/bench/report.md`.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "test-all" => test_all(),
        "bench" => bench(),
        _ => {
            eprintln!("usage: cargo xtask <test-all | bench>");
            ExitCode::from(2)
        }
    }
}

/// One step of `test-all`: a cargo invocation.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
}

const STEPS: &[Step] = &[
    Step {
        name: "format",
        args: &["fmt", "--all", "--check"],
    },
    Step {
        name: "clippy",
        args: &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    },
    Step {
        name: "tests",
        args: &["test", "--workspace", "--all-targets"],
    },
    Step {
        name: "doctests",
        args: &["test", "--workspace", "--doc"],
    },
    Step {
        name: "examples",
        args: &["build", "--workspace", "--examples"],
    },
    Step {
        name: "quickstart",
        args: &["run", "--quiet", "--example", "quickstart"],
    },
];

fn test_all() -> ExitCode {
    let started = Instant::now();
    let mut totals = TestTotals::default();
    for step in STEPS {
        println!("==> {} (cargo {})", step.name, step.args.join(" "));
        let step_started = Instant::now();
        match run_cargo(step.args, &mut totals) {
            Ok(true) => println!(
                "==> {} ok in {:.1}s",
                step.name,
                step_started.elapsed().as_secs_f64()
            ),
            Ok(false) => {
                println!(
                    "test-all: {} passed, {} failed",
                    totals.passed,
                    totals.failed.max(1)
                );
                eprintln!("test-all FAILED at step `{}`", step.name);
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("test-all could not run cargo: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "all {} steps ok in {:.0}s ({} ignored)",
        STEPS.len(),
        started.elapsed().as_secs_f64(),
        totals.ignored
    );
    println!("test-all: {} passed, {} failed", totals.passed, totals.failed);
    ExitCode::SUCCESS
}

/// The end-to-end load benchmark (`bench/`): conn vs raw hyper vs
/// reqwest-middleware; writes target/bench/report.md and report.json.
/// `cargo xtask bench --quick` runs one short round (a smoke test).
fn bench() -> ExitCode {
    let mut totals = TestTotals::default();
    let mut args = vec!["run", "--release", "--quiet", "-p", "conn-bench", "--"];
    if std::env::args().any(|a| a == "--quick") {
        args.push("--quick");
    }
    match run_cargo(&args, &mut totals) {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Test counts summed over every `test result:` line cargo printed.
#[derive(Default)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    /// Adds the counts of a libtest summary line such as
    /// `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`.
    fn add_summary(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

/// Runs cargo with `args`, echoing its output and counting test results.
fn run_cargo(args: &[&str], totals: &mut TestTotals) -> std::io::Result<bool> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut child = Command::new(cargo).args(args).stdout(Stdio::piped()).spawn()?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            totals.add_summary(&line);
            println!("{line}");
        }
    }
    Ok(child.wait()?.success())
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn sums_libtest_summaries() {
        let mut totals = TestTotals::default();
        totals.add_summary(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        );
        totals.add_summary("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out");
        totals.add_summary("running 3 tests");
        assert_eq!((totals.passed, totals.failed, totals.ignored), (15, 2, 1));
    }
}
