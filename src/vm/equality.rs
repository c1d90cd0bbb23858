//! Deep equality (`==`, `!=`, `indexOf`, `contains`; §4.1).
//!
//! Structural for arrays, maps, records and errors; functions by identity;
//! an int never equals a float; floats compare by IEEE (`NaN != NaN`,
//! `0.0 == -0.0`). Maps are equal when they have the same keys with equal
//! values, whatever the order. The walk is iterative (an explicit work
//! list) and remembers the container pairs already compared, so deep or
//! cyclic values neither overflow the stack nor loop.

use super::value::Value;
use crate::check::types::Types;
use rustc_hash::FxHashSet;
use std::rc::Rc;

/// Deep equality without the type table: records are equal only to records
/// of the same record type (use [`deep_equal_typed`] to compare records of
/// different types, or a record with a map, by field names).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    equal(a, b, None)
}

/// Deep equality that also compares records of different record types, and
/// records with maps, by field names (a record equals a map with exactly its
/// field names as keys and equal values).
pub fn deep_equal_typed(a: &Value, b: &Value, types: &Types) -> bool {
    equal(a, b, Some(types))
}

fn addr<T: ?Sized>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const () as usize
}

/// Equality of two values that are not both containers or both errors
/// (`None` when they are, and the walk must look inside).
fn shallow_equal(a: &Value, b: &Value, types: Option<&Types>) -> Option<bool> {
    Some(match (a, b) {
        (Value::Nil, Value::Nil) | (Value::Undefined, Value::Undefined) => true,
        (Value::Bool(p), Value::Bool(q)) => p == q,
        (Value::Int(p), Value::Int(q)) => p == q,
        (Value::Float(p), Value::Float(q)) => p == q,
        (Value::Duration(p), Value::Duration(q)) => p == q,
        (Value::Str(p), Value::Str(q)) => p == q,
        (Value::Typedesc(p), Value::Typedesc(q)) => {
            p == q || types.is_some_and(|t| t.canon(*p) == t.canon(*q))
        }
        (Value::Func(p), Value::Func(q)) => Rc::ptr_eq(p, q),
        (Value::Host(p), Value::Host(q)) => Rc::ptr_eq(p, q),
        (Value::Cell(p), Value::Cell(q)) => Rc::ptr_eq(p, q),
        (Value::Array(_), Value::Array(_))
        | (Value::Map(_) | Value::Record(_), Value::Map(_) | Value::Record(_))
        | (Value::Error(_), Value::Error(_)) => return None,
        _ => false,
    })
}

