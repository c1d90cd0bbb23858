//! Narrowing (§3.3): facts learnt from conditions (`is`, `== ()`, `!= ()`,
//! `!`, `&&`, `||`), saving and merging the narrowing state around branches
//! and loops, and the syntactic pre-scan of which names are assigned where.
//!
//! The approach is deliberately simple and sound: an assignment ends a
//! local's narrowing; a loop forgets the narrowing of every name assigned in
//! its body; a variable assigned inside a lambda is never narrowed; inside a
//! lambda an outer local keeps its narrowing only if it is never assigned.

use super::checker::Checker;
use super::scope::NKey;
use super::tir::{self, BinOp, ExprKind, Literal, UnOp};
use super::types::TyId;
use crate::syntax::ast::{self, Name};
use rustc_hash::FxHashSet;

/// Which names a declared function assigns (by plain `name = ...`).
#[derive(Debug, Default)]
pub(crate) struct AssignInfo {
    /// Assigned anywhere (including in lambdas).
    pub all: FxHashSet<Name>,
    /// Assigned inside a lambda.
    pub in_lambda: FxHashSet<Name>,
}

impl AssignInfo {
    /// Scans a function body (and its parameters' defaults).
    pub fn scan(body: &ast::Block) -> AssignInfo {
        let mut info = AssignInfo::default();
        let mut w = AssignWalker {
            info: &mut info,
            lambda_depth: 0,
        };
        w.block(body);
        info
    }

    /// Scans a single expression (module-level initialisers).
    pub fn scan_expr(e: &ast::Expr) -> AssignInfo {
        let mut info = AssignInfo::default();
        let mut w = AssignWalker {
            info: &mut info,
            lambda_depth: 0,
        };
        w.expr(e);
        info
    }
}

/// The names assigned (plainly) anywhere inside a block.
pub(crate) fn assigned_names(b: &ast::Block) -> FxHashSet<Name> {
    let mut info = AssignInfo::default();
    let mut w = AssignWalker {
        info: &mut info,
        lambda_depth: 0,
    };
    w.block(b);
    info.all
}

struct AssignWalker<'a> {
    info: &'a mut AssignInfo,
    lambda_depth: u32,
}

impl AssignWalker<'_> {
    fn block(&mut self, b: &ast::Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
    }

    fn on_fail(&mut self, f: &Option<ast::OnFail>) {
        if let Some(f) = f {
            self.block(&f.body);
        }
    }

    fn stmt(&mut self, s: &ast::Stmt) {
        use ast::StmtKind as S;
        match &s.kind {
            S::VarDecl(d) => {
                if let Some(e) = &d.init {
                    self.expr(e);
                }
            }
            S::Assign { target, value, .. } => {
                if let ast::ExprKind::Name(id) = &target.kind {
                    self.info.all.insert(id.name.clone());
                    if self.lambda_depth > 0 {
                        self.info.in_lambda.insert(id.name.clone());
                    }
                } else {
                    self.expr(target);
                }
                self.expr(value);
            }
            S::Discard(e) | S::Expr(e) | S::Fail(e) | S::Panic(e) | S::Compensate(e) => {
                self.expr(e)
            }
            S::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.block(then);
                if let Some(o) = otherwise {
                    self.stmt(o);
                }
            }
            S::Block(b) => self.block(b),
            S::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            S::Foreach { iter, body, .. } => {
                self.expr(iter);
                self.block(body);
            }
            S::Return(e) => {
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            S::Match { value, arms } => {
                self.expr(value);
                for a in arms {
                    for p in &a.patterns {
                        if let ast::Pattern::Value(e) = p {
                            self.expr(e);
                        }
                    }
                    if let Some(g) = &a.guard {
                        self.expr(g);
                    }
                    self.block(&a.body);
                }
            }
            S::Do { body, on_fail } => {
                self.block(body);
                self.on_fail(on_fail);
            }
            S::Retry {
                args,
                body,
                on_fail,
            } => {
                for a in args {
                    self.expr(&a.value);
                }
                self.stmt(body);
                self.on_fail(on_fail);
            }
            S::Timeout {
                limit,
                body,
                on_fail,
            } => {
                self.expr(limit);
                self.block(body);
                self.on_fail(on_fail);
            }
            S::Transaction { body, on_fail } => {
                self.block(body);
                self.on_fail(on_fail);
            }
            S::Break | S::Continue | S::Rollback | S::Error => {}
        }
    }

    fn args(&mut self, args: &[ast::Arg]) {
        for a in args {
            self.expr(&a.value);
        }
    }

    fn expr(&mut self, e: &ast::Expr) {
        use ast::ExprKind as E;
        match &e.kind {
            E::Nil
            | E::Bool(_)
            | E::Int(_)
            | E::Float(_)
            | E::Duration(_)
            | E::Str(_)
            | E::Name(_)
            | E::Qualified(..)
            | E::TypeDesc(_)
            | E::Commit
            | E::Error => {}
            E::Template(parts) => {
                for p in parts {
                    if let ast::TemplatePart::Expr(x) = p {
                        self.expr(x);
                    }
                }
            }
            E::EmptyIndex(x)
            | E::Unary(_, x)
            | E::Is(x, _)
            | E::Cast(_, x)
            | E::Check(x)
            | E::CheckPanic(x)
            | E::Trap(x)
            | E::Start(x)
            | E::Wait(x) => self.expr(x),
            E::Array(xs) | E::WaitAny(xs) => {
                for x in xs {
                    self.expr(x);
                }
            }
            E::Mapping(fs) => {
                for f in fs {
                    self.expr(&f.value);
                }
            }
            E::ErrorCtor(args) => self.args(args),
            E::Binary(_, a, b) | E::Elvis(a, b) | E::Index(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            E::Ternary(a, b, c) => {
                self.expr(a);
                self.expr(b);
                self.expr(c);
            }
            E::Call(f, args) => {
                self.expr(f);
                self.args(args);
            }
            E::Field { target, .. } => self.expr(target),
            E::MethodCall { target, args, .. } | E::RemoteCall { target, args, .. } => {
                self.expr(target);
                self.args(args);
            }
            E::Range { lo, hi, .. } => {
                self.expr(lo);
                self.expr(hi);
            }
            E::Function(lit) => {
                self.lambda_depth += 1;
                for p in &lit.sig.params {
                    if let Some(d) = &p.default {
                        self.expr(d);
                    }
                }
                self.block(&lit.body);
                self.lambda_depth -= 1;
            }
            E::Arrow(_, body) => {
                self.lambda_depth += 1;
                self.expr(body);
                self.lambda_depth -= 1;
            }
        }
    }
}

