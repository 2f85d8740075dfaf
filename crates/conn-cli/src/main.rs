//! `conn`: serve a blueprint as a gateway, check it, explain it, or make one
//! call from the terminal.

mod call;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// conn: connectors to third-party HTTP APIs, from a TOML blueprint.
#[derive(Parser)]
#[command(name = "conn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the blueprint's connectors as an HTTP gateway (docs/gateway.md).
    ///
    /// Callers, limits and the admin key come from the blueprint's [gateway]
    /// section. SIGHUP reloads the blueprint (a bad one is refused and the
    /// running one kept); SIGTERM or Ctrl-C drains: no new connections,
    /// calls in flight finish within shutdown_grace, exit 0.
    Serve {
        /// The blueprint file (TOML).
        blueprint: PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:8080 (default: [gateway] listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Log lines as JSON instead of text.
        #[arg(long)]
        json_logs: bool,
    },
    /// Validate the blueprint: every problem with its key path and line; exit 1 if any.
    Check {
        /// The blueprint file (TOML).
        blueprint: PathBuf,
    },
    /// Print every key's default and effective value, per connector.
    Explain {
        /// The blueprint file (TOML).
        blueprint: PathBuf,
        /// Only this connector.
        connector: Option<String>,
    },
    /// Make one call through a connector and print the body (stdout) and
    /// what the call did (stderr).
    Call(call::CallArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            blueprint,
            listen,
            json_logs,
        } => serve::run(&blueprint, listen, json_logs),
        Command::Check { blueprint } => check(&blueprint),
        Command::Explain { blueprint, connector } => explain(&blueprint, connector.as_deref()),
        Command::Call(args) => call::run(args),
    }
}

/// Loads a blueprint or prints every problem and how to go on.
pub(crate) fn load(path: &std::path::Path) -> Result<conn_blueprint::Blueprint, ExitCode> {
    conn_blueprint::Blueprint::from_file(path).map_err(|errors| {
        eprint!("{errors}");
        eprintln!(
            "fix these in {} and run `conn check {}` again",
            path.display(),
            path.display()
        );
        ExitCode::FAILURE
    })
}

fn check(path: &std::path::Path) -> ExitCode {
    match load(path) {
        Ok(blueprint) => {
            let callers = blueprint.gateway().map_or(0, |g| g.callers.len());
            println!(
                "{}: ok, {} connector(s), {} gateway caller(s)",
                path.display(),
                blueprint.connectors().len(),
                callers
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn explain(path: &std::path::Path, connector: Option<&str>) -> ExitCode {
    let blueprint = match load(path) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let text = blueprint.explain();
    let Some(name) = connector else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    let columns = conn_gateway::explained(&text);
    let Some(column) = columns.get(name) else {
        let names: Vec<&str> = blueprint.names().collect();
        eprintln!(
            "no connector named {name:?}; the blueprint has: {}",
            names.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let width = column.keys().map(String::len).max().unwrap_or(0);
    println!("connector {name}:");
    for (key, value) in column {
        println!("  {key:<width$}  {value}");
    }
    let tenants = format!("  {name}.tenants.");
    for line in text.lines().filter(|l| l.starts_with(&tenants)) {
        println!("{}", line.trim_start());
    }
    ExitCode::SUCCESS
}
