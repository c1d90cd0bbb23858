//! JSON text and `serde_json` values to and from Flow values.
//!
//! The parser is iterative (an explicit stack of open containers), so hostile
//! input cannot overflow the Rust stack; nesting deeper than
//! [`MAX_JSON_DEPTH`] is rejected. Objects become maps in insertion order
//! (a repeated key keeps its first position and takes the last value),
//! integers that fit `i64` become ints, every other number a float.

use super::value::{MapObj, Str, Value};
use crate::check::types::Types;
use rustc_hash::FxHashSet;
use std::rc::Rc;

/// The deepest nesting of arrays and objects accepted by [`parse_json`] and
/// produced by [`json_to_serde`].
pub const MAX_JSON_DEPTH: usize = 1000;

/// Parses JSON text into a Flow value (`s.fromJsonString()`). Errors read
/// `invalid JSON at line L, column C: WHAT` (columns count characters, from 1).
pub fn parse_json(text: &str) -> Result<Value, String> {
    Parser { src: text, pos: 0 }.parse()
}

/// A container being parsed.
enum Open {
    Array(Vec<Value>),
    /// An object and the key whose value is being parsed.
    Object(MapObj, Str),
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn bytes(&self) -> &[u8] {
        self.src.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// An error at the current position.
    fn error(&self, what: &str) -> String {
        self.error_at(self.pos, what)
    }

    fn error_at(&self, pos: usize, what: &str) -> String {
        let pos = pos.min(self.src.len());
        let before = self.src.get(..pos).unwrap_or(self.src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        format!("invalid JSON at line {line}, column {column}: {what}")
    }

    fn parse(&mut self) -> Result<Value, String> {
        let mut stack: Vec<Open> = Vec::new();
        'value: loop {
            // Parse the start of a value; containers with content are pushed.
            self.skip_ws();
            let mut value = match self.peek() {
                Some(b'[') => {
                    self.open_check(stack.len())?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::array(Vec::new())
                    } else {
                        stack.push(Open::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'{') => {
                    self.open_check(stack.len())?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::map(MapObj::default())
                    } else {
                        let key = self.parse_key()?;
                        stack.push(Open::Object(MapObj::default(), key));
                        continue 'value;
                    }
                }
                Some(b'"') => Value::Str(self.parse_string()?.into()),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Nil)?,
                Some(b'-' | b'0'..=b'9') => self.parse_number()?,
                Some(_) => return Err(self.error("expected value")),
                None => return Err(self.error("unexpected end of input, expected value")),
            };
            // A value is complete: store it in its container, closing
            // containers as far as their closing brackets follow.
            loop {
                self.skip_ws();
                match stack.pop() {
                    None => {
                        if self.pos < self.src.len() {
                            return Err(self.error("trailing characters"));
                        }
                        return Ok(value);
                    }
                    Some(Open::Array(mut items)) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                stack.push(Open::Array(items));
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = Value::array(items);
                            }
                            Some(_) => return Err(self.error("expected `,` or `]`")),
                            None => {
                                return Err(
                                    self.error("unexpected end of input, expected `,` or `]`")
                                )
                            }
                        }
                    }
                    Some(Open::Object(mut map, key)) => {
                        map.insert(key, value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                let key = self.parse_key()?;
                                stack.push(Open::Object(map, key));
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = Value::map(map);
                            }
                            Some(_) => return Err(self.error("expected `,` or `}`")),
                            None => {
                                return Err(
                                    self.error("unexpected end of input, expected `,` or `}`")
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fails when opening one more container would exceed the depth limit.
    fn open_check(&self, depth: usize) -> Result<(), String> {
        if depth >= MAX_JSON_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_JSON_DEPTH} levels")));
        }
        Ok(())
    }

    /// `"key"` followed by `:` (the position is at the key).
    fn parse_key(&mut self) -> Result<Str, String> {
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return Err(self.error("expected string key")),
            None => return Err(self.error("unexpected end of input, expected string key")),
        }
        let key = self.parse_string()?;
        self.skip_ws();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(key.into())
            }
            Some(_) => Err(self.error("expected `:`")),
            None => Err(self.error("unexpected end of input, expected `:`")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self
            .bytes()
            .get(self.pos..)
            .is_some_and(|b| b.starts_with(word.as_bytes()))
        {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// A string literal (the position is at the opening quote).
    fn parse_string(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters up to a quote, backslash or control.
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // `run_start..pos` ends before an ASCII byte, so it is on char boundaries.
            out.push_str(self.src.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                None => return Err(self.error_at(start, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc_pos = self.pos;
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape(esc_pos)?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error_at(esc_pos, "invalid escape")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    /// Four hex digits (after `\u`).
    fn hex4(&mut self, esc_pos: usize) -> Result<u32, String> {
        let digits = self.bytes().get(self.pos..self.pos + 4);
        let value = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error_at(esc_pos, "invalid \\u escape")),
        }
    }

    /// The rest of a `\uXXXX` escape, with a surrogate pair when needed.
    fn unicode_escape(&mut self, esc_pos: usize) -> Result<char, String> {
        let hi = self.hex4(esc_pos)?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            let bytes = self.bytes();
            if bytes.get(self.pos) != Some(&b'\\') || bytes.get(self.pos + 1) != Some(&b'u') {
                return Err(self.error_at(esc_pos, "lone surrogate in \\u escape"));
            }
            let lo_pos = self.pos;
            self.pos += 2;
            let lo = self.hex4(lo_pos)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.error_at(esc_pos, "lone surrogate in \\u escape"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.error_at(esc_pos, "lone surrogate in \\u escape"));
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.error_at(esc_pos, "invalid \\u escape"))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn parse_number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            is_float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(self.error_at(start, "number out of range")),
        }
    }
}

/// A `serde_json` value as a Flow value (objects become maps in order,
/// integers that fit `i64` ints, other numbers floats).
pub fn json_from_serde(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    enum Job<'a> {
        Visit(&'a J),
        Array(usize),
        Object(Vec<&'a String>),
    }
    let mut jobs = vec![Job::Visit(v)];
    let mut out: Vec<Value> = Vec::new();
    while let Some(job) = jobs.pop() {
        match job {
            Job::Visit(v) => match v {
                J::Null => out.push(Value::Nil),
                J::Bool(b) => out.push(Value::Bool(*b)),
                J::Number(n) => out.push(match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                }),
                J::String(s) => out.push(Value::str(s.as_str())),
                J::Array(items) => {
                    jobs.push(Job::Array(items.len()));
                    jobs.extend(items.iter().rev().map(Job::Visit));
                }
                J::Object(obj) => {
                    jobs.push(Job::Object(obj.keys().collect()));
                    jobs.extend(obj.values().rev().map(Job::Visit));
                }
            },
            Job::Array(n) => {
                let items = out.split_off(out.len().saturating_sub(n));
                out.push(Value::array(items));
            }
            Job::Object(keys) => {
                let values = out.split_off(out.len().saturating_sub(keys.len()));
                let mut m = MapObj::default();
                for (k, v) in keys.into_iter().zip(values) {
                    m.insert(k.as_str().into(), v);
                }
                out.push(Value::map(m));
            }
        }
    }
    out.pop().unwrap_or_default()
}

/// A Flow value as a `serde_json` value (records as objects in declaration
/// order, non-finite floats as `null`). Fails for values that are not JSON
/// (durations, errors, functions, typedescs), for cyclic values and for
/// nesting deeper than [`MAX_JSON_DEPTH`].
pub fn json_to_serde(v: &Value, types: &Types) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    enum Job {
        Visit(Value),
        Array(usize, usize),
        Object(Vec<Str>, usize),
    }
    let mut jobs = vec![Job::Visit(v.clone())];
    let mut out: Vec<J> = Vec::new();
    let mut active: FxHashSet<usize> = FxHashSet::default();
    let enter = |active: &mut FxHashSet<usize>, key: usize| -> Result<(), String> {
        if !active.insert(key) {
            return Err("cannot convert a cyclic value to JSON".to_string());
        }
        if active.len() > MAX_JSON_DEPTH {
            return Err(format!("value nested deeper than {MAX_JSON_DEPTH} levels"));
        }
        Ok(())
    };
    while let Some(job) = jobs.pop() {
        match job {
            Job::Visit(v) => match v {
                Value::Nil | Value::Undefined => out.push(J::Null),
                Value::Bool(b) => out.push(J::Bool(b)),
                Value::Int(i) => out.push(J::from(i)),
                Value::Float(f) => {
                    out.push(serde_json::Number::from_f64(f).map_or(J::Null, J::Number))
                }
                Value::Str(s) => out.push(J::String(s.to_string())),
                Value::Cell(c) => jobs.push(Job::Visit(c.borrow().clone())),
                Value::Duration(_) => return Err("cannot convert a duration to JSON".to_string()),
                Value::Error(_) => return Err("cannot convert an error to JSON".to_string()),
                Value::Func(_) => return Err("cannot convert a function to JSON".to_string()),
                Value::Typedesc(_) => return Err("cannot convert a typedesc to JSON".to_string()),
                Value::Host(h) => return Err(format!("cannot convert an {} to JSON", h.type_name)),
                Value::Array(a) => {
                    let key = Rc::as_ptr(&a) as *const () as usize;
                    enter(&mut active, key)?;
                    let items = a.borrow();
                    jobs.push(Job::Array(items.len(), key));
                    jobs.extend(items.iter().rev().cloned().map(Job::Visit));
                }
                Value::Map(m) => {
                    let key = Rc::as_ptr(&m) as *const () as usize;
                    enter(&mut active, key)?;
                    let m = m.borrow();
                    jobs.push(Job::Object(m.keys().cloned().collect(), key));
                    jobs.extend(m.values().rev().cloned().map(Job::Visit));
                }
                Value::Record(r) => {
                    let key = Rc::as_ptr(&r) as *const () as usize;
                    enter(&mut active, key)?;
                    let def = types.record(r.rec);
                    let fields = r.fields.borrow();
                    let n = def.fields.len().min(fields.len());
                    let names = def.fields[..n]
                        .iter()
                        .map(|f| Str::from(&*f.name))
                        .collect();
                    jobs.push(Job::Object(names, key));
                    jobs.extend(fields[..n].iter().rev().cloned().map(Job::Visit));
                }
            },
            Job::Array(n, key) => {
                active.remove(&key);
                let items = out.split_off(out.len().saturating_sub(n));
                out.push(J::Array(items));
            }
            Job::Object(keys, key) => {
                active.remove(&key);
                let values = out.split_off(out.len().saturating_sub(keys.len()));
                let mut m = serde_json::Map::new();
                for (k, v) in keys.into_iter().zip(values) {
                    m.insert(k.to_string(), v);
                }
                out.push(J::Object(m));
            }
        }
    }
    Ok(out.pop().unwrap_or(J::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::types::{FieldDef, RecordDef, RecordId, TyId};
    use crate::vm::format::{to_display_string, to_json_string};

    fn show(v: &Value) -> String {
        to_display_string(v, &Types::new())
    }

    fn ok(text: &str) -> String {
        match parse_json(text) {
            Ok(v) => show(&v),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse_json(text) {
            Ok(v) => panic!("{text}: parsed as {}", show(&v)),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_values() {
        assert_eq!(ok("1"), "1");
        assert_eq!(ok(" -12 "), "-12");
        assert_eq!(ok("2.0"), "2.0");
        assert_eq!(ok("1e3"), "1000.0");
        assert_eq!(ok("-0.5E-2"), "-0.005");
        assert_eq!(ok("9223372036854775807"), "9223372036854775807");
        assert_eq!(ok("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(ok("9223372036854775808"), "9223372036854776000.0");
        assert_eq!(ok("true"), "true");
        assert_eq!(ok("false"), "false");
        assert_eq!(ok("null"), "()");
        assert_eq!(
            ok(r#""a\"b\\c\/\n\t\u00e9\ud83d\ude00""#),
            "a\"b\\c/\n\té😀"
        );
        assert_eq!(ok("[]"), "[]");
        assert_eq!(ok("{}"), "{}");
        assert_eq!(
            ok(r#" { "b" : [1, 2.5, {"x": null}], "a": "é", "c": {} } "#),
            r#"{"b":[1,2.5,{"x":null}],"a":"é","c":{}}"#
        );
        assert_eq!(ok(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(ok("[[[]],[[1]]]"), "[[[]],[[1]]]");
    }

    #[test]
    fn kinds_of_numbers() {
        assert!(matches!(parse_json("3"), Ok(Value::Int(3))));
        assert!(matches!(parse_json("3.0"), Ok(Value::Float(f)) if f == 3.0));
        assert!(matches!(parse_json("3e0"), Ok(Value::Float(f)) if f == 3.0));
        assert!(matches!(parse_json("-0"), Ok(Value::Int(0))));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(
            err("[1,]"),
            "invalid JSON at line 1, column 4: expected value"
        );
        assert_eq!(
            err("[1, ]"),
            "invalid JSON at line 1, column 5: expected value"
        );
        assert_eq!(
            err(""),
            "invalid JSON at line 1, column 1: unexpected end of input, expected value"
        );
        assert_eq!(
            err("[1 2]"),
            "invalid JSON at line 1, column 4: expected `,` or `]`"
        );
        assert_eq!(
            err("{\n  \"a\" 1}"),
            "invalid JSON at line 2, column 7: expected `:`"
        );
        assert_eq!(
            err(r#"{"a":1,}"#),
            "invalid JSON at line 1, column 8: expected string key"
        );
        assert_eq!(
            err("{a:1}"),
            "invalid JSON at line 1, column 2: expected string key"
        );
        assert_eq!(
            err(r#"{"a":1 "b":2}"#),
            "invalid JSON at line 1, column 8: expected `,` or `}`"
        );
        assert_eq!(
            err("1 2"),
            "invalid JSON at line 1, column 3: trailing characters"
        );
        assert_eq!(
            err("tru"),
            "invalid JSON at line 1, column 1: expected value"
        );
        assert_eq!(
            err("nul"),
            "invalid JSON at line 1, column 1: expected value"
        );
        assert_eq!(
            err("\"abc"),
            "invalid JSON at line 1, column 1: unterminated string"
        );
        assert_eq!(
            err("\"é\\x\""),
            "invalid JSON at line 1, column 3: invalid escape"
        );
        assert_eq!(
            err("\"\\u12\""),
            "invalid JSON at line 1, column 2: invalid \\u escape"
        );
        assert_eq!(
            err("\"\\ud800\""),
            "invalid JSON at line 1, column 2: lone surrogate in \\u escape"
        );
        assert_eq!(
            err("\"\\udc00\""),
            "invalid JSON at line 1, column 2: lone surrogate in \\u escape"
        );
        assert_eq!(
            err("\"\\ud800\\u0041\""),
            "invalid JSON at line 1, column 2: lone surrogate in \\u escape"
        );
        assert_eq!(
            err("\"a\nb\""),
            "invalid JSON at line 1, column 3: control character in string"
        );
        assert_eq!(
            err("01"),
            "invalid JSON at line 1, column 2: trailing characters"
        );
        assert_eq!(err("-"), "invalid JSON at line 1, column 2: invalid number");
        assert_eq!(
            err("1."),
            "invalid JSON at line 1, column 3: invalid number"
        );
        assert_eq!(
            err("1e"),
            "invalid JSON at line 1, column 3: invalid number"
        );
        assert_eq!(
            err(".5"),
            "invalid JSON at line 1, column 1: expected value"
        );
        assert_eq!(
            err("1e999"),
            "invalid JSON at line 1, column 1: number out of range"
        );
        assert_eq!(
            err("[1"),
            "invalid JSON at line 1, column 3: unexpected end of input, expected `,` or `]`"
        );
        assert_eq!(
            err("{\"a\""),
            "invalid JSON at line 1, column 5: unexpected end of input, expected `:`"
        );
        assert_eq!(
            err("NaN"),
            "invalid JSON at line 1, column 1: expected value"
        );
        assert_eq!(
            err("\u{feff}1"),
            "invalid JSON at line 1, column 1: expected value"
        );
    }

    #[test]
    fn depth_limit() {
        let deep_ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse_json(&deep_ok).is_ok());
        let too_deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        assert_eq!(
            parse_json(&too_deep).err().as_deref(),
            Some("invalid JSON at line 1, column 1001: nesting deeper than 1000 levels")
        );
        // Hostile: a million open brackets is an error, not a crash.
        assert!(parse_json(&"[{\"a\":".repeat(1_000_000)).is_err());
        assert!(parse_json(&"[".repeat(1_000_000)).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let text = r#"{"a":[1,2.5,"x",null,true,{"b":{}}],"c":-7}"#;
        let sv: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        let v = json_from_serde(&sv);
        assert_eq!(show(&v), text);
        let t = Types::new();
        assert_eq!(json_to_serde(&v, &t).ok(), Some(sv));
        assert!(matches!(json_from_serde(&serde_json::json!(2.0)), Value::Float(f) if f == 2.0));
        assert!(matches!(
            json_from_serde(&serde_json::json!(u64::MAX)),
            Value::Float(_)
        ));
    }

    #[test]
    fn to_serde_records_and_failures() {
        let mut t = Types::new();
        t.add_record(RecordDef {
            name: Some("P".into()),
            fields: vec![
                FieldDef {
                    name: "y".into(),
                    ty: TyId::INT,
                    has_default: false,
                },
                FieldDef {
                    name: "x".into(),
                    ty: TyId::FLOAT,
                    has_default: false,
                },
            ],
        });
        let r = Value::record(RecordId(0), vec![Value::Int(1), Value::Float(f64::NAN)]);
        let sv = json_to_serde(&r, &t);
        assert_eq!(
            sv.map(|v| v.to_string()).ok().as_deref(),
            Some(r#"{"y":1,"x":null}"#)
        );
        assert!(json_to_serde(&Value::Duration(1), &t).is_err());
        assert!(json_to_serde(
            &Value::array(vec![Value::error(crate::check::types::ErrorId(0), "e")]),
            &t
        )
        .is_err());
        let a = Value::array(vec![]);
        if let Value::Array(r) = &a {
            r.borrow_mut().push(a.clone());
        }
        assert_eq!(
            json_to_serde(&a, &t).err().as_deref(),
            Some("cannot convert a cyclic value to JSON")
        );
        if let Value::Array(r) = &a {
            r.borrow_mut().clear();
        }
        // Shared (acyclic) values are fine.
        let s = Value::array(vec![Value::Int(1)]);
        let twice = Value::array(vec![s.clone(), s]);
        assert_eq!(
            json_to_serde(&twice, &t)
                .map(|v| v.to_string())
                .ok()
                .as_deref(),
            Some("[[1],[1]]")
        );
    }

    #[test]
    fn parse_then_print_round_trips() {
        let t = Types::new();
        for text in [
            r#"{"a":[1,2.0,"\"q\""],"b":null}"#,
            "[1.5e-7,1.0e21]",
            r#""x""#,
        ] {
            let v = match parse_json(text) {
                Ok(v) => v,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(to_json_string(&v, &t).as_deref(), Ok(text));
        }
    }
}
