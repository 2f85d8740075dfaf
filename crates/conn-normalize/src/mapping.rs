//! A declarative field mapping from a vendor's document to an internal shape.
//!
//! Two vendors rarely agree on names, nesting or types: one sends
//! `{"data": {"order_id": 7}}` in JSON, the other `<Order id="7"/>` in XML. A
//! [`Mapping`] lists, per internal field, where the value lives in the
//! external document (JSON-pointer paths, the first one present wins), a
//! default, whether it is required, and a simple coercion; the result is a
//! value of the internal shape, ready for typed decoding. Mappings load from
//! configuration (`serde`), so adding a vendor is a config change.
//!
//! ```
//! use conn_normalize::Mapping;
//! use serde_json::json;
//!
//! let mapping = Mapping::from_json(r#"{ "fields": [
//!     { "field": "id",    "from": ["/order/@id", "/order/id"], "coerce": "integer", "required": true },
//!     { "field": "total", "from": "/order/total", "coerce": "float", "default": 0 }
//! ] }"#).unwrap();
//! let value = mapping.apply(&json!({ "order": { "@id": "7", "total": "12.50" } })).unwrap();
//! assert_eq!(value, json!({ "id": 7, "total": 12.5 }));
//! ```

use std::fmt;

use conn_core::{Document, Error};
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

use crate::lenient;
use crate::problem::{DecodeError, DecodeProblem};

/// The key an XML element's text is under (see [`Coerce`]).
const TEXT_KEY: &str = "#text";

/// A declarative mapping: one rule per internal field.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    fields: Vec<FieldMapping>,
}

/// Where one internal field comes from.
///
/// In configuration: `field` (the internal name; dots nest, `customer.name`),
/// `from` (a pointer or a list of pointers, first present wins), and the
/// optional `default`, `required`, `coerce` and `each` (a mapping applied to
/// every item of a list).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    field: String,
    #[serde(deserialize_with = "one_or_many")]
    from: Vec<Pointer>,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    coerce: Coerce,
    #[serde(default)]
    each: Option<Mapping>,
}

/// A simple type coercion applied to a mapped value.
///
/// For every coercion but `keep`, `string` and `array`, a blank string (an
/// empty XML element) counts as absent, and an object with a `#text` key (an
/// XML element with attributes) is read as its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Coerce {
    /// The value as it is. The default.
    #[default]
    Keep,
    /// A string: numbers and booleans are written out.
    String,
    /// A number: integers stay integers, others become floats; numeric strings are parsed.
    Number,
    /// An integer: numeric strings and floats without a fraction are accepted.
    Integer,
    /// A floating-point number.
    Float,
    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case), or the numbers 1 and 0.
    Bool,
    /// An array: a single value becomes a one-item array, a blank string `[]`.
    Array,
}

/// A JSON pointer (RFC 6901: `/a/b/0`, `~1` for `/`, `~0` for `~`). A missing
/// leading `/` is implied; `""` is the whole document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer; never fails (see the type docs).
    pub fn new(text: &str) -> Pointer {
        let trimmed = text.strip_prefix('/').unwrap_or(text);
        let tokens = if text.is_empty() {
            Vec::new()
        } else {
            trimmed
                .split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        };
        Pointer {
            text: text.to_owned(),
            tokens,
        }
    }

    /// The value this pointer designates in `value`, if any.
    ///
    /// ```
    /// use conn_normalize::Pointer;
    /// let doc = serde_json::json!({ "a": [ { "b/c": 1 } ] });
    /// assert_eq!(Pointer::new("/a/0/b~1c").resolve(&doc), Some(&serde_json::json!(1)));
    /// assert_eq!(Pointer::new("/a/1").resolve(&doc), None);
    /// ```
    pub fn resolve<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.tokens
            .iter()
            .try_fold(value, |current, token| match current {
                Value::Object(map) => map.get(token),
                Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pointer, D::Error> {
        String::deserialize(deserializer).map(|text| Pointer::new(&text))
    }
}

/// `from` is one pointer or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Pointer>, D::Error> {
    struct OneOrMany;

    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<Pointer>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON pointer or a list of JSON pointers")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Pointer>, E> {
            Ok(vec![Pointer::new(v)])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Pointer>, A::Error> {
            let mut pointers = Vec::new();
            while let Some(text) = seq.next_element::<String>()? {
                pointers.push(Pointer::new(&text));
            }
            if pointers.is_empty() {
                return Err(de::Error::invalid_length(0, &self));
            }
            Ok(pointers)
        }
    }

    deserializer.deserialize_any(OneOrMany)
}

impl Mapping {
    /// An empty mapping; add rules with [`Mapping::field`].
    pub fn new() -> Mapping {
        Mapping::default()
    }

