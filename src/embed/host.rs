//! Host modules: native functions supplied by the embedder, declared with
//! Flow signatures (§15.1).

use crate::check::types::{ErrorId, TyId};
use crate::vm::convert::{clone_with_type, value_is};
use crate::vm::interp::{Exit, Strand};
use crate::vm::json::{json_from_serde, json_to_serde};
use crate::vm::machine::{HostFn, NativeResult, Vm};
use crate::vm::sandbox;
use crate::vm::value::{ErrorObj, MapObj, Panic, Value, VmResult};
use serde_json::Value as Json;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

/// The failure of a host function: becomes a Flow `error` value (with
/// this message and detail) when the function's declared return type
/// includes `error`, else a panic in the script.
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    /// The error message (`e.message()` in Flow).
    pub message: String,
    /// The error detail (`e.detail()` in Flow).
    pub detail: serde_json::Map<String, Json>,
}

impl HostError {
    /// An error with a message and no detail.
    pub fn new(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
            detail: serde_json::Map::new(),
        }
    }

    /// Adds a detail entry.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Json>) -> HostError {
        self.detail.insert(key.into(), value.into());
        self
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

impl From<String> for HostError {
    fn from(message: String) -> HostError {
        HostError::new(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> HostError {
        HostError::new(message)
    }
}

/// What a host function returns.
pub type HostResult = Result<Json, HostError>;

/// The future of an asynchronous host function. It runs on the thread of
/// the call (a current-thread runtime), so it need not be `Send`.
pub type HostFuture = Pin<Box<dyn Future<Output = HostResult>>>;

type SyncFn = dyn Fn(Vec<Json>) -> HostResult + Send + Sync;
type AsyncFn = dyn Fn(Vec<Json>) -> HostFuture + Send + Sync;

/// An implementation registered with [`HostModule::function`] or
/// [`HostModule::async_function`].
#[derive(Clone)]
pub(crate) enum HostImpl {
    Sync(Arc<SyncFn>),
    Async(Arc<AsyncFn>),
}

/// A module of native functions supplied by the host.
///
/// Its Flow source declares the functions as `@native` (no body) with
/// their Flow signatures, so the checker type-checks every call; a script
/// uses it with `import NAME;`. A function that can fail declares `T|error`
/// and scripts must handle the error (§8.4):
///
/// ```ignore
/// let orders = HostModule::new("orders")
///     .source("@native public function lookup(int id) returns json|error;")
///     .function("lookup", |args| match args[0].as_i64() {
///         Some(7) => Ok(serde_json::json!({"id": 7, "total": 42})),
///         _ => Err(HostError::new("no such order")),
///     });
/// ```
///
/// Arguments arrive as JSON (ints, floats, strings, booleans, `()` as
/// `null`, arrays, maps and records as objects; an optional parameter that
/// was not passed is `null`); the result is converted to the declared
/// return type like `cloneWithType` (a mismatch is a panic in the script).
#[derive(Clone)]
pub struct HostModule {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) functions: Vec<(String, HostImpl)>,
}

impl std::fmt::Debug for HostModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostModule")
            .field("name", &self.name)
            .field(
                "functions",
                &self.functions.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl HostModule {
    /// A module imported as `import NAME;` (an identifier that is not a
    /// standard-library module name).
    pub fn new(name: impl Into<String>) -> HostModule {
        HostModule {
            name: name.into(),
            source: String::new(),
            functions: Vec::new(),
        }
    }

    /// The module's Flow source: `@native public function ...;`
    /// declarations (and any types, constants or Flow functions).
    pub fn source(mut self, text: impl Into<String>) -> HostModule {
        self.source = text.into();
        self
    }

    /// Implements the `@native` function `name` with a synchronous closure.
    pub fn function<F>(mut self, name: impl Into<String>, f: F) -> HostModule
    where
        F: Fn(Vec<Json>) -> HostResult + Send + Sync + 'static,
    {
        self.functions
            .push((name.into(), HostImpl::Sync(Arc::new(f))));
        self
    }

    /// Implements the `@native` function `name` with an asynchronous
    /// closure: the calling strand suspends (other strands run) until the
    /// future completes. The future runs on the call's own thread.
    pub fn async_function<F, Fut>(mut self, name: impl Into<String>, f: F) -> HostModule
    where
        F: Fn(Vec<Json>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HostResult> + 'static,
    {
        let f = move |args: Vec<Json>| -> HostFuture { Box::pin(f(args)) };
        self.functions
            .push((name.into(), HostImpl::Async(Arc::new(f))));
        self
    }

    /// The module name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The implementation of function `name`.
    pub(crate) fn implementation(&self, name: &str) -> Option<&HostImpl> {
        self.functions
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
    }
}

/// Binds a host implementation as a VM native; `ret` is its declared
/// return type and `qname` its qualified name (for messages).
pub(crate) fn bind(imp: &HostImpl, qname: &str, ret: TyId) -> HostFn {
    let qname: Rc<str> = Rc::from(qname);
    match imp.clone() {
        HostImpl::Sync(f) => Rc::new(move |vm: &Rc<Vm>, args: &[Value]| {
            let args = match prepare(vm, &qname, args) {
                Ok(a) => a,
                Err(p) => return NativeResult::Ready(Err(p)),
            };
            let out = match catch_unwind(AssertUnwindSafe(|| f(args))) {
                Ok(out) => out,
                Err(_) => {
                    return NativeResult::Ready(Err(Panic::msg(format!(
                        "host function {qname} panicked"
                    ))))
                }
            };
            NativeResult::Ready(to_flow(vm, &qname, ret, out))
        }),
        HostImpl::Async(f) => Rc::new(move |vm: &Rc<Vm>, args: &[Value]| {
            let args = match prepare(vm, &qname, args) {
                Ok(a) => a,
                Err(p) => return NativeResult::Ready(Err(p)),
            };
            let fut = match catch_unwind(AssertUnwindSafe(|| f(args))) {
                Ok(fut) => fut,
                Err(_) => {
                    return NativeResult::Ready(Err(Panic::msg(format!(
                        "host function {qname} panicked"
                    ))))
                }
            };
            let (vm, qname) = (vm.clone(), qname.clone());
            NativeResult::Suspend(Box::pin(async move {
                let out = fut.await;
                to_flow(&vm, &qname, ret, out)
            }))
        }),
    }
}

/// The arguments as JSON; a panic when a limit was hit or an argument is
/// not JSON.
fn prepare(vm: &Rc<Vm>, qname: &str, args: &[Value]) -> VmResult<Vec<Json>> {
    if let Some(p) = sandbox::stopped() {
        return Err(p);
    }
    let types = &vm.program.types;
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            json_to_serde(a, types).map_err(|e| {
                Panic::msg(format!(
                    "cannot pass argument {} to host function {qname}: {e}",
                    i + 1
                ))
            })
        })
        .collect()
}

/// A host function's result as a Flow value of its return type.
fn to_flow(vm: &Rc<Vm>, qname: &str, ret: TyId, out: HostResult) -> VmResult<Value> {
    let types = &vm.program.types;
    match out {
        Ok(json) => {
            let v = json_from_serde(&json);
            let defaults = |r, f| record_default(vm, r, f);
            clone_with_type(&v, ret, types, &defaults).map_err(|e| {
                Panic::msg(format!(
                    "host function {qname} returned a value that is not a `{}`: {e}",
                    types.display(ret)
                ))
            })
        }
        Err(e) => {
            let mut detail = MapObj::default();
            for (k, v) in &e.detail {
                detail.insert(k.as_str().into(), json_from_serde(v));
            }
            let err = Value::Error(Rc::new(ErrorObj {
                ty: ErrorId(0),
                message: e.message.as_str().into(),
                detail,
                cause: None,
                trace: Vec::new(),
            }));
            if value_is(&err, ret, types) {
                Ok(err)
            } else {
                Err(Panic::msg(format!(
                    "host function {qname} failed: {}",
                    e.message
                )))
            }
        }
    }
}

/// The default value of field `f` of record type `r` (runs its default
/// function; defaults never suspend).
pub(crate) fn record_default(
    vm: &Rc<Vm>,
    r: crate::check::types::RecordId,
    f: usize,
) -> Option<Value> {
    let func = *vm.program.record_defaults.get(r.0 as usize)?.get(f)?;
    match Strand::new(vm.clone(), func?, Vec::new()).run() {
        Exit::Return(v) => Some(v),
        _ => None,
    }
}
