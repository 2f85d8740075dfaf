//! Server hints: what an API says about when to come back and how much quota
//! is left, parsed once per response for retry, throttle and breaker alike.
//!
//! Sources, in order of precedence for [`ServerHints::wait`]:
//!
//! 1. `Retry-After` — delta-seconds or an HTTP-date (RFC 9110);
//! 2. the IETF RateLimit fields — `RateLimit` (`r=`/`t=` structured form and
//!    the older `remaining=`/`reset=` form) and `RateLimit-Reset`, in
//!    delta-seconds;
//! 3. vendor reset headers, each with its own name and format
//!    ([`ResetFormat`]); `X-RateLimit-Reset` in [`ResetFormat::Auto`] by default.
//!
//! Bad values are ignored, never fatal: a hint that cannot be read is absent.
//! Every wait is clamped to [`MAX_HINT`], so an absurd value cannot overflow
//! a deadline computation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::HeaderName;

/// The longest wait a hint can ask for; larger values are clamped to it.
pub const MAX_HINT: Duration = Duration::from_secs(7 * 24 * 3600);

const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// What one response said about timing and quota. All fields are optional:
/// most responses say nothing.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use conn_core::{HintParser, ServerHints};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("retry-after", "7".parse().unwrap());
/// headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
/// let hints = HintParser::default().parse(&headers, SystemTime::now());
/// assert_eq!(hints.wait(), Some(Duration::from_secs(7)));
/// assert_eq!(hints.remaining, Some(0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerHints {
    /// From `Retry-After`.
    pub retry_after: Option<Duration>,
    /// From the IETF `RateLimit` field's `t=` (or `reset=`), or `RateLimit-Reset`.
    pub ratelimit_reset: Option<Duration>,
    /// From the first configured vendor reset header that parsed.
    pub vendor_reset: Option<Duration>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// The window's request limit.
    pub limit: Option<u64>,
}

impl ServerHints {
    /// How long the server asked to wait: `Retry-After`, else the RateLimit
    /// reset, else the vendor reset.
    pub fn wait(&self) -> Option<Duration> {
        self.retry_after.or(self.ratelimit_reset).or(self.vendor_reset)
    }

    /// When the quota is known to be exhausted (`remaining == 0`), how long
    /// until it resets.
    pub fn exhausted_for(&self) -> Option<Duration> {
        if self.remaining == Some(0) {
            self.ratelimit_reset.or(self.vendor_reset)
        } else {
            None
        }
    }

    /// Whether the response said anything at all.
    pub fn is_empty(&self) -> bool {
        *self == ServerHints::default()
    }
}

/// The format of a vendor reset header's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetFormat {
    /// Seconds from now, possibly fractional: `30`, `1.5`.
    DeltaSeconds,
    /// Unix time in seconds: `1767225600`.
    EpochSeconds,
    /// Unix time in milliseconds: `1767225600000`.
    EpochMillis,
    /// An HTTP-date: `Wed, 21 Oct 2026 07:28:00 GMT`.
    HttpDate,
    /// An RFC 3339 timestamp: `2026-10-21T07:28:00Z`.
    Rfc3339,
    /// A Go-style duration: `6m0s`, `1h2m3.5s`, `250ms`.
    DurationString,
    /// Guess from the value: numbers above 10^12 are epoch milliseconds,
    /// above 10^9 epoch seconds, else delta seconds; text is tried as an
    /// HTTP-date, RFC 3339, then a duration string.
    Auto,
}

/// A vendor reset header: its name and the format of its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetHeader {
    /// The header name.
    pub name: HeaderName,
    /// How to read its value.
    pub format: ResetFormat,
}

/// Reads [`ServerHints`] from response headers; configured per connector
/// with the vendor reset headers that API uses.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use conn_core::{HintParser, ResetFormat};
///
/// let parser = HintParser::default()
///     .vendor_reset(http::HeaderName::from_static("x-rate-limit-reset-after"), ResetFormat::DurationString);
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-rate-limit-reset-after", "6m0s".parse().unwrap());
/// assert_eq!(parser.parse(&headers, SystemTime::now()).wait(), Some(Duration::from_secs(360)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintParser {
    vendor: Vec<ResetHeader>,
}

