//! The interpreter: runs a strand's bytecode until it returns, panics or
//! must wait.
//!
//! Invariant: a Flow call never recurses in Rust. Frames live in the
//! strand's heap-allocated frame stack and registers in its register file,
//! so a strand can stop at any suspension point and be resumed later, and
//! deep recursion ends in a clean Flow panic.

use super::convert;
use super::equality::deep_equal_typed;
use super::format::to_display_string;
use super::machine::{NativeFuture, NativeResult, Vm};
use super::methods::{call_method, float_to_int, sort_by_keys};
use super::value::{Closure, ErrorObj, MapObj, Panic, Str, TraceFrame, Value, VmResult};
use crate::check::tir::Capture;
use crate::check::types::{ErrorId, RecordId, TyId};
use crate::compile::op::{Cmp, Op};
use crate::compile::program::CompiledProgram;
use crate::compile::METHODS;
use std::cell::RefCell;
use std::rc::Rc;

/// One activation record.
#[derive(Debug, Clone)]
struct Frame {
    func: u32,
    /// Next instruction to run (for callers: the return address).
    pc: u32,
    base: u32,
    /// Absolute register receiving the result in the caller.
    ret: u32,
    closure: Option<Rc<Closure>>,
}

/// An active `trap`.
#[derive(Debug, Clone)]
struct TrapRec {
    /// Number of frames when the trap was pushed.
    depth: usize,
    /// Absolute register receiving the error.
    dst: usize,
    /// Where to continue (in the trapping frame).
    target: usize,
}

/// What the interpreter loop does after an out-of-line instruction.
enum Step {
    /// Continue with the next instruction.
    Next,
    /// Continue at this pc in the same frame.
    Jump(usize),
    /// The frame stack changed: continue in the current frame.
    Reload,
    /// Stop running the strand.
    Exit(Exit),
}

/// Why `run` stopped.
pub enum Exit {
    /// The strand's function returned.
    Return(Value),
    /// An unhandled panic (an error value with its trace).
    Panic(Value),
    /// Waiting for a native operation; resume with its result.
    Suspend(NativeFuture),
}

/// A lightweight thread of Flow code.
pub struct Strand {
    vm: Rc<Vm>,
    regs: Vec<Value>,
    frames: Vec<Frame>,
    traps: Vec<TrapRec>,
    /// Absolute register waiting for a suspended native's result.
    pending: Option<usize>,
    /// Calls and backward jumps left before the operation limit panics.
    fuel: u64,
    /// Operations beyond `fuel` (handed out in slices under a sandbox).
    reserve: u64,
    /// Reused buffer for building template strings.
    scratch: String,
    /// The instance's limit on nested calls (copied: read on every call).
    max_depth: usize,
}

impl Strand {
    /// A strand that will call `func` (a function value or function id) with `args`.
    pub fn new(vm: Rc<Vm>, func: u32, args: Vec<Value>) -> Strand {
        let nregs = vm
            .program
            .functions
            .get(func as usize)
            .map_or(1, |p| p.nregs as usize);
        let mut regs = args;
        regs.resize(nregs.max(regs.len()) + 1, Value::Nil);
        let (fuel, reserve) = super::sandbox::fuel(vm.limits.max_operations.unwrap_or(u64::MAX));
        Strand {
            regs,
            frames: vec![Frame {
                func,
                pc: 0,
                base: 0,
                ret: 0,
                closure: None,
            }],
            traps: Vec::new(),
            pending: None,
            fuel,
            reserve,
            scratch: String::new(),
            max_depth: vm.limits.max_depth,
            vm,
        }
    }

    /// A strand that will call the function value `closure` with `args`
    /// (how natives such as the `retry` and `timeout` statements run Flow code).
    pub fn for_closure(vm: Rc<Vm>, closure: Rc<Closure>, args: Vec<Value>) -> Strand {
        let mut strand = Strand::new(vm, closure.func.0, args);
        if let Some(frame) = strand.frames.first_mut() {
            frame.closure = Some(closure);
        }
        strand
    }

    /// The VM this strand runs on.
    pub fn vm(&self) -> &Rc<Vm> {
        &self.vm
    }

    /// Delivers the result of the native operation the strand waited for.
    pub fn resume_with(&mut self, result: VmResult<Value>) -> Option<Exit> {
        let dst = self.pending.take()?;
        match result {
            Ok(v) => {
                if let Some(r) = self.regs.get_mut(dst) {
                    *r = v;
                }
                None
            }
            Err(p) => self.raise(p),
        }
    }

    /// Runs until the strand returns, panics or suspends.
    pub fn run(&mut self) -> Exit {
        loop {
            match self.run_inner() {
                Ok(exit) => return exit,
                Err(p) => {
                    if let Some(exit) = self.raise(p) {
                        return exit;
                    }
                }
            }
        }
    }

    /// Turns a panic into an error value with a trace and unwinds to the
    /// innermost `trap`; returns `Some` when nothing traps it.
    fn raise(&mut self, p: Panic) -> Option<Exit> {
        let err = self.panic_value(p);
        match self.traps.pop() {
            Some(t) => {
                self.frames.truncate(t.depth);
                if let Some(f) = self.frames.last_mut() {
                    f.pc = t.target as u32;
                }
                if let Some(r) = self.regs.get_mut(t.dst) {
                    *r = err;
                }
                None
            }
            None => {
                self.frames.clear();
                Some(Exit::Panic(err))
            }
        }
    }

    fn panic_value(&self, p: Panic) -> Value {
        let trace = self.trace();
        match p {
            Panic::Message(m) => Value::Error(Rc::new(ErrorObj {
                ty: ErrorId(0),
                message: m.into(),
                detail: MapObj::default(),
                cause: None,
                trace,
            })),
            Panic::Error(Value::Error(e)) => Value::Error(Rc::new(ErrorObj {
                ty: e.ty,
                message: e.message.clone(),
                detail: e.detail.clone(),
                cause: e.cause.clone(),
                trace,
            })),
            Panic::Error(other) => other,
        }
    }

    /// The Flow stack trace, innermost frame first (long traces elided).
    fn trace(&self) -> Vec<TraceFrame> {
        let prog = &self.vm.program;
        let frame_at = |f: &Frame| {
            let proto = &prog.functions[f.func as usize];
            let span = proto
                .spans
                .get((f.pc as usize).saturating_sub(1))
                .copied()
                .unwrap_or(proto.span);
            TraceFrame {
                function: Str::from(&*proto.name),
                location: prog.sources.location(span),
            }
        };
        let n = self.frames.len();
        let mut out = Vec::new();
        for (i, f) in self.frames.iter().rev().enumerate() {
            if n > 30 && (20..n - 5).contains(&i) {
                if i == 20 {
                    out.push(TraceFrame {
                        function: Str::from("..."),
                        location: format!("{} more frames", n - 25),
                    });
                }
                continue;
            }
            out.push(frame_at(f));
        }
        out
    }