/// What a condition teaches about locals when it is true and when it is false.
#[derive(Debug, Default, Clone)]
pub(crate) struct Facts {
    /// Narrowings valid when the condition is true.
    pub when_true: Vec<(NKey, TyId)>,
    /// Narrowings valid when the condition is false.
    pub when_false: Vec<(NKey, TyId)>,
}

impl Facts {
    fn swap(self) -> Facts {
        Facts {
            when_true: self.when_false,
            when_false: self.when_true,
        }
    }
}

/// A saved narrowing state (positions in the undo trail and the
/// assignment log).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    trail_len: usize,
    log_len: usize,
}

/// The narrowing changes made in a region: each touched variable with its
/// final narrowed type (`None`: not narrowed).
pub(crate) type Changes = Vec<(NKey, Option<TyId>)>;

impl Checker {
    /// The facts a (checked) boolean condition establishes.
    pub(crate) fn facts(&mut self, e: &tir::Expr) -> Facts {
        match &e.kind {
            ExprKind::Is(x, t) => match key_of(x) {
                Some(k) => {
                    let cur = x.ty;
                    let yes = self.types.intersect(cur, *t);
                    let no = self.types.subtract(cur, *t);
                    Facts {
                        when_true: vec![(k, yes)],
                        when_false: vec![(k, no)],
                    }
                }
                None => Facts::default(),
            },
            ExprKind::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) => {
                let local = match (&a.kind, &b.kind) {
                    (_, ExprKind::Lit(Literal::Nil)) => key_of(a).map(|k| (k, a.ty)),
                    (ExprKind::Lit(Literal::Nil), _) => key_of(b).map(|k| (k, b.ty)),
                    _ => None,
                };
                let Some((id, cur)) = local else {
                    return Facts::default();
                };
                let yes = self.types.intersect(cur, TyId::NIL);
                let no = self.types.without_nil(cur);
                let f = Facts {
                    when_true: vec![(id, yes)],
                    when_false: vec![(id, no)],
                };
                if *op == BinOp::Eq {
                    f
                } else {
                    f.swap()
                }
            }
            ExprKind::Unary(UnOp::Not, x) => self.facts(x).swap(),
            ExprKind::And(a, b) => {
                let mut fa = self.facts(a);
                let fb = self.facts(b);
                fa.when_true.extend(fb.when_true);
                Facts {
                    when_true: fa.when_true,
                    when_false: Vec::new(),
                }
            }
            ExprKind::Or(a, b) => {
                let mut fa = self.facts(a);
                let fb = self.facts(b);
                fa.when_false.extend(fb.when_false);
                Facts {
                    when_true: Vec::new(),
                    when_false: fa.when_false,
                }
            }
            _ => Facts::default(),
        }
    }

    /// Applies narrowings to the current function's locals.
    pub(crate) fn apply_facts(&mut self, facts: &[(NKey, TyId)]) {
        let f = self.fx();
        for &(k, ty) in facts {
            let allowed = match k {
                NKey::Local(id) => !f.meta(id).no_narrow,
                NKey::Up(i) => f.stable_ups.contains(&i),
            };
            if ty == TyId::NEVER || !allowed {
                continue;
            }
            f.set_narrow(k, ty);
        }
    }

    /// Saves the narrowing state.
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        let f = self.fx();
        Snapshot {
            trail_len: f.trail.len(),
            log_len: f.assigned_log.len(),
        }
    }

    /// Restores a saved state exactly (for the start of another branch).
    pub(crate) fn restore(&mut self, s: &Snapshot) {
        self.fx().undo_to(s.trail_len);
    }

    /// Restores a saved state, forgetting the narrowing of every local
    /// assigned since it was taken.
    pub(crate) fn restore_minus_assigned(&mut self, s: &Snapshot) {
        let f = self.fx();
        f.undo_to(s.trail_len);
        let from = s.log_len.min(f.assigned_log.len());
        let assigned: Vec<tir::LocalId> = f.assigned_log[from..].to_vec();
        for id in assigned {
            f.unset_narrow(NKey::Local(id));
        }
    }

    /// The narrowing changes made since a snapshot (to re-apply them after
    /// checking another branch).
    pub(crate) fn changes_since(&mut self, s: &Snapshot) -> Changes {
        let f = self.fx();
        let mut seen = FxHashSet::default();
        let mut out = Vec::new();
        for (k, _) in &f.trail[s.trail_len.min(f.trail.len())..] {
            if seen.insert(*k) {
                out.push((*k, f.narrow.get(k).copied()));
            }
        }
        out
    }

    /// Re-applies changes taken with [`Checker::changes_since`].
    pub(crate) fn reapply(&mut self, changes: Changes) {
        let f = self.fx();
        for (k, v) in changes {
            match v {
                Some(t) => f.set_narrow(k, t),
                None => f.unset_narrow(k),
            }
        }
    }

    /// Sets the narrowing state to the join of several paths that meet at
    /// this point, each given by its changes since `s` (taken with
    /// [`Checker::changes_since`] at the end of the path): a variable keeps
    /// a narrowing only if every path narrows it, to the union of the
    /// paths' types. A path that does not touch a variable has its state at
    /// `s`. With no paths (none reaches this point) the state at `s` minus
    /// the assigned locals is kept.
    pub(crate) fn join_paths(&mut self, s: &Snapshot, paths: &[Changes]) {
        if paths.is_empty() {
            self.restore_minus_assigned(s);
            return;
        }
        self.restore(s);
        let mut keys: Vec<NKey> = Vec::new();
        let mut seen = FxHashSet::default();
        for (k, _) in paths.iter().flatten() {
            if seen.insert(*k) {
                keys.push(*k);
            }
        }
        for k in keys {
            let at_start = self.fx().narrow.get(&k).copied();
            let mut tys = Vec::with_capacity(paths.len());
            for p in paths {
                let t = match p.iter().find(|(pk, _)| *pk == k) {
                    Some((_, t)) => *t,
                    None => at_start,
                };
                match t {
                    Some(t) => tys.push(t),
                    None => {
                        tys.clear();
                        break;
                    }
                }
            }
            if tys.is_empty() {
                self.fx().unset_narrow(k);
            } else {
                let joined = self.types.union(&tys);
                if at_start != Some(joined) {
                    self.fx().set_narrow(k, joined);
                }
            }
        }
    }

    /// Forgets the narrowing of the visible locals with these names (at the
    /// start of a loop whose body assigns them).
    pub(crate) fn forget_names(&mut self, names: &FxHashSet<Name>) {
        let f = self.fx();
        for n in names {
            if let Some(id) = f.lookup(n) {
                f.unset_narrow(NKey::Local(id));
            }
        }
    }
}

/// The narrowing key of a variable read.
pub(crate) fn key_of(e: &tir::Expr) -> Option<NKey> {
    match e.kind {
        ExprKind::Local(id) => Some(NKey::Local(id)),
        ExprKind::Upvalue(i) => Some(NKey::Up(i)),
        _ => None,
    }
}
