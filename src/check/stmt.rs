//! Statements (§6): declarations, assignment, control flow, `match`
//! (lowered to an `if` chain over a hidden local), `fail`/`panic`,
//! `do { } on fail` (`retry` and `timeout`: `resilience.rs`); reachability
//! (`unreachable-code`) and unused locals.

use super::checker::Checker;
use super::narrow::{assigned_names, key_of, Changes};
use super::scope::{Handler, LocalKind, LoopFrame};
use super::tir::{self, BinOp, ExprKind, IterKind, Literal, StmtKind};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident};
use crate::syntax::span::Span;

impl Checker {
    /// Reports a redeclaration in the same scope.
    pub(crate) fn duplicate(&mut self, name: &Ident, prev: Span) {
        self.report(
            Diagnostic::new(
                Code::DuplicateDefinition,
                name.span,
                format!("`{}` is already declared in this scope", name.name),
            )
            .with_label(prev, "first declared here")
            .with_help(
                "choose another name, or assign to the existing variable without redeclaring it",
            ),
        );
    }

    /// Closes the innermost scope, warning about locals never read.
    pub(crate) fn close_scope(&mut self) {
        let ids = self.fx().pop_scope();
        for id in ids {
            let f = self.fx();
            let meta = f.meta(id);
            let name = f.locals[id.0 as usize].name.clone();
            if meta.read
                || name.starts_with('_')
                || !matches!(meta.kind, LocalKind::Let | LocalKind::Binding)
            {
                continue;
            }
            let span = meta.span;
            self.report(
                Diagnostic::new(
                    Code::UnusedVariable,
                    span,
                    format!("unused variable `{name}`"),
                )
                .with_primary("declared here but never read")
                .with_help(format!(
                    "remove it, or rename it to `_{name}` if it is intentionally unused"
                )),
            );
        }
    }

    /// A block in its own scope; returns whether it always leaves (never
    /// falls through to its end).
    pub(crate) fn block(&mut self, b: &ast::Block) -> (tir::Block, bool) {
        self.fx().push_scope();
        let (stmts, div) = self.stmts(&b.stmts);
        self.close_scope();
        (tir::Block { stmts }, div)
    }

    /// Statements in the current scope.
    pub(crate) fn stmts(&mut self, stmts: &[ast::Stmt]) -> (Vec<tir::Stmt>, bool) {
        let mut out = Vec::with_capacity(stmts.len());
        let mut diverged = false;
        let mut warned = false;
        let mut after_error = false;
        for s in stmts {
            if diverged && !warned && !matches!(s.kind, ast::StmtKind::Error) {
                self.report(
                    Diagnostic::new(Code::UnreachableCode, s.span, "unreachable code")
                        .with_primary("this statement can never run")
                        .with_help(
                            "remove it, or move it before the statement that leaves the block",
                        ),
                );
                warned = true;
            }
            if self.stmt(s, &mut out, after_error) {
                diverged = true;
            }
            after_error = matches!(s.kind, ast::StmtKind::Error);
        }
        (out, diverged)
    }

    fn push(out: &mut Vec<tir::Stmt>, kind: StmtKind, span: Span) {
        out.push(tir::Stmt { kind, span });
    }

