//! The bytecode: one enum, one variant per instruction.
//!
//! The VM is register based: every function frame owns a window of
//! registers; locals live in the first registers (parameters first),
//! temporaries above them. `Reg` operands are frame-relative. Jump offsets
//! are relative to the instruction after the jump.

/// A frame-relative register.
pub type Reg = u16;

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `dst = src`
    Move { dst: Reg, src: Reg },
    /// `dst = consts[k]`
    LoadConst { dst: Reg, k: u32 },
    /// `dst = ()`
    LoadNil { dst: Reg },
    /// `dst = true/false`
    LoadBool { dst: Reg, v: bool },
    /// `dst = v` (small int immediate)
    LoadInt { dst: Reg, v: i32 },
    /// `dst = <absent argument>`
    LoadUndefined { dst: Reg },
    /// `dst = globals[g]`
    LoadGlobal { dst: Reg, g: u32 },
    /// `globals[g] = src`
    StoreGlobal { g: u32, src: Reg },
    /// `dst = new cell holding src`
    NewCell { dst: Reg, src: Reg },
    /// `dst = *cell`
    GetCell { dst: Reg, cell: Reg },
    /// `*cell = src`
    SetCell { cell: Reg, src: Reg },
    /// `dst = *upvalues[idx]`
    GetUpval { dst: Reg, idx: u16 },
    /// `*upvalues[idx] = src`
    SetUpval { idx: u16, src: Reg },
    /// `dst = closure of function `func` capturing per its capture list`
    Closure { dst: Reg, func: u32 },

    /// `dst = a + b` on ints (panics on overflow); likewise below.
    AddInt { dst: Reg, a: Reg, b: Reg },
    /// int -
    SubInt { dst: Reg, a: Reg, b: Reg },
    /// int *
    MulInt { dst: Reg, a: Reg, b: Reg },
    /// int / (truncating)
    DivInt { dst: Reg, a: Reg, b: Reg },
    /// int %
    RemInt { dst: Reg, a: Reg, b: Reg },
    /// `dst = a + imm` on ints (also `a - imm` with a negated immediate)
    AddIntImm { dst: Reg, a: Reg, v: i32 },
    /// `dst = a * imm` on ints
    MulIntImm { dst: Reg, a: Reg, v: i32 },
    /// `dst = a / imm` on ints (imm is never zero)
    DivIntImm { dst: Reg, a: Reg, v: i32 },
    /// `dst = a % imm` on ints (imm is never zero)
    RemIntImm { dst: Reg, a: Reg, v: i32 },
    /// `dst = a cmp imm` on ints
    CmpIntImm { dst: Reg, a: Reg, v: i32, cmp: Cmp },
    /// float +
    AddFloat { dst: Reg, a: Reg, b: Reg },
    /// float -
    SubFloat { dst: Reg, a: Reg, b: Reg },
    /// float *
    MulFloat { dst: Reg, a: Reg, b: Reg },
    /// float /
    DivFloat { dst: Reg, a: Reg, b: Reg },
    /// float % (fmod)
    RemFloat { dst: Reg, a: Reg, b: Reg },
    /// string + string
    Concat { dst: Reg, a: Reg, b: Reg },
    /// array + array
    ConcatArray { dst: Reg, a: Reg, b: Reg },
    /// duration + duration
    AddDuration { dst: Reg, a: Reg, b: Reg },
    /// duration * int
    MulDurationInt { dst: Reg, a: Reg, b: Reg },
    /// duration * float
    MulDurationFloat { dst: Reg, a: Reg, b: Reg },
    /// duration / int
    DivDurationInt { dst: Reg, a: Reg, b: Reg },
    /// -int
    NegInt { dst: Reg, a: Reg },
    /// -float
    NegFloat { dst: Reg, a: Reg },
    /// !boolean
    Not { dst: Reg, a: Reg },
    /// deep ==
    Eq { dst: Reg, a: Reg, b: Reg },
    /// deep !=
    Ne { dst: Reg, a: Reg, b: Reg },
    /// Ordering comparison of two values of the same kind (int, float,
    /// string, duration); `cmp` selects the relation.
    Compare { dst: Reg, a: Reg, b: Reg, cmp: Cmp },
    /// int comparison fused with a jump: jump if `!(a cmp b)`.
    JumpIfNotCmpInt { a: Reg, b: Reg, cmp: Cmp, off: i32 },
    /// int comparison with an immediate fused with a jump: jump if `!(a cmp imm)`.
    JumpIfNotCmpIntImm { a: Reg, v: i32, cmp: Cmp, off: i32 },

    /// Unconditional jump.
    Jump { off: i32 },
    /// Jump if `r` is false.
    JumpIfFalse { r: Reg, off: i32 },
    /// Jump if `r` is true.
    JumpIfTrue { r: Reg, off: i32 },
    /// Jump if `r` is `()`.
    JumpIfNil { r: Reg, off: i32 },
    /// Jump if `r` is not an error.
    JumpIfNotError { r: Reg, off: i32 },
    /// Jump unless `r` holds the absent-argument marker.
    JumpIfDefined { r: Reg, off: i32 },

    /// Calls function `func` with `argc` arguments in `args..`; result in `dst`.
    /// `nregs` is the callee's frame size (filled in after all functions are compiled).
    CallFunc {
        dst: Reg,
        func: u32,
        args: Reg,
        argc: u16,
        nregs: u16,
    },
    /// Calls native function `native` (index into the program's natives).
    CallNative {
        dst: Reg,
        native: u32,
        args: Reg,
        argc: u16,
    },
    /// Calls the function value in `callee`.
    CallValue {
        dst: Reg,
        callee: Reg,
        args: Reg,
        argc: u16,
    },
    /// Calls lang-library method `method` (see `tir::Method` ids) with receiver and args in `args..`.
    Method {
        dst: Reg,
        method: u16,
        args: Reg,
        argc: u16,
    },
    /// Returns `src`.
    Return { src: Reg },
    /// Returns `()`.
    ReturnNil,
    /// Panics with the error in `r`.
    Panic { r: Reg },
    /// Starts a `trap`: a panic before the matching `PopTrap` stores its
    /// error in `dst` and jumps by `off`.
    PushTrap { dst: Reg, off: i32 },
    /// Ends the innermost `trap` normally.
    PopTrap,

    /// `dst = [args..args+n]`
    NewArray { dst: Reg, args: Reg, n: u16 },
    /// `dst = {keys[i]: args[i]}` where `keys` is a key-list constant.
    NewMap {
        dst: Reg,
        keys: u32,
        args: Reg,
        n: u16,
    },
    /// `dst = record rec { args.. }`
    NewRecord {
        dst: Reg,
        rec: u32,
        args: Reg,
        n: u16,
    },
    /// `dst = error` of type `error`, message in `args`, cause in `args+1`,
    /// detail values in `args+2..` named by key-list constant `keys`.
    NewError {
        dst: Reg,
        error: u32,
        keys: u32,
        args: Reg,
        n: u16,
    },
    /// `dst = arr[idx]` (panics when out of range)
    ArrayGet { dst: Reg, arr: Reg, idx: Reg },
    /// `arr[idx] = src`
    ArraySet { arr: Reg, idx: Reg, src: Reg },
    /// `arr.push(src)`
    ArrayPush { arr: Reg, src: Reg },
    /// `dst = map[key]` or `()`
    MapGet { dst: Reg, map: Reg, key: Reg },
    /// `map[key] = src`
    MapSet { map: Reg, key: Reg, src: Reg },
    /// `dst = obj[key]` for any value (maps and records; else `()`)
    JsonGet { dst: Reg, obj: Reg, key: Reg },
    /// `dst = obj.field` (field index `idx` of record `rec`; by name `name` otherwise)
    FieldGet {
        dst: Reg,
        obj: Reg,
        rec: u32,
        idx: u16,
        name: u32,
    },
    /// `obj.field = src`
    FieldSet {
        obj: Reg,
        rec: u32,
        idx: u16,
        name: u32,
        src: Reg,
    },
    /// `dst = src is types[ty]`
    Is { dst: Reg, src: Reg, ty: u32 },
    /// `dst = <T>src` checked (panics when not a T)
    Downcast { dst: Reg, src: Reg, ty: u32 },
    /// `dst = <float>src`
    IntToFloat { dst: Reg, src: Reg },
    /// `dst = <int>src`
    FloatToInt { dst: Reg, src: Reg },
    /// `dst = concatenation of toString() of args..args+n`
    Template { dst: Reg, args: Reg, n: u16 },
    /// `dst = lo ..< hi` (or `...` when inclusive) as an int array
    Range {
        dst: Reg,
        lo: Reg,
        hi: Reg,
        inclusive: bool,
    },
    /// Iteration step: if `idx < len(coll)`, `dst = coll[idx]`, `idx += 1`;
    /// else jump by `off`. `coll` is an array, map (values) or string
    /// (`idx` is a byte offset for strings).
    IterNext {
        dst: Reg,
        coll: Reg,
        idx: Reg,
        off: i32,
    },
    /// The bottom of an `IterNext` loop: counts one loop iteration against
    /// the operation limit, then if `idx < len(coll)`, `dst = coll[idx]`,
    /// `idx += 1` and jumps by `off` (back to the loop body); else falls
    /// through.
    IterLoop {
        dst: Reg,
        coll: Reg,
        idx: Reg,
        off: i32,
    },
    /// The bottom of a counted loop: `counter += 1` (panics on overflow),
    /// counts one loop iteration against the operation limit, and jumps by
    /// `off` (back to the loop body) if `counter cmp end`.
    ForStep {
        counter: Reg,
        end: Reg,
        cmp: Cmp,
        off: i32,
    },
    /// `dst = typedesc ty`
    TypeDesc { dst: Reg, ty: u32 },
    /// `dst = src.cloneWithType(ty)` (`T|error`)
    CloneWithType { dst: Reg, src: Reg, ty: u32 },
    /// `dst = items` sorted stably by the parallel array `keys`
    SortByKeys { dst: Reg, items: Reg, keys: Reg },
    /// `dst = map[key]` or `()`, where `key` is the template of `args..args+n`
    /// (looked up without making a string of it)
    MapGetTemplate {
        dst: Reg,
        map: Reg,
        args: Reg,
        n: u16,
    },
    /// `map[key] = src`, where `key` is the template of `args..args+n` (a
    /// string is made only for a new key)
    MapSetTemplate {
        map: Reg,
        args: Reg,
        n: u16,
        src: Reg,
    },
}

