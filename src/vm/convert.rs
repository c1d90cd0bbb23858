//! Run-time type tests (`is`, `<T>x`), `cloneWithType(T)` (§7.4) and
//! `clone()` (§4.1).
//!
//! Values carry no static types (except records, which know their record
//! type), so `is` and `cloneWithType` look at the value structurally and
//! deeply: `[1, 2] is int[]` holds, a map is a record type when its keys and
//! values fit the record's fields.
//!
//! All walks are iterative (explicit work lists), so deep values cannot
//! overflow the Rust stack. The one exception is a union type with more
//! than one member that could match a value (say `int[]|string[]` for an
//! array, or two record types for a map): each such member is tried by a
//! nested walk, and at most [`MAX_UNION_NESTING`] such trials may be nested.
//! Cyclic values are handled: `clone` and `cloneWithType` reproduce the
//! cycle, `is` assumes a type holds for a container it already checks
//! (co-inductively).

use super::value::{ArrayRef, MapObj, MapRef, RecordObj, Str, Value};
use crate::check::types::{ErrorId, RecordId, TyId, TyKind, Types};
use rustc_hash::{FxHashMap, FxHashSet};
use std::rc::Rc;

/// How many union trials (see the module docs) may be nested in one `is`
/// test or `cloneWithType`; beyond it the test is false / the conversion an
/// error.
pub const MAX_UNION_NESTING: usize = 64;

fn addr<T: ?Sized>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const () as usize
}

/// The address of an array, map or record (containers that can form cycles).
fn container_addr(v: &Value) -> Option<usize> {
    match v {
        Value::Array(a) => Some(addr(a)),
        Value::Map(m) => Some(addr(m)),
        Value::Record(r) => Some(addr(r)),
        _ => None,
    }
}

/// Whether a value of this kind could belong to the (non-union) type at all,
/// judging only its top level. `int_as_float` lets an int stand for a float
/// (for `cloneWithType`).
fn could_be(v: &Value, k: &TyKind, types: &Types, int_as_float: bool) -> bool {
    match k {
        TyKind::Json => matches!(
            v,
            Value::Nil
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Str(_)
                | Value::Array(_)
                | Value::Map(_)
                | Value::Record(_)
        ),
        TyKind::Any => !matches!(v, Value::Error(_) | Value::Undefined),
        TyKind::Float => {
            matches!(v, Value::Float(_)) || (int_as_float && matches!(v, Value::Int(_)))
        }
        TyKind::Error(e) => matches!(v, Value::Error(o) if types.error_extends(o.ty, *e)),
        TyKind::Object(name) => matches!(v, Value::Host(h) if h.type_name == &**name),
        TyKind::Union(_) => true,
        _ => same_kind(v, k),
    }
}

/// Whether a (non-union) type has exactly the value's kind.
fn same_kind(v: &Value, k: &TyKind) -> bool {
    if let (Value::Host(h), TyKind::Object(name)) = (v, k) {
        return h.type_name == &**name;
    }
    matches!(
        (v, k),
        (Value::Nil, TyKind::Nil)
            | (Value::Bool(_), TyKind::Boolean)
            | (Value::Int(_), TyKind::Int)
            | (Value::Float(_), TyKind::Float)
            | (Value::Str(_), TyKind::String)
            | (Value::Duration(_), TyKind::Duration)
            | (Value::Typedesc(_), TyKind::Typedesc)
            | (Value::Func(_), TyKind::Function(_))
            | (Value::Error(_), TyKind::Error(_))
            | (Value::Array(_), TyKind::Array(_))
            | (
                Value::Map(_) | Value::Record(_),
                TyKind::Map(_) | TyKind::Record(_)
            )
    )
}

/// The members of a union that could hold the value: those of the value's
/// own kind first, then the others, each in union order.
fn candidates(
    v: &Value,
    members: &[TyId],
    types: &Types,
    int_as_float: bool,
) -> (Vec<TyId>, usize) {
    let possible: Vec<TyId> = members
        .iter()
        .copied()
        .filter(|m| could_be(v, types.kind(*m), types, int_as_float))
        .collect();
    let (exact, other): (Vec<TyId>, Vec<TyId>) = possible
        .into_iter()
        .partition(|m| same_kind(v, types.kind(*m)));
    let n_exact = exact.len();
    (exact.into_iter().chain(other).collect(), n_exact)
}

/// The (key, value) entries of a map, or of a record by field name.
fn entries(v: &Value, types: &Types) -> Vec<(Str, Value)> {
    match v {
        Value::Map(m) => m
            .borrow()
            .iter()
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect(),
        Value::Record(r) => {
            let def = types.record(r.rec);
            def.fields
                .iter()
                .zip(r.fields.borrow().iter())
                .map(|(f, x)| (Str::from(&*f.name), x.clone()))
                .collect()
        }
        _ => Vec::new(),
    }
}

// ---- `is` -------------------------------------------------------------------

/// `v is ty`: whether the value belongs to the type, deeply.
///
/// - scalars by kind (`1 is float` is false), `json` for any JSON-shaped value
///   (records included), `any` for everything but errors;
/// - `T[]` / `map<T>` when every element is a `T` (a record is a `map<T>`
///   when every field value is a `T`);
/// - a record type `R` for a map or record whose keys are fields of `R`
///   with fitting values, where every field left out has a type including
///   `()` (defaults do not exist at run time);
/// - error types by `Types::error_extends`; unions when any member holds;
///   function types for any function value; futures and opaque objects never.
pub fn value_is(v: &Value, ty: TyId, types: &Types) -> bool {
    let mut cx = IsCtx {
        types,
        assumed: FxHashSet::default(),
        log: Vec::new(),
        failed: FxHashSet::default(),
        nesting: 0,
        too_deep: false,
    };
    cx.check(v.clone(), ty) && !cx.too_deep
}

struct IsCtx<'t> {
    types: &'t Types,
    /// (container, type) goals already taken on (being or been checked).
    assumed: FxHashSet<(usize, TyId)>,
    /// `assumed` entries in order, to undo a failed union trial.
    log: Vec<(usize, TyId)>,
    /// (container, type) union trials that failed (never retried).
    failed: FxHashSet<(usize, TyId)>,
    nesting: usize,
    /// Union trials were nested too deeply: the answer is false.
    too_deep: bool,
}