    /// One statement; returns whether it always leaves. `after_error`: the
    /// previous statement failed to parse (this one may be a remnant of it,
    /// so a discarded value is not reported).
    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<tir::Stmt>, after_error: bool) -> bool {
        use ast::StmtKind as S;
        let span = s.span;
        match &s.kind {
            S::VarDecl(d) => {
                self.local_decl(d, span, out);
                false
            }
            S::Assign { target, op, value } => {
                self.assign_stmt(target, *op, value, span, out);
                false
            }
            S::Discard(e) => {
                let v = self.expr(e, None);
                if !self.is_poison(v.ty) && self.types.has_error(v.ty) {
                    let msg = format!(
                        "unhandled error: `_ = ...` discards a value of type `{}`, which may be an error",
                        self.show(v.ty)
                    );
                    self.report_unhandled(&v, msg);
                }
                Self::push(out, StmtKind::Expr(v), span);
                false
            }
            S::Expr(e) => {
                // A remote call used as a statement ignores the response
                // body: its typed result is `()` (§9.1).
                let hint = super::remote::is_remote_stmt(e).then_some(TyId::NIL);
                let v = self.expr(e, hint);
                if !self.is_poison(v.ty) {
                    if self.types.has_error(v.ty) {
                        let msg = format!(
                            "unhandled error: the result of this expression (`{}`) may be an error and is discarded",
                            self.show(v.ty)
                        );
                        self.report_unhandled(&v, msg);
                    } else if v.ty != TyId::NIL && !after_error {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                v.span,
                                format!("a value of type `{}` is discarded", self.show(v.ty)),
                            )
                            .with_help("assign it with `_ = ...` if you do not need it"),
                        );
                    }
                }
                Self::push(out, StmtKind::Expr(v), span);
                false
            }
            S::If {
                cond,
                then,
                otherwise,
            } => {
                let (stmt, div) = self.if_stmt(cond, then, otherwise.as_deref(), span);
                out.push(stmt);
                div
            }
            S::Block(b) => {
                let (blk, div) = self.block(b);
                Self::push(out, StmtKind::Block(blk), span);
                div
            }
            S::While { cond, body } => {
                let names = assigned_names(body);
                self.forget_names(&names);
                let snap = self.snapshot();
                let c = self.condition(cond);
                let facts = self.facts(&c);
                self.apply_facts(&facts.when_true);
                self.fx().loops.push(LoopFrame::default());
                let (b, _) = self.block(body);
                let frame = self.fx().loops.pop().unwrap_or_default();
                self.restore_minus_assigned(&snap);
                if !frame.has_break {
                    // The loop only ends when its condition is false.
                    self.apply_facts(&facts.when_false);
                }
                let forever = matches!(c.kind, ExprKind::Lit(Literal::Bool(true)));
                Self::push(out, StmtKind::While { cond: c, body: b }, span);
                forever && !frame.has_break
            }
            S::Foreach {
                ty,
                name,
                iter,
                body,
            } => {
                self.foreach(ty.as_ref(), name, iter, body, span, out);
                false
            }
            S::Break | S::Continue => {
                let is_break = matches!(s.kind, S::Break);
                match self.fx().loops.last_mut() {
                    Some(l) => {
                        if is_break {
                            l.has_break = true;
                        }
                    }
                    None => {
                        let kw = if is_break { "break" } else { "continue" };
                        self.error(Code::Syntax, span, format!("`{kw}` outside a loop"));
                    }
                }
                Self::push(
                    out,
                    if is_break {
                        StmtKind::Break
                    } else {
                        StmtKind::Continue
                    },
                    span,
                );
                true
            }
            S::Return(e) => {
                let ret = self.fx().ret;
                let v = match e {
                    Some(e) => {
                        let v = self.expr(e, Some(ret));
                        self.coerce(v, ret)
                    }
                    None => {
                        if !self.assignable(TyId::NIL, ret) {
                            let name = self.fx().name.clone();
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    span,
                                    format!(
                                        "`{name}` must return a value of type `{}`",
                                        self.show(ret)
                                    ),
                                )
                                .with_help("write `return value;`"),
                            );
                        }
                        Checker::nil_lit(span)
                    }
                };
                Self::push(out, StmtKind::Return(v), span);
                true
            }
            S::Match { value, arms } => self.match_stmt(value, arms, span, out),
            S::Fail(e) => {
                let v = self.expr(e, None);
                if !self.is_poison(v.ty) {
                    let errs = self.types.only_errors(v.ty);
                    if errs == TyId::NEVER || !self.types.assignable(v.ty, TyId::ERROR) {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                v.span,
                                format!("`fail` needs an error value, found `{}`", self.show(v.ty)),
                            )
                            .with_help("create one with `error(\"message\")`"),
                        );
                    }
                    if errs != TyId::NEVER {
                        self.record_failure(errs, span, "fail");
                    }
                }
                Self::push(out, StmtKind::Fail(v), span);
                true
            }
            S::Panic(e) => {
                let v = self.expr(e, Some(TyId::ERROR));
                if !self.assignable(v.ty, TyId::ERROR) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            v.span,
                            format!("`panic` needs an error value, found `{}`", self.show(v.ty)),
                        )
                        .with_help("create one with `error(\"message\")`"),
                    );
                }
                Self::push(out, StmtKind::Panic(v), span);
                true
            }
            S::Do { body, on_fail } => self.do_stmt(body, on_fail.as_ref(), span, out),
            S::Retry {
                args,
                body,
                on_fail,
            } => self.retry_stmt(args, body, on_fail.as_ref(), span, out),
            S::Timeout {
                limit,
                body,
                on_fail,
            } => self.timeout_stmt(limit, body, on_fail.as_ref(), span, out),
            S::Transaction { body, on_fail } => {
                self.transaction_stmt(body, on_fail.as_ref(), span, out)
            }
            S::Compensate(call) => {
                self.compensate_stmt(call, span, out);
                false
            }
            S::Rollback => {
                self.rollback_stmt(span, out);
                false
            }
            S::Error => false,
        }
    }

    /// The checked initial value and the type of a declaration (local or
    /// module-level): the declared type, or the initialiser's when `var`;
    /// `()` when a nil-admitting type has no initialiser.
    pub(crate) fn declared_value(&mut self, d: &ast::VarDecl) -> (tir::Expr, TyId) {
        let declared = d.ty.as_ref().map(|t| self.resolve_type(t));
        match (declared, &d.init) {
            (Some(t), Some(e)) => {
                let v = self.expr(e, Some(t));
                (self.coerce(v, t), t)
            }
            (None, Some(e)) => {
                let v = self.expr(e, None);
                let t = v.ty;
                (v, t)
            }
            (Some(t), None) => {
                if !self.assignable(TyId::NIL, t) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            d.name.span,
                            format!("`{}` needs an initial value", d.name.name),
                        )
                        .with_help(format!(
                            "write `{} {} = value;`, or make the type optional (`T?`) to start with `()`",
                            self.show(t),
                            d.name.name
                        )),
                    );
                }
                (Checker::nil_lit(d.name.span), t)
            }
            (None, None) => (Checker::poison(d.name.span), TyId::NEVER),
        }
    }

    /// A local variable declaration.
    fn local_decl(&mut self, d: &ast::VarDecl, span: Span, out: &mut Vec<tir::Stmt>) {
        let (init, ty) = self.declared_value(d);
        let origin = self.error_call(&init);
        let (local, dup) =
            self.fx()
                .declare(&d.name.name, d.name.span, ty, LocalKind::Let, d.is_final);
        if let Some(prev) = dup {
            self.duplicate(&d.name, prev);
        }
        self.fx().meta_mut(local).origin = origin;
        Self::push(out, StmtKind::Let { local, init }, span);
    }

    fn if_stmt(
        &mut self,
        cond: &ast::Expr,
        then: &ast::Block,
        otherwise: Option<&ast::Stmt>,
        span: Span,
    ) -> (tir::Stmt, bool) {
        let c = self.condition(cond);
        let facts = self.facts(&c);
        let snap = self.snapshot();
        self.apply_facts(&facts.when_true);
        let (tb, tdiv) = self.block(then);
        let then_changes = self.changes_since(&snap);
        self.restore(&snap);
        self.apply_facts(&facts.when_false);
        let (eb, ediv) = match otherwise {
            None => (tir::Block::default(), false),
            Some(ast::Stmt {
                kind: ast::StmtKind::Block(b),
                ..
            }) => self.block(b),
            Some(s) => {
                let mut v = Vec::new();
                let d = self.stmt(s, &mut v, false);
                (tir::Block { stmts: v }, d)
            }
        };
        if tdiv && !ediv {
            // Only the else branch reaches the rest: keep its state.
        } else if ediv && !tdiv {
            self.restore(&snap);
            self.reapply(then_changes);
        } else {
            self.restore_minus_assigned(&snap);
        }
        (
            tir::Stmt {
                kind: StmtKind::If {
                    cond: c,
                    then: tb,
                    otherwise: eb,
                },
                span,
            },
            tdiv && ediv,
        )
    }

    fn foreach(
        &mut self,
        ty: Option<&ast::TypeExpr>,
        name: &Ident,
        iter: &ast::Expr,
        body: &ast::Block,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) {
        enum It {
            Range(tir::Expr, tir::Expr, bool),
            Each(tir::Expr, IterKind),
            Bad,
        }
        let (it, elem) = match &iter.kind {
            ast::ExprKind::Range { lo, hi, inclusive } => {
                let lo = self.int_operand(lo);
                let hi = self.int_operand(hi);
                (It::Range(lo, hi, *inclusive), TyId::INT)
            }
            _ => {
                let v = self.expr(iter, None);
                let v = self.no_error(v, "an iterated value");
                match self.kind(v.ty) {
                    TyKind::Never => (It::Bad, TyId::NEVER),
                    TyKind::Array(e) => (It::Each(v, IterKind::Array), e),
                    TyKind::Map(e) => (It::Each(v, IterKind::MapValues), e),
                    TyKind::String => (It::Each(v, IterKind::String), TyId::STRING),
                    _ => {
                        let mut d = Diagnostic::new(
                            Code::NotIterable,
                            v.span,
                            format!("a value of type `{}` cannot be iterated", self.show(v.ty)),
                        )
                        .with_primary(format!("this is `{}`", self.show(v.ty)))
                        .with_help(
                            "`foreach` works on arrays, maps, strings and ranges such as `0 ..< n`",
                        );
                        if matches!(
                            self.types.kind(v.ty),
                            TyKind::Json | TyKind::Any | TyKind::Union(_)
                        ) {
                            d = d.with_help(
                                "narrow or convert the value first, e.g. `if x is json[] { ... }`",
                            );
                        }
                        self.report(d);
                        (It::Bad, TyId::NEVER)
                    }
                }
            }
        };
        let var_ty = match ty {
            Some(t) => {
                let t_id = self.resolve_type(t);
                if !self.assignable(elem, t_id) {
                    self.report(Diagnostic::new(
                        Code::TypeMismatch,
                        t.span,
                        format!(
                            "the loop variable has type `{}`, but the elements are `{}`",
                            self.show(t_id),
                            self.show(elem)
                        ),
                    ));
                }
                t_id
            }
            None => elem,
        };
        let names = assigned_names(body);
        self.forget_names(&names);
        let snap = self.snapshot();
        self.fx().push_scope();
        let (local, _) =
            self.fx()
                .declare(&name.name, name.span, var_ty, LocalKind::Binding, false);
        self.fx().loops.push(LoopFrame::default());
        let (b, _) = self.block(body);
        self.fx().loops.pop();
        self.close_scope();
        self.restore_minus_assigned(&snap);
        let kind = match it {
            It::Range(lo, hi, inclusive) => StmtKind::ForRange {
                local,
                lo,
                hi,
                inclusive,
                body: b,
            },
            It::Each(iter, kind) => StmtKind::ForEach {
                local,
                iter,
                kind,
                body: b,
            },
            It::Bad => StmtKind::Block(b),
        };
        Self::push(out, kind, span);
    }

    pub(crate) fn do_stmt(
        &mut self,
        body: &ast::Block,
        on_fail: Option<&ast::OnFail>,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) -> bool {
        let snap = self.snapshot();
        if on_fail.is_some() {
            self.fx().handlers.push(Handler::default());
        }
        let (b, bdiv) = self.block(body);
        let Some(of) = on_fail else {
            Self::push(
                out,
                StmtKind::Do {
                    body: b,
                    handler: None,
                },
                span,
            );
            return bdiv;
        };
        let h = self.fx().handlers.pop().unwrap_or_default();
        let body_changes = self.changes_since(&snap);
        self.restore_minus_assigned(&snap);
        let (local, hb, hdiv) = self.on_fail_block(of, &h.errors);
        if bdiv && !hdiv {
            // Only the handler reaches the rest: keep its state.
        } else if hdiv && !bdiv {
            self.restore(&snap);
            self.reapply(body_changes);
        } else {
            self.restore_minus_assigned(&snap);
        }
        Self::push(
            out,
            StmtKind::Do {
                body: b,
                handler: Some((local, hb)),
            },
            span,
        );
        bdiv && hdiv
    }

    /// The type of an `on fail` variable reached by `errors` (each
    /// failure's error type and position): the declared type, which must
    /// cover them all (`error-type-mismatch` at each failure it does not),
    /// or their union for `on fail var e` (plain `error` when none).
    /// Checks `on fail var e { ... }` reached by `errors`: declares `e`
    /// (typed from them) in a scope of its own and checks the block.
    /// Returns the variable, the block and whether the block diverges.
    pub(crate) fn on_fail_block(
        &mut self,
        of: &ast::OnFail,
        errors: &[(TyId, Span)],
    ) -> (tir::LocalId, tir::Block, bool) {
        let var_ty = self.on_fail_var_ty(of, errors);
        self.fx().push_scope();
        let (local, _) = self.fx().declare(
            &of.name.name,
            of.name.span,
            var_ty,
            LocalKind::Handler,
            false,
        );
        let (hb, hdiv) = self.block(&of.body);
        self.close_scope();
        (local, hb, hdiv)
    }

    pub(crate) fn on_fail_var_ty(&mut self, of: &ast::OnFail, errors: &[(TyId, Span)]) -> TyId {
        let reaching: Vec<TyId> = errors.iter().map(|(t, _)| *t).collect();
        match &of.ty {
            Some(t) => {
                let t_id = self.resolve_type(t);
                if !self.is_poison(t_id) && !self.types.assignable(t_id, TyId::ERROR) {
                    self.report(Diagnostic::new(
                        Code::TypeMismatch,
                        t.span,
                        format!(
                            "an `on fail` variable must have an error type, not `{}`",
                            self.show(t_id)
                        ),
                    ));
                } else if !self.is_poison(t_id) {
                    for (et, espan) in errors {
                        if !self.types.assignable(*et, t_id) {
                            let msg = format!(
                                "this failure has type `{}`, which the handler `on fail {} {}` does not accept",
                                self.show(*et),
                                self.show(t_id),
                                of.name.name
                            );
                            self.report(
                                Diagnostic::new(Code::ErrorTypeMismatch, *espan, msg)
                                    .with_label(t.span, format!("only `{}` is handled here", self.show(t_id)))
                                    .with_help("use `on fail var e` (or a wider error type) to handle every error that can reach it"),
                            );
                        }
                    }
                }
                t_id
            }
            None => {
                if reaching.is_empty() {
                    TyId::ERROR
                } else {
                    self.types.union(&reaching)
                }
            }
        }
    }

    /// `match`: a hidden local holds the value; each arm becomes an `if`
    /// testing `==` against its patterns (and its guard), nested in the
    /// previous arm's `else`.
    fn match_stmt(
        &mut self,
        value: &ast::Expr,
        arms: &[ast::MatchArm],
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) -> bool {
        struct Arm {
            bind: Option<tir::Stmt>,
            test: Option<tir::Expr>,
            body: tir::Block,
            span: Span,
        }
        let subject = self.expr(value, None);
        let subject = self.no_error(subject, "a matched value");
        let sty = subject.ty;
        // The matched variable, narrowed in each arm and after the match.
        let subject_key = key_of(&subject);
        let tmp = self.fx().hidden(sty, value.span);
        let read = |span: Span| tir::Expr {
            kind: ExprKind::Local(tmp),
            ty: sty,
            span,
        };
        let snap = self.snapshot();
        // What the value can still be when an arm is tried: the earlier
        // unguarded arms did not match (only `()` patterns shrink it).
        let mut remaining = sty;
        let mut lowered: Vec<Arm> = Vec::with_capacity(arms.len());
        let mut all_div = true;
        let mut catch_all = false;
        // The narrowing state at the end of each path that falls through
        // to the statement after the match.
        let mut exits: Vec<Changes> = Vec::new();
        for arm in arms {
            // An arm is reached only through the failed tests of the arms
            // before it, which assign nothing: it starts from the state
            // before the match.
            self.restore(&snap);
            self.fx().push_scope();
            let mut bind = None;
            let mut test: Option<tir::Expr> = None;
            let mut wildcard = false;
            let mut value_tys = Vec::new();
            let mut has_nil_pattern = false;
            for p in &arm.patterns {
                match p {
                    ast::Pattern::Bind(id) => {
                        if arm.patterns.len() > 1 {
                            self.error(
                                Code::TypeMismatch,
                                id.span,
                                "a `var` pattern cannot be combined with other patterns",
                            );
                        }
                        let (local, dup) = self.fx().declare(
                            &id.name,
                            id.span,
                            remaining,
                            LocalKind::Binding,
                            false,
                        );
                        if let Some(prev) = dup {
                            self.duplicate(id, prev);
                        }
                        bind = Some(tir::Stmt {
                            kind: StmtKind::Let {
                                local,
                                init: read(id.span),
                            },
                            span: id.span,
                        });
                        wildcard = true;
                    }
                    ast::Pattern::Wildcard(_) => wildcard = true,
                    ast::Pattern::Value(pe) => {
                        let hint = if self.is_poison(sty) { None } else { Some(sty) };
                        let pv = self.expr(pe, hint);
                        if !is_constant_pattern(&pv) {
                            self.error(
                                Code::TypeMismatch,
                                pe.span,
                                "a match pattern must be a literal, `()` or a constant",
                            );
                        } else if !self.comparable(sty, pv.ty) {
                            self.report(Diagnostic::new(
                                Code::TypeMismatch,
                                pe.span,
                                format!(
                                    "this pattern has type `{}`, which a `{}` value can never equal",
                                    self.show(pv.ty),
                                    self.show(sty)
                                ),
                            ));
                        }
                        if matches!(pv.kind, ExprKind::Lit(Literal::Nil)) {
                            has_nil_pattern = true;
                        }
                        value_tys.push(pv.ty);
                        let eq = tir::Expr {
                            kind: ExprKind::Binary(
                                BinOp::Eq,
                                Box::new(read(pe.span)),
                                Box::new(pv),
                            ),
                            ty: TyId::BOOLEAN,
                            span: pe.span,
                        };
                        test = Some(match test {
                            None => eq,
                            Some(prev) => tir::Expr {
                                span: prev.span,
                                kind: ExprKind::Or(Box::new(prev), Box::new(eq)),
                                ty: TyId::BOOLEAN,
                            },
                        });
                    }
                }
            }
            if wildcard {
                test = None;
            }
            // Narrow the matched variable inside the arm to what the arm's
            // patterns admit.
            if let Some(k) = subject_key {
                let narrowed = if !wildcard && !value_tys.is_empty() {
                    let u = self.types.union(&value_tys);
                    self.types.intersect(remaining, u)
                } else {
                    remaining
                };
                if narrowed != sty {
                    self.apply_facts(&[(k, narrowed)]);
                }
            }
            let guard = arm.guard.as_ref().map(|g| self.condition(g));
            if let Some(g) = &guard {
                let facts = self.facts(g);
                self.apply_facts(&facts.when_true);
            }
            let (body, div) = self.block(&arm.body);
            self.close_scope();
            all_div &= div;
            if !div {
                exits.push(self.changes_since(&snap));
            }
            if guard.is_none() {
                if wildcard {
                    catch_all = true;
                }
                if has_nil_pattern {
                    remaining = self.types.without_nil(remaining);
                }
            }
            let test = match (test, guard) {
                (None, g) => g,
                (Some(t), None) => Some(t),
                (Some(t), Some(g)) => Some(tir::Expr {
                    span: t.span,
                    kind: ExprKind::And(Box::new(t), Box::new(g)),
                    ty: TyId::BOOLEAN,
                }),
            };
            lowered.push(Arm {
                bind,
                test,
                body,
                span: arm.span,
            });
        }
        if !catch_all {
            // No arm matches: the value is what no unguarded arm took.
            self.restore(&snap);
            if let Some(k) = subject_key {
                if remaining != sty {
                    self.apply_facts(&[(k, remaining)]);
                }
            }
            exits.push(self.changes_since(&snap));
        }
        // §3.3: after the match, each variable has the join of its types at
        // the ends of the arms that fall through (and of the no-match path).
        self.join_paths(&snap, &exits);
        // Build the chain from the last arm.
        let mut chain: Vec<tir::Stmt> = Vec::new();
        for arm in lowered.into_iter().rev() {
            let mut inner = match arm.test {
                Some(cond) => vec![tir::Stmt {
                    kind: StmtKind::If {
                        cond,
                        then: arm.body,
                        otherwise: tir::Block { stmts: chain },
                    },
                    span: arm.span,
                }],
                None => arm.body.stmts,
            };
            if let Some(b) = arm.bind {
                inner.insert(0, b);
                inner = vec![tir::Stmt {
                    kind: StmtKind::Block(tir::Block { stmts: inner }),
                    span: arm.span,
                }];
            }
            chain = inner;
        }
        let mut stmts = vec![tir::Stmt {
            kind: StmtKind::Let {
                local: tmp,
                init: subject,
            },
            span: value.span,
        }];
        stmts.extend(chain);
        Self::push(out, StmtKind::Block(tir::Block { stmts }), span);
        catch_all && all_div && !arms.is_empty()
    }
}

/// Whether a checked pattern expression is a constant.
fn is_constant_pattern(e: &tir::Expr) -> bool {
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Global(_) => true,
        ExprKind::Unary(_, x) => matches!(x.kind, ExprKind::Lit(_)),
        _ => e.ty == TyId::NEVER,
    }
}
