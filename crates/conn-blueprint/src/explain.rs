//! `Blueprint::explain`: every key, its default and its effective value per
//! connector, as a text table.

use crate::blueprint::Blueprint;
use crate::schema::{self, KEYS};

impl Blueprint {
    /// A text table: every key, its default and its effective value per
    /// connector (`[defaults]` / `[env]` mark where a value came from; secrets
    /// show as `<env NAME>` / `<file PATH>`).
    pub fn explain(&self) -> String {
        let mut header = vec!["key".to_owned(), "default".to_owned()];
        header.extend(self.explain.keys().cloned());
        let mut rows = vec![header];
        let used_variant_keys = schema::variant_keys()
            .iter()
            .filter(|k| self.explain.values().any(|values| values.contains_key(k.path)));
        for spec in KEYS.iter().chain(used_variant_keys) {
            let mut row = vec![spec.path.to_owned(), spec.default.unwrap_or("-").to_owned()];
            for values in self.explain.values() {
                row.push(match values.get(spec.path) {
                    Some((value, tag)) => format!("{value}{tag}"),
                    None => "-".to_owned(),
                });
            }
            rows.push(row);
        }
        let columns = rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("-|-"));
                out.push('\n');
            }
        }
        if !self.tenant_explain.is_empty() {
            out.push_str("\ntenants (keys set per tenant; auth starts from the built-in defaults, retry and throttle from the connector's):\n");
            for (connector, tenants) in &self.tenant_explain {
                for (tenant, keys) in tenants {
                    let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    out.push_str(&format!("  {connector}.tenants.{tenant}: {}\n", keys.join(", ")));
                }
            }
        }
        out
    }
}
