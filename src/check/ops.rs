//! Operators (§7.3, §4.1) specialised by operand type, and conversions
//! `<T>x` (§7.4).

use super::checker::Checker;
use super::tir::{self, BinOp, CastKind, ExprKind, UnOp};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast;
use crate::syntax::span::Span;

impl Checker {
    /// A prefix `-` or `!`.
    pub(crate) fn unary(&mut self, op: ast::UnOp, x: &ast::Expr, span: Span) -> tir::Expr {
        let v = self.expr(x, None);
        let v = self.no_error(v, "an operand");
        if self.is_poison(v.ty) {
            return Checker::poison(span);
        }
        let (uop, ty) = match (op, self.types.kind(v.ty)) {
            (ast::UnOp::Neg, TyKind::Int) => (UnOp::NegInt, TyId::INT),
            (ast::UnOp::Neg, TyKind::Float) => (UnOp::NegFloat, TyId::FLOAT),
            (ast::UnOp::Not, TyKind::Boolean) => (UnOp::Not, TyId::BOOLEAN),
            _ => {
                let (sym, need) = match op {
                    ast::UnOp::Neg => ("-", "an `int` or a `float`"),
                    ast::UnOp::Not => ("!", "a `boolean`"),
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        format!("operator `{sym}` needs {need}, found `{}`", self.show(v.ty)),
                    )
                    .with_primary(format!("this is `{}`", self.show(v.ty))),
                );
                return Checker::poison(span);
            }
        };
        tir::Expr {
            kind: ExprKind::Unary(uop, Box::new(v)),
            ty,
            span,
        }
    }

    /// A binary operator.
    pub(crate) fn binary(
        &mut self,
        op: ast::BinOp,
        a: &ast::Expr,
        b: &ast::Expr,
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        use ast::BinOp as B;
        match op {
            B::And | B::Or => {
                let l = self.condition(a);
                let facts = self.facts(&l);
                let snap = self.snapshot();
                if op == B::And {
                    self.apply_facts(&facts.when_true);
                } else {
                    self.apply_facts(&facts.when_false);
                }
                let r = self.condition(b);
                self.restore(&snap);
                let kind = if op == B::And {
                    ExprKind::And(Box::new(l), Box::new(r))
                } else {
                    ExprKind::Or(Box::new(l), Box::new(r))
                };
                tir::Expr {
                    kind,
                    ty: TyId::BOOLEAN,
                    span,
                }
            }
            B::Eq | B::Ne => {
                let l = self.expr(a, None);
                let hint = if self.is_poison(l.ty) {
                    None
                } else {
                    Some(l.ty)
                };
                let r = self.expr(b, hint);
                if !self.comparable(l.ty, r.ty) {
                    let mut d = Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        format!(
                            "cannot compare `{}` with `{}` using `{}`",
                            self.show(l.ty),
                            self.show(r.ty),
                            op.text()
                        ),
                    );
                    if self.is_numeric_pair(l.ty, r.ty) {
                        d = d.with_help("int and float are never equal; convert one side with `<float>x` or `<int>x`");
                    }
                    self.report(d);
                }
                let bop = if op == B::Eq { BinOp::Eq } else { BinOp::Ne };
                tir::Expr {
                    kind: ExprKind::Binary(bop, Box::new(l), Box::new(r)),
                    ty: TyId::BOOLEAN,
                    span,
                }
            }
            B::Lt | B::Le | B::Gt | B::Ge => {
                let l = self.expr(a, None);
                let l = self.no_error(l, "an operand");
                let r = self.expr(b, Some(l.ty));
                let r = self.no_error(r, "an operand");
                if self.is_poison(l.ty) || self.is_poison(r.ty) {
                    return tir::Expr {
                        kind: ExprKind::Binary(BinOp::Eq, Box::new(l), Box::new(r)),
                        ty: TyId::BOOLEAN,
                        span,
                    };
                }
                let lk = self.types.kind(l.ty).clone();
                let rk = self.types.kind(r.ty).clone();
                let ops = match (&lk, &rk) {
                    (TyKind::Int, TyKind::Int) => {
                        Some([BinOp::LtInt, BinOp::LeInt, BinOp::GtInt, BinOp::GeInt])
                    }
                    (TyKind::Float, TyKind::Float) => Some([
                        BinOp::LtFloat,
                        BinOp::LeFloat,
                        BinOp::GtFloat,
                        BinOp::GeFloat,
                    ]),
                    (TyKind::String, TyKind::String) => {
                        Some([BinOp::LtStr, BinOp::LeStr, BinOp::GtStr, BinOp::GeStr])
                    }
                    (TyKind::Duration, TyKind::Duration) => Some([
                        BinOp::LtDuration,
                        BinOp::LeDuration,
                        BinOp::GtDuration,
                        BinOp::GeDuration,
                    ]),
                    _ => None,
                };
                let Some(ops) = ops else {
                    self.operator_mismatch(op, l.ty, r.ty, span);
                    return tir::Expr {
                        kind: ExprKind::Binary(BinOp::Eq, Box::new(l), Box::new(r)),
                        ty: TyId::BOOLEAN,
                        span,
                    };
                };
                let bop = match op {
                    B::Lt => ops[0],
                    B::Le => ops[1],
                    B::Gt => ops[2],
                    _ => ops[3],
                };
                tir::Expr {
                    kind: ExprKind::Binary(bop, Box::new(l), Box::new(r)),
                    ty: TyId::BOOLEAN,
                    span,
                }
            }
            B::Add | B::Sub | B::Mul | B::Div | B::Rem => {
                let lhint = if matches!(a.kind, ast::ExprKind::Array(_)) {
                    expected
                } else {
                    None
                };
                let l = self.expr(a, lhint);
                let l = self.no_error(l, "an operand");
                let rhint = match self.types.kind(l.ty) {
                    TyKind::Array(_) => Some(l.ty),
                    _ => None,
                };
                let r = self.expr(b, rhint);
                let r = self.no_error(r, "an operand");
                self.arith(op, l, r, span)
            }
        }
    }

    /// Types an arithmetic operator on checked operands.
    pub(crate) fn arith(
        &mut self,
        op: ast::BinOp,
        l: tir::Expr,
        r: tir::Expr,
        span: Span,
    ) -> tir::Expr {
        use ast::BinOp as B;
        if self.is_poison(l.ty) || self.is_poison(r.ty) {
            return tir::Expr {
                kind: ExprKind::Binary(BinOp::AddInt, Box::new(l), Box::new(r)),
                ty: TyId::NEVER,
                span,
            };
        }
        let lk = self.types.kind(l.ty).clone();
        let rk = self.types.kind(r.ty).clone();
        let res: Option<(BinOp, TyId)> = match (op, &lk, &rk) {
            (B::Add, TyKind::Int, TyKind::Int) => Some((BinOp::AddInt, TyId::INT)),
            (B::Sub, TyKind::Int, TyKind::Int) => Some((BinOp::SubInt, TyId::INT)),
            (B::Mul, TyKind::Int, TyKind::Int) => Some((BinOp::MulInt, TyId::INT)),
            (B::Div, TyKind::Int, TyKind::Int) => Some((BinOp::DivInt, TyId::INT)),
            (B::Rem, TyKind::Int, TyKind::Int) => Some((BinOp::RemInt, TyId::INT)),
            (B::Add, TyKind::Float, TyKind::Float) => Some((BinOp::AddFloat, TyId::FLOAT)),
            (B::Sub, TyKind::Float, TyKind::Float) => Some((BinOp::SubFloat, TyId::FLOAT)),
            (B::Mul, TyKind::Float, TyKind::Float) => Some((BinOp::MulFloat, TyId::FLOAT)),
            (B::Div, TyKind::Float, TyKind::Float) => Some((BinOp::DivFloat, TyId::FLOAT)),
            (B::Rem, TyKind::Float, TyKind::Float) => Some((BinOp::RemFloat, TyId::FLOAT)),
            (B::Add, TyKind::String, TyKind::String) => Some((BinOp::Concat, TyId::STRING)),
            (B::Add, TyKind::Array(x), TyKind::Array(y)) => {
                let ty = if self.types.assignable(r.ty, l.ty) {
                    l.ty
                } else if self.types.assignable(l.ty, r.ty) {
                    r.ty
                } else {
                    let u = self.types.union(&[*x, *y]);
                    self.types.array(u)
                };
                Some((BinOp::ConcatArray, ty))
            }
            (B::Add, TyKind::Duration, TyKind::Duration) => {
                Some((BinOp::AddDuration, TyId::DURATION))
            }
            (B::Mul, TyKind::Duration, TyKind::Int) => {
                Some((BinOp::MulDurationInt, TyId::DURATION))
            }
            (B::Mul, TyKind::Duration, TyKind::Float) => {
                Some((BinOp::MulDurationFloat, TyId::DURATION))
            }
            (B::Div, TyKind::Duration, TyKind::Int) => {
                Some((BinOp::DivDurationInt, TyId::DURATION))
            }
            _ => None,
        };
        match res {
            Some((bop, ty)) => tir::Expr {
                kind: ExprKind::Binary(bop, Box::new(l), Box::new(r)),
                ty,
                span,
            },
            None => {
                self.operator_mismatch(op, l.ty, r.ty, span);
                tir::Expr {
                    kind: ExprKind::Binary(BinOp::AddInt, Box::new(l), Box::new(r)),
                    ty: TyId::NEVER,
                    span,
                }
            }
        }
    }

    fn is_numeric_pair(&self, a: TyId, b: TyId) -> bool {
        matches!(
            (self.types.kind(a), self.types.kind(b)),
            (TyKind::Int, TyKind::Float) | (TyKind::Float, TyKind::Int)
        )
    }

    fn operator_mismatch(&mut self, op: ast::BinOp, l: TyId, r: TyId, span: Span) {
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            span,
            format!(
                "operator `{}` cannot be applied to `{}` and `{}`",
                op.text(),
                self.show(l),
                self.show(r)
            ),
        );
        if self.is_numeric_pair(l, r) {
            d = d.with_help(
                "int and float are not mixed implicitly; convert with `<float>x` or `<int>x`",
            );
        } else if self.types.has_nil(l) || self.types.has_nil(r) {
            d = d.with_help("a value that may be `()` must be tested first (`if x != () { ... }`) or given a default (`x ?: 0`)");
        }
        self.report(d);
    }

    /// Whether `==` may compare values of these types: one is assignable to
    /// the other, or they overlap.
    pub(crate) fn comparable(&mut self, a: TyId, b: TyId) -> bool {
        if self.is_poison(a) || self.is_poison(b) {
            return true;
        }
        if self.types.assignable(a, b) || self.types.assignable(b, a) {
            return true;
        }
        self.types.intersect(a, b) != TyId::NEVER || self.types.intersect(b, a) != TyId::NEVER
    }

    /// `<T>x`.
    pub(crate) fn cast(&mut self, t: &ast::TypeExpr, x: &ast::Expr, span: Span) -> tir::Expr {
        let target = self.resolve_type(t);
        let hint = if self.is_poison(target) {
            None
        } else {
            Some(target)
        };
        let v = self.expr(x, hint);
        let mk = |k: CastKind, v: tir::Expr| tir::Expr {
            kind: ExprKind::Cast(k, Box::new(v)),
            ty: target,
            span,
        };
        if self.is_poison(target) || self.is_poison(v.ty) {
            return mk(CastKind::Identity, v);
        }
        let v = if self.types.has_error(target) {
            v
        } else {
            self.no_error(v, "the operand of a cast")
        };
        match (self.types.kind(v.ty), self.types.kind(target)) {
            (TyKind::Int, TyKind::Float) => return mk(CastKind::IntToFloat, v),
            (TyKind::Float, TyKind::Int) => return mk(CastKind::FloatToInt, v),
            _ => {}
        }
        if self.types.assignable(v.ty, target) {
            return mk(CastKind::Identity, v);
        }
        if self.types.intersect(v.ty, target) != TyId::NEVER {
            return mk(CastKind::Downcast(target), v);
        }
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            span,
            format!(
                "cannot convert `{}` to `{}`",
                self.show(v.ty),
                self.show(target)
            ),
        );
        if matches!(self.types.kind(v.ty), TyKind::String) {
            d = d.with_help("parse text with `int:fromString(s)` or `float:fromString(s)`");
        }
        self.report(d);
        mk(CastKind::Identity, v)
    }
}
