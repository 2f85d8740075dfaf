//! Typed decoding of a document into any `serde` type, from JSON or XML alike.
//!
//! XML has only text, so an XML document's numbers and booleans are strings.
//! Rather than guess types while mapping (is `007` a number? is `1` a
//! boolean?), the target type decides when decoding: this deserializer reads
//! a [`Value`] like serde_json does, and also accepts
//!
//! - a string where a number is expected, if it parses (`"42"`, `" 12.50 "`);
//! - a string where a boolean is expected: `true`/`false`/`1`/`0` (any case, trimmed);
//! - a number or boolean where a string is expected;
//! - an object with a text key (`{"@currency": "EUR", "#text": "12.50"}`)
//!   where a number, boolean or string is expected: its text;
//! - a single value where a sequence is expected: a one-item sequence (an
//!   element that happened to appear once), and `null` or `""` as an empty one;
//! - `""` (an empty element) or `null` where an `Option` is expected: `None`;
//!   `""` where a struct or map is expected: an empty one.
//!
//! Error messages name the path (`/order/total`) and the expected type, never
//! a value from the document.

use std::fmt;

use conn_core::{Document, Error};
use serde::Deserializer as _;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};
use serde_json::Value;

use crate::problem::{DecodeError, DecodeProblem};
use crate::scrub;

/// The text key used when none is configured.
const DEFAULT_TEXT_KEY: &str = "#text";

/// Decodes a document (either format) into `T`, leniently (see the module docs).
///
/// ```
/// use conn_normalize::Normalize;
/// use http::{HeaderMap, StatusCode};
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: u32, paid: bool, total: f64 }
///
/// let xml = b"<order><id>7</id><paid>true</paid><total currency='EUR'>12.50</total></order>";
/// let doc = Normalize::builder().unwrap_root(true).build().unwrap()
///     .normalize_parts(StatusCode::OK, &HeaderMap::new(), xml)
///     .unwrap();
/// let order: Order = conn_normalize::decode(&doc).unwrap();
/// assert_eq!((order.id, order.paid, order.total), (7, true, 12.5));
/// ```
pub fn decode<T: DeserializeOwned>(document: &Document) -> Result<T, Error> {
    decode_value(&document.value, DEFAULT_TEXT_KEY)
}

/// Decodes a value into `T` leniently, reading `text_key` as an element's text.
pub(crate) fn decode_value<T: DeserializeOwned>(value: &Value, text_key: &str) -> Result<T, Error> {
    T::deserialize(Lenient { value, text_key }).map_err(|e| {
        DecodeError::new(DecodeProblem::Schema, None)
            // Scrubbed too: a type's own `Deserialize` may quote what it rejected.
            .detail(scrub::scrub(&format!(
                "{} does not fit: {e}",
                short_type_name::<T>()
            )))
            .into_error(None)
    })
}

/// The last segment of a type's path, generics kept (`Vec<Order>`).
pub(crate) fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        match c {
            ':' => segment.clear(),
            '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | ';' | '&' => {
                out.push_str(&segment);
                segment.clear();
                out.push(c);
            }
            _ => segment.push(c),
        }
    }
    out.push_str(&segment);
    out
}

/// An error of lenient decoding: a message and where in the document.
#[derive(Debug)]
pub(crate) struct LenientError {
    message: String,
    /// Path segments, innermost first (they are added while unwinding).
    path: Vec<String>,
}

impl LenientError {
    fn at(mut self, segment: impl fmt::Display) -> Self {
        self.path.push(segment.to_string());
        self
    }
}

impl fmt::Display for LenientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.path.is_empty() {
            f.write_str(" at ")?;
            for segment in self.path.iter().rev() {
                write!(f, "/{}", segment.replace('~', "~0").replace('/', "~1"))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for LenientError {}

/// What kind of thing an [`Unexpected`] is, without its content (which may be a secret).
fn kind<'a>(unexpected: &Unexpected<'a>) -> &'a str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "a number",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "an enum variant",
        Unexpected::Other(other) => other,
    }
}

impl de::Error for LenientError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        LenientError {
            message: message.to_string(),
            path: Vec::new(),
        }
    }

    // The defaults quote the value; these say what kind it was.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {expected}, found {}", kind(&unexpected)))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "expected {expected}, found another {}",
            kind(&unexpected)
        ))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!("unknown variant, expected one of {expected:?}"))
    }
}

/// A value read leniently.
#[derive(Clone, Copy)]
struct Lenient<'a> {
    value: &'a Value,
    text_key: &'a str,
}

impl<'a> Lenient<'a> {
    fn with(self, value: &'a Value) -> Lenient<'a> {
        Lenient { value, ..self }
    }

    /// The value to read a scalar from: an element's text when it is an
    /// object with a text key.
    fn scalar(self) -> &'a Value {
        match self.value {
            Value::Object(map) => map.get(self.text_key).unwrap_or(self.value),
            other => other,
        }
    }

    fn unexpected(value: &Value) -> Unexpected<'_> {
        match value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(_) => Unexpected::Other("a number"),
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    fn integer<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.scalar() {
            Value::String(s) => {
                let t = s.trim();
                if let Ok(v) = t.parse::<i64>() {
                    visitor.visit_i64(v)
                } else if let Ok(v) = t.parse::<u64>() {
                    visitor.visit_u64(v)
                } else if let Ok(v) = t.parse::<i128>() {
                    visitor.visit_i128(v)
                } else if let Ok(v) = t.parse::<u128>() {
                    visitor.visit_u128(v)
                } else {
                    Err(de::Error::invalid_type(Unexpected::Str(s), &visitor))
                }
            }
            other => self.with(other).deserialize_any(visitor),
        }
    }

    fn float<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.scalar() {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(v) => visitor.visit_f64(v),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(s), &visitor)),
            },
            other => self.with(other).deserialize_any(visitor),
        }
    }
}

macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
            self.integer(visitor)
        }
    )*};
}

impl<'a> de::Deserializer<'a> for Lenient<'a> {
    type Error = LenientError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq::new(self, items)),
            Value::Object(map) => visitor.visit_map(Map::new(self, map)),
        }
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.scalar() {
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => visitor.visit_bool(true),
                "false" | "0" => visitor.visit_bool(false),
                _ => Err(de::Error::invalid_type(Unexpected::Str(s), &visitor)),
            },
            Value::Number(n) if n.as_u64() == Some(0) => visitor.visit_bool(false),
            Value::Number(n) if n.as_u64() == Some(1) => visitor.visit_bool(true),
            other => self.with(other).deserialize_any(visitor),
        }
    }

    integers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.float(visitor)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.float(visitor)
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.scalar() {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            other => self.with(other).deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            Value::String(s) if s.is_empty() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::String(s) if s.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.value {
            Value::Array(items) => visitor.visit_seq(Seq::new(self, items)),
            Value::Null => visitor.visit_seq(Seq::new(self, &[])),
            Value::String(s) if s.is_empty() => visitor.visit_seq(Seq::new(self, &[])),
            // An element that appeared once.
            single => visitor.visit_seq(Seq::new(self, std::slice::from_ref(single))),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.value {
            Value::Object(map) => visitor.visit_map(Map::new(self, map)),
            Value::String(s) if s.is_empty() => visitor.visit_map(Map::empty(self)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        match self.scalar() {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::<LenientError>::new(s)),
            Value::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((variant, value)) => visitor.visit_enum(Enum {
                    variant,
                    value: self.with(value),
                }),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }
}

struct Seq<'a> {
    base: Lenient<'a>,
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'a> Seq<'a> {
    fn new(base: Lenient<'a>, items: &'a [Value]) -> Self {
        Seq {
            base,
            items: items.iter(),
            index: 0,
        }
    }
}

impl<'a> SeqAccess<'a> for Seq<'a> {
    type Error = LenientError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, LenientError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(self.base.with(item))
            .map(Some)
            .map_err(|e| e.at(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    base: Lenient<'a>,
    entries: Option<serde_json::map::Iter<'a>>,
    pending: Option<(&'a str, &'a Value)>,
}

impl<'a> Map<'a> {
    fn new(base: Lenient<'a>, map: &'a serde_json::Map<String, Value>) -> Self {
        Map {
            base,
            entries: Some(map.iter()),
            pending: None,
        }
    }

    fn empty(base: Lenient<'a>) -> Self {
        Map {
            base,
            entries: None,
            pending: None,
        }
    }
}

impl<'a> MapAccess<'a> for Map<'a> {
    type Error = LenientError;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, LenientError> {
        let Some((key, value)) = self.entries.as_mut().and_then(Iterator::next) else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, LenientError> {
        match self.pending.take() {
            Some((key, value)) => seed.deserialize(self.base.with(value)).map_err(|e| e.at(key)),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.entries.as_ref().map(ExactSizeIterator::len)
    }
}

struct Enum<'a> {
    variant: &'a str,
    value: Lenient<'a>,
}

impl<'a> EnumAccess<'a> for Enum<'a> {
    type Error = LenientError;
    type Variant = Lenient<'a>;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, Lenient<'a>), LenientError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::new(self.variant))?;
        Ok((variant, self.value))
    }
}

impl<'a> VariantAccess<'a> for Lenient<'a> {
    type Error = LenientError;

    fn unit_variant(self) -> Result<(), LenientError> {
        match self.value {
            Value::Null => Ok(()),
            Value::String(s) if s.is_empty() => Ok(()),
            other => Err(de::Error::invalid_type(
                Lenient::unexpected(other),
                &"a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, LenientError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LenientError> {
        self.deserialize_map(visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(rename = "@id")]
        id: u64,
        price: f64,
        active: bool,
        note: Option<String>,
        tags: Vec<String>,
        kind: Kind,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Book,
        Toy,
    }

    fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
        decode_value(&value, DEFAULT_TEXT_KEY)
    }

    #[test]
    fn strings_become_typed() {
        let value = json!({
            "@id": "42",
            "price": {"@currency": "EUR", "#text": " 12.50 "},
            "active": "TRUE",
            "note": "",
            "tags": "one",
            "kind": "book"
        });
        let item: Item = decode(value).unwrap();
        assert_eq!(
            item,
            Item {
                id: 42,
                price: 12.5,
                active: true,
                note: None,
                tags: vec!["one".into()],
                kind: Kind::Book
            }
        );
    }

    #[test]
    fn native_json_still_works() {
        let value =
            json!({"@id": 42, "price": 12.5, "active": false, "note": "x", "tags": [], "kind": "toy"});
        let item: Item = decode(value).unwrap();
        assert_eq!(item.note.as_deref(), Some("x"));
        assert_eq!(item.kind, Kind::Toy);
    }

    #[test]
    fn errors_name_the_path_not_the_value() {
        let value =
            json!({"@id": "42", "price": "hunter2", "active": "1", "note": null, "tags": [], "kind": "toy"});
        let err = decode::<Item>(value).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("/price"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<Vec<Item>>(), "Vec<Item>");
    }
}
