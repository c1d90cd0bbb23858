//! Function-local scopes: local slots, block scopes with shadowing, the
//! narrowing state, failure handlers and lambda captures of one function
//! being checked.

use super::narrow::AssignInfo;
use super::tir::{Capture, LocalId, LocalInfo};
use super::types::TyId;
use crate::syntax::ast::Name;
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// How a local came to be (for warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalKind {
    /// A parameter.
    Param,
    /// A `var`/typed local declaration.
    Let,
    /// A `foreach` variable or a `match` binding.
    Binding,
    /// The variable of an `on fail` clause.
    Handler,
    /// A hidden temporary of a lowering.
    Hidden,
}

/// Checker-side facts about a local slot.
#[derive(Debug, Clone)]
pub(crate) struct LocalMeta {
    /// Where it is declared (its name).
    pub span: Span,
    /// How it was declared.
    pub kind: LocalKind,
    /// Declared `final`.
    pub is_final: bool,
    /// It was read somewhere.
    pub read: bool,
    /// Narrowing never applies to it (it is assigned inside a lambda).
    pub no_narrow: bool,
    /// The call whose result initialised it, or was last assigned to it
    /// (for `unhandled-error` labels).
    pub origin: Option<Origin>,
}

/// A call that produced a value which may be an error (§8.4 rule 1: the
/// secondary label of `unhandled-error` names it).
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The whole call expression.
    pub span: Span,
    /// The function or method called (`parse`, `int:fromString`,
    /// `fromJsonString`), when it has a name.
    pub callee: Option<Name>,
    /// The error part of the call's result type.
    pub errors: TyId,
}

/// A failure handler frame (`do { } on fail`): the error types that reach it.
#[derive(Debug, Default)]
pub(crate) struct Handler {
    /// Each `check`/`fail` that reaches the handler: its error type and position.
    pub errors: Vec<(TyId, Span)>,
}

/// A loop being checked.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LoopFrame {
    /// A `break` leaves this loop.
    pub has_break: bool,
}

/// What narrowing applies to: a local of this function, or (inside a
/// function literal) an upvalue whose variable is never assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NKey {
    /// A local slot.
    Local(LocalId),
    /// An upvalue index.
    Up(u32),
}

#[derive(Debug, Clone, Copy)]
struct Binding {
    depth: u32,
    local: LocalId,
}

/// The state of one function (declared function, lambda, test or module
/// initialiser) while it is being checked.
#[derive(Debug)]
pub(crate) struct FnCtx {
    /// Name for messages (`total`, `<lambda>`).
    pub name: Name,
    /// The module whose names are in scope.
    pub module: usize,
    /// Local slots (parameters first).
    pub locals: Vec<LocalInfo>,
    /// Checker facts per local slot.
    pub meta: Vec<LocalMeta>,
    bindings: FxHashMap<Name, Vec<Binding>>,
    scopes: Vec<Vec<Name>>,
    /// Current narrowed types of locals (absent: the declared type).
    /// Change it only through [`FnCtx::set_narrow`] / [`FnCtx::unset_narrow`]
    /// so that [`FnCtx::undo_to`] can restore earlier states.
    pub narrow: FxHashMap<NKey, TyId>,
    /// Undo trail of `narrow`: each change with the value it replaced.
    pub trail: Vec<(NKey, Option<TyId>)>,
    /// Upvalues whose variable is never assigned (narrowing them is sound).
    pub stable_ups: rustc_hash::FxHashSet<u32>,
    /// Every assignment to a local, in order (for merging narrowing states).
    pub assigned_log: Vec<LocalId>,
    /// For lambdas: captured variables in upvalue order.
    pub captures: Vec<Capture>,
    /// (level of the owning function, local) → upvalue index.
    pub capture_map: FxHashMap<(usize, LocalId), u32>,
    /// Declared return type.
    pub ret: TyId,
    /// For functions whose return type is inferred (arrow functions): the
    /// types returned so far (failures included).
    pub infer_ret: Option<Vec<TyId>>,
    /// Open failure handlers, innermost last.
    pub handlers: Vec<Handler>,
    /// Open loops, innermost last.
    pub loops: Vec<LoopFrame>,
    /// Names assigned in the whole enclosing declared function.
    pub assign_info: Rc<AssignInfo>,
    /// Name lookups do not continue into enclosing functions (declared
    /// functions, tests, initialisers, field defaults).
    pub is_root: bool,
    /// The module initialiser: references to module variables of the
    /// current module must follow their declaration.
    pub is_init: bool,
}

impl FnCtx {
    /// A new function context with an empty outermost scope.
    pub fn new(
        name: Name,
        module: usize,
        ret: TyId,
        assign_info: Rc<AssignInfo>,
        is_root: bool,
    ) -> FnCtx {
        FnCtx {
            name,
            module,
            locals: Vec::new(),
            meta: Vec::new(),
            bindings: FxHashMap::default(),
            scopes: vec![Vec::new()],
            narrow: FxHashMap::default(),
            trail: Vec::new(),
            stable_ups: Default::default(),
            assigned_log: Vec::new(),
            captures: Vec::new(),
            capture_map: FxHashMap::default(),
            ret,
            infer_ret: None,
            handlers: Vec::new(),
            loops: Vec::new(),
            assign_info,
            is_root,
            is_init: false,
        }
    }

