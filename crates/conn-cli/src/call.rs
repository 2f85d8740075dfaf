//! `conn call`: one call through a connector from the terminal.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Args;
use conn_blueprint::Registry;
use conn_core::{Context, Request};

/// Arguments of `conn call`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  conn call blueprint.toml orders GET /orders/7 --tenant acme\n  conn call blueprint.toml orders POST /orders --data @order.json -H 'Content-Type: application/json'\n  conn call blueprint.toml catalog GET /items --document"
)]
pub(crate) struct CallArgs {
    /// The blueprint file (TOML).
    blueprint: PathBuf,
    /// The connector to call.
    connector: String,
    /// The HTTP method (GET, POST, ...).
    method: String,
    /// The endpoint under the connector's base URL, query allowed (/orders?status=open).
    path: String,
    /// The tenant the call is for.
    #[arg(long)]
    tenant: Option<String>,
    /// The request body: text, or @FILE to read a file.
    #[arg(long, value_name = "TEXT|@FILE")]
    data: Option<String>,
    /// A request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Print the normalized document (JSON or XML alike, the connector's mapping applied).
    #[arg(long)]
    document: bool,
}

pub(crate) fn run(args: CallArgs) -> ExitCode {
    let blueprint = match crate::load(&args.blueprint) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let method = match http::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            eprintln!(
                "conn: {:?} is not an HTTP method; use GET, POST, PUT, PATCH, DELETE, ...",
                args.method
            );
            return ExitCode::FAILURE;
        }
    };
    let body = match &args.data {
        None => Bytes::new(),
        Some(data) => match data.strip_prefix('@') {
            Some(file) => match std::fs::read(file) {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    eprintln!("conn: cannot read {file}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => Bytes::from(data.clone().into_bytes()),
        },
    };
    let mut request = Request::new(method, args.path.clone()).body(body);
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            eprintln!("conn: header {header:?} is not \"Name: value\"");
            return ExitCode::FAILURE;
        };
        request = request.header(name.trim(), value.trim());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conn: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let registry = match Registry::from_blueprint_hyper(&blueprint) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("conn: the connectors could not be built: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(connector) = registry.get(&args.connector) else {
            eprintln!(
                "conn: no connector named {:?}; the blueprint has: {}",
                args.connector,
                registry.names().join(", ")
            );
            return ExitCode::FAILURE;
        };
        let mut context = Context::new();
        if let Some(tenant) = &args.tenant {
            context = context.tenant(tenant.as_str());
        }
        let mut out = std::io::stdout().lock();
        if args.document {
            return match connector.call_document(request, context).await {
                Ok((document, response)) => {
                    let value = match registry.mapping(&args.connector) {
                        Some(mapping) => match mapping.apply(&document.value) {
                            Ok(v) => v,
                            Err(e) => return failed(&e),
                        },
                        None => document.value,
                    };
                    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                    let _ = writeln!(out, "{text}");
                    eprintln!("{}", response.report());
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e),
            };
        }
        match connector.call(request, context).await {
            Ok(response) => {
                let _ = out.write_all(response.body());
                if !response.body().ends_with(b"\n") {
                    let _ = writeln!(out);
                }
                eprintln!("{}", response.report());
                ExitCode::SUCCESS
            }
            Err(e) => {
                if let Some(body) = e.response_body() {
                    let _ = out.write_all(body);
                    let _ = writeln!(out);
                }
                failed(&e)
            }
        }
    })
}

fn failed(error: &conn_core::Error) -> ExitCode {
    eprintln!("conn: the call failed: {error}");
    if let Some(report) = error.report() {
        eprintln!("{report}");
    }
    eprintln!(
        "{}",
        if error.is_transient() {
            "this may pass if tried again later"
        } else {
            "trying again will not help: fix the request or the blueprint"
        }
    );
    ExitCode::FAILURE
}
