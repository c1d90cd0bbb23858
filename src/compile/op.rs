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
    /// `dst = typedesc ty`
    TypeDesc { dst: Reg, ty: u32 },
    /// `dst = src.cloneWithType(ty)` (`T|error`)
    CloneWithType { dst: Reg, src: Reg, ty: u32 },
    /// `dst = items` sorted stably by the parallel array `keys`
    SortByKeys { dst: Reg, items: Reg, keys: Reg },
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
