//! Per-call sandbox limits checked while Flow code runs (§15.2): wall time,
//! memory and cancellation, for the embedding API (`crate::embed`).
//!
//! The state is thread-local: an embedded call runs alone on its thread
//! (`embed` gives each call its own thread and runtime), so "this thread"
//! is "this call", including the strands the call starts. Without an
//! active sandbox (the `flow` binary) nothing here is checked and strands
//! run with their whole operation budget as fuel.
//!
//! How the checks run: with a sandbox, a strand's fuel (calls and loop
//! iterations, see `interp`) is handed out in slices of [`SLICE`]; when a
//! slice is used up the interpreter calls [`check`] before taking the
//! next one. So a busy loop notices the deadline within [`SLICE`]
//! operations, and a limit that was hit turns into a Flow panic at the
//! strand's next call or loop iteration.
//!
//! Memory is approximate (bytes of Flow values, not of the process):
//! * strings are counted exactly while they live (every string is one
//!   allocation made by `value::Str::new`, which calls [`admit_str`]);
//! * containers (arrays, maps, records, closures, errors) are measured by
//!   walking the values reachable from the module variables and the
//!   checking strand's registers, at most about once per as many
//!   operations as the previous walk visited values (so the walk costs a
//!   bounded fraction of the run). Containers held only by other strands
//!   are not seen by that strand's walk.
//!
//! A string that would take the live string bytes beyond twice the limit
//! is not allocated at all (it is replaced by `""`): the limit has been
//! hit and the strand panics at its next check, so the replacement is
//! never observed by the caller (`embed` reports the limit even when the
//! function returns before that check). This keeps a doubling loop from
//! exhausting the host's memory between two checks.

use super::machine::Vm;
use super::value::{Panic, Value};
use rustc_hash::FxHashSet;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operations (calls and loop iterations) between two checks.
pub const SLICE: u64 = 1024;

/// The limits of one call.
#[derive(Debug, Clone, Default)]
pub struct SandboxLimits {
    /// Wall-time limit of the call and when it started.
    pub deadline: Option<(Instant, Duration)>,
    /// Approximate bytes of Flow values.
    pub max_memory: Option<usize>,
    /// Set by the host to stop the call (its caller went away).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// The active sandbox of this thread.
struct State {
    limits: SandboxLimits,
    /// Why the call must stop, once a limit was hit (sticky).
    tripped: Option<String>,
    /// Operations since the last container walk.
    since_walk: u64,
    /// Operations to wait before the next walk.
    walk_every: u64,
}

thread_local! {
    /// Bytes of live strings on this thread (counted only while a
    /// sandbox is active).
    static STRING_BYTES: Cell<usize> = const { Cell::new(0) };
    /// The memory limit of the active sandbox (`usize::MAX`: none).
    static MEMORY_LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Whether a sandbox is active on this thread.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Removes the sandbox of this thread when dropped.
pub struct SandboxGuard(());

impl Drop for SandboxGuard {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(false));
        MEMORY_LIMIT.with(|m| m.set(usize::MAX));
        STRING_BYTES.with(|b| b.set(0));
        STATE.with(|s| s.borrow_mut().take());
    }
}

/// Activates `limits` on this thread until the guard is dropped. Strands
/// created before are not sliced (create the call's strands after this).
pub fn enter(limits: SandboxLimits) -> SandboxGuard {
    STRING_BYTES.with(|b| b.set(0));
    MEMORY_LIMIT.with(|m| m.set(limits.max_memory.unwrap_or(usize::MAX)));
    ACTIVE.with(|a| a.set(true));
    STATE.with(|s| {
        *s.borrow_mut() = Some(State {
            limits,
            tripped: None,
            since_walk: 0,
            walk_every: SLICE,
        })
    });
    SandboxGuard(())
}

/// A new strand's fuel and reserve for an operation budget of `total`:
/// the whole budget as fuel without a sandbox, else one slice.
#[inline]
pub fn fuel(total: u64) -> (u64, u64) {
    if ACTIVE.with(Cell::get) {
        let first = total.min(SLICE);
        (first, total - first)
    } else {
        (total, 0)
    }
}

/// Accounts a new string of `len` bytes; false when it must not be
/// allocated (far beyond the memory limit: the limit is hit either way).
#[inline]
pub fn admit_str(len: usize) -> bool {
    let limit = MEMORY_LIMIT.with(Cell::get);
    if limit == usize::MAX {
        return true;
    }
    let now = STRING_BYTES.with(Cell::get).saturating_add(len);
    if now > limit {
        trip_memory(limit);
        if now > limit.saturating_mul(2) {
            return false;
        }
    }
    STRING_BYTES.with(|b| b.set(now));
    true
}

/// Accounts a freed string of `len` bytes.
#[inline]
pub fn release_str(len: usize) {
    if MEMORY_LIMIT.with(Cell::get) != usize::MAX {
        STRING_BYTES.with(|b| b.set(b.get().saturating_sub(len)));
    }
}

#[cold]
fn trip_memory(limit: usize) {
    trip(format!(
        "memory limit exceeded: Flow values use more than {limit} bytes"
    ));
}

/// Records why the call must stop (the first reason wins).
fn trip(message: String) {
    STATE.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if let Some(s) = s.as_mut() {
                s.tripped.get_or_insert(message);
            }
        }
    });
}

