//! The blueprint's top-level sections, read into layers: `allow_inline_secrets`,
//! `[defaults]`, and each `[connectors.<name>]` with its `tenants`; `[gateway]`
//! is kept whole for `gateway.rs`.

use crate::errors::ValidationErrors;
use crate::schema::Kind;
use crate::tree::{Node, Raw};
use crate::values::{Layer, Reader};

/// What the blueprint's tables say, before layering.
#[derive(Default)]
pub(crate) struct Sections {
    pub(crate) allow_inline: bool,
    pub(crate) defaults: Layer,
    pub(crate) connectors: Vec<ConnectorSection>,
    /// The `[gateway]` table, read once the connectors' names are known.
    pub(crate) gateway: Option<Node>,
    /// The `[fleet]` table, read by `fleet.rs`.
    pub(crate) fleet: Option<Node>,
}

/// One `[connectors.<name>]` table.
pub(crate) struct ConnectorSection {
    pub(crate) name: String,
    pub(crate) layer: Layer,
    pub(crate) line: Option<usize>,
    pub(crate) tenants: Vec<TenantSection>,
    /// Its `pagination` table, read by `pagination.rs`.
    pub(crate) pagination: Option<Node>,
}

/// One `[connectors.<name>.tenants.<tenant>]` table: its `auth`, `retry`
/// and `throttle` keys.
pub(crate) struct TenantSection {
    pub(crate) name: String,
    pub(crate) layer: Layer,
    pub(crate) line: Option<usize>,
}

impl Sections {
    /// Reads the document's top level; every problem goes to `errors`.
    pub(crate) fn read(root: &[(String, Node)], errors: &mut ValidationErrors) -> Sections {
        let mut sections = Sections::default();
        let mut reader = Reader { errors };
        for (k, node) in root {
            match (k.as_str(), &node.raw) {
                ("allow_inline_secrets", Raw::Bool(b)) => sections.allow_inline = *b,
                ("allow_inline_secrets", _) => reader.wrong(k, node, Kind::Bool),
                ("defaults", Raw::Table(entries)) => {
                    reader.flatten(entries, "", "defaults", &mut sections.defaults)
                }
                ("connectors", Raw::Table(entries)) => {
                    for (name, table) in entries {
                        if let Some(connector) = read_connector(&mut reader, name, table) {
                            sections.connectors.push(connector);
                        }
                    }
                }
                ("gateway", _) => sections.gateway = Some(node.clone()),
                ("fleet", _) => sections.fleet = Some(node.clone()),
                ("defaults" | "connectors", _) => {
                    node.entries(k, reader.errors);
                }
                _ => reader.errors.push(
                    k.as_str(),
                    node.line,
                    "unknown key (expected allow_inline_secrets, [defaults], [connectors.<name>], [gateway], [fleet])",
                ),
            }
        }
        sections
    }
}

fn read_connector(reader: &mut Reader<'_>, name: &str, table: &Node) -> Option<ConnectorSection> {
    let shown = format!("connectors.{name}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        reader.errors.push(
            &shown,
            table.line,
            "a connector name uses only letters, digits, '-' and '_'",
        );
        return None;
    }
    let Raw::Table(inner) = &table.raw else {
        reader.wrong(&shown, table, Kind::StrMap);
        return None;
    };
    let mut layer = Layer::new();
    let (tenant_entries, rest): (Vec<_>, Vec<_>) = inner.iter().partition(|(k, _)| k == "tenants");
    let (pagination, rest): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(k, _)| k == "pagination");
    let pagination = pagination.last().map(|(_, node)| node.clone());
    let rest: Vec<(String, Node)> = rest.into_iter().map(|(k, n)| (k.clone(), n.clone())).collect();
    reader.flatten(&rest, "", &shown, &mut layer);
    let mut tenants = Vec::new();
    for (_, node) in tenant_entries {
        read_tenants(reader, node, &format!("{shown}.tenants"), &mut tenants);
    }
    Some(ConnectorSection {
        name: name.to_owned(),
        layer,
        line: table.line,
        tenants,
        pagination,
    })
}

fn read_tenants(reader: &mut Reader<'_>, node: &Node, display: &str, out: &mut Vec<TenantSection>) {
    let Raw::Table(tenants) = &node.raw else {
        reader.errors.push(
            display,
            node.line,
            format!("expected a table of tenants, found {}", node.raw.type_name()),
        );
        return;
    };
    for (tenant, table) in tenants {
        let shown = format!("{display}.{tenant}");
        let Some(entries) = table.entries(&shown, reader.errors) else {
            continue;
        };
        let mut layer = Layer::new();
        for (k, node) in entries {
            if matches!(k.as_str(), "auth" | "retry" | "throttle") {
                reader.flatten(
                    std::slice::from_ref(&(k.clone(), node.clone())),
                    "",
                    &shown,
                    &mut layer,
                );
            } else {
                reader.errors.push(
                    format!("{shown}.{k}"),
                    node.line,
                    "unknown key (only auth, retry and throttle can be set per tenant)",
                );
            }
        }
        out.push(TenantSection {
            name: tenant.clone(),
            layer,
            line: table.line,
        });
    }
}
