//! Mutation robustness: feeds randomly mutated versions of the examples to
//! `flow check` and `flow run` and asserts the process always ends with exit
//! code 0, 1 or 2 — never a Rust panic (101), an abort (signal) or a hang.
//!
//! Mutants are generated deterministically (fixed seeds), so a failure is
//! reproducible; the failing mutant is written to `target/mutants/` for
//! inspection. Run-time is bounded with `FLOW_MAX_OPERATIONS`, since a mutant
//! may legitimately loop forever.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

const MUTANTS: usize = 2_000;
const TIMEOUT: Duration = Duration::from_secs(20);

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
    "()",
    "check ",
    "trap ",
    "fail ",
    "panic error(\"x\");",
    "return;",
    "var ",
    "int ",
    "string ",
    "json ",
    "error ",
    "if ",
    "else ",
    "while true ",
    "foreach ",
    "match ",
    "_",
    "x",
    "io:println",
    "null",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!",
    "&&",
    "||",
    "<",
    ">",
    "<int>",
    "is ",
    "\\",
    "/*",
    "*/",
    "//",
    "\n",
    "@",
    "é",
    "\u{0}",
];

/// Applies one to three random edits to `src`.
fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let len = chars.len().max(1);
        let at = rng.below(len);
        match rng.below(6) {
            0 => {
                // delete a short run
                let n = 1 + rng.below(4);
                let end = (at + n).min(chars.len());
                chars.drain(at.min(chars.len())..end);
            }
            1 | 2 => {
                let frag = FRAGMENTS[rng.below(FRAGMENTS.len())];
                let at = at.min(chars.len());
                chars.splice(at..at, frag.chars());
            }
            3 => {
                // duplicate a run
                let n = 1 + rng.below(30);
                let end = (at + n).min(chars.len());
                let run: Vec<char> = chars[at.min(chars.len())..end].to_vec();
                let to = rng.below(len).min(chars.len());
                chars.splice(to..to, run);
            }
            4 => {
                // swap two characters
                if chars.len() > 1 {
                    let b = rng.below(chars.len());
                    let a = at.min(chars.len() - 1);
                    chars.swap(a, b);
                }
            }
            _ => {
                // replace a digit or a character
                if let Some(c) = chars.get_mut(at) {
                    *c = if c.is_ascii_digit() {
                        char::from(b'0' + rng.below(10) as u8)
                    } else {
                        FRAGMENTS[rng.below(FRAGMENTS.len())]
                            .chars()
                            .next()
                            .unwrap_or('x')
                    };
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// Runs the binary; returns its exit code, or a description of a crash or hang.
fn run(args: &[&str]) -> Result<i32, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("FLOW_MAX_OPERATIONS", "2000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start flow: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut err);
                }
                return match status.code() {
                    Some(c @ 0..=2) => Ok(c),
                    Some(c) => Err(format!("exit code {c}: {err}")),
                    None => Err(format!("killed by a signal: {err}")),
                };
            }
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("hang (timeout)".into());
            }
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    }
}

#[test]
fn mutated_examples_never_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus: Vec<(PathBuf, String)> = fs::read_dir(root.join("examples"))
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .filter_map(|p| fs::read_to_string(&p).ok().map(|s| (p, s)))
        // Sleeping examples could be mutated into very long sleeps.
        .filter(|(_, s)| !s.contains("sleep"))
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty(), "no examples to mutate");

    // Mutants live next to the examples so relative imports still resolve.
    let dir = root.join("examples");
    let out_dir = root.join("target/mutants");
    let _ = fs::create_dir_all(&out_dir);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    thread::scope(|s| {
        for w in 0..workers {
            let (corpus, next, failures, dir, out_dir) =
                (&corpus, &next, &failures, &dir, &out_dir);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= MUTANTS {
                    break;
                }
                let (_, src) = &corpus[i % corpus.len()];
                let mut rng =
                    Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x1000_0000_01B3));
                let mutant = mutate(src, &mut rng);
                let file = dir.join(format!(".mutant_{w}.flow"));
                if fs::write(&file, &mutant).is_err() {
                    continue;
                }
                let rel = format!("examples/.mutant_{w}.flow");
                for cmd in ["check", "run"] {
                    if let Err(why) = run(&[cmd, &rel]) {
                        let keep = out_dir.join(format!("mutant_{i}.flow"));
                        let _ = fs::write(&keep, &mutant);
                        if let Ok(mut f) = failures.lock() {
                            f.push(format!(
                                "mutant {i} (`flow {cmd}`, saved as {}): {why}",
                                keep.display()
                            ));
                        }
                        break;
                    }
                }
                let _ = fs::remove_file(&file);
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {MUTANTS} mutants crashed or hung:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
