//! The `flow` binary: a thin client of the `flow` library.

fn main() {
    std::process::exit(flow::cli::main());
}
