//! The abstract syntax tree. Every node carries its [`Span`].
//!
//! Invariant: the AST is purely syntactic: names are not resolved and no
//! types are known. The checker (`crate::check`) gives it meaning.

use super::span::Span;
use std::sync::Arc;

/// An interned-ish name (cheap to clone).
pub type Name = Arc<str>;

/// An identifier with its position.
#[derive(Debug, Clone)]
pub struct Ident {
    /// The text.
    pub name: Name,
    /// Where it appears.
    pub span: Span,
}

/// A parsed source file.
#[derive(Debug, Clone, Default)]
pub struct Module {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Debug, Clone)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// `public` was given.
    pub public: bool,
    /// Annotations such as `@native`.
    pub annotations: Vec<Ident>,
    /// The whole item.
    pub span: Span,
}

/// The kinds of top-level items.
#[derive(Debug, Clone)]
pub enum ItemKind {
    /// `import io;` or `import "./x.flow" as x;`
    Import(Import),
    /// `const NAME = expr;` (optionally typed).
    Const(VarDecl),
    /// Module-level `var`/`final`/typed variable.
    Var(VarDecl),
    /// `type Name T;`
    Type(TypeDecl),
    /// A function.
    Function(FunctionDecl),
    /// `configurable T name = default|?;`
    Configurable(ConfigurableDecl),
    /// `endpoint name = expr;`
    Endpoint(EndpointDecl),
    /// `service on expr { resources }`
    Service(ServiceDecl),
    /// `test "name" { ... }`
    Test(TestDecl),
    /// An item that failed to parse (its error is already reported).
    Error,
}

/// An import.
#[derive(Debug, Clone)]
pub struct Import {
    /// Stdlib module name, or the path string of a file module.
    pub target: ImportTarget,
    /// `as alias` (required for file modules).
    pub alias: Option<Ident>,
}

/// What an import names.
#[derive(Debug, Clone)]
pub enum ImportTarget {
    /// A standard-library module, e.g. `io`.
    Stdlib(Ident),
    /// A relative file path, with the span of the string literal.
    File(String, Span),
}

/// A variable or constant declaration (local, module-level or `const`).
#[derive(Debug, Clone)]
pub struct VarDecl {
    /// `final` was given (or it is a `const`).
    pub is_final: bool,
    /// The declared type; `None` for `var` (inferred).
    pub ty: Option<TypeExpr>,
    /// The variable's name.
    pub name: Ident,
    /// The initialiser.
    pub init: Option<Expr>,
}

/// `type Name T;`
#[derive(Debug, Clone)]
pub struct TypeDecl {
    /// The declared name.
    pub name: Ident,
    /// The definition.
    pub ty: TypeExpr,
}

/// A function declaration (module-level).
#[derive(Debug, Clone)]
pub struct FunctionDecl {
    /// The function's name.
    pub name: Ident,
    /// Parameters.
    pub sig: Signature,
    /// The body; `None` for `@native` functions.
    pub body: Option<Block>,
}

/// Parameters and return type of a function or function literal.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The declared return type (`None`: returns `()`).
    pub ret: Option<TypeExpr>,
}

/// The kind of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// An ordinary parameter.
    Normal,
    /// `T... name`: the remaining positional arguments as an array.
    Rest,
    /// `*map<T> name`: the remaining named arguments as a map.
    NamedRest,
}

/// A function parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// The declared type (element type for rest parameters).
    pub ty: TypeExpr,
    /// The parameter's name.
    pub name: Ident,
    /// The default value, if any.
    pub default: Option<Expr>,
    /// Normal, rest or named-rest.
    pub kind: ParamKind,
}

/// `configurable T name = default;` or `= ?;` (required).
#[derive(Debug, Clone)]
pub struct ConfigurableDecl {
    /// The declared type.
    pub ty: TypeExpr,
    /// The configurable's name.
    pub name: Ident,
    /// The default; `None` when required (`= ?`).
    pub default: Option<Expr>,
}

/// `endpoint name = constructor(...);`
#[derive(Debug, Clone)]
pub struct EndpointDecl {
    /// The endpoint's name.
    pub name: Ident,
    /// The constructor expression (e.g. `http:client(url, {...})`).
    pub init: Expr,
}

/// `service on listener { resources }`
#[derive(Debug, Clone)]
pub struct ServiceDecl {
    /// The listener expression.
    pub listener: Expr,
    /// The resources.
    pub resources: Vec<Resource>,
}

