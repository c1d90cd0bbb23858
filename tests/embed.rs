//! The embedding API (§15.1) and the sandbox limits (§15.2) end to end.

use flow::{CallError, Engine, HostError, HostModule, Program};
use serde_json::json;
use std::time::Duration;

fn compile(engine: &Engine, source: &str) -> Program {
    match engine.compile_str("test.flow", source) {
        Ok(p) => p,
        Err(e) => panic!("does not compile:\n{e}"),
    }
}

fn panic_message(r: Result<serde_json::Value, CallError>) -> String {
    match r {
        Err(CallError::Panic { message, .. }) => message,
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn program_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Program>();
    check::<Engine>();
}

#[test]
fn compile_error_is_a_report_with_a_position() {
    let engine = Engine::builder().build();
    let err = engine
        .compile_str(
            "orders.flow",
            "public function f() returns int {\n    int x = \"no\";\n    return x;\n}\n",
        )
        .expect_err("a type error");
    let positions = err.positions();
    assert_eq!(positions.len(), 1, "{positions:?}");
    assert!(
        positions[0].starts_with("orders.flow:2:13: flow::type-mismatch"),
        "{positions:?}"
    );
    let reports = err.reports();
    assert_eq!(reports.len(), 1);
    let labels: Vec<_> = reports[0]
        .labels()
        .expect("labels")
        .map(|l| l.offset())
        .collect();
    assert!(!labels.is_empty());
    assert!(err.to_string().contains("flow::type-mismatch"), "{err}");
}

#[tokio::test]
async fn call_with_json_in_and_out() {
    let engine = Engine::builder().build();
    let program = compile(
        &engine,
        r#"
type Line record { string sku; int qty; float price; };
type Order record { int id; Line[] lines; string note = "none"; };

public function total(Order o, float discount = 0.0) returns json {
    float sum = 0.0;
    foreach var l in o.lines {
        sum += <float>l.qty * l.price;
    }
    return { id: o.id, total: sum - discount, note: o.note, count: o.lines.length() };
}

public function fails(int n) returns int|error {
    if n < 0 {
        return error("negative", value = n);
    }
    return n * 2;
}
"#,
    );
    let order = json!({"id": 7, "lines": [{"sku": "a", "qty": 2, "price": 1.5}, {"sku": "b", "qty": 1, "price": 3}]});
    let out = program
        .call("total", (order.clone(),))
        .await
        .expect("total");
    assert_eq!(
        out,
        json!({"id": 7, "total": 6.0, "note": "none", "count": 2})
    );
    let out = program
        .call("total", (order, 1.0))
        .await
        .expect("total with discount");
    assert_eq!(out["total"], json!(5.0));
    let n: i64 = program.call_as("fails", (21,)).await.expect("int");
    assert_eq!(n, 42);
    match program.call("fails", (-1,)).await {
        Err(CallError::Flow { message, detail }) => {
            assert_eq!(message, "negative");
            assert_eq!(detail, json!({"value": -1}));
        }
        other => panic!("{other:?}"),
    }
    match program.call("total", (json!({"id": "x"}),)).await {
        Err(CallError::Arguments(m)) => assert!(m.contains("argument 1 (`o`)"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        program.call("nope", ()).await,
        Err(CallError::UnknownFunction(_))
    ));
}

fn orders_module() -> HostModule {
    HostModule::new("orders")
        .source(
            r#"
@native public function lookup(int id) returns json|error;
@native public function reserve(int id, int qty) returns int|error;
"#,
        )
        .function("lookup", |args| {
            match args.first().and_then(|a| a.as_i64()) {
                Some(id) if id > 0 => Ok(json!({"id": id, "status": "open"})),
                _ => Err(HostError::new("no such order").with_detail("id", args[0].clone())),
            }
        })
        .async_function("reserve", |args| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let qty = args.get(1).and_then(|a| a.as_i64()).unwrap_or(0);
            if qty > 10 {
                Err(HostError::new("out of stock").with_detail("available", 10))
            } else {
                Ok(json!(qty))
            }
        })
}

#[tokio::test]
async fn host_functions_sync_and_async() {
    let engine = Engine::builder().module(orders_module()).build();
    let program = compile(
        &engine,
        r#"
import orders;

public function status(int id) returns string {
    json|error o = orders:lookup(id);
    if o is error {
        return `missing: ${o.message()}`;
    }
    return `found ${o}`;
}

public function reserve(int id, int qty) returns json {
    int|error got = orders:reserve(id, qty);
    if got is error {
        return { ok: false, reason: got.message() };
    }
    return { ok: true, reserved: got };
}

public function reserveStrict(int id, int qty) returns int|error {
    return orders:reserve(id, qty);
}
"#,
    );
    let out = program.call("status", (3,)).await.expect("status");
    assert!(
        out.as_str().is_some_and(|s| s.starts_with("found")),
        "{out}"
    );
    let out = program.call("status", (0,)).await.expect("status");
    assert_eq!(out, json!("missing: no such order"));
    let out = program.call("reserve", (1, 4)).await.expect("reserve");
    assert_eq!(out, json!({"ok": true, "reserved": 4}));
    let out = program.call("reserve", (1, 40)).await.expect("reserve");
    assert_eq!(out, json!({"ok": false, "reason": "out of stock"}));
    match program.call("reserveStrict", (1, 40)).await {
        Err(CallError::Flow { message, detail }) => {
            assert_eq!(message, "out of stock");
            assert_eq!(detail, json!({"available": 10}));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unhandled_host_error_is_a_compile_error() {
    let engine = Engine::builder().module(orders_module()).build();
    let err = engine
        .compile_str(
            "unhandled.flow",
            "import orders;\npublic function f() returns int {\n    int n = orders:reserve(1, 2);\n    return n;\n}\n",
        )
        .expect_err("the error is not handled");
    let positions = err.positions();
    assert!(
        positions.iter().any(|p| p.starts_with("unhandled.flow:3:")),
        "{positions:?}"
    );
    // A declared host function without an implementation.
    let engine = Engine::builder()
        .module(
            HostModule::new("billing")
                .source("@native public function charge(int c) returns int|error;"),
        )
        .build();
    let err = engine
        .compile_str("b.flow", "import billing;\npublic function f() returns int|error { return billing:charge(1); }\n")
        .expect_err("no implementation");
    assert!(err.to_string().contains("has no implementation"), "{err}");
}

#[tokio::test]
async fn concurrent_calls_from_eight_tasks() {
    let engine = Engine::builder().module(orders_module()).build();
    let program = compile(
        &engine,
        r#"
import orders;
import time;

var calls = 0;

public function work(int n) returns int {
    calls += 1;
    time:sleep(10ms);
    int|error r = orders:reserve(n, n);
    if r is error {
        return -1;
    }
    // Every call runs in a fresh instance: `calls` is always 1 here.
    return r * 100 + calls;
}
"#,
    );
    let mut tasks = Vec::new();
    for i in 0..8i64 {
        let p = program.clone();
        tasks.push(tokio::spawn(async move { p.call("work", (i,)).await }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.expect("task").expect("call");
        assert_eq!(out, json!(i as i64 * 100 + 1));
    }
}

const LIMITS: &str = r#"
public function spin() {
    int i = 0;
    while true {
        i += 1;
    }
}

function down(int n) returns int {
    return down(n + 1) + 1;
}

public function deep() returns int {
    return down(0);
}

public function grow() returns int {
    string s = "0123456789abcdef";
    while true {
        s = s + s;
    }
    return s.length();
}

public function hoard() returns int {
    int[][] rows = [];
    while true {
        rows.push([1, 2, 3, 4, 5, 6, 7, 8]);
    }
    return rows.length();
}

public function ok() returns int {
    return 42;
}
"#;

#[tokio::test]
async fn each_limit_is_a_panic_and_the_host_is_unharmed() {
    let engine = Engine::builder()
        .max_operations(100_000)
        .max_stack_depth(500)
        .max_memory(1 << 20)
        .build();
    let program = compile(&engine, LIMITS);
    let m = panic_message(program.call("spin", ()).await);
    assert!(m.starts_with("operation limit exceeded"), "{m}");
    let m = panic_message(program.call("deep", ()).await);
    assert!(m.starts_with("stack overflow"), "{m}");
    let m = panic_message(program.call("grow", ()).await);
    assert!(m.starts_with("memory limit exceeded"), "{m}");
    let engine = Engine::builder().max_memory(1 << 20).build();
    let program = compile(&engine, LIMITS);
    let m = panic_message(program.call("hoard", ()).await);
    assert!(m.starts_with("memory limit exceeded"), "{m}");
    assert_eq!(program.call("ok", ()).await.expect("ok"), json!(42));
}

#[tokio::test]
async fn wall_time_limit() {
    let engine = Engine::builder()
        .timeout(Duration::from_millis(100))
        .build();
    let program = compile(
        &engine,
        r#"
import time;
public function nap() { time:sleep(60s); }
public function spin() { while true { } }
public function ok() returns int { return 1; }
"#,
    );
    let m = panic_message(program.call("nap", ()).await);
    assert!(m.starts_with("time limit exceeded"), "{m}");
    let m = panic_message(program.call("spin", ()).await);
    assert!(m.starts_with("time limit exceeded"), "{m}");
    assert_eq!(program.call("ok", ()).await.expect("ok"), json!(1));
}

const NET: &str = r#"
import http;
endpoint api = http:client("http://example.com:8080/api");
public function ping() returns string { return "ready"; }
"#;

/// The same endpoint with a URL computed at run time.
const NET_COMPUTED: &str = r#"
import http;
string host = "example.com";
endpoint api = http:client(`http://${host}:8080/api`);
public function ping() returns string { return "ready"; }
"#;

#[tokio::test]
async fn network_is_denied_unless_allowed() {
    let denying = [
        Engine::builder().build(),
        Engine::builder().allow_net(["127.0.0.1"]).build(),
        Engine::builder().allow_net(["example.com:9090"]).build(),
    ];
    for engine in &denying {
        // A literal URL is refused when compiling, with its position.
        let err = engine.compile_str("net.flow", NET).expect_err("denied");
        let positions = err.positions();
        assert_eq!(
            positions,
            ["net.flow:3:28: flow::endpoint-config: endpoint `api`: host 'example.com:8080' is not allowed"],
        );
        // A computed one before the first call.
        let program = compile(engine, NET_COMPUTED);
        match program.call("ping", ()).await {
            Err(CallError::Init { message }) => {
                assert!(message.contains("not allowed"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    for allowed in ["example.com", "example.com:8080", "*"] {
        for text in [NET, NET_COMPUTED] {
            let program = compile(&Engine::builder().allow_net([allowed]).build(), text);
            assert_eq!(
                program.call("ping", ()).await.expect("ping"),
                json!("ready")
            );
        }
    }
}
