//! The internal `strand` module: the natives behind `start`, `wait` and
//! `future.cancel()` (§10), lowered by `check::concurrency`.
//!
//! A strand is a tokio task on the instance's `LocalSet`
//! (`spawn_local(drive(strand))`). Its future (`future<T>` in Flow) is a
//! host object holding the task's `JoinHandle` until it is waited on, so a
//! second `wait` finds it gone and panics. Cancelling aborts the task: it is
//! dropped at its next suspension point (or before it first runs), which
//! drops whatever it was waiting for. Tasks left when `main` returns are
//! dropped with the `LocalSet`.

use super::{arg, ready};
use crate::check::types::{ErrorId, TyKind};
use crate::vm::drive;
use crate::vm::interp::Strand;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{HostObj, Panic, Value, VmResult};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use tokio::task::{AbortHandle, JoinError, JoinHandle};

/// The Flow type name of futures (for messages and `kind_name`).
const TYPE_NAME: &str = "future";

/// The message of the error `wait` gives for a cancelled strand.
pub const CANCELLED: &str = "future was cancelled";

/// The message of the panic of a second `wait` on the same future.
pub const WAITED_TWICE: &str = "future already waited on";

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "spawn" => spawn,
        "waitOne" => wait_one,
        "waitAll" => wait_all,
        "waitAny" => wait_any,
        "cancel" => cancel,
        _ => return None,
    })
}

type Handle = JoinHandle<Result<Value, Value>>;

/// The Rust side of a `future<T>`.
struct FutureObj {
    /// The strand's task; taken by the first `wait`.
    handle: RefCell<Option<Handle>>,
    /// Aborts the task (also after the handle was taken).
    abort: AbortHandle,
    /// `cancel()` was called: `wait` gives an error whatever happened.
    cancelled: Cell<bool>,
}

fn future_of(v: &Value) -> VmResult<(Rc<HostObj>, &FutureObj)> {
    match v {
        Value::Host(h) => match h.value.downcast_ref::<FutureObj>() {
            Some(f) => Ok((h.clone(), f)),
            None => Err(type_error(v)),
        },
        _ => Err(type_error(v)),
    }
}

fn type_error(v: &Value) -> Panic {
    Panic::msg(format!(
        "internal type error: expected a future, found {}",
        v.kind_name()
    ))
}

/// `spawn(body, args)`: starts `body(args...)` in a new strand.
fn spawn(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let Value::Func(closure) = arg(args, 0) else {
        return ready(Err(Panic::msg(format!(
            "internal type error: expected a function, found {}",
            arg(args, 0).kind_name()
        ))));
    };
    let params = match arg(args, 1) {
        Value::Array(a) => a.borrow().clone(),
        _ => Vec::new(),
    };
    let strand = Strand::for_closure(vm.clone(), closure.clone(), params);
    // `spawn_local` panics outside a `LocalSet`; every host of this crate
    // runs strands inside one, but an embedding host might not.
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tokio::task::spawn_local(async move {
            let vm = strand.vm().clone();
            let result = drive(strand).await;
            // What the strand printed since its last suspension (a service
            // keeps the process running after `main`, so no exit flush).
            vm.flush();
            result
        })
    }));
    let Ok(handle) = spawned else {
        return ready(Err(Panic::msg(
            "cannot start a strand: the host runs this program outside a tokio LocalSet",
        )));
    };
    let abort = handle.abort_handle();
    ready(Ok(Value::Host(Rc::new(HostObj {
        type_name: TYPE_NAME,
        label: TYPE_NAME.to_string(),
        value: Box::new(FutureObj {
            handle: RefCell::new(Some(handle)),
            abort,
            cancelled: Cell::new(false),
        }),
    }))))
}

/// Takes the task handle of a future that is waited on (a panic when it
/// was taken before).
fn take(v: &Value) -> VmResult<(Rc<HostObj>, Handle)> {
    let (obj, fut) = future_of(v)?;
    let handle = fut.handle.borrow_mut().take();
    match handle {
        Some(h) => Ok((obj, h)),
        None => Err(Panic::msg(WAITED_TWICE)),
    }
}

/// Whether `cancel()` was called on the future `obj`.
fn is_cancelled(obj: &HostObj) -> bool {
    obj.value
        .downcast_ref::<FutureObj>()
        .is_some_and(|f| f.cancelled.get())
}

