//! Golden tests: run the `flow` binary on every case under `tests/cases/` and
//! every program in `examples/`, and compare what it prints with the expected
//! files stored next to each case (layout: `tests/README.md`).
//!
//! The binary runs with the package root as its current directory and gets
//! relative paths such as `tests/cases/run/arith_int.flow`. Each case has a
//! 20 s timeout. All mismatches of a folder are collected and reported
//! together, each with its case name and a diff.
//!
//! `FLOW_BLESS=1 cargo test --test golden` rewrites the expected `.stdout` and
//! `.diag` files from the actual output instead of failing on them (exit codes
//! and `.stderr` expectations are still checked). Review the diff before
//! committing blessed files.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// Longest time one case may run before it is killed and reported.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Diagnostic codes that are warnings (§16); every other code is an error.
const WARNING_CODES: &[&str] = &[
    "flow::unreachable-check",
    "flow::unreachable-code",
    "flow::unused-variable",
];

#[test]
fn run_cases() {
    check_folder("tests/cases/run", |case| {
        let out = run_flow(&["run", &case.file]);
        let mut problems = Vec::new();
        check_exit(&mut problems, &out, case.expected_exit());
        compare_text(&mut problems, case, "stdout", &out.stdout, &out.stderr);
        check_stderr(&mut problems, case, &out.stderr);
        problems
    });
}

#[test]
fn syntax_cases() {
    check_folder("tests/cases/syntax", check_diagnostics);
}

#[test]
fn check_cases() {
    check_folder("tests/cases/check", check_diagnostics);
}

#[test]
fn test_cases() {
    check_folder("tests/cases/test", |case| {
        let out = run_flow(&["test", &case.file]);
        let mut problems = Vec::new();
        check_exit(&mut problems, &out, case.expected_exit());
        compare_text(&mut problems, case, "stdout", &out.stdout, &out.stderr);
        check_stderr(&mut problems, case, &out.stderr);
        problems
    });
}

/// Every `examples/NAME.flow` that has an `examples/expected/NAME.stdout` must
/// run with exit code 0 and print exactly that.
#[test]
fn examples() {
    let cases: Vec<Case> = flow_files("examples")
        .into_iter()
        .map(|path| Case::new("examples", &path))
        .filter(|case| case.expected_path("stdout").exists())
        .collect();
    run_all("examples", cases, |case| {
        let out = run_flow(&["run", &case.file]);
        let mut problems = Vec::new();
        check_exit(&mut problems, &out, 0);
        compare_text(&mut problems, case, "stdout", &out.stdout, &out.stderr);
        problems
    });
}

// ---------------------------------------------------------------------------
// Cases

/// One `.flow` file and the expected files beside it.
struct Case {
    /// File name without `.flow`, e.g. `arith_int`.
    name: String,
    /// Folder relative to the package root, e.g. `tests/cases/run`.
    dir: &'static str,
    /// Path passed to the binary, e.g. `tests/cases/run/arith_int.flow`.
    file: String,
}

impl Case {
    fn new(dir: &'static str, path: &Path) -> Case {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = format!("{dir}/{name}.flow");
        Case { name, dir, file }
    }

    /// Where the expected `NAME.EXT` lives (`examples/expected/` for examples).
    fn expected_path(&self, ext: &str) -> PathBuf {
        let dir = if self.dir == "examples" {
            "examples/expected"
        } else {
            self.dir
        };
        root().join(dir).join(format!("{}.{ext}", self.name))
    }

    /// The expected `NAME.EXT`, if the case has one (line endings normalised).
    fn read(&self, ext: &str) -> Option<String> {
        fs::read_to_string(self.expected_path(ext))
            .ok()
            .map(|s| s.replace("\r\n", "\n"))
    }

    /// The exit code in `NAME.exit`, or 0.
    fn expected_exit(&self) -> i32 {
        self.read("exit").map_or(0, |text| {
            text.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{}.exit: not a number: {text:?}", self.name))
        })
    }
}

/// The `.flow` files directly inside `dir`, sorted. Sub-folders (such as
/// `lib/`, which holds helper modules) are not cases.
fn flow_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "flow"))
        .collect();
    files.sort();
    files
}

/// Runs `check` on every case of `dir` and fails with all mismatches at once.
fn check_folder(dir: &'static str, check: fn(&Case) -> Vec<String>) {
    let cases = flow_files(dir)
        .iter()
        .map(|path| Case::new(dir, path))
        .collect();
    run_all(dir, cases, check);
}

