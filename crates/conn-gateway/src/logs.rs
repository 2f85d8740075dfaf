//! The logs `conn serve` writes: to stderr, at the level `CONN_LOG` names
//! (INFO by default), as text or as JSON lines.
//!
//! Why colours only on a terminal: escape codes are noise in a log file or
//! a collector, and formatting them cost about 10,000 instructions per
//! proxied request (docs/benchmarks.md). `NO_COLOR` turns them off on a
//! terminal too.

use std::io::IsTerminal;

/// Installs the process's log subscriber; does nothing when one is
/// installed already (a test harness, an embedding application).
pub fn init(json: bool) {
    let level = std::env::var("CONN_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // A log line that cannot be written is dropped. tracing-subscriber's
    // default would report the failure with `eprintln!`, which panics when
    // stderr itself is the broken writer (a closed pipe: a supervisor or
    // collector gone), and the panic would take the request being logged
    // down with it. A request must never fail because its log could not.
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .log_internal_errors(false);
    // An error only means a subscriber is there already, which is fine.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
