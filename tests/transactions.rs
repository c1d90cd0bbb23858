//! Transactions (§12) end to end: runs the `flow` binary on scripts (in
//! scratch directories under `target/tmp-transaction-tests/`, where the
//! transaction log `.flow/transactions.db` is created next to the script)
//! whose endpoints point at an in-process HTTP server that records every
//! request; asserts the compensations it saw (order, arguments,
//! `Idempotency-Key`), what the script printed and its exit code, and the
//! `flow tx list` / `flow tx recover` commands.

#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use server::{Reply, Seen, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[path = "support/server.rs"]
mod server;

/// The outcome of one run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A scratch directory holding `main.flow`.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str, program: &str) -> Scratch {
        let dir = scratch_dir("transaction-tests", name);
        std::fs::write(dir.join("main.flow"), program).expect("write the script");
        Scratch { dir }
    }

    /// Runs `flow ARGS...` in the directory (off the runtime's thread, so
    /// the server keeps serving).
    async fn flow(&self, args: &[&str]) -> Run {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let d = self.dir.clone();
        let out = tokio::task::spawn_blocking(move || command(&d, &args).output())
            .await
            .expect("join")
            .expect("run the flow binary");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `flow run -C port=PORT main.flow`.
    async fn run(&self, server: &Server) -> Run {
        self.flow(&["run", "-C", &format!("port={}", port(server)), "main.flow"])
            .await
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn command(dir: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("FLOW_CONFIG_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn port(s: &Server) -> String {
    s.url().rsplit(':').next().unwrap_or_default().to_string()
}

/// `METHOD target` of each request.
fn requests(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

fn body(s: &Seen) -> String {
    String::from_utf8_lossy(&s.body).into_owned()
}

/// Answers like an inventory and a payment service: holds get id 7,
/// charges id 9; `/fail...` answers 500 and `/broken...` 503 (retried).
fn shop(_: usize, s: &Seen) -> Reply {
    if s.target.starts_with("/fail") {
        return Reply::json(500, r#"{"error":"down"}"#);
    }
    if s.target.starts_with("/broken") {
        return Reply::json(503, r#"{"error":"down"}"#);
    }
    match (s.method.as_str(), s.target.as_str()) {
        ("POST", "/holds") => Reply::json(200, r#"{"id":7}"#),
        ("POST", "/charges") => Reply::json(200, r#"{"id":9}"#),
        _ => Reply::json(200, "{}"),
    }
}

const PRELUDE: &str = "import io;
import http;
import tx;

configurable int port = 1;

endpoint inventory = http:client(`http://127.0.0.1:${port}`);
endpoint payments = http:client(`http://127.0.0.1:${port}`);

type Ref record {
    int id;
};
";

fn program(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

#[tokio::test]
async fn a_failing_block_runs_the_compensations_in_reverse_order() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "reverse",
        &program(
            r#"
public function main() {
    string? id = ();
    transaction {
        id = tx:id();
        Ref hold = check inventory->post("/holds", { sku: "A1", qty: 1 });
        compensate inventory->delete(`/holds/${hold.id}`);
        Ref charge = check payments->post("/charges", { amount: 42 });
        compensate payments->post(`/charges/${charge.id}/refund`, { reason: "undo" });
        check payments->post("/fail", {});
        check commit;
    } on fail var e {
        io:println("undone: ", e.message());
    }
    io:println("id ", id);
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    let seen = server.seen();
    assert_eq!(
        requests(&seen),
        [
            "POST /holds",
            "POST /charges",
            "POST /fail",
            "POST /charges/9/refund",
            "DELETE /holds/7",
        ]
    );
    let mut lines = r.stdout.lines();
    let undone = lines.next().unwrap_or_default();
    assert!(
        undone.starts_with("undone: endpoint `payments`: POST /fail: status 500"),
        "{r:#?}"
    );
    let id = lines
        .next()
        .and_then(|l| l.strip_prefix("id "))
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "{r:#?}");
    // Keys: <txid>:<n>, n counting registrations from 1.
    assert_eq!(seen[3].header("idempotency-key"), Some(&*format!("{id}:2")));
    assert_eq!(seen[4].header("idempotency-key"), Some(&*format!("{id}:1")));
    assert_eq!(seen[0].header("idempotency-key"), None);
    assert_eq!(body(&seen[3]), r#"{"reason":"undo"}"#);
    // The log is next to the script.
    assert!(s.dir.join(".flow/transactions.db").exists());
}

#[tokio::test]
async fn commit_discards_the_compensations() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "commit",
        &program(
            r#"
public function main() returns error? {
    transaction {
        Ref hold = check inventory->post("/holds", {});
        compensate inventory->delete(`/holds/${hold.id}`);
        error? c = commit;
        io:println("commit: ", c);
        // A failure after the commit undoes nothing.
        fail error("after commit");
    } on fail var e {
        io:println("failed: ", e.message());
    }
    io:println(tx:id());
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(r.stdout, "commit: ()\nfailed: after commit\n()\n");
    assert_eq!(requests(&server.seen()), ["POST /holds"]);
}

#[tokio::test]
async fn compensation_arguments_are_evaluated_at_registration() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "arguments",
        &program(
            r#"
public function main() returns error? {
    int n = 1;
    map<string> h = { "x-n": "one" };
    transaction {
        compensate inventory->put(`/holds/${n}`, { n: n }, headers = h, query = { "q": n.toString() });
        n = 2;
        h["x-n"] = "two";
        rollback;
        io:println("after rollback ", n);
    }
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(r.stdout, "after rollback 2\n");
    let seen = server.seen();
    assert_eq!(requests(&seen), ["PUT /holds/1?q=1"]);
    assert_eq!(body(&seen[0]), r#"{"n":1}"#);
    assert_eq!(seen[0].header("x-n"), Some("one"));
}

#[tokio::test]
async fn retry_transaction_reruns_the_block_after_compensating() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "retry",
        &program(
            r#"
public function main() returns error? {
    retry (count = 3, interval = 1ms) transaction {
        int a = tx:attempt();
        io:println("attempt ", a);
        compensate inventory->delete(`/holds/${a}`);
        if a < 2 {
            check inventory->post("/fail", {});
        }
        check commit;
    } on fail var e {
        io:println("gave up: ", e.message());
    }
    // A rollback also re-runs the block.
    retry (count = 1, interval = 1ms) transaction {
        io:println("rollback attempt ", tx:attempt());
        compensate inventory->delete("/undo");
        rollback;
    }
    io:println(tx:attempt());
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        r.stdout,
        "attempt 0\nattempt 1\nattempt 2\nrollback attempt 0\nrollback attempt 1\n0\n"
    );
    let seen = server.seen();
    assert_eq!(
        requests(&seen),
        [
            "POST /fail",
            "DELETE /holds/0",
            "POST /fail",
            "DELETE /holds/1",
            "DELETE /undo",
            "DELETE /undo",
        ]
    );
    // Every attempt is a transaction of its own.
    let k1 = seen[1].header("idempotency-key").unwrap_or_default();
    let k2 = seen[3].header("idempotency-key").unwrap_or_default();
    assert!(
        k1.ends_with(":1") && k2.ends_with(":1") && k1 != k2,
        "{k1} {k2}"
    );
}

#[tokio::test]
async fn retry_transaction_gives_the_last_failure_to_on_fail() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "retry-fail",
        &program(
            r#"
public function main() {
    retry (count = 1, interval = 1ms) transaction {
        compensate inventory->delete(`/holds/${tx:attempt()}`);
        check inventory->post(`/fail/${tx:attempt()}`, {});
        check commit;
    } on fail var e {
        io:println("gave up: ", e.message());
    }
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        r.stdout,
        "gave up: endpoint `inventory`: POST /fail/1: status 500 Internal Server Error\n"
    );
    assert_eq!(
        requests(&server.seen()),
        [
            "POST /fail/0",
            "DELETE /holds/0",
            "POST /fail/1",
            "DELETE /holds/1"
        ]
    );
}

#[tokio::test]
async fn a_panic_compensates_and_continues_as_a_panic() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "panic",
        &program(
            r#"
public function main() {
    transaction {
        compensate inventory->delete("/holds/1");
        compensate inventory->delete("/holds/2");
        int[] xs = [];
        io:println(xs[3]);
        check commit;
    } on fail var e {
        io:println("not a failure");
    }
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("error: index out of range"), "{r:#?}");
    assert_eq!(
        requests(&server.seen()),
        ["DELETE /holds/2", "DELETE /holds/1"]
    );
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_is_a_heuristic_error() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "heuristic",
        &format!(
            "{PRELUDE}
endpoint flaky = http:client(`http://127.0.0.1:${{port}}`, {{ retry: {{ count: 2, interval: 1ms }} }});

public function main() {{
    transaction {{
        compensate inventory->delete(\"/holds/1\");
        compensate flaky->delete(\"/broken/2\");
        check inventory->post(\"/fail\", {{}});
        check commit;
    }} on fail var e {{
        io:println(e is tx:HeuristicError, \" \", e is tx:Error);
        io:println(e.message());
        io:println(e.detail()[\"compensations\"]);
        error? cause = e.cause();
        if cause is error {{
            io:println(\"cause: \", cause.message());
        }}
    }}
}}
"
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 0, "{r:#?}");
    let seen = server.seen();
    assert_eq!(
        requests(&seen),
        [
            "POST /fail",
            "DELETE /broken/2",
            "DELETE /broken/2",
            "DELETE /broken/2",
            "DELETE /holds/1"
        ]
    );
    // The retries of a compensation carry the same key.
    let key = seen[1].header("idempotency-key").unwrap_or_default();
    assert!(key.ends_with(":2"));
    assert!(seen[1..4]
        .iter()
        .all(|s| s.header("idempotency-key") == Some(key)));
    let id = key.trim_end_matches(":2");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "true true");
    assert_eq!(
        lines[1],
        format!("transaction {id}: 1 compensation did not complete")
    );
    assert!(lines[2].contains("\"endpoint\":\"flaky\""), "{}", lines[2]);
    assert!(lines[2].contains("\"path\":\"/broken/2\""), "{}", lines[2]);
    assert!(lines[2].contains("status 503"), "{}", lines[2]);
    assert!(
        lines[3].starts_with("cause: endpoint `inventory`: POST /fail"),
        "{r:#?}"
    );
    // The failed compensation is logged on stderr.
    assert!(r.stderr.contains("level=warn"), "{r:#?}");
    assert!(
        r.stderr.contains("compensation 2 did not complete"),
        "{r:#?}"
    );
}

#[tokio::test]
async fn programs_without_transactions_do_not_create_the_log() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "hello",
        "import io;\npublic function main() { io:println(\"hello\"); }\n",
    );
    let r = s.run_plain().await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "hello\n"), "{r:#?}");
    assert!(!s.dir.join(".flow").exists());
    // A transaction that sends nothing writes nothing either.
    let s = Scratch::new(
        "quiet",
        &program(
            r#"
public function main() returns error? {
    transaction {
        io:println(tx:id() is string);
        check commit;
    }
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "true\n"), "{r:#?}");
    assert!(!s.dir.join(".flow").exists());
}

impl Scratch {
    async fn run_plain(&self) -> Run {
        self.flow(&["run", "main.flow"]).await
    }
}

#[tokio::test]
async fn tx_list_and_recover_finish_a_heuristic_transaction_by_hand() {
    // The compensation fails until the service is repaired.
    let repaired = Arc::new(AtomicBool::new(false));
    let flag = repaired.clone();
    let server = Server::start(move |i, s| {
        if s.target.starts_with("/holds/") && !flag.load(Ordering::SeqCst) {
            return Reply::status(503);
        }
        shop(i, s)
    })
    .await;
    let s = Scratch::new(
        "list",
        &program(
            r#"
configurable boolean work = true;

public function main() {
    if !work {
        return;
    }
    transaction {
        Ref hold = check inventory->post("/holds", {});
        compensate inventory->delete(`/holds/${hold.id}`);
        check inventory->post("/fail", {});
        check commit;
    } on fail var e {
        io:println(e is tx:HeuristicError);
    }
}
"#,
        ),
    );
    let p = format!("port={}", port(&server));
    let r = s.run(&server).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "true\n"), "{r:#?}");
    let key = server.seen()[2]
        .header("idempotency-key")
        .unwrap_or_default()
        .to_string();
    let id = key.trim_end_matches(":1").to_string();

    let list = s.flow(&["tx", "list", "main.flow"]).await;
    assert_eq!(list.code, 0, "{list:#?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{list:#?}");
    assert!(
        lines[0].starts_with(&format!("{id} heuristic attempt=0 started=")),
        "{list:#?}"
    );
    assert!(lines[0].ends_with("compensations=0/1 calls=2"), "{list:#?}");
    assert_eq!(
        lines[1],
        format!(
            "  outstanding compensation 1: DELETE /holds/7 on inventory (Idempotency-Key: {key})"
        )
    );

    // `flow run` does not retry heuristic transactions by itself.
    let before = server.count();
    let again = s
        .flow(&["run", "-C", &p, "-C", "work=false", "main.flow"])
        .await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(server.count(), before);

    repaired.store(true, Ordering::SeqCst);
    let rec = s.flow(&["tx", "recover", "-C", &p, "main.flow"]).await;
    assert_eq!(rec.code, 0, "{rec:#?}");
    assert!(
        rec.stdout
            .contains("compensation 1: DELETE /holds/7 on inventory: done"),
        "{rec:#?}"
    );
    let seen = server.seen();
    let last = seen.last().expect("a request");
    assert_eq!(
        (last.method.as_str(), last.target.as_str()),
        ("DELETE", "/holds/7")
    );
    assert_eq!(last.header("idempotency-key"), Some(key.as_str()));

    let list = s.flow(&["tx", "list", "main.flow"]).await;
    assert_eq!(list.stdout, "no unfinished transactions\n", "{list:#?}");
    let all = s.flow(&["tx", "list", "--all", "main.flow"]).await;
    assert!(
        all.stdout
            .starts_with(&format!("{id} rolled-back attempt=0")),
        "{all:#?}"
    );
    let rec = s.flow(&["tx", "recover", "-C", &p, "main.flow"]).await;
    assert_eq!((rec.code, rec.stdout.as_str()), (0, "nothing to recover\n"));
}

#[tokio::test]
async fn trace_prints_each_compensation() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "trace",
        &program(
            r#"
public function main() returns error? {
    transaction {
        compensate inventory->delete("/holds/1");
        compensate payments->delete("/broken/2");
        rollback;
    }
}
"#,
        ),
    );
    let r = s
        .flow(&[
            "run",
            "--trace",
            "-C",
            &format!("port={}", port(&server)),
            "main.flow",
        ])
        .await;
    assert_eq!(r.code, 1, "{r:#?}");
    let key = server.seen()[0]
        .header("idempotency-key")
        .unwrap_or_default()
        .to_string();
    let id = key.trim_end_matches(":2");
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("compensation"))
        .collect();
    assert!(
        lines.contains(&&*format!(
            "trace: http payments: DELETE /broken/2 compensation 2 of transaction {id} failed: endpoint `payments`: DELETE /broken/2: status 503 Service Unavailable"
        )),
        "{r:#?}"
    );
    assert!(
        lines.contains(&&*format!(
            "trace: http inventory: DELETE /holds/1 compensation 1 of transaction {id} completed"
        )),
        "{r:#?}"
    );
    // The heuristic outcome of an explicit rollback fails `main`.
    assert!(
        r.stderr.contains(&format!(
            "error: transaction {id}: 1 compensation did not complete"
        )),
        "{r:#?}"
    );
}

#[tokio::test]
async fn a_transaction_of_a_running_process_is_left_alone() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "live",
        &program(
            r#"
import time;

configurable boolean work = true;

public function main() returns error? {
    if !work {
        return;
    }
    transaction {
        Ref hold = check inventory->post("/holds", {});
        compensate inventory->delete(`/holds/${hold.id}`);
        time:sleep(60s);
        check commit;
    }
}
"#,
        ),
    );
    let p = format!("port={}", port(&server));
    let mut child = command(
        &s.dir,
        &["run".into(), "-C".into(), p.clone(), "main.flow".into()],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("start flow");
    // Wait for the forward call, then for the compensation's record.
    let mut waited = 0;
    while server.count() == 0 && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let mut list = s.flow(&["tx", "list", "main.flow"]).await;
    while !list.stdout.contains("compensations=0/1") && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
        list = s.flow(&["tx", "list", "main.flow"]).await;
    }
    assert!(
        list.stdout
            .contains(&format!("  still running in process {}\n", child.id())),
        "{list:#?}"
    );
    // Another run of the script does not compensate it.
    let r = s
        .flow(&["run", "-C", &p, "-C", "work=false", "main.flow"])
        .await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(requests(&server.seen()), ["POST /holds"]);
    // Once the process is gone, it does.
    let _ = child.kill();
    let _ = child.wait();
    let r = s
        .flow(&["run", "-C", &p, "-C", "work=false", "main.flow"])
        .await;
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("recovering transaction"), "{r:#?}");
    assert_eq!(requests(&server.seen()), ["POST /holds", "DELETE /holds/7"]);
}

#[tokio::test]
async fn a_transaction_cancelled_by_a_timeout_is_compensated() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "timeout",
        &program(
            r#"
import time;

public function main() returns error? {
    timeout (100ms) {
        transaction {
            Ref hold = check inventory->post("/holds", {});
            compensate inventory->delete(`/holds/${hold.id}`);
            time:sleep(10s);
            check commit;
        }
    } on fail var e {
        io:println(e.message());
    }
    // The compensation runs in the background meanwhile.
    time:sleep(1s);
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "timed out after 100ms\n"),
        "{r:#?}"
    );
    assert_eq!(requests(&server.seen()), ["POST /holds", "DELETE /holds/7"]);
    // Finished: nothing is left to recover.
    let list = s.flow(&["tx", "list", "main.flow"]).await;
    assert_eq!(list.stdout, "no unfinished transactions\n", "{list:#?}");
}

#[tokio::test]
async fn a_transaction_started_inside_another_at_run_time_panics() {
    let server = Server::start(shop).await;
    let s = Scratch::new(
        "nested",
        &program(
            r#"
function inner() returns error? {
    transaction {
        check commit;
    }
}

public function main() returns error? {
    transaction {
        compensate inventory->delete("/holds/1");
        check inner();
        check commit;
    }
}
"#,
        ),
    );
    let r = s.run(&server).await;
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .contains("error: a transaction cannot start inside another transaction"),
        "{r:#?}"
    );
    // The outer transaction was compensated on the way out.
    assert_eq!(requests(&server.seen()), ["DELETE /holds/1"]);
}
