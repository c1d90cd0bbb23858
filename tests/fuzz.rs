//! In-process fuzzing of every stage on arbitrary input: the lexer (random
//! text), the parser (token soups), the checker (mutated example programs)
//! and the VM (mutants that pass the checker, run with operation and depth
//! limits). Each target runs for `FLOW_FUZZ_SECONDS` seconds (default 2, so
//! CI runs them briefly; run longer locally, e.g.
//! `FLOW_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture`).
//! `FLOW_FUZZ_SEED` fixes the seed (default: from the clock, printed).
//!
//! A Rust panic anywhere is a failure: the offending input is written to
//! `target/fuzz-failures/` and the test fails naming it.

use flow::check::check_source;
use flow::compile::compile;
use flow::runtime;
use flow::syntax::lexer::tokenize;
use flow::syntax::parser::parse_module;
use flow::syntax::span::{FileId, SourceMap};
use flow::vm::machine::{HostIo, Limits};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ",",
    ".",
    ":",
    "?",
    "|",
    "=>",
    "->",
    "..<",
    "...",
    "`",
    "\"",
    "${",
    "0",
    "-1",
    "9223372036854775807",
    "1.5",
    "2s",
    "250ms",
    "()",
    "check ",
    "trap ",
    "fail ",
    "panic error(\"x\");",
    "return;",
    "return ",
    "var ",
    "final ",
    "int ",
    "float ",
    "string ",
    "json ",
    "any ",
    "map<int> ",
    "error ",
    "if ",
    "else ",
    "while ",
    "foreach ",
    " in ",
    "match ",
    "_",
    "x",
    "y",
    "io:println",
    "function ",
    "type ",
    "record ",
    "distinct ",
    "returns ",
    "= ",
    "+ ",
    "- ",
    "* ",
    "/ ",
    "% ",
    "== ",
    "!= ",
    "< ",
    ">= ",
    "&& ",
    "|| ",
    "!",
    "?: ",
    "?.",
    "is ",
    "do ",
    "on fail ",
    "true",
    "false",
    "const ",
    "import io;",
    "\n",
    " ",
    "@native ",
    "public ",
    "break;",
    "continue;",
    "<int>",
    "checkpanic ",
    "test \"t\" ",
];

/// Example programs and test cases: the corpus mutants are made from.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "tests/cases/run", "tests/cases/check"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "flow") {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        files.push(text);
                    }
                }
            }
        }
    }
    files.sort();
    files
}

/// One random edit of `text`: delete, duplicate or replace a span, or
/// insert a fragment.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len().max(1);
        let at = rng.below(len);
        let span = 1 + rng.below(12);
        let end = (at + span).min(out.len());
        match rng.below(4) {
            0 => {
                out.drain(at.min(out.len())..end);
            }
            1 => {
                let piece: Vec<u8> = out[at.min(out.len())..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, piece);
            }
            2 => {
                let frag = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
                out.splice(at.min(out.len())..end, frag.iter().copied());
            }
            _ => {
                let frag = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, frag.iter().copied());
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn seconds() -> Duration {
    let s: f64 = std::env::var("FLOW_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(s)
}

fn seed(target: &str) -> u64 {
    let seed = std::env::var("FLOW_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("fuzz {target}: seed {seed}");
    seed
}

/// Runs `one` on generated inputs until the time is up, on a thread with
/// the binary's stack size; a panic fails the test with the input saved.
fn fuzz(target: &'static str, generate: fn(&mut Rng, &[String]) -> String, one: fn(&str)) {
    let budget = seconds();
    let mut rng = Rng(seed(target));
    let corpus = corpus();
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            // Keep panics quiet: the failing input is reported instead.
            std::panic::set_hook(Box::new(|_| {}));
            let started = Instant::now();
            let mut runs = 0u64;
            while started.elapsed() < budget {
                let input = generate(&mut rng, &corpus);
                if catch_unwind(AssertUnwindSafe(|| one(&input))).is_err() {
                    return Err(save_failure(target, &input));
                }
                runs += 1;
            }
            Ok(runs)
        })
        .expect("spawn the fuzz thread");
    match handle.join() {
        Ok(Ok(runs)) => println!("fuzz {target}: {runs} inputs in {budget:?}, no panic"),
        Ok(Err(path)) => panic!(
            "fuzz {target}: a Rust panic; input saved to {}",
            path.display()
        ),
        Err(_) => panic!("fuzz {target}: the fuzz thread itself panicked"),
    }
}

fn save_failure(target: &str, input: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{}.flow", std::process::id()));
    let _ = std::fs::write(&path, input);
    path
}

fn random_text(rng: &mut Rng, _: &[String]) -> String {
    const ALPHABET: &[u8] = b"abcxyz019_ \n\t\"`'${}()[]<>=!&|+-*/%.,:;?@#\\eE";
    let len = rng.below(200);
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            if rng.below(10) == 0 {
                (rng.next() & 0xff) as u8
            } else {
                ALPHABET[rng.below(ALPHABET.len())]
            }
        })
        .collect();
    if rng.below(4) == 0 {
        bytes.extend_from_slice("é€😀".as_bytes());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn token_soup(rng: &mut Rng, _: &[String]) -> String {
    let n = rng.below(120);
    (0..n)
        .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
        .collect()
}

fn mutant(rng: &mut Rng, corpus: &[String]) -> String {
    match corpus.get(rng.below(corpus.len())) {
        Some(text) => mutate(rng, text),
        None => token_soup(rng, corpus),
    }
}

fn lex(input: &str) {
    let _ = tokenize(input, 0);
}

fn parse(input: &str) {
    let _ = parse_module(input, FileId(0));
}

fn check(input: &str) {
    let mut sources = SourceMap::new();
    let _ = check_source("fuzz.flow", input, Path::new("."), &mut sources);
}

/// Programs that could wait on the clock or the network are not run.
fn runnable(input: &str) -> bool {
    ![
        "sleep", "->", "endpoint", "timeout", "retry", "start", "wait", "readln", "http",
    ]
    .iter()
    .any(|w| input.contains(w))
}

fn run(input: &str) {
    if !runnable(input) {
        return;
    }
    let mut sources = SourceMap::new();
    let result = check_source("fuzz.flow", input, Path::new("."), &mut sources);
    let Some(program) = result.program else {
        return;
    };
    let compiled = compile(program, Arc::new(sources));
    let io = HostIo {
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
    };
    let limits = Limits {
        max_depth: 10_000,
        max_operations: Some(200_000),
    };
    let Ok(vm) = runtime::instantiate(Arc::new(compiled), &flow::stdlib::resolve, io, limits)
    else {
        return;
    };
    let _ = runtime::run_main(vm, Vec::new());
}

#[test]
fn lexer_survives_random_text() {
    fuzz("lexer", random_text, lex);
}

#[test]
fn parser_survives_token_soups() {
    fuzz("parser", token_soup, parse);
}

#[test]
fn checker_survives_mutants() {
    fuzz("checker", mutant, check);
}

#[test]
fn vm_survives_mutants_that_check() {
    fuzz("vm", mutant, run);
}