impl IsCtx<'_> {
    /// Checks one goal and everything it implies (iteratively).
    fn check(&mut self, v: Value, ty: TyId) -> bool {
        let types = self.types;
        let mut goals = vec![(v, ty)];
        while let Some((mut v, mut ty)) = goals.pop() {
            // Resolve cells and unions down to one member, or try several.
            loop {
                if let Value::Cell(c) = &v {
                    let inner = c.borrow().clone();
                    v = inner;
                    continue;
                }
                if let TyKind::Union(ms) = types.kind(ty) {
                    let (cands, _) = candidates(&v, ms, types, false);
                    match cands.as_slice() {
                        [] => return false,
                        [only] => {
                            ty = *only;
                            continue;
                        }
                        _ => {
                            if !self.try_members(&v, &cands) {
                                return false;
                            }
                            break;
                        }
                    }
                }
                if !self.step(&v, ty, &mut goals) {
                    return false;
                }
                break;
            }
        }
        true
    }

    /// Whether any of several union members holds (each a nested check).
    fn try_members(&mut self, v: &Value, members: &[TyId]) -> bool {
        if self.nesting >= MAX_UNION_NESTING {
            self.too_deep = true;
        }
        if self.too_deep {
            return false;
        }
        self.nesting += 1;
        let key = container_addr(v);
        let mut ok = false;
        for m in members {
            if key.is_some_and(|k| self.failed.contains(&(k, *m))) {
                continue;
            }
            let mark = self.log.len();
            if self.check(v.clone(), *m) {
                ok = true;
                break;
            }
            for undo in self.log.drain(mark..) {
                self.assumed.remove(&undo);
            }
            if let Some(k) = key {
                self.failed.insert((k, *m));
            }
            if self.too_deep {
                break;
            }
        }
        self.nesting -= 1;
        ok
    }

    /// Checks the top level of a non-union goal, pushing the goals for the
    /// elements of a container.
    fn step(&mut self, v: &Value, ty: TyId, goals: &mut Vec<(Value, TyId)>) -> bool {
        let types = self.types;
        let kind = types.kind(ty);
        match (kind, v) {
            (TyKind::Json, _) => return is_json_shaped(v),
            (TyKind::Any, _) => return !matches!(v, Value::Error(_) | Value::Undefined),
            (TyKind::Error(e), Value::Error(o)) => return types.error_extends(o.ty, *e),
            (TyKind::Array(_) | TyKind::Map(_) | TyKind::Record(_), _) => {}
            _ => return same_kind(v, kind),
        }
        let Some(key) = container_addr(v) else {
            return false;
        };
        if self.failed.contains(&(key, ty)) {
            return false;
        }
        if !self.assumed.insert((key, ty)) {
            return true; // taken on already: assume it holds
        }
        self.log.push((key, ty));
        match (kind, v) {
            (TyKind::Array(e), Value::Array(a)) => {
                goals.extend(a.borrow().iter().map(|x| (x.clone(), *e)));
                true
            }
            (TyKind::Map(e), Value::Map(m)) => {
                goals.extend(m.borrow().values().map(|x| (x.clone(), *e)));
                true
            }
            (TyKind::Map(e), Value::Record(r)) => {
                goals.extend(r.fields.borrow().iter().map(|x| (x.clone(), *e)));
                true
            }
            (TyKind::Record(rid), Value::Map(_) | Value::Record(_)) => {
                let src: MapObj = entries(v, types).into_iter().collect();
                let def = types.record(*rid);
                let mut present = 0;
                for f in &def.fields {
                    match src.get(&f.name) {
                        Some(x) => {
                            present += 1;
                            goals.push((x.clone(), f.ty));
                        }
                        None if types.has_nil(f.ty) => {}
                        None => return false,
                    }
                }
                // No keys other than the fields.
                present == src.len()
            }
            _ => false,
        }
    }
}

/// Whether a value is JSON-shaped: `()`, booleans, ints, floats, strings,
/// and arrays, maps and records of JSON-shaped values (iterative).
pub fn is_json_shaped(v: &Value) -> bool {
    let mut work = vec![v.clone()];
    let mut seen: FxHashSet<usize> = FxHashSet::default();
    while let Some(v) = work.pop() {
        match v {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {}
            Value::Cell(c) => work.push(c.borrow().clone()),
            Value::Array(a) => {
                if seen.insert(addr(&a)) {
                    work.extend(a.borrow().iter().cloned());
                }
            }
            Value::Map(m) => {
                if seen.insert(addr(&m)) {
                    work.extend(m.borrow().values().cloned());
                }
            }
            Value::Record(r) => {
                if seen.insert(addr(&r)) {
                    work.extend(r.fields.borrow().iter().cloned());
                }
            }
            Value::Duration(_)
            | Value::Error(_)
            | Value::Func(_)
            | Value::Typedesc(_)
            | Value::Host(_)
            | Value::Undefined => return false,
        }
    }
    true
}

// ---- `clone()` ----------------------------------------------------------------

/// `v.clone()`: a deep copy of arrays, maps and records (immutable values
/// are shared). Sharing and cycles inside the value are reproduced in the
/// copy. Iterative.
pub fn deep_clone(v: &Value) -> Value {
    let mut memo: FxHashMap<usize, Value> = FxHashMap::default();
    let mut work: Vec<(Value, Value)> = Vec::new();
    let root = clone_shell(v, &mut memo, &mut work);
    while let Some((src, dst)) = work.pop() {
        match (&src, &dst) {
            (Value::Array(s), Value::Array(d)) => {
                let items: Vec<Value> = s
                    .borrow()
                    .iter()
                    .map(|x| clone_shell(x, &mut memo, &mut work))
                    .collect();
                *d.borrow_mut() = items;
            }
            (Value::Map(s), Value::Map(d)) => {
                let entries: MapObj = s
                    .borrow()
                    .iter()
                    .map(|(k, x)| (k.clone(), clone_shell(x, &mut memo, &mut work)))
                    .collect();
                *d.borrow_mut() = entries;
            }
            (Value::Record(s), Value::Record(d)) => {
                let fields: Vec<Value> = s
                    .fields
                    .borrow()
                    .iter()
                    .map(|x| clone_shell(x, &mut memo, &mut work))
                    .collect();
                *d.fields.borrow_mut() = fields;
            }
            _ => {}
        }
    }
    root
}