    /// A pointer to register `base` of the register file (the current
    /// frame's window).
    #[inline(always)]
    fn window(&mut self, base: usize) -> *mut Value {
        debug_assert!(base < self.regs.len());
        // SAFETY: `push_frame` (and `Strand::new` for the first frame) keep
        // `regs.len() > base + nregs`, so `base` is inside the allocation.
        unsafe { self.regs.as_mut_ptr().add(base) }
    }

    fn run_inner(&mut self) -> VmResult<Exit> {
        let program = self.vm.program.clone();
        let vm = self.vm.clone();
        let Some(frame) = self.frames.last() else {
            return Ok(Exit::Return(Value::Nil));
        };
        let mut code: &[Op] = &program.functions[frame.func as usize].code;
        let mut pc = frame.pc as usize;
        let mut base = frame.base as usize;
        let mut regs = self.window(base);

        // Registers are accessed through `regs`, a raw pointer to the
        // frame's window, so that it (with `pc`, `base` and `code`) stays in
        // machine registers instead of being reloaded from `self.regs` after
        // every store.
        //
        // SAFETY: `CompiledProgram::verify` (run by `Vm::new`, the only way
        // to build a VM) guarantees every register operand of an instruction
        // is below its function's frame size, and `push_frame` keeps
        // `regs.len() > base + nregs`. `regs` is re-derived (`window`) after
        // everything that may reallocate or reborrow the register file:
        // frame pushes and every out-of-line instruction. A reference made
        // by `reg!` is never held across a write through `reg_mut!`.
        macro_rules! reg {
            ($r:expr) => {
                unsafe { &*regs.add($r as usize) }
            };
        }
        macro_rules! reg_mut {
            ($r:expr) => {
                unsafe { &mut *regs.add($r as usize) }
            };
        }
        macro_rules! save_pc {
            () => {
                if let Some(f) = self.frames.last_mut() {
                    f.pc = pc as u32;
                }
            };
        }
        macro_rules! fail {
            ($e:expr) => {{
                save_pc!();
                return Err($e);
            }};
        }
        // Continues in the frame that is current now (after a call or return).
        macro_rules! reload {
            () => {{
                let (f, p, b) = self.current();
                code = &program.functions[f as usize].code;
                pc = p;
                base = b;
                regs = self.window(base);
            }};
        }
        // Runs an instruction out of line (`slow_op`).
        macro_rules! slow {
            ($op:expr) => {{
                save_pc!();
                match self.slow_op($op, base, pc, &program)? {
                    Step::Next => regs = self.window(base),
                    Step::Jump(to) => {
                        pc = to;
                        regs = self.window(base);
                    }
                    Step::Reload => reload!(),
                    Step::Exit(e) => return Ok(e),
                }
            }};
        }
        macro_rules! int_op {
            ($dst:expr, $a:expr, $b:expr, $f:expr) => {{
                match (reg!($a), reg!($b)) {
                    (&Value::Int(x), &Value::Int(y)) => match $f(x, y) {
                        Some(v) => set_int(reg_mut!($dst), v),
                        None => fail!(int_failure(y)),
                    },
                    (a, b) => fail!(type_panic("int", a, b)),
                }
            }};
        }
        macro_rules! int_imm {
            ($dst:expr, $a:expr, $v:expr, $f:expr) => {{
                match reg!($a) {
                    &Value::Int(x) => match $f(x, $v as i64) {
                        Some(r) => set_int(reg_mut!($dst), r),
                        None => fail!(int_failure($v as i64)),
                    },
                    other => fail!(type_panic("int", other, other)),
                }
            }};
        }
        macro_rules! float_op {
            ($dst:expr, $a:expr, $b:expr, $f:expr) => {{
                match (reg!($a), reg!($b)) {
                    (&Value::Float(x), &Value::Float(y)) => {
                        *reg_mut!($dst) = Value::Float($f(x, y))
                    }
                    (a, b) => fail!(type_panic("float", a, b)),
                }
            }};
        }

        // A native function's prototype has no code: running it returns ().
        if code.is_empty() {
            return Ok(match self.do_return(Value::Nil) {
                Some(v) => Exit::Return(v),
                None => Exit::Return(Value::Nil),
            });
        }
        loop {
            debug_assert!(pc < code.len());
            // SAFETY: `CompiledProgram::verify` guarantees that every jump
            // lands inside its function and that the last instruction is a
            // return or a jump, so `pc` never runs past the end; frames
            // only ever hold a pc after a call, which is never last; the
            // only code-less functions are natives, which get no frames
            // except a strand's first (handled above).
            // Matched through a reference: operands are read straight from
            // the code (copying the whole instruction to the stack first put
            // a store-forwarding round trip on every dispatch).
            let op = unsafe { code.get_unchecked(pc) };
            pc += 1;
            match *op {
                Op::Move { dst, src } => {
                    let v = match reg!(src) {
                        &Value::Int(i) => Value::Int(i),
                        &Value::Float(f) => Value::Float(f),
                        &Value::Bool(b) => Value::Bool(b),
                        other => other.clone(),
                    };
                    store(reg_mut!(dst), v);
                }
                Op::LoadConst { dst, k } => {
                    store(
                        reg_mut!(dst),
                        vm.consts.get(k as usize).cloned().unwrap_or_default(),
                    );
                }
                Op::LoadNil { dst } => store(reg_mut!(dst), Value::Nil),
                Op::LoadBool { dst, v } => set_bool(reg_mut!(dst), v),
                Op::LoadInt { dst, v } => set_int(reg_mut!(dst), v as i64),
                Op::GetUpval { dst, idx } => {
                    let v = self
                        .frames
                        .last()
                        .and_then(|f| f.closure.as_ref())
                        .and_then(|c| c.upvalues.get(idx as usize))
                        .map(|c| c.borrow().clone())
                        .unwrap_or_default();
                    store(reg_mut!(dst), v);
                }
                Op::AddInt { dst, a, b } => int_op!(dst, a, b, i64::checked_add),
                Op::SubInt { dst, a, b } => int_op!(dst, a, b, i64::checked_sub),
                Op::MulInt { dst, a, b } => int_op!(dst, a, b, i64::checked_mul),
                Op::DivInt { dst, a, b } => int_op!(dst, a, b, i64::checked_div),
                Op::RemInt { dst, a, b } => int_op!(dst, a, b, i64::checked_rem),
                Op::AddIntImm { dst, a, v } => int_imm!(dst, a, v, i64::checked_add),
                Op::MulIntImm { dst, a, v } => int_imm!(dst, a, v, i64::checked_mul),
                Op::DivIntImm { dst, a, v } => int_imm!(dst, a, v, i64::checked_div),
                Op::RemIntImm { dst, a, v } => int_imm!(dst, a, v, i64::checked_rem),
                Op::CmpIntImm { dst, a, v, cmp } => match reg!(a) {
                    &Value::Int(x) => set_bool(reg_mut!(dst), cmp.ints(x, v as i64)),
                    other => fail!(type_panic("int", other, other)),
                },
                Op::JumpIfNotCmpIntImm { a, v, cmp, off } => match reg!(a) {
                    &Value::Int(x) => {
                        if !cmp.ints(x, v as i64) {
                            pc = jump(pc, off);
                        }
                    }
                    other => fail!(type_panic("int", other, other)),
                },
                Op::JumpIfNotCmpInt { a, b, cmp, off } => {
                    let holds = match (reg!(a), reg!(b)) {
                        (&Value::Int(x), &Value::Int(y)) => cmp.ints(x, y),
                        (x, y) => match compare(x, y, cmp) {
                            Some(v) => v,
                            None => fail!(type_panic("int", x, y)),
                        },
                    };
                    if !holds {
                        pc = jump(pc, off);
                    }
                }
                Op::AddFloat { dst, a, b } => float_op!(dst, a, b, |x: f64, y: f64| x + y),
                Op::SubFloat { dst, a, b } => float_op!(dst, a, b, |x: f64, y: f64| x - y),
                Op::MulFloat { dst, a, b } => float_op!(dst, a, b, |x: f64, y: f64| x * y),
                Op::DivFloat { dst, a, b } => float_op!(dst, a, b, |x: f64, y: f64| x / y),
                Op::Not { dst, a } => match reg!(a) {
                    &Value::Bool(x) => set_bool(reg_mut!(dst), !x),
                    other => fail!(type_panic("boolean", other, other)),
                },
                Op::Eq { dst, a, b } => {
                    let v = match (reg!(a), reg!(b)) {
                        (&Value::Int(x), &Value::Int(y)) => x == y,
                        (x, y) => deep_equal_typed(x, y, &program.types),
                    };
                    set_bool(reg_mut!(dst), v);
                }
                Op::Ne { dst, a, b } => {
                    let v = match (reg!(a), reg!(b)) {
                        (&Value::Int(x), &Value::Int(y)) => x != y,
                        (x, y) => !deep_equal_typed(x, y, &program.types),
                    };
                    set_bool(reg_mut!(dst), v);
                }
                Op::Compare { dst, a, b, cmp } => {
                    let v = match compare(reg!(a), reg!(b), cmp) {
                        Some(v) => v,
                        None => fail!(type_panic("comparable", reg!(a), reg!(b))),
                    };
                    set_bool(reg_mut!(dst), v);
                }
                Op::Jump { off } => {
                    if off < 0 {
                        if self.fuel == 0 && !self.refuel() {
                            fail!(self.out_of_fuel())
                        }
                        self.fuel -= 1;
                    }
                    pc = jump(pc, off)
                }
                Op::JumpIfFalse { r, off } => {
                    if matches!(reg!(r), Value::Bool(false)) {
                        pc = jump(pc, off);
                    }
                }
                Op::JumpIfTrue { r, off } => {
                    if matches!(reg!(r), Value::Bool(true)) {
                        pc = jump(pc, off);
                    }
                }
                Op::JumpIfNil { r, off } => {
                    if matches!(reg!(r), Value::Nil) {
                        pc = jump(pc, off);
                    }
                }
                Op::JumpIfNotError { r, off } => {
                    if !matches!(reg!(r), Value::Error(_)) {
                        pc = jump(pc, off);
                    }
                }
                Op::JumpIfDefined { r, off } => {
                    if !matches!(reg!(r), Value::Undefined) {
                        pc = jump(pc, off);
                    }
                }
                Op::CallFunc {
                    dst,
                    func: f,
                    args,
                    argc: _,
                    nregs,
                } => {
                    save_pc!();
                    self.push_frame(
                        f,
                        nregs as usize,
                        base + args as usize,
                        base + dst as usize,
                        None,
                    )?;
                    code = &program.functions[f as usize].code;
                    pc = 0;
                    base += args as usize;
                    regs = self.window(base);
                }
                Op::Return { src } => {
                    let Some(ret) = self.pop_frame() else {
                        return Ok(Exit::Return(std::mem::take(reg_mut!(src))));
                    };
                    // Straight into the caller's register: scalars write
                    // only their payload when the kind matches (no value
                    // built on the stack), others move (no reference count
                    // traffic). `src` and `ret` may be the same register.
                    match *reg!(src) {
                        Value::Int(i) => {
                            if let Some(d) = self.regs.get_mut(ret) {
                                set_int(d, i);
                            }
                        }
                        Value::Bool(b) => {
                            if let Some(d) = self.regs.get_mut(ret) {
                                set_bool(d, b);
                            }
                        }
                        _ => {
                            let v = std::mem::take(reg_mut!(src));
                            if let Some(d) = self.regs.get_mut(ret) {
                                store(d, v);
                            }
                        }
                    }
                    reload!();
                }
                Op::ReturnNil => match self.do_return(Value::Nil) {
                    Some(v) => return Ok(Exit::Return(v)),
                    None => reload!(),
                },
                Op::ArrayGet { dst, arr, idx } => {
                    let v = match (reg!(arr), reg!(idx)) {
                        (Value::Array(a), &Value::Int(i)) => {
                            let a = a.borrow();
                            match usize::try_from(i).ok().and_then(|i| a.get(i)) {
                                Some(v) => v.clone(),
                                None => fail!(index_panic(i, a.len())),
                            }
                        }
                        (a, i) => fail!(type_panic("array", a, i)),
                    };
                    store(reg_mut!(dst), v);
                }
                Op::ArrayPush { arr, src } => {
                    let v = reg!(src).clone();
                    match reg!(arr) {
                        Value::Array(a) => a.borrow_mut().push(v),
                        other => fail!(type_panic("array", other, other)),
                    }
                }
                Op::IterNext {
                    dst,
                    coll,
                    idx,
                    off,
                } => match (reg!(coll), reg!(idx)) {
                    (Value::Array(a), &Value::Int(i)) => {
                        let next = a.borrow().get(i as usize).cloned();
                        match next {
                            Some(v) => {
                                store(reg_mut!(dst), v);
                                set_int(reg_mut!(idx), i + 1);
                            }
                            None => pc = jump(pc, off),
                        }
                    }
                    _ => slow!(*op),
                },
                Op::IterLoop {
                    dst,
                    coll,
                    idx,
                    off,
                } => {
                    if self.fuel == 0 && !self.refuel() {
                        fail!(self.out_of_fuel())
                    }
                    self.fuel -= 1;
                    match (reg!(coll), reg!(idx)) {
                        (Value::Array(a), &Value::Int(i)) => {
                            let next = a.borrow().get(i as usize).cloned();
                            if let Some(v) = next {
                                store(reg_mut!(dst), v);
                                set_int(reg_mut!(idx), i + 1);
                                pc = jump(pc, off);
                            }
                        }
                        _ => slow!(*op),
                    }
                }
                Op::ForStep {
                    counter,
                    end,
                    cmp,
                    off,
                } => {
                    let n = match reg!(counter) {
                        &Value::Int(x) => match x.checked_add(1) {
                            Some(n) => n,
                            None => fail!(int_failure(1)),
                        },
                        other => fail!(type_panic("int", other, other)),
                    };
                    set_int(reg_mut!(counter), n);
                    if self.fuel == 0 && !self.refuel() {
                        fail!(self.out_of_fuel())
                    }
                    self.fuel -= 1;
                    let holds = match reg!(end) {
                        &Value::Int(e) => cmp.ints(n, e),
                        other => fail!(type_panic("int", other, other)),
                    };
                    if holds {
                        pc = jump(pc, off);
                    }
                }
                Op::FieldGet {
                    dst, obj, rec, idx, ..
                } => match reg!(obj) {
                    Value::Record(r) if r.rec.0 == rec => {
                        let v = r
                            .fields
                            .borrow()
                            .get(idx as usize)
                            .cloned()
                            .unwrap_or_default();
                        store(reg_mut!(dst), v);
                    }
                    _ => slow!(*op),
                },
                // Common instructions whose work is a call anyway: run in
                // out-of-line helpers (inlined here, they cost the loop its
                // machine registers: fib +6% instructions), but without the
                // `slow_op` round trip.
                Op::MapGet { dst, map, key } => match (reg!(map), reg!(key)) {
                    (Value::Map(m), Value::Str(k)) => {
                        let v = map_get(m, k);
                        store(reg_mut!(dst), v);
                    }
                    _ => slow!(*op),
                },
                Op::MapSet { map, key, src } => match (reg!(map), reg!(key)) {
                    (Value::Map(m), Value::Str(k)) => map_set(m, k, reg!(src)),
                    _ => slow!(*op),
                },
                Op::Template { dst, args, n } => {
                    let v = self.template(base + args as usize, n as usize, &program);
                    store(reg_mut!(dst), v);
                }
                Op::MapGetTemplate { dst, map, args, n } => {
                    let (map, args) = (base + map as usize, base + args as usize);
                    match self.map_get_template(map, args, n as usize, &program) {
                        Some(v) => store(reg_mut!(dst), v),
                        None => slow!(*op),
                    }
                }
                Op::MapSetTemplate { map, args, n, src } => {
                    let (map, args) = (base + map as usize, base + args as usize);
                    let src = base + src as usize;
                    if !self.map_set_template(map, args, n as usize, src, &program) {
                        slow!(*op)
                    }
                }
                Op::Is { dst, src, ty } => {
                    let v = match (TyId(ty), reg!(src)) {
                        (TyId::INT, v) => matches!(v, Value::Int(_)),
                        (TyId::STRING, v) => matches!(v, Value::Str(_)),
                        (TyId::NIL, v) => matches!(v, Value::Nil),
                        (TyId::ERROR, v) => matches!(v, Value::Error(_)),
                        (t, v) => convert::value_is(v, t, &program.types),
                    };
                    set_bool(reg_mut!(dst), v);
                }
                _ => slow!(*op),
            }
        }
    }

