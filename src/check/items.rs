//! Top-level declarations: collecting the names of every module, function
//! signatures (including `@native` and `@numeric` stdlib functions),
//! constants, module variables and configurables (lowered into the
//! initialiser function in dependency order), function and test bodies, and `main`.

use super::checker::{
    Checker, FnSig, GlobalInfo, ItemEntry, ItemRef, ModuleInfo, ParamSig, TypeDeclInfo, TypeState,
};
use super::modules::{LoadedModule, ModKind};
use super::narrow::AssignInfo;
use super::scope::{FnCtx, LocalKind};
use super::tir::{self, FuncId, GlobalId, NativeId, Place, StmtKind};
use super::types::{ErrorId, FnType, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, ItemKind, Name, ParamKind};
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// Where the declarations of the program are (indices into the modules'
/// item lists), collected in the first pass.
#[derive(Default)]
pub(crate) struct Decls {
    /// Declared functions: id, module, item index.
    pub funcs: Vec<(FuncId, usize, usize)>,
    /// Constants, module variables and configurables: id, module, item index.
    pub globals: Vec<(GlobalId, usize, usize)>,
    /// Tests: module, item index.
    pub tests: Vec<(usize, usize)>,
    /// Services: module, item index.
    pub services: Vec<(usize, usize)>,
}

impl Checker {
    /// Pass 1: registers every module and its top-level names.
    pub(crate) fn collect(&mut self, mods: &[LoadedModule]) -> Decls {
        let mut decls = Decls::default();
        for (mi, m) in mods.iter().enumerate() {
            let mut imports = FxHashMap::default();
            for e in &m.imports {
                imports.insert(e.alias.clone(), e.module);
            }
            self.modules.push(ModuleInfo {
                prefix: m.prefix.clone(),
                imports,
                items: FxHashMap::default(),
                stdlib: m.kind == ModKind::Stdlib,
            });
            for (ii, item) in m.ast.items.iter().enumerate() {
                match &item.kind {
                    ItemKind::Import(_) | ItemKind::Error => {}
                    ItemKind::Const(d) | ItemKind::Var(d) => {
                        let is_const = matches!(item.kind, ItemKind::Const(_));
                        let kind = if is_const {
                            GlobalKind::Const
                        } else if d.is_final {
                            GlobalKind::Final
                        } else {
                            GlobalKind::Var
                        };
                        let g = self.declare_global(mi, &d.name, kind, item.public);
                        decls.globals.push((g, mi, ii));
                    }
                    ItemKind::Type(td) => {
                        let idx = self.type_decls.len();
                        let opaque = m.kind == ModKind::Stdlib
                            && item.annotations.iter().any(|a| &*a.name == "opaque");
                        self.type_decls.push(TypeDeclInfo {
                            module: mi,
                            decl: td.clone(),
                            state: TypeState::Unresolved,
                            opaque,
                        });
                        self.add_item(mi, &td.name, ItemRef::Type(idx), item.public);
                    }
                    ItemKind::Function(fd) => {
                        let f = self.new_func_slot();
                        self.add_item(mi, &fd.name, ItemRef::Func(f), item.public);
                        decls.funcs.push((f, mi, ii));
                    }
                    ItemKind::Configurable(c) => {
                        let g =
                            self.declare_global(mi, &c.name, GlobalKind::Configurable, item.public);
                        decls.globals.push((g, mi, ii));
                    }
                    ItemKind::Endpoint(e) => {
                        let g = self.declare_global(mi, &e.name, GlobalKind::Final, item.public);
                        decls.globals.push((g, mi, ii));
                    }
                    ItemKind::Service(_) => decls.services.push((mi, ii)),
                    ItemKind::Test(_) => decls.tests.push((mi, ii)),
                }
            }
        }
        decls
    }

    fn add_item(&mut self, mi: usize, name: &Ident, item: ItemRef, public: bool) {
        let m = &mut self.modules[mi];
        if let Some(prev) = m.items.get(&name.name) {
            let prev = prev.span;
            self.report(
                Diagnostic::new(
                    Code::DuplicateDefinition,
                    name.span,
                    format!("`{}` is already declared in this module", name.name),
                )
                .with_label(prev, "first declared here")
                .with_help("rename one of the declarations"),
            );
            return;
        }
        m.items.insert(
            name.name.clone(),
            ItemEntry {
                item,
                public,
                span: name.span,
            },
        );
    }

