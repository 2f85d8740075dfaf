//! XML in: roxmltree, then a walk that maps the tree onto a [`Value`].
//!
//! The rules (docs/normalize.md has them with examples):
//!
//! - the document is `{ root-name: root-value }` (or just `root-value` with
//!   `unwrap_root`);
//! - an element with neither attributes nor child elements is its text, as a
//!   string (`""` when empty); numbers and booleans stay strings;
//! - otherwise it is an object: each attribute as `@name` (the prefix is
//!   configurable), each child element under its name, and its text under
//!   `#text`: the exact text when there are no child elements, otherwise the
//!   trimmed non-blank segments (one string, or an array of them in order);
//! - a child name that repeats becomes an array in document order; a
//!   force-array path is an array even with one item (and `[]` with none,
//!   for absolute paths);
//! - `xsi:nil="true"` on an element without content is `null`;
//! - names keep the prefix the document wrote for their namespace
//!   (`soap:Envelope`), an element in a default namespace has no prefix, and a
//!   configured namespace URI is written with the configured prefix (or none);
//!   `xmlns` declarations themselves are dropped;
//! - CDATA is text, entities and character references are resolved; comments
//!   and processing instructions are dropped.

use std::borrow::Cow;

use conn_core::Format;
use roxmltree::{Document, Node, ParsingOptions};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::dtd;
use crate::limits::Limits;
use crate::problem::{DecodeError, DecodeProblem};
use crate::scrub;

/// The XML Schema instance namespace, home of `xsi:nil`.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// How XML maps onto a value: the configurable parts of the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XmlRules {
    pub(crate) attribute_prefix: String,
    pub(crate) text_key: String,
    pub(crate) force_arrays: Vec<ArrayPath>,
    /// Namespace URI -> prefix to write (empty: none).
    pub(crate) namespaces: Vec<(String, String)>,
    pub(crate) unwrap_root: bool,
}

impl Default for XmlRules {
    fn default() -> Self {
        XmlRules {
            attribute_prefix: "@".to_owned(),
            text_key: "#text".to_owned(),
            force_arrays: Vec::new(),
            namespaces: Vec::new(),
            unwrap_root: false,
        }
    }
}

/// An element path that is always an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArrayPath {
    /// `/orders/order`: element names from the root element; `*` matches any name.
    Absolute(Vec<String>),
    /// `order`: an element of this name anywhere.
    Anywhere(String),
}

impl ArrayPath {
    pub(crate) fn parse(path: &str) -> Option<ArrayPath> {
        let path = path.trim();
        match path.strip_prefix('/') {
            Some(rest) => {
                let segments: Vec<String> = rest.split('/').map(str::to_owned).collect();
                let valid = segments.iter().all(|s| !s.is_empty());
                valid.then_some(ArrayPath::Absolute(segments))
            }
            None if !path.is_empty() && !path.contains('/') => Some(ArrayPath::Anywhere(path.to_owned())),
            None => None,
        }
    }
}

/// Parses `text` (UTF-8, no mark) and maps it onto a value.
pub(crate) fn parse(
    text: &str,
    rules: &XmlRules,
    limits: &Limits,
    excerpt_len: usize,
) -> Result<Value, DecodeError> {
    if limits.allow_dtd {
        dtd::check(text, limits.max_entity_expansion)?;
    }
    let options = ParsingOptions {
        allow_dtd: limits.allow_dtd,
        nodes_limit: limits.max_nodes.max(1),
        // No resolver: an external entity is never fetched (dtd::check refuses
        // them before this, and without a resolver roxmltree drops them).
        entity_resolver: None,
    };
    let document =
        Document::parse_with_options(text, options).map_err(|e| classify(&e, text, limits, excerpt_len))?;

    let root = document.root_element();
    let mut walker = Walker {
        rules,
        max_depth: limits.effective_depth(),
        track_path: !rules.force_arrays.is_empty(),
        path: Vec::new(),
    };
    let name = walker.name(root);
    if walker.track_path {
        walker.path.push(name.clone().into_owned());
    }
    let value = walker
        .element(root, 1)
        .map_err(|at| too_deep(&document, at, limits.effective_depth(), excerpt_len))?;
    if rules.unwrap_root {
        return Ok(value);
    }
    let mut object = Map::new();
    object.insert(name.into_owned(), value);
    Ok(Value::Object(object))
}

