//! The checker's shared state: modules and their top-level names, function
//! signatures, globals, the function-context stack, and small helpers used by
//! every pass.

use super::scope::FnCtx;
use super::tir::{self, FuncId, GlobalId};
use super::types::{RecordId, TyId, TyKind, Types};
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, Name, ParamKind};
use crate::syntax::span::Span;
use rustc_hash::FxHashMap;

/// What a top-level name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemRef {
    /// A function.
    Func(FuncId),
    /// A constant or module variable.
    Global(GlobalId),
    /// A type (index into [`Checker::type_decls`]).
    Type(usize),
}

/// A top-level name of a module.
#[derive(Debug, Clone)]
pub(crate) struct ItemEntry {
    /// What it is.
    pub item: ItemRef,
    /// Declared `public`.
    pub public: bool,
    /// The name's position.
    pub span: Span,
}

/// A module being checked.
#[derive(Debug)]
pub(crate) struct ModuleInfo {
    /// Qualified-name prefix (`io`, an alias; empty for the root).
    pub prefix: Name,
    /// Imports by alias (`None`: the import failed, already reported).
    pub imports: FxHashMap<Name, Option<usize>>,
    /// Top-level names.
    pub items: FxHashMap<Name, ItemEntry>,
    /// A standard-library module.
    pub stdlib: bool,
}

impl ModuleInfo {
    /// The qualified name of an item of this module.
    pub fn qualify(&self, name: &str) -> Name {
        if self.prefix.is_empty() {
            name.into()
        } else {
            format!("{}:{}", self.prefix, name).into()
        }
    }
}

/// Resolution state of a `type` declaration.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TypeState {
    /// Not looked at yet.
    Unresolved,
    /// Being resolved (its slot, for recursive references).
    InProgress(TyId),
    /// Resolved.
    Done(TyId),
}

/// A `type` declaration.
#[derive(Debug)]
pub(crate) struct TypeDeclInfo {
    /// The declaring module.
    pub module: usize,
    /// The declaration.
    pub decl: ast::TypeDecl,
    /// Its resolution state.
    pub state: TypeState,
    /// Declared `@opaque` in the standard library: a runtime object type
    /// ([`TyKind::Object`]) whose definition is ignored.
    pub opaque: bool,
}

/// A parameter of a declared function, as call checking needs it.
#[derive(Debug, Clone)]
pub(crate) struct ParamSig {
    /// Its name (for named arguments).
    pub name: Name,
    /// Its type (element type for a rest parameter; the map type for a
    /// named-rest parameter).
    pub ty: TyId,
    /// It has a default value.
    pub has_default: bool,
    /// Normal, rest or named-rest.
    pub kind: ParamKind,
}

/// The signature of a declared function.
#[derive(Debug, Clone)]
pub(crate) struct FnSig {
    /// Qualified name.
    pub name: Name,
    /// Parameters in order.
    pub params: Vec<ParamSig>,
    /// Return type.
    pub ret: TyId,
    /// Its function type.
    pub ty: TyId,
    /// `@numeric`: `int|float` parameters and result take one numeric type.
    pub numeric: bool,
    /// For `@native` functions: the checked default values (filled in at
    /// the call site).
    pub native_defaults: Option<Vec<Option<tir::Expr>>>,
}

/// Information about a global beyond [`tir::Global`].
#[derive(Debug, Clone)]
pub(crate) struct GlobalInfo {
    /// The declaring module.
    pub module: usize,
    /// The name's position.
    pub span: Span,
    /// Its initialiser has been checked (module-initialiser ordering).
    pub initialised: bool,
    /// Declared with `const`.
    pub is_const: bool,
    /// Declared with `configurable` (§5.4).
    pub is_configurable: bool,
}

/// Default values of a record type's fields.
#[derive(Debug, Clone)]
pub(crate) enum RecordDefaults {
    /// Not checked yet: the declaring module and the default expressions.
    Pending(usize, Vec<Option<ast::Expr>>),
    /// Being checked (a default refers to its own record type).
    InProgress,
    /// Checked.
    Done(Vec<Option<tir::Expr>>),
}

