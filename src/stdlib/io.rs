//! `io`: standard input and output.

use super::{arg, ready, str_arg};
use crate::vm::format::to_display_string;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{Value, VmResult};
use std::io::BufRead;
use std::rc::Rc;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "println" => println,
        "print" => print,
        "eprintln" => eprintln,
        "readln" => readln,
        _ => return None,
    })
}

/// Concatenates the `toString()` of each value of a rest-argument array.
fn joined(vm: &Vm, args: &[Value]) -> String {
    let mut out = String::new();
    if let Value::Array(items) = arg(args, 0) {
        for v in items.borrow().iter() {
            match v {
                Value::Str(s) => out.push_str(s),
                other => out.push_str(&to_display_string(other, &vm.program.types)),
            }
        }
    }
    out
}

fn println(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let mut s = joined(vm, args);
    s.push('\n');
    ready(vm.write_stdout(&s).map(|_| Value::Nil))
}

fn print(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let s = joined(vm, args);
    ready(vm.write_stdout(&s).map(|_| Value::Nil))
}

fn eprintln(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let mut s = joined(vm, args);
    s.push('\n');
    vm.write_stderr(&s);
    ready(Ok(Value::Nil))
}

fn readln(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(read_line(vm, args))
}

fn read_line(vm: &Rc<Vm>, args: &[Value]) -> VmResult<Value> {
    let prompt = str_arg(args, 0)?;
    vm.write_stdout(prompt)?;
    vm.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Ok(Value::Nil),
        Ok(_) => {
            while line.ends_with('\n') || line.ends_with('\r') {
                line.pop();
            }
            Ok(Value::str(line))
        }
    }
}