struct Walker<'r> {
    rules: &'r XmlRules,
    max_depth: usize,
    /// Whether `path` is kept (only force-array paths need it).
    track_path: bool,
    /// Names from the root element to the element being walked.
    path: Vec<String>,
}

impl Walker<'_> {
    /// The value of `node` at `depth` (the root element is at 1). The error is
    /// the byte offset of an element past the depth limit.
    fn element(&mut self, node: Node<'_, '_>, depth: usize) -> Result<Value, usize> {
        if depth > self.max_depth {
            return Err(node.range().start);
        }
        let has_attributes = node.attributes().len() != 0;
        let has_children = node.children().any(|c| c.is_element());
        let empty_arrays = self.empty_arrays();
        if !has_attributes && !has_children && empty_arrays.is_empty() {
            return Ok(Value::String(text_only(node).into_owned()));
        }

        let mut object = Map::new();
        let mut nil = false;
        for attribute in node.attributes() {
            if attribute.namespace() == Some(XSI) && attribute.name() == "nil" {
                nil = matches!(attribute.value().trim(), "true" | "1");
                continue;
            }
            let name = match attribute.namespace() {
                None => Cow::Borrowed(attribute.name()),
                Some(uri) => self.qualify(node, uri, attribute.name()),
            };
            // Not `format!`: this runs for every attribute of a large document.
            let mut key = String::with_capacity(self.rules.attribute_prefix.len() + name.len());
            key.push_str(&self.rules.attribute_prefix);
            key.push_str(&name);
            insert(
                &mut object,
                Cow::Owned(key),
                Value::String(attribute.value().to_owned()),
                false,
            );
        }

        let mut segments: Vec<&str> = Vec::new();
        // The previous child element's name, when borrowed from the document:
        // a run of same-named siblings (the usual array) then extends its
        // array without building a key it would throw away.
        let mut previous: Option<&str> = None;
        for child in node.children() {
            if child.is_element() {
                let name = self.name(child);
                let forced = self.forced(&name);
                let value = if self.track_path {
                    self.path.push(name.clone().into_owned());
                    let value = self.element(child, depth + 1);
                    self.path.pop();
                    value?
                } else {
                    self.element(child, depth + 1)?
                };
                match name {
                    Cow::Borrowed(name) if previous == Some(name) => {
                        repeat(&mut object, name, value, forced);
                    }
                    Cow::Borrowed(name) => {
                        previous = Some(name);
                        insert(&mut object, Cow::Borrowed(name), value, forced);
                    }
                    owned => {
                        previous = None;
                        insert(&mut object, owned, value, forced);
                    }
                }
            } else if child.is_text() {
                let text = child.text().unwrap_or_default();
                // Blank text beside attributes or children is formatting.
                if !text.trim().is_empty() {
                    segments.push(if has_children { text.trim() } else { text });
                }
            }
        }
        if nil && !has_children && segments.is_empty() {
            return Ok(Value::Null);
        }
        let text = match segments.as_slice() {
            [] => None,
            [one] => Some(Value::String((*one).to_owned())),
            many if has_children => Some(Value::Array(
                many.iter().map(|s| Value::String((*s).to_owned())).collect(),
            )),
            // Without child elements, text split by comments is still one text.
            many => Some(Value::String(many.concat())),
        };
        if let Some(text) = text {
            object.insert(self.rules.text_key.clone(), text);
        }
        for name in empty_arrays {
            object.entry(name).or_insert_with(|| Value::Array(Vec::new()));
        }
        Ok(Value::Object(object))
    }

    /// The name `node` gets: its local name, prefixed for its namespace.
    fn name<'a>(&self, node: Node<'a, '_>) -> Cow<'a, str> {
        let tag = node.tag_name();
        match tag.namespace() {
            None => Cow::Borrowed(tag.name()),
            Some(uri) => self.qualify(node, uri, tag.name()),
        }
    }

    /// `local` in namespace `uri`, as seen from `node`.
    fn qualify<'a>(&self, node: Node<'a, '_>, uri: &str, local: &'a str) -> Cow<'a, str> {
        let prefix = match self.rules.namespaces.iter().find(|(u, _)| u == uri) {
            Some((_, prefix)) => Some(prefix.as_str()),
            // The prefix the document bound to this URI; none for a default namespace.
            None => node.lookup_prefix(uri),
        };
        match prefix {
            Some(prefix) if !prefix.is_empty() => Cow::Owned(format!("{prefix}:{local}")),
            _ => Cow::Borrowed(local),
        }
    }

    /// Whether a child named `name` of the current element is a forced array.
    fn forced(&self, name: &str) -> bool {
        self.rules.force_arrays.iter().any(|path| match path {
            ArrayPath::Anywhere(n) => n == name,
            ArrayPath::Absolute(segments) => {
                segments.len() == self.path.len() + 1
                    && segments
                        .iter()
                        .zip(self.path.iter().map(String::as_str).chain([name]))
                        .all(|(pattern, actual)| pattern == "*" || pattern == actual)
            }
        })
    }

    /// Names of the forced-array children of the current element, which are
    /// `[]` when it has none of them.
    fn empty_arrays(&self) -> Vec<String> {
        if !self.track_path {
            return Vec::new();
        }
        self.rules
            .force_arrays
            .iter()
            .filter_map(|path| match path {
                ArrayPath::Absolute(segments) if segments.len() == self.path.len() + 1 => {
                    let (last, parents) = segments.split_last()?;
                    let matches = parents
                        .iter()
                        .zip(&self.path)
                        .all(|(pattern, actual)| pattern == "*" || pattern == actual);
                    (matches && last != "*").then(|| last.clone())
                }
                _ => None,
            })
            .collect()
    }
}

