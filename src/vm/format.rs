//! Printing values: `toString()` (§4.2) and JSON text (`toJsonString()`).
//!
//! Both are produced by one iterative writer (an explicit stack instead of
//! recursion), so arbitrarily deep values cannot overflow the Rust stack.
//! A container that contains itself (a cycle through shared arrays, maps or
//! records) prints `...` where it recurs; as JSON it is an error.

use super::value::{ArrayRef, ErrorObj, MapRef, RecordObj, Value};
use crate::check::types::Types;
use rustc_hash::FxHashSet;
use std::fmt::Write as _;
use std::rc::Rc;

/// The text of a float (§4.2, DECISIONS.md): the shortest digits that
/// round-trip, in plain decimal for `1e-6 <= |x| < 1e21` and in exponent form
/// otherwise; the mantissa always has a `.` and the exponent no `+`
/// (`2.0`, `0.1`, `1.0e21`, `1.5e-7`, `-0.0`, `NaN`, `Infinity`, `-Infinity`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let a = f.abs();
    if !(1e-6..1e21).contains(&a) {
        // Rust's `{:e}` prints the shortest round-trip digits: `1e21`, `1.5e-7`.
        let s = format!("{f:e}");
        match s.find('e') {
            Some(pos) if !s[..pos].contains('.') => format!("{}.0{}", &s[..pos], &s[pos..]),
            _ => s,
        }
    } else {
        // Rust's `{}` prints the shortest round-trip digits without exponent.
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// The text of a duration given in nanoseconds (DECISIONS.md): below one
/// second `Nms` with a fraction only when needed (`250ms`, `0.5ms`, `0ms`);
/// otherwise hours, minutes and seconds with zero parts left out and any
/// fraction on the seconds (`2s`, `1.5s`, `1m30s`, `1h`, `1h1m1s`, `1h0.5s`).
/// A negative value (never produced by Flow) prints with a leading `-`.
pub fn format_duration(nanos: i64) -> String {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let n = nanos.unsigned_abs();
    if n < S {
        let _ = write!(out, "{}", n / MS);
        push_fraction(&mut out, n % MS, 6);
        out.push_str("ms");
    } else {
        let secs = n / S;
        let frac = n % S;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if m > 0 {
            let _ = write!(out, "{m}m");
        }
        if s > 0 || frac > 0 {
            let _ = write!(out, "{s}");
            push_fraction(&mut out, frac, 9);
            out.push('s');
        }
    }
    out
}

/// Appends `.DIGITS` (trailing zeros removed) for a non-zero fraction that
/// has `width` decimal digits.
fn push_fraction(out: &mut String, frac: u64, width: usize) {
    if frac == 0 {
        return;
    }
    let digits = format!("{frac:0width$}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// Appends `s` as a JSON string literal (quoted; `"`, `\` and control
/// characters escaped; everything else verbatim).
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `x.toString()` (§4.2): strings bare, scalars as text, containers as
/// compact JSON, errors as `error(MESSAGE)` plus ` DETAIL-JSON` when the
/// detail is non-empty, functions `function`, types `typedesc<T>`.
pub fn to_display_string(v: &Value, types: &Types) -> String {
    match v {
        Value::Nil | Value::Undefined => "()".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Duration(d) => format_duration(*d),
        Value::Str(s) => s.to_string(),
        Value::Func(_) => "function".to_string(),
        Value::Typedesc(t) => format!("typedesc<{}>", types.display(*t)),
        Value::Host(h) => h.label.clone(),
        Value::Cell(c) => {
            let inner = c.borrow().clone();
            to_display_string(&inner, types)
        }
        Value::Error(e) => {
            let mut w = Writer::new(types, Mode::Display);
            w.write_error_text(e);
            w.finish().unwrap_or_default()
        }
        Value::Array(_) | Value::Map(_) | Value::Record(_) => {
            let mut w = Writer::new(types, Mode::Display);
            // Display mode never fails.
            match w.write_value(v) {
                Ok(()) => w.finish().unwrap_or_default(),
                Err(e) => e,
            }
        }
    }
}

/// `x.toJsonString()`: the value as JSON text (a string is quoted, `2.0`
/// stays `2.0`, records are objects in declaration order). Fails for values
/// that are not JSON: durations, errors, functions, typedescs and cyclic
/// containers. Non-finite floats become `null` (as in JavaScript).
pub fn to_json_string(v: &Value, types: &Types) -> Result<String, String> {
    let mut w = Writer::new(types, Mode::Json);
    w.write_value(v)?;
    w.finish()
}

/// Whether the writer produces `toString()` text or strict JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Display,
    Json,
}

/// A container being written, with the index of its next element.
enum Frame {
    Array {
        arr: ArrayRef,
        next: usize,
    },
    Map {
        map: MapRef,
        next: usize,
    },
    Record {
        rec: Rc<RecordObj>,
        next: usize,
    },
    /// The detail map of an error (immutable, not a shared container).
    Detail {
        err: Rc<ErrorObj>,
        next: usize,
    },
    /// End of an error's text inside a container: quote the current buffer
    /// into the enclosing one.
    Quote,
}

/// The iterative writer.
struct Writer<'t> {
    types: &'t Types,
    mode: Mode,
    /// Output buffers; the last is current (errors inside containers are
    /// written to their own buffer, then quoted).
    bufs: Vec<String>,
    stack: Vec<Frame>,
    /// Containers currently open (by address), to detect cycles.
    active: FxHashSet<usize>,
}

fn addr<T: ?Sized>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const () as usize
}

impl<'t> Writer<'t> {
    fn new(types: &'t Types, mode: Mode) -> Self {
        Writer {
            types,
            mode,
            bufs: vec![String::new()],
            stack: Vec::new(),
            active: FxHashSet::default(),
        }
    }

    fn out(&mut self) -> &mut String {
        if self.bufs.is_empty() {
            self.bufs.push(String::new());
        }
        let last = self.bufs.len() - 1;
        &mut self.bufs[last]
    }

    /// Runs the stack to completion and returns the text.
    fn finish(mut self) -> Result<String, String> {
        self.run()?;
        Ok(self.bufs.into_iter().next().unwrap_or_default())
    }

    /// `error(MESSAGE)` and ` {detail}`; the detail map is pushed as a frame.
    fn write_error_text(&mut self, e: &Rc<ErrorObj>) {
        let out = self.out();
        out.push_str("error(");
        out.push_str(&e.message);
        out.push(')');
        if !e.detail.is_empty() {
            out.push_str(" {");
            self.stack.push(Frame::Detail {
                err: e.clone(),
                next: 0,
            });
        }
    }

    /// Starts a container, or writes `...` (display) / fails (JSON) when it is
    /// already open further up (a cycle).
    fn open(&mut self, key: usize, bracket: char, frame: Frame) -> Result<(), String> {
        if !self.active.insert(key) {
            return match self.mode {
                Mode::Display => {
                    self.out().push_str("...");
                    Ok(())
                }
                Mode::Json => Err("cannot convert a cyclic value to JSON".to_string()),
            };
        }
        self.out().push(bracket);
        self.stack.push(frame);
        Ok(())
    }

    /// Writes a value in JSON position (inside a container, or the whole of
    /// a `toJsonString()`); containers are opened and finished by `run`.
    fn write_value(&mut self, v: &Value) -> Result<(), String> {
        let mode = self.mode;
        match v {
            Value::Nil | Value::Undefined => self.out().push_str("null"),
            Value::Bool(b) => {
                let _ = write!(self.out(), "{b}");
            }
            Value::Int(i) => {
                let _ = write!(self.out(), "{i}");
            }
            Value::Float(f) => {
                let text = if mode == Mode::Json && !f.is_finite() {
                    "null".to_string()
                } else {
                    format_float(*f)
                };
                self.out().push_str(&text);
            }
            Value::Str(s) => write_json_string(self.out(), s),
            Value::Duration(d) => {
                if mode == Mode::Json {
                    return Err("cannot convert a duration to JSON".to_string());
                }
                write_json_string(self.out(), &format_duration(*d));
            }
            Value::Func(_) => {
                if mode == Mode::Json {
                    return Err("cannot convert a function to JSON".to_string());
                }
                self.out().push_str("\"function\"");
            }
            Value::Typedesc(t) => {
                if mode == Mode::Json {
                    return Err("cannot convert a typedesc to JSON".to_string());
                }
                let text = format!("typedesc<{}>", self.types.display(*t));
                write_json_string(self.out(), &text);
            }
            Value::Host(h) => {
                if mode == Mode::Json {
                    return Err(format!("cannot convert an {} to JSON", h.type_name));
                }
                write_json_string(self.out(), &h.label);
            }
            Value::Cell(c) => {
                let inner = c.borrow().clone();
                self.write_value(&inner)?;
            }
            Value::Error(e) => {
                if mode == Mode::Json {
                    return Err("cannot convert an error to JSON".to_string());
                }
                self.stack.push(Frame::Quote);
                self.bufs.push(String::new());
                self.write_error_text(e);
            }
            Value::Array(a) => {
                let frame = Frame::Array {
                    arr: a.clone(),
                    next: 0,
                };
                self.open(addr(a), '[', frame)?;
            }
            Value::Map(m) => {
                let frame = Frame::Map {
                    map: m.clone(),
                    next: 0,
                };
                self.open(addr(m), '{', frame)?;
            }
            Value::Record(r) => {
                let frame = Frame::Record {
                    rec: r.clone(),
                    next: 0,
                };
                self.open(addr(r), '{', frame)?;
            }
        }
        Ok(())
    }

    /// Writes `"key":` (with a leading `,` after the first entry).
    fn write_key(&mut self, index: usize, key: &str) {
        let out = self.out();
        if index > 0 {
            out.push(',');
        }
        write_json_string(out, key);
        out.push(':');
    }

    /// Processes frames until the stack is empty.
    fn run(&mut self) -> Result<(), String> {
        while let Some(frame) = self.stack.pop() {
            match frame {
                Frame::Array { arr, next } => {
                    let item = arr.borrow().get(next).cloned();
                    match item {
                        Some(item) => {
                            if next > 0 {
                                self.out().push(',');
                            }
                            self.stack.push(Frame::Array {
                                arr,
                                next: next + 1,
                            });
                            self.write_value(&item)?;
                        }
                        None => {
                            self.out().push(']');
                            self.active.remove(&addr(&arr));
                        }
                    }
                }
                Frame::Map { map, next } => {
                    let entry = map
                        .borrow()
                        .get_index(next)
                        .map(|(k, v)| (k.clone(), v.clone()));
                    match entry {
                        Some((k, v)) => {
                            self.write_key(next, &k);
                            self.stack.push(Frame::Map {
                                map,
                                next: next + 1,
                            });
                            self.write_value(&v)?;
                        }
                        None => {
                            self.out().push('}');
                            self.active.remove(&addr(&map));
                        }
                    }
                }
                Frame::Record { rec, next } => {
                    let name = self
                        .types
                        .record(rec.rec)
                        .fields
                        .get(next)
                        .map(|f| f.name.clone());
                    let value = rec.fields.borrow().get(next).cloned();
                    match (name, value) {
                        (Some(name), Some(v)) => {
                            self.write_key(next, &name);
                            self.stack.push(Frame::Record {
                                rec,
                                next: next + 1,
                            });
                            self.write_value(&v)?;
                        }
                        _ => {
                            self.out().push('}');
                            self.active.remove(&addr(&rec));
                        }
                    }
                }
                Frame::Detail { err, next } => {
                    let entry = err
                        .detail
                        .get_index(next)
                        .map(|(k, v)| (k.clone(), v.clone()));
                    match entry {
                        Some((k, v)) => {
                            self.write_key(next, &k);
                            self.stack.push(Frame::Detail {
                                err,
                                next: next + 1,
                            });
                            self.write_value(&v)?;
                        }
                        None => self.out().push('}'),
                    }
                }
                Frame::Quote => {
                    let inner = if self.bufs.len() > 1 {
                        self.bufs.pop().unwrap_or_default()
                    } else {
                        String::new()
                    };
                    write_json_string(self.out(), &inner);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::types::{ErrorId, FieldDef, RecordDef, TyId};
    use crate::vm::value::{ErrorObj, MapObj};

    fn map(entries: Vec<(&str, Value)>) -> Value {
        let mut m = MapObj::default();
        for (k, v) in entries {
            m.insert(k.into(), v);
        }
        Value::map(m)
    }

    fn err_with(msg: &str, detail: Vec<(&str, Value)>) -> Value {
        let mut d = MapObj::default();
        for (k, v) in detail {
            d.insert(k.into(), v);
        }
        Value::Error(Rc::new(ErrorObj {
            ty: ErrorId(0),
            message: msg.into(),
            detail: d,
            cause: None,
            trace: Vec::new(),
        }))
    }

    fn order_types() -> (Types, TyId) {
        let mut t = Types::new();
        let ty = t.add_record(RecordDef {
            name: Some("Order".into()),
            fields: vec![
                FieldDef {
                    name: "id".into(),
                    ty: TyId::INT,
                    has_default: false,
                },
                FieldDef {
                    name: "item".into(),
                    ty: TyId::STRING,
                    has_default: false,
                },
            ],
        });
        (t, ty)
    }

    #[test]
    fn floats() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (2.0, "2.0"),
            (-2.0, "-2.0"),
            (1e21, "1.0e21"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1.0e-7"),
            (1e-6, "0.000001"),
            (123456789.0, "123456789.0"),
            (1e20, "100000000000000000000.0"),
            (1.2345e22, "1.2345e22"),
            (-1.5e300, "-1.5e300"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, "5.0e-324"),
            (f64::MAX, "1.7976931348623157e308"),
            (1.0 / 3.0, "0.3333333333333333"),
            (9.999999999999999e20, "999999999999999900000.0"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(*f), *want, "{f:?}");
        }
    }

    #[test]
    fn durations() {
        const MS: i64 = 1_000_000;
        const S: i64 = 1_000_000_000;
        let cases: &[(i64, &str)] = &[
            (0, "0ms"),
            (250 * MS, "250ms"),
            (MS / 2, "0.5ms"),
            (1, "0.000001ms"),
            (2 * S, "2s"),
            (3 * S / 2, "1.5s"),
            (90 * S, "1m30s"),
            (60 * S, "1m"),
            (3600 * S, "1h"),
            (3661 * S, "1h1m1s"),
            (3600 * S + S / 2, "1h0.5s"),
            (S + 1, "1.000000001s"),
            (999 * MS, "999ms"),
            (25 * 3600 * S, "25h"),
            (-250 * MS, "-250ms"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (n, want) in cases {
            assert_eq!(format_duration(*n), *want, "{n}");
        }
    }

    #[test]
    fn scalars_display() {
        let t = Types::new();
        assert_eq!(to_display_string(&Value::str("hi \"x\""), &t), "hi \"x\"");
        assert_eq!(to_display_string(&Value::Int(-42), &t), "-42");
        assert_eq!(to_display_string(&Value::Float(2.0), &t), "2.0");
        assert_eq!(to_display_string(&Value::Bool(true), &t), "true");
        assert_eq!(to_display_string(&Value::Bool(false), &t), "false");
        assert_eq!(to_display_string(&Value::Nil, &t), "()");
        assert_eq!(
            to_display_string(&Value::Duration(90_000_000_000), &t),
            "1m30s"
        );
        assert_eq!(
            to_display_string(&Value::Typedesc(TyId::INT), &t),
            "typedesc<int>"
        );
    }

    #[test]
    fn containers_display() {
        let (t, ty) = order_types();
        let arr = Value::array(vec![Value::Int(1), Value::Int(2), Value::str("a")]);
        assert_eq!(to_display_string(&arr, &t), r#"[1,2,"a"]"#);
        let rid = match t.kind(ty) {
            crate::check::types::TyKind::Record(r) => *r,
            _ => unreachable!(),
        };
        let rec = Value::record(rid, vec![Value::Int(1), Value::str("pen")]);
        assert_eq!(to_display_string(&rec, &t), r#"{"id":1,"item":"pen"}"#);
        let m = map(vec![
            ("z", Value::Nil),
            ("a", Value::Float(1.0)),
            ("d", Value::Duration(2_000_000_000)),
            ("s", Value::str("q\"\n\u{1}é")),
            ("n", Value::array(vec![rec.clone(), Value::array(vec![])])),
            ("e", map(vec![])),
            ("x", Value::Float(f64::NAN)),
        ]);
        assert_eq!(
            to_display_string(&m, &t),
            r#"{"z":null,"a":1.0,"d":"2s","s":"q\"\n\u0001é","n":[{"id":1,"item":"pen"},[]],"e":{},"x":NaN}"#
        );
        assert_eq!(to_display_string(&Value::array(vec![]), &t), "[]");
    }

    #[test]
    fn errors_display() {
        let t = Types::new();
        let e = Value::error(ErrorId(0), "not found");
        assert_eq!(to_display_string(&e, &t), "error(not found)");
        let e2 = err_with("not found", vec![("status", Value::Int(404))]);
        assert_eq!(
            to_display_string(&e2, &t),
            r#"error(not found) {"status":404}"#
        );
        let arr = Value::array(vec![e.clone(), e2.clone()]);
        assert_eq!(
            to_display_string(&arr, &t),
            r#"["error(not found)","error(not found) {\"status\":404}"]"#
        );
        // Errors nested in details nested in containers.
        let e3 = err_with("outer", vec![("inner", Value::array(vec![e2]))]);
        assert_eq!(
            to_display_string(&e3, &t),
            r#"error(outer) {"inner":["error(not found) {\"status\":404}"]}"#
        );
        assert_eq!(
            to_display_string(&Value::array(vec![e3]), &t),
            r#"["error(outer) {\"inner\":[\"error(not found) {\\\"status\\\":404}\"]}"]"#
        );
    }

    #[test]
    fn functions_and_typedescs_in_containers() {
        let t = Types::new();
        let arr = Value::array(vec![Value::Typedesc(TyId::STRING)]);
        assert_eq!(to_display_string(&arr, &t), r#"["typedesc<string>"]"#);
        assert!(to_json_string(&arr, &t).is_err());
    }

    #[test]
    fn json_strings() {
        let (t, _) = order_types();
        assert_eq!(
            to_json_string(&Value::str("a\"b"), &t).as_deref(),
            Ok(r#""a\"b""#)
        );
        assert_eq!(to_json_string(&Value::Float(2.0), &t).as_deref(), Ok("2.0"));
        assert_eq!(to_json_string(&Value::Nil, &t).as_deref(), Ok("null"));
        assert_eq!(
            to_json_string(&Value::Float(f64::NAN), &t).as_deref(),
            Ok("null")
        );
        assert_eq!(
            to_json_string(&Value::Float(1e21), &t).as_deref(),
            Ok("1.0e21")
        );
        let m = map(vec![(
            "a",
            Value::array(vec![Value::Int(1), Value::Bool(true)]),
        )]);
        assert_eq!(to_json_string(&m, &t).as_deref(), Ok(r#"{"a":[1,true]}"#));
        assert!(to_json_string(&Value::Duration(1), &t).is_err());
        assert!(to_json_string(&Value::error(ErrorId(0), "x"), &t).is_err());
        let nested = Value::array(vec![map(vec![("d", Value::Duration(5))])]);
        assert_eq!(
            to_json_string(&nested, &t),
            Err("cannot convert a duration to JSON".to_string())
        );
    }

    #[test]
    fn cycles_do_not_hang() {
        let t = Types::new();
        let a = Value::array(vec![Value::Int(1)]);
        if let Value::Array(r) = &a {
            r.borrow_mut().push(a.clone());
        }
        assert_eq!(to_display_string(&a, &t), "[1,...]");
        assert!(to_json_string(&a, &t).is_err());
        // Shared (not cyclic) values print twice.
        let shared = Value::array(vec![Value::Int(7)]);
        let twice = Value::array(vec![shared.clone(), shared]);
        assert_eq!(to_display_string(&twice, &t), "[[7],[7]]");
        // Break the cycle so the test does not leak.
        if let Value::Array(r) = &a {
            r.borrow_mut().clear();
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let t = Types::new();
        let mut v = Value::Int(0);
        for _ in 0..100_000 {
            v = Value::array(vec![v]);
        }
        let s = to_display_string(&v, &t);
        assert_eq!(s.len(), 200_001);
        assert!(s.starts_with("[[[") && s.ends_with("]]]"));
        // Tear down iteratively (Value's drop is recursive).
        let mut cur = v;
        while let Value::Array(a) = cur {
            let next = a.borrow_mut().pop().unwrap_or_default();
            cur = next;
        }
    }
}