    /// Runs one instruction that is not on the interpreter loop's fast path
    /// (kept out of line so the loop's state stays in machine registers).
    /// The current frame's pc has been saved as `pc` (the next instruction).
    #[inline(never)]
    fn slow_op(
        &mut self,
        op: Op,
        base: usize,
        pc: usize,
        program: &CompiledProgram,
    ) -> VmResult<Step> {
        macro_rules! reg {
            ($r:expr) => {
                self.regs[base + $r as usize]
            };
        }
        macro_rules! reg_mut {
            ($r:expr) => {
                &mut self.regs[base + $r as usize]
            };
        }
        macro_rules! fail {
            ($e:expr) => {
                return Err($e)
            };
        }
        macro_rules! put {
            ($dst:expr, $v:expr) => {
                match $v {
                    Ok(v) => *reg_mut!($dst) = v,
                    Err(p) => fail!(p),
                }
            };
        }
        macro_rules! float_op {
            ($dst:expr, $a:expr, $b:expr, $f:expr) => {{
                match (&reg!($a), &reg!($b)) {
                    (Value::Float(x), Value::Float(y)) => {
                        *reg_mut!($dst) = Value::Float($f(*x, *y))
                    }
                    (a, b) => fail!(type_panic("float", a, b)),
                }
            }};
        }
        match op {
            Op::LoadUndefined { dst } => *reg_mut!(dst) = Value::Undefined,
            Op::LoadGlobal { dst, g } => {
                let v = self
                    .vm
                    .globals
                    .borrow()
                    .get(g as usize)
                    .cloned()
                    .unwrap_or_default();
                *reg_mut!(dst) = v;
            }
            Op::StoreGlobal { g, src } => {
                let v = reg!(src).clone();
                if let Some(slot) = self.vm.globals.borrow_mut().get_mut(g as usize) {
                    *slot = v;
                }
            }
            Op::NewCell { dst, src } => {
                // A copy: `src` may be a live register (a loop counter, a
                // variable copied into a captured one).
                let v = reg!(src).clone();
                *reg_mut!(dst) = Value::Cell(Rc::new(RefCell::new(v)));
            }
            Op::GetCell { dst, cell } => {
                let v = match &reg!(cell) {
                    Value::Cell(c) => c.borrow().clone(),
                    other => other.clone(),
                };
                *reg_mut!(dst) = v;
            }
            Op::SetCell { cell, src } => {
                let v = reg!(src).clone();
                match &reg!(cell) {
                    Value::Cell(c) => *c.borrow_mut() = v,
                    _ => *reg_mut!(cell) = v,
                }
            }
            Op::SetUpval { idx, src } => {
                let v = reg!(src).clone();
                if let Some(c) = self
                    .frames
                    .last()
                    .and_then(|f| f.closure.as_ref())
                    .and_then(|c| c.upvalues.get(idx as usize))
                {
                    *c.borrow_mut() = v;
                }
            }
            Op::Closure { dst, func: f } => {
                let proto = &program.functions[f as usize];
                let mut ups = Vec::with_capacity(proto.captures.len());
                for cap in &proto.captures {
                    match cap {
                        Capture::Local(l) => match &reg!(l.0) {
                            Value::Cell(c) => ups.push(c.clone()),
                            other => ups.push(Rc::new(RefCell::new(other.clone()))),
                        },
                        Capture::Upvalue(i) => {
                            let c = self
                                .frames
                                .last()
                                .and_then(|fr| fr.closure.as_ref())
                                .and_then(|c| c.upvalues.get(*i as usize))
                                .cloned()
                                .unwrap_or_else(|| Rc::new(RefCell::new(Value::Nil)));
                            ups.push(c);
                        }
                    }
                }
                *reg_mut!(dst) = Value::Func(Rc::new(Closure {
                    func: f.into(),
                    upvalues: ups.into_boxed_slice(),
                }));
            }
            Op::RemFloat { dst, a, b } => float_op!(dst, a, b, |x: f64, y: f64| x % y),
            Op::Concat { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Str(x), Value::Str(y)) => {
                        let mut s = String::with_capacity(x.len() + y.len());
                        s.push_str(x);
                        s.push_str(y);
                        Value::Str(s.into())
                    }
                    (x, y) => fail!(type_panic("string", x, y)),
                };
                *reg_mut!(dst) = v;
            }
            Op::ConcatArray { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Array(x), Value::Array(y)) => {
                        let mut out = x.borrow().clone();
                        out.extend(y.borrow().iter().cloned());
                        Value::array(out)
                    }
                    (x, y) => fail!(type_panic("array", x, y)),
                };
                *reg_mut!(dst) = v;
            }
            Op::AddDuration { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Duration(x), Value::Duration(y)) => duration(x.checked_add(*y)),
                    (x, y) => Err(type_panic("duration", x, y)),
                };
                put!(dst, v);
            }
            Op::MulDurationInt { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Duration(x), Value::Int(y)) => duration(x.checked_mul(*y)),
                    (x, y) => Err(type_panic("duration", x, y)),
                };
                put!(dst, v);
            }
            Op::MulDurationFloat { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Duration(x), Value::Float(y)) => {
                        let v = (*x as f64 * y).round();
                        duration((v.is_finite() && v.abs() < i64::MAX as f64).then_some(v as i64))
                    }
                    (x, y) => Err(type_panic("duration", x, y)),
                };
                put!(dst, v);
            }
            Op::DivDurationInt { dst, a, b } => {
                let v = match (&reg!(a), &reg!(b)) {
                    (Value::Duration(_), Value::Int(0)) => Err(Panic::msg("division by zero")),
                    (Value::Duration(x), Value::Int(y)) => duration(x.checked_div(*y)),
                    (x, y) => Err(type_panic("duration", x, y)),
                };
                put!(dst, v);
            }
            Op::NegInt { dst, a } => match &reg!(a) {
                Value::Int(x) => match x.checked_neg() {
                    Some(v) => *reg_mut!(dst) = Value::Int(v),
                    None => fail!(Panic::msg("integer overflow")),
                },
                other => fail!(type_panic("int", other, other)),
            },
            Op::NegFloat { dst, a } => match &reg!(a) {
                Value::Float(x) => *reg_mut!(dst) = Value::Float(-x),
                other => fail!(type_panic("float", other, other)),
            },
            Op::CallNative {
                dst,
                native,
                args,
                argc,
            } => {
                let start = base + args as usize;
                if let Some(exit) = self.call_native(native, start, argc, base + dst as usize)? {
                    return Ok(Step::Exit(exit));
                }
            }
            Op::CallValue {
                dst,
                callee,
                args,
                argc,
            } => {
                let closure = match &reg!(callee) {
                    Value::Func(c) => c.clone(),
                    other => fail!(Panic::msg(format!(
                        "cannot call a value of kind {}",
                        other.kind_name()
                    ))),
                };
                let f = closure.func.0;
                let proto = &program.functions[f as usize];
                if let Some(native) = proto.native {
                    let start = base + args as usize;
                    if let Some(exit) =
                        self.call_native(native, start, argc, base + dst as usize)?
                    {
                        return Ok(Step::Exit(exit));
                    }
                } else {
                    // Only closures with captures need to stay reachable from the frame.
                    let closure = (!proto.captures.is_empty()).then_some(closure);
                    self.push_frame(
                        f,
                        proto.nregs as usize,
                        base + args as usize,
                        base + dst as usize,
                        closure,
                    )?;
                    return Ok(Step::Reload);
                }
            }
            Op::Method {
                dst,
                method,
                args,
                argc,
            } => {
                let m = METHODS.get(method as usize).copied();
                let start = base + args as usize;
                let v = match m {
                    Some(m) => {
                        call_method(m, &self.regs[start..start + argc as usize], &program.types)
                    }
                    None => Err(Panic::msg("internal: unknown method")),
                };
                put!(dst, v);
            }
            Op::Panic { r } => {
                let v = reg!(r).clone();
                fail!(Panic::Error(v))
            }
            Op::PushTrap { dst, off } => {
                self.traps.push(TrapRec {
                    depth: self.frames.len(),
                    dst: base + dst as usize,
                    target: jump(pc, off),
                });
            }
            Op::PopTrap => {
                self.traps.pop();
            }
            Op::NewArray { dst, args, n } => {
                let start = base + args as usize;
                let items = self.regs[start..start + n as usize].to_vec();
                *reg_mut!(dst) = Value::array(items);
            }
            Op::NewMap { dst, keys, args, n } => {
                let start = base + args as usize;
                let ks = self.vm.keys(keys);
                let mut m = MapObj::with_capacity(n as usize);
                for (i, k) in ks.iter().enumerate().take(n as usize) {
                    m.insert(Str::from(&**k), self.regs[start + i].clone());
                }
                *reg_mut!(dst) = Value::map(m);
            }
            Op::NewRecord { dst, rec, args, n } => {
                let start = base + args as usize;
                let fields = self.regs[start..start + n as usize].to_vec();
                *reg_mut!(dst) = Value::record(RecordId(rec), fields);
            }
            Op::NewError {
                dst,
                error,
                keys,
                args,
                n,
            } => {
                let start = base + args as usize;
                let message = match &self.regs[start] {
                    Value::Str(s) => s.clone(),
                    other => Str::from(to_display_string(other, &program.types)),
                };
                let cause = match &self.regs[start + 1] {
                    Value::Nil => None,
                    v => Some(v.clone()),
                };
                let mut detail = MapObj::default();
                for (i, k) in self.vm.keys(keys).iter().enumerate().take(n as usize) {
                    detail.insert(Str::from(&**k), self.regs[start + 2 + i].clone());
                }
                *reg_mut!(dst) = Value::Error(Rc::new(ErrorObj {
                    ty: ErrorId(error),
                    message,
                    detail,
                    cause,
                    trace: Vec::new(),
                }));
            }
            Op::ArraySet { arr, idx, src } => {
                let v = reg!(src).clone();
                match (&reg!(arr), &reg!(idx)) {
                    (Value::Array(a), Value::Int(i)) => {
                        let mut a = a.borrow_mut();
                        let len = a.len();
                        match usize::try_from(*i).ok().and_then(|i| a.get_mut(i)) {
                            Some(slot) => *slot = v,
                            None => fail!(index_panic(*i, len)),
                        }
                    }
                    (a, i) => fail!(type_panic("array", a, i)),
                }
            }
            Op::MapGet { dst, map, key } => {
                let v = match (&reg!(map), &reg!(key)) {
                    (Value::Map(m), Value::Str(k)) => {
                        m.borrow().get(k).cloned().unwrap_or_default()
                    }
                    (Value::Nil, _) => Value::Nil,
                    (m, k) => fail!(type_panic("map", m, k)),
                };
                *reg_mut!(dst) = v;
            }
            Op::MapSet { map, key, src } => {
                let v = reg!(src).clone();
                match (&reg!(map), &reg!(key)) {
                    (Value::Map(m), Value::Str(k)) => {
                        m.borrow_mut().insert(k.clone(), v);
                    }
                    (m, k) => fail!(type_panic("map", m, k)),
                }
            }
            // The fast path ran unless the map operand is not a map.
            Op::MapGetTemplate { dst, map, .. } => {
                let v = match &reg!(map) {
                    Value::Nil => Value::Nil,
                    m => fail!(type_panic("map", m, m)),
                };
                *reg_mut!(dst) = v;
            }
            Op::MapSetTemplate { map, .. } => {
                let m = &reg!(map);
                fail!(type_panic("map", m, m))
            }
            Op::JsonGet { dst, obj, key } => {
                let v = json_get(&reg!(obj), &reg!(key), &program.types);
                *reg_mut!(dst) = v;
            }
            Op::FieldGet {
                dst,
                obj,
                rec,
                idx,
                name,
            } => {
                let v = match &reg!(obj) {
                    Value::Record(r) if r.rec.0 == rec => r
                        .fields
                        .borrow()
                        .get(idx as usize)
                        .cloned()
                        .unwrap_or_default(),
                    other => {
                        let key = self
                            .vm
                            .consts
                            .get(name as usize)
                            .cloned()
                            .unwrap_or_default();
                        json_get(other, &key, &program.types)
                    }
                };
                *reg_mut!(dst) = v;
            }
            Op::FieldSet {
                obj,
                rec,
                idx,
                name,
                src,
            } => {
                let v = reg!(src).clone();
                match &reg!(obj) {
                    Value::Record(r) => {
                        let i = if r.rec.0 == rec {
                            Some(idx as usize)
                        } else {
                            let key = self
                                .vm
                                .consts
                                .get(name as usize)
                                .cloned()
                                .unwrap_or_default();
                            match key {
                                Value::Str(k) => program.types.record(r.rec).field_index(&k),
                                _ => None,
                            }
                        };
                        match i.and_then(|i| r.fields.borrow_mut().get_mut(i).map(|s| *s = v)) {
                            Some(()) => {}
                            None => fail!(Panic::msg("internal: record has no such field")),
                        }
                    }
                    Value::Map(m) => {
                        if let Some(Value::Str(k)) = self.vm.consts.get(name as usize) {
                            m.borrow_mut().insert(k.clone(), v);
                        }
                    }
                    other => fail!(type_panic("record", other, other)),
                }
            }
            Op::Downcast { dst, src, ty } => {
                let ok = convert::value_is(&reg!(src), TyId(ty), &program.types);
                if !ok {
                    let found = reg!(src).kind_name();
                    fail!(Panic::msg(format!(
                        "bad cast: expected {}, found {}",
                        &program.types.display(TyId(ty)),
                        found
                    )))
                }
                let v = reg!(src).clone();
                *reg_mut!(dst) = v;
            }
            Op::IntToFloat { dst, src } => match &reg!(src) {
                Value::Int(i) => *reg_mut!(dst) = Value::Float(*i as f64),
                other => fail!(type_panic("int", other, other)),
            },
            Op::FloatToInt { dst, src } => match &reg!(src) {
                Value::Float(f) => match float_to_int(f.round_ties_even()) {
                    Ok(i) => *reg_mut!(dst) = i,
                    Err(p) => fail!(p),
                },
                other => fail!(type_panic("float", other, other)),
            },
            Op::Template { dst, args, n } => {
                let v = self.template(base + args as usize, n as usize, program);
                *reg_mut!(dst) = v;
            }
            Op::Range {
                dst,
                lo,
                hi,
                inclusive,
            } => {
                let v = match (&reg!(lo), &reg!(hi)) {
                    (Value::Int(a), Value::Int(b)) => {
                        let end = if inclusive { b.saturating_add(1) } else { *b };
                        let len = end.saturating_sub(*a).max(0);
                        if len > 100_000_000 {
                            fail!(Panic::msg("range too large to build an array"))
                        }
                        Value::array((*a..end).map(Value::Int).collect())
                    }
                    (a, b) => fail!(type_panic("int", a, b)),
                };
                *reg_mut!(dst) = v;
            }
            // `IterNext` jumps when the collection is exhausted, `IterLoop`
            // (whose operation count the caller took) when it is not.
            Op::IterNext {
                dst,
                coll,
                idx,
                off,
            }
            | Op::IterLoop {
                dst,
                coll,
                idx,
                off,
            } => {
                let i = match reg!(idx) {
                    Value::Int(i) => i as usize,
                    _ => 0,
                };
                let next = match &reg!(coll) {
                    Value::Array(a) => a.borrow().get(i).cloned().map(|v| (v, i + 1)),
                    Value::Map(m) => m.borrow().get_index(i).map(|(_, v)| (v.clone(), i + 1)),
                    Value::Str(s) => s
                        .get(i..)
                        .and_then(|rest| rest.chars().next())
                        .map(|c| (Value::Str(Str::from(c)), i + c.len_utf8())),
                    _ => None,
                };
                let more = match next {
                    Some((v, ni)) => {
                        *reg_mut!(dst) = v;
                        *reg_mut!(idx) = Value::Int(ni as i64);
                        true
                    }
                    None => false,
                };
                if more == matches!(op, Op::IterLoop { .. }) {
                    return Ok(Step::Jump(jump(pc, off)));
                }
            }
            Op::TypeDesc { dst, ty } => *reg_mut!(dst) = Value::Typedesc(TyId(ty)),
            Op::CloneWithType { dst, src, ty } => {
                let defaults = |r: RecordId, field: usize| self.record_default(r, field);
                let v =
                    match convert::clone_with_type(&reg!(src), TyId(ty), &program.types, &defaults)
                    {
                        Ok(v) => v,
                        Err(msg) => Value::error(ErrorId(0), msg),
                    };
                *reg_mut!(dst) = v;
            }
            Op::SortByKeys { dst, items, keys } => {
                let v = match (&reg!(items), &reg!(keys)) {
                    (Value::Array(a), Value::Array(k)) => sort_by_keys(&a.borrow(), &k.borrow()),
                    (a, k) => Err(type_panic("array", a, k)),
                };
                put!(dst, v);
            }
            // Handled entirely in `run_inner`.
            _ => return Err(Panic::msg("internal: instruction has no slow path")),
        }
        Ok(Step::Next)
    }

    /// The string of a template whose parts are in
    /// `regs[start..start + n]`, built in the reused scratch buffer.
    #[inline(never)]
    fn template(&mut self, start: usize, n: usize, program: &CompiledProgram) -> Value {
        let buf = self.template_text(start, n, program);
        let v = Value::Str(Str::from(buf.as_str()));
        self.scratch = buf;
        v
    }

    /// The text of a template (see [`Strand::template`]) in the scratch
    /// buffer, taken out of `self`: the caller puts it back.
    #[inline(always)]
    fn template_text(&mut self, start: usize, n: usize, program: &CompiledProgram) -> String {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        for v in self.regs.get(start..start + n).unwrap_or(&[]) {
            match v {
                Value::Str(x) => buf.push_str(x),
                Value::Int(i) => push_int(&mut buf, *i),
                other => buf.push_str(&to_display_string(other, &program.types)),
            }
        }
        buf
    }

    /// `regs[map][template of regs[start..start + n]]` (`()` when absent),
    /// looked up by the scratch text: no string is made. `None` when
    /// `regs[map]` is not a map.
    #[inline(never)]
    fn map_get_template(
        &mut self,
        map: usize,
        start: usize,
        n: usize,
        program: &CompiledProgram,
    ) -> Option<Value> {
        if !matches!(self.regs.get(map), Some(Value::Map(_))) {
            return None;
        }
        let buf = self.template_text(start, n, program);
        let v = match self.regs.get(map) {
            Some(Value::Map(m)) => Some(m.borrow().get(&buf).cloned().unwrap_or_default()),
            _ => None,
        };
        self.scratch = buf;
        v
    }

    /// `regs[map][template of regs[start..start + n]] = regs[src]`: a
    /// string is made only for a key the map does not have yet. `false`
    /// when `regs[map]` is not a map.
    #[inline(never)]
    fn map_set_template(
        &mut self,
        map: usize,
        start: usize,
        n: usize,
        src: usize,
        program: &CompiledProgram,
    ) -> bool {
        if !matches!(self.regs.get(map), Some(Value::Map(_))) {
            return false;
        }
        let buf = self.template_text(start, n, program);
        let v = self.regs.get(src).cloned().unwrap_or_default();
        let done = match self.regs.get(map) {
            Some(Value::Map(m)) => {
                m.borrow_mut().insert_str(&buf, v);
                true
            }
            _ => false,
        };
        self.scratch = buf;
        done
    }

    /// Calls a native with the arguments in `regs[start..start + argc]`,
    /// storing its result in `regs[dst]`; returns the exit when it suspends.
    fn call_native(
        &mut self,
        native: u32,
        start: usize,
        argc: u16,
        dst: usize,
    ) -> VmResult<Option<Exit>> {
        let Some(nf) = self.vm.natives.get(native as usize) else {
            return Err(Panic::msg("internal: unbound native function"));
        };
        let args = self.regs.get(start..start + argc as usize).unwrap_or(&[]);
        match nf.call(&self.vm, args) {
            NativeResult::Ready(Ok(v)) => {
                if let Some(r) = self.regs.get_mut(dst) {
                    *r = v;
                }
                Ok(None)
            }
            NativeResult::Ready(Err(p)) => Err(p),
            NativeResult::Suspend(fut) => {
                self.pending = Some(dst);
                Ok(Some(Exit::Suspend(fut)))
            }
        }
    }

    /// Computes a record field's default value by running its default
    /// function in a nested strand (defaults never suspend).
    fn record_default(&self, r: RecordId, field: usize) -> Option<Value> {
        let func = *self
            .vm
            .program
            .record_defaults
            .get(r.0 as usize)?
            .get(field)?;
        match Strand::new(self.vm.clone(), func?, Vec::new()).run() {
            Exit::Return(v) => Some(v),
            _ => None,
        }
    }

    /// Takes the next slice of the operation budget once the sandbox
    /// checks pass (`vm::sandbox`); false when the strand must stop
    /// (`out_of_fuel` says why).
    #[cold]
    #[inline(never)]
    fn refuel(&mut self) -> bool {
        if self.reserve == 0 || super::sandbox::check(&self.vm, &self.regs).is_err() {
            return false;
        }
        let n = self.reserve.min(super::sandbox::SLICE);
        self.reserve -= n;
        self.fuel = n;
        true
    }

    fn out_of_fuel(&self) -> Panic {
        if let Some(p) = super::sandbox::stopped() {
            return p;
        }
        Panic::msg(format!(
            "operation limit exceeded: more than {} calls and loop iterations",
            self.vm.limits.max_operations.unwrap_or(u64::MAX)
        ))
    }

    /// (func, pc, base) of the current frame.
    #[inline(always)]
    fn current(&self) -> (u32, usize, usize) {
        self.frames
            .last()
            .map_or((0, 0, 0), |f| (f.func, f.pc as usize, f.base as usize))
    }

    #[inline(always)]
    fn push_frame(
        &mut self,
        func: u32,
        nregs: usize,
        base: usize,
        ret: usize,
        closure: Option<Rc<Closure>>,
    ) -> VmResult<()> {
        if (self.fuel == 0 && !self.refuel()) || self.frames.len() >= self.max_depth {
            return Err(self.call_limit());
        }
        self.fuel -= 1;
        if self.regs.len() <= base + nregs {
            self.grow_regs(base + nregs);
        }
        if self.frames.len() == self.frames.capacity() {
            self.grow_frames();
        }
        // Written field by field in place: `Vec::push` (and a whole-`Frame`
        // write) built the frame on the stack and copied it with wide
        // loads, which stalled on store forwarding (measured: ~20% of fib).
        let len = self.frames.len();
        if let Some(slot) = self.frames.spare_capacity_mut().first_mut() {
            let p = slot.as_mut_ptr();
            // SAFETY: `p` points to the frame stack's spare slot at `len`
            // (capacity ensured above); every field is initialised before
            // the length covers it.
            unsafe {
                std::ptr::addr_of_mut!((*p).func).write(func);
                std::ptr::addr_of_mut!((*p).pc).write(0);
                std::ptr::addr_of_mut!((*p).base).write(base as u32);
                std::ptr::addr_of_mut!((*p).ret).write(ret as u32);
                std::ptr::addr_of_mut!((*p).closure).write(closure);
                self.frames.set_len(len + 1);
            }
        }
        Ok(())
    }

    /// Makes the register file longer than `top`.
    #[cold]
    #[inline(never)]
    fn grow_regs(&mut self, top: usize) {
        let want = (top + 1).max(self.regs.len() * 2);
        self.regs.resize(want, Value::Nil);
    }

    /// Makes room for at least one more frame.
    #[cold]
    #[inline(never)]
    fn grow_frames(&mut self) {
        self.frames.reserve(self.frames.len().max(16));
    }

    /// The panic for a call beyond the operation or depth limit.
    #[cold]
    fn call_limit(&self) -> Panic {
        if self.fuel == 0 {
            self.out_of_fuel()
        } else {
            Panic::msg(format!(
                "stack overflow: more than {} nested calls",
                self.max_depth
            ))
        }
    }

    /// Pops the current frame; returns the value when the strand is done.
    #[inline(always)]
    fn do_return(&mut self, v: Value) -> Option<Value> {
        match self.pop_frame() {
            Some(ret) => {
                if let Some(r) = self.regs.get_mut(ret) {
                    store(r, v);
                }
                None
            }
            None => Some(v),
        }
    }

    /// Pops the current frame and the traps pushed in it; returns the
    /// absolute register receiving the result, or `None` when that was the
    /// strand's last frame.
    #[inline(always)]
    fn pop_frame(&mut self) -> Option<usize> {
        // Fields are read in place (`pop` copied the frame to the stack).
        let frame = self.frames.last_mut()?;
        let ret = frame.ret as usize;
        let closure = frame.closure.take();
        let depth = self.frames.len() - 1;
        self.frames.truncate(depth);
        drop(closure);
        while self.traps.last().is_some_and(|t| t.depth > depth) {
            self.traps.pop();
        }
        (depth > 0).then_some(ret)
    }
}

