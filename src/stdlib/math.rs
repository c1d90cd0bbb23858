//! `math`: numeric functions.

use super::{arg, ready};
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::methods::float_to_int as to_int;
use crate::vm::value::{Panic, Value, VmResult};
use rand::RngExt;
use std::rc::Rc;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "abs" => abs,
        "min" => min,
        "max" => max,
        "floor" => floor,
        "ceil" => ceil,
        "round" => round,
        "sqrt" => sqrt,
        "pow" => pow,
        "random" => random,
        "randomInt" => random_int,
        _ => return None,
    })
}

fn float(args: &[Value], i: usize) -> VmResult<f64> {
    match arg(args, i) {
        Value::Float(f) => Ok(*f),
        Value::Int(n) => Ok(*n as f64),
        other => Err(Panic::msg(format!(
            "internal type error: expected float, found {}",
            other.kind_name()
        ))),
    }
}

fn abs(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(match arg(args, 0) {
        Value::Int(n) => n
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| Panic::msg("integer overflow")),
        _ => float(args, 0).map(|f| Value::Float(f.abs())),
    })
}

fn pick(args: &[Value], want_max: bool) -> VmResult<Value> {
    match (arg(args, 0), arg(args, 1)) {
        (Value::Int(a), Value::Int(b)) => {
            Ok(Value::Int(if want_max { *a.max(b) } else { *a.min(b) }))
        }
        _ => {
            let (a, b) = (float(args, 0)?, float(args, 1)?);
            Ok(Value::Float(if want_max { a.max(b) } else { a.min(b) }))
        }
    }
}

fn min(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(pick(args, false))
}

fn max(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(pick(args, true))
}

fn floor(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(float(args, 0).and_then(|f| to_int(f.floor())))
}

fn ceil(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(float(args, 0).and_then(|f| to_int(f.ceil())))
}

fn round(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(float(args, 0).and_then(|f| to_int(f.round_ties_even())))
}

fn sqrt(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(float(args, 0).map(|f| Value::Float(f.sqrt())))
}

fn pow(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(float(args, 0).and_then(|b| float(args, 1).map(|e| Value::Float(b.powf(e)))))
}

fn random(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    ready(Ok(Value::Float(rand::rng().random::<f64>())))
}

fn random_int(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(match (arg(args, 0), arg(args, 1)) {
        (Value::Int(lo), Value::Int(hi)) if lo < hi => {
            Ok(Value::Int(rand::rng().random_range(*lo..*hi)))
        }
        (Value::Int(lo), Value::Int(hi)) => Err(Panic::msg(format!(
            "randomInt needs lo < hi, got {lo} and {hi}"
        ))),
        _ => Err(Panic::msg("internal type error: expected int")),
    })
}
