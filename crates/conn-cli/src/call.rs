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
    after_help = "Examples:\n  conn call blueprint.toml orders GET /orders/7 --tenant acme\n  conn call blueprint.toml orders POST /orders --data @order.json -H 'Content-Type: application/json'\n  conn call blueprint.toml catalog GET /items --document\n  conn call blueprint.toml catalog GET /items --pages items > items.ndjson"
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
    #[arg(long, conflicts_with = "pages")]
    document: bool,
    /// Walk every page with the connector's pagination NAME
    /// ([connectors.<name>.pagination.NAME]): each item as one JSON line on
    /// stdout, each page's report on stderr.
    #[arg(long, value_name = "NAME")]
    pages: Option<String>,
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
        let registry = match Registry::from_blueprint_hyper_with_fleet(&blueprint).await {
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
        if let Some(name) = &args.pages {
            return pages(&registry, &args.connector, name, &connector, request, context).await;
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

/// `--pages NAME`: the items as NDJSON (stdout), the pages' reports (stderr).
async fn pages(
    registry: &Registry,
    connector_name: &str,
    name: &str,
    connector: &conn_core::Connector,
    request: Request,
    context: Context,
) -> ExitCode {
    use futures_util::StreamExt;
    let Some(pagination) = registry.pagination(connector_name, name) else {
        let known: Vec<String> = registry
            .config(connector_name)
            .map(|c| c.pagination.keys().cloned().collect())
            .unwrap_or_default();
        eprintln!(
            "conn: connector {connector_name:?} has no pagination named {name:?}; it has: {}\nadd [connectors.{connector_name}.pagination.{name}] to the blueprint (docs/configuration.md)",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
        return ExitCode::FAILURE;
    };
    let mut walk = pagination.pages(connector, request, context);
    let mut out = std::io::stdout().lock();
    let mut items = 0usize;
    while let Some(page) = walk.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                eprintln!("conn: stopped after {items} item(s)");
                return failed(&e);
            }
        };
        for item in &page.items {
            if writeln!(out, "{item}").is_err() {
                return ExitCode::FAILURE; // stdout closed (e.g. `| head`)
            }
        }
        items += page.items.len();
        eprintln!(
            "page {}: {} item(s)\n{}",
            page.number,
            page.items.len(),
            page.report()
        );
    }
    let _ = out.flush();
    eprintln!("conn: {items} item(s)");
    ExitCode::SUCCESS
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
