//! `NextUrl`: pagination by a link to the next page, from the body or the
//! `Link` header, never leaving the connector's origin.

use conn_core::{BaseUrl, Error, ErrorKind, Request};
use http::uri::{Scheme, Uri};

use crate::link::find_rel;
use crate::paginator::{check_pointer, text_at};
use crate::{PageView, Paginator, Position};

/// Next-URL pagination: the next page's URL is read from the body (a JSON
/// pointer) or from the RFC 8288 `Link` header (`rel="next"`), and
/// requested with the caller's method and headers. The walk ends when there
/// is no next link.
///
/// A next link is only ever followed on the connector's own origin and
/// under its base path: it is turned into an endpoint relative to the base
/// URL, and the same safe-join rules as for any endpoint apply. A link to
/// another scheme, host or port is an error ([`ErrorKind::Redirect`]), and
/// nothing is sent to it, so credentials never leave the origin.
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`link_header()`](Self::link_header) / [`from_body(pointer)`](Self::from_body) | — | where the next link is |
/// | [`page_size(param, size)`](Self::page_size) | none | a page-size query parameter on the first request (next links carry their own query) |
///
/// ```
/// use conn_paginate::NextUrl;
///
/// // Link: <https://api.example.com/v1/items?page=2>; rel="next"
/// let github_style = NextUrl::link_header().page_size("per_page", 100);
/// // {"items": [...], "links": {"next": "/v1/items?page=2"}}
/// let in_body = NextUrl::from_body("/links/next");
/// # let _ = (github_style, in_body);
/// ```
#[derive(Clone, Debug)]
pub struct NextUrl {
    source: Source,
    page_size: Option<(String, u32)>,
}

#[derive(Clone, Debug)]
enum Source {
    LinkHeader,
    Body(String),
}

impl NextUrl {
    /// The next link is the `Link` header's `rel="next"` target.
    pub fn link_header() -> Self {
        NextUrl {
            source: Source::LinkHeader,
            page_size: None,
        }
    }

    /// The next link is the string at this JSON pointer of the body.
    pub fn from_body(pointer: impl Into<String>) -> Self {
        NextUrl {
            source: Source::Body(pointer.into()),
            page_size: None,
        }
    }

    /// Sends `param=size` with the first request.
    pub fn page_size(mut self, param: impl Into<String>, size: u32) -> Self {
        self.page_size = Some((param.into(), size));
        self
    }
}

impl Paginator for NextUrl {
    fn request(&self, base: &Request, position: &Position) -> Result<Request, Error> {
        match position {
            Position::Start => Ok(match &self.page_size {
                Some((param, size)) => base.clone().set_query(param.as_str(), size.to_string()),
                None => base.clone(),
            }),
            // The link carries the whole query: the caller's pairs would repeat it.
            Position::Url(endpoint) => Ok(base.clone().clear_query().with_endpoint(endpoint.as_str())),
            other => Err(Error::config(format!(
                "a next-URL paginator cannot resume from {other:?}"
            ))),
        }
    }

    fn next(&self, page: &PageView<'_>) -> Result<Option<Position>, Error> {
        let link = match &self.source {
            Source::LinkHeader => find_rel(page.response.headers(), "next"),
            Source::Body(pointer) => {
                check_pointer(pointer)?;
                text_at(page.document, pointer)
            }
        };
        let Some(link) = link else { return Ok(None) };
        let current = match page.position {
            Position::Url(endpoint) => endpoint.as_str(),
            _ => page.response.report().endpoint.as_str(),
        };
        endpoint_on_origin(page.base_url, current, &link).map(|endpoint| Some(Position::Url(endpoint)))
    }
}

/// Turns a next-page link into an endpoint under `base`, or refuses it.
///
/// Accepted: an absolute URL on the base's scheme, host and port; a
/// protocol-relative `//host/...` on the base's host; an absolute path;
/// a bare `?query` (the current endpoint's path). All must lie under the
/// base path.
pub(crate) fn endpoint_on_origin(base: &BaseUrl, current: &str, link: &str) -> Result<String, Error> {
    let link = link.trim();
    if let Some(query) = link.strip_prefix('?') {
        return Ok(format!("{}?{query}", conn_core::endpoint_path(current)));
    }
    let path_and_query = if link.starts_with('/') && !link.starts_with("//") {
        link.to_owned()
    } else {
        let absolute = if link.starts_with("//") {
            format!("{}:{link}", base.scheme())
        } else {
            link.to_owned()
        };
        let uri: Uri = absolute
            .parse()
            .map_err(|_| refused("the next-page link is not a valid URL"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(refused(
                "the next-page link is a relative path; only absolute paths are followed",
            ));
        };
        let same_port = port_or_default(scheme, authority.port_u16())
            == port_or_default(base.scheme(), base.authority().port_u16());
        if scheme != base.scheme()
            || !authority.host().eq_ignore_ascii_case(base.authority().host())
            || !same_port
            || authority.as_str().contains('@')
        {
            return Err(refused(
                "the next-page link points to another origin; it is not followed",
            ));
        }
        uri.path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
    };
    let prefix = base.join("")?;
    let prefix = prefix.trim_end_matches('/');
    let path = conn_core::endpoint_path(&path_and_query);
    let under = prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    if !under {
        return Err(refused("the next-page link leaves the connector's base path"));
    }
    let endpoint = &path_and_query[prefix.len()..];
    // The endpoint is validated again by the pipeline's safe join.
    base.join(endpoint)?;
    Ok(endpoint.to_owned())
}

fn port_or_default(scheme: &Scheme, port: Option<u16>) -> Option<u16> {
    port.or(if *scheme == Scheme::HTTPS {
        Some(443)
    } else if *scheme == Scheme::HTTP {
        Some(80)
    } else {
        None
    })
}

fn refused(message: &'static str) -> Error {
    Error::new(ErrorKind::Redirect, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseUrl {
        BaseUrl::parse("https://api.example.com/v1", false).unwrap()
    }

    #[test]
    fn links_on_the_origin_become_endpoints() {
        let base = base();
        for (link, endpoint) in [
            ("https://api.example.com/v1/items?page=2", "/items?page=2"),
            ("https://API.example.com:443/v1/items?page=2", "/items?page=2"),
            ("//api.example.com/v1/items?page=2", "/items?page=2"),
            ("/v1/items?page=3", "/items?page=3"),
            ("?page=4", "/items?page=4"),
        ] {
            assert_eq!(
                endpoint_on_origin(&base, "/items?page=1", link).unwrap(),
                endpoint,
                "{link}"
            );
        }
    }

    #[test]
    fn links_off_the_origin_or_base_path_are_refused() {
        let base = base();
        for link in [
            "http://other.host/v1/items?page=2",
            "http://api.example.com/v1/items",
            "https://api.example.com:8443/v1/items",
            "https://other.host/v1/items",
            "https://user@api.example.com/v1/items",
            "//other.host/v1/items",
            "/v2/items",
            "/v1x/items",
            "/v1/../admin",
            "items?page=2",
            "javascript:alert(1)",
        ] {
            let err = endpoint_on_origin(&base, "/items", link).unwrap_err();
            assert!(err.is_redirect() || err.is_config(), "{link}: {err}");
        }
    }
}
