//! Services (§11): the listener expression (evaluated by the module
//! initialiser into a hidden module variable), each resource as a function,
//! and the binding rules of §11.1 (path, query, body and `http:Request`
//! parameters; duplicate method and path).

use super::checker::{Checker, FnSig};
use super::items::Decls;
use super::modules::LoadedModule;
use super::narrow::AssignInfo;
use super::tir::{self, GlobalId, ParamSource, Place, StmtKind};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, ItemKind, Name, ParamKind};
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// The resource methods of §11.1.
const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

impl Checker {
    /// Part of pass 4: one hidden module variable per service, assigned
    /// its listener expression (which must be an `http:Listener`). Returns
    /// the initialiser statements; the globals go to
    /// [`Checker::service_listeners`].
    pub(crate) fn service_listeners(
        &mut self,
        mods: &[LoadedModule],
        decls: &Decls,
    ) -> Vec<tir::Stmt> {
        let mut out = Vec::new();
        for (n, &(mi, ii)) in decls.services.iter().enumerate() {
            let item = &mods[mi].ast.items[ii];
            let ItemKind::Service(sd) = &item.kind else {
                continue;
            };
            self.cur_module = mi;
            self.fx().module = mi;
            let g = GlobalId(self.globals.len() as u32);
            let name = self.modules[mi].qualify(&format!("<service {n} listener>"));
            let listener = self.types.stdlib_type("http:Listener");
            self.globals.push(tir::Global {
                name,
                ty: listener.unwrap_or(TyId::NEVER),
                is_final: true,
            });
            self.ginfo.push(super::checker::GlobalInfo {
                module: mi,
                span: sd.listener.span,
                initialised: true,
                is_const: false,
                is_configurable: false,
            });
            self.service_listeners.push(g);
            self.record_literal_port(&sd.listener);
            self.fx().assign_info = Rc::new(AssignInfo::scan_expr(&sd.listener));
            let value = match listener {
                Some(t) => {
                    let v = self.expr(&sd.listener, Some(t));
                    self.coerce(v, t)
                }
                None => {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownModule,
                            sd.listener.span,
                            "a service needs the `http` module for its listener",
                        )
                        .with_help(
                            "add `import http;` and write `service on http:listener(PORT) { ... }`",
                        ),
                    );
                    Self::poison(sd.listener.span)
                }
            };
            out.push(tir::Stmt {
                kind: StmtKind::Assign {
                    place: Place::Global(g),
                    value,
                },
                span: item.span,
            });
        }
        out
    }

    /// Pass 5 (after function bodies): each resource as a function, with
    /// its binding checked (§11.1).
    pub(crate) fn services(&mut self, mods: &[LoadedModule], decls: &Decls) {
        for (n, &(mi, ii)) in decls.services.iter().enumerate() {
            let item = &mods[mi].ast.items[ii];
            let ItemKind::Service(sd) = &item.kind else {
                continue;
            };
            let Some(&listener) = self.service_listeners.get(n) else {
                continue;
            };
            self.cur_module = mi;
            let mut seen: FxHashMap<(String, String), Span> = FxHashMap::default();
            let mut resources = Vec::new();
            for r in &sd.resources {
                let method = r.method.name.to_ascii_lowercase();
                if !METHODS.contains(&&*r.method.name) {
                    self.report(
                        Diagnostic::new(
                            Code::Syntax,
                            r.method.span,
                            format!("`{}` is not a resource method", r.method.name),
                        )
                        .with_help(
                            "a resource starts with `get`, `post`, `put`, `patch` or `delete`",
                        ),
                    );
                }
                let segments = self.path_segments(r);
                let key = (method.clone(), shape(&segments));
                if let Some(prev) = seen.get(&key) {
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            r.path_span,
                            format!(
                                "the service already has a `{}` resource for this path",
                                r.method.name
                            ),
                        )
                        .with_label(*prev, "first declared here")
                        .with_help("merge the two resources or change one path"),
                    );
                } else {
                    seen.insert(key, r.path_span);
                }
                let (func, tys) = self.resource_function(r, mi);
                let params = self.resource_params(r, &segments, &tys);
                resources.push(tir::Resource {
                    method: method.to_ascii_uppercase().into(),
                    path: r.path.as_str().into(),
                    func,
                    params,
                    transactional: r.transactional,
                });
            }
            self.services.push(tir::Service {
                listener,
                resources,
                span: item.span,
            });
        }
    }

    /// The segments of a resource path: `Ok(literal)` or `Err(param name)`;
    /// a malformed path is reported.
    fn path_segments(&mut self, r: &ast::Resource) -> Vec<Result<String, String>> {
        let Some(rest) = r.path.strip_prefix('/') else {
            self.report(
                Diagnostic::new(Code::Syntax, r.path_span, "a resource path starts with `/`")
                    .with_help(format!("write \"/{}\"", r.path)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        if rest.is_empty() {
            return out;
        }
        for seg in rest.split('/') {
            let param = seg
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .filter(|s| is_identifier(s));
            if let Some(name) = param {
                out.push(Err(name.to_string()));
            } else if seg.is_empty() || seg.contains(['{', '}']) {
                self.report(
                    Diagnostic::new(
                        Code::Syntax,
                        r.path_span,
                        format!("`{seg}` is not a valid path segment"),
                    )
                    .with_help(
                        "a segment is literal text or a whole `{name}`, segments are not empty",
                    ),
                );
            } else {
                out.push(Ok(seg.to_string()));
            }
        }
        out
    }

    /// How each parameter of `r` is bound; violations of §11.1 are reported.
    fn resource_params(
        &mut self,
        r: &ast::Resource,
        segments: &[Result<String, String>],
        tys: &[TyId],
    ) -> Vec<tir::ResourceParam> {
        let mut in_path: Vec<&str> = Vec::new();
        for seg in segments {
            let Err(name) = seg else { continue };
            if in_path.contains(&name.as_str()) {
                self.report(Diagnostic::new(
                    Code::DuplicateDefinition,
                    r.path_span,
                    format!("the path names `{{{name}}}` twice"),
                ));
            }
            in_path.push(name);
            if !r.sig.params.iter().any(|p| *p.name.name == **name) {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        r.path_span,
                        format!("the path segment `{{{name}}}` has no parameter of that name"),
                    )
                    .with_help(format!("add a parameter such as `string {name}`")),
                );
            }
        }
        let request = self.types.stdlib_type("http:Request");
        let mut out = Vec::new();
        for (p, &ty) in r.sig.params.iter().zip(tys) {
            if p.kind != ParamKind::Normal {
                self.error(
                    Code::TypeMismatch,
                    p.name.span,
                    "a resource has no rest parameters",
                );
                continue;
            }
            let source = if Some(ty) == request {
                ParamSource::Request
            } else if in_path.contains(&&*p.name.name) {
                ParamSource::Path
            } else if &*p.name.name == "body" {
                ParamSource::Body
            } else {
                ParamSource::Query
            };
            if !self.is_poison(ty) {
                self.check_bindable(p, ty, source);
            }
            out.push(tir::ResourceParam {
                name: p.name.name.clone(),
                source,
                ty,
                optional: p.default.is_some() || self.types.has_nil(ty),
                has_default: p.default.is_some(),
            });
        }
        out
    }

    /// Reports a parameter whose type cannot be bound from its source.
    fn check_bindable(&mut self, p: &ast::Param, ty: TyId, source: ParamSource) {
        let (ok, what, help) = match source {
            ParamSource::Request => return,
            ParamSource::Body => (
                self.types.is_json_compatible(ty),
                "the request body",
                "a body parameter has a JSON-compatible type: json, a record, an array, a map or a scalar",
            ),
            ParamSource::Path | ParamSource::Query => (
                self.is_text_convertible(ty),
                if source == ParamSource::Path {
                    "a path segment"
                } else {
                    "a query parameter"
                },
                "path and query parameters have type int, float, boolean or string (or one of them with `?`)",
            ),
        };
        if !ok {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    p.ty.span,
                    format!(
                        "parameter `{}` of type `{}` cannot be bound from {what}",
                        p.name.name,
                        self.show(ty)
                    ),
                )
                .with_help(help),
            );
        }
    }

    /// Whether a path or query value (text) converts to `ty`: every member
    /// other than `()` is `int`, `float`, `boolean` or `string`.
    fn is_text_convertible(&mut self, ty: TyId) -> bool {
        let inner = self.types.without_nil(ty);
        let members = self.types.members(inner);
        !members.is_empty()
            && members.iter().all(|m| {
                matches!(
                    self.types.kind(*m),
                    TyKind::Int | TyKind::Float | TyKind::Boolean | TyKind::String
                )
            })
    }

    /// Checks the body of `r` as a function named `METHOD PATH`.
    /// Returns the function and the parameter types.
    fn resource_function(&mut self, r: &ast::Resource, mi: usize) -> (tir::FuncId, Vec<TyId>) {
        let name: Name = format!("{} {}", r.method.name.to_ascii_uppercase(), r.path).into();
        let (params, ft) = self.param_sigs(&r.sig);
        let ret = match &r.sig.ret {
            Some(t) => self.resolve_type(t),
            None => TyId::NIL,
        };
        let ty = match ft {
            Some(mut ft) => {
                ft.ret = ret;
                self.types.function(ft)
            }
            None => TyId::NEVER,
        };
        let tys = params.iter().map(|p| p.ty).collect();
        let sig = FnSig {
            name: name.clone(),
            params,
            ret,
            ty,
            numeric: false,
            native_defaults: None,
        };
        let decl = ast::FunctionDecl {
            name: Ident {
                name,
                span: r.method.span,
            },
            sig: r.sig.clone(),
            body: None,
        };
        self.tx_resource = r.transactional;
        let f = self.function_body(&sig, &decl, &r.body, mi);
        self.tx_resource = false;
        let fid = self.new_func_slot();
        self.funcs[fid.0 as usize] = Some(f);
        (fid, tys)
    }
}

/// The path with parameter names erased (`/orders/{}`), for duplicates.
fn shape(segments: &[Result<String, String>]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        match s {
            Ok(lit) => out.push_str(lit),
            Err(_) => out.push_str("{}"),
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Checker {
    /// Records the port of `http:listener(PORT, ...)` written as an int
    /// literal, for the sandbox's check before anything runs (§15.2).
    fn record_literal_port(&mut self, listener: &ast::Expr) {
        let ast::ExprKind::Call(callee, args) = &listener.kind else {
            return;
        };
        let ast::ExprKind::Qualified(md, n) = &callee.kind else {
            return;
        };
        if &*md.name != "http" || &*n.name != "listener" {
            return;
        }
        let Some(first) = args.first().filter(|a| a.name.is_none()) else {
            return;
        };
        if let ast::ExprKind::Int(port) = first.value.kind {
            if let Ok(port) = u16::try_from(port) {
                self.net_literals.push(tir::NetLiteral {
                    target: tir::NetTarget::ListenerPort { port },
                    span: first.value.span,
                });
            }
        }
    }
}
