//! Unit tests of the checker: small programs, their diagnostics (code and
//! line:col) and the shape of the lowered TIR.

use super::tir::{self, ExprKind, StmtKind};
use super::{check_program, check_source, CheckResult};
use crate::syntax::span::SourceMap;
use std::path::{Path, PathBuf};

fn check(text: &str) -> (CheckResult, SourceMap) {
    let mut sm = SourceMap::new();
    let r = check_source("test.flow", text, Path::new("."), &mut sm);
    (r, sm)
}

/// `LINE:COL CODE` of every diagnostic.
fn diags(text: &str) -> Vec<String> {
    let (r, sm) = check(text);
    r.diagnostics
        .iter()
        .map(|d| {
            let (l, c) = sm.get(d.span.file).line_col(d.span.start);
            format!("{l}:{c} {}", d.code.as_str())
        })
        .collect()
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the checker over `tests/cases/check/*.flow` and compares with the
/// `.diag` files (the golden test does this through the binary).
#[test]
fn check_cases_match_diag_files() {
    let dir = manifest().join("tests/cases/check");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut failures = Vec::new();
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.extension().and_then(|e| e.to_str()) != Some("flow") {
            continue;
        }
        let want_text = std::fs::read_to_string(p.with_extension("diag")).unwrap_or_default();
        let mut want: Vec<String> = want_text
            .lines()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        let mut sm = SourceMap::new();
        let r = check_program(&p, &mut sm);
        let mut got: Vec<String> = r
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = sm.get(d.span.file).line_col(d.span.start);
                format!("{l}:{c} {}", d.code.as_str())
            })
            .collect();
        want.sort();
        got.sort();
        if want != got {
            let msgs: Vec<String> = r
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", sm.location(d.span), d))
                .collect();
            failures.push(format!(
                "{}: want {want:?} got {got:?}\n    {}",
                p.display(),
                msgs.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every program of `tests/cases/run`, `tests/cases/test` and `examples`
/// checks without errors (except the one meant to fail).
#[test]
fn run_cases_check_cleanly() {
    let mut failures = Vec::new();
    for sub in ["tests/cases/run", "tests/cases/test", "examples"] {
        let Ok(rd) = std::fs::read_dir(manifest().join(sub)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().and_then(|e| e.to_str()) != Some("flow")
                || p.ends_with("compile_error_exit.flow")
            {
                continue;
            }
            let mut sm = SourceMap::new();
            let r = check_program(&p, &mut sm);
            if !r.diagnostics.is_empty() || r.program.is_none() {
                let msgs: Vec<String> = r
                    .diagnostics
                    .iter()
                    .map(|d| format!("{} {}", sm.location(d.span), d))
                    .collect();
                failures.push(format!("{}:\n    {}", p.display(), msgs.join("\n    ")));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn hello_world_lowers_to_a_native_call() {
    let (r, _) = check("import io;\npublic function main() { io:println(\"Hello\"); }\n");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let p = r.program.expect("program");
    let main = &p.functions[p.main.expect("main").0 as usize];
    assert_eq!(&*main.name, "main");
    let StmtKind::Expr(e) = &main.body.stmts[0].kind else {
        panic!(
            "expected an expression statement, got {:?}",
            main.body.stmts[0].kind
        )
    };
    let ExprKind::Call(tir::Callee::Func(f), args) = &e.kind else {
        panic!("expected a call, got {:?}", e.kind)
    };
    let callee = &p.functions[f.0 as usize];
    assert_eq!(&*callee.name, "io:println");
    assert!(callee.native.is_some());
    let Some(Some(tir::Expr {
        kind: ExprKind::Array(items),
        ..
    })) = args.first()
    else {
        panic!("rest argument not packed: {args:?}")
    };
    assert_eq!(items.len(), 1);
    assert_eq!(
        p.natives[callee.native.map(|n| n.0 as usize).unwrap_or(0)]
            .name
            .as_ref(),
        "io:println"
    );
}

#[test]
fn _unused_helper() {
    let _ = diags;
}

/// Debug aid: `FLOW_CHECK_FILE=x.flow cargo test --lib check::tests::dump -- --nocapture`.
#[test]
fn dump() {
    let Ok(path) = std::env::var("FLOW_CHECK_FILE") else {
        return;
    };
    let mut sm = SourceMap::new();
    let r = check_program(Path::new(&path), &mut sm);
    for d in &r.diagnostics {
        println!(
            "{} {} {}",
            sm.location(d.span),
            d,
            d.help.clone().unwrap_or_default()
        );
    }
    if let Some(p) = &r.program {
        if std::env::var("FLOW_CHECK_TIR").is_ok() {
            for (i, f) in p.functions.iter().enumerate() {
                if f.native.is_none() {
                    println!("fn#{i} {:#?}", f);
                }
            }
        }
    }
}

/// Debug aid: renders diagnostics of `FLOW_CHECK_RENDER=x.flow`.
#[test]
fn render() {
    let Ok(path) = std::env::var("FLOW_CHECK_RENDER") else {
        return;
    };
    let mut sm = SourceMap::new();
    let r = check_program(Path::new(&path), &mut sm);
    for d in &r.diagnostics {
        println!("{}", d.render(&sm, false));
    }
}
