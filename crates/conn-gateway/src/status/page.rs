//! The status page as HTML: every number rendered here, on the server, so
//! the page is readable without JavaScript; the shell (page.html) carries
//! the styles and the small script that refreshes the cards. Nothing is
//! loaded from anywhere else.

use std::fmt::Write as _;

use super::data::{Card, Circuit, Point, Status, TokenState, human, percent};

const SHELL: &str = include_str!("page.html");

/// The whole page for `status`.
pub(crate) fn render(status: &Status) -> String {
    SHELL
        .replacen("<!--HEADER-->", &header(status), 1)
        .replacen("<!--CARDS-->", &cards(status), 1)
}

fn header(status: &Status) -> String {
    let total = status.connectors.len();
    let unwell: Vec<&Card> = status.connectors.iter().filter(|c| c.health != "ok").collect();
    let (class, text) = if total == 0 {
        ("ok", "No connectors to show for this key.".to_owned())
    } else if unwell.is_empty() {
        ("ok", format!("All {total} connectors healthy."))
    } else {
        let worst = if unwell.iter().any(|c| c.health == "sick") {
            "sick"
        } else {
            "warn"
        };
        let names: Vec<String> = unwell
            .iter()
            .map(|c| format!("<strong>{}</strong> ({})", escape(&c.name), c.health))
            .collect();
        (
            worst,
            format!(
                "{} of {total} connectors need attention: {}",
                unwell.len(),
                names.join(", ")
            ),
        )
    };
    let mut meta = format!(
        "Last {} min, in {} s buckets · ",
        status.window_s / 60,
        status.bucket_s
    );
    let _ = write!(
        meta,
        "token requests {} ok, {} failed",
        status.tokens.refreshes_ok, status.tokens.refreshes_failed
    );
    if status.gateway_shed > 0 {
        let _ = write!(meta, " · gateway shed {} requests", status.gateway_shed);
    }
    if !status.metrics {
        meta.push_str(" · no metrics recorder: only breaker, throttle and token state are known");
    }
    let _ = write!(
        meta,
        " · <span data-generated=\"{}\">rendered at {} UTC</span>",
        status.generated_at_ms,
        clock(status.generated_at_ms)
    );
    format!(
        "<div id=\"summary\"><p class=\"summary {class}\" data-health=\"{class}\">{text}</p></div>\n\
         <p class=\"meta\" id=\"meta\">{meta}</p>"
    )
}

fn cards(status: &Status) -> String {
    let mut out = String::new();
    for card in &status.connectors {
        out.push_str(&render_card(card, status.admin, status.bucket_s));
    }
    out
}