    /// Pass 2: resolves every `type` declaration.
    pub(crate) fn resolve_all_types(&mut self) {
        for i in 0..self.type_decls.len() {
            self.cur_module = self.type_decls[i].module;
            self.ensure_type_decl(i);
        }
    }

    /// Pass 3: function signatures; `@native` functions are complete after it.
    pub(crate) fn signatures(&mut self, mods: &[LoadedModule], decls: &Decls) {
        for &(fid, mi, ii) in &decls.funcs {
            self.cur_module = mi;
            let item = &mods[mi].ast.items[ii];
            let ItemKind::Function(fd) = &item.kind else {
                continue;
            };
            let mut native = false;
            let mut numeric = false;
            for a in &item.annotations {
                match &*a.name {
                    "native" => native = true,
                    "numeric" => numeric = true,
                    _ => self.error(
                        Code::UnknownName,
                        a.span,
                        format!("unknown annotation `@{}`", a.name),
                    ),
                }
            }
            if native && mods[mi].kind != ModKind::Stdlib {
                self.error(
                    Code::UnknownName,
                    fd.name.span,
                    "`@native` functions are only available in the standard library",
                );
                native = false;
            }
            let name = self.modules[mi].qualify(&fd.name.name);
            let (params, ty) = self.param_sigs(&fd.sig);
            let ret = match &fd.sig.ret {
                Some(t) => self.resolve_type(t),
                None => TyId::NIL,
            };
            let ty = match &ty {
                Some(ft) => {
                    let mut ft = ft.clone();
                    ft.ret = ret;
                    self.types.function(ft)
                }
                None => TyId::NEVER,
            };
            let mut sig = FnSig {
                name: name.clone(),
                params,
                ret,
                ty,
                numeric,
                native_defaults: None,
            };
            match (&fd.body, native) {
                (None, true) => {
                    let f = self.native_function(&name, fd, &mut sig, ty);
                    self.funcs[fid.0 as usize] = Some(f);
                }
                (Some(_), true) => {
                    self.error(
                        Code::Syntax,
                        fd.name.span,
                        "a `@native` function has no body",
                    );
                }
                (None, false) => {
                    self.report(
                        Diagnostic::new(
                            Code::Syntax,
                            fd.name.span,
                            format!("function `{}` needs a body", fd.name.name),
                        )
                        .with_help("add `{ ... }` after the signature"),
                    );
                }
                (Some(_), false) => {}
            }
            self.sigs[fid.0 as usize] = Some(sig);
        }
    }

    /// Parameter signatures and the function type (return type unset).
    pub(super) fn param_sigs(&mut self, sig: &ast::Signature) -> (Vec<ParamSig>, Option<FnType>) {
        let mut out = Vec::with_capacity(sig.params.len());
        let mut params = Vec::new();
        let mut rest = None;
        let mut poisoned = false;
        let n = sig.params.len();
        let has_rest = sig.params.iter().any(|p| p.kind == ParamKind::Rest);
        for (i, p) in sig.params.iter().enumerate() {
            let t = self.resolve_type(&p.ty);
            poisoned |= self.is_poison(t);
            match p.kind {
                ParamKind::Normal => params.push(t),
                ParamKind::Rest => {
                    if i + 1 != n {
                        self.error(
                            Code::TypeMismatch,
                            p.name.span,
                            "a rest parameter must be the last parameter",
                        );
                    }
                    rest = Some(t);
                }
                ParamKind::NamedRest => {
                    if i + 1 != n || has_rest {
                        self.error(
                            Code::TypeMismatch,
                            p.name.span,
                            "a named-rest parameter must be the last parameter, and cannot follow a rest parameter",
                        );
                    }
                    if !self.is_poison(t) && !matches!(self.types.kind(t), TyKind::Map(_)) {
                        self.error(
                            Code::TypeMismatch,
                            p.ty.span,
                            "a named-rest parameter must have a `map<T>` type",
                        );
                        poisoned = true;
                    }
                    params.push(t);
                }
            }
            out.push(ParamSig {
                name: p.name.name.clone(),
                ty: t,
                has_default: p.default.is_some(),
                kind: p.kind,
            });
        }
        let ft = if poisoned {
            None
        } else {
            Some(FnType {
                params,
                rest,
                ret: TyId::NIL,
            })
        };
        (out, ft)
    }

