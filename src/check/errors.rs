//! The static error rules of §8.4 and value compatibility: `unhandled-error`
//! (values that may be errors used where no error is expected),
//! `check-without-handler`, `error-type-mismatch`, and `type-mismatch` for
//! ordinary assignability.

use super::checker::Checker;
use super::scope::Origin;
use super::tir::{self, Capture, ExprKind, LocalId, Method};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::Name;
use crate::syntax::span::Span;

const HANDLE_HELP: &str = "handle the error first: `check` passes it to the caller, `checkpanic` panics on it, or test it with `if x is error { ... }`";

impl Checker {
    /// The call in `x` whose result may be an error: `x` itself when it is
    /// a call, or the call inside `x?.m()`.
    pub(crate) fn error_call(&mut self, x: &tir::Expr) -> Option<Origin> {
        if self.is_poison(x.ty) || !self.types.has_error(x.ty) {
            return None;
        }
        let call = match &x.kind {
            ExprKind::Call(..) | ExprKind::Method(..) => x,
            ExprKind::OptionalChain { access, .. }
                if matches!(access.kind, ExprKind::Call(..) | ExprKind::Method(..)) =>
            {
                access
            }
            _ => return None,
        };
        let callee = self.callee_name(call);
        let errors = self.types.only_errors(x.ty);
        Some(Origin {
            span: x.span,
            callee,
            errors,
        })
    }

    /// The name of the function or method a call expression calls, if it
    /// has one.
    fn callee_name(&self, call: &tir::Expr) -> Option<Name> {
        match &call.kind {
            ExprKind::Call(tir::Callee::Func(f), _) => self
                .remote_names
                .get(&call.span)
                .cloned()
                .or_else(|| self.func_name(*f)),
            ExprKind::Call(tir::Callee::Value(v), _) => self.value_name(v),
            ExprKind::Method(m, _) => Some(method_name(*m).into()),
            _ => None,
        }
    }

    fn func_name(&self, f: tir::FuncId) -> Option<Name> {
        self.sigs
            .get(f.0 as usize)
            .and_then(|s| s.as_ref())
            .map(|s| s.name.clone())
    }

    /// The name of a variable or function read by `v` (a called function
    /// value).
    fn value_name(&self, v: &tir::Expr) -> Option<Name> {
        let name = match &v.kind {
            ExprKind::Local(id) => {
                let f = self.fns.last()?;
                f.locals.get(id.0 as usize)?.name.clone()
            }
            ExprKind::Upvalue(i) => {
                let (level, id) = self.upvalue_owner(*i)?;
                self.fns[level].locals.get(id.0 as usize)?.name.clone()
            }
            ExprKind::Global(g) => self.globals.get(g.0 as usize)?.name.clone(),
            ExprKind::FuncRef(f) => self.func_name(*f)?,
            _ => return None,
        };
        // Hidden temporaries have no source name.
        (!name.starts_with('$')).then_some(name)
    }

    /// The function level and local slot an upvalue of the innermost
    /// function refers to.
    fn upvalue_owner(&self, i: u32) -> Option<(usize, LocalId)> {
        let mut level = self.fns.len().checked_sub(1)?;
        let mut idx = i;
        loop {
            match self.fns.get(level)?.captures.get(idx as usize)? {
                Capture::Local(id) => return Some((level.checked_sub(1)?, *id)),
                Capture::Upvalue(p) => {
                    idx = *p;
                    level = level.checked_sub(1)?;
                }
            }
        }
    }

    /// The secondary label naming the call that produces an error (§8.4
    /// rule 1), if the expression is such a call or a variable set by one.
    fn error_origin(&mut self, x: &tir::Expr) -> Option<(Span, String)> {
        if let Some(o) = self.error_call(x) {
            let e = self.show(o.errors);
            return Some((
                o.span,
                format!("{} can fail with `{e}`", call_text(&o.callee)),
            ));
        }
        let (level, id) = match &x.kind {
            ExprKind::Local(id) => (self.fns.len().checked_sub(1)?, *id),
            ExprKind::Upvalue(i) => self.upvalue_owner(*i)?,
            _ => return None,
        };
        let f = self.fns.get(level)?;
        let name = f.locals.get(id.0 as usize)?.name.clone();
        let o = f.meta.get(id.0 as usize)?.origin.clone()?;
        let e = self.show(o.errors);
        Some((
            o.span,
            format!(
                "`{name}` is set from {}, which can fail with `{e}`",
                call_text(&o.callee)
            ),
        ))
    }

