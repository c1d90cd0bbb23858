//! `time`: clocks and sleeping.

use super::{arg, ready};
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::Value;
use std::rc::Rc;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "now" => now,
        "monotonic" => monotonic,
        "sleep" => sleep,
        _ => return None,
    })
}

fn now(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ready(Ok(Value::Int(ms)))
}

fn monotonic(vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let nanos = vm.started.elapsed().as_nanos().min(i64::MAX as u128) as i64;
    ready(Ok(Value::Duration(nanos)))
}

/// Suspends the strand: the thread is free to run other strands meanwhile.
fn sleep(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let nanos = match arg(args, 0) {
        Value::Duration(n) => (*n).max(0) as u64,
        _ => 0,
    };
    NativeResult::Suspend(Box::pin(async move {
        tokio::time::sleep(std::time::Duration::from_nanos(nanos)).await;
        Ok(Value::Nil)
    }))
}
