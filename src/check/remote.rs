//! Endpoints and remote calls (§5.5, §9.1): `endpoint NAME = http:client(...)`
//! declarations (their configuration records checked with `endpoint-config`
//! diagnostics) and `ep->method(args)` calls with typed results, lowered to a
//! call of the internal native `http:remoteCall`.

use super::checker::{Checker, ItemRef};
use super::tir::{self, Callee, ExprKind, FuncId, GlobalId, Literal, Place, StmtKind};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Name};
use crate::syntax::span::Span;

/// How `http:remoteCall` converts a response body: the `mode` argument.
/// Kept in sync with `stdlib::http`.
pub(crate) mod mode {
    /// `json`: parsed JSON, or the text for non-JSON content types.
    pub const JSON: i64 = 0;
    /// `string`: the body text.
    pub const STRING: i64 = 1;
    /// `()`: the body is ignored.
    pub const NIL: i64 = 2;
    /// `http:Response`: status, headers and body; no status is an error.
    pub const RESPONSE: i64 = 3;
    /// Any other type: JSON, then `cloneWithType(T)`.
    pub const TYPED: i64 = 4;
}

/// Whether an expression statement is a remote call (`ep->post(...)` or
/// `check ep->post(...)`), whose result is then `()`.
pub(crate) fn is_remote_stmt(e: &ast::Expr) -> bool {
    match &e.kind {
        ast::ExprKind::RemoteCall { .. } => true,
        ast::ExprKind::Check(x) | ast::ExprKind::CheckPanic(x) => {
            matches!(x.kind, ast::ExprKind::RemoteCall { .. })
        }
        _ => false,
    }
}

/// The constructors an endpoint may be declared with.
const CONSTRUCTORS: &[&str] = &["client", "failover", "loadBalance"];

impl Checker {
    /// The `http` standard-library module, when the program uses it.
    fn http_module(&self) -> Option<usize> {
        self.modules
            .iter()
            .position(|m| m.stdlib && &*m.prefix == "http")
    }

    /// A function of the `http` module by name (public or not).
    fn http_function(&self, name: &str) -> Option<FuncId> {
        let m = self.http_module()?;
        match self.modules[m].items.get(name)?.item {
            ItemRef::Func(f) => Some(f),
            _ => None,
        }
    }

    /// Checks `endpoint NAME = http:client(...);` and returns the statement
    /// of the module initialiser that creates it.
    pub(crate) fn endpoint_decl(
        &mut self,
        g: GlobalId,
        e: &ast::EndpointDecl,
        span: Span,
    ) -> tir::Stmt {
        let value = self.endpoint_ctor(e);
        self.globals[g.0 as usize].ty = value.ty;
        self.ginfo[g.0 as usize].initialised = true;
        tir::Stmt {
            kind: StmtKind::Assign {
                place: Place::Global(g),
                value,
            },
            span,
        }
    }

    fn not_a_constructor(&mut self, span: Span) -> tir::Expr {
        self.report(
            Diagnostic::new(
                Code::EndpointConfig,
                span,
                "an endpoint must be created with `http:client(...)`, `http:failover(...)` or `http:loadBalance(...)`",
            )
            .with_help("write `endpoint orders = http:client(\"http://127.0.0.1:9090\", { timeout: 2s });`"),
        );
        Checker::poison(span)
    }

