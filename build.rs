//! Generates the Flow parser from `grammar/flow.lalrpop`, and has the
//! release `flow` binary link the functions of a remote call next to each
//! other.

/// The linker script listing the sections of the functions a remote call
/// runs (written by `benches/link_order.sh`).
const LINK_ORDER: &str = "benches/link-order.ld";

fn main() {
    println!("cargo:rerun-if-changed=grammar/flow.lalrpop");
    println!("cargo:rerun-if-changed={LINK_ORDER}");
    println!("cargo:rerun-if-env-changed=FLOW_LINK_ORDER");
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .set_out_dir(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .process()
        .expect("grammar/flow.lalrpop must compile");
    if let Some(script) = link_order_script() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{script}");
    }
}

/// The path of the link-order script, for an optimised build of an
/// x86-64 Linux binary on an x86-64 Linux machine, unless
/// `FLOW_LINK_ORDER=0`. The script only adds output sections in front of
/// `.text` and `.rodata` (`INSERT BEFORE`), which LLD (Rust's default
/// linker there) and GNU ld understand. With it a remote call touches
/// about 90 fewer 4 KiB pages of code, 246 → 158 (docs/PERFORMANCE.md,
/// "Session 10").
fn link_order_script() -> Option<String> {
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let linux = "x86_64-unknown-linux-gnu";
    let wanted = env("PROFILE") == "release"
        && env("TARGET") == linux
        && env("HOST") == linux
        && env("FLOW_LINK_ORDER") != "0";
    let script = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join(LINK_ORDER);
    (wanted && script.is_file()).then(|| script.display().to_string())
}
