//! Concurrency (§10): `start`, `wait` (one future, a record of futures,
//! the alternate `wait a | b`) and `future.cancel()`, lowered to calls of
//! the natives of the internal `strand` module (`stdlib/strand.flow`,
//! loaded implicitly when a module's text mentions `start` or `wait`).
//!
//! `start f(a, b)` (also a remote call `start ep->get(p)`) is checked as
//! the call itself, with the `T` of an expected `future<T>` as its expected
//! type. Every operand of the call that is not a constant (the arguments,
//! a called function value, the remote call's target) is evaluated at the
//! `start`, in source order, and passed to a closure without captures that
//! performs the call:
//!
//! ```text
//! strand:spawn(function($0, $1) { return f($0, $1); }, [a, b])   // : future<T>
//! ```
//!
//! `wait x` is `strand:waitOne(x)` of type `T|error` (a panic in the strand
//! and a cancelled strand are errors); `wait { a: fa, b: fb }` is
//! `strand:waitAll(R, [fa, fb])` where `R` is (as a typedesc) an anonymous record
//! type `record { Ta|error a; Tb|error b; }` that the native builds;
//! `wait fa | fb` is `strand:waitAny([fa, fb])` of type `Ta|Tb|error`;
//! `f.cancel()` is `strand:cancel(f)`.

use super::checker::Checker;
use super::tir::{self, Callee, ExprKind, FuncId, LocalId, LocalInfo};
use super::types::{FieldDef, FnType, RecordDef, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Name};
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;

/// Whether a module's text may use `start` or `wait` (a cheap
/// over-approximation: then the internal `strand` module is loaded).
pub(crate) fn may_use_strands(text: &str) -> bool {
    text.contains("start") || text.contains("wait")
}

impl Checker {
    /// `start CALL` (§10).
    pub(crate) fn start_expr(
        &mut self,
        x: &ast::Expr,
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let hint = expected.and_then(|t| {
            self.types
                .members(t)
                .into_iter()
                .find_map(|m| match self.types.kind(m) {
                    TyKind::Future(inner) => Some(*inner),
                    _ => None,
                })
        });
        if !matches!(
            x.kind,
            ast::ExprKind::Call(..) | ast::ExprKind::RemoteCall { .. }
        ) {
            let _ = self.expr(x, None);
            return self.not_startable(x.span);
        }
        let call = self.expr(x, hint);
        if self.is_poison(call.ty) {
            return Checker::poison(span);
        }
        let (call_ty, call_span) = (call.ty, call.span);
        let ExprKind::Call(callee, args) = call.kind else {
            // An error constructor, a lang-library function, ...
            return self.not_startable(x.span);
        };
        let Some(spawn) = self.strand_native("spawn", span) else {
            return Checker::poison(span);
        };

        // Evaluate the operands now; the closure receives them as parameters.
        let mut values: Vec<tir::Expr> = Vec::new();
        let mut hoist = |e: tir::Expr| -> tir::Expr {
            if matches!(
                e.kind,
                ExprKind::Lit(_) | ExprKind::TypeDesc(_) | ExprKind::FuncRef(_)
            ) {
                return e;
            }
            let local = LocalId(values.len() as u32);
            let (ty, span) = (e.ty, e.span);
            values.push(e);
            tir::Expr {
                kind: ExprKind::Local(local),
                ty,
                span,
            }
        };
        let callee = match callee {
            Callee::Func(f) => Callee::Func(f),
            Callee::Value(v) => Callee::Value(Box::new(hoist(*v))),
        };
        let args: Vec<Option<tir::Expr>> = args.into_iter().map(|a| a.map(&mut hoist)).collect();
        let inner = tir::Expr {
            kind: ExprKind::Call(callee, args),
            ty: call_ty,
            span: call_span,
        };
        let param_tys: Vec<TyId> = values.iter().map(|v| v.ty).collect();
        let fn_ty = self.types.function(FnType {
            params: param_tys.clone(),
            rest: None,
            ret: call_ty,
        });
        let fid = self.new_func_slot();
        self.funcs[fid.0 as usize] = Some(tir::Function {
            name: "<strand>".into(),
            span: call_span,
            params: (0..param_tys.len())
                .map(|i| tir::Param {
                    local: LocalId(i as u32),
                    default: None,
                })
                .collect(),
            has_rest: false,
            ret: call_ty,
            locals: param_tys
                .iter()
                .enumerate()
                .map(|(i, t)| LocalInfo {
                    name: format!("$arg{i}").into(),
                    ty: *t,
                    captured: false,
                })
                .collect(),
            captures: Vec::new(),
            body: tir::Block {
                stmts: vec![tir::Stmt {
                    kind: tir::StmtKind::Return(inner),
                    span: call_span,
                }],
            },
            native: None,
        });
        let any_array = self.types.array(TyId::ANY);
        let future = self.types.future(call_ty);
        tir::Expr {
            kind: ExprKind::Call(
                Callee::Func(spawn),
                vec![
                    Some(tir::Expr {
                        kind: ExprKind::Lambda(fid),
                        ty: fn_ty,
                        span: call_span,
                    }),
                    Some(tir::Expr {
                        kind: ExprKind::Array(values),
                        ty: any_array,
                        span,
                    }),
                ],
            ),
            ty: future,
            span,
        }
    }

