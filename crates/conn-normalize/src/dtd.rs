//! The entity-expansion budget of an XML document whose DTD is allowed,
//! computed before it is parsed.
//!
//! roxmltree expands internal entities and guards against loops and the
//! classic "billion laughs" (at most 10 nested levels, 255 references inside
//! one expansion), but it allows any number of references at the top level:
//! one 100 KiB entity referenced 100,000 times expands to 10 GB. So before
//! parsing, every internal entity's fully expanded size is computed from its
//! declaration, every reference in the document is added up, and a total over
//! the budget refuses the document.
//!
//! The scan over-approximates on purpose: every `<!ENTITY` anywhere counts (in
//! a comment too), a name declared twice counts at its larger size, and every
//! `&name;` outside the declarations counts (in CDATA and comments too). An
//! external entity (`SYSTEM` / `PUBLIC`) refuses the document: conn never
//! fetches one, and roxmltree is given no resolver either.

use std::collections::HashMap;

use conn_core::Format;

use crate::problem::{DecodeError, DecodeProblem};

/// Deeper entity nesting than roxmltree allows (10) is refused here already,
/// which also bounds this module's recursion.
const MAX_NESTING: usize = 12;

/// One `<!ENTITY name "value">` declaration.
struct Declaration<'t> {
    name: &'t str,
    value: &'t str,
}

/// Checks that all entity references of `text` expand to at most `budget` bytes.
pub(crate) fn check(text: &str, budget: usize) -> Result<(), DecodeError> {
    if !text.contains("<!ENTITY") {
        return Ok(());
    }
    let (declarations, spans) = declarations(text)?;
    let mut sizes = Sizes {
        declarations: declarations.iter().fold(HashMap::new(), |mut map, d| {
            map.entry(d.name).or_insert_with(Vec::new).push(d.value);
            map
        }),
        memo: HashMap::new(),
    };
    let mut total = 0usize;
    let mut from = 0;
    for &(start, end) in spans.iter().chain(std::iter::once(&(text.len(), text.len()))) {
        for name in references(&text[from..start]) {
            total = total.saturating_add(sizes.of(name, 0)?);
            if total > budget {
                return Err(over_budget(budget));
            }
        }
        from = end;
    }
    Ok(())
}

fn over_budget(budget: usize) -> DecodeError {
    DecodeError::new(DecodeProblem::EntityExpansion, Some(Format::Xml)).detail(format!(
        "entity references would expand to more than {budget} bytes"
    ))
}

/// Every entity declaration, and the byte spans of their values (in order).
#[allow(clippy::type_complexity)]
fn declarations(text: &str) -> Result<(Vec<Declaration<'_>>, Vec<(usize, usize)>), DecodeError> {
    let mut found = Vec::new();
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(pos) = text[at..].find("<!ENTITY") {
        let start = at + pos;
        at = start + "<!ENTITY".len();
        let rest = text[at..].trim_start();
        let rest = rest.strip_prefix('%').map_or(rest, str::trim_start);
        let name_len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let (name, rest) = rest.split_at(name_len);
        let rest = rest.trim_start();
        if rest.starts_with("SYSTEM") || rest.starts_with("PUBLIC") {
            return Err(DecodeError::new(DecodeProblem::DtdRefused, Some(Format::Xml))
                .offset(start)
                .detail("the DTD declares an external entity, and conn never fetches one"));
        }
        let Some(quote) = rest.chars().next().filter(|&c| c == '"' || c == '\'') else {
            continue; // malformed: roxmltree refuses it
        };
        let value_start = text.len() - rest.len() + 1;
        let Some(value_len) = text[value_start..].find(quote) else {
            continue; // unterminated: roxmltree refuses it
        };
        let value_end = value_start + value_len;
        found.push(Declaration {
            name,
            value: &text[value_start..value_end],
        });
        spans.push((value_start, value_end));
        at = value_end;
    }
    Ok((found, spans))
}

/// The names of the general entity references in `text`, character references
/// excluded.
fn references(text: &str) -> impl Iterator<Item = &str> {
    text.split('&').skip(1).filter_map(|after| {
        let end = after.find(';')?;
        let name = &after[..end];
        let plausible = !name.is_empty()
            && !name.starts_with('#')
            && !name.contains(|c: char| c.is_whitespace() || c == '<' || c == '&');
        plausible.then_some(name)
    })
}

/// Expanded sizes of entities, memoised.
struct Sizes<'t> {
    declarations: HashMap<&'t str, Vec<&'t str>>,
    memo: HashMap<&'t str, usize>,
}

impl<'t> Sizes<'t> {
    /// The expanded size of a reference to `name` (an undeclared name is
    /// either predefined, one character, or an error roxmltree reports).
    fn of(&mut self, name: &'t str, depth: usize) -> Result<usize, DecodeError> {
        if let Some(&size) = self.memo.get(name) {
            return Ok(size);
        }
        let Some(values) = self.declarations.get(name).cloned() else {
            return Ok(1);
        };
        if depth >= MAX_NESTING {
            // Also what a reference loop (`a` -> `b` -> `a`) comes to.
            return Err(
                DecodeError::new(DecodeProblem::EntityExpansion, Some(Format::Xml))
                    .detail("entities nest too deep or refer to each other in a loop"),
            );
        }
        let mut largest = 0usize;
        for value in values {
            let mut size = value.len();
            for inner in references(value) {
                size = size.saturating_add(self.of(inner, depth + 1)?);
            }
            largest = largest.max(size);
        }
        self.memo.insert(name, largest);
        Ok(largest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_without_entities_pass() {
        assert!(check("<a>&amp;&#233;</a>", 10).is_ok());
    }

    #[test]
    fn budget_counts_every_reference() {
        let doc = format!(
            "<!DOCTYPE a [<!ENTITY big \"{}\">]><a>{}</a>",
            "x".repeat(1000),
            "&big;".repeat(20)
        );
        assert!(check(&doc, 20_000 + 100).is_ok());
        let err = check(&doc, 19_000).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::EntityExpansion);
    }

    #[test]
    fn nested_entities_multiply() {
        let mut dtd = String::from("<!ENTITY l0 \"lol\">");
        for i in 1..10 {
            let refs = format!("&l{};", i - 1).repeat(10);
            dtd.push_str(&format!("<!ENTITY l{i} \"{refs}\">"));
        }
        let doc = format!("<!DOCTYPE a [{dtd}]><a>&l9;</a>");
        let err = check(&doc, 1 << 20).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::EntityExpansion);
    }

    #[test]
    fn loops_are_refused() {
        let doc = "<!DOCTYPE a [<!ENTITY x \"&y;\"><!ENTITY y \"&x;\">]><a>&x;</a>";
        assert_eq!(
            check(doc, 1 << 20).unwrap_err().problem(),
            DecodeProblem::EntityExpansion
        );
    }

    #[test]
    fn external_entities_are_refused() {
        let doc = "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>";
        assert_eq!(
            check(doc, 1 << 20).unwrap_err().problem(),
            DecodeProblem::DtdRefused
        );
    }
}