    /// Reports `unhandled-error` for `x` (whose type includes an error).
    pub(crate) fn report_unhandled(&mut self, x: &tir::Expr, message: String) {
        let mut d = Diagnostic::new(Code::UnhandledError, x.span, message)
            .with_primary(format!("this can be an error (`{}`)", self.show(x.ty)))
            .with_help(HANDLE_HELP);
        if let Some((span, text)) = self.error_origin(x) {
            if span != x.span {
                d = d.with_label(span, text);
            } else {
                d.primary_label = Some(text);
            }
        }
        self.report(d);
    }

    /// Uses `x` as a value that must not be an error (operand, condition,
    /// receiver, template part, iterated value). Reports `unhandled-error`
    /// and continues with the error-free type.
    pub(crate) fn no_error(&mut self, mut x: tir::Expr, what: &str) -> tir::Expr {
        if self.is_poison(x.ty) || !self.types.has_error(x.ty) {
            return x;
        }
        let msg = format!(
            "unhandled error: a value of type `{}` is used as {what}",
            self.show(x.ty)
        );
        self.report_unhandled(&x, msg);
        let t = self.types.without_errors(x.ty);
        x.ty = if t == TyId::NEVER { TyId::NEVER } else { t };
        x
    }

    /// Checks that `x` may be stored where `target` is expected; reports
    /// `unhandled-error` or `type-mismatch` otherwise. The expression is
    /// returned unchanged.
    pub(crate) fn coerce(&mut self, x: tir::Expr, target: TyId) -> tir::Expr {
        if self.assignable(x.ty, target) {
            return x;
        }
        if self.types.has_error(x.ty) && !self.types.has_error(target) {
            let stripped = self.types.without_errors(x.ty);
            if self.assignable(stripped, target) {
                let msg = format!(
                    "unhandled error: a value of type `{}` is used where `{}` is expected",
                    self.show(x.ty),
                    self.show(target)
                );
                self.report_unhandled(&x, msg);
                return x;
            }
        }
        if self.types.has_error(x.ty) && self.types.has_error(target) {
            let stripped = self.types.without_errors(x.ty);
            let errs = self.types.only_errors(x.ty);
            let target_errs = self.types.only_errors(target);
            if self.assignable(stripped, target) && !self.types.assignable(errs, target_errs) {
                let msg = format!(
                    "this value can be an error of type `{}`, but only `{}` is allowed here",
                    self.show(errs),
                    self.show(target_errs)
                );
                self.report(
                    Diagnostic::new(Code::ErrorTypeMismatch, x.span, msg)
                        .with_primary(format!("this is `{}`", self.show(x.ty)))
                        .with_help(format!(
                            "widen the declared type to include `{}`, or handle the error first",
                            self.show(errs)
                        )),
                );
                return x;
            }
        }
        self.mismatch(x.span, x.ty, target);
        x
    }

    /// Reports a `type-mismatch` between a found and an expected type.
    pub(crate) fn mismatch(&mut self, span: Span, found: TyId, expected: TyId) {
        if self.is_poison(found) || self.is_poison(expected) {
            return;
        }
        let code = if self.config_diag {
            Code::EndpointConfig
        } else {
            Code::TypeMismatch
        };
        let mut d = Diagnostic::new(
            code,
            span,
            format!(
                "type mismatch: expected `{}`, found `{}`",
                self.show(expected),
                self.show(found)
            ),
        )
        .with_primary(format!("this is `{}`", self.show(found)));
        if let Some(h) = self.mismatch_help(found, expected) {
            d = d.with_help(h);
        }
        self.report(d);
    }

    fn mismatch_help(&mut self, found: TyId, expected: TyId) -> Option<String> {
        let fk = self.kind(found);
        let ek = self.kind(expected);
        match (&fk, &ek) {
            (TyKind::Int, TyKind::Float) => Some("int is not converted to float implicitly; convert with `<float>x`".into()),
            (TyKind::Float, TyKind::Int) => {
                Some("float is not converted to int implicitly; convert with `<int>x` (rounds) or `x.round()`".into())
            }
            (TyKind::Json | TyKind::Any, _) => {
                Some("narrow the value with `if x is T { ... }`, cast it with `<T>x`, or convert it with `cloneWithType(T)`".into())
            }
            _ => {
                if self.types.has_nil(found) && !self.types.has_nil(expected) {
                    let nn = self.types.without_nil(found);
                    if self.types.assignable(nn, expected) {
                        return Some(
                            "the value may be `()`: test it with `if x != () { ... }` or give a default with `x ?: value`".into(),
                        );
                    }
                }
                None
            }
        }
    }

