//! The typed intermediate representation (TIR): the checker's output and
//! the compiler's input.
//!
//! Invariants (established by the checker, relied on by the compiler):
//! - every name is resolved: locals to [`LocalId`] slots of their function,
//!   module-level variables to [`GlobalId`]s, functions to [`FuncId`]s;
//! - every expression carries its static type (after narrowing);
//! - operators are specialised by operand type ([`BinOp`]), calls have their
//!   arguments in parameter order with rest arguments packed, record
//!   literals list every field in declaration order (defaults filled in);
//! - compound assignment and `match` are lowered to plain assignment and
//!   `if` chains (using hidden locals);
//! - a program with check errors never reaches the compiler.

use super::types::{ErrorId, RecordId, TyId, Types};
use crate::syntax::ast::Name;
use crate::syntax::span::Span;

/// A local variable slot within one function (parameters come first).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LocalId(pub u32);

/// A module-level variable (constants, `var`/`final`, configurables, endpoints).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct GlobalId(pub u32);

/// A function (declared, lambda, test body or module initialiser).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FuncId(pub u32);

/// An entry of [`Program::natives`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NativeId(pub u32);

/// A whole checked program (root file, imported modules, used stdlib).
#[derive(Debug)]
pub struct Program {
    /// Every type used.
    pub types: Types,
    /// Every function; lambdas included.
    pub functions: Vec<Function>,
    /// Module-level variables of all modules.
    pub globals: Vec<Global>,
    /// Native (Rust) functions referenced, by qualified name (`io:println`).
    pub natives: Vec<NativeDecl>,
    /// Initialises all module-level variables, modules in dependency order.
    pub init: FuncId,
    /// The root module's `main`, if any.
    pub main: Option<FuncId>,
    /// The root module's `test` blocks, in source order.
    pub tests: Vec<(String, FuncId)>,
    /// Functions computing record field defaults (for `cloneWithType`),
    /// indexed by [`RecordId`]: entry `i` of a record's list is a function
    /// without parameters returning field `i`'s default value (a fresh value
    /// on each call), `None` when the field has no default. Records past the
    /// end of the vector have no defaults.
    pub record_defaults: Vec<Vec<Option<FuncId>>>,
    /// The configurables of all modules, in initialisation order (§5.4).
    pub configurables: Vec<Configurable>,
    /// Network addresses written as literals (endpoint URLs), which a
    /// host's sandbox checks before anything runs (§15.2).
    pub net_literals: Vec<NetLiteral>,
    /// The services of all modules (§11), in declaration order.
    pub services: Vec<Service>,
}

/// A `service on LISTENER { ... }` declaration (§11).
///
/// Protocol with the runtime: the initialiser evaluates the listener
/// expression into `listener` (an `http:Listener` value); after it ran, the
/// runtime serves the resources on that listener. Each resource is a
/// function whose parameters are bound from the request as `params` say.
#[derive(Debug, Clone)]
pub struct Service {
    /// The module variable holding the listener.
    pub listener: GlobalId,
    /// The resources, in declaration order.
    pub resources: Vec<Resource>,
    /// The declaration's position (`file:line:col` in messages).
    pub span: Span,
}

/// One resource of a [`Service`].
#[derive(Debug, Clone)]
pub struct Resource {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: Name,
    /// The path as written (`/orders/{id}`).
    pub path: Name,
    /// The function running the resource.
    pub func: FuncId,
    /// How each parameter (in order) is bound.
    pub params: Vec<ResourceParam>,
    /// `transactional` was given (recorded for §12; no effect yet).
    pub transactional: bool,
}

/// How one resource parameter is bound from a request (§11.1).
#[derive(Debug, Clone)]
pub struct ResourceParam {
    /// The parameter's name (the path segment or query name).
    pub name: Name,
    /// Where its value comes from.
    pub source: ParamSource,
    /// The declared type.
    pub ty: TyId,
    /// It may be absent (it has a default or admits `()`).
    pub optional: bool,
    /// It has a default value (the function computes it when the argument is
    /// absent).
    pub has_default: bool,
}

/// Where a resource parameter's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSource {
    /// A `{name}` path segment, converted from text.
    Path,
    /// A query parameter, converted from text.
    Query,
    /// The request body (JSON, then converted to the type).
    Body,
    /// The whole request as an `http:Request`.
    Request,
}

/// A network address written literally in the program (§15.2).
#[derive(Debug, Clone, PartialEq)]
pub struct NetLiteral {
    /// The address.
    pub target: NetTarget,
    /// Where it is written.
    pub span: Span,
}

