//! The compiled program: function prototypes, constants and the type table.
//!
//! Invariant: a `CompiledProgram` is immutable and `Send + Sync`, so one
//! compilation can be run by many VM instances on many threads.

use super::op::Op;
use crate::check::tir::{Capture, Configurable, NativeDecl, Service};
use crate::check::types::Types;
use crate::syntax::span::{SourceMap, Span};
use std::sync::Arc;

/// A constant of the constant pool (thread-safe; materialised per VM).
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A string.
    Str(Arc<str>),
    /// A list of keys (for map, record and error constructors).
    Keys(Vec<Arc<str>>),
}

/// One compiled function.
#[derive(Debug, Clone)]
pub struct Proto {
    /// Name for stack traces.
    pub name: Arc<str>,
    /// Where it is declared.
    pub span: Span,
    /// Number of parameters.
    pub nparams: u16,
    /// Registers the frame needs.
    pub nregs: u16,
    /// Instructions.
    pub code: Vec<Op>,
    /// Source position of each instruction.
    pub spans: Vec<Span>,
    /// For lambdas: where captured variables come from.
    pub captures: Vec<Capture>,
    /// The native implementation (index into [`CompiledProgram::natives`]).
    pub native: Option<u32>,
}

/// A module-level variable.
#[derive(Debug, Clone)]
pub struct GlobalInfo {
    /// Qualified name.
    pub name: Arc<str>,
    /// Declared `const`, `final`, `configurable` or `endpoint`: assigned
    /// only by the module initialiser.
    pub is_final: bool,
}

/// A whole compiled program.
#[derive(Debug)]
pub struct CompiledProgram {
    /// All functions.
    pub functions: Vec<Proto>,
    /// The constant pool.
    pub consts: Vec<Const>,
    /// The type table (for run-time type tests and conversions).
    pub types: Types,
    /// Native functions referenced, by name.
    pub natives: Vec<NativeDecl>,
    /// Module-level variables.
    pub globals: Vec<GlobalInfo>,
    /// The module initialiser.
    pub init: u32,
    /// `main`, if any.
    pub main: Option<u32>,
    /// Test blocks: name and function.
    pub tests: Vec<(String, u32)>,
    /// For each record type, per field: the function computing its default.
    pub record_defaults: Vec<Vec<Option<u32>>>,
    /// Configurables, resolved by the runtime before the initialiser runs
    /// (`runtime::config`, §5.4).
    pub configurables: Vec<Configurable>,
    /// Literal network addresses, for the sandbox (§15.2).
    pub net_literals: Vec<crate::check::tir::NetLiteral>,
    /// The services (§11), served by the runtime after the initialiser
    /// (`runtime::service`).
    pub services: Vec<Service>,
    /// The sources (for stack traces).
    pub sources: Arc<SourceMap>,
}

impl CompiledProgram {
    /// Checks the bytecode's structural invariants: every register operand
    /// lies inside its function's frame, every jump lands inside its
    /// function, every function's code ends with a return or jump, direct
    /// calls name existing functions with the right frame size. The interpreter relies on this to access registers without
    /// bounds checks, so a program that fails is never run.
    pub fn verify(&self) -> Result<(), String> {
        for (fi, f) in self.functions.iter().enumerate() {
            if f.native.is_some() {
                continue;
            }
            let nregs = usize::from(f.nregs);
            let bad = |pc: usize, what: &str| {
                Err(format!(
                    "invalid bytecode in {} (#{fi}) at {pc}: {what}",
                    f.name
                ))
            };
            // The interpreter fetches without a bounds check: control must
            // never run past the last instruction.
            if !matches!(
                f.code.last(),
                Some(Op::Return { .. } | Op::ReturnNil | Op::Jump { .. } | Op::Panic { .. })
            ) {
                return bad(f.code.len(), "code does not end with a return or jump");
            }
            for (pc, op) in f.code.iter().enumerate() {
                let ops = op.operands();
                if ops.regs.iter().any(|r| usize::from(*r) >= nregs) {
                    return bad(pc, "register outside the frame");
                }
                if let Some((first, count)) = ops.range {
                    if usize::from(first) + count > nregs {
                        return bad(pc, "register range outside the frame");
                    }
                }
                if let Some(off) = ops.jump {
                    let target = pc as i64 + 1 + i64::from(off);
                    if target < 0 || target >= f.code.len() as i64 {
                        return bad(pc, "jump outside the function");
                    }
                }
                if let Op::CallFunc { func, nregs, .. } = op {
                    match self.functions.get(*func as usize) {
                        Some(callee) if callee.native.is_none() && callee.nregs == *nregs => {}
                        _ => return bad(pc, "call of an unknown function"),
                    }
                }
            }
        }
        Ok(())
    }

    /// A readable listing of every non-native function's bytecode (for
    /// debugging the compiler; `FLOW_DUMP_BYTECODE=1 flow run FILE`).
    pub fn disassemble(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for (i, f) in self.functions.iter().enumerate() {
            if f.native.is_some() {
                continue;
            }
            let _ = writeln!(
                out,
                "fn #{i} {} (params {}, regs {})",
                f.name, f.nparams, f.nregs
            );
            for (pc, op) in f.code.iter().enumerate() {
                let _ = writeln!(out, "  {pc:4}  {op:?}");
            }
        }
        out
    }
}
