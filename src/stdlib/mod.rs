//! Stage 5: the Rust side of the standard library. Each `@native` function
//! declared in `stdlib/*.flow` (embedded by `check::modules`) is bound here by
//! its qualified name.

pub mod http;
mod io;
pub(crate) mod log;
mod math;
pub mod service;
mod strand;
mod test;
mod time;
pub mod twopc;
pub mod tx;
pub mod vms;

use crate::vm::machine::{NativeFn, NativeResult};
use crate::vm::value::{Panic, Value, VmResult};

/// The implementation of a native function, by qualified name.
pub fn resolve(name: &str) -> Option<NativeFn> {
    let (module, member) = name.split_once(':')?;
    match module {
        "io" => io::resolve(member),
        "log" => log::resolve(member),
        "time" => time::resolve(member),
        "math" => math::resolve(member),
        "test" => test::resolve(member),
        "http" => http::resolve(member),
        "strand" => strand::resolve(member),
        "tx" => tx::resolve(member),
        _ => None,
    }
}

fn ready(v: VmResult<Value>) -> NativeResult {
    NativeResult::Ready(v)
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Nil)
}

fn str_arg(args: &[Value], i: usize) -> VmResult<&str> {
    match arg(args, i) {
        Value::Str(s) => Ok(s),
        Value::Undefined | Value::Nil => Ok(""),
        other => Err(Panic::msg(format!(
            "internal type error: expected string, found {}",
            other.kind_name()
        ))),
    }
}

/// Parses a `--log-level` name (debug, info, warn, error).
pub fn log_level(name: &str) -> Option<u8> {
    log::level_from_name(name)
}

/// One line per endpoint of the instance with its breaker state and
/// statistics (the REPL's `:endpoints`); empty when there are none.
pub fn describe_endpoints(vm: &crate::vm::machine::Vm) -> String {
    http::endpoint_status(vm)
}