impl Default for HintParser {
    /// Reads `X-RateLimit-Reset` in [`ResetFormat::Auto`] besides the standard fields.
    fn default() -> Self {
        HintParser {
            vendor: vec![ResetHeader {
                name: X_RATELIMIT_RESET,
                format: ResetFormat::Auto,
            }],
        }
    }
}

impl HintParser {
    /// A parser that reads only `Retry-After` and the IETF RateLimit fields.
    pub fn standard_only() -> Self {
        HintParser { vendor: Vec::new() }
    }

    /// Adds (or re-declares) a vendor reset header; earlier ones win when
    /// several are present.
    pub fn vendor_reset(mut self, name: HeaderName, format: ResetFormat) -> Self {
        self.vendor.retain(|h| h.name != name);
        self.vendor.push(ResetHeader { name, format });
        self
    }

    /// Reads the hints of a response received at `now` (wall-clock time,
    /// needed for absolute dates).
    pub fn parse(&self, headers: &HeaderMap, now: SystemTime) -> ServerHints {
        self.read(headers, || now)
    }

    /// [`parse`](Self::parse), reading the wall clock only when a header
    /// needs it (a `Retry-After` or a vendor reset): most responses carry
    /// neither, and the pipeline reads the hints of every one.
    pub(crate) fn read(&self, headers: &HeaderMap, wall_clock: impl FnOnce() -> SystemTime) -> ServerHints {
        // One pass over the (few) response headers instead of a lookup per
        // known name: this runs on every response.
        let mut seen = Seen::default();
        // A value is read as text only once its name is one of ours: most
        // headers (content-type, date, ...) are none of them.
        for (name, value) in headers {
            let slot = match name.as_str() {
                "retry-after" => &mut seen.retry_after,
                "ratelimit" => &mut seen.ratelimit,
                "ratelimit-reset" => &mut seen.ratelimit_reset,
                "ratelimit-remaining" => &mut seen.ratelimit_remaining,
                "x-ratelimit-remaining" => &mut seen.x_ratelimit_remaining,
                "ratelimit-limit" => &mut seen.ratelimit_limit,
                "x-ratelimit-limit" => &mut seen.x_ratelimit_limit,
                _ => {
                    if let Some(index) = self.vendor.iter().position(|h| h.name == name)
                        && let Ok(value) = value.to_str()
                    {
                        seen.vendor.get_or_insert_with(|| vec![None; self.vendor.len()])[index]
                            .get_or_insert(value.trim());
                    }
                    continue;
                }
            };
            let Ok(value) = value.to_str() else { continue };
            // The first value of a repeated header wins, as `HeaderMap::get` does.
            slot.get_or_insert(value.trim());
        }

        let now = (seen.retry_after.is_some() || seen.vendor.is_some()).then(wall_clock);
        let mut hints = ServerHints {
            retry_after: seen.retry_after.zip(now).and_then(|(v, now)| retry_after(v, now)),
            ..ServerHints::default()
        };
        if let Some(field) = seen.ratelimit {
            let item = ratelimit_field(field);
            hints.remaining = item.remaining;
            hints.ratelimit_reset = item.reset;
            hints.limit = item.limit;
        }
        hints.ratelimit_reset = hints
            .ratelimit_reset
            .or_else(|| seen.ratelimit_reset.and_then(delta_seconds));
        hints.remaining = hints
            .remaining
            .or_else(|| seen.ratelimit_remaining.and_then(leading_integer))
            .or_else(|| seen.x_ratelimit_remaining.and_then(leading_integer));
        hints.limit = hints
            .limit
            .or_else(|| seen.ratelimit_limit.and_then(leading_integer))
            .or_else(|| seen.x_ratelimit_limit.and_then(leading_integer));
        if let (Some(values), Some(now)) = (seen.vendor, now) {
            hints.vendor_reset = self
                .vendor
                .iter()
                .zip(values)
                .find_map(|(header, value)| value.and_then(|v| reset_value(v, header.format, now)));
        }
        hints
    }
}

