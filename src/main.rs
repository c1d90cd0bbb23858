//! The `flow` binary: a thin client of the `flow` library.

/// Stack for the thread that parses, checks and runs: the checker and the
/// compiler recurse over expressions (nesting is bounded by the parser).
const STACK_SIZE: usize = 256 << 20;

fn main() {
    single_malloc_arena();
    let worker = std::thread::Builder::new()
        .name("flow".into())
        .stack_size(STACK_SIZE)
        .spawn(flow::cli::main);
    let code = match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => 101,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Makes glibc serve every thread from the main malloc arena. Everything
/// runs on the `flow` worker thread, whose own arena would grow its heap
/// with one `mprotect` call per page or so (2,240 calls for 200,000 map
/// entries, ~7% of that program's time); the main arena grows with `brk`
/// in 128 KiB steps. Only the binary does this: embedders keep their
/// allocator settings.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn single_malloc_arena() {
    // SAFETY: `mallopt` only sets an allocator parameter, and no other
    // thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn single_malloc_arena() {}