    /// The current scope depth.
    fn depth(&self) -> u32 {
        self.scopes.len() as u32
    }

    /// Opens a block scope.
    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Closes the innermost block scope and returns the locals declared in it.
    pub fn pop_scope(&mut self) -> Vec<LocalId> {
        let names = self.scopes.pop().unwrap_or_default();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(v) = self.bindings.get_mut(&n) {
                if let Some(b) = v.pop() {
                    out.push(b.local);
                }
                if v.is_empty() {
                    self.bindings.remove(&n);
                }
            }
        }
        out
    }

    /// Adds a local slot without binding a name.
    pub fn add_local(&mut self, name: Name, ty: TyId, meta: LocalMeta) -> LocalId {
        let id = LocalId(self.locals.len() as u32);
        self.locals.push(LocalInfo {
            name,
            ty,
            captured: false,
        });
        self.meta.push(meta);
        id
    }

    /// A hidden temporary.
    pub fn hidden(&mut self, ty: TyId, span: Span) -> LocalId {
        self.add_local(
            "$tmp".into(),
            ty,
            LocalMeta {
                span,
                kind: LocalKind::Hidden,
                is_final: false,
                read: true,
                no_narrow: true,
                origin: None,
            },
        )
    }

    /// Declares a named local in the innermost scope. On a redeclaration in
    /// the same scope, returns the earlier declaration's span (the new slot
    /// is still created and bound, so later uses resolve).
    pub fn declare(
        &mut self,
        name: &Name,
        span: Span,
        ty: TyId,
        kind: LocalKind,
        is_final: bool,
    ) -> (LocalId, Option<Span>) {
        let depth = self.depth();
        let dup = self
            .bindings
            .get(name)
            .and_then(|v| v.last())
            .filter(|b| b.depth == depth)
            .map(|b| self.meta[b.local.0 as usize].span);
        let no_narrow = self.assign_info.in_lambda.contains(name);
        let id = self.add_local(
            name.clone(),
            ty,
            LocalMeta {
                span,
                kind,
                is_final,
                read: false,
                no_narrow,
                origin: None,
            },
        );
        self.bindings
            .entry(name.clone())
            .or_default()
            .push(Binding { depth, local: id });
        if let Some(s) = self.scopes.last_mut() {
            s.push(name.clone());
        }
        (id, dup)
    }

    /// The names of the locals in scope (for suggestions).
    pub fn visible_names(&self) -> impl Iterator<Item = &Name> {
        self.bindings.keys()
    }

    /// The innermost local with this name.
    pub fn lookup(&self, name: &str) -> Option<LocalId> {
        self.bindings
            .get(name)
            .and_then(|v| v.last())
            .map(|b| b.local)
    }

    /// The declared type of a local.
    pub fn declared_ty(&self, id: LocalId) -> TyId {
        self.locals[id.0 as usize].ty
    }

    /// The current (possibly narrowed) type of a local.
    pub fn current_ty(&self, id: LocalId) -> TyId {
        self.narrow
            .get(&NKey::Local(id))
            .copied()
            .unwrap_or_else(|| self.declared_ty(id))
    }

    /// Facts about a local.
    pub fn meta(&self, id: LocalId) -> &LocalMeta {
        &self.meta[id.0 as usize]
    }

    /// Mutable facts about a local.
    pub fn meta_mut(&mut self, id: LocalId) -> &mut LocalMeta {
        &mut self.meta[id.0 as usize]
    }

    /// Records an assignment: the local's narrowing ends.
    pub fn note_assigned(&mut self, id: LocalId) {
        self.unset_narrow(NKey::Local(id));
        self.assigned_log.push(id);
    }

    /// Narrows a variable (recorded on the undo trail).
    pub fn set_narrow(&mut self, k: NKey, t: TyId) {
        let old = self.narrow.insert(k, t);
        self.trail.push((k, old));
    }

    /// Ends a variable's narrowing (recorded on the undo trail).
    pub fn unset_narrow(&mut self, k: NKey) {
        if let Some(old) = self.narrow.remove(&k) {
            self.trail.push((k, Some(old)));
        }
    }

    /// Undoes narrowing changes back to trail length `len`.
    pub fn undo_to(&mut self, len: usize) {
        while self.trail.len() > len {
            let Some((k, old)) = self.trail.pop() else {
                break;
            };
            match old {
                Some(t) => {
                    self.narrow.insert(k, t);
                }
                None => {
                    self.narrow.remove(&k);
                }
            }
        }
    }

    /// Whether the local's name is never assigned after its declaration in
    /// the enclosing declared function (its narrowing is then valid inside
    /// lambdas too).
    pub fn is_stable(&self, id: LocalId) -> bool {
        let name = &self.locals[id.0 as usize].name;
        !self.assign_info.all.contains(name)
    }
}
