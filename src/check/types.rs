//! The type table: every static type of a program, interned, plus record and
//! error-type definitions. Built by the checker, then shared read-only with
//! the VM (for `is`, casts, `cloneWithType` and typed results).
//!
//! Invariant: after checking, the table is immutable and `Send + Sync`.

use crate::syntax::ast::Name;
use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt::Write as _;

/// Index of a type in [`Types`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TyId(pub u32);

/// Index of a record definition.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RecordId(pub u32);

/// Index of an error type (0 is plain `error`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ErrorId(pub u32);

/// A function type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct FnType {
    /// Parameter types.
    pub params: Vec<TyId>,
    /// Element type of a trailing rest parameter.
    pub rest: Option<TyId>,
    /// Return type.
    pub ret: TyId,
}

/// The structure of a type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum TyKind {
    /// No value (the type of `panic`, an empty union).
    Never,
    /// `()`
    Nil,
    /// `boolean`
    Boolean,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `string`
    String,
    /// `duration`
    Duration,
    /// `json`
    Json,
    /// `any` (every value except errors)
    Any,
    /// `typedesc`
    Typedesc,
    /// An error type (plain `error` is `ErrorId(0)`).
    Error(ErrorId),
    /// `T[]`
    Array(TyId),
    /// `map<T>`
    Map(TyId),
    /// `future<T>`
    Future(TyId),
    /// A record type.
    Record(RecordId),
    /// A union of two or more non-union types (flattened, no duplicates).
    Union(Vec<TyId>),
    /// A function type.
    Function(FnType),
    /// An opaque runtime object of the standard library (e.g. `http:Client`).
    Object(Name),
    /// A named type whose definition is not resolved yet (recursion).
    Pending(Name),
}

/// A field of a record type.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// Field name.
    pub name: Name,
    /// Field type.
    pub ty: TyId,
    /// The field has a default value (it may be left out of literals).
    pub has_default: bool,
}

/// A record definition.
#[derive(Clone, Debug)]
pub struct RecordDef {
    /// The declared name, when it was declared with `type`.
    pub name: Option<Name>,
    /// Fields in declaration order.
    pub fields: Vec<FieldDef>,
}

impl RecordDef {
    /// The index of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| &*f.name == name)
    }
}

/// A distinct error type.
#[derive(Clone, Debug)]
pub struct ErrorDef {
    /// Its (qualified) name, e.g. `http:TimeoutError`.
    pub name: Name,
    /// The error type it refines (`None` only for `error`).
    pub parent: Option<ErrorId>,
}

/// The type table.
#[derive(Clone, Debug)]
pub struct Types {
    kinds: Vec<TyKind>,
    names: Vec<Option<Name>>,
    interned: FxHashMap<TyKind, TyId>,
    records: Vec<RecordDef>,
    errors: Vec<ErrorDef>,
    /// Standard-library types by qualified name (`http:Response`), so the
    /// natives can find the types they build values of.
    stdlib_named: FxHashMap<Name, TyId>,
}

macro_rules! well_known {
    ($($name:ident = $idx:expr => $kind:expr;)*) => {
        impl TyId { $(
            #[doc = concat!("The built-in type `", stringify!($name), "`.")]
            pub const $name: TyId = TyId($idx);
        )* }
        impl Types {
            fn builtins() -> Vec<TyKind> { vec![$($kind),*] }
        }
    };
}

well_known! {
    NEVER = 0 => TyKind::Never;
    NIL = 1 => TyKind::Nil;
    BOOLEAN = 2 => TyKind::Boolean;
    INT = 3 => TyKind::Int;
    FLOAT = 4 => TyKind::Float;
    STRING = 5 => TyKind::String;
    DURATION = 6 => TyKind::Duration;
    JSON = 7 => TyKind::Json;
    ANY = 8 => TyKind::Any;
    TYPEDESC = 9 => TyKind::Typedesc;
    ERROR = 10 => TyKind::Error(ErrorId(0));
}

impl Default for Types {
    fn default() -> Self {
        Types::new()
    }
}

impl Types {
    /// A table holding the built-in types.
    pub fn new() -> Types {
        let mut t = Types {
            kinds: Vec::new(),
            names: Vec::new(),
            interned: FxHashMap::default(),
            records: Vec::new(),
            errors: vec![ErrorDef {
                name: "error".into(),
                parent: None,
            }],
            stdlib_named: FxHashMap::default(),
        };
        for k in Types::builtins() {
            t.intern(k);
        }
        t
    }