/// Why the call must stop, if a limit was hit.
pub fn stopped() -> Option<Panic> {
    if !ACTIVE.with(Cell::get) {
        return None;
    }
    STATE.with(|s| {
        let s = s.try_borrow().ok()?;
        s.as_ref()?.tripped.clone().map(Panic::Message)
    })
}

/// The checks run between two slices of fuel: cancellation, wall time and
/// memory (see the module documentation). `Err` when the strand must stop.
pub fn check(vm: &Vm, regs: &[Value]) -> Result<(), Panic> {
    if !ACTIVE.with(Cell::get) {
        return Ok(());
    }
    let walk = STATE.with(|s| {
        let Ok(mut guard) = s.try_borrow_mut() else {
            return None;
        };
        let st = guard.as_mut()?;
        if st.tripped.is_some() {
            return None;
        }
        if let Some(c) = &st.limits.cancel {
            if c.load(Ordering::Relaxed) {
                st.tripped = Some("call cancelled by the host".into());
                return None;
            }
        }
        if let Some((start, limit)) = st.limits.deadline {
            if start.elapsed() > limit {
                st.tripped = Some(time_limit_message(limit));
                return None;
            }
        }
        let max = st.limits.max_memory?;
        st.since_walk += SLICE;
        if st.since_walk < st.walk_every {
            return None;
        }
        st.since_walk = 0;
        Some(max)
    });
    if let Some(max) = walk {
        let strings = STRING_BYTES.with(Cell::get);
        let (bytes, visited) = container_bytes(vm, regs, max.saturating_sub(strings));
        STATE.with(|s| {
            if let Ok(mut g) = s.try_borrow_mut() {
                if let Some(st) = g.as_mut() {
                    st.walk_every = (visited as u64).max(SLICE);
                }
            }
        });
        if strings.saturating_add(bytes) > max {
            trip_memory(max);
        }
    }
    match stopped() {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

/// The panic message of an exceeded wall-time limit.
pub fn time_limit_message(limit: Duration) -> String {
    format!("time limit exceeded: the call ran longer than {limit:?}")
}

/// Approximate bytes of the containers reachable from the module
/// variables and `regs` (strings excluded: they are counted when made),
/// stopping once beyond `budget`; also the number of values visited.
fn container_bytes(vm: &Vm, regs: &[Value], budget: usize) -> (usize, usize) {
    let mut seen: FxHashSet<usize> = FxHashSet::default();
    let mut stack: Vec<Value> = regs.to_vec();
    if let Ok(globals) = vm.globals.try_borrow() {
        stack.extend(globals.iter().cloned());
    }
    let (mut bytes, mut visited) = (0usize, 0usize);
    while let Some(v) = stack.pop() {
        visited += 1;
        if bytes > budget {
            break;
        }
        let Some(key) = identity(&v) else { continue };
        if !seen.insert(key) {
            continue;
        }
        match &v {
            Value::Array(a) => {
                if let Ok(items) = a.try_borrow() {
                    bytes += 48 + items.capacity() * 16;
                    visited += items.len();
                    stack.extend(items.iter().filter(|v| is_container(v)).cloned());
                }
            }
            Value::Map(m) => {
                if let Ok(m) = m.try_borrow() {
                    bytes += 64 + m.heap_bytes();
                    visited += m.len();
                    stack.extend(m.values().filter(|v| is_container(v)).cloned());
                }
            }
            Value::Record(r) => {
                if let Ok(fields) = r.fields.try_borrow() {
                    bytes += 48 + fields.len() * 16;
                    stack.extend(fields.iter().filter(|v| is_container(v)).cloned());
                }
            }
            Value::Error(e) => {
                bytes += 128 + e.detail.len() * 48 + e.trace.len() * 64;
                stack.extend(e.detail.values().filter(|v| is_container(v)).cloned());
                stack.extend(e.cause.iter().cloned());
            }
            Value::Func(c) => {
                bytes += 32 + c.upvalues.len() * 8;
                stack.extend(c.upvalues.iter().cloned().map(Value::Cell));
            }
            Value::Cell(c) => {
                bytes += 32;
                if let Ok(v) = c.try_borrow() {
                    stack.push(v.clone());
                }
            }
            Value::Host(h) => bytes += 128 + h.label.len(),
            _ => {}
        }
    }
    (bytes, visited)
}

/// The address of a container's allocation (its identity in the walk).
fn identity(v: &Value) -> Option<usize> {
    Some(match v {
        Value::Array(a) => Rc::as_ptr(a) as *const () as usize,
        Value::Map(m) => Rc::as_ptr(m) as *const () as usize,
        Value::Record(r) => Rc::as_ptr(r) as *const () as usize,
        Value::Error(e) => Rc::as_ptr(e) as *const () as usize,
        Value::Func(c) => Rc::as_ptr(c) as *const () as usize,
        Value::Cell(c) => Rc::as_ptr(c) as *const () as usize,
        Value::Host(h) => Rc::as_ptr(h) as *const () as usize,
        _ => return None,
    })
}

/// Whether the walk must look inside `v`.
fn is_container(v: &Value) -> bool {
    matches!(
        v,
        Value::Array(_)
            | Value::Map(_)
            | Value::Record(_)
            | Value::Error(_)
            | Value::Func(_)
            | Value::Cell(_)
            | Value::Host(_)
    )
}
