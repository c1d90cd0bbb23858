//! The `flow` binary: a thin client of the `flow` library.

use std::ffi::{c_int, c_long};

/// Stack for the thread that parses, checks and runs: the checker and the
/// compiler recurse over expressions (nesting is bounded by the parser).
const STACK_SIZE: usize = 256 << 20;

/// mimalloc: per-thread heaps and free lists. A gateway service spends
/// ≈ 40% less CPU per request than with glibc malloc, whose arena lock the
/// VM threads contend on (docs/PERFORMANCE.md, "mimalloc in the binary"). Only the
/// binary sets it: embedders keep their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc version whose option numbers are used below (the one the
/// pinned `libmimalloc-sys` bundles).
#[cfg(all(test, target_os = "linux"))]
const MI_VERSION: c_int = 30302;
/// `mi_option_arena_eager_commit` in that version.
const MI_OPTION_ARENA_EAGER_COMMIT: c_int = 4;
/// `mi_option_arena_reserve` (KiB), same version.
const MI_OPTION_ARENA_RESERVE: c_int = 23;
/// Arena reservation: small enough that hello world stays under 10 MB of
/// resident memory, large enough that the maps benchmark rarely reserves.
const ARENA_RESERVE_KIB: c_long = 16 * 1024;

fn main() {
    #[cfg(not(target_os = "linux"))]
    tune_allocator();
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

/// Runs [`tune_allocator`] as an ELF constructor: the Rust runtime
/// allocates before `main`, and mimalloc reserves its first arena with
/// the options in force at that first allocation.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR_AT_LOAD: extern "C" fn() = tune_allocator;

/// Commits arena memory on demand instead of up front (with transparent
/// huge pages, eager commit costs 6 MB of resident memory even for hello
/// world) and reserves address space in 16 MiB steps.
extern "C" fn tune_allocator() {
    // SAFETY: `mi_option_set` only stores an option value; it runs before
    // any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_RESERVE, ARENA_RESERVE_KIB);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The option numbers belong to this mimalloc, and the constructor ran
    /// before the test harness's first allocation.
    #[test]
    fn allocator_options_are_set_at_load() {
        // SAFETY: reads only; the options were set before any thread
        // existed.
        let (version, eager, reserve) = unsafe {
            (
                libmimalloc_sys::mi_version(),
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_RESERVE),
            )
        };
        assert_eq!(version, MI_VERSION, "re-check the option numbers");
        assert_eq!((eager, reserve), (0, ARENA_RESERVE_KIB));
    }
}
