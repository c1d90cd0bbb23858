//! Flow: a statically checked scripting language for integration flows.
//!
//! The pipeline is `syntax` → `check` → `compile` → `vm` → `runtime` /
//! `stdlib`, with `cli` (the `flow` binary) and this crate's embedding API on
//! top. See `docs/ARCHITECTURE.md`.

pub mod check;
pub mod cli;
pub mod compile;
pub mod diagnostics;
pub mod embed;
pub mod runtime;
pub mod stdlib;
pub mod syntax;
pub mod vm;

pub use embed::{
    CallError, CompileError, Engine, EngineBuilder, HostError, HostModule, HostResult, Program,
};