    /// The structure of a type.
    pub fn kind(&self, t: TyId) -> &TyKind {
        &self.kinds[t.0 as usize]
    }

    /// Records a standard-library type under its qualified name
    /// (`http:Response`); the first registration of a name wins.
    pub fn register_stdlib(&mut self, qualified: Name, t: TyId) {
        self.stdlib_named.entry(qualified).or_insert(t);
    }

    /// A standard-library type by qualified name (`http:Error`), if the
    /// program uses its module.
    pub fn stdlib_type(&self, qualified: &str) -> Option<TyId> {
        self.stdlib_named.get(qualified).copied()
    }

    /// The declared name of a type, if it has one.
    pub fn name(&self, t: TyId) -> Option<&Name> {
        self.names[t.0 as usize].as_ref()
    }

    /// Interns a structural type.
    pub fn intern(&mut self, k: TyKind) -> TyId {
        if let Some(id) = self.interned.get(&k) {
            return *id;
        }
        let id = TyId(self.kinds.len() as u32);
        self.kinds.push(k.clone());
        self.names.push(None);
        self.interned.insert(k, id);
        id
    }

    /// Reserves a named slot (for `type` declarations, which may be recursive).
    pub fn declare_named(&mut self, name: Name) -> TyId {
        let id = TyId(self.kinds.len() as u32);
        self.kinds.push(TyKind::Pending(name.clone()));
        self.names.push(Some(name));
        id
    }

    /// Fills a slot reserved by [`Types::declare_named`].
    pub fn define_named(&mut self, slot: TyId, kind: TyKind) {
        self.kinds[slot.0 as usize] = kind;
    }

    /// Adds a record definition and returns its type.
    pub fn add_record(&mut self, def: RecordDef) -> TyId {
        let rid = RecordId(self.records.len() as u32);
        self.records.push(def);
        self.intern(TyKind::Record(rid))
    }

    /// The definition of a record (an empty definition for an id from
    /// another program, which only a host mixing programs could produce).
    pub fn record(&self, r: RecordId) -> &RecordDef {
        static UNKNOWN: RecordDef = RecordDef {
            name: None,
            fields: Vec::new(),
        };
        self.records.get(r.0 as usize).unwrap_or(&UNKNOWN)
    }

    /// Every record definition, by [`RecordId`].
    pub fn records(&self) -> &[RecordDef] {
        &self.records
    }

    /// Every error type, by [`ErrorId`].
    pub fn error_defs(&self) -> &[ErrorDef] {
        &self.errors
    }

    /// Mutable access to a record definition (while checking).
    pub fn record_mut(&mut self, r: RecordId) -> &mut RecordDef {
        &mut self.records[r.0 as usize]
    }

    /// Adds a distinct error type and returns its type.
    pub fn add_error(&mut self, name: Name, parent: ErrorId) -> (ErrorId, TyId) {
        let eid = ErrorId(self.errors.len() as u32);
        self.errors.push(ErrorDef {
            name,
            parent: Some(parent),
        });
        (eid, self.intern(TyKind::Error(eid)))
    }

    /// An error type's definition.
    pub fn error_def(&self, e: ErrorId) -> &ErrorDef {
        // An id from another program falls back to plain `error` (entry 0).
        let i = if (e.0 as usize) < self.errors.len() {
            e.0 as usize
        } else {
            0
        };
        &self.errors[i]
    }

    /// Whether error type `sub` is `sup` or refines it.
    pub fn error_extends(&self, sub: ErrorId, sup: ErrorId) -> bool {
        let mut cur = Some(sub);
        while let Some(c) = cur {
            if c == sup {
                return true;
            }
            cur = self.errors[c.0 as usize].parent;
        }
        false
    }

    /// The canonical id of a type: a named alias of a structural type (say
    /// `type Id int;`) maps to the interned structural id, so ids of equal
    /// built-in types compare equal. Records, unions and errors keep their
    /// named slot (it carries the name for messages).
    pub fn canon(&self, t: TyId) -> TyId {
        if self.names[t.0 as usize].is_none() {
            return t;
        }
        match self.kind(t) {
            TyKind::Record(_) | TyKind::Union(_) | TyKind::Error(_) | TyKind::Pending(_) => t,
            k => self.interned.get(k).copied().unwrap_or(t),
        }
    }

    /// `T[]`
    pub fn array(&mut self, elem: TyId) -> TyId {
        self.intern(TyKind::Array(elem))
    }

