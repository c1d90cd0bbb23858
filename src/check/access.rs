//! Member access (§7.5) — record fields, map and json keys, array indices,
//! `?.` — and assignment to places, including compound assignment lowered
//! to plain assignment with hidden locals.

use super::checker::{suggest, Checker, ItemRef};
use super::expr::LocalRef;
use super::tir::{self, ExprKind, FieldRef, Literal, Place, StmtKind};
use super::types::{TyId, TyKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident};
use crate::syntax::span::Span;

/// An assignable place with the type values stored in it must have.
struct PlaceInfo {
    place: Place,
    ty: TyId,
}

impl Checker {
    /// `x.f` on a checked receiver.
    pub(crate) fn field_access(
        &mut self,
        target: tir::Expr,
        name: &Ident,
        span: Span,
    ) -> tir::Expr {
        let t = self.no_error(target, "a field receiver");
        if self.is_poison(t.ty) {
            return Checker::poison(span);
        }
        let key = || tir::Expr::lit(Literal::Str(name.name.clone()), TyId::STRING, name.span);
        match self.kind(t.ty) {
            TyKind::Record(r) => {
                let def = self.types.record(r);
                match def.field_index(&name.name) {
                    Some(i) => {
                        let ty = def.fields[i].ty;
                        tir::Expr {
                            kind: ExprKind::Field(
                                Box::new(t),
                                FieldRef {
                                    record: r,
                                    index: i as u32,
                                    name: name.name.clone(),
                                },
                            ),
                            ty,
                            span,
                        }
                    }
                    None => {
                        self.unknown_field(r, name);
                        Checker::poison(span)
                    }
                }
            }
            TyKind::Map(v) => {
                let ty = self.types.optional(v);
                tir::Expr {
                    kind: ExprKind::MapGet(Box::new(t), Box::new(key())),
                    ty,
                    span,
                }
            }
            TyKind::Json => tir::Expr {
                kind: ExprKind::JsonGet(Box::new(t), Box::new(key())),
                ty: TyId::JSON,
                span,
            },
            _ => {
                if self.types.has_nil(t.ty) {
                    let nn = self.types.without_nil(t.ty);
                    if matches!(self.types.kind(nn), TyKind::Record(_) | TyKind::Map(_)) {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                t.span,
                                format!("the receiver may be `()` (it is `{}`)", self.show(t.ty)),
                            )
                            .with_help(format!(
                                "use `?.{}` to get `()` when it is `()`, or test it with `if x != () {{ ... }}` first",
                                name.name
                            )),
                        );
                        return Checker::poison(span);
                    }
                }
                let mut d = Diagnostic::new(
                    Code::UnknownField,
                    name.span,
                    format!(
                        "a value of type `{}` has no field `{}`",
                        self.show(t.ty),
                        name.name
                    ),
                );
                if matches!(self.types.kind(t.ty), TyKind::Union(_) | TyKind::Any) {
                    d = d.with_help("narrow the value first with `if x is T { ... }`");
                }
                self.report(d);
                Checker::poison(span)
            }
        }
    }

    fn unknown_field(&mut self, r: super::types::RecordId, name: &Ident) {
        let def = self.types.record(r);
        let rname = def.name.clone().unwrap_or_else(|| "record".into());
        if let Some(s) = suggest(&name.name, def.fields.iter().map(|f| &*f.name)) {
            let s = s.to_string();
            self.report(
                Diagnostic::new(
                    Code::UnknownField,
                    name.span,
                    format!("record `{rname}` has no field `{}`", name.name),
                )
                .with_help(format!("did you mean `{s}`?")),
            );
            return;
        }
        let names: Vec<String> = def.fields.iter().map(|f| format!("`{}`", f.name)).collect();
        self.report(
            Diagnostic::new(
                Code::UnknownField,
                name.span,
                format!("record `{rname}` has no field `{}`", name.name),
            )
            .with_help(format!("its fields are {}", names.join(", "))),
        );
    }

    /// `x?.f`.
    pub(crate) fn optional_field(
        &mut self,
        target: &ast::Expr,
        name: &Ident,
        span: Span,
    ) -> tir::Expr {
        let t = self.expr(target, None);
        let t = self.no_error(t, "a field receiver");
        if self.is_poison(t.ty) {
            return Checker::poison(span);
        }
        self.optional_chain(t, span, |c, read| c.field_access(read, name, span))
    }

    /// `x?.<access>`: when `x` may be `()`, binds it (without `()`) to a hidden
    /// local, applies `access` to that local and yields `()` for `()`; when it
    /// cannot be `()`, simply applies `access` to `x`.
    pub(crate) fn optional_chain(
        &mut self,
        t: tir::Expr,
        span: Span,
        access: impl FnOnce(&mut Self, tir::Expr) -> tir::Expr,
    ) -> tir::Expr {
        if !self.types.has_nil(t.ty) {
            return access(self, t);
        }
        let inner_ty = self.types.without_nil(t.ty);
        let local = self.fx().hidden(inner_ty, t.span);
        let read = tir::Expr {
            kind: ExprKind::Local(local),
            ty: inner_ty,
            span: t.span,
        };
        let access = access(self, read);
        if self.is_poison(access.ty) {
            return Checker::poison(span);
        }
        let ty = self.types.optional(access.ty);
        tir::Expr {
            kind: ExprKind::OptionalChain {
                target: Box::new(t),
                local,
                access: Box::new(access),
            },
            ty,
            span,
        }
    }

    /// `x[i]`.
    pub(crate) fn index_expr(
        &mut self,
        target: &ast::Expr,
        index: &ast::Expr,
        span: Span,
    ) -> tir::Expr {
        let t = self.expr(target, None);
        let t = self.no_error(t, "an indexed value");
        if self.is_poison(t.ty) {
            let _ = self.expr(index, None);
            return Checker::poison(span);
        }
        match self.kind(t.ty) {
            TyKind::Array(e) => {
                let i = self.int_operand(index);
                tir::Expr {
                    kind: ExprKind::ArrayIndex(Box::new(t), Box::new(i)),
                    ty: e,
                    span,
                }
            }
            TyKind::Map(v) => {
                let k = self.string_operand(index);
                let ty = self.types.optional(v);
                tir::Expr {
                    kind: ExprKind::MapGet(Box::new(t), Box::new(k)),
                    ty,
                    span,
                }
            }
            TyKind::Json => {
                let k = self.string_operand(index);
                tir::Expr {
                    kind: ExprKind::JsonGet(Box::new(t), Box::new(k)),
                    ty: TyId::JSON,
                    span,
                }
            }
            TyKind::Record(_) => {
                if let ast::ExprKind::Str(s) = &index.kind {
                    let id = Ident {
                        name: s.clone(),
                        span: index.span,
                    };
                    return self.field_access(t, &id, span);
                }
                self.error(
                    Code::TypeMismatch,
                    index.span,
                    "a record can only be indexed with a string literal naming a field",
                );
                Checker::poison(span)
            }
            TyKind::String => {
                let _ = self.expr(index, None);
                self.report(
                    Diagnostic::new(Code::TypeMismatch, span, "strings cannot be indexed")
                        .with_help("use `s.substring(i, i + 1)` to get one character"),
                );
                Checker::poison(span)
            }
            _ => {
                let _ = self.expr(index, None);
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    span,
                    format!("a value of type `{}` cannot be indexed", self.show(t.ty)),
                );
                if matches!(self.types.kind(t.ty), TyKind::Union(_) | TyKind::Any) {
                    d = d.with_help("narrow the value first with `if x is T { ... }`");
                }
                self.report(d);
                Checker::poison(span)
            }
        }
    }

    /// Checks a `string` operand (keys).
    pub(crate) fn string_operand(&mut self, e: &ast::Expr) -> tir::Expr {
        let v = self.expr(e, Some(TyId::STRING));
        let v = self.no_error(v, "a key");
        self.coerce(v, TyId::STRING)
    }

    /// An assignment statement `target = value;` or `target op= value;`.
    pub(crate) fn assign_stmt(
        &mut self,
        target: &ast::Expr,
        op: Option<ast::BinOp>,
        value: &ast::Expr,
        span: Span,
        out: &mut Vec<tir::Stmt>,
    ) {
        let mut pre: Vec<tir::Stmt> = Vec::new();
        let compound = op.is_some();
        let Some(pi) = self.place(target, compound, &mut pre) else {
            let _ = self.expr(value, None);
            return;
        };
        let v = match op {
            None => {
                let v = self.expr(value, Some(pi.ty));
                self.coerce(v, pi.ty)
            }
            Some(op) => {
                let read = self.read_place(&pi.place, pi.ty, target.span);
                let r = self.expr(value, None);
                let r = self.no_error(r, "an operand");
                let res = self.arith(op, read, r, span);
                self.coerce(res, pi.ty)
            }
        };
        // Assignment ends narrowing of a local; remember where its value came from.
        if let Place::Local(id) = &pi.place {
            let id = *id;
            let origin = self.error_call(&v);
            let f = self.fx();
            f.note_assigned(id);
            f.meta_mut(id).origin = origin;
        }
        let stmt = tir::Stmt {
            kind: StmtKind::Assign {
                place: pi.place,
                value: v,
            },
            span,
        };
        if pre.is_empty() {
            out.push(stmt);
        } else {
            pre.push(stmt);
            out.push(tir::Stmt {
                kind: StmtKind::Block(tir::Block { stmts: pre }),
                span,
            });
        }
    }

    /// The current value of a place (for compound assignment).
    fn read_place(&mut self, p: &Place, ty: TyId, span: Span) -> tir::Expr {
        let kind = match p {
            Place::Local(id) => {
                let t = self.fx().current_ty(*id);
                return tir::Expr {
                    kind: ExprKind::Local(*id),
                    ty: t,
                    span,
                };
            }
            Place::Upvalue(i) => ExprKind::Upvalue(*i),
            Place::Global(g) => ExprKind::Global(*g),
            Place::ArrayIndex(a, i) => {
                ExprKind::ArrayIndex(Box::new(a.clone()), Box::new(i.clone()))
            }
            Place::MapKey(m, k) => {
                let t = self.types.optional(ty);
                return tir::Expr {
                    kind: ExprKind::MapGet(Box::new(m.clone()), Box::new(k.clone())),
                    ty: t,
                    span,
                };
            }
            Place::Field(r, f) => ExprKind::Field(Box::new(r.clone()), f.clone()),
        };
        tir::Expr { kind, ty, span }
    }

    /// Stores `e` in a hidden local (unless it is a plain local or a
    /// literal) so a compound assignment evaluates it once.
    fn once(&mut self, e: tir::Expr, compound: bool, pre: &mut Vec<tir::Stmt>) -> tir::Expr {
        if !compound || matches!(e.kind, ExprKind::Local(_) | ExprKind::Lit(_)) {
            return e;
        }
        let span = e.span;
        let ty = e.ty;
        let id = self.fx().hidden(ty, span);
        pre.push(tir::Stmt {
            kind: StmtKind::Let { local: id, init: e },
            span,
        });
        tir::Expr {
            kind: ExprKind::Local(id),
            ty,
            span,
        }
    }

    fn place(
        &mut self,
        target: &ast::Expr,
        compound: bool,
        pre: &mut Vec<tir::Stmt>,
    ) -> Option<PlaceInfo> {
        use ast::ExprKind as E;
        match &target.kind {
            E::Name(id) => self.name_place(id, target.span, compound),
            E::Qualified(md, n) => {
                let (item, _) = self.qualified_item(md, n, target.span)?;
                self.item_place(item, &n.name, target.span)
            }
            E::Field {
                target: base,
                name,
                optional: false,
            } => {
                let b = self.expr(base, None);
                let b = self.no_error(b, "a field receiver");
                if self.is_poison(b.ty) {
                    return None;
                }
                match self.kind(b.ty) {
                    TyKind::Record(r) => {
                        let def = self.types.record(r);
                        let Some(i) = def.field_index(&name.name) else {
                            self.unknown_field(r, name);
                            return None;
                        };
                        let ty = def.fields[i].ty;
                        let b = self.once(b, compound, pre);
                        Some(PlaceInfo {
                            place: Place::Field(
                                b,
                                FieldRef {
                                    record: r,
                                    index: i as u32,
                                    name: name.name.clone(),
                                },
                            ),
                            ty,
                        })
                    }
                    TyKind::Map(v) => {
                        let b = self.once(b, compound, pre);
                        let k = tir::Expr::lit(
                            Literal::Str(name.name.clone()),
                            TyId::STRING,
                            name.span,
                        );
                        Some(PlaceInfo {
                            place: Place::MapKey(b, k),
                            ty: v,
                        })
                    }
                    _ => {
                        self.not_assignable_receiver(b.ty, b.span);
                        None
                    }
                }
            }
            E::Index(base, index) => {
                let b = self.expr(base, None);
                let b = self.no_error(b, "an indexed value");
                if self.is_poison(b.ty) {
                    let _ = self.expr(index, None);
                    return None;
                }
                match self.kind(b.ty) {
                    TyKind::Array(e) => {
                        let b = self.once(b, compound, pre);
                        let i = self.int_operand(index);
                        let i = self.once(i, compound, pre);
                        Some(PlaceInfo {
                            place: Place::ArrayIndex(b, i),
                            ty: e,
                        })
                    }
                    TyKind::Map(v) => {
                        let b = self.once(b, compound, pre);
                        let k = self.string_operand(index);
                        let k = self.once(k, compound, pre);
                        Some(PlaceInfo {
                            place: Place::MapKey(b, k),
                            ty: v,
                        })
                    }
                    _ => {
                        let _ = self.expr(index, None);
                        self.not_assignable_receiver(b.ty, b.span);
                        None
                    }
                }
            }
            E::Error => None,
            _ => {
                self.error(
                    Code::TypeMismatch,
                    target.span,
                    "this expression cannot be assigned to",
                );
                None
            }
        }
    }

    fn not_assignable_receiver(&mut self, t: TyId, span: Span) {
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            span,
            format!("cannot assign into a value of type `{}`", self.show(t)),
        );
        if matches!(self.types.kind(t), TyKind::Json) {
            d = d.with_help(
                "convert it first, e.g. `map<json> m = check j.cloneWithType(map<json>);`",
            );
        } else if self.types.has_nil(t) {
            d = d.with_help("the value may be `()`: test it with `if x != () { ... }` first");
        }
        self.report(d);
    }

    /// A variable as an assignment target; `compound` (`x += 1`) also
    /// reads it.
    fn name_place(&mut self, id: &Ident, span: Span, compound: bool) -> Option<PlaceInfo> {
        if let Some((r, _)) = self.resolve_local(&id.name, compound) {
            let (level, lid) = match r {
                LocalRef::Local(l) => (self.fns.len() - 1, l),
                LocalRef::Upvalue(_, level, l) => (level, l),
            };
            let owner = &self.fns[level];
            let meta = owner.meta(lid);
            if meta.is_final {
                let decl = meta.span;
                self.report(
                    Diagnostic::new(
                        Code::AssignToFinal,
                        span,
                        format!("cannot assign to `{}`: it is declared `final`", id.name),
                    )
                    .with_label(decl, "declared final here")
                    .with_help(
                        "declare it with `var` or a type instead of `final` if it must change",
                    ),
                );
                return None;
            }
            let ty = owner.declared_ty(lid);
            let place = match r {
                LocalRef::Local(l) => Place::Local(l),
                LocalRef::Upvalue(i, ..) => Place::Upvalue(i),
            };
            return Some(PlaceInfo { place, ty });
        }
        let m = self.module();
        match self.modules[m].items.get(&id.name).map(|e| e.item) {
            Some(item) => self.item_place(item, &id.name, span),
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
                None
            }
        }
    }

    fn item_place(&mut self, item: ItemRef, name: &str, span: Span) -> Option<PlaceInfo> {
        match item {
            ItemRef::Global(g) => {
                let gl = &self.globals[g.0 as usize];
                if gl.is_final {
                    let gi = &self.ginfo[g.0 as usize];
                    let (what, help) = if gi.is_const {
                        (
                            "a constant",
                            "declare a module variable with `var` if it must change",
                        )
                    } else if gi.is_configurable {
                        (
                            "a configurable",
                            "a configurable is set before `main` and never changes; copy it to a `var` to change the copy",
                        )
                    } else {
                        (
                            "declared `final`",
                            "declare a module variable with `var` if it must change",
                        )
                    };
                    let decl = gi.span;
                    self.report(
                        Diagnostic::new(
                            Code::AssignToFinal,
                            span,
                            format!("cannot assign to `{name}`: it is {what}"),
                        )
                        .with_label(decl, "declared here")
                        .with_help(help),
                    );
                    return None;
                }
                Some(PlaceInfo {
                    place: Place::Global(g),
                    ty: gl.ty,
                })
            }
            ItemRef::Func(_) | ItemRef::Type(_) => {
                self.error(
                    Code::AssignToFinal,
                    span,
                    format!("cannot assign to `{name}`: it is not a variable"),
                );
                None
            }
        }
    }
}