/// What `wait` gives for a finished task: its value, the panic as an error
/// value, or an error for a cancelled strand.
fn outcome(obj: &HostObj, result: Result<Result<Value, Value>, JoinError>) -> Value {
    if is_cancelled(obj) {
        return Value::error(ErrorId(0), CANCELLED);
    }
    match result {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => panic,
        Err(e) if e.is_cancelled() => Value::error(ErrorId(0), CANCELLED),
        Err(e) => Value::error(ErrorId(0), format!("strand failed: {e}")),
    }
}

/// `waitOne(f)`.
fn wait_one(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let (obj, handle) = match take(arg(args, 0)) {
        Ok(x) => x,
        Err(p) => return ready(Err(p)),
    };
    if is_cancelled(&obj) {
        return ready(Ok(Value::error(ErrorId(0), CANCELLED)));
    }
    let mut handle = handle;
    if let Some(result) = finished(&mut handle) {
        return ready(Ok(outcome(&obj, result)));
    }
    NativeResult::Suspend(Box::pin(async move {
        let result = handle.await;
        Ok(outcome(&obj, result))
    }))
}

/// The result of a task that has already finished, without suspending the
/// waiting strand.
fn finished(handle: &mut Handle) -> Option<Result<Result<Value, Value>, JoinError>> {
    if !handle.is_finished() {
        return None;
    }
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(handle).poll(&mut cx) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

/// The futures of an array argument, their handles taken.
fn take_all(v: &Value) -> VmResult<Vec<(Rc<HostObj>, Handle)>> {
    let Value::Array(items) = v else {
        return Err(Panic::msg(format!(
            "internal type error: expected an array, found {}",
            v.kind_name()
        )));
    };
    let items = items.borrow().clone();
    items.iter().map(take).collect()
}

/// `waitAll(recordType, futures)`: every result, as a record of the type
/// `recordType` (fields in the order of `futures`).
fn wait_all(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let rec = match arg(args, 0) {
        Value::Typedesc(t) => match vm.program.types.kind(*t) {
            TyKind::Record(r) => *r,
            _ => return ready(Err(type_error(arg(args, 0)))),
        },
        other => return ready(Err(type_error(other))),
    };
    let mut tasks = match take_all(arg(args, 1)) {
        Ok(t) => t,
        Err(p) => return ready(Err(p)),
    };
    // Results of the strands that have finished, taken without suspending.
    let mut done: Vec<Option<Value>> = tasks
        .iter_mut()
        .map(|(obj, handle)| finished(handle).map(|r| outcome(obj, r)))
        .collect();
    if done.iter().all(Option::is_some) {
        let fields = done.into_iter().flatten().collect();
        return ready(Ok(Value::record(rec, fields)));
    }
    NativeResult::Suspend(Box::pin(async move {
        let mut fields = Vec::with_capacity(tasks.len());
        for ((obj, handle), value) in tasks.into_iter().zip(done.iter_mut()) {
            match value.take() {
                Some(v) => fields.push(v),
                None => {
                    let result = handle.await;
                    fields.push(outcome(&obj, result));
                }
            }
        }
        Ok(Value::record(rec, fields))
    }))
}

/// `waitAny(futures)`: the first result that is not an error, else the
/// error of the strand that finished last. Strands still running when a
/// result is chosen keep running (they count as waited on).
fn wait_any(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let tasks = match take_all(arg(args, 0)) {
        Ok(t) => t,
        Err(p) => return ready(Err(p)),
    };
    let mut pending: Vec<Option<(Rc<HostObj>, Handle)>> = tasks.into_iter().map(Some).collect();
    NativeResult::Suspend(Box::pin(async move {
        let mut last_error = Value::error(ErrorId(0), "`wait` on no futures");
        let found = poll_fn(|cx| {
            let mut left = 0;
            for slot in pending.iter_mut() {
                let Some((obj, handle)) = slot else {
                    continue;
                };
                match Pin::new(handle).poll(cx) {
                    Poll::Ready(result) => {
                        let v = outcome(obj, result);
                        *slot = None;
                        if !v.is_error() {
                            return Poll::Ready(Some(v));
                        }
                        last_error = v;
                    }
                    Poll::Pending => left += 1,
                }
            }
            if left == 0 {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        Ok(found.unwrap_or(last_error))
    }))
}

/// `cancel(f)`: aborts the strand (a no-op when it has finished).
fn cancel(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    match future_of(arg(args, 0)) {
        Ok((_, fut)) => {
            fut.cancelled.set(true);
            fut.abort.abort();
            ready(Ok(Value::Nil))
        }
        Err(p) => ready(Err(p)),
    }
}