    /// The constructor call of an endpoint declaration, with its hidden
    /// arguments (the endpoint's name; for `http:client` the header names
    /// whose values come from configurables).
    fn endpoint_ctor(&mut self, e: &ast::EndpointDecl) -> tir::Expr {
        let init = &e.init;
        let ast::ExprKind::Call(callee, args) = &init.kind else {
            let _ = self.expr(init, None);
            return self.not_a_constructor(init.span);
        };
        let ast::ExprKind::Qualified(md, n) = &callee.kind else {
            self.skip_args(args);
            return self.not_a_constructor(init.span);
        };
        let Some((item, target)) = self.qualified_item(md, n, callee.span) else {
            self.skip_args(args);
            return Checker::poison(init.span);
        };
        let is_ctor = self.modules[target].stdlib
            && &*self.modules[target].prefix == "http"
            && CONSTRUCTORS.contains(&&*n.name);
        let (ItemRef::Func(fid), true) = (item, is_ctor) else {
            self.skip_args(args);
            return self.not_a_constructor(callee.span);
        };
        let Some(sig) = self.sigs[fid.0 as usize].clone() else {
            self.skip_args(args);
            return Checker::poison(init.span);
        };
        let mut slots: Vec<Option<tir::Expr>> = vec![None; sig.params.len()];
        let first = if &*n.name == "client" {
            "the URL"
        } else {
            "the array of targets"
        };
        for (i, a) in args.iter().enumerate() {
            if a.name.is_some() || i >= 2 || i >= sig.params.len() {
                self.report(
                    Diagnostic::new(
                        Code::Arity,
                        a.name.as_ref().map_or(a.value.span, |n| n.span),
                        format!(
                            "`http:{}` in an endpoint declaration takes {first} and an optional configuration record",
                            n.name
                        ),
                    )
                    .with_help("remove this argument"),
                );
                let _ = self.expr(&a.value, None);
                continue;
            }
            let pt = sig.params[i].ty;
            let v = if i == 1 {
                let saved = self.config_diag;
                self.config_diag = true;
                let v = self.expr(&a.value, Some(pt));
                let v = self.coerce(v, pt);
                self.config_diag = saved;
                v
            } else {
                let v = self.expr(&a.value, Some(pt));
                self.coerce(v, pt)
            };
            slots[i] = Some(v);
        }
        if args.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    callee.span,
                    format!("missing {first} in a call of `http:{}`", n.name),
                )
                .with_primary(format!("`http:{}` needs {first}", n.name)),
            );
            slots[0] = Some(Checker::poison(init.span));
        }
        // The hidden arguments.
        let span = init.span;
        if let Some(slot) = slots.get_mut(2) {
            *slot = Some(tir::Expr::lit(
                Literal::Str(e.name.name.clone()),
                TyId::STRING,
                span,
            ));
        }
        if &*n.name == "client" {
            if let Some(ast::ExprKind::Str(url)) = args.first().map(|a| &a.value.kind) {
                self.net_literals.push(tir::NetLiteral {
                    target: tir::NetTarget::EndpointUrl {
                        endpoint: e.name.name.clone(),
                        url: url.clone(),
                    },
                    span: args[0].value.span,
                });
            }
            let mut names = Vec::new();
            if let Some(cfg) = args.get(1) {
                self.configurable_headers(&cfg.value, &mut names);
            }
            if let Some(slot) = slots.get_mut(3) {
                let items = names
                    .into_iter()
                    .map(|h| tir::Expr::lit(Literal::Str(h), TyId::STRING, span))
                    .collect();
                let ty = self.types.array(TyId::STRING);
                *slot = Some(tir::Expr {
                    kind: ExprKind::Array(items),
                    ty,
                    span,
                });
            }
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
        let ty = if slots
            .iter()
            .any(|s| s.as_ref().is_none_or(|x| self.is_poison(x.ty)))
        {
            TyId::NEVER
        } else {
            sig.ret
        };
        tir::Expr {
            kind: ExprKind::Call(Callee::Func(fid), slots),
            ty,
            span,
        }
    }

    /// The names (lower case) of the `headers` entries of a configuration
    /// literal whose values are computed from configurables (§9.8: printed
    /// as `***` in traces).
    fn configurable_headers(&mut self, cfg: &ast::Expr, out: &mut Vec<Name>) {
        let ast::ExprKind::Mapping(fields) = &cfg.kind else {
            return;
        };
        for f in fields {
            if &*f.key != "headers" {
                continue;
            }
            let ast::ExprKind::Mapping(headers) = &f.value.kind else {
                continue;
            };
            for h in headers {
                if self.mentions_configurable(&h.value) {
                    out.push(h.key.to_ascii_lowercase().into());
                }
            }
        }
    }

    /// Whether an expression reads a configurable (directly, in a template
    /// or through operators).
    fn mentions_configurable(&mut self, e: &ast::Expr) -> bool {
        use ast::ExprKind as E;
        match &e.kind {
            E::Name(id) => {
                let m = self.module();
                self.is_configurable_item(m, id)
            }
            E::Qualified(md, id) => {
                let m = self.module();
                match self.modules[m].imports.get(&md.name).copied().flatten() {
                    Some(t) => self.is_configurable_item(t, id),
                    None => false,
                }
            }
            E::Template(parts) => parts.iter().any(|p| match p {
                ast::TemplatePart::Expr(x) => self.mentions_configurable(x),
                ast::TemplatePart::Text(_) => false,
            }),
            E::Binary(_, a, b) | E::Elvis(a, b) => {
                self.mentions_configurable(a) || self.mentions_configurable(b)
            }
            E::Ternary(c, a, b) => {
                self.mentions_configurable(c)
                    || self.mentions_configurable(a)
                    || self.mentions_configurable(b)
            }
            E::Unary(_, x) | E::Check(x) | E::CheckPanic(x) => self.mentions_configurable(x),
            E::Call(_, args) => args.iter().any(|a| self.mentions_configurable(&a.value)),
            E::MethodCall { target, args, .. } => {
                self.mentions_configurable(target)
                    || args.iter().any(|a| self.mentions_configurable(&a.value))
            }
            _ => false,
        }
    }

    fn is_configurable_item(&self, m: usize, id: &Ident) -> bool {
        match self.modules[m].items.get(&id.name).map(|e| e.item) {
            Some(ItemRef::Global(g)) => self.ginfo[g.0 as usize].is_configurable,
            _ => false,
        }
    }

    /// `target->method(args)` (§9.1).
    pub(crate) fn remote_call(
        &mut self,
        target: &ast::Expr,
        method: &Ident,
        args: &[ast::Arg],
        span: Span,
        expected: Option<TyId>,
    ) -> tir::Expr {
        let t = self.expr(target, None);
        let t = self.no_error(t, "the target of a remote call");
        if self.is_poison(t.ty) {
            self.skip_args(args);
            return Checker::poison(span);
        }
        let client = self.types.stdlib_type("http:Client");
        let remote_fn = self.http_function("remoteCall");
        let http_error = self.types.stdlib_type("http:Error");
        let (Some(client), Some(remote_fn), Some(http_error)) = (client, remote_fn, http_error)
        else {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    t.span,
                    format!(
                        "the target of a remote call must be an `http:Client`, found `{}`",
                        self.show(t.ty)
                    ),
                )
                .with_help("declare an endpoint with `endpoint name = http:client(url);` (and `import http;`)"),
            );
            self.skip_args(args);
            return Checker::poison(span);
        };
        if !self.assignable(t.ty, client) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    t.span,
                    format!(
                        "the target of a remote call must be an `http:Client`, found `{}`",
                        self.show(t.ty)
                    ),
                )
                .with_primary(format!("this is `{}`", self.show(t.ty))),
            );
            self.skip_args(args);
            return Checker::poison(span);
        }
        // Parameters: (name, required).
        let (verb, params): (Option<&str>, &[(&str, bool)]) = match &*method.name {
            "get" => (Some("GET"), &[("path", true)]),
            "delete" => (Some("DELETE"), &[("path", true)]),
            "post" => (Some("POST"), &[("path", true), ("body", true)]),
            "put" => (Some("PUT"), &[("path", true), ("body", true)]),
            "patch" => (Some("PATCH"), &[("path", true), ("body", true)]),
            "execute" => (None, &[("method", true), ("path", true), ("body", false)]),
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        method.span,
                        format!("`http:Client` has no remote method `{}`", method.name),
                    )
                    .with_help("the remote methods are `get`, `post`, `put`, `patch`, `delete` and `execute`"),
                );
                self.skip_args(args);
                return Checker::poison(span);
            }
        };
        let mut positional: Vec<&ast::Expr> = Vec::new();
        let mut headers: Option<tir::Expr> = None;
        let mut query: Option<tir::Expr> = None;
        let mut seen_named = false;
        let string_map = self.types.map(TyId::STRING);
        for a in args {
            match &a.name {
                None => {
                    if seen_named {
                        self.positional_after_named(a);
                        continue;
                    }
                    positional.push(&a.value);
                }
                Some(id) => {
                    seen_named = true;
                    let slot = match &*id.name {
                        "headers" => &mut headers,
                        "query" => &mut query,
                        _ => {
                            self.report(
                                Diagnostic::new(
                                    Code::Arity,
                                    id.span,
                                    format!(
                                        "remote method `{}` has no parameter named `{}`",
                                        method.name, id.name
                                    ),
                                )
                                .with_help("its named arguments are `headers` and `query`"),
                            );
                            let _ = self.expr(&a.value, None);
                            continue;
                        }
                    };
                    if slot.is_some() {
                        self.argument_twice(id, a);
                        continue;
                    }
                    let v = self.expr(&a.value, Some(string_map));
                    let v = self.coerce(v, string_map);
                    match &*id.name {
                        "headers" => headers = Some(v),
                        _ => query = Some(v),
                    }
                }
            }
        }
        let required = params.iter().filter(|p| p.1).count();
        if positional.len() < required || positional.len() > params.len() {
            let names: Vec<String> = params
                .iter()
                .map(
                    |(n, req)| {
                        if *req {
                            n.to_string()
                        } else {
                            format!("{n}?")
                        }
                    },
                )
                .collect();
            let what = if positional.len() < required {
                "missing arguments"
            } else {
                "too many arguments"
            };
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    method.span,
                    format!(
                        "{what}: `{}` takes ({}) but {} {} given",
                        method.name,
                        names.join(", "),
                        positional.len(),
                        if positional.len() == 1 { "was" } else { "were" }
                    ),
                )
                .with_primary(format!("`{}` called here", method.name)),
            );
            for p in positional {
                let _ = self.expr(p, Some(TyId::JSON));
            }
            return Checker::poison(span);
        }
        let mut pos = positional.into_iter();
        let method_arg = match verb {
            Some(v) => tir::Expr::lit(Literal::Str(v.into()), TyId::STRING, method.span),
            None => match pos.next() {
                Some(m) => {
                    let v = self.expr(m, Some(TyId::STRING));
                    self.coerce(v, TyId::STRING)
                }
                None => Checker::poison(span),
            },
        };
        let path = match pos.next() {
            Some(p) => {
                let v = self.expr(p, Some(TyId::STRING));
                self.coerce(v, TyId::STRING)
            }
            None => Checker::poison(span),
        };
        let body = match pos.next() {
            Some(b) => {
                let v = self.expr(b, Some(TyId::JSON));
                let v = self.no_error(v, "a request body");
                if !self.is_poison(v.ty) && !self.types.is_json_compatible(v.ty) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            v.span,
                            format!(
                                "a request body must be `json`, a record, an array, a map or a `string`, found `{}`",
                                self.show(v.ty)
                            ),
                        )
                        .with_primary(format!("this is `{}`", self.show(v.ty))),
                    );
                }
                v
            }
            None => Checker::nil_lit(span),
        };
        let (result, mode) = self.remote_result(expected, span);
        let ty = self.types.union(&[result, http_error]);
        let target_text = match &target.kind {
            ast::ExprKind::Name(id) => id.name.to_string(),
            ast::ExprKind::Qualified(m, id) => format!("{}:{}", m.name, id.name),
            _ => "endpoint".to_string(),
        };
        self.remote_names
            .insert(span, format!("{target_text}->{}", method.name).into());
        let args = vec![
            Some(t),
            Some(method_arg),
            Some(path),
            Some(body),
            Some(headers.unwrap_or_else(|| Checker::nil_lit(span))),
            Some(query.unwrap_or_else(|| Checker::nil_lit(span))),
            Some(tir::Expr {
                kind: ExprKind::TypeDesc(result),
                ty: TyId::TYPEDESC,
                span,
            }),
            Some(tir::Expr::lit(Literal::Int(mode), TyId::INT, span)),
        ];
        tir::Expr {
            kind: ExprKind::Call(Callee::Func(remote_fn), args),
            ty,
            span,
        }
    }

    /// The typed result `T` of a remote call (§9.1) and how the body is
    /// converted to it: the expected type without its error types; `json`
    /// when there is none (or it admits any value).
    fn remote_result(&mut self, expected: Option<TyId>, span: Span) -> (TyId, i64) {
        let t = match expected {
            Some(e) if !self.is_poison(e) => self.types.without_errors(e),
            _ => return (TyId::JSON, mode::JSON),
        };
        if t == TyId::NEVER
            || t == TyId::JSON
            || self
                .types
                .members(t)
                .iter()
                .any(|m| matches!(self.types.kind(*m), TyKind::Any))
        {
            return (TyId::JSON, mode::JSON);
        }
        let t = self.types.canon(t);
        if t == TyId::STRING {
            return (t, mode::STRING);
        }
        if t == TyId::NIL {
            return (t, mode::NIL);
        }
        if self.types.stdlib_type("http:Response") == Some(t) {
            return (t, mode::RESPONSE);
        }
        if self.types.is_json_compatible(t) {
            return (t, mode::TYPED);
        }
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                span,
                format!(
                    "the response of a remote call cannot be converted to `{}`",
                    self.show(t)
                ),
            )
            .with_help("a remote call returns `json`, `string`, `()`, `http:Response`, or a record, array or map type made of JSON values"),
        );
        (TyId::NEVER, mode::JSON)
    }
}