    /// Loads a mapping from JSON configuration; a mistake is a configuration error.
    pub fn from_json(config: &str) -> Result<Mapping, Error> {
        serde_json::from_str(config).map_err(|e| Error::config(format!("invalid field mapping: {e}")))
    }

    /// Adds a rule.
    ///
    /// ```
    /// use conn_normalize::{Coerce, FieldMapping, Mapping};
    ///
    /// let mapping = Mapping::new()
    ///     .field(FieldMapping::new("id", "/data/order_id").coerce(Coerce::String).required())
    ///     .field(FieldMapping::new("paid", "/data/paid").coerce(Coerce::Bool).default_value(false));
    /// let out = mapping.apply(&serde_json::json!({ "data": { "order_id": 7 } })).unwrap();
    /// assert_eq!(out, serde_json::json!({ "id": "7", "paid": false }));
    /// ```
    pub fn field(mut self, field: FieldMapping) -> Self {
        self.fields.push(field);
        self
    }

    /// Maps `document` onto the internal shape: an object with one entry per
    /// field found (or defaulted). A missing required field or a failed
    /// coercion is a decode error ([`DecodeProblem::Schema`]) naming the field
    /// and the path, never the value.
    pub fn apply(&self, document: &Value) -> Result<Value, Error> {
        self.apply_inner(document).map_err(|detail| {
            DecodeError::new(DecodeProblem::Schema, None)
                .detail(detail)
                .into_error(None)
        })
    }

    /// Maps a document and decodes the result into `T` (leniently, see [`decode`](crate::decode)).
    pub fn apply_as<T: DeserializeOwned>(&self, document: &Document) -> Result<T, Error> {
        let value = self.apply(&document.value)?;
        lenient::decode_value(&value, TEXT_KEY)
    }

    fn apply_inner(&self, document: &Value) -> Result<Value, String> {
        let mut out = Map::new();
        for rule in &self.fields {
            if let Some(value) = rule.value(document)? {
                insert_dotted(&mut out, &rule.field, value)?;
            }
        }
        Ok(Value::Object(out))
    }
}

impl FieldMapping {
    /// Internal field `field` (dots nest) from the pointer `from`.
    pub fn new(field: impl Into<String>, from: &str) -> FieldMapping {
        FieldMapping {
            field: field.into(),
            from: vec![Pointer::new(from)],
            default: None,
            required: false,
            coerce: Coerce::Keep,
            each: None,
        }
    }

    /// Another place to look when the earlier ones are absent.
    pub fn or_from(mut self, from: &str) -> Self {
        self.from.push(Pointer::new(from));
        self
    }

    /// The value when every place is absent.
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Fails the mapping when the field is absent and has no default.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The coercion to apply.
    pub fn coerce(mut self, coerce: Coerce) -> Self {
        self.coerce = coerce;
        self
    }

    /// Maps every item of a list (a single item counts as a list of one) with `mapping`.
    pub fn each(mut self, mapping: Mapping) -> Self {
        self.each = Some(mapping);
        self
    }

    /// This field's value in `document`, `None` when absent and optional.
    fn value(&self, document: &Value) -> Result<Option<Value>, String> {
        let counts_blank = !matches!(self.coerce, Coerce::Keep | Coerce::String | Coerce::Array);
        let found = self.from.iter().find_map(|pointer| {
            let value = pointer.resolve(document)?;
            let value = if counts_blank { text_of(value) } else { value };
            let absent =
                value.is_null() || (counts_blank && value.as_str().is_some_and(|s| s.trim().is_empty()));
            (!absent).then_some((pointer, value))
        });
        let Some((pointer, value)) = found else {
            if let Some(default) = &self.default {
                return Ok(Some(default.clone()));
            }
            if self.required {
                let paths: Vec<&str> = self.from.iter().map(Pointer::as_str).collect();
                return Err(format!(
                    "required field `{}` not found at {}",
                    self.field,
                    paths.join(" or ")
                ));
            }
            return Ok(None);
        };
        let value =
            match &self.each {
                Some(mapping) => {
                    let items: Vec<&Value> = match value {
                        Value::Array(items) => items.iter().collect(),
                        Value::String(s) if s.trim().is_empty() => Vec::new(),
                        single => vec![single],
                    };
                    let mut mapped = Vec::with_capacity(items.len());
                    for (index, item) in items.into_iter().enumerate() {
                        mapped.push(mapping.apply_inner(item).map_err(|e| {
                            format!("in `{}` item {index} (from `{pointer}`): {e}", self.field)
                        })?);
                    }
                    Value::Array(mapped)
                }
                None => coerce(value, self.coerce).map_err(|expected| {
                    format!(
                        "field `{}` (from `{pointer}`): expected {expected}, found {}",
                        self.field,
                        kind(value)
                    )
                })?,
            };
        Ok(Some(value))
    }
}