impl From<u32> for crate::check::tir::FuncId {
    fn from(v: u32) -> Self {
        crate::check::tir::FuncId(v)
    }
}

/// A duration result: overflow (`None`) and negative values panic.
fn duration(v: Option<i64>) -> VmResult<Value> {
    match v {
        Some(v) if v >= 0 => Ok(Value::Duration(v)),
        Some(_) => Err(Panic::msg("negative duration")),
        None => Err(Panic::msg("duration overflow")),
    }
}

/// Appends the decimal text of an int (`itoa`: two digits per step from a
/// table, much faster than `fmt` or a digit-per-`push` loop).
#[inline]
fn push_int(buf: &mut String, v: i64) {
    buf.push_str(itoa::Buffer::new().format(v));
}

/// `m[k]`, `()` when absent.
#[inline(never)]
fn map_get(m: &super::value::MapRef, k: &Str) -> Value {
    m.borrow().get(k.as_str()).cloned().unwrap_or_default()
}

/// `m[k] = v`.
#[inline(never)]
fn map_set(m: &super::value::MapRef, k: &Str, v: &Value) {
    m.borrow_mut().insert(k.clone(), v.clone());
}

/// Stores an int, writing only the payload when the register already holds
/// an int (avoids rewriting the whole value on hot arithmetic paths).
#[inline(always)]
fn set_int(slot: &mut Value, v: i64) {
    match slot {
        Value::Int(x) => *x = v,
        _ => store(slot, Value::Int(v)),
    }
}

