//! The resilience statements of §9.6, lowered to plain TIR.
//!
//! `retry (count = 3, interval = 50ms, ...) { body } on fail var e { ... }`
//! is checked like `do { body } on fail` (the body may run several times, so
//! the narrowing of every name it assigns is forgotten first) and becomes:
//!
//! ```text
//! { $n = 0; $state = [];                        // + a hidden local per non-literal argument
//!   do {                                        // the statement's `on fail`, if any
//!     while true {
//!       do { body; break; }
//!       on fail $e {
//!         if $n >= count { fail $e; }            // to the `on fail`, or outward
//!         else { $n = $n + 1; $state = time:retryPause(interval, ..., $state); }
//!       }
//!     }
//!   } on fail var e { ... }
//!   if $exit == 1 { break; } if $exit == 2 { continue; }  // only when needed
//! }
//! ```
//!
//! A `break`/`continue` in the body that leaves the `retry` (it targets an
//! enclosing loop of the user's) is rewritten to set `$exit` and leave the
//! synthetic loop; the dispatch after it then breaks or continues the user's
//! loop. `return` needs nothing; a panic is not a failure, so it is never
//! retried.
//!
//! `timeout (d) { body } on fail ...` turns the body into a closure over the
//! enclosing locals (a function of type `function() returns error?`, checked
//! in its own function context like a function literal) that the native
//! `time:runWithTimeout` runs in a strand of its own:
//!
//! ```text
//! { $d = d;
//!   $r = time:runWithTimeout($d, <body closure>);  // false | the body's error | true (timed out)
//!   do {
//!     if $r is error { fail $r; }
//!     else if $r == true { fail time:TimeoutError("timed out after ${$d}"); }
//!   } on fail ... { ... }
//! }
//! ```
//!
//! `return`, and `break`/`continue` that would leave the body, cannot be
//! carried out of the closure: they are reported (`flow::syntax`, like a
//! `break` outside a loop).
//!
//! Static rules (§8.4, §9.6): with an `on fail` clause the statement is the
//! failure handler of its body (its variable has the union of the body's
//! failure types, plus `time:TimeoutError` for `timeout`); without one the
//! failures go outward as if the body were written in place.