fn equal(a: &Value, b: &Value, types: Option<&Types>) -> bool {
    // Scalars (the common case) without allocating.
    if let Some(same) = shallow_equal(a, b, types) {
        return same;
    }
    let mut work: Vec<(Value, Value)> = vec![(a.clone(), b.clone())];
    let mut seen: FxHashSet<(usize, usize)> = FxHashSet::default();
    while let Some((x, y)) = work.pop() {
        if let Some(same) = shallow_equal(&x, &y, types) {
            if !same {
                return false;
            }
            continue;
        }
        let same = match (&x, &y) {
            (Value::Array(p), Value::Array(q)) => {
                if !seen.insert((addr(p), addr(q))) {
                    continue;
                }
                let (p, q) = (p.borrow(), q.borrow());
                if p.len() != q.len() {
                    return false;
                }
                work.extend(p.iter().cloned().zip(q.iter().cloned()));
                true
            }
            (Value::Map(p), Value::Map(q)) => {
                if !seen.insert((addr(p), addr(q))) {
                    continue;
                }
                let (p, q) = (p.borrow(), q.borrow());
                if p.len() != q.len() {
                    return false;
                }
                for (k, v) in p.iter() {
                    match q.get(k) {
                        Some(w) => work.push((v.clone(), w.clone())),
                        None => return false,
                    }
                }
                true
            }
            (Value::Record(p), Value::Record(q)) => {
                if !seen.insert((addr(p), addr(q))) {
                    continue;
                }
                let (pf, qf) = (p.fields.borrow(), q.fields.borrow());
                if p.rec == q.rec {
                    if pf.len() != qf.len() {
                        return false;
                    }
                    work.extend(pf.iter().cloned().zip(qf.iter().cloned()));
                    true
                } else if let Some(t) = types {
                    let (pd, qd) = (t.record(p.rec), t.record(q.rec));
                    if pd.fields.len() != qd.fields.len() || pf.len() != qf.len() {
                        return false;
                    }
                    for (f, v) in pd.fields.iter().zip(pf.iter()) {
                        match qd.field_index(&f.name).and_then(|j| qf.get(j)) {
                            Some(w) => work.push((v.clone(), w.clone())),
                            None => return false,
                        }
                    }
                    true
                } else {
                    false
                }
            }
            (Value::Record(r), Value::Map(m)) | (Value::Map(m), Value::Record(r)) => {
                let Some(t) = types else { return false };
                if !seen.insert((addr(r), addr(m))) {
                    continue;
                }
                let def = t.record(r.rec);
                let (fields, m) = (r.fields.borrow(), m.borrow());
                if fields.len() != m.len() || def.fields.len() != fields.len() {
                    return false;
                }
                for (f, v) in def.fields.iter().zip(fields.iter()) {
                    match m.get(&f.name) {
                        Some(w) => work.push((v.clone(), w.clone())),
                        None => return false,
                    }
                }
                true
            }
            (Value::Error(p), Value::Error(q)) => {
                if !seen.insert((addr(p), addr(q))) {
                    continue;
                }
                if p.ty != q.ty || p.message != q.message || p.detail.len() != q.detail.len() {
                    return false;
                }
                for (k, v) in p.detail.iter() {
                    match q.detail.get(k) {
                        Some(w) => work.push((v.clone(), w.clone())),
                        None => return false,
                    }
                }
                match (&p.cause, &q.cause) {
                    (None, None) => {}
                    (Some(c), Some(d)) => work.push((c.clone(), d.clone())),
                    _ => return false,
                }
                true
            }
            _ => false,
        };
        if !same {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tir::FuncId;
    use crate::check::types::{ErrorId, FieldDef, RecordDef, RecordId, TyId};
    use crate::vm::value::{Closure, ErrorObj, MapObj};

    fn map(entries: Vec<(&str, Value)>) -> Value {
        let mut m = MapObj::default();
        for (k, v) in entries {
            m.insert(k.into(), v);
        }
        Value::map(m)
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::array(items)
    }

    fn err(ty: u32, msg: &str, detail: Vec<(&str, Value)>, cause: Option<Value>) -> Value {
        let mut d = MapObj::default();
        for (k, v) in detail {
            d.insert(k.into(), v);
        }
        Value::Error(Rc::new(ErrorObj {
            ty: ErrorId(ty),
            message: msg.into(),
            detail: d,
            cause,
            trace: Vec::new(),
        }))
    }

    fn types_xy() -> Types {
        let mut t = Types::new();
        let f = |n: &str| FieldDef {
            name: n.into(),
            ty: TyId::INT,
            has_default: false,
        };
        t.add_record(RecordDef {
            name: Some("A".into()),
            fields: vec![f("x"), f("y")],
        });
        t.add_record(RecordDef {
            name: Some("B".into()),
            fields: vec![f("y"), f("x")],
        });
        t
    }

    #[test]
    fn scalars() {
        assert!(deep_equal(&Value::Nil, &Value::Nil));
        assert!(deep_equal(&Value::Int(1), &Value::Int(1)));
        assert!(!deep_equal(&Value::Int(1), &Value::Int(2)));
        assert!(!deep_equal(&Value::Int(1), &Value::Float(1.0)));
        assert!(deep_equal(&Value::Float(0.0), &Value::Float(-0.0)));
        assert!(!deep_equal(
            &Value::Float(f64::NAN),
            &Value::Float(f64::NAN)
        ));
        assert!(deep_equal(&Value::str("a"), &Value::str("a")));
        assert!(!deep_equal(&Value::str("a"), &Value::str("b")));
        assert!(deep_equal(&Value::Bool(true), &Value::Bool(true)));
        assert!(!deep_equal(&Value::Bool(true), &Value::Nil));
        assert!(deep_equal(&Value::Duration(5), &Value::Duration(5)));
        assert!(!deep_equal(&Value::Duration(5), &Value::Int(5)));
        assert!(deep_equal(
            &Value::Typedesc(TyId::INT),
            &Value::Typedesc(TyId::INT)
        ));
        assert!(!deep_equal(
            &Value::Typedesc(TyId::INT),
            &Value::Typedesc(TyId::STRING)
        ));
    }

    #[test]
    fn containers() {
        let a = arr(vec![Value::Int(1), map(vec![("k", Value::str("v"))])]);
        let b = arr(vec![Value::Int(1), map(vec![("k", Value::str("v"))])]);
        assert!(deep_equal(&a, &b));
        assert!(!deep_equal(&a, &arr(vec![Value::Int(1)])));
        assert!(!deep_equal(
            &arr(vec![Value::Float(f64::NAN)]),
            &arr(vec![Value::Float(f64::NAN)])
        ));
        // Maps ignore order.
        let m1 = map(vec![("a", Value::Int(1)), ("b", Value::Int(2))]);
        let m2 = map(vec![("b", Value::Int(2)), ("a", Value::Int(1))]);
        assert!(deep_equal(&m1, &m2));
        assert!(!deep_equal(
            &m1,
            &map(vec![("a", Value::Int(1)), ("c", Value::Int(2))])
        ));
        assert!(!deep_equal(&m1, &map(vec![("a", Value::Int(1))])));
        assert!(!deep_equal(&m1, &arr(vec![])));
    }

    #[test]
    fn records() {
        let t = types_xy();
        let a1 = Value::record(RecordId(0), vec![Value::Int(1), Value::Int(2)]);
        let a2 = Value::record(RecordId(0), vec![Value::Int(1), Value::Int(2)]);
        let b = Value::record(RecordId(1), vec![Value::Int(2), Value::Int(1)]);
        let m = map(vec![("y", Value::Int(2)), ("x", Value::Int(1))]);
        assert!(deep_equal(&a1, &a2));
        assert!(!deep_equal(
            &a1,
            &Value::record(RecordId(0), vec![Value::Int(1), Value::Int(3)])
        ));
        assert!(!deep_equal(&a1, &b));
        assert!(deep_equal_typed(&a1, &b, &t));
        assert!(!deep_equal(&a1, &m));
        assert!(deep_equal_typed(&a1, &m, &t));
        assert!(deep_equal_typed(&m, &a1, &t));
        let m3 = map(vec![
            ("y", Value::Int(2)),
            ("x", Value::Int(1)),
            ("z", Value::Nil),
        ]);
        assert!(!deep_equal_typed(&a1, &m3, &t));
        let m4 = map(vec![("y", Value::Int(2)), ("z", Value::Int(1))]);
        assert!(!deep_equal_typed(&a1, &m4, &t));
    }

    #[test]
    fn errors_and_functions() {
        let c = err(0, "root", vec![], None);
        let e1 = err(1, "x", vec![("s", Value::Int(1))], Some(c.clone()));
        let e2 = err(
            1,
            "x",
            vec![("s", Value::Int(1))],
            Some(err(0, "root", vec![], None)),
        );
        assert!(deep_equal(&e1, &e2));
        assert!(!deep_equal(
            &e1,
            &err(0, "x", vec![("s", Value::Int(1))], Some(c.clone()))
        ));
        assert!(!deep_equal(
            &e1,
            &err(1, "y", vec![("s", Value::Int(1))], Some(c.clone()))
        ));
        assert!(!deep_equal(
            &e1,
            &err(1, "x", vec![("s", Value::Int(2))], Some(c.clone()))
        ));
        assert!(!deep_equal(
            &e1,
            &err(1, "x", vec![("s", Value::Int(1))], None)
        ));
        assert!(!deep_equal(&e1, &err(1, "x", vec![], Some(c))));
        let f = Value::Func(Rc::new(Closure {
            func: FuncId(0),
            upvalues: Box::new([]),
        }));
        let g = Value::Func(Rc::new(Closure {
            func: FuncId(0),
            upvalues: Box::new([]),
        }));
        assert!(deep_equal(&f, &f.clone()));
        assert!(!deep_equal(&f, &g));
    }

    #[test]
    fn cycles_terminate() {
        let a = arr(vec![Value::Int(1)]);
        let b = arr(vec![Value::Int(1)]);
        if let (Value::Array(x), Value::Array(y)) = (&a, &b) {
            x.borrow_mut().push(a.clone());
            y.borrow_mut().push(b.clone());
        }
        assert!(deep_equal(&a, &b));
        assert!(deep_equal(&a, &a));
        for v in [&a, &b] {
            if let Value::Array(x) = v {
                x.borrow_mut().clear();
            }
        }
    }

    #[test]
    fn deep_values() {
        let build = |leaf: i64| {
            let mut v = Value::Int(leaf);
            for _ in 0..100_000 {
                v = arr(vec![v]);
            }
            v
        };
        let (a, b, c) = (build(1), build(1), build(2));
        assert!(deep_equal(&a, &b));
        assert!(!deep_equal(&a, &c));
        for mut cur in [a, b, c] {
            while let Value::Array(x) = cur {
                let next = x.borrow_mut().pop().unwrap_or_default();
                cur = next;
            }
        }
    }
}