/// A comparison relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
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
}

impl Cmp {
    /// Applies the relation to an ordering.
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
        }
    }

    /// Applies the relation to two ints.
    #[inline]
    pub fn ints(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// What a verifier needs to know about one instruction's operands.
pub struct Operands {
    /// Single registers read or written.
    pub regs: Vec<Reg>,
    /// A run of consecutive registers `(first, count)`.
    pub range: Option<(Reg, usize)>,
    /// A relative jump offset.
    pub jump: Option<i32>,
}

impl Op {
    /// The register and jump operands of this instruction.
    pub fn operands(&self) -> Operands {
        match *self {
            Op::Move { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::LoadConst { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::LoadNil { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::LoadBool { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::LoadInt { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::LoadUndefined { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::LoadGlobal { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::StoreGlobal { src, .. } => Operands {
                regs: vec![src],
                range: None,
                jump: None,
            },
            Op::NewCell { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::GetCell { dst, cell, .. } => Operands {
                regs: vec![dst, cell],
                range: None,
                jump: None,
            },
            Op::SetCell { cell, src, .. } => Operands {
                regs: vec![cell, src],
                range: None,
                jump: None,
            },
            Op::GetUpval { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::SetUpval { src, .. } => Operands {
                regs: vec![src],
                range: None,
                jump: None,
            },
            Op::Closure { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::AddInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::SubInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::MulInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::DivInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::RemInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::AddIntImm { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::MulIntImm { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::DivIntImm { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::RemIntImm { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::CmpIntImm { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::AddFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::SubFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::MulFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::DivFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::RemFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::Concat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::ConcatArray { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::AddDuration { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::MulDurationInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::MulDurationFloat { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::DivDurationInt { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::NegInt { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::NegFloat { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::Not { dst, a, .. } => Operands {
                regs: vec![dst, a],
                range: None,
                jump: None,
            },
            Op::Eq { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::Ne { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::Compare { dst, a, b, .. } => Operands {
                regs: vec![dst, a, b],
                range: None,
                jump: None,
            },
            Op::JumpIfNotCmpInt { a, b, off, .. } => Operands {
                regs: vec![a, b],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfNotCmpIntImm { a, off, .. } => Operands {
                regs: vec![a],
                range: None,
                jump: Some(off),
            },
            Op::Jump { off, .. } => Operands {
                regs: vec![],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfFalse { r, off, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfTrue { r, off, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfNil { r, off, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfNotError { r, off, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: Some(off),
            },
            Op::JumpIfDefined { r, off, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: Some(off),
            },
            Op::CallFunc {
                dst, args, argc, ..
            } => Operands {
                regs: vec![dst],
                range: Some((args, argc as usize)),
                jump: None,
            },
            Op::CallNative {
                dst, args, argc, ..
            } => Operands {
                regs: vec![dst],
                range: Some((args, argc as usize)),
                jump: None,
            },
            Op::CallValue {
                dst,
                callee,
                args,
                argc,
                ..
            } => Operands {
                regs: vec![dst, callee],
                range: Some((args, argc as usize)),
                jump: None,
            },
            Op::Method {
                dst, args, argc, ..
            } => Operands {
                regs: vec![dst],
                range: Some((args, argc as usize)),
                jump: None,
            },
            Op::Return { src, .. } => Operands {
                regs: vec![src],
                range: None,
                jump: None,
            },
            Op::ReturnNil => Operands {
                regs: vec![],
                range: None,
                jump: None,
            },
            Op::Panic { r, .. } => Operands {
                regs: vec![r],
                range: None,
                jump: None,
            },
            Op::PushTrap { dst, off, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: Some(off),
            },
            Op::PopTrap => Operands {
                regs: vec![],
                range: None,
                jump: None,
            },
            Op::NewArray { dst, args, n, .. } => Operands {
                regs: vec![dst],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::NewMap { dst, args, n, .. } => Operands {
                regs: vec![dst],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::NewRecord { dst, args, n, .. } => Operands {
                regs: vec![dst],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::NewError { dst, args, n, .. } => Operands {
                regs: vec![dst],
                range: Some((args, n as usize + 2)),
                jump: None,
            },
            Op::ArrayGet { dst, arr, idx, .. } => Operands {
                regs: vec![dst, arr, idx],
                range: None,
                jump: None,
            },
            Op::ArraySet { arr, idx, src, .. } => Operands {
                regs: vec![arr, idx, src],
                range: None,
                jump: None,
            },
            Op::ArrayPush { arr, src, .. } => Operands {
                regs: vec![arr, src],
                range: None,
                jump: None,
            },
            Op::MapGet { dst, map, key, .. } => Operands {
                regs: vec![dst, map, key],
                range: None,
                jump: None,
            },
            Op::MapSet { map, key, src, .. } => Operands {
                regs: vec![map, key, src],
                range: None,
                jump: None,
            },
            Op::MapGetTemplate {
                dst, map, args, n, ..
            } => Operands {
                regs: vec![dst, map],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::MapSetTemplate {
                map, args, n, src, ..
            } => Operands {
                regs: vec![map, src],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::JsonGet { dst, obj, key, .. } => Operands {
                regs: vec![dst, obj, key],
                range: None,
                jump: None,
            },
            Op::FieldGet { dst, obj, .. } => Operands {
                regs: vec![dst, obj],
                range: None,
                jump: None,
            },
            Op::FieldSet { obj, src, .. } => Operands {
                regs: vec![obj, src],
                range: None,
                jump: None,
            },
            Op::Is { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::Downcast { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::IntToFloat { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::FloatToInt { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::Template { dst, args, n, .. } => Operands {
                regs: vec![dst],
                range: Some((args, n as usize)),
                jump: None,
            },
            Op::Range { dst, lo, hi, .. } => Operands {
                regs: vec![dst, lo, hi],
                range: None,
                jump: None,
            },
            Op::IterNext {
                dst,
                coll,
                idx,
                off,
                ..
            } => Operands {
                regs: vec![dst, coll, idx],
                range: None,
                jump: Some(off),
            },
            Op::IterLoop {
                dst,
                coll,
                idx,
                off,
                ..
            } => Operands {
                regs: vec![dst, coll, idx],
                range: None,
                jump: Some(off),
            },
            Op::ForStep {
                counter, end, off, ..
            } => Operands {
                regs: vec![counter, end],
                range: None,
                jump: Some(off),
            },
            Op::TypeDesc { dst, .. } => Operands {
                regs: vec![dst],
                range: None,
                jump: None,
            },
            Op::CloneWithType { dst, src, .. } => Operands {
                regs: vec![dst, src],
                range: None,
                jump: None,
            },
            Op::SortByKeys {
                dst, items, keys, ..
            } => Operands {
                regs: vec![dst, items, keys],
                range: None,
                jump: None,
            },
        }
    }
}
