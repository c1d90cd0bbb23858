//! Expressions: dispatch, names (locals, captures, module items), literals
//! (arrays, mappings → records or maps, templates), `check`/`checkpanic`/
//! `trap`, conditionals and type tests. Operators, member access, calls,
//! methods and function literals live in their own modules.

use super::checker::{Checker, ItemRef, RecordDefaults};
use super::scope::{FnCtx, NKey};
use super::tir::{self, Capture, ExprKind, Literal, LocalId};
use super::types::{RecordId, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Name};
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;

/// A name resolved to a local of the current function or an upvalue.
pub(crate) enum LocalRef {
    /// A local of the innermost function.
    Local(LocalId),
    /// An upvalue of the innermost function (the local lives in an
    /// enclosing function at `level`).
    Upvalue(u32, usize, LocalId),
}

impl Checker {
    /// Checks an expression. `expected` is a hint (for literals, arrow
    /// functions and record literals); the caller checks assignability.
    pub(crate) fn expr(&mut self, e: &ast::Expr, expected: Option<TyId>) -> tir::Expr {
        use ast::ExprKind as E;
        let span = e.span;
        let mk = |kind: ExprKind, ty: TyId| tir::Expr { kind, ty, span };
        match &e.kind {
            E::Nil => tir::Expr::lit(Literal::Nil, TyId::NIL, span),
            E::Bool(b) => tir::Expr::lit(Literal::Bool(*b), TyId::BOOLEAN, span),
            E::Int(i) => tir::Expr::lit(Literal::Int(*i), TyId::INT, span),
            E::Float(f) => tir::Expr::lit(Literal::Float(*f), TyId::FLOAT, span),
            E::Duration(d) => tir::Expr::lit(Literal::Duration(*d), TyId::DURATION, span),
            E::Str(s) => tir::Expr::lit(Literal::Str(s.clone()), TyId::STRING, span),
            E::Template(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    match p {
                        ast::TemplatePart::Text(t) => out.push(tir::Expr::lit(
                            Literal::Str(t.as_str().into()),
                            TyId::STRING,
                            span,
                        )),
                        ast::TemplatePart::Expr(x) => {
                            let v = self.expr(x, None);
                            out.push(self.no_error(v, "a string template part"));
                        }
                    }
                }
                mk(ExprKind::Template(out), TyId::STRING)
            }
            E::Name(id) => self.name_expr(id),
            E::Qualified(m, n) => self.qualified_expr(m, n, span),
            E::TypeDesc(_) | E::EmptyIndex(_) => match self.expr_as_type(e) {
                Some(t) => mk(ExprKind::TypeDesc(t), TyId::TYPEDESC),
                None => {
                    self.error(
                        Code::TypeMismatch,
                        span,
                        "expected an index between `[` and `]`",
                    );
                    Checker::poison(span)
                }
            },
            E::Array(xs) => self.array_lit(xs, span, expected),
            E::Mapping(fs) => self.mapping_lit(fs, span, expected),
            E::ErrorCtor(args) => {
                self.error_ctor(super::types::ErrorId(0), TyId::ERROR, args, span, span)
            }
            E::Unary(op, x) => self.unary(*op, x, span),
            E::Binary(op, a, b) => self.binary(*op, a, b, span, expected),
            E::Ternary(c, a, b) => {
                let cond = self.condition(c);
                let facts = self.facts(&cond);
                let snap = self.snapshot();
                self.apply_facts(&facts.when_true);
                let x = self.expr(a, expected);
                self.restore(&snap);
                self.apply_facts(&facts.when_false);
                let y = self.expr(b, expected);
                self.restore(&snap);
                let ty = if self.is_poison(x.ty) || self.is_poison(y.ty) {
                    TyId::NEVER
                } else {
                    self.types.union(&[x.ty, y.ty])
                };
                mk(ExprKind::Cond(Box::new(cond), Box::new(x), Box::new(y)), ty)
            }
            E::Elvis(a, b) => {
                let hint = expected.map(|t| self.types.optional(t));
                let x = self.expr(a, hint);
                let y = self.expr(b, expected);
                let ty = if self.is_poison(x.ty) || self.is_poison(y.ty) {
                    TyId::NEVER
                } else {
                    let nn = self.types.without_nil(x.ty);
                    self.types.union(&[nn, y.ty])
                };
                mk(ExprKind::Elvis(Box::new(x), Box::new(y)), ty)
            }
            E::Is(x, t) => {
                let v = self.expr(x, None);
                let t = self.resolve_type(t);
                mk(ExprKind::Is(Box::new(v), t), TyId::BOOLEAN)
            }
            E::Cast(t, x) => self.cast(t, x, span),
            E::Check(x) => {
                let v = self.expr(x, expected);
                if self.is_poison(v.ty) {
                    return mk(ExprKind::Check(Box::new(v)), TyId::NEVER);
                }
                if !self.types.has_error(v.ty) {
                    self.report(
                        Diagnostic::new(
                            Code::UnreachableCheck,
                            span,
                            format!(
                                "`check` on a value that cannot be an error (`{}`)",
                                self.show(v.ty)
                            ),
                        )
                        .with_help("remove `check`"),
                    );
                    let ty = v.ty;
                    return mk(ExprKind::Check(Box::new(v)), ty);
                }
                let errs = self.types.only_errors(v.ty);
                self.record_failure(errs, span, "check");
                let ty = self.types.without_errors(v.ty);
                mk(ExprKind::Check(Box::new(v)), ty)
            }
            E::CheckPanic(x) => {
                let v = self.expr(x, expected);
                let ty = if self.is_poison(v.ty) {
                    TyId::NEVER
                } else {
                    self.types.without_errors(v.ty)
                };
                mk(ExprKind::CheckPanic(Box::new(v)), ty)
            }
            E::Trap(x) => {
                let v = self.expr(x, expected);
                let ty = if self.is_poison(v.ty) {
                    TyId::NEVER
                } else {
                    self.types.union(&[v.ty, TyId::ERROR])
                };
                mk(ExprKind::Trap(Box::new(v)), ty)
            }
            E::Start(x) => self.start_expr(x, span, expected),
            E::Wait(x) => self.wait_expr(x, span),
            E::WaitAny(xs) => self.wait_any_expr(xs, span),
            E::RemoteCall {
                target,
                method,
                args,
            } => self.remote_call(target, method, args, span, expected),
            E::Commit => self.commit_expr(span),
            E::Call(f, args) => self.call_expr(f, args, span, expected),
            E::Field {
                target,
                name,
                optional,
            } => {
                if *optional {
                    self.optional_field(target, name, span)
                } else {
                    let t = self.expr(target, None);
                    self.field_access(t, name, span)
                }
            }
            E::Index(t, i) => self.index_expr(t, i, span),
            E::MethodCall { target, name, args } => {
                self.method_call(target, name, args, span, expected)
            }
            E::Range { lo, hi, inclusive } => {
                let lo = self.int_operand(lo);
                let hi = self.int_operand(hi);
                let ty = self.types.array(TyId::INT);
                mk(ExprKind::Range(Box::new(lo), Box::new(hi), *inclusive), ty)
            }
            E::Function(lit) => self.function_lit(lit, span),
            E::Arrow(params, body) => self.arrow(params, body, span, expected),
            E::Error => Checker::poison(span),
        }
    }

    /// Checks a part of a literal. While an endpoint's configuration is
    /// checked ([`Checker::config_diag`]), only the literal's own structure
    /// (nested mapping and array literals and the values' types) gives
    /// `endpoint-config` errors, not the expressions inside values.
    fn config_part(&mut self, e: &ast::Expr, expected: Option<TyId>) -> tir::Expr {
        if !self.config_diag
            || matches!(e.kind, ast::ExprKind::Mapping(_) | ast::ExprKind::Array(_))
        {
            return self.expr(e, expected);
        }
        self.config_diag = false;
        let v = self.expr(e, expected);
        self.config_diag = true;
        v
    }

    /// Checks an `int` operand (ranges, indices).
    pub(crate) fn int_operand(&mut self, e: &ast::Expr) -> tir::Expr {
        let v = self.expr(e, Some(TyId::INT));
        let v = self.no_error(v, "an operand");
        self.coerce(v, TyId::INT)
    }

    /// Checks a boolean condition.
    pub(crate) fn condition(&mut self, e: &ast::Expr) -> tir::Expr {
        let v = self.expr(e, Some(TyId::BOOLEAN));
        let v = self.no_error(v, "a condition");
        if !self.assignable(v.ty, TyId::BOOLEAN) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    v.span,
                    format!(
                        "a condition must be a `boolean`, found `{}`",
                        self.show(v.ty)
                    ),
                )
                .with_help("compare explicitly, e.g. `x != 0` or `x != ()`"),
            );
        }
        v
    }

    /// Looks up a local through the enclosing functions (marking it read,
    /// captured and creating the capture chain as needed).
    pub(crate) fn lookup_local(&mut self, name: &str) -> Option<(LocalRef, TyId)> {
        self.resolve_local(name, true)
    }

    /// Looks up a local through the enclosing functions, marking it
    /// captured and creating the capture chain as needed; `read`: the
    /// lookup reads its value (a plain assignment does not, so a local that
    /// is only assigned is still `unused-variable`).
    pub(crate) fn resolve_local(&mut self, name: &str, read: bool) -> Option<(LocalRef, TyId)> {
        let top = self.fns.len().checked_sub(1)?;
        let mut found = None;
        for level in (0..=top).rev() {
            if let Some(id) = self.fns[level].lookup(name) {
                found = Some((level, id));
                break;
            }
            if self.fns[level].is_root {
                break;
            }
        }
        let (level, id) = found?;
        if level == top {
            let f = &mut self.fns[top];
            if read {
                f.meta_mut(id).read = true;
            }
            return Some((LocalRef::Local(id), f.current_ty(id)));
        }
        let owner = &mut self.fns[level];
        if read {
            owner.meta_mut(id).read = true;
        }
        owner.locals[id.0 as usize].captured = true;
        let stable = owner.is_stable(id) && !owner.meta(id).no_narrow;
        let ty = if stable {
            owner.current_ty(id)
        } else {
            owner.declared_ty(id)
        };
        let idx = self.capture_chain(level, id);
        let top_ctx = &mut self.fns[top];
        let ty = if stable {
            top_ctx.stable_ups.insert(idx);
            top_ctx.narrow.get(&NKey::Up(idx)).copied().unwrap_or(ty)
        } else {
            ty
        };
        Some((LocalRef::Upvalue(idx, level, id), ty))
    }

    /// Ensures every function between `level` (exclusive) and the innermost
    /// captures local `id` of `level`; returns the innermost upvalue index.
    fn capture_chain(&mut self, level: usize, id: LocalId) -> u32 {
        let top = self.fns.len() - 1;
        let mut prev: Option<u32> = None;
        for l in level + 1..=top {
            let f: &mut FnCtx = &mut self.fns[l];
            let idx = match f.capture_map.get(&(level, id)) {
                Some(i) => *i,
                None => {
                    let cap = match prev {
                        None => Capture::Local(id),
                        Some(p) => Capture::Upvalue(p),
                    };
                    let i = f.captures.len() as u32;
                    f.captures.push(cap);
                    f.capture_map.insert((level, id), i);
                    i
                }
            };
            prev = Some(idx);
        }
        prev.unwrap_or(0)
    }

    fn name_expr(&mut self, id: &Ident) -> tir::Expr {
        let span = id.span;
        if let Some((r, ty)) = self.lookup_local(&id.name) {
            let kind = match r {
                LocalRef::Local(l) => ExprKind::Local(l),
                LocalRef::Upvalue(i, ..) => ExprKind::Upvalue(i),
            };
            return tir::Expr { kind, ty, span };
        }
        let m = self.module();
        let entry = self.modules[m].items.get(&id.name).map(|e| e.item);
        match entry {
            Some(item) => self.item_value(item, &id.name, span, m),
            None => {
                let mut d = Diagnostic::new(
                    Code::UnknownName,
                    span,
                    format!("unknown name `{}`", id.name),
                )
                .with_primary("not declared in this scope");
                if let Some(h) = self.unknown_name_help(&id.name) {
                    d = d.with_help(h);
                }
                self.report(d);
                Checker::poison(span)
            }
        }
    }

    /// A module item used as a value.
    fn item_value(&mut self, item: ItemRef, name: &str, span: Span, m: usize) -> tir::Expr {
        match item {
            ItemRef::Func(f) => {
                let ty = self.sigs[f.0 as usize]
                    .as_ref()
                    .map(|s| s.ty)
                    .unwrap_or(TyId::NEVER);
                tir::Expr {
                    kind: ExprKind::FuncRef(f),
                    ty,
                    span,
                }
            }
            ItemRef::Global(g) => {
                let gi = &self.ginfo[g.0 as usize];
                let in_init = self.fns.last().is_some_and(|f| f.is_init);
                if in_init && gi.module == m && !gi.initialised {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownName,
                            span,
                            format!("`{name}` is used before it is initialised"),
                        )
                        .with_label(gi.span, "declared here")
                        .with_help("module variables are initialised in order; move this declaration after it"),
                    );
                    return Checker::poison(span);
                }
                tir::Expr {
                    kind: ExprKind::Global(g),
                    ty: self.globals[g.0 as usize].ty,
                    span,
                }
            }
            ItemRef::Type(idx) => {
                let t = self.ensure_type_decl(idx);
                tir::Expr {
                    kind: ExprKind::TypeDesc(t),
                    ty: TyId::TYPEDESC,
                    span,
                }
            }
        }
    }

    /// Resolves `module:name` to an item of an imported module (public only).
    pub(crate) fn qualified_item(
        &mut self,
        md: &Ident,
        n: &Ident,
        span: Span,
    ) -> Option<(ItemRef, usize)> {
        let m = self.module();
        let target = self.module_alias(m, md)?;
        let entry = self.modules[target].items.get(&n.name).cloned();
        match entry {
            Some(e) if e.public => Some((e.item, target)),
            Some(_) => {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        span,
                        format!("`{}` is not public in module `{}`", n.name, md.name),
                    )
                    .with_help(format!(
                        "only `public` items of `{}` can be used here",
                        md.name
                    )),
                );
                None
            }
            None => {
                self.report(Diagnostic::new(
                    Code::UnknownName,
                    span,
                    format!("module `{}` has no member `{}`", md.name, n.name),
                ));
                None
            }
        }
    }

    fn qualified_expr(&mut self, md: &Ident, n: &Ident, span: Span) -> tir::Expr {
        if is_lang_module(&md.name) {
            self.error(
                Code::TypeMismatch,
                span,
                format!("`{}:{}` can only be called", md.name, n.name),
            );
            return Checker::poison(span);
        }
        match self.qualified_item(md, n, span) {
            Some((item, target)) => self.item_value(item, &n.name, span, target),
            None => Checker::poison(span),
        }
    }

    /// Array literals: the element type comes from the expected type, else
    /// the union of the elements' types.
    fn array_lit(&mut self, xs: &[ast::Expr], span: Span, expected: Option<TyId>) -> tir::Expr {
        let mut elem: Option<TyId> = None;
        let mut any_ok = false;
        if let Some(t) = expected {
            if self.is_poison(t) {
                elem = Some(TyId::NEVER);
            }
            for m in self.types.members(t) {
                match self.kind(m) {
                    TyKind::Array(e) if elem.is_none() => elem = Some(e),
                    TyKind::Json if elem.is_none() => elem = Some(TyId::JSON),
                    TyKind::Any => any_ok = true,
                    _ => {}
                }
            }
        }
        if let Some(el) = elem {
            let mut out = Vec::with_capacity(xs.len());
            for x in xs {
                let hint = if el == TyId::NEVER { None } else { Some(el) };
                let v = self.config_part(x, hint);
                out.push(if el == TyId::NEVER {
                    v
                } else {
                    self.coerce(v, el)
                });
            }
            let ty = if el == TyId::NEVER {
                TyId::NEVER
            } else {
                self.types.array(el)
            };
            return tir::Expr {
                kind: ExprKind::Array(out),
                ty,
                span,
            };
        }
        if xs.is_empty() {
            if any_ok {
                let ty = self.types.array(TyId::ANY);
                return tir::Expr {
                    kind: ExprKind::Array(Vec::new()),
                    ty,
                    span,
                };
            }
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    span,
                    "cannot infer the type of an empty array `[]`",
                )
                .with_help("declare the type, e.g. `int[] xs = [];`"),
            );
            return Checker::poison(span);
        }
        let mut out = Vec::with_capacity(xs.len());
        let mut tys = Vec::with_capacity(xs.len());
        let mut poisoned = false;
        for x in xs {
            let v = self.expr(x, None);
            poisoned |= self.is_poison(v.ty);
            tys.push(v.ty);
            out.push(v);
        }
        let ty = if poisoned {
            TyId::NEVER
        } else {
            let u = self.types.union(&tys);
            self.types.array(u)
        };
        tir::Expr {
            kind: ExprKind::Array(out),
            ty,
            span,
        }
    }

    /// Mapping literals: a record when the expected type has a matching
    /// record member, else a map (or json object).
    fn mapping_lit(
        &mut self,
        fs: &[ast::MappingField],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let mut value_ty: Option<TyId> = None;
        let mut record: Option<RecordId> = None;
        if let Some(t) = expected {
            let mut recs = Vec::new();
            for m in self.types.members(t) {
                match self.kind(m) {
                    TyKind::Record(r) => recs.push(r),
                    TyKind::Map(v) if value_ty.is_none() => value_ty = Some(v),
                    TyKind::Json if value_ty.is_none() => value_ty = Some(TyId::JSON),
                    _ => {}
                }
            }
            if recs.len() == 1 {
                record = Some(recs[0]);
            } else if recs.len() > 1 {
                let fitting: Vec<RecordId> = recs
                    .iter()
                    .copied()
                    .filter(|r| {
                        let def = self.types.record(*r);
                        fs.iter().all(|f| def.field_index(&f.key).is_some())
                    })
                    .collect();
                if fitting.len() == 1 {
                    record = Some(fitting[0]);
                } else if let Some(r) = fitting.first().or(recs.first()) {
                    record = Some(*r);
                }
            }
            if self.is_poison(t) {
                value_ty = Some(TyId::NEVER);
            }
        }
        if let Some(r) = record {
            return self.record_lit(r, fs, span);
        }
        let mut seen: FxHashMap<Name, Span> = FxHashMap::default();
        let mut entries = Vec::with_capacity(fs.len());
        let mut tys = Vec::with_capacity(fs.len());
        let mut poisoned = false;
        for f in fs {
            self.duplicate_key(&mut seen, f);
            let v = match value_ty {
                Some(vt) if vt != TyId::NEVER => {
                    let v = self.config_part(&f.value, Some(vt));
                    self.coerce(v, vt)
                }
                _ => self.expr(&f.value, None),
            };
            poisoned |= self.is_poison(v.ty);
            tys.push(v.ty);
            entries.push((f.key.clone(), v));
        }
        let ty = match value_ty {
            Some(TyId::NEVER) => TyId::NEVER,
            Some(vt) => self.types.map(vt),
            None if poisoned => TyId::NEVER,
            None => {
                if fs.is_empty() {
                    let any_ok = expected.is_some_and(|t| {
                        self.types
                            .members(t)
                            .iter()
                            .any(|m| matches!(self.types.kind(*m), TyKind::Any))
                    });
                    if !any_ok {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                span,
                                "cannot infer the type of an empty mapping `{}`",
                            )
                            .with_help("declare the type, e.g. `map<int> m = {};`"),
                        );
                        return Checker::poison(span);
                    }
                    self.types.map(TyId::ANY)
                } else {
                    let u = self.types.union(&tys);
                    self.types.map(u)
                }
            }
        };
        tir::Expr {
            kind: ExprKind::Map(entries),
            ty,
            span,
        }
    }

    /// A record literal of record `r`: every field in declaration order,
    /// defaults and `()` for omitted optional fields filled in.
    fn record_lit(&mut self, r: RecordId, fs: &[ast::MappingField], span: Span) -> tir::Expr {
        let def = self.types.record(r).clone();
        let rname = def.name.clone().unwrap_or_else(|| "record".into());
        let mut given: Vec<Option<tir::Expr>> = vec![None; def.fields.len()];
        let mut seen: FxHashMap<Name, Span> = FxHashMap::default();
        for f in fs {
            if let Some(prev) = seen.insert(f.key.clone(), f.key_span) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        f.key_span,
                        format!("field `{}` is given twice", f.key),
                    )
                    .with_label(prev, "first given here"),
                );
                let _ = self.expr(&f.value, None);
                continue;
            }
            match def.field_index(&f.key) {
                Some(i) => {
                    let fty = def.fields[i].ty;
                    let v = self.config_part(&f.value, Some(fty));
                    given[i] = Some(self.coerce(v, fty));
                }
                None => {
                    let names: Vec<String> =
                        def.fields.iter().map(|f| format!("`{}`", f.name)).collect();
                    let code = if self.config_diag {
                        Code::EndpointConfig
                    } else {
                        Code::UnknownField
                    };
                    self.report(
                        Diagnostic::new(
                            code,
                            f.key_span,
                            format!("record `{rname}` has no field `{}`", f.key),
                        )
                        .with_help(format!("its fields are {}", names.join(", "))),
                    );
                    let _ = self.expr(&f.value, None);
                }
            }
        }
        let mut values = Vec::with_capacity(def.fields.len());
        let mut missing = Vec::new();
        for (i, fd) in def.fields.iter().enumerate() {
            if let Some(v) = given[i].take() {
                values.push(v);
            } else if fd.has_default {
                match self.record_default(r, i) {
                    Some(mut d) => {
                        d.span = span;
                        values.push(d);
                    }
                    None => values.push(Checker::nil_lit(span)),
                }
            } else if self.types.has_nil(fd.ty) || self.is_poison(fd.ty) {
                values.push(Checker::nil_lit(span));
            } else {
                missing.push(format!("`{}`", fd.name));
                values.push(Checker::poison(span));
            }
        }
        if !missing.is_empty() {
            let s = if missing.len() == 1 { "" } else { "s" };
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    span,
                    format!(
                        "missing field{s} {} in record `{rname}`",
                        missing.join(", ")
                    ),
                )
                .with_help("give every field without a default value"),
            );
        }
        let ty = self.record_ty(r);
        tir::Expr {
            kind: ExprKind::Record(r, values),
            ty,
            span,
        }
    }

    /// The checked default value of field `i` of record `r` (checked on
    /// first use, in the declaring module).
    pub(crate) fn record_default(&mut self, r: RecordId, i: usize) -> Option<tir::Expr> {
        self.ensure_record_defaults(r);
        match self.record_defaults.get(&r) {
            Some(RecordDefaults::Done(v)) => v.get(i).cloned().flatten(),
            _ => None,
        }
    }

    /// Checks the defaults of every record not used by a literal (so their
    /// errors are reported too).
    pub(crate) fn check_all_record_defaults(&mut self) {
        let mut pending: Vec<RecordId> = self
            .record_defaults
            .iter()
            .filter(|(_, d)| matches!(d, RecordDefaults::Pending(..)))
            .map(|(r, _)| *r)
            .collect();
        pending.sort_by_key(|r| r.0);
        for r in pending {
            self.ensure_record_defaults(r);
        }
    }

    /// One function per record field default (for run-time conversions),
    /// indexed by record id.
    pub(crate) fn default_functions(&mut self) -> Vec<Vec<Option<tir::FuncId>>> {
        let mut recs: Vec<(RecordId, Vec<Option<tir::Expr>>)> = self
            .record_defaults
            .iter()
            .filter_map(|(r, d)| match d {
                RecordDefaults::Done(v) if v.iter().any(Option::is_some) => Some((*r, v.clone())),
                _ => None,
            })
            .collect();
        recs.sort_by_key(|(r, _)| r.0);
        let len = recs.last().map(|(r, _)| r.0 as usize + 1).unwrap_or(0);
        let mut out: Vec<Vec<Option<tir::FuncId>>> = vec![Vec::new(); len];
        for (r, defaults) in recs {
            let def = self.types.record(r).clone();
            let rname = def.name.clone().unwrap_or_else(|| "record".into());
            let mut fids = Vec::with_capacity(defaults.len());
            for (i, d) in defaults.into_iter().enumerate() {
                let Some(d) = d else {
                    fids.push(None);
                    continue;
                };
                let fname = def
                    .fields
                    .get(i)
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                let ret = def.fields.get(i).map(|f| f.ty).unwrap_or(TyId::NIL);
                let fid = self.new_func_slot();
                let span = d.span;
                self.funcs[fid.0 as usize] = Some(tir::Function {
                    name: format!("<default {rname}.{fname}>").into(),
                    span,
                    params: Vec::new(),
                    has_rest: false,
                    ret,
                    locals: Vec::new(),
                    captures: Vec::new(),
                    body: tir::Block {
                        stmts: vec![tir::Stmt {
                            kind: tir::StmtKind::Return(d),
                            span,
                        }],
                    },
                    native: None,
                });
                fids.push(Some(fid));
            }
            if let Some(slot) = out.get_mut(r.0 as usize) {
                *slot = fids;
            }
        }
        out
    }

    /// Checks the default values of record `r` if not done yet.
    pub(crate) fn ensure_record_defaults(&mut self, r: RecordId) {
        let (m, exprs) = match self.record_defaults.get(&r) {
            Some(RecordDefaults::Pending(m, exprs)) => (*m, exprs.clone()),
            _ => return,
        };
        self.record_defaults.insert(r, RecordDefaults::InProgress);
        let fields = self.types.record(r).fields.clone();
        self.fns.push(FnCtx::new(
            "<default>".into(),
            m,
            TyId::NIL,
            Default::default(),
            true,
        ));
        let mut out = Vec::with_capacity(exprs.len());
        for (i, e) in exprs.iter().enumerate() {
            match (e, fields.get(i)) {
                (Some(e), Some(fd)) => {
                    let v = self.expr(e, Some(fd.ty));
                    let v = self.coerce(v, fd.ty);
                    out.push(Some(v));
                }
                _ => out.push(None),
            }
        }
        let ctx = self.fns.pop();
        if let Some(ctx) = ctx {
            if !ctx.locals.is_empty() {
                if let Some(Some(e)) = exprs.iter().find(|e| e.is_some()) {
                    self.error(
                        Code::TypeMismatch,
                        e.span,
                        "field defaults must be simple expressions (literals, constants, operators and calls)",
                    );
                }
            }
        }
        self.record_defaults.insert(r, RecordDefaults::Done(out));
    }
}

/// `int:` and `float:` name lang-library functions, not modules.
pub(crate) fn is_lang_module(name: &str) -> bool {
    matches!(name, "int" | "float")
}