    fn not_startable(&mut self, span: Span) -> tir::Expr {
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                span,
                "`start` needs a function call or a remote call",
            )
            .with_primary("this is not a call")
            .with_help("write e.g. `future<int> f = start compute(1);` or `var r = start orders->get(\"/orders\");`"),
        );
        Checker::poison(span)
    }

    /// `wait x` and `wait { a: fa, b: fb }` (§10).
    pub(crate) fn wait_expr(&mut self, x: &ast::Expr, span: Span) -> tir::Expr {
        if let ast::ExprKind::Mapping(fields) = &x.kind {
            return self.wait_record(fields, span);
        }
        let Some((f, t)) = self.future_operand(x) else {
            return Checker::poison(span);
        };
        let Some(wait) = self.strand_native("waitOne", span) else {
            return Checker::poison(span);
        };
        let ty = self.types.union(&[t, TyId::ERROR]);
        self.remote_names.insert(span, "wait".into());
        tir::Expr {
            kind: ExprKind::Call(Callee::Func(wait), vec![Some(f)]),
            ty,
            span,
        }
    }

    /// `wait a | b | c`: the first result that is not an error, or the
    /// last error when every strand failed.
    pub(crate) fn wait_any_expr(&mut self, xs: &[ast::Expr], span: Span) -> tir::Expr {
        let mut futures = Vec::with_capacity(xs.len());
        let mut tys = Vec::with_capacity(xs.len() + 1);
        let mut poisoned = false;
        for x in xs {
            match self.future_operand(x) {
                Some((f, t)) => {
                    futures.push(f);
                    tys.push(t);
                }
                None => poisoned = true,
            }
        }
        let wait = self.strand_native("waitAny", span);
        let (false, Some(wait)) = (poisoned, wait) else {
            return Checker::poison(span);
        };
        tys.push(TyId::ERROR);
        let ty = self.types.union(&tys);
        let any_array = self.types.array(TyId::ANY);
        self.remote_names.insert(span, "wait".into());
        tir::Expr {
            kind: ExprKind::Call(
                Callee::Func(wait),
                vec![Some(tir::Expr {
                    kind: ExprKind::Array(futures),
                    ty: any_array,
                    span,
                })],
            ),
            ty,
            span,
        }
    }

    /// `wait { a: fa, b: fb }`: a record with the same keys holding each
    /// strand's result (or error).
    fn wait_record(&mut self, fields: &[ast::MappingField], span: Span) -> tir::Expr {
        let mut seen: FxHashMap<Name, Span> = FxHashMap::default();
        let mut futures = Vec::with_capacity(fields.len());
        let mut defs = Vec::with_capacity(fields.len());
        let mut poisoned = false;
        for f in fields {
            if self.duplicate_key(&mut seen, f) {
                poisoned = true;
            }
            match self.future_operand(&f.value) {
                Some((e, t)) => {
                    let ty = self.types.union(&[t, TyId::ERROR]);
                    futures.push(e);
                    defs.push(FieldDef {
                        name: f.key.clone(),
                        ty,
                        has_default: false,
                    });
                }
                None => poisoned = true,
            }
        }
        if fields.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    span,
                    "`wait {}` needs at least one future",
                )
                .with_help("write e.g. `var both = wait { a: fa, b: fb };`"),
            );
            return Checker::poison(span);
        }
        let wait = self.strand_native("waitAll", span);
        let (false, Some(wait)) = (poisoned, wait) else {
            return Checker::poison(span);
        };
        let ty = self.types.add_record(RecordDef {
            name: None,
            fields: defs,
        });
        let any_array = self.types.array(TyId::ANY);
        tir::Expr {
            kind: ExprKind::Call(
                Callee::Func(wait),
                vec![
                    Some(tir::Expr {
                        kind: ExprKind::TypeDesc(ty),
                        ty: TyId::TYPEDESC,
                        span,
                    }),
                    Some(tir::Expr {
                        kind: ExprKind::Array(futures),
                        ty: any_array,
                        span,
                    }),
                ],
            ),
            ty,
            span,
        }
    }

    /// Checks an operand of `wait`: a `future<T>`; returns it and `T`.
    fn future_operand(&mut self, x: &ast::Expr) -> Option<(tir::Expr, TyId)> {
        let v = self.expr(x, None);
        if self.is_poison(v.ty) {
            return None;
        }
        if let TyKind::Future(t) = *self.types.kind(v.ty) {
            return Some((v, t));
        }
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                v.span,
                format!(
                    "`wait` needs a `future<T>`, found `{}`",
                    self.show(v.ty)
                ),
            )
            .with_primary(format!("this is `{}`", self.show(v.ty)))
            .with_help("a future is made by `start f(...)`; `wait` also takes a mapping of futures (`wait { a: fa, b: fb }`) or alternatives (`wait fa | fb`)"),
        );
        None
    }

    /// Methods of a `future<T>` receiver: `cancel()`. `None` when `recv` is
    /// not a future or has no such method (the caller reports it).
    pub(crate) fn future_method(
        &mut self,
        recv: tir::Expr,
        name: &Ident,
        args: &[ast::Arg],
        span: Span,
    ) -> Option<tir::Expr> {
        if !matches!(self.types.kind(recv.ty), TyKind::Future(_)) || &*name.name != "cancel" {
            return None;
        }
        if !args.is_empty() {
            self.report(Diagnostic::new(
                Code::Arity,
                name.span,
                format!("`cancel` takes no arguments but {} were given", args.len()),
            ));
            self.skip_args(args);
            return Some(Checker::poison(span));
        }
        let cancel = self.strand_native("cancel", span)?;
        Some(tir::Expr {
            kind: ExprKind::Call(Callee::Func(cancel), vec![Some(recv)]),
            ty: TyId::NIL,
            span,
        })
    }

    /// A native of the internal `strand` module: its id.
    fn strand_native(&mut self, member: &str, span: Span) -> Option<FuncId> {
        let qname = format!("strand:{member}");
        let found = self.sigs.iter().enumerate().find_map(|(i, s)| {
            s.as_ref()
                .filter(|s| *s.name == *qname && s.native_defaults.is_some())
                .map(|_| FuncId(i as u32))
        });
        if found.is_none() {
            self.error(
                Code::UnknownName,
                span,
                format!("internal error: the standard library has no `{qname}`"),
            );
        }
        found
    }
}