/// The checker.
pub(crate) struct Checker {
    /// The type table.
    pub types: Types,
    /// Diagnostics found.
    pub diags: Vec<Diagnostic>,
    /// Modules in dependency order.
    pub modules: Vec<ModuleInfo>,
    /// Function bodies by id (filled when checked).
    pub funcs: Vec<Option<tir::Function>>,
    /// Signatures of declared functions by id.
    pub sigs: Vec<Option<FnSig>>,
    /// Module variables.
    pub globals: Vec<tir::Global>,
    /// More about module variables.
    pub ginfo: Vec<GlobalInfo>,
    /// Native functions.
    pub natives: Vec<tir::NativeDecl>,
    /// `type` declarations of all modules.
    pub type_decls: Vec<TypeDeclInfo>,
    /// The canonical type id of each record.
    pub record_canon: FxHashMap<RecordId, TyId>,
    /// Field defaults of records.
    pub record_defaults: FxHashMap<RecordId, RecordDefaults>,
    /// The functions being checked, innermost last.
    pub fns: Vec<FnCtx>,
    /// The module whose names are in scope outside any function.
    pub cur_module: usize,
    /// Configurables found by the initialiser pass (§5.4).
    pub configurables: Vec<tir::Configurable>,
    /// Literal network addresses found so far (§15.2).
    pub net_literals: Vec<tir::NetLiteral>,
    /// The checked services (§11).
    pub services: Vec<tir::Service>,
    /// The module variable holding each service's listener, in the order
    /// of `Decls::services`.
    pub service_listeners: Vec<GlobalId>,
    /// Root-module variables whose value the host supplies (the REPL's
    /// session variables): their initialisers are checked but not run, and
    /// a missing initialiser is allowed.
    pub preset: rustc_hash::FxHashSet<Name>,
    /// Checking an endpoint's configuration record: unknown fields and
    /// wrongly typed values are `endpoint-config` errors (§5.5).
    pub config_diag: bool,
    /// The source text (`orders->get`) of each lowered remote call, by the
    /// call's span, for the secondary label of `unhandled-error`.
    pub remote_names: FxHashMap<Span, Name>,
    /// How many `transaction` statements enclose the code being checked
    /// (`nested-transaction`, and where `commit`/`rollback`/`compensate`
    /// may appear).
    pub tx_depth: u32,
    /// Checking a `transactional` resource's body (`compensate` allowed, §12.2).
    pub tx_resource: bool,
    /// Inside `retry (...) transaction`: the attempt number and the retry
    /// count, for the transaction statement being checked.
    pub tx_retry: Option<(tir::Expr, tir::Expr)>,
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Checker {
        Checker {
            types: Types::new(),
            diags: Vec::new(),
            modules: Vec::new(),
            funcs: Vec::new(),
            sigs: Vec::new(),
            globals: Vec::new(),
            ginfo: Vec::new(),
            natives: Vec::new(),
            type_decls: Vec::new(),
            record_canon: FxHashMap::default(),
            record_defaults: FxHashMap::default(),
            fns: Vec::new(),
            cur_module: 0,
            configurables: Vec::new(),
            net_literals: Vec::new(),
            services: Vec::new(),
            service_listeners: Vec::new(),
            preset: Default::default(),
            config_diag: false,
            remote_names: FxHashMap::default(),
            tx_depth: 0,
            tx_resource: false,
            tx_retry: None,
        }
    }

    /// Reports a diagnostic.
    pub fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Records a key of a mapping constructor in `seen`; reports it and
    /// returns `true` when it was given before.
    pub fn duplicate_key(
        &mut self,
        seen: &mut FxHashMap<Name, Span>,
        f: &ast::MappingField,
    ) -> bool {
        let Some(prev) = seen.insert(f.key.clone(), f.key_span) else {
            return false;
        };
        self.report(
            Diagnostic::new(
                Code::DuplicateDefinition,
                f.key_span,
                format!("key `{}` is given twice", f.key),
            )
            .with_label(prev, "first given here"),
        );
        true
    }