/// What a [`NetLiteral`] addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum NetTarget {
    /// The URL of `endpoint NAME = http:client("URL", ...)`.
    EndpointUrl {
        /// The endpoint's name.
        endpoint: Name,
        /// The URL as written.
        url: Name,
    },
    /// The port of `service on http:listener(PORT)`.
    ListenerPort {
        /// The port.
        port: u16,
    },
}

/// A `configurable` declaration (§5.4): a `final` module variable whose value
/// may be supplied from outside the program.
///
/// Protocol with the runtime: before the initialiser runs, the runtime
/// stores each supplied value in the configurable's global (globals start
/// as `()`, which no configurable type admits). The initialiser assigns the
/// default only while the global still holds `()`; for a required
/// configurable it panics instead (only reachable when a host did not
/// resolve the configurables).
#[derive(Debug, Clone)]
pub struct Configurable {
    /// The name values are looked up by: the declared name, without any
    /// module prefix (also for configurables of imported file modules).
    pub name: Name,
    /// Its module variable.
    pub global: GlobalId,
    /// Its declared type.
    pub kind: ConfigKind,
    /// Declared `= ?`: a value must be supplied.
    pub required: bool,
}

/// The types a configurable may have (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `int`
    Int,
    /// `float`
    Float,
    /// `boolean`
    Boolean,
    /// `string`
    String,
    /// `duration`
    Duration,
    /// `string[]`
    StringArray,
    /// `int[]`
    IntArray,
}

impl ConfigKind {
    /// The type as written in Flow (`int`, `string[]`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::Int => "int",
            ConfigKind::Float => "float",
            ConfigKind::Boolean => "boolean",
            ConfigKind::String => "string",
            ConfigKind::Duration => "duration",
            ConfigKind::StringArray => "string[]",
            ConfigKind::IntArray => "int[]",
        }
    }
}

/// A native function's name and signature.
#[derive(Debug, Clone)]
pub struct NativeDecl {
    /// Qualified name, e.g. `io:println`.
    pub name: Name,
    /// Its Flow type.
    pub ty: TyId,
}

/// A module-level variable.
#[derive(Debug, Clone)]
pub struct Global {
    /// Qualified name for messages (`pricing:rate`).
    pub name: Name,
    /// Its type.
    pub ty: TyId,
    /// Declared `final` or `const`.
    pub is_final: bool,
}

/// A parameter of a function.
#[derive(Debug, Clone)]
pub struct Param {
    /// Its local slot.
    pub local: LocalId,
    /// Its default value, evaluated in the callee when the argument is absent.
    pub default: Option<Expr>,
}

/// Information about a local slot.
#[derive(Debug, Clone)]
pub struct LocalInfo {
    /// Source name (or `$tmp` for hidden locals).
    pub name: Name,
    /// Declared type.
    pub ty: TyId,
    /// Captured by a lambda: lives in a heap cell.
    pub captured: bool,
}

/// Where a lambda's captured variable comes from in its enclosing function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// A (captured) local of the enclosing function.
    Local(LocalId),
    /// An upvalue of the enclosing function (for nested lambdas).
    Upvalue(u32),
}

/// A function body with its frame layout.
#[derive(Debug, Clone)]
pub struct Function {
    /// Name for stack traces: `main`, `pricing:quote`, `<lambda>`, `<test NAME>`.
    pub name: Name,
    /// The declaration's span (name position).
    pub span: Span,
    /// Parameters, in order; their locals are `LocalId(0..params.len())`.
    pub params: Vec<Param>,
    /// Whether the last parameter collects rest arguments (as an array).
    pub has_rest: bool,
    /// Return type.
    pub ret: TyId,
    /// All locals (parameters first).
    pub locals: Vec<LocalInfo>,
    /// For lambdas: the captured variables, in upvalue order.
    pub captures: Vec<Capture>,
    /// The body. Falling off the end returns `()`.
    pub body: Block,
    /// The native implementation, for `@native` functions (body is empty).
    pub native: Option<NativeId>,
}

/// A sequence of statements.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
}

