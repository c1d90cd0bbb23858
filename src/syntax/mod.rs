//! Stage 1: source text → tokens → AST with spans.
//!
//! Invariant: `syntax` knows nothing about names or types; it never fails as a
//! whole (errors become diagnostics and `Error` nodes).

pub mod ast;
pub mod disambiguate;
pub mod lexer;
pub mod parser;
pub mod span;

pub use parser::{parse_expr, parse_module};
pub use span::{FileId, SourceMap, Span};