/// The text of an element without attributes or child elements (comments and
/// processing instructions inside are skipped).
fn text_only<'a>(node: Node<'a, '_>) -> Cow<'a, str> {
    let mut texts = node.children().filter(|c| c.is_text());
    match (texts.next(), texts.next()) {
        (None, _) => Cow::Borrowed(""),
        (Some(one), None) => Cow::Borrowed(one.text().unwrap_or_default()),
        (Some(first), Some(second)) => {
            let mut text = String::from(first.text().unwrap_or_default());
            text.push_str(second.text().unwrap_or_default());
            for more in texts {
                text.push_str(more.text().unwrap_or_default());
            }
            Cow::Owned(text)
        }
    }
}

/// Adds a child to an element's object: a repeated name becomes an array.
fn insert(object: &mut Map<String, Value>, key: Cow<'_, str>, value: Value, forced: bool) {
    // One lookup with the key owned, which a new name needs anyway; looking up
    // by `&str` first would search the map twice for every new name, to spare
    // the key of a repeated one (the common run of repeats takes `repeat`).
    match object.entry(key) {
        Entry::Occupied(mut entry) => append(entry.get_mut(), value),
        Entry::Vacant(entry) => {
            entry.insert(if forced { Value::Array(vec![value]) } else { value });
        }
    }
}

/// Adds a child whose name the object most likely has already (the previous
/// sibling's), looked up by `&str` so no key is built.
fn repeat(object: &mut Map<String, Value>, key: &str, value: Value, forced: bool) {
    match object.get_mut(key) {
        Some(existing) => append(existing, value),
        // Not reached (the previous sibling went in under this name), but
        // cheap to get right.
        None => insert(object, Cow::Borrowed(key), value, forced),
    }
}

/// Appends a repeat to the value already under its name.
fn append(existing: &mut Value, value: Value) {
    match existing {
        // Element and attribute values are never arrays themselves, so an array
        // here is one `insert` made.
        Value::Array(items) => items.push(value),
        existing => {
            let first = std::mem::take(existing);
            *existing = Value::Array(vec![first, value]);
        }
    }
}