/// A statement, with the span used for stack traces and diagnostics.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of statements.
#[derive(Debug, Clone)]
pub enum StmtKind {
    /// Declares (and initialises) a local. For a captured local this creates
    /// a fresh cell each time it runs (per-iteration capture in loops).
    Let {
        /// The local.
        local: LocalId,
        /// Its initial value (`()` when the declaration had none).
        init: Expr,
    },
    /// `place = value`.
    Assign {
        /// What is assigned.
        place: Place,
        /// The value.
        value: Expr,
    },
    /// Evaluates and drops.
    Expr(Expr),
    /// `if`.
    If {
        /// Condition (boolean).
        cond: Expr,
        /// Then branch.
        then: Block,
        /// Else branch (possibly empty).
        otherwise: Block,
    },
    /// `while`.
    While {
        /// Condition (boolean).
        cond: Expr,
        /// Body.
        body: Block,
    },
    /// `foreach int i in lo ..< hi` without allocating the range.
    ForRange {
        /// The loop variable.
        local: LocalId,
        /// Start.
        lo: Expr,
        /// End.
        hi: Expr,
        /// `...` (end included).
        inclusive: bool,
        /// Body.
        body: Block,
    },
    /// `foreach` over an array (elements), a map (values) or a string (characters).
    ForEach {
        /// The loop variable.
        local: LocalId,
        /// What is iterated.
        iter: Expr,
        /// How.
        kind: IterKind,
        /// Body.
        body: Block,
    },
    /// Leaves the innermost loop.
    Break,
    /// Next iteration of the innermost loop.
    Continue,
    /// Returns from the function.
    Return(Expr),
    /// `fail e`: goes to the innermost enclosing failure handler of this
    /// function (a `Do` with a handler), or returns `e` from the function.
    Fail(Expr),
    /// `panic e`.
    Panic(Expr),
    /// `do { body } on fail var e { handler }`.
    Do {
        /// The body.
        body: Block,
        /// The handler: the local that receives the error, and its block.
        handler: Option<(LocalId, Block)>,
    },
    /// A nested block (scoping only).
    Block(Block),
}

/// How `foreach` walks its iterable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterKind {
    /// Array elements.
    Array,
    /// Map values in insertion order.
    MapValues,
    /// Characters of a string.
    String,
}

/// An assignable place.
#[derive(Debug, Clone)]
pub enum Place {
    /// A local.
    Local(LocalId),
    /// A module variable.
    Global(GlobalId),
    /// `array[i] = v` (panics when out of range; `i == length` appends? no: panics).
    ArrayIndex(Expr, Expr),
    /// `map["k"] = v` / `map.k = v`.
    MapKey(Expr, Expr),
    /// `record.field = v`.
    Field(Expr, FieldRef),
    /// An upvalue of the current lambda.
    Upvalue(u32),
}

/// A resolved record field.
#[derive(Debug, Clone)]
pub struct FieldRef {
    /// The record type the static type names.
    pub record: RecordId,
    /// The field's index in that record.
    pub index: u32,
    /// The field's name (used when the runtime record has another layout).
    pub name: Name,
}

/// A typed expression.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its static type.
    pub ty: TyId,
    /// Where it is.
    pub span: Span,
}

/// A literal constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `()`
    Nil,
    /// `true`/`false`
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Name),
    /// A duration in nanoseconds.
    Duration(i64),
}

/// Operators specialised by operand types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// int + int (panics on overflow)
    AddInt,
    /// int - int
    SubInt,
    /// int * int
    MulInt,
    /// int / int (truncating; panics on zero)
    DivInt,
    /// int % int
    RemInt,
    /// float + float
    AddFloat,
    /// float - float
    SubFloat,
    /// float * float
    MulFloat,
    /// float / float
    DivFloat,
    /// float % float (fmod)
    RemFloat,
    /// string + string
    Concat,
    /// array + array (new array)
    ConcatArray,
    /// duration + duration
    AddDuration,
    /// duration * int
    MulDurationInt,
    /// duration * float
    MulDurationFloat,
    /// duration / int
    DivDurationInt,
    /// deep equality
    Eq,
    /// deep inequality
    Ne,
    /// int <
    LtInt,
    /// int <=
    LeInt,
    /// int >
    GtInt,
    /// int >=
    GeInt,
    /// float <
    LtFloat,
    /// float <=
    LeFloat,
    /// float >
    GtFloat,
    /// float >=
    GeFloat,
    /// string <
    LtStr,
    /// string <=
    LeStr,
    /// string >
    GtStr,
    /// string >=
    GeStr,
    /// duration <
    LtDuration,
    /// duration <=
    LeDuration,
    /// duration >
    GtDuration,
    /// duration >=
    GeDuration,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// -int (panics on overflow)
    NegInt,
    /// -float
    NegFloat,
    /// !boolean
    Not,
}

/// Conversions written `<T>x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastKind {
    /// int → float
    IntToFloat,
    /// float → int (round half to even; panics on NaN/inf/out of range)
    FloatToInt,
    /// A checked downcast to the type (panics if the value is not one).
    Downcast(TyId),
    /// Statically always succeeds: no code.
    Identity,
}

/// What a call calls.
#[derive(Debug, Clone)]
pub enum Callee {
    /// A module-level function (Flow or `@native`).
    Func(FuncId),
    /// A function value (closure, function reference).
    Value(Box<Expr>),
}

