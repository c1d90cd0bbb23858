//! The lang-library methods (§7.6) that run natively: `call_method` with the
//! receiver as `args[0]`. The higher-order array methods (`map`, `filter`,
//! `reduce`, `forEach`, `some`, `every`) are compiled to loops; `sort(keyFn)`
//! computes the keys in Flow and finishes with [`sort_by_keys`].
//!
//! Strings are indexed by Unicode scalar values. `push`, `pop` and `remove`
//! change their receiver; every other method returns a new value.

use super::convert::{clone_with_type_value, deep_clone};
use super::equality::deep_equal_typed;
use super::format::{format_float, to_display_string, to_json_string, write_json_string};
use super::json::parse_json;
use super::value::{MapObj, Panic, Str, Value, VmResult};
use crate::check::tir::Method;
use crate::check::types::{ErrorId, Types};
use std::cmp::Ordering;

/// The longest string `repeat` may build, in bytes.
pub const MAX_REPEAT_BYTES: usize = 1 << 30;

/// Runs a non-higher-order lang-library method; `args[0]` is the receiver.
///
/// `cloneWithType(T)` runs here without record defaults (a missing field
/// that has a default is then reported missing, unless its type includes
/// `()`); callers that know the defaults use
/// [`crate::vm::convert::clone_with_type`] directly.
pub fn call_method(m: Method, args: &[Value], types: &Types) -> VmResult<Value> {
    let recv = arg(args, 0)?;
    match m {
        Method::ToString => Ok(Value::str(to_display_string(recv, types))),
        Method::ToJsonString => to_json_string(recv, types)
            .map(Value::str)
            .map_err(Panic::msg),
        Method::Clone => Ok(deep_clone(recv)),
        Method::CloneWithType(ty) => Ok(clone_with_type_value(recv, ty, types, &|_, _| None)),

        Method::StrLength => Ok(Value::Int(count(str_arg(args, 0)?.chars().count()))),
        Method::StrToUpper => Ok(Value::str(str_arg(args, 0)?.to_uppercase())),
        Method::StrToLower => Ok(Value::str(str_arg(args, 0)?.to_lowercase())),
        Method::StrTrim => Ok(Value::str(str_arg(args, 0)?.trim())),
        Method::StrSplit => {
            let (s, sep) = (str_arg(args, 0)?, str_arg(args, 1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::str(c.to_string())).collect()
            } else {
                s.split(&**sep).map(Value::str).collect()
            };
            Ok(Value::array(parts))
        }
        Method::StrContains => Ok(Value::Bool(
            str_arg(args, 0)?.contains(&**str_arg(args, 1)?),
        )),
        Method::StrStartsWith => Ok(Value::Bool(
            str_arg(args, 0)?.starts_with(&**str_arg(args, 1)?),
        )),
        Method::StrEndsWith => Ok(Value::Bool(
            str_arg(args, 0)?.ends_with(&**str_arg(args, 1)?),
        )),
        Method::StrSubstring => substring(str_arg(args, 0)?, args),
        Method::StrIndexOf => {
            let (s, sub) = (str_arg(args, 0)?, str_arg(args, 1)?);
            Ok(match s.find(&**sub) {
                Some(byte) => Value::Int(count(s.get(..byte).map_or(0, |p| p.chars().count()))),
                None => Value::Nil,
            })
        }
        Method::StrReplace => {
            let (s, from, to) = (str_arg(args, 0)?, str_arg(args, 1)?, str_arg(args, 2)?);
            Ok(Value::str(s.replace(&**from, to)))
        }
        Method::StrFromJsonString => Ok(match parse_json(str_arg(args, 0)?) {
            Ok(v) => v,
            Err(msg) => Value::error(ErrorId(0), msg),
        }),
        Method::StrRepeat => {
            let (s, n) = (str_arg(args, 0)?, int_arg(args, 1)?);
            if n < 0 {
                return Err(Panic::msg(format!("negative repeat count: {n}")));
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            match s.len().checked_mul(n) {
                Some(total) if total <= MAX_REPEAT_BYTES => Ok(Value::str(s.repeat(n))),
                _ => Err(Panic::msg("string too long")),
            }
        }

        Method::IntAbs => int_arg(args, 0)?
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| Panic::msg("integer overflow")),
        Method::FloatAbs => Ok(Value::Float(float_arg(args, 0)?.abs())),
        Method::FloatRound => float_to_int(float_arg(args, 0)?.round_ties_even()),
        Method::FloatFloor => float_to_int(float_arg(args, 0)?.floor()),
        Method::FloatCeil => float_to_int(float_arg(args, 0)?.ceil()),
        Method::FloatIsNaN => Ok(Value::Bool(float_arg(args, 0)?.is_nan())),
        Method::IntFromString => {
            let s = str_arg(args, 0)?;
            Ok(match s.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => invalid("int", s),
            })
        }
        Method::FloatFromString => {
            let s = str_arg(args, 0)?;
            Ok(match parse_float(s) {
                Some(f) => Value::Float(f),
                None => invalid("float", s),
            })
        }

        Method::ArrLength => Ok(Value::Int(count(array_arg(args, 0)?.borrow().len()))),
        Method::ArrPush => {
            let a = array_arg(args, 0)?;
            a.borrow_mut().extend(args.iter().skip(1).cloned());
            Ok(Value::Nil)
        }
        Method::ArrPop => Ok(array_arg(args, 0)?.borrow_mut().pop().unwrap_or(Value::Nil)),
        Method::ArrSlice => {
            let items = array_arg(args, 0)?.borrow();
            let (start, end) = range_args(args, items.len(), "slice")?;
            Ok(Value::array(
                items
                    .get(start..end)
                    .map(<[Value]>::to_vec)
                    .unwrap_or_default(),
            ))
        }
        Method::ArrIndexOf => {
            let (items, x) = (array_arg(args, 0)?.borrow(), arg(args, 1)?);
            Ok(
                match items.iter().position(|y| deep_equal_typed(y, x, types)) {
                    Some(i) => Value::Int(count(i)),
                    None => Value::Nil,
                },
            )
        }
        Method::ArrContains => {
            let (items, x) = (array_arg(args, 0)?.borrow(), arg(args, 1)?);
            Ok(Value::Bool(
                items.iter().any(|y| deep_equal_typed(y, x, types)),
            ))
        }
        Method::ArrReverse => {
            let items = array_arg(args, 0)?.borrow();
            Ok(Value::array(items.iter().rev().cloned().collect()))
        }
        Method::ArrSort => {
            let items = array_arg(args, 0)?.borrow();
            sort_by_keys(&items, &items)
        }
        Method::ArrJoin => {
            let (items, sep) = (array_arg(args, 0)?.borrow(), str_arg(args, 1)?);
            let parts: Vec<String> = items
                .iter()
                .map(|x| match x {
                    Value::Str(s) => s.to_string(),
                    other => to_display_string(other, types),
                })
                .collect();
            Ok(Value::str(parts.join(sep)))
        }
        Method::ArrSortBy
        | Method::ArrMap
        | Method::ArrFilter
        | Method::ArrReduce
        | Method::ArrForEach
        | Method::ArrSome
        | Method::ArrEvery => Err(Panic::msg("internal: higher-order method called natively")),

        Method::MapLength => match recv {
            Value::Map(m) => Ok(Value::Int(count(m.borrow().len()))),
            other => Ok(Value::Int(count(map_entries(other, types)?.len()))),
        },
        Method::MapKeys => Ok(Value::array(
            map_entries(recv, types)?
                .into_iter()
                .map(|(k, _)| Value::Str(k))
                .collect(),
        )),
        Method::MapValues => Ok(Value::array(
            map_entries(recv, types)?
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        )),
        Method::MapHasKey => {
            let k = str_arg(args, 1)?;
            Ok(Value::Bool(map_lookup(recv, k, types)?.is_some()))
        }
        Method::MapGet => {
            let k = str_arg(args, 1)?;
            Ok(map_lookup(recv, k, types)?.unwrap_or(Value::Nil))
        }
        Method::MapRemove => {
            let k = str_arg(args, 1)?;
            match recv {
                Value::Map(m) => Ok(m.borrow_mut().shift_remove(k).unwrap_or(Value::Nil)),
                Value::Record(_) => Err(Panic::msg(format!(
                    "cannot remove field \"{k}\": the value is a record"
                ))),
                other => Err(bad_receiver("map", other)),
            }
        }

        Method::DurMilliseconds => Ok(Value::Int(duration_arg(args, 0)? / 1_000_000)),
        Method::DurSeconds => Ok(Value::Float(duration_arg(args, 0)? as f64 / 1e9)),

        Method::ErrMessage => match recv {
            Value::Error(e) => Ok(Value::Str(e.message.clone())),
            other => Err(bad_receiver("error", other)),
        },
        Method::ErrDetail => match recv {
            Value::Error(e) => {
                let copy: MapObj = e
                    .detail
                    .iter()
                    .map(|(k, v)| (k.clone(), deep_clone(v)))
                    .collect();
                Ok(Value::map(copy))
            }
            other => Err(bad_receiver("error", other)),
        },
        Method::ErrCause => match recv {
            Value::Error(e) => Ok(e.cause.clone().unwrap_or(Value::Nil)),
            other => Err(bad_receiver("error", other)),
        },
    }
}