    /// `map<T>`
    pub fn map(&mut self, elem: TyId) -> TyId {
        self.intern(TyKind::Map(elem))
    }

    /// `future<T>`
    pub fn future(&mut self, t: TyId) -> TyId {
        self.intern(TyKind::Future(t))
    }

    /// A function type.
    pub fn function(&mut self, f: FnType) -> TyId {
        self.intern(TyKind::Function(f))
    }

    /// The members of a type viewed as a union (a non-union is one member).
    pub fn members(&self, t: TyId) -> Vec<TyId> {
        match self.kind(t) {
            TyKind::Union(ms) => ms.clone(),
            TyKind::Never => Vec::new(),
            _ => vec![t],
        }
    }

    /// The union of the given types (flattened, deduplicated, collapsed).
    pub fn union(&mut self, parts: &[TyId]) -> TyId {
        let mut flat: Vec<TyId> = Vec::new();
        for &p in parts {
            for m in self.members(p) {
                if !flat.contains(&m) {
                    flat.push(m);
                }
            }
        }
        // Drop members subsumed by `json`/`any`/a parent error present in the union.
        let snapshot = flat.clone();
        flat.retain(|&m| {
            !snapshot
                .iter()
                .any(|&o| o != m && self.subsumes_member(o, m))
        });
        match flat.len() {
            0 => TyId::NEVER,
            1 => flat[0],
            _ => {
                flat.sort();
                self.intern(TyKind::Union(flat))
            }
        }
    }

    /// Whether member `big` makes member `small` redundant in a union.
    fn subsumes_member(&self, big: TyId, small: TyId) -> bool {
        match (self.kind(big), self.kind(small)) {
            (TyKind::Json, k) => matches!(
                k,
                TyKind::Nil | TyKind::Boolean | TyKind::Int | TyKind::Float | TyKind::String
            ),
            (TyKind::Any, k) => !matches!(
                k,
                TyKind::Error(_) | TyKind::Any | TyKind::Pending(_) | TyKind::Never
            ),
            (TyKind::Error(a), TyKind::Error(b)) => a != b && self.error_extends(*b, *a),
            _ => false,
        }
    }

    /// `T?` = `T|()`.
    pub fn optional(&mut self, t: TyId) -> TyId {
        self.union(&[t, TyId::NIL])
    }

    /// Whether a type includes an error type.
    pub fn has_error(&self, t: TyId) -> bool {
        self.members(t)
            .iter()
            .any(|m| matches!(self.kind(*m), TyKind::Error(_)))
    }

    /// Whether a type includes `()`.
    pub fn has_nil(&self, t: TyId) -> bool {
        self.members(t)
            .iter()
            .any(|m| matches!(self.kind(*m), TyKind::Nil | TyKind::Json))
    }

    /// The type without its error members.
    pub fn without_errors(&mut self, t: TyId) -> TyId {
        let keep: Vec<TyId> = self
            .members(t)
            .into_iter()
            .filter(|m| !matches!(self.kind(*m), TyKind::Error(_)))
            .collect();
        self.union(&keep)
    }

    /// Only the error members of a type.
    pub fn only_errors(&mut self, t: TyId) -> TyId {
        let keep: Vec<TyId> = self
            .members(t)
            .into_iter()
            .filter(|m| matches!(self.kind(*m), TyKind::Error(_)))
            .collect();
        self.union(&keep)
    }

    /// The type without `()`.
    pub fn without_nil(&mut self, t: TyId) -> TyId {
        let keep: Vec<TyId> = self
            .members(t)
            .into_iter()
            .filter(|m| !matches!(self.kind(*m), TyKind::Nil))
            .collect();
        self.union(&keep)
    }

    /// Whether a value of type `src` may be stored where `dst` is expected.
    pub fn assignable(&self, src: TyId, dst: TyId) -> bool {
        let mut seen = FxHashSet::default();
        self.assignable_in(src, dst, &mut seen)
    }

