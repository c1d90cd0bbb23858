//! TIR → bytecode, one function at a time.

use super::op::{Cmp, Op, Reg};
use super::program::{CompiledProgram, Const, GlobalInfo, Proto};
use crate::check::tir::{
    self, BinOp, Callee, CastKind, Expr, ExprKind, Function, Literal, LocalId, Method, Place,
    StmtKind, UnOp,
};
use crate::check::types::TyId;
use crate::syntax::span::{SourceMap, Span};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Compiles a checked program.
pub fn compile(program: tir::Program, sources: Arc<SourceMap>) -> CompiledProgram {
    let mut pool = ConstPool::default();
    let mut functions: Vec<Proto> = program
        .functions
        .iter()
        .map(|f| FnBuilder::new(&program, &mut pool, f).build(f))
        .collect();
    // Direct calls carry the callee's frame size, known only now.
    let sizes: Vec<u16> = functions.iter().map(|p| p.nregs).collect();
    for p in &mut functions {
        for op in &mut p.code {
            if let Op::CallFunc { func, nregs, .. } = op {
                *nregs = sizes.get(*func as usize).copied().unwrap_or(u16::MAX);
            }
        }
    }
    CompiledProgram {
        functions,
        consts: pool.consts,
        natives: program.natives.clone(),
        globals: program
            .globals
            .iter()
            .map(|g| GlobalInfo {
                name: Arc::from(&*g.name),
                is_final: g.is_final,
            })
            .collect(),
        init: program.init.0,
        main: program.main.map(|f| f.0),
        tests: program
            .tests
            .iter()
            .map(|(n, f)| (n.clone(), f.0))
            .collect(),
        record_defaults: program
            .record_defaults
            .iter()
            .map(|fields| fields.iter().map(|f| f.map(|f| f.0)).collect())
            .collect(),
        configurables: program.configurables,
        net_literals: program.net_literals,
        services: program.services,
        types: program.types,
        sources,
    }
}

#[derive(Hash, PartialEq, Eq)]
enum ConstKey {
    Int(i64),
    Float(u64),
    Duration(i64),
    Str(Arc<str>),
    Keys(Vec<Arc<str>>),
}

/// The constant pool under construction (deduplicated).
#[derive(Default)]
struct ConstPool {
    consts: Vec<Const>,
    index: FxHashMap<ConstKey, u32>,
}

impl ConstPool {
    fn add(&mut self, c: Const) -> u32 {
        let key = match &c {
            Const::Int(v) => ConstKey::Int(*v),
            Const::Float(v) => ConstKey::Float(v.to_bits()),
            Const::Duration(v) => ConstKey::Duration(*v),
            Const::Str(s) => ConstKey::Str(s.clone()),
            Const::Keys(k) => ConstKey::Keys(k.clone()),
        };
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = self.consts.len() as u32;
        self.consts.push(c);
        self.index.insert(key, i);
        i
    }

    fn str(&mut self, s: &str) -> u32 {
        self.add(Const::Str(Arc::from(s)))
    }

    fn keys<'a>(&mut self, keys: impl Iterator<Item = &'a str>) -> u32 {
        self.add(Const::Keys(keys.map(Arc::from).collect()))
    }
}

struct LoopCtx {
    /// Where `continue` jumps (known when the loop head is emitted).
    continue_to: usize,
    /// `break` jumps to patch.
    breaks: Vec<usize>,
}

struct Handler {
    local: LocalId,
    jumps: Vec<usize>,
    trap_depth: usize,
}

struct FnBuilder<'a> {
    prog: &'a tir::Program,
    pool: &'a mut ConstPool,
    func: &'a Function,
    code: Vec<Op>,
    spans: Vec<Span>,
    next: Reg,
    max: Reg,
    loops: Vec<LoopCtx>,
    handlers: Vec<Handler>,
    trap_depth: usize,
    span: Span,
    /// Register of local 0: non-zero while an arrow function's body is
    /// inlined into a higher-order loop.
    local_base: Reg,
    /// While inlining: the inlined function's captures and the enclosing
    /// function's local base, to resolve its upvalues.
    inline_captures: Option<(&'a [tir::Capture], Reg)>,
}

impl<'a> FnBuilder<'a> {
    fn new(prog: &'a tir::Program, pool: &'a mut ConstPool, func: &'a Function) -> Self {
        let n = func.locals.len() as Reg;
        FnBuilder {
            prog,
            pool,
            func,
            code: Vec::new(),
            spans: Vec::new(),
            next: n,
            max: n,
            loops: Vec::new(),
            handlers: Vec::new(),
            trap_depth: 0,
            span: func.span,
            local_base: 0,
            inline_captures: None,
        }
    }

    /// The register of a local of the function being compiled.
    fn lreg(&self, l: LocalId) -> Reg {
        self.local_base + l.0 as Reg
    }

    fn build(mut self, f: &Function) -> Proto {
        if f.native.is_none() {
            for (i, p) in f.params.iter().enumerate() {
                let r = i as Reg;
                if let Some(d) = &p.default {
                    let j = self.emit_jump(Op::JumpIfDefined { r, off: 0 });
                    self.expr_to(d, r);
                    self.patch(j);
                }
                if self.captured(p.local) {
                    self.emit(Op::NewCell { dst: r, src: r });
                }
            }
            self.block(&f.body);
            self.span = f.span;
            self.emit(Op::ReturnNil);
        }
        Proto {
            name: Arc::from(&*f.name),
            span: f.span,
            nparams: f.params.len() as u16,
            nregs: self.max.saturating_add(1),
            code: self.code,
            spans: self.spans,
            captures: f.captures.clone(),
            native: f.native.map(|n| n.0),
        }
    }