    /// Reports an error with a code, position and message.
    pub fn error(&mut self, code: Code, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(code, span, msg));
    }

    /// The innermost function context.
    ///
    /// The checker always has one while checking code; if that invariant is
    /// ever broken a throwaway context is created rather than panicking.
    pub fn fx(&mut self) -> &mut FnCtx {
        if self.fns.is_empty() {
            let m = self.cur_module;
            self.fns.push(FnCtx::new(
                "<none>".into(),
                m,
                TyId::NIL,
                Default::default(),
                true,
            ));
        }
        let n = self.fns.len() - 1;
        &mut self.fns[n]
    }

    /// The module whose names are in scope.
    pub fn module(&self) -> usize {
        self.fns.last().map(|f| f.module).unwrap_or(self.cur_module)
    }

    /// Reserves a function id.
    pub fn new_func_slot(&mut self) -> FuncId {
        let id = FuncId(self.funcs.len() as u32);
        self.funcs.push(None);
        self.sigs.push(None);
        id
    }

    /// Display text of a type.
    pub fn show(&self, t: TyId) -> String {
        self.types.display(t)
    }

    /// Whether `t` is the poison type (an earlier error; no more diagnostics).
    pub fn is_poison(&self, t: TyId) -> bool {
        t == TyId::NEVER
    }

    /// The canonical type of a record.
    pub fn record_ty(&mut self, r: RecordId) -> TyId {
        if let Some(t) = self.record_canon.get(&r) {
            return *t;
        }
        let t = self.types.intern(TyKind::Record(r));
        self.record_canon.insert(r, t);
        t
    }

    /// The structure of a type (cloned).
    pub fn kind(&self, t: TyId) -> TyKind {
        self.types.kind(t).clone()
    }

    /// Whether `src` may be stored where `dst` is expected (poison is
    /// compatible with everything).
    pub fn assignable(&self, src: TyId, dst: TyId) -> bool {
        src == TyId::NEVER || dst == TyId::NEVER || self.types.assignable(src, dst)
    }

    /// A `()` literal.
    pub fn nil_lit(span: Span) -> tir::Expr {
        tir::Expr::lit(tir::Literal::Nil, TyId::NIL, span)
    }

    /// A poison expression (after an error).
    pub fn poison(span: Span) -> tir::Expr {
        tir::Expr::lit(tir::Literal::Nil, TyId::NEVER, span)
    }

    /// Whether a type is `int`, `float`, `string`, `duration` (ordered).
    pub fn is_ordered(&self, t: TyId) -> bool {
        matches!(
            self.types.kind(t),
            TyKind::Int | TyKind::Float | TyKind::String | TyKind::Duration
        )
    }
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// A `help:` for an unknown name: a module used without `:`, or a
    /// similarly spelled name in scope.
    pub fn unknown_name_help(&self, name: &str) -> Option<String> {
        let m = self.module();
        if self
            .modules
            .get(m)
            .is_some_and(|mi| mi.imports.contains_key(name))
        {
            return Some(format!(
                "`{name}` is a module: use its members as `{name}:member`"
            ));
        }
        let mut candidates: Vec<&str> = Vec::new();
        for f in self.fns.iter().rev() {
            candidates.extend(f.visible_names().map(|n| &**n));
            if f.is_root {
                break;
            }
        }
        if let Some(mi) = self.modules.get(m) {
            candidates.extend(mi.items.keys().map(|n| &**n));
        }
        suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    if len < 3 {
        return None;
    }
    let limit = (len / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name || c.starts_with('$') {
            continue;
        }
        let d = edit_distance(name, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance (by characters) counting an adjacent transposition as
/// one edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        row[0] = i;
    }
    for (j, x) in d.iter_mut().take(w).enumerate() {
        *x = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}
