//! Run-time values.
//!
//! Invariant: a `Value` is cheap to clone (scalars inline, everything else
//! behind an `Rc`), and values never cross threads: one VM instance (and
//! all its strands) lives on one thread.

use crate::check::tir::FuncId;
use crate::check::types::{ErrorId, RecordId, TyId};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::rc::Rc;

/// An immutable, shared string: one allocation holding a reference count,
/// the length and the bytes. A thin pointer, so that a [`Value`] stays 16
/// bytes, and one allocation per string instead of two (`Rc<Box<str>>`).
pub struct Str(NonNull<StrHeader>);

/// The start of a [`Str`] allocation; the UTF-8 bytes follow it.
#[repr(C)]
struct StrHeader {
    rc: Cell<usize>,
    len: usize,
}

impl Str {
    /// The allocation layout of a string of `len` bytes.
    fn layout(len: usize) -> Layout {
        let size = std::mem::size_of::<StrHeader>().checked_add(len);
        match size.map(|s| Layout::from_size_align(s, std::mem::align_of::<StrHeader>())) {
            Some(Ok(l)) => l,
            // Larger than the address space: as for any failed allocation.
            _ => std::alloc::handle_alloc_error(Layout::new::<StrHeader>()),
        }
    }

    /// A new string holding a copy of `s`.
    pub fn new(s: &str) -> Str {
        // Far beyond a sandbox's memory limit: not allocated (`sandbox`).
        let s = if super::sandbox::admit_str(s.len()) {
            s
        } else {
            ""
        };
        let layout = Str::layout(s.len());
        // SAFETY: the layout has a non-zero size (the header); the header is
        // written before use and `s.len()` bytes fit after it.
        unsafe {
            let p = std::alloc::alloc(layout) as *mut StrHeader;
            let Some(p) = NonNull::new(p) else {
                std::alloc::handle_alloc_error(layout)
            };
            p.as_ptr().write(StrHeader {
                rc: Cell::new(1),
                len: s.len(),
            });
            std::ptr::copy_nonoverlapping(s.as_ptr(), p.as_ptr().add(1) as *mut u8, s.len());
            Str(p)
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: the allocation lives while `self` does, and holds `len`
        // bytes copied from a `str` after the header.
        unsafe {
            let h = self.0.as_ptr();
            let bytes = std::slice::from_raw_parts(h.add(1) as *const u8, (*h).len);
            std::str::from_utf8_unchecked(bytes)
        }
    }

    #[inline]
    fn header(&self) -> &StrHeader {
        // SAFETY: the header lives while `self` does.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for Str {
    #[inline]
    fn clone(&self) -> Str {
        let rc = &self.header().rc;
        match rc.get().checked_add(1) {
            Some(n) => rc.set(n),
            None => std::process::abort(),
        }
        Str(self.0)
    }
}

impl Drop for Str {
    #[inline]
    fn drop(&mut self) {
        let h = self.header();
        let n = h.rc.get() - 1;
        h.rc.set(n);
        if n == 0 {
            super::sandbox::release_str(h.len);
            let layout = Str::layout(h.len);
            // SAFETY: this was the last reference; the allocation was made
            // with this layout in `Str::new`.
            unsafe { std::alloc::dealloc(self.0.as_ptr() as *mut u8, layout) }
        }
    }
}

impl Default for Str {
    fn default() -> Str {
        Str::new("")
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        self.0 == other.0 || self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl std::hash::Hash for Str {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash like `str` (maps are looked up by `&str`).
        self.as_str().hash(state)
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::new(&s)
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Str {
        Str::new(s)
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Str {
        Str::new(&s)
    }
}

impl From<char> for Str {
    fn from(c: char) -> Str {
        let mut b = [0u8; 4];
        Str::new(c.encode_utf8(&mut b))
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The storage of a map (and of JSON objects): insertion-ordered.
pub type MapObj = super::ordered_map::OrderedMap;

/// A mutable, shared array.
pub type ArrayRef = Rc<RefCell<Vec<Value>>>;

/// A mutable, shared map.
pub type MapRef = Rc<RefCell<MapObj>>;

/// A record: its type (for field names and order) and its field values.
#[derive(Debug)]
pub struct RecordObj {
    /// The record type the value was built as.
    pub rec: RecordId,
    /// Field values in declaration order of `rec`.
    pub fields: RefCell<Vec<Value>>,
}

/// An error value (immutable).
#[derive(Debug)]
pub struct ErrorObj {
    /// Its error type (`ErrorId(0)` is plain `error`).
    pub ty: ErrorId,
    /// The message.
    pub message: Str,
    /// The detail map (`detail()`), in the order given.
    pub detail: MapObj,
    /// The cause, if any (an `Error` value).
    pub cause: Option<Value>,
    /// For panics: the Flow stack trace, innermost first.
    pub trace: Vec<TraceFrame>,
}

/// One frame of a Flow stack trace.
#[derive(Debug, Clone)]
pub struct TraceFrame {
    /// Function name.
    pub function: Str,
    /// `file:line:col`.
    pub location: String,
}

/// A function value: a function and its captured cells.
#[derive(Debug)]
pub struct Closure {
    /// The function.
    pub func: FuncId,
    /// Captured variables (shared by reference).
    pub upvalues: Box<[CellRef]>,
}

/// An opaque object of the standard library (an `http:Client`): a Rust
/// value behind a thin pointer, compared by identity.
pub struct HostObj {
    /// The Flow type it belongs to, e.g. `http:Client`.
    pub type_name: &'static str,
    /// How it prints (`toString()`), e.g. `http:Client{orders}`.
    pub label: String,
    /// The Rust object (downcast by the natives that use it).
    pub value: Box<dyn std::any::Any>,
}

impl std::fmt::Debug for HostObj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// A captured variable's heap cell.
pub type CellRef = Rc<RefCell<Value>>;

/// A Flow value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `()`
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// A 64-bit int.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A duration in nanoseconds (never negative).
    Duration(i64),
    /// A string.
    Str(Str),
    /// An array.
    Array(ArrayRef),
    /// A map (also JSON objects).
    Map(MapRef),
    /// A record.
    Record(Rc<RecordObj>),
    /// An error.
    Error(Rc<ErrorObj>),
    /// A function value.
    Func(Rc<Closure>),
    /// A type as a value.
    Typedesc(TyId),
    /// An opaque standard-library object (`http:Client`).
    Host(Rc<HostObj>),
    /// Internal: a captured local's cell (never visible to Flow code).
    Cell(CellRef),
    /// Internal: an argument that was not passed (the callee uses its default).
    Undefined,
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Str>) -> Value {
        Value::Str(s.into())
    }

    /// A new array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(RefCell::new(items)))
    }

    /// A new map value.
    pub fn map(m: MapObj) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }

    /// A new record value.
    pub fn record(rec: RecordId, fields: Vec<Value>) -> Value {
        Value::Record(Rc::new(RecordObj {
            rec,
            fields: RefCell::new(fields),
        }))
    }

    /// A new error value without detail or cause.
    pub fn error(ty: ErrorId, message: impl Into<Str>) -> Value {
        Value::Error(Rc::new(ErrorObj {
            ty,
            message: message.into(),
            detail: MapObj::default(),
            cause: None,
            trace: Vec::new(),
        }))
    }

    /// Whether this is an error value.
    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }

    /// Whether this is `()`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// A short name of the value's kind, for messages (`int`, `string`, `map`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "()",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Duration(_) => "duration",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Record(_) => "record",
            Value::Error(_) => "error",
            Value::Func(_) => "function",
            Value::Typedesc(_) => "typedesc",
            Value::Host(h) => h.type_name,
            Value::Cell(_) | Value::Undefined => "internal",
        }
    }
}

/// A run-time panic raised by a VM operation or native function: the message
/// (the interpreter adds the stack trace), or a complete error value.
#[derive(Debug, Clone)]
pub enum Panic {
    /// A panic with just a message (plain `error` type).
    Message(String),
    /// A panic with a given error value (`panic e`, `checkpanic`).
    Error(Value),
}

impl Panic {
    /// A panic with a message.
    pub fn msg(m: impl Into<String>) -> Panic {
        Panic::Message(m.into())
    }
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Result of a VM operation that may panic.
pub type VmResult<T> = Result<T, Panic>;