    fn local_ty_of_param(&mut self, p: &ParamSig) -> TyId {
        if p.kind == ParamKind::Rest && !self.is_poison(p.ty) {
            self.types.array(p.ty)
        } else {
            p.ty
        }
    }

    fn native_function(
        &mut self,
        name: &Name,
        fd: &ast::FunctionDecl,
        sig: &mut FnSig,
        ty: TyId,
    ) -> tir::Function {
        let nid = NativeId(self.natives.len() as u32);
        self.natives.push(tir::NativeDecl {
            name: name.clone(),
            ty,
        });
        let mut locals = Vec::new();
        let mut params = Vec::new();
        let mut defaults = Vec::new();
        self.fns.push(FnCtx::new(
            name.clone(),
            self.cur_module,
            sig.ret,
            Rc::default(),
            true,
        ));
        for (i, (p, ps)) in fd.sig.params.iter().zip(&sig.params).enumerate() {
            let lt = self.local_ty_of_param(ps);
            locals.push(tir::LocalInfo {
                name: p.name.name.clone(),
                ty: lt,
                captured: false,
            });
            let d = p.default.as_ref().map(|d| {
                let v = self.expr(d, Some(ps.ty));
                self.coerce(v, ps.ty)
            });
            defaults.push(d.clone());
            params.push(tir::Param {
                local: tir::LocalId(i as u32),
                default: d,
            });
        }
        self.fns.pop();
        sig.native_defaults = Some(defaults);
        tir::Function {
            name: name.clone(),
            span: fd.name.span,
            params,
            has_rest: sig.params.iter().any(|p| p.kind == ParamKind::Rest),
            ret: sig.ret,
            locals,
            captures: Vec::new(),
            body: tir::Block::default(),
            native: Some(nid),
        }
    }

    /// A module-level variable of module `mi` (its type is set when its
    /// declaration is checked), registered under its name.
    fn declare_global(
        &mut self,
        mi: usize,
        name: &Ident,
        kind: GlobalKind,
        public: bool,
    ) -> GlobalId {
        let g = GlobalId(self.globals.len() as u32);
        self.globals.push(tir::Global {
            name: self.modules[mi].qualify(&name.name),
            ty: TyId::NEVER,
            is_final: kind != GlobalKind::Var,
        });
        self.ginfo.push(GlobalInfo {
            module: mi,
            span: name.span,
            initialised: false,
            is_const: kind == GlobalKind::Const,
            is_configurable: kind == GlobalKind::Configurable,
        });
        self.add_item(mi, name, ItemRef::Global(g), public);
        g
    }

