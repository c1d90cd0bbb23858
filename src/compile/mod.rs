//! Stage 3: typed IR → register bytecode.
//!
//! Invariants: every local is a fixed register; temporaries are allocated in
//! stack order above the locals, and the arguments of a call are always the
//! topmost live registers (the callee's frame starts at them). Higher-order
//! array methods are compiled to loops, so the VM never re-enters itself.

mod emit;
pub mod isolation;
pub mod op;
pub mod program;

pub use emit::compile;
pub use program::CompiledProgram;

use crate::check::tir::Method;

/// The lang-library methods that the `Method` instruction dispatches on,
/// indexed by the instruction's `method` operand.
pub const METHODS: &[Method] = &[
    Method::ToString,
    Method::ToJsonString,
    Method::Clone,
    Method::StrLength,
    Method::StrToUpper,
    Method::StrToLower,
    Method::StrTrim,
    Method::StrSplit,
    Method::StrContains,
    Method::StrStartsWith,
    Method::StrEndsWith,
    Method::StrSubstring,
    Method::StrIndexOf,
    Method::StrReplace,
    Method::StrFromJsonString,
    Method::StrRepeat,
    Method::IntAbs,
    Method::FloatAbs,
    Method::FloatRound,
    Method::FloatFloor,
    Method::FloatCeil,
    Method::FloatIsNaN,
    Method::IntFromString,
    Method::FloatFromString,
    Method::ArrLength,
    Method::ArrPush,
    Method::ArrPop,
    Method::ArrSlice,
    Method::ArrIndexOf,
    Method::ArrContains,
    Method::ArrReverse,
    Method::ArrSort,
    Method::ArrJoin,
    Method::MapLength,
    Method::MapKeys,
    Method::MapValues,
    Method::MapHasKey,
    Method::MapGet,
    Method::MapRemove,
    Method::DurMilliseconds,
    Method::DurSeconds,
    Method::ErrMessage,
    Method::ErrDetail,
    Method::ErrCause,
];

/// The `Method` instruction operand for a method.
pub fn method_index(m: Method) -> u16 {
    METHODS.iter().position(|x| *x == m).unwrap_or(0) as u16
}

#[cfg(test)]
mod tests {
    use super::op::Op;
    use crate::syntax::span::SourceMap;
    use std::sync::Arc;

    fn compiled(src: &str) -> super::CompiledProgram {
        let mut sources = SourceMap::new();
        let checked =
            crate::check::check_source("t.flow", src, std::path::Path::new("."), &mut sources);
        let program = checked.program.expect("the test program checks");
        super::compile(program, Arc::new(sources))
    }

    #[test]
    fn compiled_code_verifies_and_corruption_is_caught() {
        let mut p = compiled(
            "function add(int a, int b) returns int { return a + b; }\n\
             public function main() { int x = add(1, 2); if x > 2 { x += 1; } }\n",
        );
        assert_eq!(p.verify(), Ok(()));
        let main = p
            .functions
            .iter()
            .position(|f| &*f.name == "main")
            .unwrap_or(0);
        let nregs = p.functions[main].nregs;
        p.functions[main]
            .code
            .insert(0, Op::Move { dst: nregs, src: 0 });
        assert!(p.verify().is_err());
    }

    #[test]
    fn template_map_keys_are_fused_into_the_map_instruction() {
        let p = compiled(
            "public function main() { map<int> m = {}; int i = 2;\n\
             m[`k${i}`] = 1; int? v = m[`k${i + 1}`]; string k = \"k2\"; m[k] = 3; }\n",
        );
        assert_eq!(p.verify(), Ok(()));
        let code = p
            .functions
            .iter()
            .find(|f| &*f.name == "main")
            .map(|f| f.code.clone())
            .unwrap_or_default();
        let count = |f: fn(&Op) -> bool| code.iter().filter(|op| f(op)).count();
        assert_eq!(count(|op| matches!(op, Op::MapSetTemplate { n: 2, .. })), 1);
        assert_eq!(count(|op| matches!(op, Op::MapGetTemplate { n: 2, .. })), 1);
        assert_eq!(count(|op| matches!(op, Op::Template { .. })), 0);
        assert_eq!(count(|op| matches!(op, Op::MapSet { .. })), 1);

        // A container part is not fused into a write: its text must be
        // taken before the assigned value is computed.
        let p = compiled(
            "public function main() { map<int> m = {}; int[] xs = [1];\n\
             m[`${xs}`] = 1; int? v = m[`${xs}`]; }\n",
        );
        let main = p.functions.iter().find(|f| &*f.name == "main");
        let code = main.map(|f| f.code.clone()).unwrap_or_default();
        assert!(code.iter().any(|op| matches!(op, Op::MapSet { .. })));
        assert!(code
            .iter()
            .any(|op| matches!(op, Op::MapGetTemplate { .. })));
    }
}
