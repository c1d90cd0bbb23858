//! Stage 4: values and the bytecode interpreter running strands.
//!
//! Invariant: the VM trusts the checker (types are right) but never relies
//! on it for memory safety: an impossible operand is a Flow panic
//! ("internal type error"), never a Rust panic.

pub mod convert;
pub mod equality;
pub mod format;
pub mod interp;
pub mod json;
pub mod machine;
pub mod methods;
pub mod ordered_map;
pub mod sandbox;
pub mod value;

use interp::{Exit, Strand};
use value::Value;

/// Runs a strand to completion on the current task: `Ok(value)` when its
/// function returned, `Err(error)` when it panicked.
pub async fn drive(mut strand: Strand) -> Result<Value, Value> {
    drive_in_place(&mut strand).await
}

/// [`drive`] for a process that exits right after: the strand's registers
/// (and everything only they reference) are never freed, which saves the
/// time of tearing down large data at exit.
pub async fn drive_and_leak(strand: Strand) -> Result<Value, Value> {
    let mut strand = std::mem::ManuallyDrop::new(strand);
    drive_in_place(&mut strand).await
}

async fn drive_in_place(strand: &mut Strand) -> Result<Value, Value> {
    let mut exit = strand.run();
    loop {
        match exit {
            Exit::Return(v) => return Ok(v),
            Exit::Panic(e) => return Err(e),
            Exit::Suspend(fut) => {
                strand.vm().flush();
                let result = fut.await;
                exit = match strand.resume_with(result) {
                    Some(e) => e,
                    None => strand.run(),
                };
            }
        }
    }
}
