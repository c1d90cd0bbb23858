//! Stage 2: names, types, narrowing and the error-flow rules; lowers the AST
//! to the typed IR ([`tir`]).

pub mod tir;
pub mod types;
