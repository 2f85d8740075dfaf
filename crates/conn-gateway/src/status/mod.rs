//! The live status page: which integration is sick, and why, at a glance.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /status` | caller key (sees its connectors), admin key (all, with breaker buttons) | the page |
//! | `GET /v1/status` | the same | its data as JSON |
//! | `POST /status/breaker?connector=&key=&action=open\|close\|reset` | admin key | the page's breaker buttons |
//!
//! One card per connector, worst first: success rate and p50/p99 over the
//! last five minutes, retries per minute, breaker state per key with the
//! time to the next probe, throttle waits and refusals, the token expiry
//! countdown (never a token), degraded calls, and a small chart per 10 s
//! bucket. Everything is embedded (no CDN); the numbers are rendered on the
//! server so the page works without JavaScript. Keys are checked by the
//! gateway's own `Callers` ([`access`]); the numbers come from the metrics
//! recorder ([`data`]).

mod access;
mod data;
mod exposition;
mod page;

use std::sync::{Arc, OnceLock};

use axum::extract::{Extension, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::state::Shared;
use access::Viewer;
use data::Board;

/// The status routes, with a board that starts sampling the metrics
/// recorder now (and stops when the router is dropped).
pub(crate) fn routes(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    let board = Board::start(shared.metrics.clone());
    Router::new()
        .route("/status", get(html))
        .route("/v1/status", get(json))
        .route("/status/breaker", post(breaker))
        .layer(Extension(board))
}

async fn html(
    State(shared): State<Arc<Shared>>,
    Extension(board): Extension<Arc<Board>>,
    headers: HeaderMap,
) -> Response {
    let viewer = match access::viewer(&shared, &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    let mut response = Html(page::render(&view(&shared, &board, &viewer))).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Ok(policy) = HeaderValue::from_str(content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

async fn json(
    State(shared): State<Arc<Shared>>,
    Extension(board): Extension<Arc<Board>>,
    headers: HeaderMap,
) -> Response {
    let viewer = match access::viewer(&shared, &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    let mut response = Json(view(&shared, &board, &viewer)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn view(shared: &Shared, board: &Board, viewer: &Viewer) -> data::Status {
    let names: Vec<String> = shared
        .registry
        .names()
        .into_iter()
        .filter(|name| viewer.sees(name))
        .collect();
    data::status(
        &shared.registry,
        &names,
        &board.history(),
        board,
        viewer.is_admin(),
    )
}

/// The query of a breaker button.
#[derive(Deserialize)]
struct BreakerAction {
    connector: String,
    key: String,
    /// `open`, `close` or `reset`, as `POST /v1/connectors/{name}/breaker`.
    action: String,
}

/// A breaker button: the same actions as the admin API's breaker route,
/// answered with a redirect back to the page (works without JavaScript).
async fn breaker(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(action): Query<BreakerAction>,
) -> Response {
    // The browser sends its Basic credentials with any form post to this
    // origin, also one a hostile page makes it send: only our own page's.
    if !same_origin(&headers) {
        return Problem::forbidden("the breaker buttons work only from the status page itself")
            .into_response();
    }
    if let Err(refused) = access::admin(&shared, &headers) {
        return *refused;
    }
    let Some(breaker) = shared.registry.breaker(&action.connector) else {
        return Problem::not_found(format!("no connector named {} with a breaker", action.connector))
            .into_response();
    };
    match action.action.as_str() {
        "open" => breaker.force_open(&action.key),
        "close" => breaker.disable(&action.key),
        "reset" => breaker.reset(&action.key),
        _ => return Problem::bad_request("action must be open, close or reset").into_response(),
    }
    tracing::info!(
        connector = %action.connector,
        key = %action.key,
        action = %action.action,
        "breaker set by an operator on the status page"
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/status")]).into_response()
}

/// No `Sec-Fetch-Site`/`Origin` saying another site sent the request
/// (scripts and curl send neither; browsers send both on a form post).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Nothing but the page's own inline style and script (by hash), requests
/// to its own origin, and forms posting to it.
fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let shell = include_str!("page.html");
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; connect-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            inline_hash(shell, "<style>", "</style>"),
            inline_hash(shell, "<script>", "</script>"),
        )
    })
}

/// `sha256-<base64>` of the text between `open` and `close`.
fn inline_hash(shell: &str, open: &str, close: &str) -> String {
    let body = shell
        .split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map(|(body, _)| body)
        .unwrap_or_default();
    format!("sha256-{}", base64(&Sha256::digest(body.as_bytes())))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().fold(0u32, |w, b| (w << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(word >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn only_our_own_origin_may_post() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (n, v) in pairs {
                h.insert(*n, HeaderValue::from_static(v));
            }
            h
        };
        assert!(same_origin(&with(&[])));
        assert!(same_origin(&with(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://gw:8080"),
            ("host", "gw:8080")
        ])));
        assert!(!same_origin(&with(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&with(&[
            ("origin", "http://evil.example"),
            ("host", "gw:8080")
        ])));
    }

    #[test]
    fn the_policy_hashes_the_inline_script() {
        let policy = content_security_policy();
        assert!(
            policy.contains("script-src 'sha256-") && !policy.contains("unsafe-inline"),
            "{policy}"
        );
    }
}
