//! JSON in: serde_json straight into a [`Value`], with a depth limit.
//!
//! The value is built by our own visitor rather than `Value`'s so the depth is
//! counted while parsing, for free, and a too-deep document stops at the
//! limit instead of after serde_json's fixed recursion limit (which stays the
//! backstop: it caps JSON at [`MAX_DEPTH_CEILING`](crate::MAX_DEPTH_CEILING)).
//! The document itself passes through unchanged: same keys, same numbers.

use std::cell::Cell;
use std::fmt;

use conn_core::Format;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::charset;
use crate::problem::{DecodeError, DecodeProblem};
use crate::scrub;

/// How the parse went wrong, beyond what serde_json says.
#[derive(Default)]
struct Flags {
    too_deep: Cell<bool>,
}

/// Parses `text` (UTF-8, no mark) into a value at most `max_depth` deep.
pub(crate) fn parse(text: &[u8], max_depth: usize, excerpt_len: usize) -> Result<Value, DecodeError> {
    let flags = Flags::default();
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let seed = Seed {
        depth: 0,
        max_depth,
        flags: &flags,
    };
    let result = seed.deserialize(&mut deserializer).and_then(|value| {
        deserializer.end()?;
        Ok(value)
    });
    result.map_err(|e| classify(&e, text, &flags, max_depth, excerpt_len))
}

/// Turns a serde_json error into a [`DecodeError`] with position and excerpt.
fn classify(
    error: &serde_json::Error,
    text: &[u8],
    flags: &Flags,
    max_depth: usize,
    excerpt_len: usize,
) -> DecodeError {
    let line = u32::try_from(error.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(error.column()).unwrap_or(u32::MAX);
    let offset = line_column_offset(text, error.line(), error.column());
    // serde_json only sees bytes inside strings as text: a bad byte elsewhere is a
    // syntax error to it, but the honest diagnosis is the encoding.
    if let Err(bad) = std::str::from_utf8(text)
        && bad.valid_up_to() <= offset.saturating_add(1)
    {
        let at = bad.valid_up_to();
        return charset::invalid_utf8(at, Format::Json).excerpt(scrub::excerpt(text, at, excerpt_len));
    }
    let message = error.to_string();
    // serde_json's messages are fixed texts about the grammar ("expected `,` or
    // `}`"), never quotes of the input; its position suffix is ours to write.
    let what = message.split(" at line ").next().unwrap_or_default().to_owned();
    let (problem, detail) = if flags.too_deep.get() || what.contains("recursion limit exceeded") {
        (
            DecodeProblem::TooDeep,
            format!("more than {max_depth} levels of arrays and objects"),
        )
    } else if error.classify() == serde_json::error::Category::Eof {
        (DecodeProblem::Truncated, format!("the body ends early ({what})"))
    } else {
        (DecodeProblem::Syntax, what)
    };
    DecodeError::new(problem, Some(Format::Json))
        .position(line, column, offset)
        .detail(detail)
        .excerpt(scrub::excerpt(text, offset, excerpt_len))
}

/// The byte offset of a 1-based line and byte column (serde_json's position).
fn line_column_offset(text: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    line_start
        .saturating_add(column.saturating_sub(1))
        .min(text.len())
}

/// Builds one value at `depth`, refusing containers past `max_depth`.
#[derive(Clone, Copy)]
struct Seed<'f> {
    depth: usize,
    max_depth: usize,
    flags: &'f Flags,
}

impl Seed<'_> {
    /// The seed for the items of a container opened at this depth.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > self.max_depth {
            self.flags.too_deep.set(true);
            return Err(E::custom("nesting too deep"));
        }
        Ok(Seed { depth, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

// Mirrors serde_json's own `Value` visitor, so the result is the value
// `serde_json::from_slice::<Value>` would give.
impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text = br#"{"a": [1, -2, 3.5, 1e300, "x\u00e9", true, null, {"b": {}}], "a": 2, "big": 18446744073709551615}"#;
        let raw: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(parse(text, 64, 64).unwrap(), raw);
    }

    #[test]
    fn depth_is_counted_in_containers() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(nested(3).as_bytes(), 3, 64).is_ok());
        let err = parse(nested(4).as_bytes(), 3, 64).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::TooDeep);
        assert!(parse(b"7", 1, 64).is_ok());
    }

    #[test]
    fn serde_json_recursion_limit_is_a_depth_problem_too() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse(text.as_bytes(), 1000, 64).unwrap_err();
        assert_eq!(err.problem(), DecodeProblem::TooDeep);
    }

    #[test]
    fn offsets_follow_lines() {
        assert_eq!(line_column_offset(b"ab\ncd", 2, 2), 4);
        assert_eq!(line_column_offset(b"ab", 1, 1), 0);
        assert_eq!(line_column_offset(b"ab", 9, 9), 2);
    }
}