/// One resource of a service.
#[derive(Debug, Clone)]
pub struct Resource {
    /// `transactional` was given.
    pub transactional: bool,
    /// `get`, `post`, ...
    pub method: Ident,
    /// The path template.
    pub path: String,
    /// The path's span.
    pub path_span: Span,
    /// Parameters and result type.
    pub sig: Signature,
    /// The body.
    pub body: Block,
    /// The whole resource.
    pub span: Span,
}

/// `test "name" { ... }`
#[derive(Debug, Clone)]
pub struct TestDecl {
    /// The test's name.
    pub name: String,
    /// The body.
    pub body: Block,
}

/// A type as written.
#[derive(Debug, Clone)]
pub struct TypeExpr {
    /// What it is.
    pub kind: TypeExprKind,
    /// Where it is written.
    pub span: Span,
}

/// Built-in type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinType {
    /// `int`
    Int,
    /// `float`
    Float,
    /// `boolean`
    Boolean,
    /// `string`
    String,
    /// `json`
    Json,
    /// `any`
    Any,
    /// `duration`
    Duration,
    /// `typedesc`
    Typedesc,
    /// `error`
    Error,
    /// `()`
    Nil,
}

/// The kinds of type expressions.
#[derive(Debug, Clone)]
pub enum TypeExprKind {
    /// A built-in type.
    Builtin(BuiltinType),
    /// A user type name.
    Named(Ident),
    /// `module:Name`.
    Qualified(Ident, Ident),
    /// `T[]`
    Array(Box<TypeExpr>),
    /// `T?`
    Optional(Box<TypeExpr>),
    /// `A|B|...`
    Union(Vec<TypeExpr>),
    /// `map<T>`
    Map(Box<TypeExpr>),
    /// `future<T>`
    Future(Box<TypeExpr>),
    /// `record { ... }`
    Record(Vec<FieldDecl>),
    /// `function(A, B...) returns R`
    Function {
        /// Parameter types.
        params: Vec<TypeExpr>,
        /// Element type of a trailing rest parameter.
        rest: Option<Box<TypeExpr>>,
        /// Return type (`None`: `()`).
        ret: Option<Box<TypeExpr>>,
    },
    /// `distinct T` (only directly in a `type` declaration).
    Distinct(Box<TypeExpr>),
    /// A type that failed to parse.
    Error,
}

/// A field of a record type.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    /// The field's type.
    pub ty: TypeExpr,
    /// The field's name.
    pub name: Ident,
    /// The default value.
    pub default: Option<Expr>,
}

/// A block of statements.
#[derive(Debug, Clone)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The kinds of statements.
#[derive(Debug, Clone)]
pub enum StmtKind {
    /// A local variable declaration.
    VarDecl(VarDecl),
    /// `target = value;` or `target op= value;`
    Assign {
        /// The place assigned.
        target: Expr,
        /// For compound assignment, the operator.
        op: Option<BinOp>,
        /// The new value.
        value: Expr,
    },
    /// `_ = expr;`
    Discard(Expr),
    /// `expr;`
    Expr(Expr),
    /// `if cond { } else ...`
    If {
        /// The condition.
        cond: Expr,
        /// Taken when true.
        then: Block,
        /// `else if` (as a nested `If` statement) or `else { }`.
        otherwise: Option<Box<Stmt>>,
    },
    /// A block used as the `else` branch.
    Block(Block),
    /// `while cond { }`
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Block,
    },
    /// `foreach T x in expr { }`
    Foreach {
        /// The declared element type; `None` for `var`.
        ty: Option<TypeExpr>,
        /// The loop variable.
        name: Ident,
        /// What is iterated.
        iter: Expr,
        /// The body.
        body: Block,
    },
    /// `break;`
    Break,
    /// `continue;`
    Continue,
    /// `return;` or `return expr;`
    Return(Option<Expr>),
    /// `match value { arms }`
    Match {
        /// The value matched.
        value: Expr,
        /// The arms in order.
        arms: Vec<MatchArm>,
    },
    /// `fail expr;`
    Fail(Expr),
    /// `panic expr;`
    Panic(Expr),
    /// `do { } on fail ...`
    Do {
        /// The body.
        body: Block,
        /// The failure handler.
        on_fail: Option<OnFail>,
    },
    /// `retry (args) { } on fail ...` or `retry (args) transaction { }`
    Retry {
        /// Named arguments (`count = 3`, ...).
        args: Vec<Arg>,
        /// The body (a block, or a transaction statement).
        body: Box<Stmt>,
        /// The failure handler.
        on_fail: Option<OnFail>,
    },
    /// `timeout (d) { } on fail ...`
    Timeout {
        /// The time limit.
        limit: Expr,
        /// The body.
        body: Block,
        /// The failure handler.
        on_fail: Option<OnFail>,
    },
    /// `transaction { } on fail ...`
    Transaction {
        /// The body.
        body: Block,
        /// The failure handler.
        on_fail: Option<OnFail>,
    },
    /// `compensate <remote call>;`
    Compensate(Expr),
    /// `rollback;`
    Rollback,
    /// A statement that failed to parse.
    Error,
}

