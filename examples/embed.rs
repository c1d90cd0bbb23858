//! Embedding Flow in a Rust program (§15.1): `cargo run --example embed`.
//!
//! Compiles a flow that uses a host module, calls it with JSON from
//! several tasks, then shows a compile error report and a limit being hit.

use flow::{CallError, Engine, HostError, HostModule};
use serde_json::json;
use std::time::Duration;

const FLOW: &str = r#"
import orders;

type Line record { string sku; int qty; };
type Order record { int id; string customer; Line[] lines; };

// Returns a summary, or an error when the stock cannot be reserved.
public function handle(Order order) returns json|error {
    json|error customer = orders:customer(order.customer);
    if customer is error {
        return error("unknown customer", customer = order.customer);
    }
    int reserved = 0;
    foreach var l in order.lines {
        // An async host function that can fail: the script must handle it.
        int|error got = orders:reserve(l.sku, l.qty);
        if got is error {
            return error(`cannot reserve ${l.sku}: ${got.message()}`);
        }
        reserved += got;
    }
    return { order: order.id, customer: customer, reserved: reserved };
}

public function spin() {
    while true { }
}
"#;

fn orders() -> HostModule {
    HostModule::new("orders")
        .source(
            r#"
@native public function customer(string id) returns json|error;
@native public function reserve(string sku, int qty) returns int|error;
"#,
        )
        .function("customer", |args| {
            match args.first().and_then(|a| a.as_str()) {
                Some("c-1") => Ok(json!({"id": "c-1", "name": "Ada"})),
                _ => Err(HostError::new("no such customer")),
            }
        })
        .async_function("reserve", |args| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            match args.get(1).and_then(|q| q.as_i64()) {
                Some(q) if q <= 5 => Ok(json!(q)),
                _ => Err(HostError::new("out of stock").with_detail("available", 5)),
            }
        })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let engine = Engine::builder()
        .allow_net(["127.0.0.1"])
        .max_operations(1_000_000)
        .max_stack_depth(1_000)
        .max_memory(16 << 20)
        .timeout(Duration::from_secs(5))
        .module(orders())
        .build();

    let program = match engine.compile_str("orders.flow", FLOW) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };

    // One compiled program, called from several tasks at once.
    let orders = [
        json!({"id": 1, "customer": "c-1", "lines": [{"sku": "pen", "qty": 2}]}),
        json!({"id": 2, "customer": "c-9", "lines": []}),
        json!({"id": 3, "customer": "c-1", "lines": [{"sku": "ink", "qty": 9}]}),
    ];
    let mut tasks = Vec::new();
    for order in orders {
        let program = program.clone();
        tasks.push(tokio::spawn(async move {
            program.call("handle", (order,)).await
        }));
    }
    for task in tasks {
        match task.await {
            Ok(Ok(out)) => println!("ok:    {out}"),
            Ok(Err(CallError::Flow { message, detail })) => {
                println!("error: {message} {detail}")
            }
            Ok(Err(other)) => println!("failed: {other}"),
            Err(e) => println!("task failed: {e}"),
        }
    }

    // A script that ignores a possible error does not compile.
    let bad = "import orders;\npublic function f() returns int {\n    int n = orders:reserve(\"pen\", 1);\n    return n;\n}\n";
    if let Err(e) = engine.compile_str("bad.flow", bad) {
        println!("\ncompile error, as a report:\n{e}");
    }

    // A limit is a panic in the script, never a crash of the host.
    match program.call("spin", ()).await {
        Err(CallError::Panic { message, .. }) => println!("limit: {message}"),
        other => println!("unexpected: {other:?}"),
    }
}