/// The hint headers a response carried, first values only.
#[derive(Default)]
struct Seen<'a> {
    retry_after: Option<&'a str>,
    ratelimit: Option<&'a str>,
    ratelimit_reset: Option<&'a str>,
    ratelimit_remaining: Option<&'a str>,
    x_ratelimit_remaining: Option<&'a str>,
    ratelimit_limit: Option<&'a str>,
    x_ratelimit_limit: Option<&'a str>,
    /// Values of the configured vendor headers, by position in the parser's list.
    vendor: Option<Vec<Option<&'a str>>>,
}

/// The leading integer of a value such as `100` or `100, 100;w=60`.
fn leading_integer(value: &str) -> Option<u64> {
    let end = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    value[..end].parse().ok()
}

fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    delta_seconds(value).or_else(|| http_date(value, now))
}

/// Non-negative seconds, fractions allowed; clamped to [`MAX_HINT`].
fn delta_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let seconds: f64 = value.parse().ok()?;
    clamp_seconds(seconds)
}

fn clamp_seconds(seconds: f64) -> Option<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(MAX_HINT)
            .min(MAX_HINT),
    )
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_HINT)
}

fn http_date(value: &str, now: SystemTime) -> Option<Duration> {
    httpdate::parse_http_date(value).ok().map(|at| until(at, now))
}

fn rfc3339(value: &str, now: SystemTime) -> Option<Duration> {
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = at.unix_timestamp_nanos();
    if nanos < 0 {
        return Some(Duration::ZERO);
    }
    let since_epoch = Duration::from_nanos(u64::try_from(nanos).ok()?);
    Some(until(UNIX_EPOCH.checked_add(since_epoch)?, now))
}

fn epoch(value: &str, unit_per_second: f64, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let count: f64 = value.parse().ok()?;
    let since_epoch = Duration::try_from_secs_f64(count / unit_per_second).ok()?;
    Some(match UNIX_EPOCH.checked_add(since_epoch) {
        Some(at) => until(at, now),
        None => MAX_HINT,
    })
}

fn reset_value(value: &str, format: ResetFormat, now: SystemTime) -> Option<Duration> {
    match format {
        ResetFormat::DeltaSeconds => delta_seconds(value),
        ResetFormat::EpochSeconds => epoch(value, 1.0, now),
        ResetFormat::EpochMillis => epoch(value, 1000.0, now),
        ResetFormat::HttpDate => http_date(value, now),
        ResetFormat::Rfc3339 => rfc3339(value, now),
        ResetFormat::DurationString => duration_string(value),
        ResetFormat::Auto => {
            if let Ok(number) = value.parse::<f64>() {
                return if number > 1e12 {
                    epoch(value, 1000.0, now)
                } else if number > 1e9 {
                    epoch(value, 1.0, now)
                } else {
                    delta_seconds(value)
                };
            }
            http_date(value, now)
                .or_else(|| rfc3339(value, now))
                .or_else(|| duration_string(value))
        }
    }
}

/// Go-style durations: one or more `<number><unit>` with units h, m, s, ms,
/// us (or µs) and ns.
fn duration_string(value: &str) -> Option<Duration> {
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    clamp_seconds(total)
}

/// One policy's values from the `RateLimit` field.
#[derive(Default)]
struct RateLimitItem {
    remaining: Option<u64>,
    reset: Option<Duration>,
    limit: Option<u64>,
}

