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

/// The syntax cases: the checker adds nothing to the parser's diagnostics.
#[test]
fn syntax_cases_match_diag_files() {
    let dir = manifest().join("tests/cases/syntax");
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
        let mut sm = SourceMap::new();
        let r = check_program(&p, &mut sm);
        let extra: Vec<String> = r
            .diagnostics
            .iter()
            .filter(|d| d.code.as_str() != "flow::syntax")
            .map(|d| format!("{} {}", sm.location(d.span), d))
            .collect();
        if !extra.is_empty() {
            failures.push(format!("{}:\n    {}", p.display(), extra.join("\n    ")));
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
            // Cases expected to exit 2 are meant not to compile.
            let meant_to_fail = std::fs::read_to_string(p.with_extension("exit"))
                .is_ok_and(|code| code.trim() == "2");
            if p.extension().and_then(|e| e.to_str()) != Some("flow") || meant_to_fail {
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

// ---------------------------------------------------------------- lowering

#[test]
fn match_lowers_to_an_if_chain_over_a_hidden_local() {
    let p = program(
        "function k(int code) returns string {
    string s = \"\";
    match code {
        0 => { s = \"zero\"; }
        1 | 2 => { s = \"small\"; }
        var n if n < 0 => { s = \"neg\"; }
        _ => { s = \"other\"; }
    }
    return s;
}
",
    );
    assert_eq!(
        body_of(&p, "k"),
        "(let l1 \"\") {(let l2 l0) (if (Eq l2 0) {(set l1 \"zero\")} {(if (|| (Eq l2 1) (Eq l2 2)) {(set l1 \"small\")} \
         {{(let l3 l2) (if (LtInt l3 0) {(set l1 \"neg\")} {(set l1 \"other\")})}})})} (return l1)"
    );
}

#[test]
fn compound_assignment_evaluates_places_once() {
    let p = program(
        "function idx() returns int { return 0; }
function f(int[] xs, map<int> m) {
    int x = 1;
    x += 2;
    xs[idx()] *= 3;
    xs[0] -= 1;
    m[\"k\"] = x;
}
",
    );
    assert_eq!(
        body_of(&p, "f"),
        "(let l2 1) (set l2 (AddInt l2 2)) {(let l3 (call fn0 )) (set (idx l0 l3) (MulInt (idx l0 l3) 3))} \
         (set (idx l0 0) (SubInt (idx l0 0) 1)) (set (key l1 \"k\") l2)"
    );
}

#[test]
fn compound_assignment_on_a_field_of_a_call_result_uses_a_temporary() {
    let p = program(
        "type Line record { int qty; };
final Line[] LINES = [{ qty: 1 }];
function first() returns Line { return LINES[0]; }
function f() {
    first().qty += 1;
}
",
    );
    assert_eq!(
        body_of(&p, "f"),
        "{(let l0 (call fn0 )) (set (. l0 qty) (AddInt (. l0 qty) 1))}"
    );
}

#[test]
fn record_literals_fill_defaults_and_optional_fields_in_declaration_order() {
    let p = program(
        "type Order record { int id; string item; int qty = 1; string? note; boolean rush = false; };
function f() returns Order {
    return { item: \"pen\", id: 7 };
}
",
    );
    assert_eq!(body_of(&p, "f"), "(return (rec0 7 \"pen\" 1 () false))");
}

#[test]
fn named_arguments_are_reordered_and_defaults_left_to_the_callee() {
    let p = program(
        "function total(int[] cents, int tax = 20, int ship = 0) returns int { return tax + ship; }
function sum(int... xs) returns int { return xs.length(); }
function f() returns int {
    return total([1], ship = 5) + sum() + sum(1, 2);
}
",
    );
    assert_eq!(
        body_of(&p, "f"),
        "(return (AddInt (AddInt (call fn0 [1] _ 5) (call fn1 [])) (call fn1 [1 2])))"
    );
}

#[test]
fn closures_capture_through_nested_lambdas() {
    let p = program(
        "function counter() returns function() returns int {
    int count = 0;
    return function() returns int {
        var inner = function() returns int { count += 1; return count; };
        return inner();
    };
}
",
    );
    let outer = p
        .functions
        .iter()
        .find(|f| &*f.name == "counter")
        .expect("counter");
    assert!(outer.locals[0].captured);
    let lambdas: Vec<&tir::Function> = p
        .functions
        .iter()
        .filter(|f| &*f.name == "<lambda>")
        .collect();
    assert_eq!(lambdas.len(), 2);
    // The innermost lambda is finished first.
    let inner = lambdas[0];
    let middle = lambdas[1];
    assert_eq!(middle.captures, vec![tir::Capture::Local(tir::LocalId(0))]);
    assert_eq!(inner.captures, vec![tir::Capture::Upvalue(0)]);
    assert_eq!(blk(&inner.body), "(set up0 (AddInt up0 1)) (return up0)");
}

#[test]
fn module_initialisers_run_in_dependency_order() {
    let dir = std::env::temp_dir().join(format!("flow-check-init-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let write = |n: &str, t: &str| std::fs::write(dir.join(n), t).expect("write");
    write("a.flow", "public final int A = 1;\n");
    write(
        "b.flow",
        "import \"./a.flow\" as a;\npublic final int B = a:A + 1;\n",
    );
    write(
        "main.flow",
        "import \"./b.flow\" as b;\nimport \"./a.flow\" as a;\nfinal int M = b:B + a:A;\n",
    );
    let mut sm = SourceMap::new();
    let r = check_program(&dir.join("main.flow"), &mut sm);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let p = r.program.expect("program");
    let init = &p.functions[p.init.0 as usize];
    assert_eq!(
        blk(&init.body),
        "(set g0 1) (set g1 (AddInt g0 1)) (set g2 (AddInt g1 g0))"
    );
    let names: Vec<&str> = p.globals.iter().map(|g| &*g.name).collect();
    assert_eq!(names, ["a:A", "b:B", "M"]);
}

#[test]
fn optional_chain_uses_a_hidden_local() {
    let p = program(
        "type A record { string city; };
type C record { A? address; };
function f(C c) returns string? {
    return c.address?.city;
}
",
    );
    assert_eq!(
        body_of(&p, "f"),
        "(return (?. (. l0 address) l1 (. l1 city)))"
    );
}

#[test]
fn error_constructors_and_distinct_errors() {
    let p = program(
        "type NotFound distinct error;
function f(error c) returns error {
    error _e = error(\"x\", cause = c, code = 7);
    return NotFound(\"gone\", id = 1);
}
",
    );
    assert_eq!(
        body_of(&p, "f"),
        "(let l1 (error0 \"x\" cause=l0 code=7)) (return (error1 \"gone\" id=1))"
    );
}

#[test]
fn do_on_fail_binds_the_union_of_reaching_errors() {
    let p = program(
        "type A distinct error;
type B distinct error;
function fa() returns int|A { return 1; }
function fb() returns int|B { return 2; }
function f() returns string {
    do {
        int x = check fa();
        int y = check fb();
        return (x + y).toString();
    } on fail var e {
        return e.message();
    }
}
",
    );
    let f = p.functions.iter().find(|f| &*f.name == "f").expect("f");
    let StmtKind::Do {
        handler: Some((l, _)),
        ..
    } = &f.body.stmts[0].kind
    else {
        panic!("expected do")
    };
    assert_eq!(p.types.display(f.locals[l.0 as usize].ty), "A|B");
}

#[test]
fn numeric_functions_take_the_argument_type() {
    let p = program(
        "import math;
function f() returns float { return math:max(1.5, 2.0) + <float>math:abs(-3); }
",
    );
    assert!(body_of(&p, "f").starts_with("(return (AddFloat (call"));
}

#[test]
fn methods_map_to_tir_methods() {
    let p = program(
        "function f(int[] xs, string s, map<int> m) returns string {
    string[] a = xs.map(x => x.toString());
    int _t = xs.reduce((acc, x) => acc + x, 0);
    int? _i = s.indexOf(\"a\");
    string sub = s.substring(1);
    int? _v = m.get(\"k\");
    return a.join(\",\") + sub;
}
",
    );
    let b = body_of(&p, "f");
    assert!(b.contains("(ArrMap l0 (lambda"), "{b}");
    assert!(b.contains("(ArrReduce l0 (lambda fn"), "{b}");
    assert!(b.contains("(StrIndexOf l1 \"a\")"), "{b}");
    assert!(b.contains("(StrSubstring l1 1 ())"), "{b}");
    assert!(b.contains("(MapGet l2 \"k\")"), "{b}");
    assert!(b.contains("(ArrJoin l3 \",\")"), "{b}");
}

#[test]
fn lang_functions_and_casts() {
    let p = program(
        "function f(string s, any a, int|string u) returns float|error {
    int i = check int:fromString(s);
    int j = <int>a;
    int k = <int>u;
    return <float>(i + j + k);
}
",
    );
    let b = body_of(&p, "f");
    assert!(b.contains("(check (IntFromString l0))"), "{b}");
    assert!(b.contains("(cast Downcast("), "{b}");
    assert!(b.contains("(cast IntToFloat"), "{b}");
}

#[test]
fn foreach_over_ranges_maps_and_strings() {
    let p = program(
        "function f(map<int> m) returns int {
    int t = 0;
    foreach int i in 0 ..< 3 { t += i; }
    foreach var v in m { t += v; }
    foreach var c in \"ab\" { t += c.length(); }
    return t;
}
",
    );
    let b = body_of(&p, "f");
    assert!(b.contains("(for l2 0 3 false"), "{b}");
    assert!(b.contains("(foreach l3 MapValues l0"), "{b}");
    assert!(b.contains("(foreach l4 String \"ab\""), "{b}");
}

#[test]
fn tests_become_functions_returning_optional_error() {
    let p = program(
        "import test;
function parse(string s) returns int|error { return int:fromString(s); }
test \"parses\" {
    int n = check parse(\"1\");
    test:assertEquals(n, 1);
}
",
    );
    assert_eq!(p.tests.len(), 1);
    assert_eq!(p.tests[0].0, "parses");
    let f = &p.functions[p.tests[0].1 .0 as usize];
    assert_eq!(&*f.name, "<test parses>");
    assert_eq!(p.types.display(f.ret), "error?");
}

// ---------------------------------------------------------------- diagnostics

#[test]
fn unhandled_error_in_every_use() {
    expect(
        "import io;
function p() returns int|error { return 1; }
function f() returns int {
    if p() == 1 { }
    int[]|error xs = [1];
    foreach var x in xs { io:println(x); }
    boolean|error b = true;
    if b { }
    string s = `${p()}`;
    io:println(p().toString(), p().abs());
    return p();
}
",
        &[
            "6:22 flow::unhandled-error",
            "8:8 flow::unhandled-error",
            "9:19 flow::unhandled-error",
            "10:32 flow::unhandled-error",
            "11:12 flow::unhandled-error",
            "9:12 flow::unused-variable",
        ],
    );
}

/// `LINE:COL text` of the primary label (`P`) and the secondary labels
/// (`S`) of every `unhandled-error`.
fn unhandled_labels(text: &str) -> Vec<String> {
    let (r, sm) = check(text);
    let at = |span: crate::syntax::span::Span| {
        let (l, c) = sm.get(span.file).line_col(span.start);
        format!("{l}:{c}")
    };
    let mut out = Vec::new();
    for d in &r.diagnostics {
        if d.code.as_str() != "flow::unhandled-error" {
            continue;
        }
        let primary = d.primary_label.clone().unwrap_or_default();
        out.push(format!("P {} {primary}", at(d.span)));
        for l in &d.labels {
            out.push(format!("S {} {}", at(l.span), l.text));
        }
    }
    out
}

#[test]
fn unhandled_error_labels_name_the_call_that_produces_the_error() {
    let got = unhandled_labels(
        "import io;
type Bad distinct error;
function parse(string s) returns int|Bad { return 1; }
public function main() {
    var r = parse(\"x\");
    int n = r;
    string s = \"{}\";
    var j = s.fromJsonString();
    any a = j;
    int m = parse(\"y\");
    var g = function(string t) returns int|error { return 1; };
    var q = g(\"z\");
    int k = q;
    int w = int:fromString(\"1\");
    var f = function() { any z = j; io:println(z); };
    f();
    int|error v = 1;
    int u = v;
    io:println(n, a, m, k, w, u);
}
",
    );
    assert_eq!(
        got,
        [
            "P 6:13 this can be an error (`int|Bad`)",
            "S 5:13 `r` is set from this call of `parse`, which can fail with `Bad`",
            "P 9:13 this can be an error (`json|error`)",
            "S 8:13 `j` is set from this call of `fromJsonString`, which can fail with `error`",
            "P 10:13 this call of `parse` can fail with `Bad`",
            "P 13:13 this can be an error (`int|error`)",
            "S 12:13 `q` is set from this call of `g`, which can fail with `error`",
            "P 14:13 this call of `int:fromString` can fail with `error`",
            "P 15:34 this can be an error (`json|error`)",
            "S 8:13 `j` is set from this call of `fromJsonString`, which can fail with `error`",
            "P 18:13 this can be an error (`int|error`)",
        ]
    );
}

#[test]
fn error_values_may_flow_into_error_typed_places() {
    expect(
        "import io;
function p() returns int|error { return 1; }
function q(int|error v) returns error? {
    int|error a = p();
    io:println(a, p());
    q(p()) is error ? io:println(\"x\") : ();
    return error(\"x\");
}
",
        &[],
    );
}

#[test]
fn check_without_handler_and_handlers() {
    expect(
        "function p() returns int|error { return 1; }
function a() returns int {
    do {
        int x = check p();
        return x;
    } on fail var e {
        return e.message().length();
    }
}
function b() {
    function() returns int f = function() returns int { return check p(); };
    var g = function() returns int|error { return check p(); };
    int n = f();
    _ = g;
    _ = n;
}
function c() {
    fail error(\"x\");
}
",
        &[
            "11:64 flow::check-without-handler",
            "18:5 flow::check-without-handler",
        ],
    );
}

#[test]
fn check_inside_a_handler_goes_to_the_enclosing_one() {
    expect(
        "function p() returns int|error { return 1; }
function a() returns int {
    do {
        return check p();
    } on fail var e {
        int x = check p();
        return x;
    }
}
",
        &["6:17 flow::check-without-handler"],
    );
}

#[test]
fn error_type_mismatch_for_functions_and_typed_handlers() {
    expect(
        "type A distinct error;
type B distinct A;
function fa() returns int|A { return 1; }
function fb() returns int|B { return 1; }
function plain() returns int|error { return 1; }
function f() returns int|A {
    int x = check fb();
    int y = check plain();
    return x + y;
}
function g() {
    do {
        _ = check fa();
        _ = check fb();
        fail error(\"x\");
    } on fail B e {
        string _m = e.message();
    }
}
",
        &[
            "8:13 flow::error-type-mismatch",
            "13:13 flow::error-type-mismatch",
            "15:9 flow::error-type-mismatch",
        ],
    );
}

#[test]
fn unreachable_check_is_a_warning() {
    let (r, _) = check("function f() returns int|error { return check 1; }\n");
    assert_eq!(r.diagnostics.len(), 1);
    assert!(!r.diagnostics[0].is_error());
    assert!(r.program.is_some());
}

#[test]
fn discarding_values() {
    expect(
        "function n() returns int { return 1; }
function e() returns error? { return; }
function f() {
    n();
    _ = n();
    e();
    _ = e();
    checkpanic e();
}
",
        &[
            "4:5 flow::type-mismatch",
            "6:5 flow::unhandled-error",
            "7:9 flow::unhandled-error",
        ],
    );
}

#[test]
fn narrowing_with_is_nil_tests_and_early_exits() {
    expect(
        "import io;
function find(int id) returns string|error { return \"x\"; }
public function main() {
    string|error r = find(1);
    if r is error {
        return;
    }
    io:println(r.length());
    int? m = 5;
    if m != () { io:println(m + 1); }
    if m == () { } else { io:println(m + 1); }
    if !(m == ()) { io:println(m + 1); }
    int|string v = 1;
    if v is string && v.length() == 1 { }
    if v is int || v.length() == 2 { }
    foreach int id in [1, 2] {
        string|error x = find(id);
        if x is error { continue; }
        io:println(x.length());
    }
    int? k = 1;
    if k == () { panic error(\"nil\"); }
    io:println(k + 1);
}
",
        &[],
    );
}

#[test]
fn assignment_and_loops_end_narrowing() {
    expect(
        "import io;
public function main() {
    int? m = 5;
    if m != () {
        m = ();
        io:println(m + 1);
    }
    int? k = 5;
    if k == () { return; }
    while true {
        io:println(k + 1);
        k = ();
    }
}
",
        &["6:20 flow::type-mismatch", "11:20 flow::type-mismatch"],
    );
}

#[test]
fn narrowing_never_applies_to_variables_assigned_in_lambdas() {
    expect(
        "import io;
public function main() {
    int? m = 5;
    var reset = function() { m = (); };
    if m != () {
        reset();
        io:println(m + 1);
    }
    int? s = 1;
    if s != () {
        var f = function() returns int { return s + 1; };
        io:println(f());
    }
    int? t = 1;
    if t != () {
        var g = function() returns int { return t + 1; };
        io:println(g());
    }
    t = 2;
}
",
        &["7:20 flow::type-mismatch", "16:49 flow::type-mismatch"],
    );
}

#[test]
fn match_narrows_and_binds() {
    expect(
        "import io;
public function main() {
    int? maybe = ();
    match maybe {
        () => { io:println(\"nil\"); }
        var v => { io:println(v + 1); }
    }
    match maybe {
        1 => { io:println(maybe + 1); }
        _ => { }
    }
    match \"x\" {
        1 => { }
        _ => { }
    }
}
",
        &["13:9 flow::type-mismatch"],
    );
}

#[test]
fn match_narrows_the_subject_after_the_match() {
    expect(
        "function leave_nil(int? m) returns int {
    match m {
        () => { return 0; }
        _ => { }
    }
    return m + 1;
}
function no_catch_all(int? m) returns int {
    match m {
        () => { return 0; }
    }
    return m + 1;
}
function binding(int? m) returns int {
    match m {
        () => { return 0; }
        var n => { m = n; }
    }
    return m + 1;
}
function guarded(int? m, boolean flag) returns int {
    match m {
        () if flag => { return 0; }
        _ => { }
    }
    return m + 1;
}
function value_arm_leaves(int|string v) returns int {
    match v {
        1 => { return 0; }
        _ => { }
    }
    return v + 1;
}
function value_arms_fall_through(int|string|() v) returns int {
    match v {
        1 | 2 => { }
        _ => { return 0; }
    }
    return v + 1;
}
function union_of_arms(int|string|() v) returns int {
    match v {
        () => { return 0; }
        1 => { }
        _ => { }
    }
    return v + 1;
}
function only_nil_falls_through(int? m) returns int {
    match m {
        () => { }
        _ => { return 1; }
    }
    return m + 1;
}
function in_a_loop(int?[] ms) returns int {
    int total = 0;
    foreach var m in ms {
        match m {
            () => { continue; }
            _ => { }
        }
        total += m;
    }
    return total;
}
function upvalue(int? m) returns int {
    var g = function() returns int {
        match m {
            () => { return 0; }
            _ => { }
        }
        return m + 1;
    };
    return g();
}
",
        &[
            // `m = n` ends the narrowing (DECISIONS "Checking").
            "19:12 flow::type-mismatch",
            "26:12 flow::type-mismatch",
            "33:12 flow::type-mismatch",
            "48:12 flow::type-mismatch",
            "55:12 flow::type-mismatch",
        ],
    );
}

#[test]
fn match_joins_the_narrowing_of_the_arms_that_fall_through() {
    expect(
        "function both(int x, int? k) returns int {
    match x {
        1 => { if k == () { return 0; } }
        _ => { if k == () { return 1; } }
    }
    return k + 1;
}
function one(int x, int? k) returns int {
    match x {
        1 => { if k == () { return 0; } }
        _ => { }
    }
    return k + 1;
}
function assigned_in_a_leaving_arm(int? m, int? k) returns int {
    if k == () { return 0; }
    match m {
        () => { k = (); return 0; }
        _ => { }
    }
    return k + m;
}
function assigned_in_a_falling_arm(int x, int? k) returns int {
    if k == () { return 0; }
    match x {
        1 => { k = (); }
        _ => { }
    }
    return k + 1;
}
",
        &["13:12 flow::type-mismatch", "29:12 flow::type-mismatch"],
    );
}

#[test]
fn names_and_scopes() {
    expect(
        "import io;
function f(int a, int a) returns int { return a; }
public function main() {
    int x = 1;
    if true { int x = 2; io:println(x); }
    int x = 3;
    io:println(x, y, nope());
    _ = Unknown;
}
",
        &[
            "2:23 flow::duplicate-definition",
            "4:9 flow::unused-variable",
            "6:9 flow::duplicate-definition",
            "7:19 flow::unknown-name",
            "7:22 flow::unknown-name",
            "8:9 flow::unknown-name",
        ],
    );
}

#[test]
fn unknown_module_names_the_missing_import() {
    let (r, _) = check("public function main() { io:println(1); }\n");
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code.as_str(), "flow::unknown-module");
    assert_eq!(
        r.diagnostics[0].help.as_deref(),
        Some("add `import io;` at the top of the file")
    );
    let (r, _) = check("import tx;\n");
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
}

#[test]
fn arity_errors_point_at_the_callee() {
    expect(
        "function add(int a, int b = 1) returns int { return a + b; }
function f() returns int {
    int x = add();
    int y = add(1, 2, 3);
    int z = add(1, c = 2);
    return x + y + z + \"s\".length(1);
}
",
        &[
            "3:13 flow::arity",
            "4:13 flow::arity",
            "5:13 flow::arity",
            "6:28 flow::arity",
        ],
    );
}

#[test]
fn record_literals_check_fields() {
    expect(
        "type Order record { int id; string item; int qty = 1; };
function f() returns Order[] {
    Order a = { id: 1 };
    Order b = { id: 1, item: \"x\", colour: \"red\" };
    Order c = { id: \"1\", item: \"x\" };
    return [a, b, c];
}
",
        &[
            "3:15 flow::type-mismatch",
            "4:35 flow::unknown-field",
            "5:21 flow::type-mismatch",
        ],
    );
}

#[test]
fn types_are_not_converted_implicitly() {
    expect(
        "function f(int i, float x, json j, any a, error e) returns float {
    float y = i;
    int k = x;
    boolean b = 1 == 1.0;
    json ok = { a: [1, 2.5, \"s\", ()] };
    any bad = e;
    map<json> m = j;
    return y + <float>k;
}
",
        &[
            "2:15 flow::type-mismatch",
            "3:13 flow::type-mismatch",
            "4:17 flow::type-mismatch",
            "6:15 flow::unhandled-error",
            "7:19 flow::type-mismatch",
            "4:13 flow::unused-variable",
            "5:10 flow::unused-variable",
            "6:9 flow::unused-variable",
            "7:15 flow::unused-variable",
        ],
    );
}

#[test]
fn missing_return_and_divergence() {
    expect(
        "function a(int x) returns int { if x > 0 { return 1; } else { return 2; } }
function b(int x) returns int { while true { if x > 0 { return 1; } } }
function c(int x) returns int { while true { if x > 0 { break; } } }
function d(int x) returns int { match x { 1 => { return 1; } _ => { return 2; } } }
function e(int x) returns int { match x { 1 => { return 1; } } }
function f() returns int { panic error(\"x\"); }
function g() returns int? { }
function h() returns int { do { return 1; } on fail var err { return 2; } }
",
        &["3:10 flow::missing-return", "5:10 flow::missing-return"],
    );
}

#[test]
fn unused_variables_and_unreachable_code_are_warnings() {
    let (r, _) = check(
        "function f() returns int {
    int unused = 1;
    int _ignored = 2;
    return 1;
    int after = 3;
}
",
    );
    let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "flow::unused-variable",
            "flow::unreachable-code",
            "flow::unused-variable"
        ]
    );
    assert!(r.program.is_some());
}

#[test]
fn a_local_that_is_only_assigned_is_unused() {
    expect(
        "import io;
public function main() {
    int a = 0;
    a = 1;
    int b = 0;
    b += 1;
    int c = 0;
    var f = function() { c = 1; };
    f();
    int d = 0;
    var g = function() returns int { return d; };
    io:println(g());
    foreach var x in [1, 2] {
        x = 3;
    }
    int _e = 0;
    _e = 2;
    int? h = 1;
    h = ();
    io:println(h);
}
",
        &[
            "3:9 flow::unused-variable",
            "7:9 flow::unused-variable",
            "13:17 flow::unused-variable",
        ],
    );
}

#[test]
fn constants_must_be_constant_expressions() {
    expect(
        "function n() returns int { return 1; }
const A = 1 + 2 * 3;
const B = A * 2;
const C = n();
const string D = `x${A}`;
final int E = n();
",
        &["4:11 flow::type-mismatch"],
    );
}

#[test]
fn assignment_to_finals_and_constants() {
    expect(
        "const MAX = 1;
final int LIMIT = 2;
var count = 0;
function f(int p) {
    final int x = 1;
    MAX = 2;
    LIMIT += 1;
    x = 2;
    count += x;
    p = 3;
    f = f;
}
",
        &[
            "6:5 flow::assign-to-final",
            "7:5 flow::assign-to-final",
            "8:5 flow::assign-to-final",
            "11:5 flow::assign-to-final",
        ],
    );
}

#[test]
fn module_variables_must_be_initialised_in_order() {
    expect(
        "final int A = B + 1;\nfinal int B = 1;\n",
        &["1:15 flow::unknown-name"],
    );
}

#[test]
fn main_signature_is_validated() {
    expect(
        "public function main(int x) returns int { return x; }\n",
        &["1:17 flow::type-mismatch", "1:17 flow::type-mismatch"],
    );
    expect(
        "public function main(string... args) returns error? { _ = args; }\n",
        &[],
    );
}

#[test]
fn not_iterable_and_not_callable() {
    expect(
        "function f(int n, json j, string s) {
    foreach var x in n { _ = x; }
    foreach var y in j { _ = y; }
    _ = s(1);
    _ = n.foo;
}
",
        &[
            "2:22 flow::not-iterable",
            "3:22 flow::not-iterable",
            "4:9 flow::not-callable",
            "5:11 flow::unknown-field",
        ],
    );
}

#[test]
fn arrays_need_a_type_when_empty() {
    expect(
        "import io;
function f() {
    var a = [];
    int[] b = [];
    var c = [1, \"x\"];
    io:println([], a, b, c);
}
",
        &["3:13 flow::type-mismatch"],
    );
}

#[test]
fn methods_need_narrowing_on_unions() {
    expect(
        "function f(int|string v, json j) returns string {
    int n = v.length();
    string t = j.toJsonString() + v.toString();
    return j.trim() + t + n.toString();
}
",
        &["2:15 flow::unknown-field", "4:14 flow::unknown-field"],
    );
}

#[test]
fn endpoints_must_be_created_by_an_http_constructor() {
    expect(
        "endpoint e = f();
public function main() {
}
",
        &["1:14 flow::endpoint-config"],
    );
}

#[test]
fn configurables_are_checked() {
    expect(
        "configurable int port = 8080;
configurable string key = ?;
configurable string[] hosts = [];
configurable duration pause = 2s;
configurable map<string> m = {};
configurable int? maybe = ();
configurable float ratio = \"x\";
function f() {
    port = 1;
    int p = port + key.length() + hosts.length() + pause.milliseconds();
    _ = p;
}
",
        &[
            "5:14 flow::type-mismatch",
            "6:14 flow::type-mismatch",
            "7:28 flow::type-mismatch",
            "9:5 flow::assign-to-final",
        ],
    );
}

#[test]
fn configurables_are_listed_in_the_program() {
    let p = program(
        "configurable int port = 8080;
configurable string key = ?;
public function main() { }
",
    );
    let names: Vec<(String, tir::ConfigKind, bool)> = p
        .configurables
        .iter()
        .map(|c| (c.name.to_string(), c.kind, c.required))
        .collect();
    assert_eq!(
        names,
        vec![
            ("port".to_string(), tir::ConfigKind::Int, false),
            ("key".to_string(), tir::ConfigKind::String, true),
        ]
    );
}

#[test]
fn import_cycles_are_errors() {
    let dir = std::env::temp_dir().join(format!("flow-check-cycle-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let write = |n: &str, t: &str| std::fs::write(dir.join(n), t).expect("write");
    write(
        "a.flow",
        "import \"./b.flow\" as b;\npublic function fa() returns int { return b:fb(); }\n",
    );
    write(
        "b.flow",
        "import \"./a.flow\" as a;\npublic function fb() returns int { return 1; }\n",
    );
    write(
        "main.flow",
        "import \"./a.flow\" as a;\nfunction m() returns int { return a:fa(); }\n",
    );
    let mut sm = SourceMap::new();
    let r = check_program(&dir.join("main.flow"), &mut sm);
    let _ = std::fs::remove_dir_all(&dir);
    let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["flow::import-cycle"]);
    assert!(r.program.is_none());
}

#[test]
fn unreadable_root_file() {
    let mut sm = SourceMap::new();
    let r = check_program(Path::new("/nonexistent/x.flow"), &mut sm);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code.as_str(), "flow::syntax");
    assert!(r.diagnostics[0]
        .message
        .starts_with("cannot read /nonexistent/x.flow"));
    assert_eq!(sm.len(), 1);
}

#[test]
fn syntax_errors_do_not_cascade() {
    let (r, _) = check("function f() returns int {\n    int x = ;\n    return 1;\n}\n");
    assert!(r.program.is_none());
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.code.as_str() == "flow::syntax"),
        "{:?}",
        r.diagnostics
    );
}

#[test]
fn arbitrary_input_never_panics() {
    let samples = [
        "function f( { } }",
        "type T record { T t; }; function f(T t) returns T { return t; }",
        "type A B; type B A;",
        "type E distinct E;",
        "const X = X;",
        "final int[] Y = Y;",
        "function f() { var x = x; }",
        "function f() returns int { return f; }",
        "function f() { match 1 { var a | var b => { } } }",
        "function f() { int[] a = []; a[0] += a; }",
        "function f() { _ = [].map(x => x); _ = {}.k; }",
        "function f(int... xs, int y) { }",
        "function f(*map<int> kw, int... xs) { f(a = 1); }",
        "@numeric function f() { }",
        "type R record { int a = b; int b = 1; }; function f() returns R { return {}; }",
        "function f() { error e = error(\"x\"); e.foo(); e.message(1); }",
        "function f() { var g = (a, b) => a; }",
        "import \"\" as x;",
        "import \".\" as x;",
    ];
    for s in samples {
        let _ = check(s);
    }
}

#[test]
fn returning_an_uncovered_error_type() {
    expect(
        "type MyError distinct error;
function f(int x) returns int|MyError {
    if x > 0 {
        return error(\"plain\");
    }
    return MyError(\"mine\");
}
",
        &["4:16 flow::error-type-mismatch"],
    );
}

#[test]
fn optional_method_calls() {
    let p = program("function f(string? s) returns int? { return s?.length(); }\n");
    assert_eq!(body_of(&p, "f"), "(return (?. l0 l1 (StrLength l1)))");
}

#[test]
fn narrowing_applies_to_never_assigned_upvalues() {
    expect(
        "function f(int[] xs, int? limit, int? moving) returns int[] {
    int[] a = xs.filter(x => limit != () && x < limit);
    int[] b = xs.filter(x => moving != () && x < moving);
    moving = 1;
    return a + b;
}
",
        &["3:46 flow::type-mismatch"],
    );
}

#[test]
fn a_loop_without_break_narrows_by_its_exit_condition() {
    expect(
        "function next() returns int? { return 1; }
function f() returns int {
    int? x = ();
    while x == () {
        x = next();
    }
    return x;
}
",
        &[],
    );
}

#[test]
fn record_defaults_are_available_as_functions() {
    let p = program("type Item record { string sku; int qty = 1; string[] tags = []; };\n");
    assert_eq!(p.record_defaults.len(), 1);
    let fields = &p.record_defaults[0];
    assert_eq!(fields.len(), 3);
    assert!(fields[0].is_none());
    let qty = &p.functions[fields[1].expect("qty default").0 as usize];
    assert_eq!(&*qty.name, "<default Item.qty>");
    assert_eq!(blk(&qty.body), "(return 1)");
    let tags = &p.functions[fields[2].expect("tags default").0 as usize];
    assert_eq!(blk(&tags.body), "(return [])");
}

#[test]
fn suggestions_for_misspelled_names() {
    assert_eq!(
        super::checker::suggest("itme", ["id", "item"]),
        Some("item")
    );
    assert_eq!(
        super::checker::suggest("totl", ["total", "count"]),
        Some("total")
    );
    assert_eq!(super::checker::suggest("zzz", ["total"]), None);
    let (r, _) = check("import io;\nfunction f() { io.println(1); }\n");
    assert_eq!(
        r.diagnostics[0].help.as_deref(),
        Some("`io` is a module: use its members as `io:member`")
    );
}

#[test]
fn unhandled_remote_call_labels_name_the_remote_call() {
    let got = unhandled_labels(
        "import io;
import http;
endpoint orders = http:client(\"http://127.0.0.1:1\");
function load(http:Client c) {
    json j = orders->get(\"/a\");
    var r = c->post(\"/b\", { n: 1 });
    json k = r;
    orders->delete(\"/c\");
    io:println(j, k);
}
public function main() { load(orders); }
",
    );
    assert_eq!(
        got,
        [
            "P 5:14 this call of `orders->get` can fail with `http:Error`",
            "P 7:14 this can be an error (`json|http:Error`)",
            "S 6:13 `r` is set from this call of `c->post`, which can fail with `http:Error`",
            "P 8:5 this call of `orders->delete` can fail with `http:Error`",
        ]
    );
}

#[test]
fn remote_call_results_take_the_expected_type() {
    let (r, _) = check(
        "import http;
type Order record { int id; };
endpoint orders = http:client(\"http://127.0.0.1:1\");
function a() returns Order|error { return orders->get(\"/o\"); }
function b() returns error? {
    Order[] list = check orders->get(\"/l\");
    string s = check orders->get(\"/s\");
    http:Response r = check orders->get(\"/r\");
    () n = check orders->delete(\"/d\");
    var j = orders->get(\"/j\");
    json k = check j;
    _ = [list, s, r.status, n, k];
}
function c() {
    Order o = orders->get(\"/o\");
    string t = orders->get(\"/t\");
    http:Client[] all = [orders];
    _ = [o, t, all];
}
public function main() {}
",
    );
    let msgs: Vec<String> = r.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        msgs,
        [
            "unhandled error: a value of type `http:Error|Order` is used where `Order` is expected",
            "unhandled error: a value of type `string|http:Error` is used where `string` is expected",
        ]
    );
}

// ---------------------------------------------------------------- transactions

const TX_PRELUDE: &str = "import http;\nendpoint ep = http:client(\"http://127.0.0.1:9\");\n";

#[test]
fn a_transaction_with_on_fail_handles_the_failures_of_its_block() {
    expect(
        &format!(
            "{TX_PRELUDE}function f() {{
    transaction {{
        check ep->post(\"/a\", {{}});
        compensate ep->delete(\"/a/1\");
        check commit;
    }} on fail var e {{
        _ = e.message();
    }}
}}
"
        ),
        &[],
    );
}

#[test]
fn without_on_fail_the_failures_of_a_transaction_go_outward() {
    expect(
        &format!(
            "{TX_PRELUDE}function f() {{
    transaction {{
        check ep->post(\"/a\", {{}});
        check commit;
    }}
}}
"
        ),
        &[
            "5:9 flow::check-without-handler",
            "6:9 flow::check-without-handler",
        ],
    );
}

#[test]
fn compensations_make_the_transaction_fail_with_a_heuristic_error() {
    // Without `on fail`: the function must allow `tx:HeuristicError`
    // (reported at the keyword); with a narrower handler type it is not
    // covered.
    expect(
        &format!(
            "{TX_PRELUDE}function f() {{
    transaction {{
        compensate ep->delete(\"/a/1\");
        rollback;
    }}
}}
function g() {{
    transaction {{
        _ = checkpanic ep->post(\"/a\", {{}});
        compensate ep->delete(\"/a/1\");
        rollback;
    }} on fail http:Error e {{
    }}
}}
"
        ),
        &[
            "4:5 flow::check-without-handler",
            "10:5 flow::error-type-mismatch",
        ],
    );
}

#[test]
fn return_cannot_leave_a_transaction_body() {
    expect(
        &format!(
            "{TX_PRELUDE}function f() returns error? {{
    transaction {{
        check commit;
        return;
    }}
}}
"
        ),
        &["6:9 flow::syntax"],
    );
}