    // ------------------------------------------------------------ plumbing

    fn emit(&mut self, op: Op) -> usize {
        self.code.push(op);
        self.spans.push(self.span);
        self.code.len() - 1
    }

    fn emit_jump(&mut self, op: Op) -> usize {
        self.emit(op)
    }

    /// Points the jump at `at` to the next instruction.
    fn patch(&mut self, at: usize) {
        let target = self.code.len();
        self.patch_to(at, target);
    }

    fn patch_to(&mut self, at: usize, target: usize) {
        let off = target as i32 - (at as i32 + 1);
        match &mut self.code[at] {
            Op::Jump { off: o }
            | Op::JumpIfFalse { off: o, .. }
            | Op::JumpIfTrue { off: o, .. }
            | Op::JumpIfNil { off: o, .. }
            | Op::JumpIfNotError { off: o, .. }
            | Op::JumpIfDefined { off: o, .. }
            | Op::JumpIfNotCmpInt { off: o, .. }
            | Op::JumpIfNotCmpIntImm { off: o, .. }
            | Op::PushTrap { off: o, .. }
            | Op::IterNext { off: o, .. }
            | Op::IterLoop { off: o, .. }
            | Op::ForStep { off: o, .. } => *o = off,
            _ => {}
        }
    }

    fn jump_back(&mut self, target: usize) {
        let at = self.emit(Op::Jump { off: 0 });
        self.patch_to(at, target);
    }

    /// Ends a loop headed by the `IterNext` at `head`: steps to the next
    /// element and jumps back to the body (the instruction after `head`).
    fn iter_loop_back(&mut self, head: usize) {
        if let Some(&Op::IterNext { dst, coll, idx, .. }) = self.code.get(head) {
            let at = self.emit(Op::IterLoop {
                dst,
                coll,
                idx,
                off: 0,
            });
            self.patch_to(at, head + 1);
        } else {
            self.jump_back(head);
        }
    }

    fn alloc(&mut self) -> Reg {
        self.alloc_n(1)
    }

    fn alloc_n(&mut self, n: usize) -> Reg {
        let r = self.next;
        self.next = self.next.saturating_add(n as Reg);
        self.max = self.max.max(self.next);
        r
    }

    fn captured(&self, l: LocalId) -> bool {
        self.func
            .locals
            .get(l.0 as usize)
            .is_some_and(|i| i.captured)
    }

    fn load_const(&mut self, dst: Reg, c: Const) {
        let k = self.pool.add(c);
        self.emit(Op::LoadConst { dst, k });
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, b: &tir::Block) {
        for s in &b.stmts {
            let mark = self.next;
            self.span = s.span;
            self.stmt(&s.kind, s.span);
            self.next = mark;
        }
    }

