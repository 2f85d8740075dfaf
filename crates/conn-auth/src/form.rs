//! `TokenForm`: the form of one token request, with its secrets marked.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub(crate) enum FormValue {
    Plain(String),
    Secret(SecretString),
}

/// The form of one token request: a `grant_type` and its parameters, some
/// of them secret. Client authentication is added by the [`OAuth2Client`](crate::OAuth2Client).
///
/// Mark a form [`single_use`](Self::single_use) when it carries a credential
/// the server consumes (a rotating refresh token, an authorization code):
/// it is then resent only when it certainly did not reach the server.
///
/// ```
/// use conn_auth::TokenForm;
/// use secrecy::SecretString;
///
/// let form = TokenForm::new("urn:ietf:params:oauth:grant-type:jwt-bearer")
///     .secret("assertion", SecretString::from("eyJ...signed"))
///     .param("scope", "read write");
/// assert!(!format!("{form:?}").contains("eyJ"));
/// ```
#[derive(Clone)]
pub struct TokenForm {
    pub(crate) grant_type: String,
    pub(crate) params: Vec<(String, FormValue)>,
    pub(crate) single_use: bool,
}

impl TokenForm {
    /// A form for `grant_type`.
    pub fn new(grant_type: impl Into<String>) -> Self {
        TokenForm {
            grant_type: grant_type.into(),
            params: Vec::new(),
            single_use: false,
        }
    }

    /// Adds a parameter that is not secret (scope, audience, resource).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), FormValue::Plain(value.into())));
        self
    }

    /// Adds a secret parameter: redacted in `Debug` and scrubbed from any
    /// error message.
    pub fn secret(mut self, key: impl Into<String>, value: SecretString) -> Self {
        self.params.push((key.into(), FormValue::Secret(value)));
        self
    }

    /// Declares that the form's credential is consumed by the server, so the
    /// request is retried only after errors where nothing was sent or the
    /// server answered (5xx, 429, 408), never after a lost connection or a
    /// timeout (the server may have used it already).
    pub fn single_use(mut self) -> Self {
        self.single_use = true;
        self
    }

    /// The grant type.
    pub fn grant_type(&self) -> &str {
        &self.grant_type
    }

    pub(crate) fn secrets(&self) -> impl Iterator<Item = &str> {
        self.params.iter().filter_map(|(_, value)| match value {
            FormValue::Secret(secret) => Some(secret.expose_secret()),
            FormValue::Plain(_) => None,
        })
    }
}

impl fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(key, value)| match value {
                FormValue::Plain(v) => (key.as_str(), v.as_str()),
                FormValue::Secret(_) => (key.as_str(), "<redacted>"),
            })
            .collect();
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("params", &params)
            .field("single_use", &self.single_use)
            .finish()
    }
}
