//! The language side of services (§11): the natives `http:listener`,
//! `http:listenerPort` and `http:close`, starting the program's services
//! after the module initialiser ([`start`]), binding a request to a
//! resource's parameters (§11.1) and turning its result into a response
//! (§11.2). The HTTP server itself is [`crate::runtime::server`]; this file
//! converts between its Rust types and Flow values.
//!
//! Each request runs in its own strand on the VM's `LocalSet`; a panic is
//! answered 500 and logged on stderr, and the service keeps serving.

use super::http::{error_id, headers_value, make_record, record_default, record_id, HttpSettings};
use super::{arg, ready, str_arg};
use crate::check::tir::{ParamSource, Resource, ResourceParam};
use crate::check::types::{RecordId, TyId, TyKind, Types};
use crate::runtime::describe_failure;
use crate::runtime::server::router::Router;
use crate::runtime::server::{self, BoundListener, Incoming, Reply};
use crate::vm::convert::clone_with_type;
use crate::vm::drive;
use crate::vm::interp::Strand;
use crate::vm::json::{json_to_serde, parse_json};
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{HostObj, MapObj, Panic, Str, Value, VmResult};
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The Flow type of listener values.
pub const LISTENER_TYPE: &str = "http:Listener";

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "listener" => listener,
        "listenerPort" => listener_port,
        "close" => close,
        _ => return None,
    })
}

/// The object of an `http:Listener` value.
struct ListenerObj {
    inner: Arc<BoundListener>,
}

fn listener_of(v: &Value) -> VmResult<&Arc<BoundListener>> {
    match v {
        Value::Host(h) => h
            .value
            .downcast_ref::<ListenerObj>()
            .map(|l| &l.inner)
            .ok_or_else(|| type_error(v)),
        _ => Err(type_error(v)),
    }
}

/// The listener of an `http:Listener` value.
pub(crate) fn listener_inner(v: &Value) -> Option<Arc<BoundListener>> {
    listener_of(v).ok().cloned()
}

/// An `http:Listener` value for `inner` printing as `label`.
pub(crate) fn listener_value(inner: Arc<BoundListener>, label: &str) -> Value {
    Value::Host(Rc::new(HostObj {
        type_name: LISTENER_TYPE,
        label: label.to_string(),
        value: Box::new(ListenerObj { inner }),
    }))
}

fn type_error(v: &Value) -> Panic {
    Panic::msg(format!(
        "internal type error: expected {LISTENER_TYPE}, found {}",
        v.kind_name()
    ))
}

fn settings(vm: &Vm) -> HttpSettings {
    vm.extension::<HttpSettings>()
        .map(|s| (*s).clone())
        .unwrap_or_default()
}

/// `http:listener(port, host)`: checks the sandbox, then binds.
fn listener(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(bind(vm, args))
}

fn bind(vm: &Rc<Vm>, args: &[Value]) -> VmResult<Value> {
    let port = match arg(args, 0) {
        Value::Int(p) => *p,
        other => return Err(type_error(other)),
    };
    let host = match str_arg(args, 1)? {
        "" => "0.0.0.0",
        h => h,
    };
    let port = u16::try_from(port)
        .map_err(|_| Panic::msg(format!("cannot listen on port {port}: not a port number")))?;
    if !settings(vm).hosts.allows_listener(port) {
        return Err(Panic::msg(format!(
            "listening on port {port} is not allowed (allowed network: --allow-net)"
        )));
    }
    let inner = BoundListener::bind(host, port).map_err(Panic::msg)?;
    Ok(Value::Host(Rc::new(HostObj {
        type_name: LISTENER_TYPE,
        label: format!("{LISTENER_TYPE}{{{host}:{}}}", inner.port()),
        value: Box::new(ListenerObj { inner }),
    })))
}

/// `http:listenerPort(l)`.
fn listener_port(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(listener_of(arg(args, 0)).map(|l| Value::Int(i64::from(l.port()))))
}

/// `http:close(l)`.
fn close(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(listener_of(arg(args, 0)).map(|l| {
        l.close();
        Value::Nil
    }))
}

/// Serves every service of the program (after the initialiser ran).
/// Returns the served listeners.
///
/// When the services are isolated and the host allows it
/// ([`super::vms::plan`]), every VM thread serves its share of the
/// connections from parsing to answer; otherwise each listener's
/// connections run on the server runtime and each request in a strand of
/// this VM.
pub fn start(vm: &Rc<Vm>) -> Result<Vec<Arc<BoundListener>>, String> {
    let program = vm.program.clone();
    let mut listeners = Vec::new();
    for service in &program.services {
        let value = vm
            .globals
            .borrow()
            .get(service.listener.0 as usize)
            .cloned()
            .unwrap_or_default();
        let listener = listener_of(&value)
            .map_err(|_| "error: a service has no listener".to_string())?
            .clone();
        listeners.push(listener);
    }
    let Some(first) = listeners.first() else {
        return Ok(listeners);
    };
    vm.set_extension(super::twopc::CoordinatorUrl(format!(
        "http://127.0.0.1:{}",
        first.port()
    )));
    match super::vms::plan(vm) {
        Some(plan) => start_on_threads(vm, &listeners, plan)?,
        None => start_on_vm_thread(vm, &listeners)?,
    }
    Ok(listeners)
}

