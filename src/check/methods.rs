//! Lang-library methods (§7.6): receiver-type dispatch to [`Method`]
//! variants with the result types of the specification.

use super::checker::Checker;
use super::tir::{self, ExprKind, Method};
use super::types::{FnType, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident};
use crate::syntax::span::Span;

/// Which family of methods a receiver type has.
enum Recv {
    Str,
    Int,
    Float,
    Array(TyId),
    Map(TyId),
    Duration,
    Error,
    Other,
}

impl Checker {
    /// `x.m(args)`.
    pub(crate) fn method_call(
        &mut self,
        target: &ast::Expr,
        name: &Ident,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let recv = self.expr(target, None);
        self.method_on(recv, name, args, span, expected)
    }

    /// `x?.m(args)`: `()` when `x` is `()`, else the method's result.
    pub(crate) fn optional_method_call(
        &mut self,
        target: &ast::Expr,
        name: &Ident,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let t = self.expr(target, None);
        let t = self.no_error(t, "a method receiver");
        if self.is_poison(t.ty) {
            return self.method_on(t, name, args, span, expected);
        }
        self.optional_chain(t, span, |c, read| {
            c.method_on(read, name, args, span, expected)
        })
    }

    /// A method call on a checked receiver.
    fn method_on(
        &mut self,
        recv: tir::Expr,
        name: &Ident,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        if self.is_poison(recv.ty) {
            self.skip_args(args);
            return Checker::poison(span);
        }
        if let Some(a) = args.iter().find(|a| a.name.is_some()) {
            if let Some(n) = &a.name {
                self.report(Diagnostic::new(
                    Code::Arity,
                    n.span,
                    format!("method `{}` takes no named arguments", name.name),
                ));
            }
            self.skip_args(args);
            return Checker::poison(span);
        }
        let m = &*name.name;
        // Methods of every value.
        match m {
            "toString" => {
                self.method_arity(name, args, 0, 0);
                return self.mk_method(Method::ToString, vec![recv], TyId::STRING, span);
            }
            "toJsonString" => {
                self.method_arity(name, args, 0, 0);
                let recv = if matches!(self.recv_family(recv.ty), Recv::Error) {
                    recv
                } else {
                    self.no_error(recv, "a method receiver")
                };
                if !self.is_poison(recv.ty) && !self.types.is_json_compatible(recv.ty) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            recv.span,
                            format!("a value of type `{}` cannot be converted to JSON", self.show(recv.ty)),
                        )
                        .with_help("only json-compatible values (no durations, errors or functions) have a JSON form; use `toString()`"),
                    );
                }
                return self.mk_method(Method::ToJsonString, vec![recv], TyId::STRING, span);
            }
            "clone" => {
                self.method_arity(name, args, 0, 0);
                let recv = if matches!(self.recv_family(recv.ty), Recv::Error) {
                    recv
                } else {
                    self.no_error(recv, "a method receiver")
                };
                let ty = recv.ty;
                return self.mk_method(Method::Clone, vec![recv], ty, span);
            }
            "cloneWithType" => {
                let recv = self.no_error(recv, "a method receiver");
                if args.len() != 1 {
                    self.method_arity(name, args, 1, 1);
                    return Checker::poison(span);
                }
                let Some(t) = self.expr_as_type(&args[0].value) else {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, args[0].value.span, "`cloneWithType` needs a type")
                            .with_help("pass a type name, e.g. `j.cloneWithType(Order)` or `j.cloneWithType(int[])`"),
                    );
                    return Checker::poison(span);
                };
                if self.is_poison(t) {
                    return Checker::poison(span);
                }
                let ty = self.types.union(&[t, TyId::ERROR]);
                return self.mk_method(Method::CloneWithType(t), vec![recv], ty, span);
            }
            _ => {}
        }
        let family = self.recv_family(recv.ty);
        let recv = if matches!(family, Recv::Error) {
            recv
        } else {
            self.no_error(recv, "a method receiver")
        };
        let family = if matches!(family, Recv::Error) {
            family
        } else {
            self.recv_family(recv.ty)
        };
        let recv_ty = recv.ty;
        let res = match family {
            Recv::Str => self.string_method(m, name, recv, args, span),
            Recv::Int => match m {
                "abs" => {
                    self.method_arity(name, args, 0, 0);
                    Some(self.mk_method(Method::IntAbs, vec![recv], TyId::INT, span))
                }
                _ => None,
            },
            Recv::Float => {
                let (meth, ty) = match m {
                    "abs" => (Method::FloatAbs, TyId::FLOAT),
                    "round" => (Method::FloatRound, TyId::INT),
                    "floor" => (Method::FloatFloor, TyId::INT),
                    "ceil" => (Method::FloatCeil, TyId::INT),
                    "isNaN" => (Method::FloatIsNaN, TyId::BOOLEAN),
                    _ => return self.no_method(recv.ty, name, span),
                };
                self.method_arity(name, args, 0, 0);
                Some(self.mk_method(meth, vec![recv], ty, span))
            }
            Recv::Array(e) => self.array_method(m, name, recv, e, args, span, expected),
            Recv::Map(v) => self.map_method(m, name, recv, v, args, span),
            Recv::Duration => {
                let (meth, ty) = match m {
                    "milliseconds" => (Method::DurMilliseconds, TyId::INT),
                    "seconds" => (Method::DurSeconds, TyId::FLOAT),
                    _ => return self.no_method(recv.ty, name, span),
                };
                self.method_arity(name, args, 0, 0);
                Some(self.mk_method(meth, vec![recv], ty, span))
            }
            Recv::Error => {
                let (meth, ty) = match m {
                    "message" => (Method::ErrMessage, TyId::STRING),
                    "detail" => (Method::ErrDetail, self.types.map(TyId::ANY)),
                    "cause" => (Method::ErrCause, self.types.optional(TyId::ERROR)),
                    _ => return self.no_method(recv.ty, name, span),
                };
                self.method_arity(name, args, 0, 0);
                Some(self.mk_method(meth, vec![recv], ty, span))
            }
            Recv::Other => self.future_method(recv, name, args, span),
        };
        match res {
            Some(e) => e,
            None => {
                self.skip_args(args);
                self.no_method(recv_ty, name, span)
            }
        }
    }

    fn recv_family(&self, t: TyId) -> Recv {
        match self.types.kind(t) {
            TyKind::String => Recv::Str,
            TyKind::Int => Recv::Int,
            TyKind::Float => Recv::Float,
            TyKind::Array(e) => Recv::Array(*e),
            TyKind::Map(v) => Recv::Map(*v),
            TyKind::Duration => Recv::Duration,
            TyKind::Error(_) => Recv::Error,
            TyKind::Union(ms) => {
                if ms
                    .iter()
                    .all(|m| matches!(self.types.kind(*m), TyKind::Error(_)))
                {
                    Recv::Error
                } else {
                    Recv::Other
                }
            }
            _ => Recv::Other,
        }
    }

    fn no_method(&mut self, recv: TyId, name: &Ident, span: Span) -> tir::Expr {
        if self.is_poison(recv) {
            return Checker::poison(span);
        }
        let mut d = Diagnostic::new(
            Code::UnknownField,
            name.span,
            format!(
                "a value of type `{}` has no method `{}`",
                self.show(recv),
                name.name
            ),
        );
        if matches!(
            self.types.kind(recv),
            TyKind::Union(_) | TyKind::Json | TyKind::Any
        ) {
            d = d.with_help("narrow the value first with `if x is T { ... }`; every value has `toString()`, `toJsonString()`, `clone()` and `cloneWithType(T)`");
        }
        self.report(d);
        Checker::poison(span)
    }

    fn mk_method(&mut self, m: Method, args: Vec<tir::Expr>, ty: TyId, span: Span) -> tir::Expr {
        tir::Expr {
            kind: ExprKind::Method(m, args),
            ty,
            span,
        }
    }

    /// Reports a wrong number of method arguments; returns whether it was right.
    fn method_arity(&mut self, name: &Ident, args: &[ast::Arg], min: usize, max: usize) -> bool {
        if args.len() >= min && args.len() <= max {
            return true;
        }
        let want = if min == max {
            match min {
                0 => "no arguments".to_string(),
                1 => "1 argument".to_string(),
                n => format!("{n} arguments"),
            }
        } else {
            format!("{min} or {max} arguments")
        };
        self.report(Diagnostic::new(
            Code::Arity,
            name.span,
            format!("`{}` takes {want} but {} were given", name.name, args.len()),
        ));
        false
    }

    /// Checks the method's ordinary arguments against parameter types; an
    /// absent optional trailing argument becomes `()`.
    fn method_args(
        &mut self,
        name: &Ident,
        args: &[ast::Arg],
        params: &[TyId],
        min: usize,
        span: Span,
    ) -> Option<Vec<tir::Expr>> {
        if !self.method_arity(name, args, min, params.len()) {
            self.skip_args(args);
            return None;
        }
        let mut out = Vec::with_capacity(params.len());
        for (i, pt) in params.iter().enumerate() {
            match args.get(i) {
                Some(a) => {
                    let v = self.expr(&a.value, Some(*pt));
                    out.push(self.coerce(v, *pt));
                }
                None => out.push(Checker::nil_lit(span)),
            }
        }
        Some(out)
    }

    fn string_method(
        &mut self,
        m: &str,
        name: &Ident,
        recv: tir::Expr,
        args: &[ast::Arg],
        span: Span,
    ) -> Option<tir::Expr> {
        let s = TyId::STRING;
        let i = TyId::INT;
        let (meth, params, min, ty): (Method, Vec<TyId>, usize, TyId) = match m {
            "length" => (Method::StrLength, vec![], 0, i),
            "toUpper" => (Method::StrToUpper, vec![], 0, s),
            "toLower" => (Method::StrToLower, vec![], 0, s),
            "trim" => (Method::StrTrim, vec![], 0, s),
            "split" => (Method::StrSplit, vec![s], 1, self.types.array(s)),
            "contains" => (Method::StrContains, vec![s], 1, TyId::BOOLEAN),
            "startsWith" => (Method::StrStartsWith, vec![s], 1, TyId::BOOLEAN),
            "endsWith" => (Method::StrEndsWith, vec![s], 1, TyId::BOOLEAN),
            "substring" => {
                let oi = self.types.optional(i);
                (Method::StrSubstring, vec![i, oi], 1, s)
            }
            "indexOf" => (Method::StrIndexOf, vec![s], 1, self.types.optional(i)),
            "replace" => (Method::StrReplace, vec![s, s], 2, s),
            "fromJsonString" => (
                Method::StrFromJsonString,
                vec![],
                0,
                self.types.union(&[TyId::JSON, TyId::ERROR]),
            ),
            "repeat" => (Method::StrRepeat, vec![i], 1, s),
            _ => return None,
        };
        let Some(mut a) = self.method_args(name, args, &params, min, span) else {
            return Some(Checker::poison(span));
        };
        a.insert(0, recv);
        Some(self.mk_method(meth, a, ty, span))
    }

    fn map_method(
        &mut self,
        m: &str,
        name: &Ident,
        recv: tir::Expr,
        v: TyId,
        args: &[ast::Arg],
        span: Span,
    ) -> Option<tir::Expr> {
        let s = TyId::STRING;
        let (meth, params, ty): (Method, Vec<TyId>, TyId) = match m {
            "length" => (Method::MapLength, vec![], TyId::INT),
            "keys" => (Method::MapKeys, vec![], self.types.array(s)),
            "values" => (Method::MapValues, vec![], self.types.array(v)),
            "hasKey" => (Method::MapHasKey, vec![s], TyId::BOOLEAN),
            "get" => (Method::MapGet, vec![s], self.types.optional(v)),
            "remove" => (Method::MapRemove, vec![s], self.types.optional(v)),
            _ => return None,
        };
        let n = params.len();
        let Some(mut a) = self.method_args(name, args, &params, n, span) else {
            return Some(Checker::poison(span));
        };
        a.insert(0, recv);
        Some(self.mk_method(meth, a, ty, span))
    }

    #[allow(clippy::too_many_arguments)]
    fn array_method(
        &mut self,
        m: &str,
        name: &Ident,
        recv: tir::Expr,
        e: TyId,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> Option<tir::Expr> {
        let arr = recv.ty;
        let i = TyId::INT;
        let simple: Option<(Method, Vec<TyId>, usize, TyId)> = match m {
            "length" => Some((Method::ArrLength, vec![], 0, i)),
            "push" => Some((Method::ArrPush, vec![e], 1, TyId::NIL)),
            "pop" => Some((Method::ArrPop, vec![], 0, self.types.optional(e))),
            "slice" => {
                let oi = self.types.optional(i);
                Some((Method::ArrSlice, vec![i, oi], 1, arr))
            }
            "indexOf" => Some((Method::ArrIndexOf, vec![e], 1, self.types.optional(i))),
            "contains" => Some((Method::ArrContains, vec![e], 1, TyId::BOOLEAN)),
            "reverse" => Some((Method::ArrReverse, vec![], 0, arr)),
            "join" => {
                if !matches!(self.types.kind(e), TyKind::String) && !self.is_poison(e) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            recv.span,
                            format!("`join` needs a `string[]`, found `{}`", self.show(arr)),
                        )
                        .with_help("convert the elements first, e.g. `xs.map(x => x.toString()).join(\", \")`"),
                    );
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                Some((Method::ArrJoin, vec![TyId::STRING], 1, TyId::STRING))
            }
            _ => None,
        };
        if let Some((meth, params, min, ty)) = simple {
            let Some(mut a) = self.method_args(name, args, &params, min, span) else {
                return Some(Checker::poison(span));
            };
            a.insert(0, recv);
            return Some(self.mk_method(meth, a, ty, span));
        }
        match m {
            "sort" => {
                if !self.method_arity(name, args, 0, 1) {
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                if args.is_empty() {
                    if !self.is_ordered(e) && !self.is_poison(e) {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                recv.span,
                                format!("`sort()` needs elements of type int, float, string or duration, found `{}`", self.show(e)),
                            )
                            .with_help("sort by a key instead: `xs.sort(x => x.field)`"),
                        );
                    }
                    return Some(self.mk_method(Method::ArrSort, vec![recv], arr, span));
                }
                let f = self.fn_arg(&args[0].value, &[e], None);
                let key = fn_ret(self, &f);
                if let Some(k) = key {
                    if !self.is_ordered(k) && !self.is_poison(k) {
                        self.report(Diagnostic::new(
                            Code::TypeMismatch,
                            args[0].value.span,
                            format!(
                                "a sort key must be int, float, string or duration, found `{}`",
                                self.show(k)
                            ),
                        ));
                    }
                }
                Some(self.mk_method(Method::ArrSortBy, vec![recv, f], arr, span))
            }
            "map" => {
                if !self.method_arity(name, args, 1, 1) {
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                let hint = expected.and_then(|t| match self.types.kind(t) {
                    TyKind::Array(r) => Some(*r),
                    _ => None,
                });
                let f = self.fn_arg(&args[0].value, &[e], hint.filter(|h| !self.is_poison(*h)));
                let ty = match fn_ret(self, &f) {
                    Some(r) if !self.is_poison(r) => self.types.array(r),
                    _ => TyId::NEVER,
                };
                Some(self.mk_method(Method::ArrMap, vec![recv, f], ty, span))
            }
            "filter" | "some" | "every" => {
                if !self.method_arity(name, args, 1, 1) {
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                let f = self.fn_arg(&args[0].value, &[e], Some(TyId::BOOLEAN));
                let (meth, ty) = match m {
                    "filter" => (Method::ArrFilter, arr),
                    "some" => (Method::ArrSome, TyId::BOOLEAN),
                    _ => (Method::ArrEvery, TyId::BOOLEAN),
                };
                Some(self.mk_method(meth, vec![recv, f], ty, span))
            }
            "forEach" => {
                if !self.method_arity(name, args, 1, 1) {
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                let f = self.fn_arg(&args[0].value, &[e], None);
                Some(self.mk_method(Method::ArrForEach, vec![recv, f], TyId::NIL, span))
            }
            "reduce" => {
                if !self.method_arity(name, args, 2, 2) {
                    self.skip_args(args);
                    return Some(Checker::poison(span));
                }
                let init = self.expr(&args[1].value, expected);
                let init = self.no_error(init, "the initial value of `reduce`");
                let acc = init.ty;
                if self.is_poison(acc) {
                    let _ = self.expr(&args[0].value, None);
                    return Some(Checker::poison(span));
                }
                let f = self.fn_arg(&args[0].value, &[acc, e], Some(acc));
                Some(self.mk_method(Method::ArrReduce, vec![recv, f, init], acc, span))
            }
            _ => None,
        }
    }

    /// A function argument of a higher-order method: arrow functions get
    /// their parameter types from `params`; the result is checked against
    /// `ret` when given (else inferred).
    fn fn_arg(&mut self, a: &ast::Expr, params: &[TyId], ret: Option<TyId>) -> tir::Expr {
        if let ast::ExprKind::Arrow(ps, body) = &a.kind {
            if ps.len() != params.len() {
                self.report(Diagnostic::new(
                    Code::Arity,
                    a.span,
                    format!(
                        "this function must take {} parameter{}",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                ));
                return Checker::poison(a.span);
            }
            return self.arrow_with(ps, body, a.span, params.to_vec(), ret);
        }
        let hint = ret.map(|r| {
            self.types.function(FnType {
                params: params.to_vec(),
                rest: None,
                ret: r,
            })
        });
        let f = self.expr(a, hint);
        let f = self.no_error(f, "a function argument");
        if self.is_poison(f.ty) {
            return f;
        }
        let ok = match self.kind(f.ty) {
            TyKind::Function(ft) => {
                ft.params.len() == params.len()
                    && ft
                        .params
                        .iter()
                        .zip(params)
                        .all(|(fp, p)| self.types.assignable(*p, *fp))
                    && ret.is_none_or(|r| self.types.assignable(ft.ret, r))
            }
            _ => false,
        };
        if !ok {
            let want: Vec<String> = params.iter().map(|p| self.show(*p)).collect();
            let r = ret
                .map(|r| format!(" returns {}", self.show(r)))
                .unwrap_or_default();
            self.report(Diagnostic::new(
                Code::TypeMismatch,
                f.span,
                format!(
                    "expected a `function({}){r}`, found `{}`",
                    want.join(", "),
                    self.show(f.ty)
                ),
            ));
            return Checker::poison(f.span);
        }
        f
    }
}

/// The return type of a checked function-valued expression.
fn fn_ret(c: &Checker, f: &tir::Expr) -> Option<TyId> {
    if c.is_poison(f.ty) {
        return Some(TyId::NEVER);
    }
    match c.types.kind(f.ty) {
        TyKind::Function(ft) => Some(ft.ret),
        _ => None,
    }
}
