//! Type expressions → [`TyId`]s: built-ins, named and qualified types
//! (resolved lazily, so declarations may appear in any order and records may
//! be recursive), records with defaults, unions, function types and distinct
//! error types.

use super::checker::{Checker, ItemRef, RecordDefaults, TypeState};
use super::types::{ErrorId, FieldDef, FnType, RecordDef, RecordId, TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, BuiltinType, Ident, Name, TypeExprKind};

impl Checker {
    /// Resolves a type expression in the module currently in scope.
    pub(crate) fn resolve_type(&mut self, t: &ast::TypeExpr) -> TyId {
        let m = self.module();
        self.resolve_type_in(m, t)
    }

    /// Resolves a type expression in module `m`.
    pub(crate) fn resolve_type_in(&mut self, m: usize, t: &ast::TypeExpr) -> TyId {
        match &t.kind {
            TypeExprKind::Builtin(b) => builtin(*b),
            TypeExprKind::Named(id) => self.named_type(m, id),
            TypeExprKind::Qualified(md, id) => self.qualified_type(m, md, id),
            TypeExprKind::Array(e) => {
                let e = self.resolve_type_in(m, e);
                if e == TyId::NEVER {
                    return TyId::NEVER;
                }
                self.types.array(e)
            }
            TypeExprKind::Optional(e) => {
                let e = self.resolve_type_in(m, e);
                if e == TyId::NEVER {
                    return TyId::NEVER;
                }
                self.types.optional(e)
            }
            TypeExprKind::Union(parts) => {
                let mut ids = Vec::with_capacity(parts.len());
                for p in parts {
                    let id = self.resolve_type_in(m, p);
                    if id == TyId::NEVER {
                        return TyId::NEVER;
                    }
                    ids.push(id);
                }
                self.types.union(&ids)
            }
            TypeExprKind::Map(e) => {
                let e = self.resolve_type_in(m, e);
                if e == TyId::NEVER {
                    return TyId::NEVER;
                }
                self.types.map(e)
            }
            TypeExprKind::Future(e) => {
                let e = self.resolve_type_in(m, e);
                if e == TyId::NEVER {
                    return TyId::NEVER;
                }
                self.types.future(e)
            }
            TypeExprKind::Record(fields) => {
                let rid = self.build_record(m, fields, None);
                self.record_ty(rid)
            }
            TypeExprKind::Function { params, rest, ret } => {
                let mut ps = Vec::with_capacity(params.len());
                for p in params {
                    ps.push(self.resolve_type_in(m, p));
                }
                let rest = rest.as_ref().map(|r| self.resolve_type_in(m, r));
                let ret = match ret {
                    Some(r) => self.resolve_type_in(m, r),
                    None => TyId::NIL,
                };
                self.types.function(FnType {
                    params: ps,
                    rest,
                    ret,
                })
            }
            TypeExprKind::Distinct(_) => {
                self.error(
                    Code::TypeMismatch,
                    t.span,
                    "`distinct` is only allowed directly in a `type` declaration",
                );
                TyId::NEVER
            }
            TypeExprKind::Error => TyId::NEVER,
        }
    }