/// Orders two values of the same sortable kind: ints, floats (a total
/// order with every NaN last, `-0.0 == 0.0`), strings (by code point) and
/// durations. `None` for other kinds or mixed kinds.
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Some(match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        }),
        // UTF-8 byte order is code point order.
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `a.sort(keyFn)` after the keys are computed: a new array of `items`
/// stably ordered by the parallel `keys` (compared as by `sort()`). Panics
/// (as a Flow panic) when the lengths differ or keys cannot be compared.
pub fn sort_by_keys(items: &[Value], keys: &[Value]) -> VmResult<Value> {
    if items.len() != keys.len() {
        return Err(Panic::msg("internal: sort keys do not match the array"));
    }
    if let Some(first) = keys.first() {
        if let Some(bad) = keys.iter().find(|k| compare_values(first, k).is_none()) {
            return Err(Panic::msg(if bad.kind_name() == first.kind_name() {
                format!("cannot sort values of type {}", first.kind_name())
            } else {
                format!(
                    "cannot sort values of different types: {} and {}",
                    first.kind_name(),
                    bad.kind_name()
                )
            }));
        }
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&i, &j| match (keys.get(i), keys.get(j)) {
        (Some(a), Some(b)) => compare_values(a, b).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    });
    Ok(Value::array(
        order
            .into_iter()
            .filter_map(|i| items.get(i).cloned())
            .collect(),
    ))
}

