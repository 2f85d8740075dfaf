//! `TokenStore`: where refresh tokens outlive the process. The trait and
//! its record live in conn-core (`conn_core::store`), so a shared store
//! (conn-redis) implements it without depending on conn-auth; the helpers
//! every store here uses stay.

pub use conn_core::store::{StoredToken, TokenStore};

use crate::TokenId;

/// How a tenant appears in logs: its id, or `-` for calls without one.
pub(crate) fn tenant_label(tenant: Option<&str>) -> &str {
    tenant.unwrap_or("-")
}

/// The access-log event of one store operation.
pub(crate) fn access_log(
    store: &'static str,
    op: &'static str,
    tenant: Option<&str>,
    token_id: Option<&TokenId>,
    outcome: &str,
) {
    tracing::info!(
        target: "conn_auth::access",
        store,
        op,
        tenant = tenant_label(tenant),
        token_id = token_id.map_or("-", TokenId::as_str),
        outcome,
        "token store access"
    );
}
