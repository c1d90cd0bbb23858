//! `test`: assertions. A failed assertion panics, failing the running test.

use super::{arg, ready, str_arg};
use crate::vm::equality::deep_equal_typed;
use crate::vm::format::to_display_string;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{Panic, Value, VmResult};
use std::rc::Rc;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "assertEquals" => assert_equals,
        "assertTrue" => assert_true,
        "assertFalse" => assert_false,
        "assertError" => assert_error,
        "fail" => fail,
        _ => return None,
    })
}

/// A value as it appears inside a container (strings quoted).
fn shown(vm: &Vm, v: &Value) -> String {
    let s = to_display_string(&Value::array(vec![v.clone()]), &vm.program.types);
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or(s)
}

fn failure(args: &[Value], msg_index: usize, what: String) -> VmResult<Value> {
    let msg = str_arg(args, msg_index)?;
    Err(Panic::msg(if msg.is_empty() {
        what
    } else {
        msg.to_string()
    }))
}

fn assert_equals(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let (actual, expected) = (arg(args, 0), arg(args, 1));
    ready(if deep_equal_typed(actual, expected, &vm.program.types) {
        Ok(Value::Nil)
    } else {
        failure(
            args,
            2,
            format!(
                "expected {}, found {}",
                shown(vm, expected),
                shown(vm, actual)
            ),
        )
    })
}

fn assert_true(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(match arg(args, 0) {
        Value::Bool(true) => Ok(Value::Nil),
        _ => failure(args, 1, "expected true, found false".into()),
    })
}

fn assert_false(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(match arg(args, 0) {
        Value::Bool(false) => Ok(Value::Nil),
        _ => failure(args, 1, "expected false, found true".into()),
    })
}

fn assert_error(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(match arg(args, 0) {
        Value::Error(_) => Ok(Value::Nil),
        other => failure(
            args,
            1,
            format!("expected an error, found {}", shown(vm, other)),
        ),
    })
}

fn fail(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(str_arg(args, 0).and_then(|m| Err(Panic::msg(m.to_string()))))
}