    /// Records a failure (`check`, `fail`) with the given error type: it
    /// goes to the innermost handler, or out of the function, whose return
    /// type must then allow it (rules 3 and 5).
    pub(crate) fn record_failure(&mut self, err: TyId, span: Span, keyword: &str) {
        if self.is_poison(err) {
            return;
        }
        let f = self.fx();
        if let Some(h) = f.handlers.last_mut() {
            h.errors.push((err, span));
            return;
        }
        if let Some(r) = f.infer_ret.as_mut() {
            r.push(err);
            return;
        }
        let ret = f.ret;
        let fname = f.name.clone();
        if f.is_init {
            self.report(
                Diagnostic::new(
                    Code::CheckWithoutHandler,
                    span,
                    format!("`{keyword}` is not allowed in the initialiser of a module-level declaration"),
                )
                .with_help("use `checkpanic` there, or initialise the variable in a function that can return an error"),
            );
            return;
        }
        if self.is_poison(ret) {
            return;
        }
        let ret_errs = self.types.only_errors(ret);
        if ret_errs == TyId::NEVER {
            let what = if fname.starts_with('<') {
                "this function".to_string()
            } else {
                format!("`{fname}`")
            };
            self.report(
                Diagnostic::new(
                    Code::CheckWithoutHandler,
                    span,
                    format!("`{keyword}` can fail here, but {what} cannot return an error and there is no `on fail` handler"),
                )
                .with_primary(format!("this can fail with `{}`", self.show(err)))
                .with_help(
                    "add an error type to the return type (`returns T|error`, or `returns error?` when it returns nothing), or wrap the code in `do { ... } on fail var e { ... }`",
                ),
            );
        } else if !self.types.assignable(err, ret_errs) {
            let msg = format!(
                "this `{keyword}` can fail with `{}`, but `{fname}` may only return errors of type `{}`",
                self.show(err),
                self.show(ret_errs)
            );
            self.report(
                Diagnostic::new(Code::ErrorTypeMismatch, span, msg).with_help(format!(
                    "add `{}` to the return type, or handle the error with `do {{ ... }} on fail`",
                    self.show(err)
                )),
            );
        }
    }
}

/// "this call of `f`", or "this call" when the callee has no name.
fn call_text(callee: &Option<Name>) -> String {
    match callee {
        Some(n) => format!("this call of `{n}`"),
        None => "this call".into(),
    }
}

/// The source name of a lang-library method or function (§7.6).
fn method_name(m: Method) -> &'static str {
    use Method as M;
    match m {
        M::ToString => "toString",
        M::ToJsonString => "toJsonString",
        M::Clone => "clone",
        M::CloneWithType(_) => "cloneWithType",
        M::StrLength | M::ArrLength | M::MapLength => "length",
        M::StrToUpper => "toUpper",
        M::StrToLower => "toLower",
        M::StrTrim => "trim",
        M::StrSplit => "split",
        M::StrContains | M::ArrContains => "contains",
        M::StrStartsWith => "startsWith",
        M::StrEndsWith => "endsWith",
        M::StrSubstring => "substring",
        M::StrIndexOf | M::ArrIndexOf => "indexOf",
        M::StrReplace => "replace",
        M::StrFromJsonString => "fromJsonString",
        M::StrRepeat => "repeat",
        M::IntAbs | M::FloatAbs => "abs",
        M::FloatRound => "round",
        M::FloatFloor => "floor",
        M::FloatCeil => "ceil",
        M::FloatIsNaN => "isNaN",
        M::IntFromString => "int:fromString",
        M::FloatFromString => "float:fromString",
        M::ArrPush => "push",
        M::ArrPop => "pop",
        M::ArrSlice => "slice",
        M::ArrReverse => "reverse",
        M::ArrSort | M::ArrSortBy => "sort",
        M::ArrMap => "map",
        M::ArrFilter => "filter",
        M::ArrReduce => "reduce",
        M::ArrForEach => "forEach",
        M::ArrJoin => "join",
        M::ArrSome => "some",
        M::ArrEvery => "every",
        M::MapKeys => "keys",
        M::MapValues => "values",
        M::MapHasKey => "hasKey",
        M::MapGet => "get",
        M::MapRemove => "remove",
        M::DurMilliseconds => "milliseconds",
        M::DurSeconds => "seconds",
        M::ErrMessage => "message",
        M::ErrDetail => "detail",
        M::ErrCause => "cause",
    }
}
