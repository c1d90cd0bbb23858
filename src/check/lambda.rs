//! Function literals: anonymous functions and arrow functions (parameter
//! types from the expected function type, return type checked or inferred),
//! compiled as separate functions that capture enclosing locals.

use super::checker::Checker;
use super::scope::{FnCtx, LocalKind};
use super::tir::{self, ExprKind, StmtKind};
use super::types::{FnType, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, ParamKind};
use crate::syntax::span::Span;

impl Checker {
    /// `x => e` / `(a, b) => e` with parameter types from the expected type.
    pub(crate) fn arrow(
        &mut self,
        params: &[Ident],
        body: &ast::Expr,
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let ft = expected.and_then(|t| {
            self.types
                .members(t)
                .into_iter()
                .find_map(|m| match self.types.kind(m) {
                    TyKind::Function(f) if f.params.len() == params.len() && f.rest.is_none() => {
                        Some(f.clone())
                    }
                    _ => None,
                })
        });
        match ft {
            Some(ft) => self.arrow_with(params, body, span, ft.params, Some(ft.ret)),
            None => {
                if expected.is_some_and(|t| self.is_poison(t)) {
                    return Checker::poison(span);
                }
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        "cannot infer the parameter types of this arrow function",
                    )
                    .with_help("give it a function type, e.g. `function(int) returns int f = x => x * 2;`, or write `function(int x) returns int { ... }`"),
                );
                Checker::poison(span)
            }
        }
    }

    /// An arrow function with known parameter types; `ret` is the expected
    /// return type (`None`: inferred from the body; `()`: the value is
    /// discarded).
    pub(crate) fn arrow_with(
        &mut self,
        params: &[Ident],
        body: &ast::Expr,
        span: Span,
        param_tys: Vec<TyId>,
        ret: Option<TyId>,
    ) -> tir::Expr {
        let info = self.fx().assign_info.clone();
        let module = self.module();
        let mut ctx = FnCtx::new(
            "<lambda>".into(),
            module,
            ret.unwrap_or(TyId::NEVER),
            info,
            false,
        );
        if ret.is_none() {
            ctx.infer_ret = Some(Vec::new());
        }
        self.fns.push(ctx);
        let mut tparams = Vec::with_capacity(params.len());
        for (p, t) in params.iter().zip(&param_tys) {
            let (id, dup) = self
                .fx()
                .declare(&p.name, p.span, *t, LocalKind::Param, false);
            if let Some(prev) = dup {
                self.duplicate(p, prev);
            }
            tparams.push(tir::Param {
                local: id,
                default: None,
            });
        }
        let v = self.expr(body, ret.filter(|r| *r != TyId::NIL));
        let (stmt, ret_ty) = match ret {
            Some(TyId::NIL) => (
                tir::Stmt {
                    kind: StmtKind::Expr(v),
                    span: body.span,
                },
                TyId::NIL,
            ),
            Some(r) => {
                let v = self.coerce(v, r);
                (
                    tir::Stmt {
                        kind: StmtKind::Return(v),
                        span: body.span,
                    },
                    r,
                )
            }
            None => {
                let mut tys = self.fx().infer_ret.take().unwrap_or_default();
                let poisoned = self.is_poison(v.ty);
                tys.push(v.ty);
                let r = if poisoned {
                    TyId::NEVER
                } else {
                    self.types.union(&tys)
                };
                (
                    tir::Stmt {
                        kind: StmtKind::Return(v),
                        span: body.span,
                    },
                    r,
                )
            }
        };
        let ctx = self.fns.pop();
        let Some(ctx) = ctx else {
            return Checker::poison(span);
        };
        self.finish_lambda(
            ctx,
            span,
            tparams,
            false,
            ret_ty,
            vec![stmt],
            param_tys,
            None,
        )
    }

    /// `function(params) returns T { body }`.
    pub(crate) fn function_lit(&mut self, lit: &ast::FunctionLit, span: Span) -> tir::Expr {
        let mut param_tys = Vec::with_capacity(lit.sig.params.len());
        let mut resolved = Vec::with_capacity(lit.sig.params.len());
        let mut rest = None;
        for (i, p) in lit.sig.params.iter().enumerate() {
            let t = self.resolve_type(&p.ty);
            resolved.push(t);
            match p.kind {
                ParamKind::Normal => param_tys.push(t),
                ParamKind::Rest => {
                    if i + 1 != lit.sig.params.len() {
                        self.error(
                            Code::TypeMismatch,
                            p.name.span,
                            "a rest parameter must be the last parameter",
                        );
                    }
                    rest = Some(t);
                }
                ParamKind::NamedRest => {
                    self.error(
                        Code::TypeMismatch,
                        p.name.span,
                        "anonymous functions cannot have a named-rest parameter",
                    );
                    param_tys.push(t);
                }
            }
            if let Some(d) = &p.default {
                self.error(
                    Code::TypeMismatch,
                    d.span,
                    "parameters of anonymous functions cannot have default values",
                );
            }
        }
        let ret = match &lit.sig.ret {
            Some(t) => self.resolve_type(t),
            None => TyId::NIL,
        };
        let info = self.fx().assign_info.clone();
        let module = self.module();
        self.fns
            .push(FnCtx::new("<lambda>".into(), module, ret, info, false));
        let mut tparams = Vec::new();
        for (p, &t) in lit.sig.params.iter().zip(&resolved) {
            let lt = if p.kind == ParamKind::Rest {
                if self.is_poison(t) {
                    t
                } else {
                    self.types.array(t)
                }
            } else {
                t
            };
            let (id, dup) =
                self.fx()
                    .declare(&p.name.name, p.name.span, lt, LocalKind::Param, false);
            if let Some(prev) = dup {
                self.duplicate(&p.name, prev);
            }
            tparams.push(tir::Param {
                local: id,
                default: None,
            });
        }
        let (stmts, diverges) = self.stmts(&lit.body.stmts);
        self.close_scope();
        let ctx = self.fns.pop();
        let Some(ctx) = ctx else {
            return Checker::poison(span);
        };
        if !diverges && !self.assignable(TyId::NIL, ret) {
            self.report(
                Diagnostic::new(
                    Code::MissingReturn,
                    span,
                    format!(
                        "this function must return a value of type `{}`",
                        self.show(ret)
                    ),
                )
                .with_primary("the end of the body can be reached without `return`"),
            );
        }
        let has_rest = rest.is_some();
        self.finish_lambda(ctx, span, tparams, has_rest, ret, stmts, param_tys, rest)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_lambda(
        &mut self,
        ctx: FnCtx,
        span: Span,
        params: Vec<tir::Param>,
        has_rest: bool,
        ret: TyId,
        stmts: Vec<tir::Stmt>,
        param_tys: Vec<TyId>,
        rest: Option<TyId>,
    ) -> tir::Expr {
        let ty = if self.is_poison(ret) || param_tys.iter().any(|t| self.is_poison(*t)) {
            TyId::NEVER
        } else {
            self.types.function(FnType {
                params: param_tys,
                rest,
                ret,
            })
        };
        let fid = self.new_func_slot();
        self.funcs[fid.0 as usize] = Some(tir::Function {
            name: "<lambda>".into(),
            span,
            params,
            has_rest,
            ret: if self.is_poison(ret) { TyId::NIL } else { ret },
            locals: ctx.locals,
            captures: ctx.captures,
            body: tir::Block { stmts },
            native: None,
        });
        tir::Expr {
            kind: ExprKind::Lambda(fid),
            ty,
            span,
        }
    }
}