    fn stmt(&mut self, s: &StmtKind, span: Span) {
        match s {
            StmtKind::Let { local, init } => {
                let r = self.lreg(*local);
                if self.captured(*local) {
                    let t = self.expr_any(init);
                    self.emit(Op::NewCell { dst: r, src: t });
                } else {
                    self.expr_to(init, r);
                }
            }
            StmtKind::Assign { place, value } => self.assign(place, value),
            StmtKind::Expr(e) => match &e.kind {
                // A statement `xs.push(v)`: its () result is not needed.
                ExprKind::Method(Method::ArrPush, args) if args.len() == 2 => {
                    let arr = self.expr_any(&args[0]);
                    let src = self.expr_any(&args[1]);
                    self.span = span;
                    self.emit(Op::ArrayPush { arr, src });
                }
                _ => {
                    self.expr_any(e);
                }
            },
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let j = self.cond_jump_false(cond);
                self.block(then);
                if otherwise.stmts.is_empty() {
                    self.patch(j);
                } else {
                    let end = self.emit_jump(Op::Jump { off: 0 });
                    self.patch(j);
                    self.block(otherwise);
                    self.patch(end);
                }
            }
            StmtKind::While { cond, body } => {
                let head = self.code.len();
                let exit = self.cond_jump_false(cond);
                self.loop_body(head, body);
                self.jump_back(head);
                self.patch(exit);
                self.end_loop();
            }
            StmtKind::ForRange {
                local,
                lo,
                hi,
                inclusive,
                body,
            } => {
                let counter = self.alloc();
                let end = self.alloc();
                self.expr_to(lo, counter);
                self.expr_to(hi, end);
                let head = self.code.len();
                let cmp = if *inclusive { Cmp::Le } else { Cmp::Lt };
                let exit = self.emit_jump(Op::JumpIfNotCmpInt {
                    a: counter,
                    b: end,
                    cmp,
                    off: 0,
                });
                let r = self.lreg(*local);
                if self.captured(*local) {
                    self.emit(Op::NewCell {
                        dst: r,
                        src: counter,
                    });
                } else {
                    self.emit(Op::Move {
                        dst: r,
                        src: counter,
                    });
                }
                // `continue` goes to the increment, emitted after the body.
                self.loops.push(LoopCtx {
                    continue_to: usize::MAX,
                    breaks: Vec::new(),
                });
                let continues_from = self.code.len();
                self.block(body);
                let incr = self.code.len();
                self.retarget_continues(continues_from, incr);
                let step = self.emit(Op::ForStep {
                    counter,
                    end,
                    cmp,
                    off: 0,
                });
                self.patch_to(step, head + 1);
                self.patch(exit);
                self.end_loop();
            }
            StmtKind::ForEach {
                local,
                iter,
                kind: _,
                body,
            } => {
                let coll = self.alloc();
                self.expr_to(iter, coll);
                let idx = self.alloc();
                self.emit(Op::LoadInt { dst: idx, v: 0 });
                let captured = self.captured(*local);
                let elem = if captured {
                    self.alloc()
                } else {
                    self.lreg(*local)
                };
                let head = self.code.len();
                let exit = self.emit_jump(Op::IterNext {
                    dst: elem,
                    coll,
                    idx,
                    off: 0,
                });
                if captured {
                    self.emit(Op::NewCell {
                        dst: self.lreg(*local),
                        src: elem,
                    });
                }
                // `continue` goes to the step at the bottom, emitted after the body.
                self.loops.push(LoopCtx {
                    continue_to: usize::MAX,
                    breaks: Vec::new(),
                });
                let continues_from = self.code.len();
                self.block(body);
                let step = self.code.len();
                self.retarget_continues(continues_from, step);
                self.iter_loop_back(head);
                self.patch(exit);
                self.end_loop();
            }
            StmtKind::Break => {
                let j = self.emit_jump(Op::Jump { off: 0 });
                if let Some(l) = self.loops.last_mut() {
                    l.breaks.push(j);
                }
            }
            StmtKind::Continue => {
                let j = self.emit_jump(Op::Jump { off: 0 });
                if let Some(target) = self.loops.last().map(|l| l.continue_to) {
                    if target != usize::MAX {
                        self.patch_to(j, target);
                    } else {
                        // Patched by retarget_continues (marked with off = i32::MIN).
                        self.code[j] = Op::Jump { off: i32::MIN };
                    }
                }
            }
            StmtKind::Return(e) => {
                if matches!(e.kind, ExprKind::Lit(Literal::Nil)) {
                    self.emit(Op::ReturnNil);
                } else {
                    let r = self.expr_any(e);
                    self.span = e.span;
                    self.emit(Op::Return { src: r });
                }
            }
            StmtKind::Fail(e) => {
                let r = self.expr_any(e);
                self.fail_with(r);
            }
            StmtKind::Panic(e) => {
                let r = self.expr_any(e);
                self.span = span;
                self.emit(Op::Panic { r });
            }
            StmtKind::Do { body, handler } => match handler {
                None => self.block(body),
                Some((local, hblock)) => {
                    self.handlers.push(Handler {
                        local: *local,
                        jumps: Vec::new(),
                        trap_depth: self.trap_depth,
                    });
                    self.block(body);
                    let h = self.handlers.pop();
                    let end = self.emit_jump(Op::Jump { off: 0 });
                    for j in h.map(|h| h.jumps).unwrap_or_default() {
                        self.patch(j);
                    }
                    self.block(hblock);
                    self.patch(end);
                }
            },
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn loop_body(&mut self, head: usize, body: &tir::Block) {
        self.loops.push(LoopCtx {
            continue_to: head,
            breaks: Vec::new(),
        });
        self.block(body);
    }

    fn end_loop(&mut self) {
        if let Some(l) = self.loops.pop() {
            for b in l.breaks {
                self.patch(b);
            }
        }
    }

    /// Points the pending `continue` jumps emitted since `from` at `target`.
    fn retarget_continues(&mut self, from: usize, target: usize) {
        for i in from..self.code.len() {
            if self.code[i] == (Op::Jump { off: i32::MIN }) {
                self.patch_to(i, target);
            }
        }
    }

    /// Transfers a failure (error in `r`) to the innermost handler or returns it.
    fn fail_with(&mut self, r: Reg) {
        match self.handlers.last() {
            Some(h) => {
                let (local, depth) = (h.local, h.trap_depth);
                let lr = self.lreg(local);
                if self.captured(local) {
                    self.emit(Op::NewCell { dst: lr, src: r });
                } else if lr != r {
                    self.emit(Op::Move { dst: lr, src: r });
                }
                for _ in depth..self.trap_depth {
                    self.emit(Op::PopTrap);
                }
                let j = self.emit_jump(Op::Jump { off: 0 });
                if let Some(h) = self.handlers.last_mut() {
                    h.jumps.push(j);
                }
            }
            None => {
                self.emit(Op::Return { src: r });
            }
        }
    }

    fn assign(&mut self, place: &Place, value: &Expr) {
        match place {
            Place::Local(l) => {
                let r = self.lreg(*l);
                if self.captured(*l) {
                    let t = self.expr_any(value);
                    self.emit(Op::SetCell { cell: r, src: t });
                } else if writes_dst_last(value) {
                    self.expr_to(value, r);
                } else {
                    let t = self.alloc();
                    self.expr_to(value, t);
                    self.emit(Op::Move { dst: r, src: t });
                }
            }
            Place::Global(g) => {
                let t = self.expr_any(value);
                self.emit(Op::StoreGlobal { g: g.0, src: t });
            }
            Place::Upvalue(i) => {
                let t = self.expr_any(value);
                self.emit(Op::SetUpval {
                    idx: *i as u16,
                    src: t,
                });
            }
            Place::ArrayIndex(a, i) => {
                let ra = self.expr_any(a);
                let ri = self.expr_any(i);
                let rv = self.expr_any(value);
                self.emit(Op::ArraySet {
                    arr: ra,
                    idx: ri,
                    src: rv,
                });
            }
            Place::MapKey(m, k) => {
                let rm = self.expr_any(m);
                // Fused only when the parts are immutable: the key text is
                // made after `value` runs, which could change a container.
                let scalar = |p: &Expr| {
                    [
                        TyId::NIL,
                        TyId::BOOLEAN,
                        TyId::INT,
                        TyId::FLOAT,
                        TyId::STRING,
                        TyId::DURATION,
                    ]
                    .contains(&p.ty)
                };
                if let ExprKind::Template(parts) = &k.kind {
                    if parts.iter().all(scalar) {
                        let args = self.operands(parts);
                        let rv = self.expr_any(value);
                        self.emit(Op::MapSetTemplate {
                            map: rm,
                            args,
                            n: parts.len() as u16,
                            src: rv,
                        });
                        return;
                    }
                }
                let rk = self.expr_any(k);
                let rv = self.expr_any(value);
                self.emit(Op::MapSet {
                    map: rm,
                    key: rk,
                    src: rv,
                });
            }
            Place::Field(o, f) => {
                let ro = self.expr_any(o);
                let rv = self.expr_any(value);
                let name = self.pool.str(&f.name);
                self.emit(Op::FieldSet {
                    obj: ro,
                    rec: f.record.0,
                    idx: f.index as u16,
                    name,
                    src: rv,
                });
            }
        }
    }

    /// Emits a jump taken when `cond` is false (fusing int comparisons).
    fn cond_jump_false(&mut self, cond: &Expr) -> usize {
        if let ExprKind::Binary(op, a, b) = &cond.kind {
            if let Some(cmp) = int_cmp(*op, a, b) {
                if let Some(v) = small_int(b) {
                    let ra = self.expr_any(a);
                    self.span = cond.span;
                    return self.emit_jump(Op::JumpIfNotCmpIntImm {
                        a: ra,
                        v,
                        cmp,
                        off: 0,
                    });
                }
                let ra = self.expr_any(a);
                let rb = self.expr_any(b);
                self.span = cond.span;
                return self.emit_jump(Op::JumpIfNotCmpInt {
                    a: ra,
                    b: rb,
                    cmp,
                    off: 0,
                });
            }
        }
        let r = self.expr_any(cond);
        self.emit_jump(Op::JumpIfFalse { r, off: 0 })
    }

    // ------------------------------------------------------------ expressions

    /// Evaluates `e` into some register (a local's own register when possible).
    fn expr_any(&mut self, e: &Expr) -> Reg {
        if let ExprKind::Local(l) = &e.kind {
            if !self.captured(*l) {
                return self.lreg(*l);
            }
        }
        let r = self.alloc();
        self.expr_to(e, r);
        r
    }

    /// Evaluates `e` into `dst`.
    fn expr_to(&mut self, e: &Expr, dst: Reg) {
        let mark = self.next.max(dst.saturating_add(1));
        self.next = mark;
        self.expr_inner(e, dst);
        self.next = mark;
    }

    fn expr_inner(&mut self, e: &Expr, dst: Reg) {
        match &e.kind {
            ExprKind::Lit(l) => self.literal(l, dst),
            ExprKind::Local(l) => {
                let src = self.lreg(*l);
                if self.captured(*l) {
                    self.emit(Op::GetCell { dst, cell: src });
                } else if src != dst {
                    self.emit(Op::Move { dst, src });
                }
            }
            ExprKind::Upvalue(i) => match self.inlined_capture(*i) {
                Some(tir::Capture::Local(cell)) => {
                    self.emit(Op::GetCell {
                        dst,
                        cell: cell.0 as Reg,
                    });
                }
                Some(tir::Capture::Upvalue(j)) => {
                    self.emit(Op::GetUpval { dst, idx: j as u16 });
                }
                None => {
                    self.emit(Op::GetUpval {
                        dst,
                        idx: *i as u16,
                    });
                }
            },
            ExprKind::Global(g) => {
                self.emit(Op::LoadGlobal { dst, g: g.0 });
            }
            ExprKind::FuncRef(f) | ExprKind::Lambda(f) => {
                self.emit(Op::Closure { dst, func: f.0 });
            }
            ExprKind::Template(parts) => {
                let args = self.operands(parts);
                self.span = e.span;
                self.emit(Op::Template {
                    dst,
                    args,
                    n: parts.len() as u16,
                });
            }
            ExprKind::Array(items) => {
                let args = self.operands(items);
                self.emit(Op::NewArray {
                    dst,
                    args,
                    n: items.len() as u16,
                });
            }
            ExprKind::Map(pairs) => {
                let keys = self.pool.keys(pairs.iter().map(|(k, _)| &**k));
                let args = self.alloc_n(pairs.len());
                for (i, (_, v)) in pairs.iter().enumerate() {
                    self.expr_to(v, args + i as Reg);
                }
                self.emit(Op::NewMap {
                    dst,
                    keys,
                    args,
                    n: pairs.len() as u16,
                });
            }
            ExprKind::Record(rec, fields) => {
                let args = self.operands(fields);
                self.emit(Op::NewRecord {
                    dst,
                    rec: rec.0,
                    args,
                    n: fields.len() as u16,
                });
            }
            ExprKind::ErrorNew {
                error,
                message,
                cause,
                detail,
            } => {
                let keys = self.pool.keys(detail.iter().map(|(k, _)| &**k));
                let args = self.alloc_n(2 + detail.len());
                self.expr_to(message, args);
                match cause {
                    Some(c) => self.expr_to(c, args + 1),
                    None => {
                        self.emit(Op::LoadNil { dst: args + 1 });
                    }
                }
                for (i, (_, v)) in detail.iter().enumerate() {
                    self.expr_to(v, args + 2 + i as Reg);
                }
                self.span = e.span;
                self.emit(Op::NewError {
                    dst,
                    error: error.0,
                    keys,
                    args,
                    n: detail.len() as u16,
                });
            }
            ExprKind::Unary(op, a) => {
                let ra = self.expr_any(a);
                self.span = e.span;
                self.emit(match op {
                    UnOp::NegInt => Op::NegInt { dst, a: ra },
                    UnOp::NegFloat => Op::NegFloat { dst, a: ra },
                    UnOp::Not => Op::Not { dst, a: ra },
                });
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, dst, e.span),
            ExprKind::And(a, b) => {
                self.expr_to(a, dst);
                let j = self.emit_jump(Op::JumpIfFalse { r: dst, off: 0 });
                self.expr_to(b, dst);
                self.patch(j);
            }
            ExprKind::Or(a, b) => {
                self.expr_to(a, dst);
                let j = self.emit_jump(Op::JumpIfTrue { r: dst, off: 0 });
                self.expr_to(b, dst);
                self.patch(j);
            }
            ExprKind::Cond(c, a, b) => {
                let j = self.cond_jump_false(c);
                self.expr_to(a, dst);
                let end = self.emit_jump(Op::Jump { off: 0 });
                self.patch(j);
                self.expr_to(b, dst);
                self.patch(end);
            }
            ExprKind::Elvis(a, b) => {
                self.expr_to(a, dst);
                let is_nil = self.emit_jump(Op::JumpIfNil { r: dst, off: 0 });
                let end = self.emit_jump(Op::Jump { off: 0 });
                self.patch(is_nil);
                self.expr_to(b, dst);
                self.patch(end);
            }
            ExprKind::Is(x, ty) => {
                let src = self.expr_any(x);
                self.emit(Op::Is { dst, src, ty: ty.0 });
            }
            ExprKind::Cast(kind, x) => match kind {
                CastKind::Identity => self.expr_to(x, dst),
                CastKind::IntToFloat => {
                    let src = self.expr_any(x);
                    self.emit(Op::IntToFloat { dst, src });
                }
                CastKind::FloatToInt => {
                    let src = self.expr_any(x);
                    self.span = e.span;
                    self.emit(Op::FloatToInt { dst, src });
                }
                CastKind::Downcast(ty) => {
                    let src = self.expr_any(x);
                    self.span = e.span;
                    self.emit(Op::Downcast { dst, src, ty: ty.0 });
                }
            },
            ExprKind::Check(x) => {
                self.expr_to(x, dst);
                let ok = self.emit_jump(Op::JumpIfNotError { r: dst, off: 0 });
                self.fail_with(dst);
                self.patch(ok);
            }
            ExprKind::CheckPanic(x) => {
                self.expr_to(x, dst);
                let ok = self.emit_jump(Op::JumpIfNotError { r: dst, off: 0 });
                self.span = e.span;
                self.emit(Op::Panic { r: dst });
                self.patch(ok);
            }
            ExprKind::Trap(x) => {
                let t = self.emit_jump(Op::PushTrap { dst, off: 0 });
                self.trap_depth += 1;
                self.expr_to(x, dst);
                self.trap_depth -= 1;
                self.emit(Op::PopTrap);
                self.patch(t);
            }
            ExprKind::Call(callee, args) => self.call(callee, args, dst, e.span),
            ExprKind::Method(m, args) => self.method(*m, args, dst, e.span),
            ExprKind::Field(o, f) => {
                let obj = self.expr_any(o);
                let name = self.pool.str(&f.name);
                self.span = e.span;
                self.emit(Op::FieldGet {
                    dst,
                    obj,
                    rec: f.record.0,
                    idx: f.index as u16,
                    name,
                });
            }
            ExprKind::MapGet(m, k) => {
                let map = self.expr_any(m);
                if let ExprKind::Template(parts) = &k.kind {
                    let args = self.operands(parts);
                    self.emit(Op::MapGetTemplate {
                        dst,
                        map,
                        args,
                        n: parts.len() as u16,
                    });
                    return;
                }
                let key = self.expr_any(k);
                self.emit(Op::MapGet { dst, map, key });
            }
            ExprKind::JsonGet(o, k) => {
                let obj = self.expr_any(o);
                let key = self.expr_any(k);
                self.emit(Op::JsonGet { dst, obj, key });
            }
            ExprKind::ArrayIndex(a, i) => {
                let arr = self.expr_any(a);
                let idx = self.expr_any(i);
                self.span = e.span;
                self.emit(Op::ArrayGet { dst, arr, idx });
            }
            ExprKind::OptionalChain {
                target,
                local,
                access,
            } => {
                let l = self.lreg(*local);
                self.expr_to(target, l);
                let is_nil = self.emit_jump(Op::JumpIfNil { r: l, off: 0 });
                self.expr_to(access, dst);
                let end = self.emit_jump(Op::Jump { off: 0 });
                self.patch(is_nil);
                self.emit(Op::LoadNil { dst });
                self.patch(end);
            }
            ExprKind::Range(lo, hi, inclusive) => {
                let rl = self.expr_any(lo);
                let rh = self.expr_any(hi);
                self.span = e.span;
                self.emit(Op::Range {
                    dst,
                    lo: rl,
                    hi: rh,
                    inclusive: *inclusive,
                });
            }
            ExprKind::TypeDesc(ty) => {
                self.emit(Op::TypeDesc { dst, ty: ty.0 });
            }
        }
    }

    /// While inlining, where upvalue `i` of the inlined function lives in the
    /// enclosing frame (`Capture::Local` holds the cell's register).
    fn inlined_capture(&self, i: u32) -> Option<tir::Capture> {
        let (caps, outer_base) = self.inline_captures?;
        Some(match caps.get(i as usize)? {
            tir::Capture::Local(l) => tir::Capture::Local(LocalId(u32::from(outer_base) + l.0)),
            tir::Capture::Upvalue(j) => tir::Capture::Upvalue(*j),
        })
    }

    /// Evaluates expressions into consecutive fresh registers.
    fn operands(&mut self, items: &[Expr]) -> Reg {
        let args = self.alloc_n(items.len());
        for (i, it) in items.iter().enumerate() {
            self.expr_to(it, args + i as Reg);
        }
        args
    }

    fn literal(&mut self, l: &Literal, dst: Reg) {
        match l {
            Literal::Nil => {
                self.emit(Op::LoadNil { dst });
            }
            Literal::Bool(v) => {
                self.emit(Op::LoadBool { dst, v: *v });
            }
            Literal::Int(v) => match i32::try_from(*v) {
                Ok(v) => {
                    self.emit(Op::LoadInt { dst, v });
                }
                Err(_) => self.load_const(dst, Const::Int(*v)),
            },
            Literal::Float(v) => self.load_const(dst, Const::Float(*v)),
            Literal::Str(s) => self.load_const(dst, Const::Str(Arc::from(&**s))),
            Literal::Duration(v) => self.load_const(dst, Const::Duration(*v)),
        }
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, dst: Reg, span: Span) {
        if let Some(v) = small_int(b) {
            let imm = match op {
                BinOp::AddInt => Some(Op::AddIntImm { dst, a: 0, v }),
                BinOp::SubInt if v != i32::MIN => Some(Op::AddIntImm { dst, a: 0, v: -v }),
                BinOp::MulInt => Some(Op::MulIntImm { dst, a: 0, v }),
                BinOp::DivInt if v != 0 => Some(Op::DivIntImm { dst, a: 0, v }),
                BinOp::RemInt if v != 0 => Some(Op::RemIntImm { dst, a: 0, v }),
                _ => int_cmp(op, a, b).map(|cmp| Op::CmpIntImm { dst, a: 0, v, cmp }),
            };
            if let Some(mut imm) = imm {
                let ra = self.expr_any(a);
                match &mut imm {
                    Op::AddIntImm { a, .. }
                    | Op::MulIntImm { a, .. }
                    | Op::DivIntImm { a, .. }
                    | Op::RemIntImm { a, .. }
                    | Op::CmpIntImm { a, .. } => *a = ra,
                    _ => {}
                }
                self.span = span;
                self.emit(imm);
                return;
            }
        }
        let ra = self.expr_any(a);
        let rb = self.expr_any(b);
        self.span = span;
        let (a, b) = (ra, rb);
        self.emit(match op {
            BinOp::AddInt => Op::AddInt { dst, a, b },
            BinOp::SubInt => Op::SubInt { dst, a, b },
            BinOp::MulInt => Op::MulInt { dst, a, b },
            BinOp::DivInt => Op::DivInt { dst, a, b },
            BinOp::RemInt => Op::RemInt { dst, a, b },
            BinOp::AddFloat => Op::AddFloat { dst, a, b },
            BinOp::SubFloat => Op::SubFloat { dst, a, b },
            BinOp::MulFloat => Op::MulFloat { dst, a, b },
            BinOp::DivFloat => Op::DivFloat { dst, a, b },
            BinOp::RemFloat => Op::RemFloat { dst, a, b },
            BinOp::Concat => Op::Concat { dst, a, b },
            BinOp::ConcatArray => Op::ConcatArray { dst, a, b },
            BinOp::AddDuration => Op::AddDuration { dst, a, b },
            BinOp::MulDurationInt => Op::MulDurationInt { dst, a, b },
            BinOp::MulDurationFloat => Op::MulDurationFloat { dst, a, b },
            BinOp::DivDurationInt => Op::DivDurationInt { dst, a, b },
            BinOp::Eq => Op::Eq { dst, a, b },
            BinOp::Ne => Op::Ne { dst, a, b },
            BinOp::LtInt | BinOp::LtFloat | BinOp::LtStr | BinOp::LtDuration => Op::Compare {
                dst,
                a,
                b,
                cmp: Cmp::Lt,
            },
            BinOp::LeInt | BinOp::LeFloat | BinOp::LeStr | BinOp::LeDuration => Op::Compare {
                dst,
                a,
                b,
                cmp: Cmp::Le,
            },
            BinOp::GtInt | BinOp::GtFloat | BinOp::GtStr | BinOp::GtDuration => Op::Compare {
                dst,
                a,
                b,
                cmp: Cmp::Gt,
            },
            BinOp::GeInt | BinOp::GeFloat | BinOp::GeStr | BinOp::GeDuration => Op::Compare {
                dst,
                a,
                b,
                cmp: Cmp::Ge,
            },
        });
    }

    fn call(&mut self, callee: &Callee, args: &[Option<Expr>], dst: Reg, span: Span) {
        let callee_reg = match callee {
            Callee::Value(f) => Some(self.expr_any(f)),
            Callee::Func(_) => None,
        };
        let base = self.alloc_n(args.len());
        for (i, a) in args.iter().enumerate() {
            let r = base + i as Reg;
            match a {
                Some(e) => self.expr_to(e, r),
                None => {
                    self.emit(Op::LoadUndefined { dst: r });
                }
            }
        }
        self.span = span;
        let argc = args.len() as u16;
        match (callee, callee_reg) {
            (Callee::Func(f), _) if self.prog.functions[f.0 as usize].native.is_some() => {
                let native = self.prog.functions[f.0 as usize].native.map_or(0, |n| n.0);
                self.emit(Op::CallNative {
                    dst,
                    native,
                    args: base,
                    argc,
                });
            }
            (Callee::Func(f), _) => {
                self.emit(Op::CallFunc {
                    dst,
                    func: f.0,
                    args: base,
                    argc,
                    nregs: 0,
                });
            }
            (Callee::Value(_), Some(c)) => {
                self.emit(Op::CallValue {
                    dst,
                    callee: c,
                    args: base,
                    argc,
                });
            }
            (Callee::Value(_), None) => {}
        }
    }

    fn method(&mut self, m: Method, args: &[Expr], dst: Reg, span: Span) {
        match m {
            Method::ArrMap
            | Method::ArrFilter
            | Method::ArrForEach
            | Method::ArrSome
            | Method::ArrEvery
            | Method::ArrReduce
            | Method::ArrSortBy => return self.higher_order(m, args, dst, span),
            Method::CloneWithType(ty) => {
                if let Some(a) = args.first() {
                    let src = self.expr_any(a);
                    self.emit(Op::CloneWithType { dst, src, ty: ty.0 });
                }
                return;
            }
            Method::ArrPush => {
                if let [a, v] = args {
                    let arr = self.expr_any(a);
                    let src = self.expr_any(v);
                    self.emit(Op::ArrayPush { arr, src });
                    self.emit(Op::LoadNil { dst });
                    return;
                }
            }
            _ => {}
        }
        let base = self.operands(args);
        self.span = span;
        self.emit(Op::Method {
            dst,
            method: super::method_index(m),
            args: base,
            argc: args.len() as u16,
        });
    }

    /// `map`, `filter`, ... compile to loops that call the function value, so
    /// the VM never calls Flow code from Rust.
    fn higher_order(&mut self, m: Method, args: &[Expr], dst: Reg, span: Span) {
        let (Some(recv), Some(f)) = (args.first(), args.get(1)) else {
            return;
        };
        let arr = self.alloc();
        self.expr_to(recv, arr);
        let inline = self.inlinable_lambda(f);
        let func = self.alloc();
        if inline.is_none() {
            self.expr_to(f, func);
        }
        let acc = self.alloc();
        match m {
            Method::ArrMap | Method::ArrFilter | Method::ArrSortBy => {
                self.emit(Op::NewArray {
                    dst: acc,
                    args: 0,
                    n: 0,
                });
            }
            Method::ArrReduce => {
                if let Some(init) = args.get(2) {
                    self.expr_to(init, acc);
                }
            }
            Method::ArrSome => {
                self.emit(Op::LoadBool { dst: acc, v: false });
            }
            Method::ArrEvery => {
                self.emit(Op::LoadBool { dst: acc, v: true });
            }
            _ => {
                self.emit(Op::LoadNil { dst: acc });
            }
        }
        // `acc` and `elem` are adjacent: the operands of a reduce function.
        let elem = self.alloc();
        let idx = self.alloc();
        self.emit(Op::LoadInt { dst: idx, v: 0 });
        let result = self.alloc();
        let call_args = self.alloc_n(2);
        let head = self.code.len();
        let exit = self.emit_jump(Op::IterNext {
            dst: elem,
            coll: arr,
            idx,
            off: 0,
        });
        self.span = span;
        let operands: &[Reg] = if m == Method::ArrReduce {
            &[acc, elem]
        } else {
            &[elem]
        };
        match inline {
            // An inlined predicate jumps on its condition directly.
            Some((lambda, body)) if m == Method::ArrFilter => {
                let skip = self.inline_bind(lambda, operands, |b| b.cond_jump_false(body));
                self.emit(Op::ArrayPush {
                    arr: acc,
                    src: elem,
                });
                self.patch(skip);
                self.iter_loop_back(head);
                self.patch(exit);
                self.emit(Op::Move { dst, src: acc });
                return;
            }
            // An inlined reducer may write the accumulator directly.
            Some((lambda, body)) if m == Method::ArrReduce && writes_dst_last(body) => {
                self.inline_bind(lambda, operands, |b| b.expr_to(body, acc));
                self.iter_loop_back(head);
                self.patch(exit);
                self.emit(Op::Move { dst, src: acc });
                return;
            }
            Some((lambda, body)) => self.inline_call(lambda, body, operands, result),
            None => {
                for (i, src) in operands.iter().enumerate() {
                    self.emit(Op::Move {
                        dst: call_args + i as Reg,
                        src: *src,
                    });
                }
                self.emit(Op::CallValue {
                    dst: result,
                    callee: func,
                    args: call_args,
                    argc: operands.len() as u16,
                });
            }
        }
        match m {
            Method::ArrMap | Method::ArrSortBy => {
                self.emit(Op::ArrayPush {
                    arr: acc,
                    src: result,
                });
            }
            Method::ArrFilter => {
                let skip = self.emit_jump(Op::JumpIfFalse { r: result, off: 0 });
                self.emit(Op::ArrayPush {
                    arr: acc,
                    src: elem,
                });
                self.patch(skip);
            }
            Method::ArrReduce => {
                self.emit(Op::Move {
                    dst: acc,
                    src: result,
                });
            }
            Method::ArrSome => {
                let next = self.emit_jump(Op::JumpIfFalse { r: result, off: 0 });
                self.emit(Op::LoadBool { dst: acc, v: true });
                let out = self.emit_jump(Op::Jump { off: 0 });
                self.patch(next);
                self.iter_loop_back(head);
                self.patch(exit);
                self.patch(out);
                self.emit(Op::Move { dst, src: acc });
                return;
            }
            Method::ArrEvery => {
                let next = self.emit_jump(Op::JumpIfTrue { r: result, off: 0 });
                self.emit(Op::LoadBool { dst: acc, v: false });
                let out = self.emit_jump(Op::Jump { off: 0 });
                self.patch(next);
                self.iter_loop_back(head);
                self.patch(exit);
                self.patch(out);
                self.emit(Op::Move { dst, src: acc });
                return;
            }
            _ => {}
        }
        self.iter_loop_back(head);
        self.patch(exit);
        if m == Method::ArrSortBy {
            self.emit(Op::SortByKeys {
                dst,
                items: arr,
                keys: acc,
            });
        } else {
            self.emit(Op::Move { dst, src: acc });
        }
    }
}

impl<'a> FnBuilder<'a> {
    /// An arrow function passed directly to a higher-order method whose body
    /// is one simple expression: its body can be compiled into the loop.
    fn inlinable_lambda(&self, f: &Expr) -> Option<(&'a Function, &'a Expr)> {
        let ExprKind::Lambda(fid) = f.kind else {
            return None;
        };
        let lambda: &'a Function = self.prog.functions.get(fid.0 as usize)?;
        if lambda.has_rest
            || lambda.native.is_some()
            || lambda.params.iter().any(|p| p.default.is_some())
            || lambda.locals.iter().any(|l| l.captured)
            || lambda.locals.len() > 8
        {
            return None;
        }
        let body = match lambda.body.stmts.as_slice() {
            [tir::Stmt {
                kind: StmtKind::Return(e) | StmtKind::Expr(e),
                ..
            }] => e,
            _ => return None,
        };
        simple_expr(body, 0).then_some((lambda, body))
    }