/// Runs `check` on the cases, a few at a time, and panics with a report of
/// every mismatch (in case order) if there is any.
fn run_all(dir: &str, cases: Vec<Case>, check: fn(&Case) -> Vec<String>) {
    assert!(!cases.is_empty(), "no cases found in {dir}");
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(index) else { break };
                let problems = check(case);
                results.lock().unwrap().push((index, problems));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _)| *index);

    let mut report = String::new();
    let mut failed = 0;
    for (index, problems) in results {
        if problems.is_empty() {
            continue;
        }
        failed += 1;
        writeln!(report, "=== {} ({})", cases[index].name, cases[index].file).unwrap();
        for problem in problems {
            writeln!(report, "{problem}").unwrap();
        }
        report.push('\n');
    }
    if failed > 0 {
        panic!(
            "{failed} of {} cases in {dir} failed:\n\n{report}",
            cases.len()
        );
    }
}

// ---------------------------------------------------------------------------
// Running the binary

/// What one run of the binary produced.
struct Outcome {
    stdout: String,
    stderr: String,
    /// The exit code; `None` if the process was killed (by a signal or the timeout).
    code: Option<i32>,
    timed_out: bool,
}

/// The package root: the binary's working directory.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `flow ARGS...` in the package root with stdin closed, killing it after [`TIMEOUT`].
fn run_flow(args: &[&str]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the flow binary");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for flow") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.and_then(|status| status.code()),
        timed_out,
    }
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    })
}

/// FLOW_BLESS=1: rewrite expected `.stdout` / `.diag` files instead of failing.
fn blessing() -> bool {
    std::env::var("FLOW_BLESS").is_ok_and(|value| value == "1")
}

// ---------------------------------------------------------------------------
// Comparisons; each pushes a readable description of a mismatch

fn check_exit(problems: &mut Vec<String>, out: &Outcome, expected: i32) {
    if out.timed_out {
        problems.push(format!("timed out after {} s", TIMEOUT.as_secs()));
    } else if out.code != Some(expected) {
        let actual = out
            .code
            .map_or("none (killed by a signal)".to_string(), |code| {
                code.to_string()
            });
        problems.push(format!(
            "exit code: expected {expected}, actual {actual}\n  stderr:\n{}",
            excerpt(&out.stderr)
        ));
    }
}

/// Compares `actual` with the expected `NAME.EXT` exactly (or blesses it).
/// `stderr` is shown with a stdout mismatch because it usually explains it.
fn compare_text(problems: &mut Vec<String>, case: &Case, ext: &str, actual: &str, stderr: &str) {
    let expected = case.read(ext);
    if expected.as_deref() == Some(actual) {
        return;
    }
    if blessing() {
        fs::write(case.expected_path(ext), actual).expect("cannot bless");
        return;
    }
    match expected {
        None => problems.push(format!("no {}.{ext} (FLOW_BLESS=1 creates it)", case.name)),
        Some(expected) => problems.push(format!(
            "{ext} differs (- expected, + actual):\n{}  stderr:\n{}",
            diff(&expected, actual),
            excerpt(stderr)
        )),
    }
}

/// Each non-empty line of `NAME.stderr` must occur in the actual stderr, in
/// order (each is searched for after the end of the previous match).
fn check_stderr(problems: &mut Vec<String>, case: &Case, actual: &str) {
    let Some(expected) = case.read("stderr") else {
        return;
    };
    let mut rest = actual;
    for wanted in expected.lines().filter(|line| !line.trim().is_empty()) {
        match rest.find(wanted) {
            Some(at) => rest = &rest[at + wanted.len()..],
            None => {
                problems.push(format!(
                    "stderr lacks {wanted:?} (after the earlier expected lines)\n  stderr:\n{}",
                    excerpt(actual)
                ));
                return;
            }
        }
    }
}

/// One diagnostic as compared: (line, column, code).
type Diag = (u64, u64, String);

/// `flow check --format json FILE`: the (line, column, code) set of the
/// error and warning diagnostics must equal `NAME.diag`; the exit code must
/// be 2 if an error is expected, else 0.
fn check_diagnostics(case: &Case) -> Vec<String> {
    let out = run_flow(&["check", "--format", "json", &case.file]);
    let mut problems = Vec::new();
    let expected = case.read("diag").map(|text| parse_diag_file(case, &text));
    let has_error = expected
        .iter()
        .flatten()
        .any(|(_, _, code)| !WARNING_CODES.contains(&code.as_str()));
    check_exit(&mut problems, &out, if has_error { 2 } else { 0 });

    let actual = match parse_json_diagnostics(&out.stdout) {
        Ok(actual) => actual,
        Err(why) => {
            problems.push(format!(
                "bad JSON diagnostics: {why}\n  stdout:\n{}",
                excerpt(&out.stdout)
            ));
            return problems;
        }
    };
    for (line, column, code, severity) in &actual {
        let wanted = if WARNING_CODES.contains(&code.as_str()) {
            "warning"
        } else {
            "error"
        };
        if severity != wanted {
            problems.push(format!(
                "{line}:{column} {code} has severity {severity:?}, expected {wanted:?}"
            ));
        }
    }
    let actual: BTreeSet<Diag> = actual
        .into_iter()
        .map(|(l, c, code, _)| (l, c, code))
        .collect();
    if expected.as_ref() == Some(&actual) {
        return problems;
    }
    if blessing() {
        let text: String = actual
            .iter()
            .map(|(l, c, code)| format!("{l}:{c} {code}\n"))
            .collect();
        fs::write(case.expected_path("diag"), text).expect("cannot bless");
        return problems;
    }
    let Some(expected) = expected else {
        problems.push(format!("no {}.diag (FLOW_BLESS=1 creates it)", case.name));
        return problems;
    };
    let mut text = String::from(
        "diagnostics differ (- expected but not reported, + reported but not expected):\n",
    );
    for (l, c, code) in expected.difference(&actual) {
        writeln!(text, "    - {l}:{c} {code}").unwrap();
    }
    for (l, c, code) in actual.difference(&expected) {
        writeln!(text, "    + {l}:{c} {code}").unwrap();
    }
    write!(text, "  stdout:\n{}", excerpt(&out.stdout)).unwrap();
    problems.push(text);
    problems
}

