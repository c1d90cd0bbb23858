//! Calls: declared functions (named arguments reordered into parameter
//! order, defaults, rest and named-rest packing, `@numeric`), function
//! values, error constructors and the lang-library functions
//! `int:fromString` / `float:fromString`.

use super::checker::{Checker, FnSig, ItemRef};
use super::expr::{is_lang_module, LocalRef};
use super::tir::{self, Callee, ExprKind, FuncId, Method};
use super::types::{ErrorId, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Name, ParamKind};
use crate::syntax::span::Span;

impl Checker {
    /// Reports a positional argument after a named one (and checks it).
    pub(crate) fn positional_after_named(&mut self, a: &ast::Arg) {
        self.report(
            Diagnostic::new(
                Code::Arity,
                a.value.span,
                "a positional argument cannot follow a named argument",
            )
            .with_help("put positional arguments first"),
        );
        let _ = self.expr(&a.value, None);
    }

    /// Reports a named argument given twice (and checks its value).
    pub(crate) fn argument_twice(&mut self, id: &ast::Ident, a: &ast::Arg) {
        self.report(Diagnostic::new(
            Code::Arity,
            id.span,
            format!("argument `{}` is given twice", id.name),
        ));
        let _ = self.expr(&a.value, None);
    }

    /// `f(args)`.
    pub(crate) fn call_expr(
        &mut self,
        callee: &ast::Expr,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        match &callee.kind {
            ast::ExprKind::Name(id) => {
                if let Some((r, ty)) = self.lookup_local(&id.name) {
                    let kind = match r {
                        LocalRef::Local(l) => ExprKind::Local(l),
                        LocalRef::Upvalue(i, ..) => ExprKind::Upvalue(i),
                    };
                    let f = tir::Expr {
                        kind,
                        ty,
                        span: callee.span,
                    };
                    return self.value_call(f, &id.name, args, span);
                }
                let m = self.module();
                match self.modules[m].items.get(&id.name).map(|e| e.item) {
                    Some(item) => self.item_call(item, id, callee.span, args, span),
                    None => {
                        let mut d = Diagnostic::new(
                            Code::UnknownName,
                            id.span,
                            format!("unknown function `{}`", id.name),
                        )
                        .with_primary("not declared in this scope");
                        if let Some(h) = self.unknown_name_help(&id.name) {
                            d = d.with_help(h);
                        }
                        self.report(d);
                        self.skip_args(args);
                        Checker::poison(span)
                    }
                }
            }
            ast::ExprKind::Qualified(md, n) => {
                if is_lang_module(&md.name) {
                    return self.lang_call(md, n, callee.span, args, span);
                }
                match self.qualified_item(md, n, callee.span) {
                    Some((item, _)) => self.item_call(item, n, callee.span, args, span),
                    None => {
                        self.skip_args(args);
                        Checker::poison(span)
                    }
                }
            }
            ast::ExprKind::Field {
                target,
                name,
                optional: true,
            } => self.optional_method_call(target, name, args, span, expected),
            _ => {
                let f = self.expr(callee, None);
                self.value_call(f, "this expression", args, span)
            }
        }
    }

    /// Checks arguments only for their own errors (after a failed callee).
    pub(crate) fn skip_args(&mut self, args: &[ast::Arg]) {
        for a in args {
            let _ = self.expr(&a.value, None);
        }
    }

