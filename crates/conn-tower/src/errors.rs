//! What a tower service's error means for conn's retry policies: whether
//! anything can have reached the server decides whether a POST may be
//! retried, so it is the one distinction made here.

use conn_core::{BoxError, Error, ErrorKind, TimeoutKind};

/// The service was not ready (or shed the request): nothing was sent.
pub(crate) fn not_ready(err: BoxError) -> Error {
    match err.downcast::<Error>() {
        Ok(err) => *err,
        Err(err) => Error::new(
            ErrorKind::Connect,
            "the tower service was not ready for the request",
        )
        .with_source(err),
    }
}

/// The service failed the call: a conn error passes through; a load-shed
/// refusal sent nothing; an elapsed tower timeout is an attempt timeout;
/// anything else may have reached the server.
pub(crate) fn call_failed(err: BoxError) -> Error {
    let err = match err.downcast::<Error>() {
        Ok(err) => return *err,
        Err(err) => err,
    };
    if err.is::<tower::load_shed::error::Overloaded>() {
        return Error::new(
            ErrorKind::Connect,
            "the tower service shed the request (overloaded)",
        )
        .with_source(err);
    }
    if err.is::<tower::timeout::error::Elapsed>() {
        return Error::new(
            ErrorKind::Timeout(TimeoutKind::Attempt),
            "the tower service's timeout elapsed",
        )
        .with_source(err);
    }
    Error::new(ErrorKind::ConnectionLost, "the tower service failed the request").with_source(err)
}

/// The response body broke off.
pub(crate) fn body_broke(err: BoxError) -> Error {
    Error::new(ErrorKind::ConnectionLost, "the response body broke off").with_source(err)
}

/// The caller's request body broke off before the call began: nothing was sent.
pub(crate) fn request_body_broke(err: BoxError) -> Error {
    Error::new(ErrorKind::Cancelled, "the caller's request body broke off").with_source(err)
}