/// Reads `RateLimit`, in the structured form (`"default";r=50;t=30`, one
/// item per policy) or the older dictionary form (`limit=100, remaining=50,
/// reset=30`). With several policies, the most constrained (lowest
/// remaining) one counts.
fn ratelimit_field(value: &str) -> RateLimitItem {
    let mut items: Vec<RateLimitItem> = Vec::new();
    let mut dictionary = RateLimitItem::default();
    let mut dictionary_form = true;
    for raw_item in value.split(',') {
        let mut item = RateLimitItem::default();
        let mut fields = 0;
        for param in raw_item.split(';') {
            let Some((key, val)) = param.split_once('=') else {
                continue;
            };
            let val = val.trim().trim_matches('"');
            match key.trim() {
                "r" | "remaining" => item.remaining = val.parse().ok(),
                "t" | "reset" => item.reset = delta_seconds(val),
                "l" | "limit" | "q" => item.limit = val.parse().ok(),
                _ => continue,
            }
            fields += 1;
        }
        if fields > 1 {
            dictionary_form = false;
        }
        dictionary.remaining = dictionary.remaining.or(item.remaining);
        dictionary.reset = dictionary.reset.or(item.reset);
        dictionary.limit = dictionary.limit.or(item.limit);
        items.push(item);
    }
    if dictionary_form {
        return dictionary;
    }
    items
        .into_iter()
        .min_by_key(|i| i.remaining.unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_767_225_600) // 2026-01-01T00:00:00Z
    }

    fn parse(pairs: &[(&str, &str)]) -> ServerHints {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        HintParser::default().parse(&headers, now())
    }

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(
            parse(&[("retry-after", "7")]).retry_after,
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse(&[("retry-after", "Thu, 01 Jan 2026 00:01:30 GMT")]).retry_after,
            Some(Duration::from_secs(90))
        );
        // A date in the past means "now".
        assert_eq!(
            parse(&[("retry-after", "Wed, 31 Dec 2025 23:00:00 GMT")]).retry_after,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_ignored() {
        for bad in [
            "-5",
            "soon",
            "",
            "1e3",
            "NaN",
            "inf",
            "Fri, 99 Foo 2026 00:00:00 GMT",
            "7 seconds",
            "0x10",
        ] {
            assert_eq!(parse(&[("retry-after", bad)]).retry_after, None, "{bad:?}");
        }
    }

    #[test]
    fn huge_values_are_clamped() {
        assert_eq!(
            parse(&[("retry-after", "99999999999999999999999")]).retry_after,
            Some(MAX_HINT)
        );
        assert_eq!(
            parse(&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]).retry_after,
            Some(MAX_HINT)
        );
        assert_eq!(
            parse(&[("x-ratelimit-reset", "99999999999999999999")]).vendor_reset,
            Some(MAX_HINT)
        );
    }

    #[test]
    fn ietf_ratelimit_fields() {
        let hints = parse(&[("ratelimit", r#""default";r=0;t=30"#)]);
        assert_eq!(
            (hints.remaining, hints.ratelimit_reset),
            (Some(0), Some(Duration::from_secs(30)))
        );
        let hints = parse(&[("ratelimit", r#""burst";r=5;t=1, "daily";r=0;t=3600"#)]);
        assert_eq!(
            (hints.remaining, hints.ratelimit_reset),
            (Some(0), Some(Duration::from_secs(3600)))
        );
        let hints = parse(&[("ratelimit", "limit=100, remaining=50, reset=30")]);
        assert_eq!(
            (hints.limit, hints.remaining, hints.ratelimit_reset),
            (Some(100), Some(50), Some(Duration::from_secs(30)))
        );
        let hints = parse(&[
            ("ratelimit-remaining", "3"),
            ("ratelimit-reset", "12"),
            ("ratelimit-limit", "10, 10;w=1"),
        ]);
        assert_eq!(
            (hints.limit, hints.remaining, hints.ratelimit_reset),
            (Some(10), Some(3), Some(Duration::from_secs(12)))
        );
    }

    #[test]
    fn precedence_is_retry_after_then_ratelimit_then_vendor() {
        let all = parse(&[
            ("retry-after", "1"),
            ("ratelimit", "r=0;t=2"),
            ("x-ratelimit-reset", "3"),
        ]);
        assert_eq!(all.wait(), Some(Duration::from_secs(1)));
        let no_retry_after = parse(&[("ratelimit", "r=0;t=2"), ("x-ratelimit-reset", "3")]);
        assert_eq!(no_retry_after.wait(), Some(Duration::from_secs(2)));
        let vendor_only = parse(&[("x-ratelimit-reset", "3")]);
        assert_eq!(vendor_only.wait(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn vendor_formats() {
        let now = now();
        let cases = [
            (ResetFormat::DeltaSeconds, "45", 45_000),
            (ResetFormat::DeltaSeconds, "1.5", 1_500),
            (ResetFormat::EpochSeconds, "1767225660", 60_000),
            (ResetFormat::EpochMillis, "1767225600250", 250),
            (ResetFormat::HttpDate, "Thu, 01 Jan 2026 00:02:00 GMT", 120_000),
            (ResetFormat::Rfc3339, "2026-01-01T00:00:10Z", 10_000),
            (ResetFormat::Rfc3339, "2026-01-01T01:00:10+01:00", 10_000),
            (ResetFormat::DurationString, "6m0s", 360_000),
            (ResetFormat::DurationString, "1h2m3.5s", 3_723_500),
            (ResetFormat::DurationString, "250ms", 250),
            (ResetFormat::Auto, "1767225660", 60_000),
            (ResetFormat::Auto, "1767225600250", 250),
            (ResetFormat::Auto, "30", 30_000),
            (ResetFormat::Auto, "2026-01-01T00:00:10Z", 10_000),
            (ResetFormat::Auto, "2m", 120_000),
        ];
        for (format, value, millis) in cases {
            assert_eq!(
                reset_value(value, format, now),
                Some(Duration::from_millis(millis)),
                "{format:?} {value:?}"
            );
        }
        for (format, value) in [
            (ResetFormat::DurationString, "6x"),
            (ResetFormat::DurationString, "m"),
            (ResetFormat::EpochSeconds, "-1"),
            (ResetFormat::Rfc3339, "yesterday"),
            (ResetFormat::Auto, "later"),
        ] {
            assert_eq!(reset_value(value, format, now), None, "{format:?} {value:?}");
        }
    }

    #[test]
    fn vendor_headers_are_configurable() {
        let parser = HintParser::standard_only().vendor_reset(
            HeaderName::from_static("x-rate-limit-reset"),
            ResetFormat::EpochMillis,
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-reset", "1767225605000".parse().unwrap());
        headers.insert("x-ratelimit-reset", "999".parse().unwrap());
        assert_eq!(
            parser.parse(&headers, now()).vendor_reset,
            Some(Duration::from_secs(5))
        );
    }

    proptest! {
        #[test]
        fn no_header_value_panics(value in "\\PC{0,40}") {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                for name in ["retry-after", "ratelimit", "ratelimit-reset", "x-ratelimit-reset", "ratelimit-limit"] {
                    headers.insert(HeaderName::from_static(name), value.clone());
                }
                let hints = HintParser::default().parse(&headers, now());
                for wait in [hints.retry_after, hints.ratelimit_reset, hints.vendor_reset].into_iter().flatten() {
                    prop_assert!(wait <= MAX_HINT);
                }
            }
        }

        #[test]
        fn every_format_survives_any_text(value in "\\PC{0,30}") {
            for format in [ResetFormat::DeltaSeconds, ResetFormat::EpochSeconds, ResetFormat::EpochMillis,
                ResetFormat::HttpDate, ResetFormat::Rfc3339, ResetFormat::DurationString, ResetFormat::Auto] {
                if let Some(wait) = reset_value(&value, format, now()) {
                    prop_assert!(wait <= MAX_HINT);
                }
            }
        }
    }
}
