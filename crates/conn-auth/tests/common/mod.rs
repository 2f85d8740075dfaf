//! Helpers shared by the integration tests: a scripted token endpoint, a
//! scripted API, connectors between them, and readers for what was sent.
#![allow(dead_code)] // each test file uses a different subset

pub mod log_capture;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use conn_auth::{ClientAuth, OAuth2Client};
use conn_core::{AuthStrategy, Connector};
use conn_testkit::{MockReply, ScriptedTransport, SentRequest};

pub const TOKEN_URL: &str = "https://auth.example.com/oauth/token";
pub const API_URL: &str = "https://api.example.com";
pub const CLIENT_ID: &str = "client-1";
pub const CLIENT_SECRET: &str = "client-secret-1";

/// A 200 token response.
pub fn token(access: &str, expires_in: Option<u64>, refresh: Option<&str>) -> MockReply {
    let mut body = serde_json::json!({ "access_token": access, "token_type": "Bearer" });
    if let Some(expires_in) = expires_in {
        body["expires_in"] = expires_in.into();
    }
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    MockReply::json(200, body.to_string())
}

/// An OAuth error response.
pub fn oauth_error(status: u16, code: &str, description: &str) -> MockReply {
    MockReply::json(
        status,
        serde_json::json!({ "error": code, "error_description": description }).to_string(),
    )
}

/// A client of the scripted token endpoint (client_secret_basic), with
/// short backoff so retry tests stay small.
pub fn client(endpoint: &Arc<ScriptedTransport>) -> OAuth2Client {
    client_with(endpoint, ClientAuth::Basic, 3)
}

pub fn client_with(endpoint: &Arc<ScriptedTransport>, auth: ClientAuth, attempts: u32) -> OAuth2Client {
    OAuth2Client::builder(TOKEN_URL)
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .auth_method(auth)
        .transport(endpoint.clone())
        .max_attempts(attempts)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .build()
        .unwrap()
}

/// A connector to the scripted API (no retry policy: auth behaviour only).
pub fn api(auth: Arc<dyn AuthStrategy>, api: &Arc<ScriptedTransport>) -> Connector {
    Connector::builder("auth-test")
        .base_url(API_URL)
        .transport(api.clone())
        .auth(auth)
        .build()
        .unwrap()
}

/// The form fields of a token request.
pub fn form(request: &SentRequest) -> HashMap<String, String> {
    form_urlencoded::parse(request.request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of `field` in every token request, in order.
pub fn form_values(endpoint: &ScriptedTransport, field: &str) -> Vec<String> {
    endpoint
        .requests()
        .iter()
        .map(|r| form(r).get(field).cloned().unwrap_or_default())
        .collect()
}

/// The `Authorization` header of a request.
pub fn authorization(request: &SentRequest) -> Option<String> {
    request
        .request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `Authorization` header of every API request, in order.
pub fn bearers(api: &ScriptedTransport) -> Vec<String> {
    api.requests()
        .iter()
        .map(|r| authorization(r).unwrap_or_default())
        .collect()
}

/// Lets spawned tasks (background refreshes) run to completion on the
/// paused clock.
pub async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> Self {
        let unique = format!(
            "conn-auth-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
