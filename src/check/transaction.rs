//! Transactions (§12): `transaction { } on fail`, `compensate`, `commit`,
//! `rollback` and `retry (...) transaction`, lowered to natives of the
//! `tx` module (loaded implicitly when a module mentions `transaction`).
//!
//! The body becomes a closure over the enclosing locals (checked like a
//! `timeout` body, `check::resilience::body_closure`) that `tx:run` runs as
//! one transaction, compensating when it fails, panics or rolls back:
//!
//! ```text
//! { $r = tx:run(<body closure>, attempt);   // false | true (rolled back) | the failure
//!   do {
//!     if $r is error { fail $r; }
//!     // only in `retry (count = N) transaction`: a rollback re-runs the block
//!     else if $r == true && attempt < N { fail tx:Error("rolled back"); }
//!   } on fail ... { ... }
//! }
//! ```
//!
//! `compensate ep->m(args)` is checked as the remote call and lowered to
//! `tx:compensate(ep, method, path, body, headers, query)` (the arguments
//! are evaluated at registration); `commit` to `tx:commit()` (`error?`),
//! `rollback;` to `tx:rollback()`.
//!
//! Static rules: `transaction-not-ended` (every path that reaches the end of
//! the body has executed `commit` or `rollback`), `nested-transaction`,
//! `invalid-compensation` (only remote calls); with `on fail` the statement
//! is the failure handler of its body, whose variable also admits
//! `tx:HeuristicError` when the body registers compensations; without it
//! the failures go outward.

use super::checker::{Checker, ItemRef};
use super::resilience::{
    block, expr, finish_closure_statement, int, is_true, let_stmt, stmt, BodyClosure,
};
use super::tir::{self, BinOp, Callee, ExprKind, Literal, StmtKind};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast;
use crate::syntax::span::Span;

impl Checker {
    /// `transaction { body } on fail ...` (§12); returns whether it always
    /// leaves.
    pub(crate) fn transaction_stmt(
        &mut self,
        body: &ast::Block,
        on_fail: Option<&ast::OnFail>,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) -> bool {
        let retry = self.tx_retry.take();
        let keyword = keyword_span(span, "transaction");
        if self.tx_depth > 0 {
            self.report(
                Diagnostic::new(
                    Code::NestedTransaction,
                    keyword,
                    "a `transaction` statement cannot be inside another transaction",
                )
                .with_help(
                    "make these remote calls part of the enclosing transaction, or run this transaction after it has ended",
                ),
            );
        }
        if !ends(&body.stmts) {
            self.report(
                Diagnostic::new(
                    Code::TransactionNotEnded,
                    keyword,
                    "this transaction can reach the end of its block without `commit` or `rollback`",
                )
                .with_label(
                    Span {
                        start: body.span.end.saturating_sub(1),
                        ..body.span
                    },
                    "reached here without `commit` or `rollback`",
                )
                .with_help("end every path through the block with `check commit;` or `rollback;`"),
            );
        }
        let run = self.stdlib_native("tx", "run", span);
        let heuristic = if compensates(&body.stmts) {
            self.tx_error_type("HeuristicError")
        } else {
            None
        };
        self.tx_depth += 1;
        let closure = self.body_closure(body, on_fail.is_some(), span, "transaction");
        self.tx_depth -= 1;
        let Some(BodyClosure {
            fid,
            fn_ty,
            failures,
            diverges: body_div,
        }) = closure
        else {
            return false;
        };

        // Where the body's failures (and a heuristic outcome) go.
        let (handler, diverges) = self.closure_failures(
            on_fail,
            failures,
            heuristic.map(|h| (h, keyword)),
            "transaction",
            body_div,
        );
        let Some((run, run_ret)) = run else {
            return diverges;
        };

        let mut stmts = Vec::new();
        let attempt = retry
            .as_ref()
            .map_or_else(|| int(0, span), |(n, _)| n.clone());
        let r = self.fx().hidden(run_ret, span);
        stmts.push(let_stmt(
            r,
            expr(
                ExprKind::Call(
                    Callee::Func(run),
                    vec![
                        Some(expr(ExprKind::Lambda(fid), fn_ty, span)),
                        Some(attempt),
                    ],
                ),
                run_ret,
                span,
            ),
            span,
        ));
        let rerun = match (&retry, self.tx_error_type("Error")) {
            (Some((n, count)), Some(tx_error)) => {
                self.rerun_after_rollback(r, run_ret, n.clone(), count.clone(), tx_error, span)
            }
            _ => Vec::new(),
        };
        finish_closure_statement(stmts, (r, run_ret), rerun, handler, span, out);
        diverges
    }