    /// Pass 4: constants and module variables, in module dependency order,
    /// lowered into the initialiser function.
    pub(crate) fn initialisers(&mut self, mods: &[LoadedModule], decls: &Decls) -> FuncId {
        let init = self.new_func_slot();
        let mut ctx = FnCtx::new("<init>".into(), 0, TyId::NIL, Rc::default(), true);
        ctx.is_init = true;
        self.fns.push(ctx);
        let mut body = Vec::new();
        for &(g, mi, ii) in &decls.globals {
            self.cur_module = mi;
            self.fx().module = mi;
            let item = &mods[mi].ast.items[ii];
            if let ItemKind::Configurable(c) = &item.kind {
                let stmt = self.configurable(g, c, item.span);
                body.push(stmt);
                continue;
            }
            if let ItemKind::Endpoint(e) = &item.kind {
                self.fx().assign_info = Rc::new(AssignInfo::scan_expr(&e.init));
                let stmt = self.endpoint_decl(g, e, item.span);
                // A host-supplied endpoint (the REPL's) keeps its state.
                if mi + 1 != mods.len() || !self.preset.contains(&e.name.name) {
                    body.push(stmt);
                }
                continue;
            }
            let (ItemKind::Const(d) | ItemKind::Var(d)) = &item.kind else {
                continue;
            };
            let is_const = matches!(item.kind, ItemKind::Const(_));
            let root = mi + 1 == mods.len();
            if root && !is_const && self.preset.contains(&d.name.name) {
                self.preset_global(g, d);
                continue;
            }
            if let Some(e) = &d.init {
                self.fx().assign_info = Rc::new(AssignInfo::scan_expr(e));
            }
            if is_const {
                if let Some(e) = &d.init {
                    self.check_const_expr(e);
                }
            }
            let (value, ty) = self.declared_value(d);
            self.globals[g.0 as usize].ty = ty;
            self.ginfo[g.0 as usize].initialised = true;
            body.push(tir::Stmt {
                kind: StmtKind::Assign {
                    place: Place::Global(g),
                    value,
                },
                span: item.span,
            });
        }
        body.extend(self.service_listeners(mods, decls));
        let ctx = self.fns.pop();
        let span = mods
            .last()
            .map(|m| Span::new(m.file, 0, 0))
            .unwrap_or_default();
        let locals = ctx.map(|c| c.locals).unwrap_or_default();
        self.funcs[init.0 as usize] = Some(tir::Function {
            name: "<init>".into(),
            span,
            params: Vec::new(),
            has_rest: false,
            ret: TyId::NIL,
            locals,
            captures: Vec::new(),
            body: tir::Block { stmts: body },
            native: None,
        });
        init
    }

    /// A module variable whose value the host supplies ([`Checker::preset`]):
    /// its type comes from the declaration (checking any initialiser for
    /// it), and nothing is run.
    fn preset_global(&mut self, g: GlobalId, d: &ast::VarDecl) {
        let ty = match (&d.ty, &d.init) {
            (Some(t), _) => self.resolve_type(t),
            (None, Some(_)) => self.declared_value(d).1,
            (None, None) => TyId::NEVER,
        };
        self.globals[g.0 as usize].ty = ty;
        self.ginfo[g.0 as usize].initialised = true;
    }