/// A container's empty copy (filled later from `work`), or an immutable
/// value itself.
fn clone_shell(
    v: &Value,
    memo: &mut FxHashMap<usize, Value>,
    work: &mut Vec<(Value, Value)>,
) -> Value {
    let (key, shell) = match v {
        Value::Array(a) => (addr(a), Value::array(Vec::new())),
        Value::Map(m) => (addr(m), Value::map(MapObj::default())),
        Value::Record(r) => (addr(r), Value::record(r.rec, Vec::new())),
        other => return other.clone(),
    };
    if let Some(done) = memo.get(&key) {
        return done.clone();
    }
    memo.insert(key, shell.clone());
    work.push((v.clone(), shell.clone()));
    shell
}

// ---- `cloneWithType(T)` ---------------------------------------------------------

/// The default value of field `index` of a record type, if it has one.
pub type Defaults<'a> = &'a dyn Fn(RecordId, usize) -> Option<Value>;

/// `v.cloneWithType(T)` (§7.4): a new value of type `ty` built from `v`, or
/// the message of the first mismatch (in document order) with its path:
/// `$.items[2].qty: expected int, found string`,
/// `$.items[2].qty: missing required field`, `$.extra: unexpected field`,
/// `$: expected Order, found string`.
///
/// Scalars convert strictly by kind, except that an int converts to a float
/// (JSON does not distinguish `2` from `2.0`). Records are built in
/// declaration order from maps or records; a missing field takes
/// `defaults(record, field index)` when the field has a default, `()` when
/// its type includes `()`. A record converted to `json` or `map<T>` becomes a
/// map. For a union the members of the value's own kind are tried first,
/// then the others; the first that converts wins.
pub fn clone_with_type(
    v: &Value,
    ty: TyId,
    types: &Types,
    defaults: Defaults<'_>,
) -> Result<Value, String> {
    Conv {
        types,
        defaults,
        paths: vec![(0, Seg::Root)],
        memo: FxHashMap::default(),
        log: Vec::new(),
        failed: FxHashMap::default(),
        nesting: 0,
        too_deep: None,
    }
    .run(v.clone(), ty, 0)
}

/// [`clone_with_type`] as a Flow result: the value, or an `error` value with
/// the mismatch message.
pub fn clone_with_type_value(v: &Value, ty: TyId, types: &Types, defaults: Defaults<'_>) -> Value {
    match clone_with_type(v, ty, types, defaults) {
        Ok(v) => v,
        Err(msg) => Value::error(ErrorId(0), msg),
    }
}

/// One step of a `$.a[1].b` path.
enum Seg {
    Root,
    Index(usize),
    Key(Str),
}

/// Where a converted value goes.
enum Slot {
    /// The result of the current walk.
    Root,
    Item(ArrayRef, usize),
    /// The value of the map entry with this index.
    Entry(MapRef, usize),
    Field(Rc<RecordObj>, usize),
}

/// Work of a conversion walk.
enum Task {
    /// Convert `v` to `ty` into `slot`; `path` indexes `Conv::paths`.
    Conv {
        v: Value,
        ty: TyId,
        path: usize,
        slot: Slot,
    },
    /// A mismatch found while looking at a record, reported in document order.
    Fail(String),
}

struct Conv<'t, 'd> {
    types: &'t Types,
    defaults: Defaults<'d>,
    /// Path nodes: (parent, step).
    paths: Vec<(usize, Seg)>,
    /// Converted (or being converted) containers: (address, type) → result.
    memo: FxHashMap<(usize, TyId), Value>,
    /// Keys added to `memo`, in order (undone when a union trial fails).
    log: Vec<(usize, TyId)>,
    /// (container, type) union trials that failed, with their message
    /// (never retried).
    failed: FxHashMap<(usize, TyId), String>,
    nesting: usize,
    /// Set when union trials were nested too deeply: the conversion fails.
    too_deep: Option<String>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Conv<'_, '_> {
    fn child_path(&mut self, parent: usize, seg: Seg) -> usize {
        self.paths.push((parent, seg));
        self.paths.len() - 1
    }

    fn path_text(&self, mut node: usize) -> String {
        let mut segs = Vec::new();
        while let Some((parent, seg)) = self.paths.get(node) {
            if matches!(seg, Seg::Root) {
                break;
            }
            segs.push(seg);
            node = *parent;
        }
        let mut s = String::from("$");
        for seg in segs.into_iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
                Seg::Key(k) if is_identifier(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Key(k) => {
                    s.push('[');
                    super::format::write_json_string(&mut s, k);
                    s.push(']');
                }
            }
        }
        s
    }

    fn mismatch(&self, path: usize, ty: TyId, v: &Value) -> String {
        format!(
            "{}: expected {}, found {}",
            self.path_text(path),
            self.types.display(ty),
            v.kind_name()
        )
    }

    /// Converts `v` to `ty` (iteratively) and returns the result.
    fn run(&mut self, v: Value, ty: TyId, path: usize) -> Result<Value, String> {
        let mut result = Value::Nil;
        let mut tasks = vec![Task::Conv {
            v,
            ty,
            path,
            slot: Slot::Root,
        }];
        while let Some(task) = tasks.pop() {
            let (v, ty, path, slot) = match task {
                Task::Fail(msg) => return Err(msg),
                Task::Conv { v, ty, path, slot } => (v, ty, path, slot),
            };
            let out = self.step(v, ty, path, &mut tasks)?;
            match slot {
                Slot::Root => result = out,
                Slot::Item(a, i) => {
                    if let Some(x) = a.borrow_mut().get_mut(i) {
                        *x = out;
                    }
                }
                Slot::Entry(m, i) => {
                    if let Some((_, x)) = m.borrow_mut().get_index_mut(i) {
                        *x = out;
                    }
                }
                Slot::Field(r, i) => {
                    if let Some(x) = r.fields.borrow_mut().get_mut(i) {
                        *x = out;
                    }
                }
            }
        }
        Ok(result)
    }