/// A lang-library method (§7.6) or built-in function (`int:fromString`).
/// The receiver is the first operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    // any value
    ToString,
    ToJsonString,
    Clone,
    /// `cloneWithType(T)`: the target type (result `T|error`).
    CloneWithType(TyId),
    // string
    StrLength,
    StrToUpper,
    StrToLower,
    StrTrim,
    StrSplit,
    StrContains,
    StrStartsWith,
    StrEndsWith,
    /// `substring(start, end?)`: end is `()` when absent.
    StrSubstring,
    StrIndexOf,
    StrReplace,
    StrFromJsonString,
    StrRepeat,
    // int / float
    IntAbs,
    FloatAbs,
    FloatRound,
    FloatFloor,
    FloatCeil,
    FloatIsNaN,
    IntFromString,
    FloatFromString,
    // arrays (higher-order ones are compiled to loops)
    ArrLength,
    ArrPush,
    ArrPop,
    /// `slice(start, end?)`
    ArrSlice,
    ArrIndexOf,
    ArrContains,
    ArrReverse,
    ArrSort,
    /// `sort(keyFn)`
    ArrSortBy,
    ArrMap,
    ArrFilter,
    ArrReduce,
    ArrForEach,
    ArrJoin,
    ArrSome,
    ArrEvery,
    // maps
    MapLength,
    MapKeys,
    MapValues,
    MapHasKey,
    MapGet,
    MapRemove,
    // duration
    DurMilliseconds,
    DurSeconds,
    // error
    ErrMessage,
    ErrDetail,
    ErrCause,
}

/// The kinds of expressions.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A constant.
    Lit(Literal),
    /// Reads a local.
    Local(LocalId),
    /// Reads an upvalue of the current lambda.
    Upvalue(u32),
    /// Reads a module variable.
    Global(GlobalId),
    /// A module-level function as a value.
    FuncRef(FuncId),
    /// A string template: each part's `toString()` concatenated.
    Template(Vec<Expr>),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// A map (or json object) literal, keys in order.
    Map(Vec<(Name, Expr)>),
    /// A record literal: every field in declaration order.
    Record(RecordId, Vec<Expr>),
    /// Creates an error value of the given type.
    ErrorNew {
        /// The (distinct) error type.
        error: ErrorId,
        /// The message (string).
        message: Box<Expr>,
        /// `cause = e` (an error or `()`).
        cause: Option<Box<Expr>>,
        /// Other named arguments: the detail map.
        detail: Vec<(Name, Expr)>,
    },
    /// A unary operator.
    Unary(UnOp, Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Short-circuit `&&`.
    And(Box<Expr>, Box<Expr>),
    /// Short-circuit `||`.
    Or(Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a ?: b`
    Elvis(Box<Expr>, Box<Expr>),
    /// `x is T` (run-time type test).
    Is(Box<Expr>, TyId),
    /// `<T>x`
    Cast(CastKind, Box<Expr>),
    /// `check e`: an error value fails (see [`StmtKind::Fail`]).
    Check(Box<Expr>),
    /// `checkpanic e`: an error value panics.
    CheckPanic(Box<Expr>),
    /// `trap e`: a panic inside becomes an error value.
    Trap(Box<Expr>),
    /// A call; `args[i]` is `None` when parameter `i` takes its default.
    Call(Callee, Vec<Option<Expr>>),
    /// A lang-library method: receiver first, then the arguments.
    Method(Method, Vec<Expr>),
    /// `record.field` on a record type.
    Field(Box<Expr>, FieldRef),
    /// `m.k` / `m["k"]` on a map: `()` when absent.
    MapGet(Box<Expr>, Box<Expr>),
    /// `j.k` / `j["k"]` on json (or any value): `()` unless it is an object
    /// (map or record) with that key.
    JsonGet(Box<Expr>, Box<Expr>),
    /// `a[i]` on an array (panics when out of range).
    ArrayIndex(Box<Expr>, Box<Expr>),
    /// `x?.f`: `()` if `x` is `()`, else the inner access with `x` bound to
    /// the given hidden local.
    OptionalChain {
        /// The receiver.
        target: Box<Expr>,
        /// The hidden local holding the receiver.
        local: LocalId,
        /// The access, reading `local`.
        access: Box<Expr>,
    },
    /// `a ..< b` / `a ... b` as an `int[]`.
    Range(Box<Expr>, Box<Expr>, bool),
    /// A closure over the current frame.
    Lambda(FuncId),
    /// A type as a value.
    TypeDesc(TyId),
}

impl Expr {
    /// A literal expression.
    pub fn lit(lit: Literal, ty: TyId, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Lit(lit),
            ty,
            span,
        }
    }
}