fn too_deep(document: &Document<'_>, offset: usize, max_depth: usize, excerpt_len: usize) -> DecodeError {
    let pos = document.text_pos_at(offset);
    DecodeError::new(DecodeProblem::TooDeep, Some(Format::Xml))
        .position(pos.row, pos.col, offset)
        .detail(format!("more than {max_depth} levels of elements"))
        .excerpt(scrub::excerpt(
            document.input_text().as_bytes(),
            offset,
            excerpt_len,
        ))
}

/// Turns a roxmltree error into a [`DecodeError`]. The detail is ours:
/// roxmltree's messages quote names from the document.
fn classify(error: &roxmltree::Error, text: &str, limits: &Limits, excerpt_len: usize) -> DecodeError {
    use roxmltree::Error as X;
    let (problem, detail): (DecodeProblem, Cow<'static, str>) = match error {
        X::DtdDetected => (
            DecodeProblem::DtdRefused,
            "the document has a DTD, and DTDs are not allowed".into(),
        ),
        X::NodesLimitReached => (
            DecodeProblem::TooManyNodes,
            format!("more than {} nodes", limits.max_nodes).into(),
        ),
        X::EntityReferenceLoop(_) => (
            DecodeProblem::EntityExpansion,
            "entities nest too deep or expand too often".into(),
        ),
        X::UnexpectedEndOfStream | X::UnclosedRootNode => {
            (DecodeProblem::Truncated, "the body ends inside an element".into())
        }
        // `<order id="1"` never became an element.
        X::NoRootNode if !text.trim_end().ends_with('>') => (
            DecodeProblem::Truncated,
            "the body ends inside the root element's tag".into(),
        ),
        X::NoRootNode => (DecodeProblem::Syntax, "no root element".into()),
        X::UnexpectedCloseTag(..) => (
            DecodeProblem::Syntax,
            "a closing tag does not match the open element".into(),
        ),
        X::UnknownEntityReference(..) => (
            DecodeProblem::Syntax,
            "a reference to an undeclared entity".into(),
        ),
        X::MalformedEntityReference(_) => (DecodeProblem::Syntax, "a malformed entity reference".into()),
        X::UnexpectedEntityCloseTag(_) => (DecodeProblem::Syntax, "an entity closes an element".into()),
        X::DuplicatedAttribute(..) => (DecodeProblem::Syntax, "a duplicated attribute".into()),
        X::UnknownNamespace(..) => (DecodeProblem::Syntax, "an undeclared namespace prefix".into()),
        X::InvalidAttributeValue(_) => (DecodeProblem::Syntax, "`<` in an attribute value".into()),
        X::NonXmlChar(..) => (DecodeProblem::Syntax, "a character XML does not allow".into()),
        X::InvalidName(_) => (DecodeProblem::Syntax, "an invalid name".into()),
        X::InvalidComment(_) => (DecodeProblem::Syntax, "an invalid comment".into()),
        X::InvalidCharacterData(_) => (DecodeProblem::Syntax, "`]]>` in text".into()),
        X::UnexpectedDeclaration(_) => (
            DecodeProblem::Syntax,
            "an XML declaration not at the start".into(),
        ),
        X::EntityResolver(..) | X::InvalidExternalID(_) => (
            DecodeProblem::DtdRefused,
            "an external entity or DTD reference".into(),
        ),
        _ => (DecodeProblem::Syntax, "unexpected character or token".into()),
    };
    let pos = error.pos();
    // Errors without a position report 1:1.
    let positioned = !matches!(
        error,
        X::DtdDetected
            | X::NodesLimitReached
            | X::NoRootNode
            | X::UnclosedRootNode
            | X::UnexpectedEndOfStream
            | X::AttributesLimitReached
            | X::NamespacesLimitReached
    );
    let trimmed_len = text.trim_end().len();
    let mut error = DecodeError::new(problem, Some(Format::Xml)).detail(detail);
    let offset = if positioned {
        let offset = text_pos_offset(text, pos.row, pos.col);
        error = error.position(pos.row, pos.col, offset);
        offset
    } else if problem == DecodeProblem::Truncated {
        error = error.offset(trimmed_len);
        trimmed_len
    } else {
        0
    };
    // A syntax error at the end of the text, or in a construct that runs to
    // the end (`&amp` with no `;`, `<a b="1` with no `>`), is a document cut short.
    let runs_to_end =
        offset >= trimmed_len || !text.get(offset..).is_some_and(|rest| rest.contains(['>', ';']));
    if error.problem() == DecodeProblem::Syntax && positioned && runs_to_end {
        let mut truncated = DecodeError::new(DecodeProblem::Truncated, Some(Format::Xml))
            .detail("the body ends inside a tag or a reference");
        truncated = truncated.position(pos.row, pos.col, offset);
        error = truncated;
    }
    if matches!(problem, DecodeProblem::Syntax | DecodeProblem::Truncated) || positioned {
        error = error.excerpt(scrub::excerpt(text.as_bytes(), offset, excerpt_len));
    }
    error
}

