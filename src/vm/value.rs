//! Run-time values.
//!
//! Invariant: a `Value` is cheap to clone (scalars inline, everything else
//! behind an `Rc`), and values never cross threads: one VM instance (and
//! all its strands) lives on one thread.

use crate::check::tir::FuncId;
use crate::check::types::{ErrorId, RecordId, TyId};
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use std::cell::RefCell;
use std::rc::Rc;

/// An immutable, shared string. A thin pointer, so that a [`Value`] stays
/// 16 bytes (a fat `Rc<str>` would make every value 24 bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Str(Rc<Box<str>>);

impl Str {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str(Rc::new(Box::from(s)))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(Rc::new(s.into_boxed_str()))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Str {
        Str::from(s.as_str())
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Str {
        Str(Rc::new(s))
    }
}

impl From<char> for Str {
    fn from(c: char) -> Str {
        let mut b = [0u8; 4];
        Str::from(&*c.encode_utf8(&mut b))
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self.0, f)
    }
}

impl std::fmt::Display for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The storage of a map (and of JSON objects): insertion-ordered.
pub type MapObj = IndexMap<Str, Value, FxBuildHasher>;

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