    /// Converts the top level of `v`; the elements of a container become tasks
    /// that fill the returned (new) container.
    fn step(
        &mut self,
        mut v: Value,
        mut ty: TyId,
        path: usize,
        tasks: &mut Vec<Task>,
    ) -> Result<Value, String> {
        let types = self.types;
        loop {
            if let Value::Cell(c) = &v {
                let inner = c.borrow().clone();
                v = inner;
                continue;
            }
            let TyKind::Union(ms) = types.kind(ty) else {
                break;
            };
            let (cands, n_exact) = candidates(&v, ms, types, true);
            match cands.as_slice() {
                [] => return Err(self.mismatch(path, ty, &v)),
                [only] => ty = *only,
                _ => return self.try_members(&v, ty, &cands, n_exact, path),
            }
        }
        let kind = types.kind(ty);
        match (kind, &v) {
            (TyKind::Float, Value::Int(i)) => return Ok(Value::Float(*i as f64)),
            (TyKind::Any, _) if could_be(&v, kind, types, false) => return Ok(deep_clone(&v)),
            (TyKind::Error(e), Value::Error(o)) if types.error_extends(o.ty, *e) => {
                return Ok(v.clone())
            }
            (TyKind::Json, Value::Array(_) | Value::Map(_) | Value::Record(_))
            | (TyKind::Array(_), Value::Array(_))
            | (TyKind::Map(_) | TyKind::Record(_), Value::Map(_) | Value::Record(_)) => {}
            (TyKind::Json, _) if could_be(&v, kind, types, false) => return Ok(v.clone()),
            (TyKind::Error(_) | TyKind::Any | TyKind::Json, _) => {
                return Err(self.mismatch(path, ty, &v))
            }
            _ if same_kind(&v, kind) => return Ok(v.clone()),
            _ => return Err(self.mismatch(path, ty, &v)),
        }
        // A container.
        let key = container_addr(&v).unwrap_or(0);
        if let Some(done) = self.memo.get(&(key, ty)) {
            return Ok(done.clone());
        }
        if let Some(msg) = self.failed.get(&(key, ty)) {
            return Err(msg.clone());
        }
        let mut children: Vec<Task> = Vec::new();
        let shell = match (kind, &v) {
            (TyKind::Array(_) | TyKind::Json, Value::Array(a)) => {
                let elem = match kind {
                    TyKind::Array(e) => *e,
                    _ => TyId::JSON,
                };
                let src = a.borrow();
                let shell: ArrayRef = Rc::new(std::cell::RefCell::new(vec![Value::Nil; src.len()]));
                for (i, x) in src.iter().enumerate() {
                    let p = self.child_path(path, Seg::Index(i));
                    children.push(Task::Conv {
                        v: x.clone(),
                        ty: elem,
                        path: p,
                        slot: Slot::Item(shell.clone(), i),
                    });
                }
                Value::Array(shell)
            }
            (TyKind::Map(_) | TyKind::Json, _) => {
                let elem = match kind {
                    TyKind::Map(e) => *e,
                    _ => TyId::JSON,
                };
                let src = entries(&v, types);
                let shell: MapRef = Rc::new(std::cell::RefCell::new(
                    src.iter().map(|(k, _)| (k.clone(), Value::Nil)).collect(),
                ));
                for (i, (k, x)) in src.into_iter().enumerate() {
                    let p = self.child_path(path, Seg::Key(k));
                    children.push(Task::Conv {
                        v: x,
                        ty: elem,
                        path: p,
                        slot: Slot::Entry(shell.clone(), i),
                    });
                }
                Value::Map(shell)
            }
            (TyKind::Record(rid), _) => self.record_shell(&v, *rid, path, &mut children),
            _ => return Err(self.mismatch(path, ty, &v)),
        };
        self.memo.insert((key, ty), shell.clone());
        self.log.push((key, ty));
        tasks.extend(children.into_iter().rev());
        Ok(shell)
    }

    /// A new record of type `rid` with defaults and `()` filled in; the tasks
    /// for the present fields, missing fields and extra keys go to `children`
    /// in document order.
    fn record_shell(
        &mut self,
        v: &Value,
        rid: RecordId,
        path: usize,
        children: &mut Vec<Task>,
    ) -> Value {
        let types = self.types;
        let def = types.record(rid);
        let src: MapObj = entries(v, types).into_iter().collect();
        let rec = Rc::new(RecordObj {
            rec: rid,
            fields: std::cell::RefCell::new(vec![Value::Nil; def.fields.len()]),
        });
        for (i, f) in def.fields.iter().enumerate() {
            let p = self.child_path(path, Seg::Key(Str::from(&*f.name)));
            match src.get(&f.name) {
                Some(x) => children.push(Task::Conv {
                    v: x.clone(),
                    ty: f.ty,
                    path: p,
                    slot: Slot::Field(rec.clone(), i),
                }),
                None => {
                    let default = if f.has_default {
                        (self.defaults)(rid, i)
                    } else {
                        None
                    };
                    match default {
                        Some(d) => {
                            if let Some(x) = rec.fields.borrow_mut().get_mut(i) {
                                *x = d;
                            }
                        }
                        None if types.has_nil(f.ty) => {}
                        None => children.push(Task::Fail(format!(
                            "{}: missing required field",
                            self.path_text(p)
                        ))),
                    }
                }
            }
        }
        if let Some(extra) = src.keys().find(|k| def.field_index(k).is_none()) {
            let p = self.child_path(path, Seg::Key(extra.clone()));
            children.push(Task::Fail(format!(
                "{}: unexpected field",
                self.path_text(p)
            )));
        }
        Value::Record(rec)
    }