// ---- argument helpers -------------------------------------------------------

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn bad_receiver(expected: &str, found: &Value) -> Panic {
    Panic::msg(format!(
        "internal type error: expected {expected}, found {}",
        found.kind_name()
    ))
}

fn arg(args: &[Value], i: usize) -> VmResult<&Value> {
    args.get(i)
        .ok_or_else(|| Panic::msg("internal: missing method argument"))
}

fn str_arg(args: &[Value], i: usize) -> VmResult<&Str> {
    match arg(args, i)? {
        Value::Str(s) => Ok(s),
        other => Err(bad_receiver("string", other)),
    }
}

fn int_arg(args: &[Value], i: usize) -> VmResult<i64> {
    match arg(args, i)? {
        Value::Int(n) => Ok(*n),
        other => Err(bad_receiver("int", other)),
    }
}

fn float_arg(args: &[Value], i: usize) -> VmResult<f64> {
    match arg(args, i)? {
        Value::Float(f) => Ok(*f),
        other => Err(bad_receiver("float", other)),
    }
}

fn duration_arg(args: &[Value], i: usize) -> VmResult<i64> {
    match arg(args, i)? {
        Value::Duration(d) => Ok(*d),
        other => Err(bad_receiver("duration", other)),
    }
}

fn array_arg(args: &[Value], i: usize) -> VmResult<&super::value::ArrayRef> {
    match arg(args, i)? {
        Value::Array(a) => Ok(a),
        other => Err(bad_receiver("array", other)),
    }
}

/// `start` and the optional `end` (`()` or absent: the length) of
/// `substring`/`slice`, checked against `len`.
fn range_args(args: &[Value], len: usize, what: &str) -> VmResult<(usize, usize)> {
    let start = int_arg(args, 1)?;
    let end = match args.get(2) {
        None | Some(Value::Nil | Value::Undefined) => count(len),
        Some(Value::Int(e)) => *e,
        Some(other) => return Err(bad_receiver("int", other)),
    };
    let ok = 0 <= start && start <= end && end <= count(len);
    match (ok, usize::try_from(start), usize::try_from(end)) {
        (true, Ok(s), Ok(e)) => Ok((s, e)),
        _ => Err(Panic::msg(format!(
            "{what} index out of range: start {start}, end {end}, length {len}"
        ))),
    }
}

fn substring(s: &str, args: &[Value]) -> VmResult<Value> {
    let len = s.chars().count();
    let (start, end) = range_args(args, len, "substring")?;
    let text: String = s.chars().skip(start).take(end - start).collect();
    Ok(Value::str(text))
}