/// The byte offset of a 1-based row and character column (roxmltree's `TextPos`).
fn text_pos_offset(text: &str, row: u32, col: u32) -> usize {
    let line_start = if row <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(row as usize - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    let line = &text[line_start..];
    line.char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(text.len(), |(i, _)| line_start + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(text: &str) -> Value {
        parse(text, &XmlRules::default(), &Limits::default(), 64).unwrap()
    }

    #[test]
    fn basic_rules() {
        assert_eq!(map("<a>x</a>"), json!({"a": "x"}));
        assert_eq!(map("<a/>"), json!({"a": ""}));
        assert_eq!(
            map("<a id='1'><b>2</b><b>3</b><c/></a>"),
            json!({"a": {"@id": "1", "b": ["2", "3"], "c": ""}})
        );
        assert_eq!(
            map("<p>Hi <b>you</b> there</p>"),
            json!({"p": {"#text": ["Hi", "there"], "b": "you"}})
        );
        assert_eq!(map("<a>x<!-- c -->y</a>"), json!({"a": "xy"}));
    }

    #[test]
    fn repeats_become_arrays_however_they_are_spread() {
        assert_eq!(
            map("<a><b>1</b><c/><b>2</b>x<b>3</b></a>"),
            json!({"a": {"b": ["1", "2", "3"], "c": "", "#text": "x"}})
        );
        assert_eq!(
            map("<r xmlns:p='urn:p'><p:x>1</p:x><p:x>2</p:x><y/><p:x>3</p:x></r>"),
            json!({"r": {"p:x": ["1", "2", "3"], "y": ""}})
        );
        let rules = XmlRules {
            attribute_prefix: String::new(),
            force_arrays: vec![ArrayPath::Anywhere("b".into())],
            ..XmlRules::default()
        };
        let forced = |text: &str| parse(text, &rules, &Limits::default(), 64).unwrap();
        assert_eq!(forced("<a><b>1</b><b>2</b></a>"), json!({"a": {"b": ["1", "2"]}}));
        assert_eq!(forced("<a><b>1</b></a>"), json!({"a": {"b": ["1"]}}));
        assert_eq!(
            forced("<a b='0'><b>1</b><b>2</b></a>"),
            json!({"a": {"b": ["0", "1", "2"]}})
        );
    }

    #[test]
    fn array_paths_parse() {
        assert_eq!(
            ArrayPath::parse("/a/b"),
            Some(ArrayPath::Absolute(vec!["a".into(), "b".into()]))
        );
        assert_eq!(ArrayPath::parse("b"), Some(ArrayPath::Anywhere("b".into())));
        assert_eq!(ArrayPath::parse("/a//b"), None);
        assert_eq!(ArrayPath::parse(""), None);
        assert_eq!(ArrayPath::parse("a/b"), None);
    }

    #[test]
    fn offsets_follow_rows_and_characters() {
        assert_eq!(text_pos_offset("é\nab", 2, 2), 4);
        assert_eq!(text_pos_offset("éa", 1, 2), 2);
    }
}