    /// Several union members could hold `v`: tries each by a nested walk.
    fn try_members(
        &mut self,
        v: &Value,
        ty: TyId,
        members: &[TyId],
        n_exact: usize,
        path: usize,
    ) -> Result<Value, String> {
        if self.nesting >= MAX_UNION_NESTING && self.too_deep.is_none() {
            self.too_deep = Some(format!("{}: value nested too deeply", self.path_text(path)));
        }
        if let Some(e) = &self.too_deep {
            return Err(e.clone());
        }
        self.nesting += 1;
        let key = container_addr(v);
        let mut first_exact_error = None;
        let mut result = None;
        for (i, m) in members.iter().enumerate() {
            let outcome = match key.and_then(|k| self.failed.get(&(k, *m))) {
                Some(msg) => Err(msg.clone()),
                None => {
                    let mark = self.log.len();
                    let outcome = self.run(v.clone(), *m, path);
                    if outcome.is_err() {
                        for undo in self.log.drain(mark..) {
                            self.memo.remove(&undo);
                        }
                    }
                    outcome
                }
            };
            match outcome {
                Ok(x) => {
                    result = Some(x);
                    break;
                }
                Err(e) => {
                    if let Some(k) = key {
                        self.failed.insert((k, *m), e.clone());
                    }
                    if i == 0 && n_exact > 0 {
                        first_exact_error = Some(e);
                    }
                    if self.too_deep.is_some() {
                        break;
                    }
                }
            }
        }
        self.nesting -= 1;
        if let (None, Some(e)) = (&result, &self.too_deep) {
            return Err(e.clone());
        }
        match (result, first_exact_error) {
            (Some(x), _) => Ok(x),
            // The only member of the value's kind explains the failure best.
            (None, Some(e)) if n_exact == 1 => Err(e),
            (None, _) => Err(self.mismatch(path, ty, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::types::{FieldDef, RecordDef};
    use crate::vm::format::to_display_string;
    use crate::vm::json::parse_json;
    use crate::vm::value::ErrorObj;

    struct Fixture {
        t: Types,
        item: TyId,
        order: TyId,
        order_rid: RecordId,
        items: TyId,
    }

    fn field(name: &str, ty: TyId, has_default: bool) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            has_default,
        }
    }

    fn rid(t: &Types, ty: TyId) -> RecordId {
        match t.kind(ty) {
            TyKind::Record(r) => *r,
            _ => RecordId(u32::MAX),
        }
    }

    /// `Item { string sku; int qty; }`,
    /// `Order { int id; string item; int qty = 1; string? note; Item[] items; }`.
    fn fixture() -> Fixture {
        let mut t = Types::new();
        let item = t.add_record(RecordDef {
            name: Some("Item".into()),
            fields: vec![
                field("sku", TyId::STRING, false),
                field("qty", TyId::INT, false),
            ],
        });
        let items = t.array(item);
        let note = t.optional(TyId::STRING);
        let order = t.add_record(RecordDef {
            name: Some("Order".into()),
            fields: vec![
                field("id", TyId::INT, false),
                field("item", TyId::STRING, false),
                field("qty", TyId::INT, true),
                field("note", note, false),
                field("items", items, false),
            ],
        });
        let order_rid = rid(&t, order);
        Fixture {
            t,
            item,
            order,
            order_rid,
            items,
        }
    }

    fn json(text: &str) -> Value {
        match parse_json(text) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn order_defaults(order: RecordId) -> impl Fn(RecordId, usize) -> Option<Value> {
        move |r, i| (r == order && i == 2).then_some(Value::Int(1))
    }

    fn cwt(f: &Fixture, text: &str, ty: TyId) -> Result<String, String> {
        let d = order_defaults(f.order_rid);
        clone_with_type(&json(text), ty, &f.t, &d).map(|v| to_display_string(&v, &f.t))
    }

    #[test]
    fn clone_with_type_records() {
        let f = fixture();
        let text = r#"{"items":[{"qty":2,"sku":"a"}],"item":"pen","id":7}"#;
        let v = clone_with_type(&json(text), f.order, &f.t, &order_defaults(f.order_rid));
        let v = match v {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        // Declaration order, default filled in, optional field `()`.
        assert_eq!(
            to_display_string(&v, &f.t),
            r#"{"id":7,"item":"pen","qty":1,"note":null,"items":[{"sku":"a","qty":2}]}"#
        );
        assert!(matches!(&v, Value::Record(r) if r.rec == f.order_rid));
        assert!(value_is(&v, f.order, &f.t));
        assert_eq!(
            cwt(
                &f,
                r#"{"id":1,"item":"x","qty":5,"note":"n","items":[]}"#,
                f.order
            )
            .as_deref(),
            Ok(r#"{"id":1,"item":"x","qty":5,"note":"n","items":[]}"#)
        );
    }

    #[test]
    fn clone_with_type_errors() {
        let f = fixture();
        let bad_qty = r#"{"id":1,"item":"x","items":[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c","qty":"3"}]}"#;
        assert_eq!(
            cwt(&f, bad_qty, f.order),
            Err("$.items[2].qty: expected int, found string".to_string())
        );
        let missing =
            r#"{"id":1,"item":"x","items":[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c"}]}"#;
        assert_eq!(
            cwt(&f, missing, f.order),
            Err("$.items[2].qty: missing required field".to_string())
        );
        let extra = r#"{"id":1,"item":"x","items":[],"colour":"red"}"#;
        assert_eq!(
            cwt(&f, extra, f.order),
            Err("$.colour: unexpected field".to_string())
        );
        let odd_key = r#"{"id":1,"item":"x","items":[],"a b":1}"#;
        assert_eq!(
            cwt(&f, odd_key, f.order),
            Err(r#"$["a b"]: unexpected field"#.to_string())
        );
        assert_eq!(
            cwt(&f, r#""x""#, f.order),
            Err("$: expected Order, found string".to_string())
        );
        assert_eq!(
            cwt(&f, r#"{"id":null,"item":"x","items":[]}"#, f.order),
            Err("$.id: expected int, found ()".to_string())
        );
        assert_eq!(
            cwt(&f, r#"{"id":1.5,"item":"x","items":[]}"#, f.order),
            Err("$.id: expected int, found float".to_string())
        );
        assert_eq!(
            cwt(&f, r#"{"id":1,"item":"x","items":{}}"#, f.order),
            Err("$.items: expected Item[], found map".to_string())
        );
        // Without a default provider a defaulted field is required.
        let no_defaults = clone_with_type(
            &json(r#"{"id":1,"item":"x","items":[]}"#),
            f.order,
            &f.t,
            &|_, _| None,
        );
        assert_eq!(
            no_defaults.err().as_deref(),
            Some("$.qty: missing required field")
        );
        // As a Flow value: an error.
        let e = clone_with_type_value(&json("1"), f.order, &f.t, &|_, _| None);
        assert_eq!(
            to_display_string(&e, &f.t),
            "error($: expected Order, found int)"
        );
    }

    #[test]
    fn clone_with_type_scalars_and_containers() {
        let mut f = fixture();
        assert_eq!(cwt(&f, "2", TyId::FLOAT).as_deref(), Ok("2.0"));
        assert_eq!(cwt(&f, "2.5", TyId::FLOAT).as_deref(), Ok("2.5"));
        assert_eq!(
            cwt(&f, "2.0", TyId::INT),
            Err("$: expected int, found float".to_string())
        );
        assert_eq!(cwt(&f, "true", TyId::BOOLEAN).as_deref(), Ok("true"));
        assert_eq!(cwt(&f, "null", TyId::NIL).as_deref(), Ok("()"));
        assert_eq!(cwt(&f, r#""s""#, TyId::STRING).as_deref(), Ok("s"));
        let ints = f.t.array(TyId::INT);
        assert_eq!(cwt(&f, "[1,2]", ints).as_deref(), Ok("[1,2]"));
        assert_eq!(
            cwt(&f, r#"[1,"2"]"#, ints),
            Err("$[1]: expected int, found string".to_string())
        );
        let floats = f.t.map(TyId::FLOAT);
        assert_eq!(
            cwt(&f, r#"{"a":1,"b":2.5}"#, floats).as_deref(),
            Ok(r#"{"a":1.0,"b":2.5}"#)
        );
        assert_eq!(
            cwt(&f, r#"{"a":"x"}"#, floats),
            Err("$.a: expected float, found string".to_string())
        );
        let nested = f.t.map(ints);
        assert_eq!(
            cwt(&f, r#"{"a":[1],"b":[2,null]}"#, nested),
            Err("$.b[1]: expected int, found ()".to_string())
        );
        assert_eq!(
            cwt(&f, r#"{"a":[1,{"b":null}]}"#, TyId::JSON).as_deref(),
            Ok(r#"{"a":[1,{"b":null}]}"#)
        );
        assert_eq!(cwt(&f, "[1]", TyId::ANY).as_deref(), Ok("[1]"));
        // The result is a new value.
        let src = json("[1,2]");
        let out = clone_with_type(&src, ints, &f.t, &|_, _| None);
        if let (Value::Array(a), Ok(Value::Array(b))) = (&src, &out) {
            assert!(!Rc::ptr_eq(a, b));
        } else {
            panic!("not arrays");
        }
        // A record converts to a map and to json by field names.
        let item = Value::record(rid(&f.t, f.item), vec![Value::str("a"), Value::Int(2)]);
        let to_map = clone_with_type(&item, TyId::JSON, &f.t, &|_, _| None);
        assert!(matches!(&to_map, Ok(Value::Map(_))));
        assert_eq!(
            to_display_string(&to_map.unwrap_or_default(), &f.t),
            r#"{"sku":"a","qty":2}"#
        );
        // Durations are not json.
        let mut m = MapObj::default();
        m.insert("d".into(), Value::Duration(1));
        assert_eq!(
            clone_with_type(&Value::map(m), TyId::JSON, &f.t, &|_, _| None)
                .err()
                .as_deref(),
            Some("$.d: expected json, found duration")
        );
        // Errors are not `any`.
        assert_eq!(
            clone_with_type(&Value::error(ErrorId(0), "e"), TyId::ANY, &f.t, &|_, _| {
                None
            })
            .err()
            .as_deref(),
            Some("$: expected any, found error")
        );
    }

    #[test]
    fn clone_with_type_unions() {
        let mut f = fixture();
        let int_or_float = f.t.union(&[TyId::INT, TyId::FLOAT]);
        assert!(matches!(
            clone_with_type(&Value::Int(2), int_or_float, &f.t, &|_, _| None),
            Ok(Value::Int(2))
        ));
        let float_or_string = f.t.union(&[TyId::STRING, TyId::FLOAT]);
        assert!(matches!(
            clone_with_type(&Value::Int(2), float_or_string, &f.t, &|_, _| None),
            Ok(Value::Float(x)) if x == 2.0
        ));
        let items_opt = f.t.optional(f.items);
        assert_eq!(cwt(&f, "null", items_opt).as_deref(), Ok("()"));
        // The only candidate of the value's kind explains the failure.
        assert_eq!(
            cwt(&f, r#"[{"sku":1,"qty":1}]"#, items_opt),
            Err("$[0].sku: expected string, found int".to_string())
        );
        assert_eq!(
            cwt(&f, "true", items_opt),
            Err("$: expected Item[]?, found boolean".to_string())
        );
        // Two record candidates: the first that converts wins.
        let either = f.t.union(&[f.item, f.order]);
        assert_eq!(
            cwt(&f, r#"{"sku":"s","qty":1}"#, either).as_deref(),
            Ok(r#"{"sku":"s","qty":1}"#)
        );
        assert_eq!(
            cwt(&f, r#"{"id":1,"item":"x","items":[]}"#, either).as_deref(),
            Ok(r#"{"id":1,"item":"x","qty":1,"note":null,"items":[]}"#)
        );
        let display = f.t.display(either);
        assert_eq!(
            cwt(&f, r#"{"zzz":1}"#, either),
            Err(format!("$: expected {display}, found map"))
        );
        // A record-or-json union falls back to json.
        let item_or_json = f.t.union(&[f.item, TyId::JSON]);
        let v = clone_with_type(&json(r#"{"x":1}"#), item_or_json, &f.t, &|_, _| None);
        assert!(matches!(v, Ok(Value::Map(_))));
    }

    #[test]
    fn clone_with_type_cycles_and_depth() {
        let mut f = fixture();
        let a = Value::array(vec![]);
        if let Value::Array(r) = &a {
            r.borrow_mut().push(a.clone());
        }
        // `type Nest Nest[];` converts a cyclic array into a cyclic copy.
        let nest = f.t.declare_named("Nest".into());
        f.t.define_named(nest, TyKind::Array(nest));
        let out = clone_with_type(&a, nest, &f.t, &|_, _| None);
        match &out {
            Ok(Value::Array(o)) => {
                let inner = o.borrow().first().cloned();
                assert!(matches!(inner, Some(Value::Array(i)) if Rc::ptr_eq(&i, o)));
                o.borrow_mut().clear();
            }
            _ => panic!("not converted"),
        }
        assert!(value_is(&a, nest, &f.t));
        assert!(value_is(&a, TyId::JSON, &f.t));
        if let Value::Array(r) = &a {
            r.borrow_mut().clear();
        }
        // Very deep values work on a small stack; ambiguous unions nested too
        // deeply fail cleanly.
        let n = nest_of_ints(&mut f.t);
        let u = ambiguous_nest(&mut f.t);
        let t = f.t.clone();
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let mut v = Value::Int(0);
                for _ in 0..100_000 {
                    v = Value::array(vec![v]);
                }
                let cwt = clone_with_type(&v, n, &t, &|_, _| None);
                let is = value_is(&v, n, &t);
                let json = clone_with_type(&v, TyId::JSON, &t, &|_, _| None);
                let ambiguous = clone_with_type(&v, u, &t, &|_, _| None).err();
                let ambiguous_is = value_is(&v, u, &t);
                let mut shallow = Value::Int(0);
                for _ in 0..(MAX_UNION_NESTING - 1) {
                    shallow = Value::array(vec![shallow]);
                }
                let shallow_ok = clone_with_type(&shallow, u, &t, &|_, _| None).is_ok()
                    && value_is(&shallow, u, &t);
                let cwt_ok = cwt.is_ok();
                let json_ok = json.is_ok();
                for v in [
                    v,
                    cwt.unwrap_or_default(),
                    json.unwrap_or_default(),
                    shallow,
                ] {
                    let mut cur = v;
                    while let Value::Array(x) = cur {
                        let next = x.borrow_mut().pop().unwrap_or_default();
                        cur = next;
                    }
                }
                (cwt_ok, is, json_ok, ambiguous, ambiguous_is, shallow_ok)
            });
        let (cwt_ok, is, json_ok, ambiguous, ambiguous_is, shallow_ok) =
            match handle.map(|h| h.join()) {
                Ok(Ok(r)) => r,
                _ => panic!("thread failed"),
            };
        assert!(cwt_ok && is && json_ok);
        assert!(ambiguous.is_some_and(|e| e.ends_with("value nested too deeply")));
        assert!(!ambiguous_is);
        assert!(shallow_ok);
    }

    #[test]
    fn ambiguous_unions_are_not_exponential() {
        // `type V V[]|V[][];` and an int at the bottom: no nesting matches.
        let mut t = Types::new();
        let v_ty = t.declare_named("V".into());
        let a = t.array(v_ty);
        let aa = t.array(a);
        let k = t.union(&[a, aa]);
        let k = t.kind(k).clone();
        t.define_named(v_ty, k);
        let mut v = Value::Int(0);
        for _ in 0..50 {
            v = Value::array(vec![v, Value::array(vec![])]);
        }
        let start = std::time::Instant::now();
        assert!(!value_is(&v, v_ty, &t));
        assert!(clone_with_type(&v, v_ty, &t, &|_, _| None).is_err());
        assert!(start.elapsed().as_secs() < 5);
        // Without the int it matches.
        let mut w = Value::array(vec![]);
        for _ in 0..50 {
            w = Value::array(vec![w, Value::array(vec![])]);
        }
        assert!(value_is(&w, v_ty, &t));
        assert!(clone_with_type(&w, v_ty, &t, &|_, _| None).is_ok());
    }

    /// Adds `type U string[]|int[]|U[];` (every level is ambiguous for arrays).
    fn ambiguous_nest(t: &mut Types) -> TyId {
        let u = t.declare_named("U".into());
        let (a, b, c) = (t.array(TyId::STRING), t.array(TyId::INT), t.array(u));
        let k = t.union(&[a, b, c]);
        let k = t.kind(k).clone();
        t.define_named(u, k);
        u
    }

    /// Adds `type N int|N[];` to the table.
    fn nest_of_ints(t: &mut Types) -> TyId {
        let n = t.declare_named("N".into());
        let arr = t.array(n);
        let u = t.union(&[TyId::INT, arr]);
        let k = t.kind(u).clone();
        t.define_named(n, k);
        n
    }

    #[test]
    fn is_scalars_and_containers() {
        let mut f = fixture();
        let t = &mut f.t;
        assert!(value_is(&Value::Int(1), TyId::INT, t));
        assert!(!value_is(&Value::Int(1), TyId::FLOAT, t));
        assert!(!value_is(&Value::Float(1.0), TyId::INT, t));
        assert!(value_is(&Value::Nil, TyId::NIL, t));
        assert!(value_is(&Value::str("s"), TyId::STRING, t));
        assert!(value_is(&Value::Bool(true), TyId::BOOLEAN, t));
        assert!(value_is(&Value::Duration(1), TyId::DURATION, t));
        assert!(!value_is(&Value::Duration(1), TyId::JSON, t));
        assert!(value_is(&Value::Duration(1), TyId::ANY, t));
        assert!(value_is(&Value::Typedesc(TyId::INT), TyId::TYPEDESC, t));
        assert!(value_is(&Value::Nil, TyId::JSON, t));
        assert!(!value_is(&Value::error(ErrorId(0), "e"), TyId::ANY, t));
        assert!(!value_is(&Value::error(ErrorId(0), "e"), TyId::JSON, t));
        let ints = t.array(TyId::INT);
        let strs = t.array(TyId::STRING);
        let one_two = json("[1,2]");
        assert!(value_is(&one_two, ints, t));
        assert!(!value_is(&one_two, strs, t));
        assert!(value_is(&json("[]"), strs, t));
        assert!(!value_is(&json("[1,\"a\"]"), ints, t));
        assert!(value_is(&json("[1,\"a\"]"), TyId::JSON, t));
        let mint = t.map(TyId::INT);
        assert!(value_is(&json(r#"{"a":1}"#), mint, t));
        assert!(!value_is(&json(r#"{"a":1.0}"#), mint, t));
        assert!(!value_is(&one_two, mint, t));
        let int_or_str = t.union(&[TyId::INT, TyId::STRING]);
        assert!(value_is(&Value::str("x"), int_or_str, t));
        assert!(!value_is(&Value::Nil, int_or_str, t));
        let mixed = t.array(int_or_str);
        assert!(value_is(&json(r#"[1,"a"]"#), mixed, t));
    }

    #[test]
    fn is_records() {
        let f = fixture();
        let t = &f.t;
        let item_rid = rid(t, f.item);
        let rec = Value::record(item_rid, vec![Value::str("a"), Value::Int(1)]);
        assert!(value_is(&rec, f.item, t));
        assert!(!value_is(&rec, f.order, t));
        assert!(value_is(&rec, TyId::JSON, t));
        assert!(value_is(&rec, TyId::ANY, t));
        assert!(value_is(&json(r#"{"qty":1,"sku":"a"}"#), f.item, t));
        assert!(!value_is(&json(r#"{"qty":1}"#), f.item, t));
        assert!(!value_is(&json(r#"{"qty":1,"sku":"a","x":1}"#), f.item, t));
        assert!(!value_is(&json(r#"{"qty":"1","sku":"a"}"#), f.item, t));
        // `note` (string?) may be left out; `qty` (default, no `()`) may not.
        let order = json(r#"{"id":1,"item":"x","qty":1,"items":[{"sku":"a","qty":1}]}"#);
        assert!(value_is(&order, f.order, t));
        let no_qty = json(r#"{"id":1,"item":"x","items":[]}"#);
        assert!(!value_is(&no_qty, f.order, t));
        // A record of another record type with the same fields.
        let mut t2 = t.clone();
        let other = t2.add_record(RecordDef {
            name: None,
            fields: vec![
                field("qty", TyId::INT, false),
                field("sku", TyId::STRING, false),
            ],
        });
        let other_val = Value::record(rid(&t2, other), vec![Value::Int(1), Value::str("a")]);
        assert!(value_is(&other_val, f.item, &t2));
        assert!(value_is(&rec, other, &t2));
        let mi = t2.map(TyId::INT);
        assert!(!value_is(&rec, mi, &t2));
        let mj = t2.map(TyId::JSON);
        assert!(value_is(&rec, mj, &t2));
    }

    #[test]
    fn is_errors_and_functions() {
        let mut t = Types::new();
        let (nf, nf_ty) = t.add_error("NotFound".into(), ErrorId(0));
        let (_, gone_ty) = t.add_error("Gone".into(), nf);
        let (_, other_ty) = t.add_error("Other".into(), ErrorId(0));
        let mk = |ty: ErrorId| {
            Value::Error(Rc::new(ErrorObj {
                ty,
                message: "m".into(),
                detail: MapObj::default(),
                cause: None,
                trace: Vec::new(),
            }))
        };
        let plain = mk(ErrorId(0));
        let not_found = mk(nf);
        assert!(value_is(&plain, TyId::ERROR, &t));
        assert!(!value_is(&plain, nf_ty, &t));
        assert!(value_is(&not_found, TyId::ERROR, &t));
        assert!(value_is(&not_found, nf_ty, &t));
        assert!(!value_is(&not_found, gone_ty, &t));
        assert!(!value_is(&not_found, other_ty, &t));
        let int_or_err = t.union(&[TyId::INT, TyId::ERROR]);
        assert!(value_is(&not_found, int_or_err, &t));
        assert!(value_is(&Value::Int(3), int_or_err, &t));
        let f = crate::check::types::FnType {
            params: vec![],
            rest: None,
            ret: TyId::NIL,
        };
        let fty = t.function(f);
        let clo = Value::Func(Rc::new(crate::vm::value::Closure {
            func: crate::check::tir::FuncId(0),
            upvalues: Box::new([]),
        }));
        assert!(value_is(&clo, fty, &t));
        assert!(!value_is(&clo, TyId::JSON, &t));
        assert!(!value_is(&Value::Int(1), fty, &t));
    }

    #[test]
    fn deep_clone_copies_containers() {
        let t = Types::new();
        let inner = json("[1,2]");
        let shared_twice = Value::array(vec![inner.clone(), inner, Value::str("s")]);
        let copy = deep_clone(&shared_twice);
        assert_eq!(to_display_string(&copy, &t), r#"[[1,2],[1,2],"s"]"#);
        match (&shared_twice, &copy) {
            (Value::Array(a), Value::Array(b)) => {
                assert!(!Rc::ptr_eq(a, b));
                let (a, b) = (a.borrow(), b.borrow());
                match (&a[0], &b[0], &b[1]) {
                    (Value::Array(x), Value::Array(y), Value::Array(z)) => {
                        assert!(!Rc::ptr_eq(x, y));
                        // Sharing inside the value is kept.
                        assert!(Rc::ptr_eq(y, z));
                    }
                    _ => panic!("shape"),
                }
            }
            _ => panic!("shape"),
        }
        // Mutating the copy leaves the original alone.
        if let Value::Array(b) = &copy {
            b.borrow_mut().push(Value::Nil);
        }
        assert_eq!(to_display_string(&shared_twice, &t), r#"[[1,2],[1,2],"s"]"#);
        let m = json(r#"{"a":{"b":[true]}}"#);
        assert_eq!(
            to_display_string(&deep_clone(&m), &t),
            r#"{"a":{"b":[true]}}"#
        );
        let r = Value::record(RecordId(0), vec![Value::Int(1)]);
        assert!(matches!(deep_clone(&r), Value::Record(c) if c.rec == RecordId(0)));
        assert!(matches!(deep_clone(&Value::Int(4)), Value::Int(4)));
        // Cycles are reproduced.
        let a = Value::array(vec![]);
        if let Value::Array(r) = &a {
            r.borrow_mut().push(a.clone());
        }
        let c = deep_clone(&a);
        if let Value::Array(cr) = &c {
            let first = cr.borrow().first().cloned();
            assert!(matches!(first, Some(Value::Array(x)) if Rc::ptr_eq(&x, cr)));
            cr.borrow_mut().clear();
        }
        if let Value::Array(r) = &a {
            r.borrow_mut().clear();
        }
        // Deep values: no stack overflow.
        let mut v = Value::Int(0);
        for _ in 0..100_000 {
            v = Value::array(vec![v]);
        }
        let c = deep_clone(&v);
        for mut cur in [v, c] {
            while let Value::Array(x) = cur {
                let next = x.borrow_mut().pop().unwrap_or_default();
                cur = next;
            }
        }
    }
}