/// `float` → `int` for `round`/`floor`/`ceil` and `<int>` (the float is
/// already integral): panics on NaN, infinities and out-of-range values.
pub fn float_to_int(f: f64) -> VmResult<Value> {
    // -2^63 is exact; 2^63 is the first float above i64::MAX.
    if f.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        Ok(Value::Int(f as i64))
    } else {
        Err(Panic::msg(format!(
            "cannot convert {} to int",
            format_float(f)
        )))
    }
}

/// `float:fromString`: Rust's float syntax (`1.5`, `-2e3`, `2`), plus Flow's
/// own printed forms `NaN`, `Infinity`, `-Infinity`; no surrounding spaces.
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => {
            // Reject Rust's spelled-out forms (`inf`, `nan`, `infinity`).
            if s.bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
            {
                return None;
            }
            s.parse::<f64>().ok()
        }
    }
}

/// The error value of a failed `int:fromString` / `float:fromString`:
/// `invalid int: "abc"`.
fn invalid(what: &str, s: &str) -> Value {
    let mut msg = format!("invalid {what}: ");
    write_json_string(&mut msg, s);
    Value::error(ErrorId(0), msg)
}

/// Entries of a map receiver (a record assigned to a `map<T>` reads by
/// field name).
fn map_entries(v: &Value, types: &Types) -> VmResult<Vec<(Str, Value)>> {
    match v {
        Value::Map(m) => Ok(m
            .borrow()
            .iter()
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect()),
        Value::Record(r) => {
            let def = types.record(r.rec);
            Ok(def
                .fields
                .iter()
                .zip(r.fields.borrow().iter())
                .map(|(f, x)| (Str::from(&*f.name), x.clone()))
                .collect())
        }
        other => Err(bad_receiver("map", other)),
    }
}

