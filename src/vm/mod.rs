//! Stage 4: values and the bytecode interpreter running strands.

pub mod value;