/// Parses a `.diag` file: one `LINE:COL CODE` per line; blank lines and
/// lines starting with `#` are ignored.
fn parse_diag_file(case: &Case, text: &str) -> BTreeSet<Diag> {
    let bad = |line: &str| -> Diag {
        panic!(
            "{}.diag: expected `LINE:COL CODE`, found {line:?}",
            case.name
        )
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let Some((position, code)) = line.split_once(' ') else {
                return bad(line);
            };
            let Some((l, c)) = position.split_once(':') else {
                return bad(line);
            };
            match (l.parse::<u64>(), c.parse::<u64>()) {
                (Ok(l), Ok(c)) => (l, c, code.trim().to_string()),
                _ => bad(line),
            }
        })
        .collect()
}

/// Parses `flow check --format json` output: one JSON object per line with
/// the fields code, severity, message, file, line, column and help. Returns
/// (line, column, code, severity) of the errors and warnings.
fn parse_json_diagnostics(stdout: &str) -> Result<Vec<(u64, u64, String, String)>, String> {
    let mut diagnostics = Vec::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{e} in line {line:?}"))?;
        for field in [
            "code", "severity", "message", "file", "line", "column", "help",
        ] {
            if value.get(field).is_none() {
                return Err(format!("field {field:?} missing in line {line:?}"));
            }
        }
        let text = |field: &str| value[field].as_str().map(str::to_string);
        let number = |field: &str| value[field].as_u64();
        match (
            text("code"),
            text("severity"),
            number("line"),
            number("column"),
        ) {
            (Some(code), Some(severity), Some(l), Some(c)) => {
                if severity == "error" || severity == "warning" {
                    diagnostics.push((l, c, code, severity));
                }
            }
            _ => {
                return Err(format!(
                    "code/severity must be strings and line/column numbers in {line:?}"
                ))
            }
        }
    }
    Ok(diagnostics)
}

// ---------------------------------------------------------------------------
// Display helpers

/// A line diff (longest common subsequence): ` ` same, `-` expected only,
/// `+` actual only. A missing final newline is marked.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let a: Vec<&str> = actual.split_inclusive('\n').collect();
    if e.len() * a.len() > 1_000_000 {
        return format!(
            "    (too long to diff: {} expected lines, {} actual lines)\n    - {}\n    + {}\n",
            e.len(),
            a.len(),
            excerpt(expected),
            excerpt(actual)
        );
    }
    // lcs[i][j] = length of the longest common subsequence of e[i..] and a[j..].
    let mut lcs = vec![vec![0u32; a.len() + 1]; e.len() + 1];
    for i in (0..e.len()).rev() {
        for j in (0..a.len()).rev() {
            lcs[i][j] = if e[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < e.len() || j < a.len() {
        if i < e.len() && j < a.len() && e[i] == a[j] {
            diff_line(&mut out, ' ', e[i]);
            i += 1;
            j += 1;
        } else if i < e.len() && (j == a.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            diff_line(&mut out, '-', e[i]);
            i += 1;
        } else {
            diff_line(&mut out, '+', a[j]);
            j += 1;
        }
    }
    out
}

fn diff_line(out: &mut String, mark: char, line: &str) {
    match line.strip_suffix('\n') {
        Some(text) => writeln!(out, "    {mark} {text}").unwrap(),
        None => writeln!(out, "    {mark} {line}  [no newline at end]").unwrap(),
    }
}

/// The first 40 lines of `text`, indented, for context in a report.
fn excerpt(text: &str) -> String {
    if text.is_empty() {
        return "    (empty)\n".to_string();
    }
    let mut out = String::new();
    for line in text.lines().take(40) {
        writeln!(out, "    | {line}").unwrap();
    }
    let more = text.lines().count().saturating_sub(40);
    if more > 0 {
        writeln!(out, "    | ... {more} more lines").unwrap();
    }
    out
}