fn map_lookup(v: &Value, k: &str, types: &Types) -> VmResult<Option<Value>> {
    match v {
        Value::Map(m) => Ok(m.borrow().get(k).cloned()),
        Value::Record(r) => {
            let def = types.record(r.rec);
            Ok(def
                .field_index(k)
                .and_then(|i| r.fields.borrow().get(i).cloned()))
        }
        other => Err(bad_receiver("map", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::types::{FieldDef, RecordDef, RecordId, TyId};
    use crate::vm::value::ErrorObj;
    use std::rc::Rc;

    fn call(m: Method, args: Vec<Value>) -> VmResult<Value> {
        call_method(m, &args, &Types::new())
    }

    fn show(r: VmResult<Value>) -> String {
        match r {
            Ok(v) => to_display_string(&v, &Types::new()),
            Err(Panic::Message(m)) => format!("panic: {m}"),
            Err(Panic::Error(e)) => format!("panic: {}", to_display_string(&e, &Types::new())),
        }
    }

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn i(x: i64) -> Value {
        Value::Int(x)
    }

    fn f(x: f64) -> Value {
        Value::Float(x)
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::array(items)
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        let mut m = MapObj::default();
        for (k, v) in entries {
            m.insert(k.into(), v);
        }
        Value::map(m)
    }

    #[test]
    fn any_value_methods() {
        assert_eq!(show(call(Method::ToString, vec![f(2.0)])), "2.0");
        assert_eq!(
            show(call(Method::ToString, vec![arr(vec![s("a")])])),
            r#"["a"]"#
        );
        let js = call(Method::ToJsonString, vec![s("a\"")]);
        assert!(matches!(&js, Ok(Value::Str(x)) if &**x == r#""a\"""#));
        assert_eq!(
            show(call(Method::ToJsonString, vec![Value::Duration(1)])),
            "panic: cannot convert a duration to JSON"
        );
        let orig = arr(vec![arr(vec![i(1)])]);
        let copy = call(Method::Clone, vec![orig.clone()]);
        if let (Value::Array(a), Ok(Value::Array(b))) = (&orig, &copy) {
            assert!(!Rc::ptr_eq(a, b));
        } else {
            panic!("clone");
        }
        assert_eq!(show(copy), "[[1]]");
        let ints = {
            let mut t = Types::new();
            let a = t.array(TyId::INT);
            (t, a)
        };
        let ok = call_method(Method::CloneWithType(ints.1), &[arr(vec![i(1)])], &ints.0);
        assert_eq!(show(ok), "[1]");
        let bad = call_method(Method::CloneWithType(ints.1), &[arr(vec![s("x")])], &ints.0);
        assert_eq!(show(bad), "error($[0]: expected int, found string)");
    }

    #[test]
    fn string_methods() {
        assert_eq!(show(call(Method::StrLength, vec![s("héllo😀")])), "6");
        assert_eq!(show(call(Method::StrToUpper, vec![s("abcß")])), "ABCSS");
        assert_eq!(show(call(Method::StrToLower, vec![s("ÀBC")])), "àbc");
        assert_eq!(show(call(Method::StrTrim, vec![s(" \t x y \n")])), "x y");
        assert_eq!(
            show(call(Method::StrSplit, vec![s("a,b,,c"), s(",")])),
            r#"["a","b","","c"]"#
        );
        assert_eq!(
            show(call(Method::StrSplit, vec![s("aé😀"), s("")])),
            r#"["a","é","😀"]"#
        );
        assert_eq!(show(call(Method::StrSplit, vec![s(""), s(",")])), r#"[""]"#);
        assert_eq!(
            show(call(Method::StrSplit, vec![s("a::b"), s("::")])),
            r#"["a","b"]"#
        );
        assert_eq!(
            show(call(Method::StrContains, vec![s("hello"), s("ell")])),
            "true"
        );
        assert_eq!(
            show(call(Method::StrContains, vec![s("hello"), s("xyz")])),
            "false"
        );
        assert_eq!(
            show(call(Method::StrStartsWith, vec![s("hello"), s("he")])),
            "true"
        );
        assert_eq!(
            show(call(Method::StrStartsWith, vec![s("hello"), s("lo")])),
            "false"
        );
        assert_eq!(
            show(call(Method::StrEndsWith, vec![s("hello"), s("lo")])),
            "true"
        );
        assert_eq!(
            show(call(Method::StrEndsWith, vec![s("hello"), s("he")])),
            "false"
        );
        assert_eq!(
            show(call(Method::StrSubstring, vec![s("héllo"), i(1), i(3)])),
            "él"
        );
        assert_eq!(
            show(call(
                Method::StrSubstring,
                vec![s("héllo"), i(2), Value::Nil]
            )),
            "llo"
        );
        assert_eq!(
            show(call(Method::StrSubstring, vec![s("héllo"), i(2)])),
            "llo"
        );
        assert_eq!(
            show(call(
                Method::StrSubstring,
                vec![s("héllo"), i(5), Value::Nil]
            )),
            ""
        );
        assert_eq!(
            show(call(Method::StrSubstring, vec![s("hello"), i(2), i(9)])),
            "panic: substring index out of range: start 2, end 9, length 5"
        );
        assert_eq!(
            show(call(Method::StrSubstring, vec![s("hello"), i(3), i(2)])),
            "panic: substring index out of range: start 3, end 2, length 5"
        );
        assert_eq!(
            show(call(
                Method::StrSubstring,
                vec![s("hello"), i(-1), Value::Nil]
            )),
            "panic: substring index out of range: start -1, end 5, length 5"
        );
        assert_eq!(
            show(call(Method::StrIndexOf, vec![s("héllo"), s("l")])),
            "2"
        );
        assert_eq!(
            show(call(Method::StrIndexOf, vec![s("héllo"), s("z")])),
            "()"
        );
        assert_eq!(show(call(Method::StrIndexOf, vec![s("abc"), s("")])), "0");
        assert_eq!(
            show(call(Method::StrReplace, vec![s("a-b-c"), s("-"), s("+")])),
            "a+b+c"
        );
        assert_eq!(
            show(call(Method::StrReplace, vec![s("aaa"), s("aa"), s("b")])),
            "ba"
        );
        assert_eq!(show(call(Method::StrRepeat, vec![s("ab"), i(3)])), "ababab");
        assert_eq!(show(call(Method::StrRepeat, vec![s("ab"), i(0)])), "");
        assert_eq!(
            show(call(Method::StrRepeat, vec![s("ab"), i(-1)])),
            "panic: negative repeat count: -1"
        );
        assert_eq!(
            show(call(Method::StrRepeat, vec![s("ab"), i(i64::MAX)])),
            "panic: string too long"
        );
        assert_eq!(show(call(Method::StrRepeat, vec![s(""), i(i64::MAX)])), "");
    }

    #[test]
    fn from_json_string() {
        assert_eq!(
            show(call(Method::StrFromJsonString, vec![s(r#"{"a":[1,2.0]}"#)])),
            r#"{"a":[1,2.0]}"#
        );
        let e = call(Method::StrFromJsonString, vec![s("[1,")]);
        assert!(matches!(&e, Ok(Value::Error(_))));
        assert_eq!(
            show(e),
            "error(invalid JSON at line 1, column 4: unexpected end of input, expected value)"
        );
    }

    #[test]
    fn number_methods() {
        assert_eq!(show(call(Method::IntAbs, vec![i(-5)])), "5");
        assert_eq!(
            show(call(Method::IntAbs, vec![i(i64::MIN)])),
            "panic: integer overflow"
        );
        assert_eq!(show(call(Method::FloatAbs, vec![f(-2.5)])), "2.5");
        assert_eq!(show(call(Method::FloatRound, vec![f(2.5)])), "2");
        assert_eq!(show(call(Method::FloatRound, vec![f(3.5)])), "4");
        assert_eq!(show(call(Method::FloatRound, vec![f(-2.5)])), "-2");
        assert_eq!(show(call(Method::FloatRound, vec![f(2.6)])), "3");
        assert_eq!(show(call(Method::FloatFloor, vec![f(-2.5)])), "-3");
        assert_eq!(show(call(Method::FloatCeil, vec![f(-2.5)])), "-2");
        assert_eq!(show(call(Method::FloatCeil, vec![f(2.1)])), "3");
        assert_eq!(
            show(call(Method::FloatRound, vec![f(f64::NAN)])),
            "panic: cannot convert NaN to int"
        );
        assert_eq!(
            show(call(Method::FloatFloor, vec![f(f64::INFINITY)])),
            "panic: cannot convert Infinity to int"
        );
        assert_eq!(
            show(call(Method::FloatCeil, vec![f(f64::NEG_INFINITY)])),
            "panic: cannot convert -Infinity to int"
        );
        assert_eq!(
            show(call(Method::FloatRound, vec![f(1e19)])),
            "panic: cannot convert 10000000000000000000.0 to int"
        );
        assert_eq!(
            show(call(Method::FloatRound, vec![f(-(2f64.powi(63)))])),
            "-9223372036854775808"
        );
        assert_eq!(
            show(call(Method::FloatRound, vec![f(2f64.powi(63))])),
            "panic: cannot convert 9223372036854776000.0 to int"
        );
        assert_eq!(show(call(Method::FloatIsNaN, vec![f(f64::NAN)])), "true");
        assert_eq!(show(call(Method::FloatIsNaN, vec![f(1.0)])), "false");
        assert_eq!(show(call(Method::IntFromString, vec![s("-42")])), "-42");
        assert_eq!(show(call(Method::IntFromString, vec![s("+7")])), "7");
        assert_eq!(
            show(call(Method::IntFromString, vec![s("abc")])),
            r#"error(invalid int: "abc")"#
        );
        assert_eq!(
            show(call(Method::IntFromString, vec![s(" 1")])),
            r#"error(invalid int: " 1")"#
        );
        assert_eq!(
            show(call(Method::IntFromString, vec![s("1.0")])),
            r#"error(invalid int: "1.0")"#
        );
        assert_eq!(
            show(call(Method::IntFromString, vec![s("99999999999999999999")])),
            r#"error(invalid int: "99999999999999999999")"#
        );
        assert_eq!(show(call(Method::FloatFromString, vec![s("1.5")])), "1.5");
        assert_eq!(show(call(Method::FloatFromString, vec![s("2")])), "2.0");
        assert_eq!(
            show(call(Method::FloatFromString, vec![s("-1.0e21")])),
            "-1.0e21"
        );
        assert_eq!(show(call(Method::FloatFromString, vec![s("NaN")])), "NaN");
        assert_eq!(
            show(call(Method::FloatFromString, vec![s("-Infinity")])),
            "-Infinity"
        );
        assert_eq!(
            show(call(Method::FloatFromString, vec![s("inf")])),
            r#"error(invalid float: "inf")"#
        );
        assert_eq!(
            show(call(Method::FloatFromString, vec![s("x")])),
            r#"error(invalid float: "x")"#
        );
        assert_eq!(
            show(call(Method::FloatFromString, vec![s("")])),
            r#"error(invalid float: "")"#
        );
    }

    #[test]
    fn array_methods() {
        let a = arr(vec![i(1), i(2), i(3)]);
        assert_eq!(show(call(Method::ArrLength, vec![a.clone()])), "3");
        assert_eq!(show(call(Method::ArrPush, vec![a.clone(), i(4)])), "()");
        assert_eq!(show(Ok(a.clone())), "[1,2,3,4]");
        assert_eq!(show(call(Method::ArrPop, vec![a.clone()])), "4");
        assert_eq!(show(Ok(a.clone())), "[1,2,3]");
        assert_eq!(show(call(Method::ArrPop, vec![arr(vec![])])), "()");
        assert_eq!(
            show(call(Method::ArrSlice, vec![a.clone(), i(1), Value::Nil])),
            "[2,3]"
        );
        assert_eq!(
            show(call(Method::ArrSlice, vec![a.clone(), i(0), i(2)])),
            "[1,2]"
        );
        assert_eq!(show(call(Method::ArrSlice, vec![a.clone(), i(3)])), "[]");
        assert_eq!(
            show(call(Method::ArrSlice, vec![a.clone(), i(2), i(9)])),
            "panic: slice index out of range: start 2, end 9, length 3"
        );
        let nested = arr(vec![map(vec![("k", i(1))]), arr(vec![i(2)])]);
        assert_eq!(
            show(call(
                Method::ArrIndexOf,
                vec![nested.clone(), arr(vec![i(2)])]
            )),
            "1"
        );
        assert_eq!(
            show(call(
                Method::ArrIndexOf,
                vec![nested.clone(), map(vec![("k", i(1))])]
            )),
            "0"
        );
        assert_eq!(
            show(call(Method::ArrIndexOf, vec![nested.clone(), i(2)])),
            "()"
        );
        assert_eq!(
            show(call(
                Method::ArrContains,
                vec![nested.clone(), arr(vec![i(2)])]
            )),
            "true"
        );
        assert_eq!(
            show(call(Method::ArrContains, vec![a.clone(), f(1.0)])),
            "false"
        );
        let rev = call(Method::ArrReverse, vec![a.clone()]);
        assert_eq!(show(rev), "[3,2,1]");
        assert_eq!(show(Ok(a.clone())), "[1,2,3]");
        assert_eq!(
            show(call(
                Method::ArrJoin,
                vec![arr(vec![s("a"), s("b")]), s(", ")]
            )),
            "a, b"
        );
        assert_eq!(show(call(Method::ArrJoin, vec![arr(vec![]), s(",")])), "");
        for m in [
            Method::ArrSortBy,
            Method::ArrMap,
            Method::ArrFilter,
            Method::ArrReduce,
            Method::ArrForEach,
            Method::ArrSome,
            Method::ArrEvery,
        ] {
            assert_eq!(
                show(call(m, vec![a.clone()])),
                "panic: internal: higher-order method called natively"
            );
        }
    }

    #[test]
    fn sorting() {
        let a = arr(vec![i(3), i(-1), i(2)]);
        assert_eq!(show(call(Method::ArrSort, vec![a.clone()])), "[-1,2,3]");
        assert_eq!(show(Ok(a)), "[3,-1,2]");
        let fl = arr(vec![f(2.0), f(f64::NAN), f(-1.5), f(f64::NEG_INFINITY)]);
        assert_eq!(
            show(call(Method::ArrSort, vec![fl])),
            "[-Infinity,-1.5,2.0,NaN]"
        );
        let st = arr(vec![s("b"), s("é"), s("B"), s("a")]);
        assert_eq!(
            show(call(Method::ArrSort, vec![st])),
            r#"["B","a","b","é"]"#
        );
        let du = arr(vec![
            Value::Duration(2_000_000_000),
            Value::Duration(1_000_000),
        ]);
        assert_eq!(show(call(Method::ArrSort, vec![du])), r#"["1ms","2s"]"#);
        assert_eq!(show(call(Method::ArrSort, vec![arr(vec![])])), "[]");
        assert_eq!(
            show(call(Method::ArrSort, vec![arr(vec![i(1), s("a")])])),
            "panic: cannot sort values of different types: int and string"
        );
        assert_eq!(
            show(call(Method::ArrSort, vec![arr(vec![Value::Bool(true)])])),
            "panic: cannot sort values of type boolean"
        );
        // Stable by keys.
        let items = vec![s("pear"), s("fig"), s("apple"), s("kiwi")];
        let keys = vec![i(4), i(3), i(5), i(4)];
        assert_eq!(
            show(sort_by_keys(&items, &keys)),
            r#"["fig","pear","kiwi","apple"]"#
        );
        assert_eq!(
            show(sort_by_keys(&items, &keys[..2])),
            "panic: internal: sort keys do not match the array"
        );
        assert_eq!(compare_values(&i(1), &i(2)), Some(Ordering::Less));
        assert_eq!(compare_values(&f(0.0), &f(-0.0)), Some(Ordering::Equal));
        assert_eq!(
            compare_values(&f(f64::NAN), &f(1.0)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_values(&i(1), &f(1.0)), None);
        assert_eq!(compare_values(&Value::Nil, &Value::Nil), None);
    }

    #[test]
    fn map_methods() {
        let m = map(vec![("b", i(1)), ("a", i(2)), ("c", i(3))]);
        assert_eq!(show(call(Method::MapLength, vec![m.clone()])), "3");
        assert_eq!(
            show(call(Method::MapKeys, vec![m.clone()])),
            r#"["b","a","c"]"#
        );
        assert_eq!(show(call(Method::MapValues, vec![m.clone()])), "[1,2,3]");
        assert_eq!(
            show(call(Method::MapHasKey, vec![m.clone(), s("a")])),
            "true"
        );
        assert_eq!(
            show(call(Method::MapHasKey, vec![m.clone(), s("z")])),
            "false"
        );
        assert_eq!(show(call(Method::MapGet, vec![m.clone(), s("c")])), "3");
        assert_eq!(show(call(Method::MapGet, vec![m.clone(), s("z")])), "()");
        assert_eq!(show(call(Method::MapRemove, vec![m.clone(), s("b")])), "1");
        assert_eq!(show(call(Method::MapRemove, vec![m.clone(), s("b")])), "()");
        assert_eq!(show(Ok(m.clone())), r#"{"a":2,"c":3}"#);
        // A record used as a map reads by field name.
        let mut t = Types::new();
        t.add_record(RecordDef {
            name: Some("P".into()),
            fields: vec![FieldDef {
                name: "x".into(),
                ty: TyId::INT,
                has_default: false,
            }],
        });
        let r = Value::record(RecordId(0), vec![i(5)]);
        assert_eq!(
            show(call_method(Method::MapKeys, std::slice::from_ref(&r), &t)),
            r#"["x"]"#
        );
        assert_eq!(
            show(call_method(Method::MapGet, &[r.clone(), s("x")], &t)),
            "5"
        );
        assert_eq!(
            show(call_method(Method::MapHasKey, &[r.clone(), s("y")], &t)),
            "false"
        );
        assert_eq!(
            show(call_method(Method::MapLength, std::slice::from_ref(&r), &t)),
            "1"
        );
        assert!(call_method(Method::MapRemove, &[r, s("x")], &t).is_err());
    }

    #[test]
    fn duration_and_error_methods() {
        assert_eq!(
            show(call(
                Method::DurMilliseconds,
                vec![Value::Duration(1_999_999)]
            )),
            "1"
        );
        assert_eq!(
            show(call(
                Method::DurSeconds,
                vec![Value::Duration(1_500_000_000)]
            )),
            "1.5"
        );
        let cause = Value::error(ErrorId(0), "root");
        let mut detail = MapObj::default();
        detail.insert("status".into(), i(404));
        detail.insert("tags".into(), arr(vec![s("a")]));
        let e = Value::Error(Rc::new(ErrorObj {
            ty: ErrorId(0),
            message: "not found".into(),
            detail,
            cause: Some(cause),
            trace: Vec::new(),
        }));
        assert_eq!(show(call(Method::ErrMessage, vec![e.clone()])), "not found");
        let d = call(Method::ErrDetail, vec![e.clone()]);
        assert_eq!(show(d.clone()), r#"{"status":404,"tags":["a"]}"#);
        // The detail is a copy: changing it leaves the error alone.
        if let Ok(Value::Map(m)) = &d {
            m.borrow_mut().insert("x".into(), i(1));
            if let Some(Value::Array(tags)) = m.borrow().get("tags") {
                tags.borrow_mut().push(s("b"));
            }
        }
        assert_eq!(
            show(call(Method::ErrDetail, vec![e.clone()])),
            r#"{"status":404,"tags":["a"]}"#
        );
        assert_eq!(show(call(Method::ErrCause, vec![e])), "error(root)");
        assert_eq!(
            show(call(Method::ErrCause, vec![Value::error(ErrorId(0), "x")])),
            "()"
        );
    }

    #[test]
    fn bad_operands_are_flow_panics() {
        assert!(call(Method::StrLength, vec![i(1)]).is_err());
        assert!(call(Method::StrLength, vec![]).is_err());
        assert!(call(Method::ArrLength, vec![s("x")]).is_err());
        assert!(call(Method::MapKeys, vec![i(1)]).is_err());
        assert!(call(Method::ErrMessage, vec![Value::Nil]).is_err());
        assert!(call(Method::StrSubstring, vec![s("abc"), s("x")]).is_err());
        assert!(call(Method::DurSeconds, vec![i(1)]).is_err());
    }
}
