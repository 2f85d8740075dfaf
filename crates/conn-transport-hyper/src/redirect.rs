//! Redirect policy: whether to follow, how far, and what crosses origins.

use conn_core::{Credentials, Error, ErrorKind};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{Method, StatusCode};

/// Whether and how redirects are followed. Default: not followed (the 3xx
/// response is returned to the caller as it is).
///
/// Every hop is compared with the *original* request's origin (scheme, host,
/// port), not with the previous hop, so `a → a → b` is seen as leaving `a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Redirects {
    /// Return 3xx responses as they are.
    #[default]
    None,
    /// Follow up to `max_hops` redirects.
    Follow {
        /// Hop limit; one more redirect is a [`Redirect`](ErrorKind::Redirect) error.
        max_hops: u8,
        /// What to do when a hop leaves the original origin.
        cross_origin: CrossOrigin,
    },
}

impl Redirects {
    /// Follows up to `max_hops` redirects **within the original origin**; a
    /// hop to another origin fails with a [`Redirect`](ErrorKind::Redirect)
    /// error. The safe choice for an API that redirects between its own paths.
    pub fn same_origin(max_hops: u8) -> Self {
        Redirects::Follow {
            max_hops,
            cross_origin: CrossOrigin::Refuse,
        }
    }

    /// Follows up to `max_hops` redirects **to any origin**, removing every
    /// credential before a hop leaves the original one (see
    /// [`CrossOrigin::StripCredentials`]). For APIs that hand downloads to a
    /// storage host with a pre-signed URL.
    pub fn any_origin_without_credentials(max_hops: u8) -> Self {
        Redirects::Follow {
            max_hops,
            cross_origin: CrossOrigin::StripCredentials,
        }
    }

    /// The same as [`same_origin`](Self::same_origin): cross-origin hops are
    /// refused, not followed.
    #[deprecated(
        note = "say which form: `Redirects::same_origin` or `Redirects::any_origin_without_credentials`"
    )]
    pub fn follow(max_hops: u8) -> Self {
        Redirects::same_origin(max_hops)
    }
}

/// What a redirect to another origin does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CrossOrigin {
    /// Fail with a [`Redirect`](ErrorKind::Redirect) error.
    #[default]
    Refuse,
    /// Follow, after removing every credential: `Authorization`,
    /// `Proxy-Authorization`, `Cookie`, and every header and query parameter
    /// the auth strategy marked (custom API-key headers included).
    StripCredentials,
}

/// The request for the next hop, or `None` when `status` is not a redirect
/// to follow.
pub(crate) struct Hop {
    pub(crate) request: http::Request<bytes::Bytes>,
}

/// Computes the next hop for a redirect response.
pub(crate) fn next_hop(
    previous: &http::Request<bytes::Bytes>,
    status: StatusCode,
    headers: &http::HeaderMap,
    original: &url::Origin,
    policy: CrossOrigin,
    credentials: &Credentials,
) -> Result<Option<Hop>, Error> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = headers.get(LOCATION) else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|_| Error::new(ErrorKind::Redirect, "the redirect Location is not valid text"))?;
    let current = url::Url::parse(&previous.uri().to_string())
        .map_err(|_| Error::new(ErrorKind::Redirect, "the redirecting URL could not be parsed"))?;
    let target = current
        .join(location)
        .map_err(|_| Error::new(ErrorKind::Redirect, "the redirect Location is not a valid URL"))?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Redirect,
            "the redirect leads to a non-HTTP scheme",
        ));
    }
    let uri: http::Uri = target
        .as_str()
        .parse()
        .map_err(|_| Error::new(ErrorKind::Redirect, "the redirect Location is not a valid URI"))?;

    let mut request = previous.clone();
    *request.uri_mut() = uri;
    // A 303, and a 301/302 after a POST, turn into a GET without a body, as
    // every browser and HTTP client does.
    let to_get = status == StatusCode::SEE_OTHER && previous.method() != Method::HEAD
        || matches!(status.as_u16(), 301 | 302) && previous.method() == Method::POST;
    if to_get {
        *request.method_mut() = Method::GET;
        *request.body_mut() = bytes::Bytes::new();
        request.headers_mut().remove(CONTENT_LENGTH);
        request.headers_mut().remove(CONTENT_TYPE);
    }
    request.headers_mut().remove(HOST);
    if &target.origin() != original {
        match policy {
            CrossOrigin::Refuse => {
                return Err(
                    Error::new(ErrorKind::Redirect, "refused a redirect to another origin")
                        .with_status(status),
                );
            }
            CrossOrigin::StripCredentials => credentials.strip_from(&mut request),
        }
    }
    Ok(Some(Hop { request }))
}
