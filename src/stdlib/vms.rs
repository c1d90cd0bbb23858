//! Services on every core (DECISIONS, Services): when the host allows it
//! ([`ServiceVms`]) and the services are isolated
//! ([`crate::compile::isolation`]), each of `count` threads runs its own VM
//! instance of the program, serving its share of the connections from
//! parsing to answer. The initialiser runs once, on the first instance;
//! the `final` module variables the resources read are copied into the
//! others ([`SharedValue`]): plain values by value, endpoints and
//! listeners as the same shared objects (one breaker, budget, bulkhead,
//! rate limiter and statistics per endpoint, whatever thread calls it).

use super::http::{client_of, host_value, HttpSettings};
use crate::compile::isolation::{service_globals, Isolation};
use crate::runtime::http::Client;
use crate::runtime::server::BoundListener;
use crate::vm::machine::Vm;
use crate::vm::value::Value;
use std::rc::Rc;
use std::sync::Arc;

/// Makes a fresh VM instance of the same program on the calling thread.
pub type VmFactory = Arc<dyn Fn() -> Result<Rc<Vm>, String> + Send + Sync>;

/// The host's permission to run isolated services on several VM instances
/// (an extension of the first instance; `flow run` sets it).
#[derive(Clone)]
pub struct ServiceVms {
    /// How many instances (threads) in all, the first one included; `None`:
    /// one per core, counted only when a service starts (reading the
    /// core count costs a few files in a container).
    pub count: Option<usize>,
    /// Creates the other instances, each on its own thread.
    pub make: VmFactory,
    /// Report the chosen mode on stderr (the `FLOW_SERVICE_VMS` override).
    pub report: bool,
}

/// A module variable's value, movable to another thread.
#[derive(Clone)]
pub enum SharedValue {
    /// `()`
    Nil,
    /// A boolean.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A duration.
    Duration(i64),
    /// A string.
    Str(String),
    /// An endpoint: the same shared state.
    Client(Client, String),
    /// A listener: the same socket.
    Listener(Arc<BoundListener>, String),
}

impl SharedValue {
    /// The value when it is immutable and can live on another thread.
    pub fn of(v: &Value) -> Option<SharedValue> {
        Some(match v {
            Value::Nil => SharedValue::Nil,
            Value::Bool(b) => SharedValue::Bool(*b),
            Value::Int(i) => SharedValue::Int(*i),
            Value::Float(f) => SharedValue::Float(*f),
            Value::Duration(d) => SharedValue::Duration(*d),
            Value::Str(s) => SharedValue::Str(s.to_string()),
            Value::Host(h) => {
                if let Some(c) = client_of(v) {
                    SharedValue::Client(c.client.clone(), c.name.clone())
                } else {
                    let l = super::service::listener_inner(v)?;
                    SharedValue::Listener(l, h.label.clone())
                }
            }
            _ => return None,
        })
    }

    /// The value in the calling thread's instance.
    pub fn to_value(&self) -> Value {
        match self {
            SharedValue::Nil => Value::Nil,
            SharedValue::Bool(b) => Value::Bool(*b),
            SharedValue::Int(i) => Value::Int(*i),
            SharedValue::Float(f) => Value::Float(*f),
            SharedValue::Duration(d) => Value::Duration(*d),
            SharedValue::Str(s) => Value::str(s.as_str()),
            SharedValue::Client(c, name) => host_value(c.clone(), name.clone()),
            SharedValue::Listener(l, label) => super::service::listener_value(l.clone(), label),
        }
    }
}

/// Copies `globals` (from [`Plan::globals`]) into instance `vm`.
pub fn install(vm: &Vm, globals: &[(usize, SharedValue)]) {
    let mut values = vm.globals.borrow_mut();
    for (g, v) in globals {
        if let Some(slot) = values.get_mut(*g) {
            *slot = v.to_value();
        }
    }
}

/// How the services of an instance will run on several instances.
pub struct Plan {
    /// How many instances in all, the first one included.
    pub count: usize,
    /// Creates the other instances.
    pub make: VmFactory,
    /// The module variables to copy into each other instance.
    pub globals: Vec<(usize, SharedValue)>,
}

/// Instances at most, whatever was asked.
const MAX_INSTANCES: usize = 64;

/// Whether (and how) `vm`'s services run on several instances: the host
/// allows more than one, the program uses no transactions (a participant
/// lives in the instance that joined it, and control requests may reach
/// any instance), and the resources are isolated with immutable values in
/// the module variables they read. Reports the choice when asked to.
pub fn plan(vm: &Rc<Vm>) -> Option<Plan> {
    let vms = vm.extension::<ServiceVms>()?;
    let count = vms
        .count
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, MAX_INSTANCES);
    let decision = shared_globals(vm, count);
    if vms.report {
        let text = match &decision {
            Ok(_) => format!("service: {count} VM instances\n"),
            Err(why) => format!("service: one VM instance ({why})\n"),
        };
        vm.write_stderr(&text);
    }
    decision.ok().map(|globals| Plan {
        count,
        make: vms.make.clone(),
        globals,
    })
}

/// The module variables to copy into the other instances, or why the
/// services must stay on one.
fn shared_globals(vm: &Rc<Vm>, count: usize) -> Result<Vec<(usize, SharedValue)>, String> {
    if count < 2 {
        return Err("one thread".into());
    }
    if super::tx::uses_transactions(vm) {
        return Err("the program uses transactions".into());
    }
    let reads = match service_globals(&vm.program) {
        Isolation::Isolated(reads) => reads,
        Isolation::Shared(why) => return Err(why),
    };
    let values = vm.globals.borrow();
    let mut globals = Vec::with_capacity(reads.len());
    for g in reads {
        let g = g as usize;
        let v = values.get(g).cloned().unwrap_or_default();
        let shared = SharedValue::of(&v).ok_or_else(|| {
            let name = vm.program.globals.get(g).map_or("?", |i| &*i.name);
            format!("module variable {name} holds a mutable value")
        })?;
        globals.push((g, shared));
    }
    Ok(globals)
}

/// A factory for `flow run`: instances with the process's stdout and
/// stderr, the standard library, and the first instance's limits, log
/// level and `http` settings.
pub fn process_factory(vm: &Vm) -> VmFactory {
    let program = vm.program.clone();
    let limits = vm.limits;
    let level = vm.log_level.get();
    let http = vm.extension::<HttpSettings>().map(|s| (*s).clone());
    Arc::new(move || {
        let vm = crate::runtime::instantiate(
            program.clone(),
            &super::resolve,
            crate::vm::machine::HostIo::process(),
            limits,
        )?;
        vm.log_level.set(level);
        if let Some(h) = &http {
            vm.set_extension(h.clone());
        }
        Ok(vm)
    })
}