/// An XML element with attributes is read as its text.
fn text_of(value: &Value) -> &Value {
    match value {
        Value::Object(map) => map.get(TEXT_KEY).unwrap_or(value),
        other => other,
    }
}

/// What kind of value it is, for messages (never the value itself).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string that does not convert",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Applies `coerce`; the error names what was expected.
fn coerce(value: &Value, coerce: Coerce) -> Result<Value, &'static str> {
    match coerce {
        Coerce::Keep => Ok(value.clone()),
        Coerce::String => match text_of(value) {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("a string"),
        },
        Coerce::Number => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => parse_number(s.trim()).ok_or("a number"),
            _ => Err("a number"),
        },
        Coerce::Integer => {
            let number = match value {
                Value::Number(n) => Some(n.clone()),
                Value::String(s) => match parse_number(s.trim()) {
                    Some(Value::Number(n)) => Some(n),
                    _ => None,
                },
                _ => None,
            };
            match number {
                Some(n) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
                Some(n) => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                        Ok(Value::Number(Number::from(f as i64)))
                    }
                    _ => Err("an integer"),
                },
                None => Err("an integer"),
            }
        }
        Coerce::Float => {
            let float = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            float
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or("a finite number")
        }
        Coerce::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(Value::Bool(false)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "y" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "n" | "off" => Ok(Value::Bool(false)),
                _ => Err("a boolean"),
            },
            _ => Err("a boolean"),
        },
        Coerce::Array => match value {
            Value::Array(_) => Ok(value.clone()),
            Value::String(s) if s.trim().is_empty() => Ok(Value::Array(Vec::new())),
            other => Ok(Value::Array(vec![other.clone()])),
        },
    }
}

/// A number from text: an integer when it is one, else a finite float.
fn parse_number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(Value::Number(u.into()));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// Inserts `value` at a dotted path (`customer.name`), creating objects.
fn insert_dotted(out: &mut Map<String, Value>, field: &str, value: Value) -> Result<(), String> {
    let mut segments = field.split('.').peekable();
    let mut current = out;
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            current.insert(segment.to_owned(), value);
            return Ok(());
        }
        let next = current
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        current = match next {
            Value::Object(map) => map,
            _ => return Err(format!("field `{field}` conflicts with a field `{segment}`")),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coercions() {
        assert_eq!(coerce(&json!("42"), Coerce::Number), Ok(json!(42)));
        assert_eq!(coerce(&json!("4.5"), Coerce::Number), Ok(json!(4.5)));
        assert_eq!(coerce(&json!("4.0"), Coerce::Integer), Ok(json!(4)));
        assert!(coerce(&json!("4.5"), Coerce::Integer).is_err());
        assert_eq!(coerce(&json!(3), Coerce::String), Ok(json!("3")));
        assert_eq!(coerce(&json!(true), Coerce::String), Ok(json!("true")));
        assert_eq!(
            coerce(&json!({"@c": "EUR", "#text": "x"}), Coerce::String),
            Ok(json!("x"))
        );
        assert_eq!(coerce(&json!("Yes"), Coerce::Bool), Ok(json!(true)));
        assert_eq!(coerce(&json!(0), Coerce::Bool), Ok(json!(false)));
        assert_eq!(coerce(&json!("x"), Coerce::Array), Ok(json!(["x"])));
        assert_eq!(coerce(&json!(2), Coerce::Float), Ok(json!(2.0)));
        assert!(coerce(&json!("NaN"), Coerce::Float).is_err());
    }

    #[test]
    fn missing_required_field_names_field_and_path() {
        let mapping = Mapping::new().field(FieldMapping::new("id", "/a/id").required());
        let err = mapping.apply(&json!({})).unwrap_err();
        assert!(err.to_string().contains("`id`"), "{err}");
        assert!(err.to_string().contains("/a/id"), "{err}");
    }

    #[test]
    fn coercion_errors_hide_the_value() {
        let mapping = Mapping::new().field(FieldMapping::new("n", "/n").coerce(Coerce::Integer));
        let err = mapping.apply(&json!({"n": "s3cr3t"})).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }

    #[test]
    fn dotted_fields_nest() {
        let mapping = Mapping::new()
            .field(FieldMapping::new("customer.name", "/n"))
            .field(FieldMapping::new("customer.id", "/i"));
        assert_eq!(
            mapping.apply(&json!({"n": "Ada", "i": 1})).unwrap(),
            json!({"customer": {"name": "Ada", "id": 1}})
        );
    }

    #[test]
    fn config_mistakes_are_config_errors() {
        let err = Mapping::from_json(r#"{"fields": [{"field": "a", "form": "/a"}]}"#).unwrap_err();
        assert!(err.is_config());
    }
}