    /// In `retry (count = N) transaction`: `if $r == true && n < N { fail
    /// tx:Error("rolled back"); }`, so that a block that rolled back without
    /// failing runs again (the retry's handler catches the failure).
    fn rerun_after_rollback(
        &mut self,
        r: tir::LocalId,
        run_ret: TyId,
        n: tir::Expr,
        count: tir::Expr,
        tx_error: TyId,
        span: Span,
    ) -> Vec<tir::Stmt> {
        let TyKind::Error(id) = *self.types.kind(tx_error) else {
            return Vec::new();
        };
        let rolled_back = is_true(r, run_ret, span);
        let more = expr(
            ExprKind::Binary(BinOp::LtInt, Box::new(n), Box::new(count)),
            TyId::BOOLEAN,
            span,
        );
        let marker = expr(
            ExprKind::ErrorNew {
                error: id,
                message: Box::new(expr(
                    ExprKind::Lit(Literal::Str("rolled back".into())),
                    TyId::STRING,
                    span,
                )),
                cause: None,
                detail: Vec::new(),
            },
            tx_error,
            span,
        );
        vec![stmt(
            StmtKind::If {
                cond: rolled_back,
                then: block(vec![stmt(
                    StmtKind::If {
                        cond: more,
                        then: block(vec![stmt(StmtKind::Fail(marker), span)]),
                        otherwise: block(Vec::new()),
                    },
                    span,
                )]),
                otherwise: block(Vec::new()),
            },
            span,
        )]
    }

    /// `compensate <remote call>;` (§12).
    pub(crate) fn compensate_stmt(
        &mut self,
        call: &ast::Expr,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) {
        if self.tx_depth == 0 && !self.tx_resource {
            self.outside_transaction(span, "compensate");
        }
        let ast::ExprKind::RemoteCall {
            target,
            method,
            args,
        } = &call.kind
        else {
            let mut d = Diagnostic::new(
                Code::InvalidCompensation,
                call.span,
                "only a remote call can be a compensation",
            );
            d = match &call.kind {
                ast::ExprKind::Check(x) | ast::ExprKind::CheckPanic(x)
                    if matches!(x.kind, ast::ExprKind::RemoteCall { .. }) =>
                {
                    d.with_help("remove `check`: the call is only registered now, and runs (with the endpoint's retry policy) if the transaction rolls back")
                }
                _ => d.with_help(
                    "write `compensate endpoint->method(...)`; compensations are persisted and replayed, so they must be remote calls",
                ),
            };
            self.report(d);
            let _ = self.expr(call, None);
            return;
        };
        let checked = self.remote_call(target, method, args, call.span, Some(TyId::NIL));
        let Some((compensate, ret)) = self.stdlib_native("tx", "compensate", span) else {
            return;
        };
        let ExprKind::Call(_, mut args) = checked.kind else {
            return;
        };
        // The remote call's target, method, path, body, headers and query.
        args.truncate(6);
        out.push(stmt(
            StmtKind::Expr(expr(
                ExprKind::Call(Callee::Func(compensate), args),
                ret,
                span,
            )),
            span,
        ));
    }

    /// `rollback;` (§12).
    pub(crate) fn rollback_stmt(&mut self, span: Span, out: &mut Vec<tir::Stmt>) {
        if self.tx_depth == 0 {
            self.outside_transaction(span, "rollback");
        }
        if let Some((f, ret)) = self.stdlib_native("tx", "rollback", span) {
            out.push(stmt(
                StmtKind::Expr(expr(ExprKind::Call(Callee::Func(f), Vec::new()), ret, span)),
                span,
            ));
        }
    }

    /// `commit` (§12): an expression of type `error?`.
    pub(crate) fn commit_expr(&mut self, span: Span) -> tir::Expr {
        if self.tx_depth == 0 {
            self.outside_transaction(span, "commit");
        }
        match self.stdlib_native("tx", "commit", span) {
            Some((f, ret)) => expr(ExprKind::Call(Callee::Func(f), Vec::new()), ret, span),
            None => Checker::poison(span),
        }
    }

    fn outside_transaction(&mut self, span: Span, what: &str) {
        self.report(
            Diagnostic::new(
                Code::Syntax,
                keyword_span(span, what),
                format!("`{what}` outside a transaction"),
            )
            .with_help("use it inside `transaction { ... }`"),
        );
    }

    /// An error type of the `tx` module (`Error`, `HeuristicError`).
    fn tx_error_type(&mut self, name: &str) -> Option<TyId> {
        let idx = self.modules.iter().find_map(|m| {
            if !(m.stdlib && &*m.prefix == "tx") {
                return None;
            }
            match m.items.get(name)?.item {
                ItemRef::Type(idx) => Some(idx),
                _ => None,
            }
        })?;
        let t = self.ensure_type_decl(idx);
        matches!(self.types.kind(t), TyKind::Error(_)).then_some(t)
    }
}

/// The span of a statement's leading keyword.
fn keyword_span(span: Span, keyword: &str) -> Span {
    Span {
        end: (span.start + keyword.len() as u32).min(span.end),
        ..span
    }
}