/// `on fail [T] name { }` (or `on fail var name { }`).
#[derive(Debug, Clone)]
pub struct OnFail {
    /// The declared error type (`None` for `var`).
    pub ty: Option<TypeExpr>,
    /// The bound variable.
    pub name: Ident,
    /// The handler's body.
    pub body: Block,
    /// The whole clause.
    pub span: Span,
}

/// One arm of a `match`.
#[derive(Debug, Clone)]
pub struct MatchArm {
    /// Alternatives separated by `|`.
    pub patterns: Vec<Pattern>,
    /// `if guard`.
    pub guard: Option<Expr>,
    /// The arm's body.
    pub body: Block,
    /// The whole arm.
    pub span: Span,
}

/// A match pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A constant expression (literal, negative literal, `()`, constant name).
    Value(Expr),
    /// `var name`: matches anything and binds it.
    Bind(Ident),
    /// `_`: matches anything.
    Wildcard(Span),
}

/// An expression.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinOp {
    /// The operator's source text.
    pub fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// An argument of a call: positional or `name = value`.
#[derive(Debug, Clone)]
pub struct Arg {
    /// The name for a named argument.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// A key of a mapping constructor: identifier/keyword or string literal.
#[derive(Debug, Clone)]
pub struct MappingField {
    /// The key text.
    pub key: Name,
    /// The key's span.
    pub key_span: Span,
    /// The value.
    pub value: Expr,
}

/// A piece of a string template.
#[derive(Debug, Clone)]
pub enum TemplatePart {
    /// Literal text (escapes decoded).
    Text(String),
    /// An interpolated expression.
    Expr(Expr),
}

/// A function literal: `function(params) returns T { body }`.
#[derive(Debug, Clone)]
pub struct FunctionLit {
    /// Parameters and return type.
    pub sig: Signature,
    /// The body.
    pub body: Block,
}

/// The kinds of expressions.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// `()`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A duration literal in nanoseconds.
    Duration(i64),
    /// A string literal.
    Str(Name),
    /// A string template.
    Template(Vec<TemplatePart>),
    /// A plain name.
    Name(Ident),
    /// `module:name`.
    Qualified(Ident, Ident),
    /// A type in expression position (a typedesc value): built-ins, `map<T>`,
    /// `record {..}`, `T[]` written after a type keyword.
    TypeDesc(TypeExpr),
    /// `name[]` in expression position: the array type of a named type.
    EmptyIndex(Box<Expr>),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// `{ k: v, "k": v }`
    Mapping(Vec<MappingField>),
    /// `error("msg", k = v)`
    ErrorCtor(Vec<Arg>),
    /// A prefix operator.
    Unary(UnOp, Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a ?: b`
    Elvis(Box<Expr>, Box<Expr>),
    /// `x is T`
    Is(Box<Expr>, TypeExpr),
    /// `<T>x`
    Cast(TypeExpr, Box<Expr>),
    /// `check x`
    Check(Box<Expr>),
    /// `checkpanic x`
    CheckPanic(Box<Expr>),
    /// `trap x`
    Trap(Box<Expr>),
    /// `start call`
    Start(Box<Expr>),
    /// `wait f` (a future, or a mapping of futures)
    Wait(Box<Expr>),
    /// `wait a | b | c`
    WaitAny(Vec<Expr>),
    /// `f(args)`
    Call(Box<Expr>, Vec<Arg>),
    /// `x.name` or `x?.name`
    Field {
        /// The receiver.
        target: Box<Expr>,
        /// The field.
        name: Ident,
        /// `?.` was used.
        optional: bool,
    },
    /// `x[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `x.m(args)`
    MethodCall {
        /// The receiver.
        target: Box<Expr>,
        /// The method.
        name: Ident,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `ep->m(args)`
    RemoteCall {
        /// The endpoint expression.
        target: Box<Expr>,
        /// The remote method.
        method: Ident,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `a ..< b` / `a ... b`
    Range {
        /// Start (inclusive).
        lo: Box<Expr>,
        /// End.
        hi: Box<Expr>,
        /// `...` (end included).
        inclusive: bool,
    },
    /// A function literal.
    Function(Box<FunctionLit>),
    /// `x => e` / `(a, b) => e`
    Arrow(Vec<Ident>, Box<Expr>),
    /// `commit`
    Commit,
    /// An expression that failed to parse.
    Error,
}

impl Expr {
    /// Builds an expression node.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}