    /// Compiles an inlined arrow-function body with its parameters bound to
    /// `args`, leaving the value in `result`.
    fn inline_call(&mut self, lambda: &'a Function, body: &'a Expr, args: &[Reg], result: Reg) {
        self.inline_bind(lambda, args, |b| b.expr_to(body, result));
    }

    /// Runs `emit_body` with the inlined function's parameters bound to
    /// `args`. When its locals are exactly its parameters and `args` are
    /// consecutive registers, the parameters are those registers (an
    /// inlinable body is one expression, so it cannot assign them);
    /// otherwise they are copied into fresh registers.
    fn inline_bind<T>(
        &mut self,
        lambda: &'a Function,
        args: &[Reg],
        emit_body: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let consecutive = args.windows(2).all(|w| w[1] == w[0].wrapping_add(1));
        let lam = match args.first() {
            Some(&first) if consecutive && lambda.locals.len() == args.len() => first,
            _ => {
                let lam = self.alloc_n(lambda.locals.len());
                for (i, src) in args.iter().enumerate() {
                    self.emit(Op::Move {
                        dst: lam + i as Reg,
                        src: *src,
                    });
                }
                lam
            }
        };
        let saved = (self.func, self.local_base, self.inline_captures);
        self.inline_captures = Some((&lambda.captures, self.local_base));
        self.func = lambda;
        self.local_base = lam;
        let out = emit_body(self);
        (self.func, self.local_base, self.inline_captures) = saved;
        out
    }
}

/// Whether an expression is simple enough to inline: no control transfer
/// (`check`, `trap`), no nested functions, no statements.
fn simple_expr(e: &Expr, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    let ok = |x: &Expr| simple_expr(x, depth + 1);
    match &e.kind {
        ExprKind::Lit(_)
        | ExprKind::Local(_)
        | ExprKind::Upvalue(_)
        | ExprKind::Global(_)
        | ExprKind::TypeDesc(_) => true,
        ExprKind::Unary(_, a) | ExprKind::Is(a, _) | ExprKind::Cast(_, a) => ok(a),
        ExprKind::Field(a, _) => ok(a),
        ExprKind::Binary(_, a, b)
        | ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Elvis(a, b)
        | ExprKind::MapGet(a, b)
        | ExprKind::JsonGet(a, b)
        | ExprKind::ArrayIndex(a, b) => ok(a) && ok(b),
        ExprKind::Cond(c, a, b) => ok(c) && ok(a) && ok(b),
        ExprKind::Template(parts) | ExprKind::Array(parts) => parts.iter().all(ok),
        ExprKind::Record(_, fields) => fields.iter().all(ok),
        ExprKind::Map(pairs) => pairs.iter().all(|(_, v)| ok(v)),
        ExprKind::Method(m, args) => {
            !matches!(
                m,
                Method::ArrMap
                    | Method::ArrFilter
                    | Method::ArrReduce
                    | Method::ArrForEach
                    | Method::ArrSome
                    | Method::ArrEvery
                    | Method::ArrSortBy
            ) && args.iter().all(ok)
        }
        ExprKind::Call(Callee::Func(_), args) => args.iter().all(|a| a.as_ref().is_none_or(ok)),
        _ => false,
    }
}

/// The relation of an int comparison (`==`/`!=` only when both sides are ints).
fn int_cmp(op: BinOp, a: &Expr, b: &Expr) -> Option<Cmp> {
    let ints = a.ty == TyId::INT && b.ty == TyId::INT;
    match op {
        BinOp::LtInt => Some(Cmp::Lt),
        BinOp::LeInt => Some(Cmp::Le),
        BinOp::GtInt => Some(Cmp::Gt),
        BinOp::GeInt => Some(Cmp::Ge),
        BinOp::Eq if ints => Some(Cmp::Eq),
        BinOp::Ne if ints => Some(Cmp::Ne),
        _ => None,
    }
}

/// An int literal that fits an immediate operand.
fn small_int(e: &Expr) -> Option<i32> {
    match e.kind {
        ExprKind::Lit(Literal::Int(v)) => i32::try_from(v).ok(),
        _ => None,
    }
}

/// Whether evaluating `e` into a register reads all its operands before it
/// writes the destination (so `x = e` may target `x` directly).
fn writes_dst_last(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Lit(_)
            | ExprKind::Binary(..)
            | ExprKind::Unary(..)
            | ExprKind::Global(_)
            | ExprKind::Upvalue(_)
            | ExprKind::Call(..)
            | ExprKind::Template(_)
            | ExprKind::Array(_)
            | ExprKind::Map(_)
            | ExprKind::Record(..)
            | ExprKind::Field(..)
            | ExprKind::MapGet(..)
            | ExprKind::ArrayIndex(..)
            | ExprKind::JsonGet(..)
    ) && !matches!(&e.kind, ExprKind::Method(..))
}