/// Stores a value, calling the destructor of the old one only when it owns
/// something (keeps the out-of-line drop call off the scalar paths).
#[inline(always)]
fn store(slot: &mut Value, v: Value) {
    let old = std::mem::replace(slot, v);
    if matches!(
        old,
        Value::Nil
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Duration(_)
            | Value::Typedesc(_)
            | Value::Undefined
    ) {
        std::mem::forget(old);
    } else {
        drop(old);
    }
}

/// Stores a boolean (see [`set_int`]).
#[inline(always)]
fn set_bool(slot: &mut Value, v: bool) {
    match slot {
        Value::Bool(x) => *x = v,
        _ => store(slot, Value::Bool(v)),
    }
}

#[inline]
fn jump(pc: usize, off: i32) -> usize {
    (pc as i64 + off as i64) as usize
}

fn compare(a: &Value, b: &Value, cmp: Cmp) -> Option<bool> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => cmp.ints(*x, *y),
        (Value::Float(x), Value::Float(y)) => match x.partial_cmp(y) {
            Some(o) => cmp.holds(o),
            None => false,
        },
        (Value::Str(x), Value::Str(y)) => cmp.holds(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => cmp.ints(*x, *y),
        _ => return None,
    })
}

/// `obj[key]` for json-like access: maps and records by name, else `()`.
fn json_get(obj: &Value, key: &Value, types: &crate::check::types::Types) -> Value {
    let Value::Str(k) = key else {
        return Value::Nil;
    };
    match obj {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or_default(),
        Value::Record(r) => match types.record(r.rec).field_index(k) {
            Some(i) => r.fields.borrow().get(i).cloned().unwrap_or_default(),
            None => Value::Nil,
        },
        _ => Value::Nil,
    }
}

/// The panic of a failed checked int operation with divisor/operand `y`.
#[cold]
#[inline(never)]
fn int_failure(y: i64) -> Panic {
    Panic::msg(if y == 0 {
        "division by zero"
    } else {
        "integer overflow"
    })
}

#[cold]
#[inline(never)]
fn index_panic(i: i64, len: usize) -> Panic {
    Panic::msg(format!("index out of range: index {i}, length {len}"))
}

#[cold]
#[inline(never)]
fn type_panic(want: &str, a: &Value, b: &Value) -> Panic {
    Panic::msg(format!(
        "internal type error: expected {want}, found {} and {}",
        a.kind_name(),
        b.kind_name()
    ))
}