fn render_card(card: &Card, admin: bool, bucket_s: u64) -> String {
    let name = escape(&card.name);
    let mut out = format!(
        "<section class=\"card {health}\" id=\"card-{id}\" data-connector=\"{name}\" data-health=\"{health}\">\n\
         <h2>{name} <span class=\"badge\">{badge}</span></h2>\n",
        health = card.health,
        id = escape(&slug(&card.name)),
        badge = card.health.to_uppercase(),
    );
    if !card.why.is_empty() {
        out.push_str("<ul class=\"why\">");
        for why in &card.why {
            let _ = write!(out, "<li>{}</li>", escape(why));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<dl class=\"numbers\">");
    let numbers: [(&str, &str, String); 9] = [
        (
            "success",
            "Success",
            card.success_rate.map(percent).unwrap_or_else(dash),
        ),
        ("calls", "Calls", card.calls.to_string()),
        ("errors", "Failed", card.errors.to_string()),
        ("p50", "p50", card.p50_ms.map(ms).unwrap_or_else(dash)),
        ("p99", "p99", card.p99_ms.map(ms).unwrap_or_else(dash)),
        ("retries", "Retries/min", format!("{:.1}", card.retries_per_min)),
        ("in-flight", "In flight", card.in_flight.to_string()),
        (
            "wait",
            "Throttle wait p95",
            if card.throttle.configured {
                card.throttle.wait_p95_ms.map(ms).unwrap_or_else(dash)
            } else {
                "none".to_owned()
            },
        ),
        ("rejected", "Throttled", card.throttle.rejections.to_string()),
    ];
    for (key, label, value) in numbers {
        let _ = write!(
            out,
            "<div><dt>{label}</dt><dd data-k=\"{key}\">{value}</dd></div>"
        );
    }
    out.push_str("</dl>\n");
    out.push_str(&chart(&card.series, bucket_s));
    let mut extra = Vec::new();
    if card.degraded > 0 {
        extra.push(format!(
            "<span data-k=\"degraded\">{}</span> calls degraded",
            card.degraded
        ));
    }
    if card.retry_budget_refused > 0 {
        extra.push(format!("retry budget refused {}", card.retry_budget_refused));
    }
    if let Some(ms) = card.throttle.paused_for_ms {
        extra.push(format!("throttle paused by the server for {}", human(ms)));
    }
    if !card.failures.is_empty() {
        let failures: Vec<String> = card
            .failures
            .iter()
            .map(|(outcome, n)| format!("{} {n}", escape(outcome)))
            .collect();
        extra.push(format!("failures: {}", failures.join(", ")));
    }
    if !extra.is_empty() {
        let _ = writeln!(out, "<p class=\"tokens\">{}</p>", extra.join(" · "));
    }
    out.push_str(&tokens(&card.tokens));
    out.push_str(&breaker(&card.name, &card.breaker, admin));
    out.push_str("</section>\n");
    out
}

/// Bars of calls per bucket (the failed part in red) and the p99 latency
/// as a line, each scaled to its own maximum.
fn chart(series: &[Point], bucket_s: u64) -> String {
    const W: f64 = 300.0;
    const H: f64 = 60.0;
    let slots = series.len().max(30) as f64;
    let width = W / slots;
    let top = series.iter().map(|p| p.calls).max().unwrap_or(0).max(1) as f64;
    let slowest = series.iter().filter_map(|p| p.p99_ms).fold(0.0f64, f64::max);
    let offset = slots - series.len() as f64;
    let mut bars = String::new();
    let mut line = Vec::new();
    let mut data = Vec::new();
    for (i, point) in series.iter().enumerate() {
        let x = (offset + i as f64) * width;
        let height = point.calls as f64 / top * H;
        let failed = point.errors.min(point.calls) as f64 / top * H;
        if point.calls > 0 {
            let _ = write!(
                bars,
                "<rect class=\"calls\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\"/>",
                H - height,
                (width - 1.0).max(0.5)
            );
        }
        if point.errors > 0 {
            let _ = write!(
                bars,
                "<rect class=\"errors\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{failed:.1}\"/>",
                H - failed,
                (width - 1.0).max(0.5)
            );
        }
        if let Some(p99) = point.p99_ms.filter(|_| slowest > 0.0) {
            line.push(format!(
                "{:.1},{:.1}",
                x + width / 2.0,
                H - p99 / slowest * (H - 4.0) - 2.0
            ));
        }
        data.push(format!("{}:{}", point.calls, point.errors));
    }
    let path = if line.len() > 1 {
        format!("<polyline class=\"p99\" points=\"{}\"/>", line.join(" "))
    } else {
        String::new()
    };
    let calls: u64 = series.iter().map(|p| p.calls).sum();
    format!(
        "<figure><svg class=\"chart\" viewBox=\"0 0 {W} {H}\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"{calls} calls in the last {} minutes\" data-points=\"{}\">{bars}{path}</svg>\
         <figcaption>Calls per {bucket_s} s: <span class=\"legend-calls\">■ all</span> \
         <span class=\"legend-errors\">■ failed</span> <span class=\"legend-p99\">— p99</span> \
         (max {:.0} per bucket{})</figcaption></figure>\n",
        (slots as u64 * bucket_s) / 60,
        data.join(" "),
        top,
        if slowest > 0.0 {
            format!(", p99 up to {}", ms(slowest))
        } else {
            String::new()
        },
    )
}

fn tokens(tokens: &[TokenState]) -> String {
    if tokens.is_empty() {
        return String::new();
    }
    let mut parts = Vec::new();
    for token in tokens {
        let tenant = token
            .tenant
            .as_deref()
            .map(|t| format!("{}: ", escape(t)))
            .unwrap_or_default();
        let left = match token.expires_in_s {
            Some(0) => "expired".to_owned(),
            Some(s) => format!(
                "expires in <span data-k=\"token-expiry\">{}</span>",
                human(s * 1000)
            ),
            None => "none held".to_owned(),
        };
        let flags = match (token.refreshing, token.failing) {
            (_, true) => ", renewal failing",
            (true, false) => ", renewing",
            _ => "",
        };
        parts.push(format!("{tenant}{left}{flags}"));
    }
    format!("<p class=\"tokens\">Token {}</p>\n", parts.join("; "))
}

fn breaker(connector: &str, circuits: &[Circuit], admin: bool) -> String {
    if circuits.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<table class=\"breaker\"><tr><th>Circuit</th><th>State</th><th>Next probe</th><th>Fails</th>",
    );
    if admin {
        out.push_str("<th>Admin</th>");
    }
    out.push_str("</tr>");
    for circuit in circuits {
        let probe = circuit.next_probe_in_ms.map(human).unwrap_or_else(dash);
        let _ = write!(
            out,
            "<tr data-key=\"{key}\" data-state=\"{state}\"><td>{key}</td><td class=\"state {state}\" title=\"{reason}\">{label}<br><small>for {since}</small></td><td>{probe}</td><td>{fails}</td>",
            key = escape(&circuit.key),
            state = circuit.state,
            label = circuit.state.replace('_', " "),
            reason = escape(circuit.reason.as_deref().unwrap_or("")),
            since = human(circuit.since_s * 1000),
            fails = circuit.consecutive_failures,
        );
        if admin {
            out.push_str("<td class=\"admin\">");
            for (action, label) in [
                ("open", "Force open"),
                ("close", "Force close"),
                ("reset", "Reset"),
            ] {
                let _ = write!(
                    out,
                    "<form method=\"post\" action=\"/status/breaker?connector={}&amp;key={}&amp;action={action}\"><button type=\"submit\">{label}</button></form>",
                    escape(&encode(connector)),
                    escape(&encode(&circuit.key)),
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
    out
}

fn dash() -> String {
    "—".to_owned()
}

fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1000.0)
    } else if value >= 10.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// `HH:MM:SS` of a Unix time in milliseconds.
fn clock(unix_ms: u64) -> String {
    let s = unix_ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// HTML text and attribute escaping.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encoding of a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_queries_encoded() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(encode("orders:/v1 x"), "orders%3A%2Fv1%20x");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(4_200), "4.2 s");
        assert_eq!(human(48_000), "48 s");
        assert_eq!(human(720_000), "12 min");
        assert_eq!(human(7_500_000), "2 h 5 min");
        assert_eq!(ms(0.24), "0.2 ms");
        assert_eq!(ms(87.0), "87 ms");
        assert_eq!(ms(1500.0), "1.50 s");
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