    /// Checks a `configurable` declaration (§5.4), records it in
    /// [`Checker::configurables`] and returns its initialisation:
    /// `if g is () { g = default }`, or for a required one
    /// `if g is () { panic error("...") }` (see [`tir::Configurable`]).
    fn configurable(&mut self, g: GlobalId, c: &ast::ConfigurableDecl, span: Span) -> tir::Stmt {
        let ty = self.resolve_type(&c.ty);
        let kind = self.config_kind(ty);
        if kind.is_none() && !self.is_poison(ty) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    c.ty.span,
                    format!("a configurable cannot have type `{}`", self.show(ty)),
                )
                .with_help(
                    "a configurable has type `int`, `float`, `boolean`, `string`, `duration`, `string[]` or `int[]`",
                ),
            );
        }
        let fill = match &c.default {
            Some(e) => {
                self.fx().assign_info = Rc::new(AssignInfo::scan_expr(e));
                let v = self.expr(e, Some(ty));
                let value = self.coerce(v, ty);
                StmtKind::Assign {
                    place: Place::Global(g),
                    value,
                }
            }
            None => {
                let message = format!("configurable `{}` is required", c.name.name);
                let message = tir::Expr::lit(tir::Literal::Str(message.into()), TyId::STRING, span);
                StmtKind::Panic(tir::Expr {
                    kind: tir::ExprKind::ErrorNew {
                        error: ErrorId(0),
                        message: Box::new(message),
                        cause: None,
                        detail: Vec::new(),
                    },
                    ty: TyId::ERROR,
                    span,
                })
            }
        };
        self.globals[g.0 as usize].ty = ty;
        self.ginfo[g.0 as usize].initialised = true;
        if let Some(kind) = kind {
            self.configurables.push(tir::Configurable {
                name: c.name.name.clone(),
                global: g,
                kind,
                required: c.default.is_none(),
            });
        }
        let read = tir::Expr {
            kind: tir::ExprKind::Global(g),
            ty,
            span,
        };
        tir::Stmt {
            kind: StmtKind::If {
                cond: tir::Expr {
                    kind: tir::ExprKind::Is(Box::new(read), TyId::NIL),
                    ty: TyId::BOOLEAN,
                    span,
                },
                then: tir::Block {
                    stmts: vec![tir::Stmt { kind: fill, span }],
                },
                otherwise: tir::Block::default(),
            },
            span,
        }
    }

    /// The configurable type `ty` is, if it is one.
    fn config_kind(&self, ty: TyId) -> Option<tir::ConfigKind> {
        use tir::ConfigKind as K;
        Some(match self.types.kind(ty) {
            TyKind::Int => K::Int,
            TyKind::Float => K::Float,
            TyKind::Boolean => K::Boolean,
            TyKind::String => K::String,
            TyKind::Duration => K::Duration,
            TyKind::Array(e) => match self.types.kind(*e) {
                TyKind::String => K::StringArray,
                TyKind::Int => K::IntArray,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Reports a `const` initialiser that is not a constant expression.
    fn check_const_expr(&mut self, e: &ast::Expr) {
        use ast::ExprKind as E;
        let ok = match &e.kind {
            E::Nil
            | E::Bool(_)
            | E::Int(_)
            | E::Float(_)
            | E::Duration(_)
            | E::Str(_)
            | E::Error => true,
            E::Unary(_, x) => {
                self.check_const_expr(x);
                return;
            }
            E::Binary(_, a, b) | E::Elvis(a, b) => {
                self.check_const_expr(a);
                self.check_const_expr(b);
                return;
            }
            E::Ternary(a, b, c) => {
                self.check_const_expr(a);
                self.check_const_expr(b);
                self.check_const_expr(c);
                return;
            }
            E::Template(parts) => {
                for p in parts {
                    if let ast::TemplatePart::Expr(x) = p {
                        self.check_const_expr(x);
                    }
                }
                return;
            }
            E::Name(id) => {
                let m = self.module();
                match self.modules[m].items.get(&id.name).map(|e| e.item) {
                    Some(ItemRef::Global(g)) => self.ginfo[g.0 as usize].is_const,
                    _ => true, // unknown names are reported by the type check
                }
            }
            E::Qualified(md, id) => {
                let m = self.module();
                match self.modules[m].imports.get(&md.name).copied().flatten() {
                    Some(t) => match self.modules[t].items.get(&id.name).map(|e| e.item) {
                        Some(ItemRef::Global(g)) => self.ginfo[g.0 as usize].is_const,
                        _ => true,
                    },
                    None => true,
                }
            }
            _ => false,
        };
        if !ok {
            self.report(
                Diagnostic::new(Code::TypeMismatch, e.span, "a constant must be a constant expression")
                    .with_help("use literals, operators and other constants; declare a module variable with `final` for computed values"),
            );
        }
    }

    /// Pass 5: bodies of declared functions and tests.
    pub(crate) fn bodies(
        &mut self,
        mods: &[LoadedModule],
        decls: &Decls,
    ) -> Vec<(String, FuncId, usize)> {
        for &(fid, mi, ii) in &decls.funcs {
            let ItemKind::Function(fd) = &mods[mi].ast.items[ii].kind else {
                continue;
            };
            let Some(body) = &fd.body else { continue };
            let Some(sig) = self.sigs[fid.0 as usize].clone() else {
                continue;
            };
            if self.funcs[fid.0 as usize].is_some() {
                continue;
            }
            self.cur_module = mi;
            let f = self.function_body(&sig, fd, body, mi);
            self.funcs[fid.0 as usize] = Some(f);
        }
        let mut tests = Vec::new();
        for &(mi, ii) in &decls.tests {
            let item = &mods[mi].ast.items[ii];
            let ItemKind::Test(td) = &item.kind else {
                continue;
            };
            self.cur_module = mi;
            let name: Name = format!("<test {}>", td.name).into();
            let ret = self.types.optional(TyId::ERROR);
            let info = Rc::new(AssignInfo::scan(&td.body));
            self.fns.push(FnCtx::new(name.clone(), mi, ret, info, true));
            let (stmts, _) = self.stmts(&td.body.stmts);
            self.close_scope();
            let ctx = self.fns.pop();
            let fid = self.new_func_slot();
            self.funcs[fid.0 as usize] = Some(tir::Function {
                name,
                span: item.span,
                params: Vec::new(),
                has_rest: false,
                ret,
                locals: ctx.map(|c| c.locals).unwrap_or_default(),
                captures: Vec::new(),
                body: tir::Block { stmts },
                native: None,
            });
            tests.push((td.name.clone(), fid, mi));
        }
        tests
    }

    pub(super) fn function_body(
        &mut self,
        sig: &FnSig,
        fd: &ast::FunctionDecl,
        body: &ast::Block,
        mi: usize,
    ) -> tir::Function {
        let info = Rc::new(AssignInfo::scan(body));
        self.fns
            .push(FnCtx::new(sig.name.clone(), mi, sig.ret, info, true));
        let mut params = Vec::with_capacity(fd.sig.params.len());
        for (p, ps) in fd.sig.params.iter().zip(&sig.params) {
            let lt = self.local_ty_of_param(ps);
            let (id, dup) =
                self.fx()
                    .declare(&p.name.name, p.name.span, lt, LocalKind::Param, false);
            if let Some(prev) = dup {
                self.duplicate(&p.name, prev);
            }
            params.push(tir::Param {
                local: id,
                default: None,
            });
        }
        for (i, (p, ps)) in fd.sig.params.iter().zip(&sig.params).enumerate() {
            if let Some(d) = &p.default {
                if p.kind != ParamKind::Normal {
                    self.error(
                        Code::TypeMismatch,
                        d.span,
                        "only ordinary parameters can have default values",
                    );
                    continue;
                }
                let v = self.expr(d, Some(ps.ty));
                let v = self.coerce(v, ps.ty);
                params[i].default = Some(v);
            }
        }
        let (stmts, diverges) = self.stmts(&body.stmts);
        self.close_scope();
        let ctx = self.fns.pop();
        if !diverges && !self.assignable(TyId::NIL, sig.ret) {
            self.report(
                Diagnostic::new(
                    Code::MissingReturn,
                    fd.name.span,
                    format!(
                        "`{}` must return a value of type `{}`, but its end can be reached",
                        fd.name.name,
                        self.show(sig.ret)
                    ),
                )
                .with_primary("the end of this function can be reached without `return`")
                .with_help("add a `return` statement on every path"),
            );
        }
        let locals = ctx.map(|c| c.locals).unwrap_or_default();
        tir::Function {
            name: sig.name.clone(),
            span: fd.name.span,
            params,
            has_rest: sig.params.iter().any(|p| p.kind == ParamKind::Rest),
            ret: sig.ret,
            locals,
            captures: Vec::new(),
            body: tir::Block { stmts },
            native: None,
        }
    }

    /// The root module's `main`, validated.
    pub(crate) fn main_fn(&mut self, root: usize) -> Option<FuncId> {
        let entry = self.modules.get(root)?.items.get("main")?.clone();
        let ItemRef::Func(f) = entry.item else {
            return None;
        };
        let sig = self.sigs[f.0 as usize].clone()?;
        let params_ok = match sig.params.as_slice() {
            [] => true,
            [p] => p.kind == ParamKind::Rest && matches!(self.types.kind(p.ty), TyKind::String),
            _ => false,
        };
        if !params_ok {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    entry.span,
                    "`main` must take no parameters or one `string...` parameter",
                )
                .with_help("write `public function main(string... args)`"),
            );
        }
        let opt_err = self.types.optional(TyId::ERROR);
        let ret_ok = self.is_poison(sig.ret)
            || (self.types.assignable(sig.ret, opt_err)
                && self.types.assignable(TyId::NIL, sig.ret));
        if !ret_ok {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    entry.span,
                    format!(
                        "`main` must return `()` or `error?`, not `{}`",
                        self.show(sig.ret)
                    ),
                )
                .with_help("print results with `io:println` instead of returning them"),
            );
        }
        Some(f)
    }
}

/// What kind of module-level variable [`Checker::declare_global`] adds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GlobalKind {
    /// `const`.
    Const,
    /// `final` (and endpoints).
    Final,
    /// `var` or a typed variable.
    Var,
    /// `configurable`.
    Configurable,
}
