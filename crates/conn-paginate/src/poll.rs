//! `Poller`: a resource polled for changes, yielding only what changed.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime};

use conn_core::{Connector, Context, Document, Error, HintParser, Request, Response};
use futures_core::Stream;
use http::StatusCode;
use http::header::{ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

/// The header some APIs (GitHub's events) use to ask for a longer interval, in seconds.
pub const X_POLL_INTERVAL: &str = "x-poll-interval";

/// The default ceiling on how far a server may stretch the interval.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(3600);

type Changes = Pin<Box<dyn Stream<Item = Result<(Document, Response), Error>> + Send>>;

/// A resource polled at an interval, as a [`Stream`] that yields a
/// document only when it changed; made by
/// [`PaginateExt::poll`](crate::PaginateExt::poll).
///
/// - The validators of the last change are sent back: `If-None-Match` with
///   its `ETag`, `If-Modified-Since` with its `Last-Modified`. A
///   `304 Not Modified` yields nothing.
/// - A 200 whose body is byte-for-byte the last one yields nothing either
///   (for APIs without validators).
/// - `X-Poll-Interval` (seconds) and `Retry-After` (on any answer, errors
///   included) stretch the interval, up to [`max_interval`](Self::max_interval);
///   the interval never shrinks below the one asked for.
/// - A failed poll (after the connector's own retries) is yielded as an
///   error and polling goes on; stop by dropping the stream, which also
///   cancels a request in flight.
///
/// The first request goes out when the stream is first polled; each later
/// one an interval after the previous answer. All waiting is tokio time.
#[must_use = "a poller does nothing unless polled"]
pub struct Poller {
    setup: Option<PollLoop>,
    running: Option<Changes>,
}

struct PollLoop {
    connector: Connector,
    request: Request,
    context: Context,
    every: Duration,
    max_interval: Duration,
    hints: HintParser,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    last_body: Option<u64>,
    wait: Option<Duration>,
}

impl Poller {
    pub(crate) fn new(connector: &Connector, request: Request, every: Duration) -> Self {
        Poller {
            setup: Some(PollLoop {
                connector: connector.clone(),
                request,
                context: Context::new(),
                every,
                max_interval: DEFAULT_MAX_INTERVAL.max(every),
                hints: HintParser::default(),
                etag: None,
                last_modified: None,
                last_body: None,
                wait: None,
            }),
            running: None,
        }
    }

    /// The context of every poll (tenant, tags). A deadline in it would end
    /// polling at that time.
    pub fn context(mut self, context: Context) -> Self {
        if let Some(setup) = &mut self.setup {
            setup.context = context;
        }
        self
    }

    /// The longest interval a server may ask for (default one hour, and
    /// never below the interval itself).
    pub fn max_interval(mut self, max: Duration) -> Self {
        if let Some(setup) = &mut self.setup {
            setup.max_interval = max.max(setup.every);
        }
        self
    }
}

impl PollLoop {
    async fn next_change(&mut self) -> Result<(Document, Response), Error> {
        loop {
            if let Some(wait) = self.wait {
                tokio::time::sleep(wait).await;
            }
            let mut request = self.request.clone();
            if let Some(etag) = &self.etag {
                request = request.header(IF_NONE_MATCH, etag.clone());
            }
            if let Some(modified) = &self.last_modified {
                request = request.header(IF_MODIFIED_SINCE, modified.clone());
            }
            let response = match self.connector.call(request, self.context.clone()).await {
                Ok(response) => response,
                Err(err) => {
                    self.wait = Some(self.interval(err.response_headers(), err.retry_after()));
                    return Err(err);
                }
            };
            self.wait = Some(self.interval(Some(response.headers()), None));
            if response.status() == StatusCode::NOT_MODIFIED {
                continue;
            }
            let digest = digest(response.body());
            if self.last_body == Some(digest) {
                continue;
            }
            let document = self.connector.normalize(&response)?;
            // Validators are taken only from a change that was delivered.
            self.etag = response.headers().get(ETAG).cloned();
            self.last_modified = response.headers().get(LAST_MODIFIED).cloned();
            self.last_body = Some(digest);
            return Ok((document, response));
        }
    }

    /// The wait before the next poll: the interval, stretched by the
    /// server's `X-Poll-Interval` and `Retry-After`, capped.
    fn interval(&self, headers: Option<&HeaderMap>, retry_after: Option<Duration>) -> Duration {
        let mut wait = self.every;
        if let Some(headers) = headers {
            let poll_interval = headers
                .get(X_POLL_INTERVAL)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let hinted = self.hints.parse(headers, SystemTime::now()).retry_after;
            wait = wait
                .max(poll_interval.unwrap_or_default())
                .max(hinted.unwrap_or_default());
        }
        wait.max(retry_after.unwrap_or_default()).min(self.max_interval)
    }
}

fn digest(body: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

impl Stream for Poller {
    type Item = Result<(Document, Response), Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.running.is_none()
            && let Some(setup) = this.setup.take()
        {
            this.running = Some(Box::pin(futures_util::stream::unfold(
                setup,
                |mut poll| async move {
                    let change = poll.next_change().await;
                    Some((change, poll))
                },
            )));
        }
        match &mut this.running {
            Some(stream) => stream.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("started", &self.running.is_some())
            .finish_non_exhaustive()
    }
}