fn router(vm: &Vm, si: usize) -> Router {
    let mut router = Router::default();
    for r in vm
        .program
        .services
        .get(si)
        .map_or(&[][..], |s| &s.resources)
    {
        router.add(&r.method, &r.path);
    }
    router
}

/// One VM: connections on the server runtime, requests over a channel.
fn start_on_vm_thread(vm: &Rc<Vm>, listeners: &[Arc<BoundListener>]) -> Result<(), String> {
    let limits = settings(vm).server;
    for (si, listener) in listeners.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        server::serve(listener, router(vm, si), limits, tx).map_err(|e| format!("error: {e}\n"))?;
        tokio::task::spawn_local(dispatch(vm.clone(), si, rx));
    }
    Ok(())
}

/// One VM per thread: this one and `plan.count - 1` new threads, each
/// with its own instance (made by the host's factory, with the module
/// variables of the plan copied in) serving its share of every listener.
fn start_on_threads(
    vm: &Rc<Vm>,
    listeners: &[Arc<BoundListener>],
    plan: super::vms::Plan,
) -> Result<(), String> {
    let limits = settings(vm).server;
    let count = plan.count;
    let mut shares: Vec<Vec<server::Share>> = (0..count).map(|_| Vec::new()).collect();
    for listener in listeners {
        let per_thread =
            server::serve_shared(listener, count).map_err(|e| format!("error: {e}\n"))?;
        for (t, share) in per_thread.into_iter().enumerate() {
            shares[t].push(share);
        }
    }
    let mut shares = shares.into_iter();
    let own = shares.next().unwrap_or_default();
    let globals = Arc::new(plan.globals);
    let mut started = Vec::new();
    for (t, thread_shares) in shares.enumerate() {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let make = plan.make.clone();
        let globals = globals.clone();
        let listeners = listeners.to_vec();
        std::thread::Builder::new()
            .name(format!("flow-vm-{}", t + 1))
            .stack_size(8 << 20)
            .spawn(move || {
                let instance = Instance {
                    make,
                    globals,
                    shares: thread_shares,
                    listeners,
                    limits,
                };
                instance.run(ready_tx);
            })
            .map_err(|e| format!("error: cannot start a service thread: {e}\n"))?;
        started.push(ready_rx);
    }
    for ready in started {
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("error: cannot start a service instance: {e}\n")),
            Err(_) => return Err("error: a service thread stopped while starting\n".into()),
        }
    }
    let vm = vm.clone();
    let listeners = listeners.to_vec();
    tokio::task::spawn_local(async move {
        serve_shares(&vm, own, &listeners, limits).await;
    });
    Ok(())
}

/// What a service thread needs to run its own instance.
struct Instance {
    make: super::vms::VmFactory,
    globals: Arc<Vec<(usize, super::vms::SharedValue)>>,
    shares: Vec<server::Share>,
    listeners: Vec<Arc<BoundListener>>,
    limits: server::ServerLimits,
}

impl Instance {
    /// Makes the instance on this thread, says on `ready` whether that
    /// worked, then serves its shares until the listeners close.
    fn run(self, ready: std::sync::mpsc::Sender<Result<(), String>>) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = ready.send(Err("cannot start a runtime".to_string()));
            return;
        };
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let vm = match (self.make)() {
                Ok(vm) => vm,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            super::vms::install(&vm, &self.globals);
            let _ = ready.send(Ok(()));
            serve_shares(&vm, self.shares, &self.listeners, self.limits).await;
            vm.flush();
        });
    }
}

