//! Reads the Prometheus text the gateway's recorder renders back into
//! samples, so the status page counts exactly what `GET /metrics`, the
//! alert rules and the dashboard count.

/// One sample line: `name{label="value",...} value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample in `text`; comments and lines that do not parse are skipped
/// (the text comes from our own recorder, but nothing here may panic).
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let (labels, rest) = if line[name_end..].starts_with('{') {
        let (labels, consumed) = parse_labels(&line[name_end + 1..])?;
        (labels, &line[name_end + 1 + consumed..])
    } else {
        (Vec::new(), &line[name_end..])
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { name, labels, value })
}

/// Labels up to the closing brace; returns them and the bytes consumed
/// (the brace included).
fn parse_labels(text: &str) -> Option<(Vec<(String, String)>, usize)> {
    let mut labels = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| *c == ',' || *c == ' ').is_some() {}
        let (start, first) = chars.next()?;
        if first == '}' {
            return Some((labels, start + 1));
        }
        let mut name = String::from(first);
        loop {
            let (_, c) = chars.next()?;
            if c == '=' {
                break;
            }
            name.push(c);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        labels.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_labels_escapes_and_without() {
        let text = "# TYPE conn_requests_total counter\n\
                    conn_requests_total{connector=\"orders\",outcome=\"success\"} 3\n\
                    conn_in_flight{connector=\"a \\\"b\\\"\"} -1\n\
                    conn_gateway_shed_total 7\n\
                    conn_x{quantile=\"0.99\"} +Inf\n\
                    broken{a=\"b\" 1\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].name, "conn_requests_total");
        assert_eq!(samples[0].label("outcome"), Some("success"));
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(samples[1].label("connector"), Some("a \"b\""));
        assert_eq!(samples[1].value, -1.0);
        assert_eq!(samples[2].labels, Vec::new());
        assert_eq!(samples[2].value, 7.0);
        assert!(samples[3].value.is_infinite());
    }

    #[test]
    fn garbage_is_skipped_not_a_panic() {
        for text in [
            "{",
            "x{",
            "x{a",
            "x{a=",
            "x{a=\"",
            "x{a=\"\\",
            "x{a=\"b\"}",
            "x 1e",
            "é{é=\"é\"} 1",
        ] {
            let _ = parse(text);
        }
        assert_eq!(parse("é{é=\"é\"} 1")[0].label("é"), Some("é"));
    }
}
