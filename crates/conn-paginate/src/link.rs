//! The RFC 8288 `Link` header: finding the target of a relation.
//!
//! Written here rather than taken from a crate: the one maintained parser,
//! `parse_link_header`, strips every quote and space before splitting on
//! commas, so a URI or a quoted parameter containing a comma, or a
//! multi-valued `rel="next last"`, comes out wrong, and it brings `regex`.
//! What pagination needs is small: the target of the first link whose `rel`
//! contains a relation, from any number of `Link` header lines.

use http::HeaderMap;
use http::header::LINK;

/// The target of the first link whose `rel` includes `relation`
/// (case-insensitive), across every `Link` header; `None` if there is none
/// or the header is malformed.
pub(crate) fn find_rel(headers: &HeaderMap, relation: &str) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            parse(value)
                .find(|link| link.has_rel(relation))
                .map(|link| link.target)
        })
}

struct Link {
    target: String,
    rels: Vec<String>,
}

impl Link {
    fn has_rel(&self, relation: &str) -> bool {
        self.rels.iter().any(|rel| rel.eq_ignore_ascii_case(relation))
    }
}

/// The links of one header value; stops at the first malformed link.
fn parse(value: &str) -> impl Iterator<Item = Link> + '_ {
    let mut rest = value;
    std::iter::from_fn(move || {
        let (link, after) = parse_link(rest)?;
        rest = after;
        Some(link)
    })
}

/// One `<target>; param=value; ...` and what follows its separating comma.
fn parse_link(input: &str) -> Option<(Link, &str)> {
    let input = input.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
    let input = input.strip_prefix('<')?;
    let end = input.find('>')?;
    let target = input[..end].trim().to_owned();
    let mut rest = &input[end + 1..];
    let mut rels = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
            break;
        }
        rest = rest.strip_prefix(';')?.trim_start();
        let name_end = rest
            .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let value = match rest.strip_prefix('=') {
            Some(after) => {
                let (value, after) = parse_value(after.trim_start())?;
                rest = after;
                value
            }
            None => String::new(),
        };
        // Only the first rel counts (RFC 8288, section 3.3).
        if name.eq_ignore_ascii_case("rel") && rels.is_empty() {
            rels = value.split_ascii_whitespace().map(str::to_owned).collect();
        }
    }
    Some((Link { target, rels }, rest))
}

/// A token or a quoted string (with backslash escapes).
fn parse_value(input: &str) -> Option<(String, &str)> {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => return Some((value, &quoted[i + 1..])),
                c => value.push(c),
            }
        }
        None
    } else {
        let end = input
            .find(|c: char| c == ';' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(input.len());
        Some((input[..end].to_owned(), &input[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(LINK, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn finds_next_among_several_links_and_lines() {
        let map = headers(&[
            r#"<https://api.example.com/items?page=1>; rel="first""#,
            r#"<https://api.example.com/items?page=3&a=b,c>; title="x, y; z"; rel="next last", <https://api.example.com/items?page=9>; rel=prev"#,
        ]);
        assert_eq!(
            find_rel(&map, "next").as_deref(),
            Some("https://api.example.com/items?page=3&a=b,c")
        );
        assert_eq!(
            find_rel(&map, "prev").as_deref(),
            Some("https://api.example.com/items?page=9")
        );
        assert_eq!(
            find_rel(&map, "NEXT").as_deref(),
            find_rel(&map, "next").as_deref()
        );
    }

    #[test]
    fn malformed_or_missing_is_none() {
        assert_eq!(find_rel(&headers(&[]), "next"), None);
        assert_eq!(find_rel(&headers(&[r#"https://x; rel="next""#]), "next"), None);
        assert_eq!(find_rel(&headers(&[r#"<https://x; rel="next""#]), "next"), None);
        assert_eq!(find_rel(&headers(&[r#"<https://x>; rel="next"#]), "next"), None);
        assert_eq!(find_rel(&headers(&[r#"<https://x>; rel="prev""#]), "next"), None);
        // Only the first rel parameter counts.
        assert_eq!(
            find_rel(&headers(&[r#"<https://x>; rel=prev; rel=next"#]), "next"),
            None
        );
    }
}