    fn named_type(&mut self, m: usize, id: &Ident) -> TyId {
        match self.modules[m].items.get(&id.name).map(|e| e.item) {
            Some(ItemRef::Type(idx)) => self.ensure_type_decl(idx),
            Some(_) => {
                self.error(
                    Code::UnknownName,
                    id.span,
                    format!("`{}` is not a type", id.name),
                );
                TyId::NEVER
            }
            None => {
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        id.span,
                        format!("unknown type `{}`", id.name),
                    )
                    .with_primary("no type with this name is declared"),
                );
                TyId::NEVER
            }
        }
    }

    fn qualified_type(&mut self, m: usize, md: &Ident, id: &Ident) -> TyId {
        let Some(target) = self.module_alias(m, md) else {
            return TyId::NEVER;
        };
        let entry = self.modules[target].items.get(&id.name).cloned();
        match entry {
            Some(e) if e.public => match e.item {
                ItemRef::Type(idx) => self.ensure_type_decl(idx),
                _ => {
                    self.error(
                        Code::UnknownName,
                        md.span.to(id.span),
                        format!("`{}:{}` is not a type", md.name, id.name),
                    );
                    TyId::NEVER
                }
            },
            Some(_) => {
                self.error(
                    Code::UnknownName,
                    md.span.to(id.span),
                    format!("`{}` is not public in module `{}`", id.name, md.name),
                );
                TyId::NEVER
            }
            None => {
                self.error(
                    Code::UnknownName,
                    md.span.to(id.span),
                    format!("module `{}` has no type `{}`", md.name, id.name),
                );
                TyId::NEVER
            }
        }
    }

    /// The module an alias names in module `m`; reports `unknown-module`
    /// (`None`) when it is not imported. `Some` of a failed import is also
    /// `None` but without a new diagnostic.
    pub(crate) fn module_alias(&mut self, m: usize, md: &Ident) -> Option<usize> {
        match self.modules[m].imports.get(&md.name) {
            Some(Some(t)) => Some(*t),
            Some(None) => None,
            None => {
                let help = if super::modules::is_stdlib_module(&md.name)
                    || super::modules::is_later_stdlib_module(&md.name)
                {
                    format!("add `import {};` at the top of the file", md.name)
                } else {
                    format!(
                        "import the module first, e.g. `import \"./{}.flow\" as {};`",
                        md.name, md.name
                    )
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownModule,
                        md.span,
                        format!("module `{}` is not imported", md.name),
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    /// Resolves a `type` declaration (once).
    pub(crate) fn ensure_type_decl(&mut self, idx: usize) -> TyId {
        match self.type_decls[idx].state {
            TypeState::Done(t) | TypeState::InProgress(t) => return t,
            TypeState::Unresolved => {}
        }
        let m = self.type_decls[idx].module;
        let decl = self.type_decls[idx].decl.clone();
        let qname = self.modules[m].qualify(&decl.name.name);
        let t = self.resolve_type_decl(idx, m, &decl, qname.clone());
        if self.modules[m].stdlib && t != TyId::NEVER {
            self.types.register_stdlib(qname, t);
        }
        t
    }

    fn resolve_type_decl(
        &mut self,
        idx: usize,
        m: usize,
        decl: &ast::TypeDecl,
        qname: Name,
    ) -> TyId {
        if self.type_decls[idx].opaque {
            let t = self.types.intern(TyKind::Object(qname));
            self.type_decls[idx].state = TypeState::Done(t);
            return t;
        }
        if let TypeExprKind::Distinct(parent) = &decl.ty.kind {
            self.type_decls[idx].state = TypeState::InProgress(TyId::NEVER);
            let p = self.resolve_type_in(m, parent);
            let t = match self.types.kind(p) {
                TyKind::Error(e) => {
                    let e: ErrorId = *e;
                    self.types.add_error(qname, e).1
                }
                TyKind::Never => TyId::NEVER,
                _ => {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            parent.span,
                            format!(
                                "a distinct type must refine an error type, not `{}`",
                                self.show(p)
                            ),
                        )
                        .with_help("write `type Name distinct error;`"),
                    );
                    TyId::NEVER
                }
            };
            self.type_decls[idx].state = TypeState::Done(t);
            return t;
        }
        let slot = self.types.declare_named(decl.name.name.clone());
        self.type_decls[idx].state = TypeState::InProgress(slot);
        let result = if let TypeExprKind::Record(fields) = &decl.ty.kind {
            let rid = self.build_record(m, fields, Some(decl.name.name.clone()));
            self.types.define_named(slot, TyKind::Record(rid));
            self.record_canon.insert(rid, slot);
            slot
        } else {
            let t = self.resolve_type_in(m, &decl.ty);
            let kind = self.types.kind(t).clone();
            match kind {
                TyKind::Pending(_) => {
                    self.error(
                        Code::TypeMismatch,
                        decl.ty.span,
                        "a recursive type must refer to itself through a record, array or map",
                    );
                    self.types.define_named(slot, TyKind::Never);
                    TyId::NEVER
                }
                TyKind::Never => {
                    self.types.define_named(slot, TyKind::Never);
                    TyId::NEVER
                }
                TyKind::Record(_) | TyKind::Error(_) => {
                    self.types.define_named(slot, kind);
                    t
                }
                k @ TyKind::Union(_) => {
                    self.types.define_named(slot, k);
                    slot
                }
                k => {
                    self.types.define_named(slot, k);
                    self.types.canon(slot)
                }
            }
        };
        self.type_decls[idx].state = TypeState::Done(result);
        result
    }

    /// Builds a record definition from its field declarations.
    fn build_record(
        &mut self,
        m: usize,
        fields: &[ast::FieldDecl],
        name: Option<Name>,
    ) -> RecordId {
        let mut defs: Vec<FieldDef> = Vec::with_capacity(fields.len());
        let mut defaults = Vec::with_capacity(fields.len());
        let mut spans: Vec<(Name, crate::syntax::span::Span)> = Vec::new();
        for f in fields {
            if let Some((_, prev)) = spans.iter().find(|(n, _)| *n == f.name.name) {
                let prev = *prev;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        f.name.span,
                        format!("field `{}` is declared twice", f.name.name),
                    )
                    .with_label(prev, "first declared here"),
                );
                continue;
            }
            spans.push((f.name.name.clone(), f.name.span));
            let ty = self.resolve_type_in(m, &f.ty);
            defs.push(FieldDef {
                name: f.name.name.clone(),
                ty,
                has_default: f.default.is_some(),
            });
            defaults.push(f.default.clone());
        }
        let ty = self.types.add_record(RecordDef { name, fields: defs });
        let rid = match self.types.kind(ty) {
            TyKind::Record(r) => *r,
            _ => RecordId(0),
        };
        self.record_canon.entry(rid).or_insert(ty);
        self.record_defaults
            .insert(rid, RecordDefaults::Pending(m, defaults));
        rid
    }

    /// A type used as a value (`cloneWithType(T)`, `typedesc t = int;`):
    /// a type keyword or `map<T>`/`record {}`, a (qualified) type name, or
    /// `Name[]`. `None` if the expression is not a type.
    pub(crate) fn expr_as_type(&mut self, e: &ast::Expr) -> Option<TyId> {
        let m = self.module();
        match &e.kind {
            ast::ExprKind::TypeDesc(t) => Some(self.resolve_type_in(m, t)),
            ast::ExprKind::EmptyIndex(inner) => {
                let t = self.expr_as_type(inner)?;
                if t == TyId::NEVER {
                    return Some(TyId::NEVER);
                }
                Some(self.types.array(t))
            }
            ast::ExprKind::Name(id) => {
                if self.fns.last().and_then(|f| f.lookup(&id.name)).is_some() {
                    return None;
                }
                match self.modules[m].items.get(&id.name).map(|e| e.item) {
                    Some(ItemRef::Type(idx)) => Some(self.ensure_type_decl(idx)),
                    _ => None,
                }
            }
            ast::ExprKind::Qualified(md, id) => {
                let target = *self.modules[m].imports.get(&md.name)?;
                let target = target?;
                match self.modules[target].items.get(&id.name) {
                    Some(e) if e.public => match e.item {
                        ItemRef::Type(idx) => Some(self.ensure_type_decl(idx)),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The type of a built-in type keyword.
fn builtin(b: BuiltinType) -> TyId {
    match b {
        BuiltinType::Int => TyId::INT,
        BuiltinType::Float => TyId::FLOAT,
        BuiltinType::Boolean => TyId::BOOLEAN,
        BuiltinType::String => TyId::STRING,
        BuiltinType::Json => TyId::JSON,
        BuiltinType::Any => TyId::ANY,
        BuiltinType::Duration => TyId::DURATION,
        BuiltinType::Typedesc => TyId::TYPEDESC,
        BuiltinType::Error => TyId::ERROR,
        BuiltinType::Nil => TyId::NIL,
    }
}