/// Whether every path that runs `stmts` to their end has executed `commit`
/// or `rollback` (a path that leaves by `fail`, `panic`, `return`, `break`
/// or `continue` does not reach the end).
fn ends(stmts: &[ast::Stmt]) -> bool {
    stmts.iter().any(stmt_ends)
}

fn stmt_ends(s: &ast::Stmt) -> bool {
    use ast::StmtKind as S;
    match &s.kind {
        S::Rollback => true,
        S::Fail(_) | S::Panic(_) | S::Return(_) | S::Break | S::Continue => true,
        S::VarDecl(d) => d.init.as_ref().is_some_and(commits),
        S::Assign { target, value, .. } => commits(target) || commits(value),
        S::Discard(e) | S::Expr(e) => commits(e),
        S::If {
            cond,
            then,
            otherwise,
        } => commits(cond) || (ends(&then.stmts) && otherwise.as_deref().is_some_and(stmt_ends)),
        S::Block(b) => ends(&b.stmts),
        S::While { cond, .. } => commits(cond),
        S::Foreach { iter, .. } => commits(iter),
        S::Match { value, arms } => {
            commits(value)
                || (arms.iter().all(|a| ends(&a.body.stmts))
                    && arms.iter().any(|a| {
                        a.guard.is_none()
                            && a.patterns.iter().any(|p| {
                                matches!(p, ast::Pattern::Bind(_) | ast::Pattern::Wildcard(_))
                            })
                    }))
        }
        S::Do { body, on_fail } => {
            ends(&body.stmts) && on_fail.as_ref().is_none_or(|f| ends(&f.body.stmts))
        }
        S::Retry { body, on_fail, .. } => {
            stmt_ends(body) && on_fail.as_ref().is_none_or(|f| ends(&f.body.stmts))
        }
        S::Timeout { body, on_fail, .. } => {
            ends(&body.stmts) && on_fail.as_ref().is_none_or(|f| ends(&f.body.stmts))
        }
        S::Transaction { .. } | S::Compensate(_) | S::Error => false,
    }
}

/// Whether evaluating `e` certainly evaluates `commit`.
fn commits(e: &ast::Expr) -> bool {
    use ast::ExprKind as E;
    match &e.kind {
        E::Commit => true,
        E::Template(parts) => parts.iter().any(|p| match p {
            ast::TemplatePart::Expr(x) => commits(x),
            ast::TemplatePart::Text(_) => false,
        }),
        E::EmptyIndex(x)
        | E::Unary(_, x)
        | E::Is(x, _)
        | E::Cast(_, x)
        | E::Check(x)
        | E::CheckPanic(x)
        | E::Trap(x)
        | E::Wait(x)
        | E::Field { target: x, .. } => commits(x),
        E::Array(xs) | E::WaitAny(xs) => xs.iter().any(commits),
        E::Mapping(fields) => fields.iter().any(|f| commits(&f.value)),
        E::ErrorCtor(args) => args.iter().any(|a| commits(&a.value)),
        E::Binary(op, a, b) => {
            commits(a) || (!matches!(op, ast::BinOp::And | ast::BinOp::Or) && commits(b))
        }
        E::Ternary(c, a, b) => commits(c) || (commits(a) && commits(b)),
        E::Elvis(a, _) => commits(a),
        E::Index(a, b) => commits(a) || commits(b),
        E::Range { lo, hi, .. } => commits(lo) || commits(hi),
        E::Call(f, args) => commits(f) || args.iter().any(|a| commits(&a.value)),
        E::MethodCall { target, args, .. } | E::RemoteCall { target, args, .. } => {
            commits(target) || args.iter().any(|a| commits(&a.value))
        }
        _ => false,
    }
}

/// Whether a transaction body contains a `compensate` statement (outside
/// function literals, which cannot register in this transaction's name).
fn compensates(stmts: &[ast::Stmt]) -> bool {
    use ast::StmtKind as S;
    stmts.iter().any(|s| match &s.kind {
        S::Compensate(_) => true,
        S::If {
            then, otherwise, ..
        } => {
            compensates(&then.stmts)
                || otherwise
                    .as_deref()
                    .is_some_and(|o| compensates(std::slice::from_ref(o)))
        }
        S::Block(b) | S::While { body: b, .. } | S::Foreach { body: b, .. } => {
            compensates(&b.stmts)
        }
        S::Match { arms, .. } => arms.iter().any(|a| compensates(&a.body.stmts)),
        S::Do { body, on_fail } | S::Timeout { body, on_fail, .. } => {
            compensates(&body.stmts) || on_fail.as_ref().is_some_and(|f| compensates(&f.body.stmts))
        }
        S::Retry { body, on_fail, .. } => {
            compensates(std::slice::from_ref(&**body))
                || on_fail.as_ref().is_some_and(|f| compensates(&f.body.stmts))
        }
        _ => false,
    })
}
