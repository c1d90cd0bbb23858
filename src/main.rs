//! The `flow` binary: a thin client of the `flow` library.

/// Stack for the thread that parses, checks and runs: the checker and the
/// compiler recurse over expressions (nesting is bounded by the parser).
const STACK_SIZE: usize = 256 << 20;

fn main() {
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