    fn assignable_in(&self, src: TyId, dst: TyId, seen: &mut FxHashSet<(TyId, TyId)>) -> bool {
        if src == dst || matches!(self.kind(src), TyKind::Never) {
            return true;
        }
        if !seen.insert((src, dst)) {
            return true; // co-inductive assumption for recursive types
        }
        if let TyKind::Union(ms) = self.kind(src) {
            return ms.iter().all(|m| self.assignable_in(*m, dst, seen));
        }
        match self.kind(dst) {
            TyKind::Union(ms) => {
                if ms.iter().any(|m| self.assignable_in(src, *m, seen)) {
                    return true;
                }
                false
            }
            TyKind::Any => !matches!(self.kind(src), TyKind::Error(_) | TyKind::Pending(_)),
            // A fresh guard: `seen` already holds (src, dst) and would read as a cycle.
            TyKind::Json => self.json_compatible(src, &mut FxHashSet::default()),
            TyKind::Error(d) => match self.kind(src) {
                TyKind::Error(s) => self.error_extends(*s, *d),
                _ => false,
            },
            TyKind::Array(de) => match self.kind(src) {
                TyKind::Array(se) => self.assignable_in(*se, *de, seen),
                _ => false,
            },
            TyKind::Map(de) => match self.kind(src) {
                TyKind::Map(se) => self.assignable_in(*se, *de, seen),
                TyKind::Record(r) => self
                    .record(*r)
                    .fields
                    .iter()
                    .all(|f| self.assignable_in(f.ty, *de, seen)),
                _ => false,
            },
            TyKind::Future(dt) => match self.kind(src) {
                TyKind::Future(st) => self.assignable_in(*st, *dt, seen),
                _ => false,
            },
            TyKind::Record(dr) => match self.kind(src) {
                TyKind::Record(sr) => self.record_assignable(*sr, *dr, seen),
                _ => false,
            },
            TyKind::Function(df) => match self.kind(src) {
                TyKind::Function(sf) => {
                    sf.params.len() == df.params.len()
                        && sf.rest.is_some() == df.rest.is_some()
                        && sf
                            .params
                            .iter()
                            .zip(&df.params)
                            .all(|(s, d)| self.assignable_in(*d, *s, seen))
                        && match (sf.rest, df.rest) {
                            (Some(s), Some(d)) => self.assignable_in(d, s, seen),
                            _ => true,
                        }
                        && (df.ret == TyId::NIL && sf.ret == TyId::NIL
                            || self.assignable_in(sf.ret, df.ret, seen))
                }
                _ => false,
            },
            _ => self.kind(src) == self.kind(dst),
        }
    }

    fn record_assignable(
        &self,
        s: RecordId,
        d: RecordId,
        seen: &mut FxHashSet<(TyId, TyId)>,
    ) -> bool {
        let (sd, dd) = (self.record(s), self.record(d));
        for f in &dd.fields {
            match sd.fields.iter().find(|x| x.name == f.name) {
                Some(sf) => {
                    if !self.assignable_in(sf.ty, f.ty, seen) {
                        return false;
                    }
                }
                None => {
                    if !(f.has_default || self.has_nil(f.ty)) {
                        return false;
                    }
                }
            }
        }
        sd.fields
            .iter()
            .all(|sf| dd.field_index(&sf.name).is_some())
    }

    fn json_compatible(&self, t: TyId, seen: &mut FxHashSet<(TyId, TyId)>) -> bool {
        if !seen.insert((t, TyId::JSON)) && t != TyId::JSON {
            return true;
        }
        match self.kind(t) {
            TyKind::Nil
            | TyKind::Boolean
            | TyKind::Int
            | TyKind::Float
            | TyKind::String
            | TyKind::Json
            | TyKind::Never => true,
            TyKind::Array(e) | TyKind::Map(e) => self.json_compatible(*e, seen),
            TyKind::Record(r) => self
                .record(*r)
                .fields
                .iter()
                .all(|f| self.json_compatible(f.ty, seen)),
            TyKind::Union(ms) => ms.iter().all(|m| self.json_compatible(*m, seen)),
            _ => false,
        }
    }

    /// Whether values of this type can be converted to JSON text.
    pub fn is_json_compatible(&self, t: TyId) -> bool {
        self.json_compatible(t, &mut FxHashSet::default())
    }

    /// Narrows `t` to the members that may be `target` (for `x is target`).
    pub fn intersect(&mut self, t: TyId, target: TyId) -> TyId {
        if self.assignable(t, target) {
            return t;
        }
        let mut keep = Vec::new();
        for m in self.members(t) {
            if self.assignable(m, target) {
                keep.push(m);
            } else if matches!(self.kind(m), TyKind::Json | TyKind::Any) {
                // `json is int` narrows to `int`; `any is T` narrows to T.
                for tm in self.members(target) {
                    if self.assignable(tm, m) {
                        keep.push(tm);
                    }
                }
            } else if let (TyKind::Error(a), TyKind::Error(_)) =
                (self.kind(m).clone(), self.kind(target))
            {
                // `error is NotFound` narrows to NotFound.
                for tm in self.members(target) {
                    if let TyKind::Error(b) = self.kind(tm) {
                        if self.error_extends(*b, a) {
                            keep.push(tm);
                        }
                    }
                }
            }
        }
        self.union(&keep)
    }