use super::checker::{suggest, Checker, ItemRef};
use super::narrow::assigned_names;
use super::scope::{FnCtx, Handler};
use super::tir::{self, BinOp, Callee, ExprKind, FuncId, Literal, LocalId, Place, StmtKind};
use super::types::{FnType, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::runtime::resilience::Jitter;
use crate::syntax::ast;
use crate::syntax::span::Span;

/// The arguments of a `retry` statement, in the order `time:retryPause`
/// takes the last four: name, type and default (§9.3).
const RETRY_PARAMS: [&str; 5] = [
    "count",
    "interval",
    "backOffFactor",
    "maxWaitInterval",
    "jitter",
];

/// `RetryConfig` fields that only HTTP retries have.
const HTTP_ONLY: [&str; 3] = ["statusCodes", "methods", "budget"];

const JITTER_MODES: &str = "\"none\", \"full\", \"equal\" or \"decorrelated\"";

/// The body of a `timeout` or `transaction` statement as a closure.
pub(super) struct BodyClosure {
    /// The closure's function.
    pub fid: FuncId,
    /// Its type, `function() returns error?`.
    pub fn_ty: TyId,
    /// The failures that leave the body, with their positions.
    pub failures: Vec<(TyId, Span)>,
    /// Whether the body always leaves.
    pub diverges: bool,
}

/// Values of `$exit` after a `retry` body left through `break`/`continue`.
const EXIT_BREAK: i64 = 1;
const EXIT_CONTINUE: i64 = 2;

impl Checker {
    /// `retry (args) { body } on fail ...` (§9.6); returns whether it always
    /// leaves.
    pub(crate) fn retry_stmt(
        &mut self,
        args: &[ast::Arg],
        body: &ast::Stmt,
        on_fail: Option<&ast::OnFail>,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) -> bool {
        let values = self.retry_args(args, span);
        // `retry (...) transaction { }` retries the transaction statement
        // (`check::transaction`), which learns the attempt number and the
        // count from `tx_retry`.
        let tx_block;
        let (b, is_tx) = match &body.kind {
            ast::StmtKind::Block(b) => (b, false),
            _ => {
                tx_block = ast::Block {
                    stmts: vec![body.clone()],
                    span: body.span,
                };
                (&tx_block, true)
            }
        };
        let pause = self.time_native("retryPause", span);
        let mut stmts = Vec::new();
        let [count, interval, factor, max_wait, jitter] = values.map(|v| self.stash(v, &mut stmts));
        let n = self.fx().hidden(TyId::INT, span);
        // The body may run again after assigning: start it without the
        // narrowing of the names it assigns.
        self.forget_names(&assigned_names(b));
        let mut checked = Vec::with_capacity(1);
        let saved_retry = self.tx_retry.take();
        if is_tx {
            self.tx_retry = Some((local(n, TyId::INT, span), count.clone()));
        }
        let diverges = self.do_stmt(b, on_fail, span, &mut checked);
        self.tx_retry = saved_retry;
        let Some((pause, ret)) = pause else {
            return diverges;
        };
        let Some(tir::Stmt {
            kind:
                StmtKind::Do {
                    body: mut user_body,
                    handler,
                },
            ..
        }) = checked.pop()
        else {
            return diverges;
        };

        let state_ty = self.types.array(TyId::DURATION);
        let state = self.fx().hidden(state_ty, span);
        let err = self.fx().hidden(TyId::ERROR, span);
        let exit = self.fx().hidden(TyId::INT, span);
        stmts.push(let_stmt(n, int(0, span), span));
        stmts.push(let_stmt(
            state,
            expr(ExprKind::Array(Vec::new()), state_ty, span),
            span,
        ));
        let leaves_loop = redirect_loop_exits(&mut user_body.stmts, exit);
        if leaves_loop {
            stmts.push(let_stmt(exit, int(0, span), span));
        }
        user_body.stmts.push(stmt(StmtKind::Break, span));

        let pause_call = expr(
            ExprKind::Call(
                Callee::Func(pause),
                vec![
                    Some(interval),
                    Some(factor),
                    Some(max_wait),
                    Some(jitter),
                    Some(local(state, state_ty, span)),
                ],
            ),
            ret,
            span,
        );
        let exhausted = expr(
            ExprKind::Binary(
                BinOp::GeInt,
                Box::new(local(n, TyId::INT, span)),
                Box::new(count),
            ),
            TyId::BOOLEAN,
            span,
        );
        let next_attempt = expr(
            ExprKind::Binary(
                BinOp::AddInt,
                Box::new(local(n, TyId::INT, span)),
                Box::new(int(1, span)),
            ),
            TyId::INT,
            span,
        );
        let on_failure = vec![stmt(
            StmtKind::If {
                cond: exhausted,
                then: block(vec![stmt(
                    StmtKind::Fail(local(err, TyId::ERROR, span)),
                    span,
                )]),
                otherwise: block(vec![
                    assign(n, next_attempt, span),
                    assign(state, pause_call, span),
                ]),
            },
            span,
        )];
        let attempt = stmt(
            StmtKind::Do {
                body: user_body,
                handler: Some((err, block(on_failure))),
            },
            span,
        );
        let retry_loop = stmt(
            StmtKind::While {
                cond: expr(ExprKind::Lit(Literal::Bool(true)), TyId::BOOLEAN, span),
                body: block(vec![attempt]),
            },
            span,
        );
        stmts.push(stmt(
            StmtKind::Do {
                body: block(vec![retry_loop]),
                handler,
            },
            span,
        ));
        if leaves_loop {
            let is = |code: i64| {
                expr(
                    ExprKind::Binary(
                        BinOp::Eq,
                        Box::new(local(exit, TyId::INT, span)),
                        Box::new(int(code, span)),
                    ),
                    TyId::BOOLEAN,
                    span,
                )
            };
            stmts.push(stmt(
                StmtKind::If {
                    cond: is(EXIT_BREAK),
                    then: block(vec![stmt(StmtKind::Break, span)]),
                    otherwise: block(vec![stmt(
                        StmtKind::If {
                            cond: is(EXIT_CONTINUE),
                            then: block(vec![stmt(StmtKind::Continue, span)]),
                            otherwise: block(Vec::new()),
                        },
                        span,
                    )]),
                },
                span,
            ));
        }
        out.push(stmt(StmtKind::Block(block(stmts)), span));
        diverges
    }

    /// Checks the named arguments of a `retry` statement; returns
    /// `[count, interval, backOffFactor, maxWaitInterval, jitter]`, the
    /// defaults of §9.3 for those not given.
    fn retry_args(&mut self, args: &[ast::Arg], span: Span) -> [tir::Expr; 5] {
        let tys = [
            TyId::INT,
            TyId::DURATION,
            TyId::FLOAT,
            TyId::DURATION,
            TyId::STRING,
        ];
        let mut values: [Option<tir::Expr>; 5] = Default::default();
        let mut seen: [Option<Span>; 5] = [None; 5];
        for a in args {
            let Some(name) = &a.name else {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        a.value.span,
                        "the arguments of `retry` must be named",
                    )
                    .with_help(
                        "write e.g. `retry (count = 3, interval = 100ms) { ... }`; the arguments are count, interval, backOffFactor, maxWaitInterval and jitter",
                    ),
                );
                let _ = self.expr(&a.value, None);
                continue;
            };
            let Some(i) = RETRY_PARAMS.iter().position(|p| **p == *name.name) else {
                let mut d = Diagnostic::new(
                    Code::UnknownName,
                    name.span,
                    format!("`retry` has no argument `{}`", name.name),
                );
                if HTTP_ONLY.contains(&&*name.name) {
                    d = d.with_help(format!(
                        "`{}` only applies to the retries of an HTTP client (`http:ClientConfig`)",
                        name.name
                    ));
                } else if let Some(s) = suggest(&name.name, RETRY_PARAMS) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_help(
                        "the arguments are count, interval, backOffFactor, maxWaitInterval and jitter",
                    );
                }
                self.report(d);
                let _ = self.expr(&a.value, None);
                continue;
            };
            if let Some(prev) = seen[i] {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        name.span,
                        format!("the argument `{}` is given twice", name.name),
                    )
                    .with_label(prev, "first given here"),
                );
            }
            seen[i] = Some(name.span);
            let v = self.expr(&a.value, Some(tys[i]));
            let v = self.coerce(v, tys[i]);
            self.check_retry_literal(i, &v);
            values[i] = Some(v);
        }
        let defaults = [
            int(0, span),
            expr(
                ExprKind::Lit(Literal::Duration(100_000_000)),
                TyId::DURATION,
                span,
            ),
            expr(ExprKind::Lit(Literal::Float(2.0)), TyId::FLOAT, span),
            expr(
                ExprKind::Lit(Literal::Duration(10_000_000_000)),
                TyId::DURATION,
                span,
            ),
            expr(
                ExprKind::Lit(Literal::Str("full".into())),
                TyId::STRING,
                span,
            ),
        ];
        let mut i = 0;
        defaults.map(|d| {
            let v = values[i].take().unwrap_or(d);
            i += 1;
            v
        })
    }

    /// Rejects literal `retry` arguments the runtime would refuse: a
    /// negative count, a factor below 1.0, an unknown jitter mode.
    fn check_retry_literal(&mut self, i: usize, v: &tir::Expr) {
        let bad = match (i, &v.kind) {
            (0, ExprKind::Lit(Literal::Int(n))) if *n < 0 => {
                Some(("`count` cannot be negative".to_string(), None))
            }
            (0, ExprKind::Unary(tir::UnOp::NegInt, x)) if matches!(x.kind, ExprKind::Lit(Literal::Int(n)) if n > 0) => {
                Some(("`count` cannot be negative".to_string(), None))
            }
            (2, ExprKind::Lit(Literal::Float(f))) if !(f.is_finite() && *f >= 1.0) => Some((
                format!("`backOffFactor` must be at least 1.0, found {f}"),
                None,
            )),
            (2, ExprKind::Unary(tir::UnOp::NegFloat, x))
                if matches!(x.kind, ExprKind::Lit(Literal::Float(_))) =>
            {
                Some(("`backOffFactor` must be at least 1.0".to_string(), None))
            }
            (4, ExprKind::Lit(Literal::Str(s))) if Jitter::from_name(s).is_none() => {
                let names = ["none", "full", "equal", "decorrelated"];
                let help = match suggest(s, names) {
                    Some(m) => format!("did you mean \"{m}\"?"),
                    None => format!("the jitter modes are {JITTER_MODES}"),
                };
                Some((
                    format!("`jitter` must be {JITTER_MODES}, not {s:?}"),
                    Some(help),
                ))
            }
            _ => None,
        };
        if let Some((msg, help)) = bad {
            let mut d = Diagnostic::new(Code::TypeMismatch, v.span, msg);
            if let Some(h) = help {
                d = d.with_help(h);
            }
            self.report(d);
        }
    }

    /// `timeout (d) { body } on fail ...` (§9.6); returns whether it always
    /// leaves.
    pub(crate) fn timeout_stmt(
        &mut self,
        limit: &ast::Expr,
        body: &ast::Block,
        on_fail: Option<&ast::OnFail>,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) -> bool {
        let d = self.expr(limit, Some(TyId::DURATION));
        let d = self.coerce(d, TyId::DURATION);
        let run = self.time_native("runWithTimeout", span);
        let timeout_ty = self.timeout_error_type(run.map(|(f, _)| f));

        let Some(BodyClosure {
            fid,
            fn_ty,
            failures,
            diverges: body_div,
        }) = self.body_closure(body, on_fail.is_some(), span, "timeout")
        else {
            return false;
        };

        // Where the body's failures and the timeout go.
        let (handler, diverges) = self.closure_failures(
            on_fail,
            failures,
            timeout_ty.map(|t| (t, span)),
            "timeout",
            body_div,
        );
        let (Some((run, run_ret)), Some(timeout_ty)) = (run, timeout_ty) else {
            return diverges;
        };
        let TyKind::Error(timeout_id) = *self.types.kind(timeout_ty) else {
            return diverges;
        };

        let mut stmts = Vec::new();
        let d = self.stash(d, &mut stmts);
        let r = self.fx().hidden(run_ret, span);
        stmts.push(let_stmt(
            r,
            expr(
                ExprKind::Call(
                    Callee::Func(run),
                    vec![
                        Some(d.clone()),
                        Some(expr(ExprKind::Lambda(fid), fn_ty, span)),
                    ],
                ),
                run_ret,
                span,
            ),
            span,
        ));
        let timed_out = expr(
            ExprKind::ErrorNew {
                error: timeout_id,
                message: Box::new(expr(
                    ExprKind::Template(vec![
                        expr(
                            ExprKind::Lit(Literal::Str("timed out after ".into())),
                            TyId::STRING,
                            span,
                        ),
                        d,
                    ]),
                    TyId::STRING,
                    span,
                )),
                cause: None,
                detail: Vec::new(),
            },
            timeout_ty,
            span,
        );
        // The body returned `true`: the limit ran out.
        let on_true = vec![stmt(
            StmtKind::If {
                cond: is_true(r, run_ret, span),
                then: block(vec![stmt(StmtKind::Fail(timed_out), span)]),
                otherwise: block(Vec::new()),
            },
            span,
        )];
        finish_closure_statement(stmts, (r, run_ret), on_true, handler, span, out);
        diverges
    }

    /// Checks the body of a `timeout` or `transaction` statement (`what`)
    /// as a closure over the enclosing locals, in a function context of
    /// its own that inherits what decides where its failures go; returns
    /// the closure's function, its type (`function() returns error?`),
    /// the failures that leave the body (when they are collected for an
    /// `on fail` or an enclosing handler) and whether it always leaves.
    pub(super) fn body_closure(
        &mut self,
        body: &ast::Block,
        has_on_fail: bool,
        span: Span,
        what: &str,
    ) -> Option<BodyClosure> {
        let outer = self.fx();
        let has_outer_handler = !outer.handlers.is_empty();
        let infers = outer.infer_ret.is_some();
        let mut ctx = FnCtx::new(
            outer.name.clone(),
            outer.module,
            outer.ret,
            outer.assign_info.clone(),
            false,
        );
        ctx.loops = outer.loops.clone();
        ctx.is_init = outer.is_init;
        let collects = has_on_fail || has_outer_handler;
        if collects {
            ctx.handlers.push(Handler::default());
        } else if infers {
            ctx.infer_ret = Some(Vec::new());
        }
        self.fns.push(ctx);
        let (body_stmts, body_div) = self.stmts(&body.stmts);
        self.close_scope();
        let mut ctx = self.fns.pop()?;
        // A reported escape does not make the statement leave (no
        // follow-up `unreachable-code`).
        let escapes = self.no_escape(&body_stmts, 0, what);
        let body_div = body_div && !escapes;
        for (o, c) in self.fx().loops.iter_mut().zip(&ctx.loops) {
            o.has_break |= c.has_break;
        }
        let failures = if collects {
            ctx.handlers.pop().unwrap_or_default().errors
        } else {
            Vec::new()
        };
        if let (Some(inferred), Some(r)) = (ctx.infer_ret.take(), self.fx().infer_ret.as_mut()) {
            r.extend(inferred);
        }
        // The closure may have assigned enclosing locals.
        self.forget_names(&assigned_names(body));

        let opt_err = self.types.optional(TyId::ERROR);
        let fn_ty = self.types.function(FnType {
            params: Vec::new(),
            rest: None,
            ret: opt_err,
        });
        let fid = self.new_func_slot();
        self.funcs[fid.0 as usize] = Some(tir::Function {
            name: format!("<{what}>").into(),
            span,
            params: Vec::new(),
            has_rest: false,
            ret: opt_err,
            locals: ctx.locals,
            captures: ctx.captures,
            body: block(body_stmts),
            native: None,
        });

        Some(BodyClosure {
            fid,
            fn_ty,
            failures,
            diverges: body_div,
        })
    }

    /// Reports `return`, and `break`/`continue` outside the body's own
    /// loops, in a `timeout` body (`depth`: loops of the body entered);
    /// returns whether there was any.
    fn no_escape(&mut self, stmts: &[tir::Stmt], depth: u32, stmt_name: &str) -> bool {
        let mut any = false;
        for s in stmts {
            let what = match &s.kind {
                StmtKind::Return(_) => "return",
                StmtKind::Break if depth == 0 => "break",
                StmtKind::Continue if depth == 0 => "continue",
                StmtKind::If {
                    then, otherwise, ..
                } => {
                    any |= self.no_escape(&then.stmts, depth, stmt_name);
                    any |= self.no_escape(&otherwise.stmts, depth, stmt_name);
                    continue;
                }
                StmtKind::While { body, .. }
                | StmtKind::ForRange { body, .. }
                | StmtKind::ForEach { body, .. } => {
                    any |= self.no_escape(&body.stmts, depth + 1, stmt_name);
                    continue;
                }
                StmtKind::Do { body, handler } => {
                    any |= self.no_escape(&body.stmts, depth, stmt_name);
                    if let Some((_, h)) = handler {
                        any |= self.no_escape(&h.stmts, depth, stmt_name);
                    }
                    continue;
                }
                StmtKind::Block(b) => {
                    any |= self.no_escape(&b.stmts, depth, stmt_name);
                    continue;
                }
                _ => continue,
            };
            any = true;
            self.report(
                Diagnostic::new(
                    Code::Syntax,
                    s.span,
                    format!("`{what}` cannot leave a `{stmt_name}` body"),
                )
                .with_help(if what == "return" {
                    "the body runs as a separate strand that can be cancelled; store the result in a variable and `return` after the `timeout` statement"
                } else {
                    "the body runs as a separate strand that can be cancelled; set a variable and `break`/`continue` after the `timeout` statement"
                }),
            );
        }
        any
    }

    /// A non-public native of the `time` module (loaded implicitly for the
    /// resilience statements): its id and return type.
    fn time_native(&mut self, member: &str, span: Span) -> Option<(FuncId, TyId)> {
        self.stdlib_native("time", member, span)
    }

    /// A native of an implicitly loaded standard-library module (public or
    /// not): its id and return type; reported when missing.
    pub(super) fn stdlib_native(
        &mut self,
        module: &str,
        member: &str,
        span: Span,
    ) -> Option<(FuncId, TyId)> {
        let qname = format!("{module}:{member}");
        let found = self.sigs.iter().enumerate().find_map(|(i, s)| {
            s.as_ref()
                .filter(|s| *s.name == *qname && s.native_defaults.is_some())
                .map(|s| (FuncId(i as u32), s.ret))
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

    /// `time:TimeoutError`, found next to the `time` native `run`.
    fn timeout_error_type(&mut self, run: Option<FuncId>) -> Option<TyId> {
        let run = run?;
        let idx = self.modules.iter().find_map(|m| {
            match m.items.get("runWithTimeout").map(|e| e.item) {
                Some(ItemRef::Func(f)) if f == run => match m.items.get("TimeoutError")?.item {
                    ItemRef::Type(idx) => Some(idx),
                    _ => None,
                },
                _ => None,
            }
        })?;
        let t = self.ensure_type_decl(idx);
        matches!(self.types.kind(t), TyKind::Error(_)).then_some(t)
    }

    /// A pure expression with the value of `v`: `v` itself when it is a
    /// literal, else a hidden local initialised by a statement added to
    /// `stmts` (so that the value is computed once, in source order).
    pub(super) fn stash(&mut self, v: tir::Expr, stmts: &mut Vec<tir::Stmt>) -> tir::Expr {
        if matches!(v.kind, ExprKind::Lit(_)) {
            return v;
        }
        let (ty, span) = (v.ty, v.span);
        let l = self.fx().hidden(ty, span);
        stmts.push(let_stmt(l, v, span));
        local(l, ty, span)
    }
}

impl Checker {
    /// Where the failures of a body run as a closure (`timeout`,
    /// `transaction`) go, together with `own`, the statement's own error
    /// and where it arises: to `on_fail` when given, else outward. Returns
    /// the handler (its variable, block and whether it diverges) and
    /// whether the whole statement diverges.
    pub(crate) fn closure_failures(
        &mut self,
        on_fail: Option<&ast::OnFail>,
        failures: Vec<(TyId, Span)>,
        own: Option<(TyId, Span)>,
        keyword: &str,
        body_div: bool,
    ) -> (Option<(LocalId, tir::Block, bool)>, bool) {
        let snap = self.snapshot();
        let handler = match on_fail {
            Some(of) => {
                let mut reaching = failures;
                reaching.extend(own);
                let (local, hb, hdiv) = self.on_fail_block(of, &reaching);
                // When only the handler reaches the rest, keep its state.
                if !body_div || hdiv {
                    self.restore_minus_assigned(&snap);
                }
                Some((local, hb, hdiv))
            }
            None => {
                if let Some(h) = self.fx().handlers.last_mut() {
                    h.errors.extend(failures);
                }
                if let Some((t, at)) = own {
                    self.record_failure(t, at, keyword);
                }
                None
            }
        };
        let diverges = match &handler {
            Some((_, _, hdiv)) => body_div && *hdiv,
            None => body_div,
        };
        (handler, diverges)
    }
}

/// Rewrites each `break`/`continue` of a `retry` body that is not inside one
/// of the body's own loops into `$exit = 1|2; break;` (leaving the synthetic
/// retry loop); returns whether there was any.
fn redirect_loop_exits(stmts: &mut [tir::Stmt], exit: LocalId) -> bool {
    let mut any = false;
    for s in stmts {
        let code = match &mut s.kind {
            StmtKind::Break => EXIT_BREAK,
            StmtKind::Continue => EXIT_CONTINUE,
            StmtKind::If {
                then, otherwise, ..
            } => {
                any |= redirect_loop_exits(&mut then.stmts, exit);
                any |= redirect_loop_exits(&mut otherwise.stmts, exit);
                continue;
            }
            StmtKind::Do { body, handler } => {
                any |= redirect_loop_exits(&mut body.stmts, exit);
                if let Some((_, h)) = handler {
                    any |= redirect_loop_exits(&mut h.stmts, exit);
                }
                continue;
            }
            StmtKind::Block(b) => {
                any |= redirect_loop_exits(&mut b.stmts, exit);
                continue;
            }
            _ => continue,
        };
        let span = s.span;
        s.kind = StmtKind::Block(block(vec![
            assign(exit, int(code, span), span),
            stmt(StmtKind::Break, span),
        ]));
        any = true;
    }
    any
}

/// Ends the lowering of a statement whose body ran as a closure into the
/// local `r` (of type `run_ret`): after `stmts`, `if r is error { fail r; }
/// else { OTHERWISE }` under the statement's `on fail` handler, all as one
/// block appended to `out`.
pub(super) fn finish_closure_statement(
    mut stmts: Vec<tir::Stmt>,
    (r, run_ret): (LocalId, TyId),
    otherwise: Vec<tir::Stmt>,
    handler: Option<(LocalId, tir::Block, bool)>,
    span: Span,
    out: &mut Vec<tir::Stmt>,
) {
    let dispatch = stmt(
        StmtKind::If {
            cond: expr(
                ExprKind::Is(Box::new(local(r, run_ret, span)), TyId::ERROR),
                TyId::BOOLEAN,
                span,
            ),
            then: block(vec![stmt(
                StmtKind::Fail(local(r, TyId::ERROR, span)),
                span,
            )]),
            otherwise: block(otherwise),
        },
        span,
    );
    stmts.push(stmt(
        StmtKind::Do {
            body: block(vec![dispatch]),
            handler: handler.map(|(l, hb, _)| (l, hb)),
        },
        span,
    ));
    out.push(stmt(StmtKind::Block(block(stmts)), span));
}

/// `r == true`: whether a body closure's result (of type `run_ret`) says
/// the statement's own outcome happened (timed out, rolled back).
pub(super) fn is_true(r: LocalId, run_ret: TyId, span: Span) -> tir::Expr {
    expr(
        ExprKind::Binary(
            BinOp::Eq,
            Box::new(local(r, run_ret, span)),
            Box::new(expr(
                ExprKind::Lit(Literal::Bool(true)),
                TyId::BOOLEAN,
                span,
            )),
        ),
        TyId::BOOLEAN,
        span,
    )
}

pub(super) fn expr(kind: ExprKind, ty: TyId, span: Span) -> tir::Expr {
    tir::Expr { kind, ty, span }
}

pub(super) fn int(v: i64, span: Span) -> tir::Expr {
    expr(ExprKind::Lit(Literal::Int(v)), TyId::INT, span)
}

pub(super) fn local(l: LocalId, ty: TyId, span: Span) -> tir::Expr {
    expr(ExprKind::Local(l), ty, span)
}

pub(super) fn stmt(kind: StmtKind, span: Span) -> tir::Stmt {
    tir::Stmt { kind, span }
}

pub(super) fn block(stmts: Vec<tir::Stmt>) -> tir::Block {
    tir::Block { stmts }
}

pub(super) fn let_stmt(l: LocalId, init: tir::Expr, span: Span) -> tir::Stmt {
    stmt(StmtKind::Let { local: l, init }, span)
}

pub(super) fn assign(l: LocalId, value: tir::Expr, span: Span) -> tir::Stmt {
    stmt(
        StmtKind::Assign {
            place: Place::Local(l),
            value,
        },
        span,
    )
}
