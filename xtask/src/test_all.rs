//! `cargo xtask test-all`: every check CI runs, in order, with one summary line.

use std::process::ExitCode;
use std::time::Instant;

use crate::cargo::{self, TestTotals};
use crate::features;
use crate::rules;
use crate::soak;
use crate::tools;

/// One step of `test-all`: a cargo invocation, or a check of xtask's own.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
}

/// An own check: `Err` says what is wrong.
type Check = fn() -> Result<(), String>;

/// What `cargo xtask test-all` checks besides cargo's own steps, run after
/// clippy (they are cheap and say something a test cannot).
const OWN_CHECKS: &[(&str, Check)] = &[("feature slices", features::check), ("alert rules", rules::check)];

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
    Step {
        name: "short soak",
        args: soak::SHORT,
    },
];

pub fn run() -> ExitCode {
    for tool in tools::FOR_TESTS {
        if let Err(err) = tools::ensure(tool) {
            eprintln!("test-all cannot run: {err}");
            return ExitCode::FAILURE;
        }
    }
    let started = Instant::now();
    let mut totals = TestTotals::default();
    for (index, step) in STEPS.iter().enumerate() {
        if index == 2 {
            for (name, check) in OWN_CHECKS {
                println!("==> {name}");
                if let Err(err) = check() {
                    println!("test-all: {} passed, 1 failed", totals.passed);
                    eprintln!("test-all FAILED at step `{name}`: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        println!("==> {} (cargo {})", step.name, step.args.join(" "));
        let step_started = Instant::now();
        match cargo::run(step.args, &mut totals) {
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
