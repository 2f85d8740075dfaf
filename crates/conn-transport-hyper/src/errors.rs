//! Mapping hyper and I/O failures onto conn's error kinds.

use std::error::Error as StdError;
use std::io;

use conn_core::{Error, ErrorKind};

/// Classifies a failure of `Client::request` (before a response head arrived).
pub(crate) fn request_error(err: hyper_util::client::legacy::Error, authority: &str) -> Error {
    if let Some(alert) = refused_client_certificate(&err) {
        // Retrying with the same certificate cannot help.
        return Error::new(
            ErrorKind::Connect,
            format!("{authority} refused the TLS client certificate ({alert}): check the client identity"),
        )
        .transient(false)
        .with_source(err);
    }
    if let Some(refused) = proxy_refused(&err) {
        return Error::new(
            ErrorKind::Connect,
            format!(
                "could not connect to {authority} through the proxy: {}",
                refused.reason
            ),
        )
        .transient(!refused.credentials)
        .with_source(err);
    }
    if err.is_connect() {
        return Error::new(ErrorKind::Connect, format!("could not connect to {authority}")).with_source(err);
    }
    let kind = classify_chain(&err);
    let message = match kind {
        ErrorKind::Cancelled => "the request was cancelled before a response arrived".to_owned(),
        _ => format!("the connection to {authority} broke before a response arrived"),
    };
    Error::new(kind, message).with_source(err)
}

/// Classifies a failure while reading the response body.
pub(crate) fn body_error(err: hyper::Error) -> Error {
    let kind = classify_chain(&err);
    Error::new(kind, "the connection broke in the middle of the response body").with_source(err)
}

/// A proxy's refusal anywhere in the cause chain.
fn proxy_refused<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a crate::proxy::ProxyRefused> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<crate::proxy::ProxyRefused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

/// Alerts with which a TLS server refuses (or asks for) a client certificate.
const CERTIFICATE_ALERTS: &[&str] = &[
    "CertificateRequired",
    "BadCertificate",
    "UnknownCA",
    "UnsupportedCertificate",
    "CertificateRevoked",
    "CertificateExpired",
    "CertificateUnknown",
    "AccessDenied",
];

/// The TLS alert with which a server refused a client certificate,
/// anywhere in the cause chain. rustls's error reaches hyper as an
/// `io::Error` that keeps only its text ("received fatal alert: ..."), so
/// the text is what is matched, besides a typed `rustls::Error`.
fn refused_client_certificate(err: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let alert = match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::AlertReceived(alert)) => Some(format!("{alert:?}")),
            _ => e
                .downcast_ref::<io::Error>()
                .filter(|io| io.kind() == io::ErrorKind::InvalidData)
                .and_then(|io| {
                    Some(
                        io.get_ref()?
                            .to_string()
                            .strip_prefix("received fatal alert: ")?
                            .to_owned(),
                    )
                }),
        };
        if let Some(alert) = alert
            && let Some(known) = CERTIFICATE_ALERTS.iter().find(|known| **known == alert)
        {
            return Some(known);
        }
        current = e.source();
    }
    None
}

/// Walks the cause chain for the most telling cause.
fn classify_chain(err: &(dyn StdError + 'static)) -> ErrorKind {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(hyper_err) = e.downcast_ref::<hyper::Error>()
            && hyper_err.is_canceled()
        {
            return ErrorKind::ConnectionLost;
        }
        if let Some(io_err) = e.downcast_ref::<io::Error>()
            && io_err.kind() == io::ErrorKind::TimedOut
        {
            return ErrorKind::Timeout(conn_core::TimeoutKind::Attempt);
        }
        current = e.source();
    }
    ErrorKind::ConnectionLost
}