    /// Removes from `t` the members that are certainly `target` (the `else`
    /// side of `x is target`).
    pub fn subtract(&mut self, t: TyId, target: TyId) -> TyId {
        let keep: Vec<TyId> = self
            .members(t)
            .into_iter()
            .filter(|m| !self.assignable(*m, target))
            .collect();
        self.union(&keep)
    }

    /// Source-like text of a type, for diagnostics.
    pub fn display(&self, t: TyId) -> String {
        let mut s = String::new();
        self.write(t, &mut s, 0);
        s
    }

    fn write(&self, t: TyId, out: &mut String, depth: usize) {
        if let Some(n) = self.name(t) {
            out.push_str(n);
            return;
        }
        if depth > 8 {
            out.push_str("...");
            return;
        }
        match self.kind(t) {
            TyKind::Never => out.push_str("never"),
            TyKind::Nil => out.push_str("()"),
            TyKind::Boolean => out.push_str("boolean"),
            TyKind::Int => out.push_str("int"),
            TyKind::Float => out.push_str("float"),
            TyKind::String => out.push_str("string"),
            TyKind::Duration => out.push_str("duration"),
            TyKind::Json => out.push_str("json"),
            TyKind::Any => out.push_str("any"),
            TyKind::Typedesc => out.push_str("typedesc"),
            TyKind::Error(e) => out.push_str(&self.error_def(*e).name),
            TyKind::Array(e) => {
                let inner = self.display_nested(*e, depth);
                let _ = write!(out, "{inner}[]");
            }
            TyKind::Map(e) => {
                out.push_str("map<");
                self.write(*e, out, depth + 1);
                out.push('>');
            }
            TyKind::Future(e) => {
                out.push_str("future<");
                self.write(*e, out, depth + 1);
                out.push('>');
            }
            TyKind::Record(r) => {
                let def = self.record(*r);
                if let Some(n) = &def.name {
                    out.push_str(n);
                } else {
                    out.push_str("record { ");
                    for f in &def.fields {
                        self.write(f.ty, out, depth + 1);
                        let _ = write!(out, " {}; ", f.name);
                    }
                    out.push('}');
                }
            }
            TyKind::Union(ms) => {
                let non_nil: Vec<TyId> = ms.iter().copied().filter(|m| *m != TyId::NIL).collect();
                if non_nil.len() == 1 && ms.len() == 2 {
                    let inner = self.display_nested(non_nil[0], depth);
                    let _ = write!(out, "{inner}?");
                    return;
                }
                for (i, m) in ms.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    self.write(*m, out, depth + 1);
                }
            }
            TyKind::Function(f) => {
                out.push_str("function(");
                for (i, p) in f.params.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write(*p, out, depth + 1);
                }
                if let Some(r) = f.rest {
                    if !f.params.is_empty() {
                        out.push_str(", ");
                    }
                    self.write(r, out, depth + 1);
                    out.push_str("...");
                }
                out.push(')');
                if f.ret != TyId::NIL {
                    out.push_str(" returns ");
                    self.write(f.ret, out, depth + 1);
                }
            }
            TyKind::Object(n) | TyKind::Pending(n) => out.push_str(n),
        }
    }

    fn display_nested(&self, t: TyId, depth: usize) -> String {
        let mut s = String::new();
        self.write(t, &mut s, depth + 1);
        if matches!(self.kind(t), TyKind::Union(_) | TyKind::Function(_)) && self.name(t).is_none()
        {
            format!("({s})")
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_flatten_and_assign() {
        let mut t = Types::new();
        let ie = t.union(&[TyId::INT, TyId::ERROR]);
        let ie2 = t.union(&[TyId::ERROR, TyId::INT, TyId::INT]);
        assert_eq!(ie, ie2);
        assert!(t.assignable(TyId::INT, ie));
        assert!(!t.assignable(ie, TyId::INT));
        assert_eq!(t.without_errors(ie), TyId::INT);
        assert_eq!(t.display(ie), "int|error");
        let opt = t.optional(TyId::STRING);
        assert_eq!(t.display(opt), "string?");
        let arr = t.array(TyId::INT);
        assert!(t.assignable(arr, TyId::JSON));
        assert!(!t.assignable(TyId::ERROR, TyId::ANY));
    }
}