    fn item_call(
        &mut self,
        item: ItemRef,
        name: &Ident,
        callee_span: Span,
        args: &[ast::Arg],
        span: Span,
    ) -> tir::Expr {
        match item {
            ItemRef::Func(f) => self.direct_call(f, callee_span, args, span),
            ItemRef::Global(g) => {
                let f = tir::Expr {
                    kind: ExprKind::Global(g),
                    ty: self.globals[g.0 as usize].ty,
                    span: callee_span,
                };
                self.value_call(f, &name.name, args, span)
            }
            ItemRef::Type(idx) => {
                let t = self.ensure_type_decl(idx);
                match self.types.kind(t) {
                    TyKind::Error(e) => {
                        let e: ErrorId = *e;
                        self.error_ctor(e, t, args, span, callee_span)
                    }
                    TyKind::Never => {
                        self.skip_args(args);
                        Checker::poison(span)
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(
                                Code::NotCallable,
                                callee_span,
                                format!("`{}` is a type, not a function", name.name),
                            )
                            .with_help("build a record with a literal `{ field: value }`, or convert with `cloneWithType`"),
                        );
                        self.skip_args(args);
                        Checker::poison(span)
                    }
                }
            }
        }
    }

    /// A call through a function value.
    fn value_call(&mut self, f: tir::Expr, name: &str, args: &[ast::Arg], span: Span) -> tir::Expr {
        let f = self.no_error(f, "a function");
        if self.is_poison(f.ty) {
            self.skip_args(args);
            return Checker::poison(span);
        }
        let TyKind::Function(ft) = self.kind(f.ty) else {
            self.report(
                Diagnostic::new(
                    Code::NotCallable,
                    f.span,
                    format!(
                        "`{name}` is not a function; it has type `{}`",
                        self.show(f.ty)
                    ),
                )
                .with_primary("this is not a function"),
            );
            self.skip_args(args);
            return Checker::poison(span);
        };
        let mut out: Vec<Option<tir::Expr>> = Vec::with_capacity(ft.params.len() + 1);
        let mut rest = Vec::new();
        let mut positional = 0usize;
        let mut arity_reported = false;
        for a in args {
            if let Some(n) = &a.name {
                if !arity_reported {
                    self.report(
                        Diagnostic::new(
                            Code::Arity,
                            f.span,
                            format!("named argument `{}` in a call of a function value", n.name),
                        )
                        .with_help("function values take positional arguments only"),
                    );
                    arity_reported = true;
                }
                let _ = self.expr(&a.value, None);
                continue;
            }
            if positional < ft.params.len() {
                let pt = ft.params[positional];
                let v = self.expr(&a.value, Some(pt));
                out.push(Some(self.coerce(v, pt)));
            } else if let Some(rt) = ft.rest {
                let v = self.expr(&a.value, Some(rt));
                rest.push(self.coerce(v, rt));
            } else {
                if !arity_reported {
                    self.report(Diagnostic::new(
                        Code::Arity,
                        f.span,
                        format!(
                            "too many arguments: `{name}` takes {} but {} were given",
                            ft.params.len(),
                            args.len()
                        ),
                    ));
                    arity_reported = true;
                }
                let _ = self.expr(&a.value, None);
            }
            positional += 1;
        }
        if positional < ft.params.len() && !arity_reported {
            self.report(Diagnostic::new(
                Code::Arity,
                f.span,
                format!(
                    "missing arguments: `{name}` takes {} but {} were given",
                    ft.params.len(),
                    positional
                ),
            ));
        }
        while out.len() < ft.params.len() {
            out.push(Some(Checker::poison(span)));
        }
        if let Some(rt) = ft.rest {
            let ty = self.types.array(rt);
            out.push(Some(tir::Expr {
                kind: ExprKind::Array(rest),
                ty,
                span,
            }));
        }
        tir::Expr {
            kind: ExprKind::Call(Callee::Value(Box::new(f)), out),
            ty: ft.ret,
            span,
        }
    }

    /// A call of a declared function.
    pub(crate) fn direct_call(
        &mut self,
        fid: FuncId,
        callee_span: Span,
        args: &[ast::Arg],
        span: Span,
    ) -> tir::Expr {
        let Some(sig) = self.sigs[fid.0 as usize].clone() else {
            self.skip_args(args);
            return Checker::poison(span);
        };
        let (slots, ret) = self.bind_args(&sig, callee_span, args, span);
        tir::Expr {
            kind: ExprKind::Call(Callee::Func(fid), slots),
            ty: ret,
            span,
        }
    }

    /// Matches arguments to parameters; returns the arguments in parameter
    /// order and the call's result type.
    fn bind_args(
        &mut self,
        sig: &FnSig,
        callee_span: Span,
        args: &[ast::Arg],
        span: Span,
    ) -> (Vec<Option<tir::Expr>>, TyId) {
        let n = sig.params.len();
        let mut slots: Vec<Option<tir::Expr>> = vec![None; n];
        let mut rest_items: Vec<tir::Expr> = Vec::new();
        let mut named_rest: Vec<(Name, tir::Expr)> = Vec::new();
        let rest_idx = sig.params.iter().position(|p| p.kind == ParamKind::Rest);
        let named_rest_idx = sig
            .params
            .iter()
            .position(|p| p.kind == ParamKind::NamedRest);
        let normal: Vec<usize> = (0..n)
            .filter(|i| sig.params[*i].kind == ParamKind::Normal)
            .collect();
        let short = short_name(&sig.name);
        let mut next_pos = 0usize;
        let mut seen_named = false;
        let mut too_many = false;
        let mut positional_count = 0usize;
        for a in args {
            match &a.name {
                None => {
                    positional_count += 1;
                    if seen_named {
                        self.positional_after_named(a);
                        continue;
                    }
                    if next_pos < normal.len() {
                        let pi = normal[next_pos];
                        next_pos += 1;
                        let pt = sig.params[pi].ty;
                        let v = self.expr(&a.value, Some(pt));
                        slots[pi] = Some(self.coerce(v, pt));
                    } else if let Some(ri) = rest_idx {
                        let et = sig.params[ri].ty;
                        let v = self.expr(&a.value, Some(et));
                        rest_items.push(self.coerce(v, et));
                    } else {
                        too_many = true;
                        let _ = self.expr(&a.value, None);
                    }
                }
                Some(id) => {
                    seen_named = true;
                    let pi = normal
                        .iter()
                        .copied()
                        .find(|i| sig.params[*i].name == id.name);
                    match pi {
                        Some(pi) if slots[pi].is_some() => self.argument_twice(id, a),
                        Some(pi) => {
                            let pt = sig.params[pi].ty;
                            let v = self.expr(&a.value, Some(pt));
                            slots[pi] = Some(self.coerce(v, pt));
                        }
                        None => match named_rest_idx {
                            Some(ni) => {
                                let et = match self.types.kind(sig.params[ni].ty) {
                                    TyKind::Map(e) => *e,
                                    _ => TyId::NEVER,
                                };
                                let v = self.expr(&a.value, Some(et));
                                let v = self.coerce(v, et);
                                named_rest.push((id.name.clone(), v));
                            }
                            None => {
                                let names: Vec<String> = normal
                                    .iter()
                                    .map(|i| format!("`{}`", sig.params[*i].name))
                                    .collect();
                                let help = if names.is_empty() {
                                    format!("`{short}` takes no named arguments")
                                } else {
                                    format!("its parameters are {}", names.join(", "))
                                };
                                self.report(
                                    Diagnostic::new(
                                        Code::Arity,
                                        callee_span,
                                        format!("`{short}` has no parameter named `{}`", id.name),
                                    )
                                    .with_label(id.span, "unknown parameter")
                                    .with_help(help),
                                );
                                let _ = self.expr(&a.value, None);
                            }
                        },
                    }
                }
            }
        }
        if too_many {
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    callee_span,
                    format!(
                        "too many arguments: `{short}` takes {} but {} were given",
                        plural_args(normal.len()),
                        positional_count
                    ),
                )
                .with_primary("called with too many arguments"),
            );
        }
        let missing: Vec<String> = normal
            .iter()
            .filter(|i| slots[**i].is_none() && !sig.params[**i].has_default)
            .map(|i| format!("`{}`", sig.params[*i].name))
            .collect();
        if !missing.is_empty() {
            let s = if missing.len() == 1 { "" } else { "s" };
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    callee_span,
                    format!(
                        "missing argument{s} {} in a call of `{short}`",
                        missing.join(", ")
                    ),
                )
                .with_primary(format!("`{short}` takes {}", plural_args(normal.len()))),
            );
            for i in &normal {
                if slots[*i].is_none() && !sig.params[*i].has_default {
                    slots[*i] = Some(Checker::poison(span));
                }
            }
        }
        if let Some(ri) = rest_idx {
            let ty = self.types.array(sig.params[ri].ty);
            slots[ri] = Some(tir::Expr {
                kind: ExprKind::Array(rest_items),
                ty,
                span,
            });
        }
        if let Some(ni) = named_rest_idx {
            slots[ni] = Some(tir::Expr {
                kind: ExprKind::Map(named_rest),
                ty: sig.params[ni].ty,
                span,
            });
        }
        if let Some(defaults) = &sig.native_defaults {
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot.is_none() {
                    if let Some(Some(d)) = defaults.get(i) {
                        let mut d = d.clone();
                        d.span = span;
                        *slot = Some(d);
                    }
                }
            }
        }
        let ret = if sig.numeric {
            self.numeric_result(sig, &slots)
        } else {
            sig.ret
        };
        (slots, ret)
    }

    /// `@numeric`: every `int|float` argument must have the same numeric
    /// type, which replaces `int|float` in the result.
    fn numeric_result(&mut self, sig: &FnSig, slots: &[Option<tir::Expr>]) -> TyId {
        let num = self.types.union(&[TyId::INT, TyId::FLOAT]);
        let mut chosen: Option<TyId> = None;
        for (p, a) in sig.params.iter().zip(slots) {
            if p.ty != num {
                continue;
            }
            let Some(a) = a else { continue };
            if self.is_poison(a.ty) {
                return TyId::NEVER;
            }
            let k = match self.types.kind(a.ty) {
                TyKind::Int => TyId::INT,
                TyKind::Float => TyId::FLOAT,
                _ => {
                    self.report(Diagnostic::new(
                        Code::TypeMismatch,
                        a.span,
                        format!(
                            "expected an `int` or a `float`, found `{}`",
                            self.show(a.ty)
                        ),
                    ));
                    return TyId::NEVER;
                }
            };
            match chosen {
                None => chosen = Some(k),
                Some(c) if c != k => {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            a.span,
                            format!(
                                "all arguments of `{}` must have the same numeric type: expected `{}`, found `{}`",
                                short_name(&sig.name),
                                self.show(c),
                                self.show(k)
                            ),
                        )
                        .with_help("convert with `<float>x` or `<int>x`"),
                    );
                    return TyId::NEVER;
                }
                Some(_) => {}
            }
        }
        if sig.ret == num {
            chosen.unwrap_or(TyId::NEVER)
        } else {
            sig.ret
        }
    }

    /// `error("msg", k = v, cause = e)` or `NotFound("msg", ...)`.
    pub(crate) fn error_ctor(
        &mut self,
        error: ErrorId,
        ty: TyId,
        args: &[ast::Arg],
        span: Span,
        callee_span: Span,
    ) -> tir::Expr {
        let mut message: Option<tir::Expr> = None;
        let mut cause: Option<tir::Expr> = None;
        let mut detail: Vec<(Name, tir::Expr)> = Vec::new();
        let cause_ty = self.types.optional(TyId::ERROR);
        for a in args {
            match &a.name {
                None => {
                    if message.is_some() || !detail.is_empty() || cause.is_some() {
                        self.report(
                            Diagnostic::new(
                                Code::Arity,
                                callee_span,
                                "an error constructor takes one positional argument (the message)",
                            )
                            .with_label(a.value.span, "extra argument")
                            .with_help(
                                "give details as named arguments: `error(\"msg\", key = value)`",
                            ),
                        );
                        let _ = self.expr(&a.value, None);
                        continue;
                    }
                    let v = self.expr(&a.value, Some(TyId::STRING));
                    message = Some(self.coerce(v, TyId::STRING));
                }
                Some(id) if &*id.name == "cause" => {
                    let v = self.expr(&a.value, Some(cause_ty));
                    cause = Some(self.coerce(v, cause_ty));
                }
                Some(id) => {
                    if detail.iter().any(|(k, _)| *k == id.name) {
                        self.error(
                            Code::Arity,
                            id.span,
                            format!("argument `{}` is given twice", id.name),
                        );
                    }
                    let v = self.expr(&a.value, Some(TyId::ANY));
                    let v = self.coerce(v, TyId::ANY);
                    detail.push((id.name.clone(), v));
                }
            }
        }
        let message = match message {
            Some(m) => m,
            None => {
                self.report(
                    Diagnostic::new(Code::Arity, callee_span, "missing the error message")
                        .with_help("write `error(\"what went wrong\")`"),
                );
                Checker::poison(span)
            }
        };
        tir::Expr {
            kind: ExprKind::ErrorNew {
                error,
                message: Box::new(message),
                cause: cause.map(Box::new),
                detail,
            },
            ty,
            span,
        }
    }

    /// `int:fromString(s)` and `float:fromString(s)`.
    fn lang_call(
        &mut self,
        md: &Ident,
        n: &Ident,
        callee_span: Span,
        args: &[ast::Arg],
        span: Span,
    ) -> tir::Expr {
        let (method, res) = match (&*md.name, &*n.name) {
            ("int", "fromString") => (Method::IntFromString, TyId::INT),
            ("float", "fromString") => (Method::FloatFromString, TyId::FLOAT),
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        callee_span,
                        format!("unknown function `{}:{}`", md.name, n.name),
                    )
                    .with_help(format!(
                        "`{}:fromString(s)` is the only function of `{}`",
                        md.name, md.name
                    )),
                );
                self.skip_args(args);
                return Checker::poison(span);
            }
        };
        let positional: Vec<&ast::Arg> = args.iter().filter(|a| a.name.is_none()).collect();
        if positional.len() != 1 || positional.len() != args.len() {
            self.report(Diagnostic::new(
                Code::Arity,
                callee_span,
                format!("`{}:fromString` takes one argument (a string)", md.name),
            ));
            self.skip_args(args);
            return Checker::poison(span);
        }
        let v = self.expr(&positional[0].value, Some(TyId::STRING));
        let v = self.coerce(v, TyId::STRING);
        let ty = self.types.union(&[res, TyId::ERROR]);
        tir::Expr {
            kind: ExprKind::Method(method, vec![v]),
            ty,
            span,
        }
    }
}

/// The unqualified part of a function name.
fn short_name(n: &str) -> &str {
    n.rsplit(':').next().unwrap_or(n)
}

fn plural_args(n: usize) -> String {
    if n == 1 {
        "1 argument".into()
    } else {
        format!("{n} arguments")
    }
}
