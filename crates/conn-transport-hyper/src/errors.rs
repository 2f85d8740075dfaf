//! Mapping hyper and I/O failures onto conn's error kinds.

use std::error::Error as StdError;
use std::io;

use conn_core::{Error, ErrorKind};

/// Classifies a failure of `Client::request` (before a response head arrived).
pub(crate) fn request_error(err: hyper_util::client::legacy::Error, authority: &str) -> Error {
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
