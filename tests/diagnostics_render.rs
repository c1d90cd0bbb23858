//! The human rendering of `flow::unhandled-error` (§1.3, §8.4 rule 1): run
//! `flow check FILE` (no `--format`) on a case whose error comes from a local
//! set by a failing call, and check that stderr contains
//!
//! 1. the code `flow::unhandled-error`,
//! 2. the `file:line:col` text of the offending expression,
//! 3. a secondary label at the call that produces the error (besides the
//!    primary label on the expression),
//! 4. a `help:` line.
//!
//! The assertions look at label *texts* and the source lines they sit under,
//! not at the box-drawing characters, so a theme change does not break them.

use std::process::{Command, Output};

/// The case: `int|error r = parse("x");` on line 11, `int n = r;` on line 12
/// with `r` at column 13.
const CASE: &str = "tests/cases/check/unhandled_error_local_origin.flow";

fn flow_check(file: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["check", file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the flow binary runs")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The index of the first line at or after `from` that contains `needle`.
fn line_index(lines: &[&str], from: usize, needle: &str) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i)
}

#[test]
fn unhandled_error_human_rendering() {
    let out = flow_check(CASE);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "human diagnostics go to stderr, stdout must be empty; got:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // 1. The code.
    assert!(
        stderr.contains("flow::unhandled-error"),
        "missing the code `flow::unhandled-error` in:\n{stderr}"
    );

    // 2. file:line:col of the offending expression (`r` in `int n = r;`).
    let position = format!("{CASE}:12:13");
    assert!(
        stderr.contains(&position),
        "missing `{position}` in:\n{stderr}"
    );

    // 3. A secondary label at the call that produced the error: the source
    //    line with `parse("x")` is shown and is followed (before the next
    //    source line) by a label saying the value was set from this call;
    //    the primary label on `r` is a different one.
    let lines: Vec<&str> = stderr.lines().collect();
    let call_line = line_index(&lines, 0, "int|error r = parse(\"x\");")
        .unwrap_or_else(|| panic!("the line with the failing call is not shown in:\n{stderr}"));
    let use_line = line_index(&lines, call_line + 1, "int n = r;")
        .unwrap_or_else(|| panic!("the line with the use is not shown in:\n{stderr}"));
    let secondary = line_index(&lines, call_line + 1, "set from this call")
        .unwrap_or_else(|| panic!("no secondary label at the call in:\n{stderr}"));
    assert!(
        secondary < use_line,
        "the secondary label should sit under the call's line (line {call_line}), \
         before the use's line (line {use_line}):\n{stderr}"
    );
    assert!(
        lines[secondary].contains("can fail with `error`"),
        "the secondary label should say which error the call can produce:\n{stderr}"
    );
    let primary = line_index(&lines, use_line + 1, "this can be an error")
        .unwrap_or_else(|| panic!("no primary label under the use in:\n{stderr}"));
    assert_ne!(primary, secondary);

    // 4. A help line suggesting how to handle the error.
    let help = lines
        .iter()
        .find(|l| l.trim_start().starts_with("help:"))
        .unwrap_or_else(|| panic!("no `help:` line in:\n{stderr}"));
    assert!(
        help.contains("check"),
        "the help should suggest `check` (and `checkpanic` / `is error`): {help}"
    );
}

/// §8.4 rule 1 says the secondary label *names* the function that produces
/// the error: "`r` is set from this call of `parse`, which can fail with
/// `error`".
#[test]
fn unhandled_error_secondary_label_names_the_function() {
    let out = flow_check(CASE);
    let stderr = stderr_of(&out);
    let label = stderr
        .lines()
        .find(|l| l.contains("set from this call"))
        .unwrap_or_else(|| panic!("no secondary label in:\n{stderr}"));
    assert!(
        label.contains("parse"),
        "the secondary label should name `parse`: {label}"
    );
}