/// Serves this thread's share of every listener with this thread's VM.
async fn serve_shares(
    vm: &Rc<Vm>,
    shares: Vec<server::Share>,
    listeners: &[Arc<BoundListener>],
    limits: server::ServerLimits,
) {
    let mut tasks = Vec::new();
    for (si, (share, listener)) in shares.into_iter().zip(listeners).enumerate() {
        let run = {
            let vm = vm.clone();
            move |req: Incoming| spawn_request(&vm, si, req)
        };
        let ctx = server::Context::new(router(vm, si), limits, server::LocalVm(Box::new(run)));
        tasks.push(tokio::task::spawn_local(server::serve_share(
            share,
            listener.clone(),
            ctx,
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs each request of service `si` in its own strand.
async fn dispatch(vm: Rc<Vm>, si: usize, mut rx: mpsc::UnboundedReceiver<Incoming>) {
    while let Some(req) = rx.recv().await {
        spawn_request(&vm, si, req);
    }
}

/// Starts the task that answers `req` (service `si`) on this thread.
fn spawn_request(vm: &Rc<Vm>, si: usize, req: Incoming) {
    // Boxed: the task then holds a pointer, not the strand's large future
    // (copied when spawned and again when done).
    tokio::task::spawn_local(Box::pin(run_request(vm.clone(), si, req)));
}

async fn run_request(vm: Rc<Vm>, si: usize, req: Incoming) {
    let program = vm.program.clone();
    if req.route == server::TX_CONTROL {
        let param = |k: &str| {
            req.params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (status, body) = super::twopc::control(&vm, &param("id"), &param("action")).await;
        vm.flush();
        let _ = req.reply.send(Reply::json(status, &body));
        return;
    }
    let Some(resource) = program
        .services
        .get(si)
        .and_then(|s| s.resources.get(req.route))
    else {
        let _ = req
            .reply
            .send(Reply::error(500, "internal: unknown resource"));
        return;
    };
    let args = match bind_params(&vm, resource, &req) {
        Ok(args) => args,
        Err(message) => {
            let _ = req.reply.send(Reply::error(400, &message));
            return;
        }
    };
    // §12.2: a transactional resource runs in the caller's transaction
    // (joined) or in a local one of its own.
    let tx = if resource.transactional {
        match super::twopc::join(&vm, &req.headers) {
            Ok(tx) => Some(tx),
            Err(message) => {
                let _ = req.reply.send(Reply::error(400, &message));
                return;
            }
        }
    } else {
        None
    };
    let strand = drive(Strand::new(vm.clone(), resource.func.0, args));
    let result = match &tx {
        Some(tx) => super::tx::run_in(tx.clone(), strand).await,
        None => strand.await,
    };
    let mut participant = None;
    if let Some(tx) = &tx {
        let failed = !matches!(result, Ok(ref v) if !matches!(v, Value::Error(_)));
        super::twopc::after_resource(tx, failed).await;
        participant = super::twopc::is_participant(tx).then(|| {
            let host = req
                .headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("http://{host}")
        });
    }
    let mut reply = match result {
        Ok(v) => result_reply(&program.types, &v),
        Err(panic) => {
            let text = describe_failure(&panic, &program.types);
            let prefix = format!("error: panic in {} {}: ", resource.method, resource.path);
            vm.write_stderr(&text.replacen("error: ", &prefix, 1));
            Reply::error(500, "internal error")
        }
    };
    if let Some(url) = participant {
        reply
            .headers
            .push((super::twopc::PARTICIPANT_HEADER.to_ascii_lowercase(), url));
    }
    vm.flush();
    let _ = req.reply.send(reply);
}

// ---- binding (§11.1) ------------------------------------------------------------

/// The arguments of `resource` for `req`, or the message of a 400 answer.
fn bind_params(vm: &Rc<Vm>, resource: &Resource, req: &Incoming) -> Result<Vec<Value>, String> {
    let types = &vm.program.types;
    let mut args = Vec::with_capacity(resource.params.len());
    for p in &resource.params {
        let v = match p.source {
            ParamSource::Path => {
                let text = req
                    .params
                    .iter()
                    .find(|(k, _)| **k == *p.name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                from_text(types, text, p.ty)
                    .map_err(|e| format!("path parameter `{}`: {e}", p.name))?
            }
            ParamSource::Query => match req.query.iter().rev().find(|(k, _)| **k == *p.name) {
                Some((_, text)) => from_text(types, text, p.ty)
                    .map_err(|e| format!("query parameter `{}`: {e}", p.name))?,
                None => absent(p, "query parameter")?,
            },
            ParamSource::Body => body_value(vm, p, req)?,
            ParamSource::Request => request_value(types, req).map_err(|e| match e {
                Panic::Message(m) => m,
                Panic::Error(_) => "internal: cannot build the request".into(),
            })?,
        };
        args.push(v);
    }
    Ok(args)
}

/// The argument of a parameter that was not given.
fn absent(p: &ResourceParam, what: &str) -> Result<Value, String> {
    if p.has_default {
        Ok(Value::Undefined)
    } else if p.optional {
        Ok(Value::Nil)
    } else {
        Err(format!("missing {what} `{}`", p.name))
    }
}

/// A path or query text as a value of `ty` (`int`, `float`, `boolean`,
/// `string`, or a union of them, tried in that order).
fn from_text(types: &Types, text: &str, ty: TyId) -> Result<Value, String> {
    let members = types.members(ty);
    let has = |k: fn(&TyKind) -> bool| members.iter().any(|m| k(types.kind(*m)));
    if has(|k| matches!(k, TyKind::Int)) {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
    }
    if has(|k| matches!(k, TyKind::Float)) {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                return Ok(Value::Float(f));
            }
        }
    }
    if has(|k| matches!(k, TyKind::Boolean)) {
        match text {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
    }
    if has(|k| matches!(k, TyKind::String)) {
        return Ok(Value::str(text));
    }
    let shown = types.display(types.canon(ty));
    Err(format!("expected {shown}, found {text:?}"))
}

/// The `body` parameter: JSON converted to its type; an empty body is `()`.
fn body_value(vm: &Rc<Vm>, p: &ResourceParam, req: &Incoming) -> Result<Value, String> {
    let types = &vm.program.types;
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return absent(p, "request body");
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| "body: not valid UTF-8".to_string())?;
    let json = match parse_json(text) {
        Ok(j) => j,
        // A `string` body takes text that is not JSON as it is.
        Err(_) if admits_string(types, p.ty) => return Ok(Value::str(text)),
        Err(e) => return Err(format!("body: not valid JSON: {e}")),
    };
    let defaults = |r: RecordId, f: usize| record_default(vm, r, f);
    clone_with_type(&json, p.ty, types, &defaults).map_err(|e| format!("body: {e}"))
}

fn admits_string(types: &Types, ty: TyId) -> bool {
    types
        .members(ty)
        .iter()
        .any(|m| matches!(types.kind(*m), TyKind::String))
}

/// The whole request as an `http:Request`.
fn request_value(types: &Types, req: &Incoming) -> VmResult<Value> {
    let mut query = MapObj::default();
    for (k, v) in &req.query {
        query.insert(Str::from(k.as_str()), Value::str(v.as_str()));
    }
    make_record(
        types,
        "http:Request",
        vec![
            ("method", Value::str(req.method.as_str())),
            ("path", Value::str(req.path.as_str())),
            ("headers", headers_value(&req.headers)),
            ("query", Value::map(query)),
            (
                "body",
                Value::str(String::from_utf8_lossy(&req.body).into_owned()),
            ),
        ],
    )
}

// ---- results (§11.2) ----------------------------------------------------------

/// The answer for a resource's result.
fn result_reply(types: &Types, v: &Value) -> Reply {
    match v {
        Value::Nil => Reply {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        },
        Value::Str(s) => text_reply(200, s.as_str()),
        Value::Error(e) => {
            let status_error = error_id(types, "http:StatusError");
            let status = if types.error_extends(e.ty, status_error) {
                match e.detail.get("status") {
                    Some(Value::Int(s)) if (400..=599).contains(s) => *s as u16,
                    _ => 500,
                }
            } else {
                500
            };
            Reply::error(status, e.message.as_str())
        }
        Value::Record(r) if Some(r.rec) == record_id(types, "http:Response") => {
            response_reply(types, v)
        }
        other => json_reply(types, 200, other),
    }
}

fn text_reply(status: u16, text: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: text.as_bytes().to_vec(),
    }
}

fn json_reply(types: &Types, status: u16, v: &Value) -> Reply {
    match json_to_serde(v, types) {
        Ok(j) => Reply::json(status, &j),
        Err(e) => Reply::error(500, &format!("the result cannot be sent as JSON: {e}")),
    }
}

/// An `http:Response` as given: its status and headers, and its body as
/// text (a string), nothing (`()`) or JSON.
fn response_reply(types: &Types, v: &Value) -> Reply {
    let Value::Record(r) = v else {
        return Reply::error(500, "internal: not a response");
    };
    let def = types.record(r.rec);
    let fields = r.fields.borrow();
    let get = |name: &str| {
        def.field_index(name)
            .and_then(|i| fields.get(i).cloned())
            .unwrap_or_default()
    };
    let status = match get("status") {
        Value::Int(s) if (100..=999).contains(&s) => s as u16,
        Value::Int(s) => return Reply::error(500, &format!("invalid response status {s}")),
        _ => 500,
    };
    let mut reply = match get("body") {
        Value::Nil => Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        },
        Value::Str(s) => text_reply(status, s.as_str()),
        body => json_reply(types, status, &body),
    };
    if let Value::Map(m) = get("headers") {
        for (k, v) in m.borrow().iter() {
            let Value::Str(v) = v else { continue };
            let k = k.as_str().to_ascii_lowercase();
            reply.headers.retain(|(n, _)| *n != k);
            reply.headers.push((k, v.to_string()));
        }
    }
    reply
}
