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

/// Debug aid: times checking `FLOW_CHECK_TIME=x.flow`.
#[test]
fn time_check() {
    let Ok(path) = std::env::var("FLOW_CHECK_TIME") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let t = std::time::Instant::now();
    let _ = crate::syntax::parse_module(&text, crate::syntax::FileId(0));
    println!("parse only: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let mut sm = SourceMap::new();
    let r = check_program(Path::new(&path), &mut sm);
    println!(
        "{} diagnostics, program: {}, {:?}",
        r.diagnostics.len(),
        r.program.is_some(),
        t.elapsed()
    );
}

// ---------------------------------------------------------------- helpers

/// A compact text form of TIR for shape assertions.
fn ex(e: &tir::Expr) -> String {
    use tir::Literal as L;
    let list = |xs: &[tir::Expr]| xs.iter().map(ex).collect::<Vec<_>>().join(" ");
    match &e.kind {
        ExprKind::Lit(l) => match l {
            L::Nil => "()".into(),
            L::Bool(b) => b.to_string(),
            L::Int(i) => i.to_string(),
            L::Float(f) => format!("{f:?}"),
            L::Str(s) => format!("{s:?}"),
            L::Duration(d) => format!("{d}ns"),
        },
        ExprKind::Local(l) => format!("l{}", l.0),
        ExprKind::Upvalue(u) => format!("up{u}"),
        ExprKind::Global(g) => format!("g{}", g.0),
        ExprKind::FuncRef(f) => format!("fn{}", f.0),
        ExprKind::Template(xs) => format!("(tpl {})", list(xs)),
        ExprKind::Array(xs) => format!("[{}]", list(xs)),
        ExprKind::Map(kv) => format!(
            "{{{}}}",
            kv.iter()
                .map(|(k, v)| format!("{k}: {}", ex(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::Record(r, xs) => format!("(rec{} {})", r.0, list(xs)),
        ExprKind::ErrorNew {
            error,
            message,
            cause,
            detail,
        } => format!(
            "(error{} {}{}{})",
            error.0,
            ex(message),
            cause
                .as_ref()
                .map(|c| format!(" cause={}", ex(c)))
                .unwrap_or_default(),
            detail
                .iter()
                .map(|(k, v)| format!(" {k}={}", ex(v)))
                .collect::<String>()
        ),
        ExprKind::Unary(op, x) => format!("({op:?} {})", ex(x)),
        ExprKind::Binary(op, a, b) => format!("({op:?} {} {})", ex(a), ex(b)),
        ExprKind::And(a, b) => format!("(&& {} {})", ex(a), ex(b)),
        ExprKind::Or(a, b) => format!("(|| {} {})", ex(a), ex(b)),
        ExprKind::Cond(c, a, b) => format!("(? {} {} {})", ex(c), ex(a), ex(b)),
        ExprKind::Elvis(a, b) => format!("(?: {} {})", ex(a), ex(b)),
        ExprKind::Is(x, t) => format!("(is {} t{})", ex(x), t.0),
        ExprKind::Cast(k, x) => format!("(cast {k:?} {})", ex(x)),
        ExprKind::Check(x) => format!("(check {})", ex(x)),
        ExprKind::CheckPanic(x) => format!("(checkpanic {})", ex(x)),
        ExprKind::Trap(x) => format!("(trap {})", ex(x)),
        ExprKind::Call(c, args) => {
            let callee = match c {
                tir::Callee::Func(f) => format!("fn{}", f.0),
                tir::Callee::Value(v) => ex(v),
            };
            let a: Vec<String> = args
                .iter()
                .map(|a| a.as_ref().map(ex).unwrap_or_else(|| "_".into()))
                .collect();
            format!("(call {callee} {})", a.join(" "))
        }
        ExprKind::Method(m, xs) => format!("({m:?} {})", list(xs)),
        ExprKind::Field(x, f) => format!("(. {} {})", ex(x), f.name),
        ExprKind::MapGet(m, k) => format!("(mapget {} {})", ex(m), ex(k)),
        ExprKind::JsonGet(m, k) => format!("(jsonget {} {})", ex(m), ex(k)),
        ExprKind::ArrayIndex(a, i) => format!("(idx {} {})", ex(a), ex(i)),
        ExprKind::OptionalChain {
            target,
            local,
            access,
        } => {
            format!("(?. {} l{} {})", ex(target), local.0, ex(access))
        }
        ExprKind::Range(a, b, inc) => format!("(range {} {} {inc})", ex(a), ex(b)),
        ExprKind::Lambda(f) => format!("(lambda fn{})", f.0),
        ExprKind::TypeDesc(t) => format!("(type t{})", t.0),
    }
}

fn place(p: &tir::Place) -> String {
    match p {
        tir::Place::Local(l) => format!("l{}", l.0),
        tir::Place::Global(g) => format!("g{}", g.0),
        tir::Place::Upvalue(u) => format!("up{u}"),
        tir::Place::ArrayIndex(a, i) => format!("(idx {} {})", ex(a), ex(i)),
        tir::Place::MapKey(m, k) => format!("(key {} {})", ex(m), ex(k)),
        tir::Place::Field(r, f) => format!("(. {} {})", ex(r), f.name),
    }
}

fn blk(b: &tir::Block) -> String {
    b.stmts.iter().map(st).collect::<Vec<_>>().join(" ")
}

fn st(s: &tir::Stmt) -> String {
    match &s.kind {
        StmtKind::Let { local, init } => format!("(let l{} {})", local.0, ex(init)),
        StmtKind::Assign { place: p, value } => format!("(set {} {})", place(p), ex(value)),
        StmtKind::Expr(e) => ex(e),
        StmtKind::If {
            cond,
            then,
            otherwise,
        } => {
            format!("(if {} {{{}}} {{{}}})", ex(cond), blk(then), blk(otherwise))
        }
        StmtKind::While { cond, body } => format!("(while {} {{{}}})", ex(cond), blk(body)),
        StmtKind::ForRange {
            local,
            lo,
            hi,
            inclusive,
            body,
        } => {
            format!(
                "(for l{} {} {} {inclusive} {{{}}})",
                local.0,
                ex(lo),
                ex(hi),
                blk(body)
            )
        }
        StmtKind::ForEach {
            local,
            iter,
            kind,
            body,
        } => {
            format!(
                "(foreach l{} {kind:?} {} {{{}}})",
                local.0,
                ex(iter),
                blk(body)
            )
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(e) => format!("(return {})", ex(e)),
        StmtKind::Fail(e) => format!("(fail {})", ex(e)),
        StmtKind::Panic(e) => format!("(panic {})", ex(e)),
        StmtKind::Do { body, handler } => match handler {
            Some((l, h)) => format!("(do {{{}}} l{} {{{}}})", blk(body), l.0, blk(h)),
            None => format!("(do {{{}}})", blk(body)),
        },
        StmtKind::Block(b) => format!("{{{}}}", blk(b)),
    }
}

/// Checks a program that must have no diagnostics and returns it.
fn program(text: &str) -> tir::Program {
    let (r, sm) = check(text);
    let msgs: Vec<String> = r
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", sm.location(d.span), d))
        .collect();
    assert!(
        msgs.is_empty(),
        "unexpected diagnostics:\n{}",
        msgs.join("\n")
    );
    r.program.expect("a program")
}

/// The body of the function named `name`, in compact form.
fn body_of(p: &tir::Program, name: &str) -> String {
    let f = p
        .functions
        .iter()
        .find(|f| &*f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"));
    blk(&f.body)
}

/// Asserts the exact set of `LINE:COL CODE` diagnostics.
#[track_caller]
fn expect(text: &str, want: &[&str]) {
    let mut got = diags(text);
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    got.sort();
    want.sort();
    if got != want {
        let (r, sm) = check(text);
        let msgs: Vec<String> = r
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", sm.location(d.span), d))
            .collect();
        panic!("want {want:?}\ngot  {got:?}\n{}", msgs.join("\n"));
    }
}
