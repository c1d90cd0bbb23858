//! Scratch directories under `target/` for tests that run `flow`.

use std::path::{Path, PathBuf};

/// An empty directory `target/tmp-GROUP/NAME-PID` (emptied if a previous
/// run left it); distinct per test process, so test binaries can run at
/// once.
pub fn scratch_dir(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("tmp-{group}"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}
