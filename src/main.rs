//! The `flow` binary: a thin client of the `flow` library.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{c_int, c_long};

/// Stack for the thread that parses, checks and runs: the checker and the
/// compiler recurse over expressions (nesting is bounded by the parser).
const STACK_SIZE: usize = 256 << 20;

/// mimalloc: per-thread heaps and free lists. A gateway service spends
/// ≈ 40% less CPU per request than with glibc malloc, whose arena lock the
/// VM threads contend on (docs/PERFORMANCE.md, "mimalloc in the binary"). Only the
/// binary sets it: embedders keep their own allocator.
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

/// The alignment of every block mimalloc hands out (its blocks are whole
/// machine words).
const WORD: usize = std::mem::size_of::<usize>();

/// Whether every mimalloc block satisfies `layout`'s alignment, so the
/// plain (unaligned) entry points serve it.
#[inline]
fn any_block_fits(layout: &Layout) -> bool {
    layout.align() <= WORD
}

/// mimalloc as the global allocator, through its plain entry points
/// whenever the alignment asked for is at most a word (nearly every Rust
/// allocation). The `mimalloc` crate's allocator asks for the alignment
/// every time, and mimalloc v3 serves an aligned request over 1 KiB whose
/// block size is not a power of two by over-allocating and aligning by
/// hand: a slow path for e.g. every boxed future of a remote call
/// (docs/PERFORMANCE.md, "Session 8").
struct MiMalloc;

// SAFETY: every pointer comes from, and goes back to, mimalloc; the plain
// entry points are used only for alignments mimalloc always satisfies.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's C allocation functions accept any size.
        unsafe {
            if any_block_fits(&layout) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if any_block_fits(&layout) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, so by mimalloc.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by mimalloc with `layout`'s alignment.
        unsafe {
            if any_block_fits(&layout) {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

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
        mi::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        mi::mi_option_set(MI_OPTION_ARENA_RESERVE, ARENA_RESERVE_KIB);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alignment is honoured, on both paths and for small, medium
    /// and huge sizes; contents survive a reallocation; zeroed memory is
    /// zero.
    #[test]
    fn allocator_honours_size_alignment_and_contents() {
        let sizes = [1, 7, 8, 24, 100, 1000, 1025, 2400, 5000, 70_000, 3 << 20];
        let aligns = [1, 2, 4, 8, 16, 32, 128, 4096];
        for &size in &sizes {
            for &align in &aligns {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    panic!("layout {size}/{align}");
                };
                // SAFETY: a non-zero size; each block is used within its
                // size and freed once, with its layout.
                unsafe {
                    let p = ALLOCATOR.alloc(layout);
                    let aligned = |p: *mut u8| !p.is_null() && (p as usize).is_multiple_of(align);
                    assert!(aligned(p), "{size}/{align}");
                    for i in 0..size {
                        *p.add(i) = i as u8;
                    }
                    let q = ALLOCATOR.realloc(p, layout, size * 2);
                    assert!(aligned(q), "realloc {size}/{align}");
                    assert!(
                        (0..size).all(|i| *q.add(i) == i as u8),
                        "realloc kept {size}/{align}"
                    );
                    let Ok(grown) = Layout::from_size_align(size * 2, align) else {
                        panic!("layout {}/{align}", size * 2);
                    };
                    ALLOCATOR.dealloc(q, grown);
                    let z = ALLOCATOR.alloc_zeroed(layout);
                    assert!(aligned(z), "zeroed {size}/{align}");
                    assert!((0..size).all(|i| *z.add(i) == 0), "zeroed {size}/{align}");
                    ALLOCATOR.dealloc(z, layout);
                }
            }
        }
    }

    /// The option numbers belong to this mimalloc, and the constructor ran
    /// before the test harness's first allocation.
    #[cfg(target_os = "linux")]
    #[test]
    fn allocator_options_are_set_at_load() {
        // SAFETY: reads only; the options were set before any thread
        // existed.
        let (version, eager, reserve) = unsafe {
            (
                mi::mi_version(),
                mi::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                mi::mi_option_get(MI_OPTION_ARENA_RESERVE),
            )
        };
        assert_eq!(version, MI_VERSION, "re-check the option numbers");
        assert_eq!((eager, reserve), (0, ARENA_RESERVE_KIB));
    }
}
