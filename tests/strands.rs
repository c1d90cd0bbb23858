//! Strands (§10) end to end: programs run in-process on a current-thread
//! runtime with tokio's paused clock, so the tests assert exactly how much
//! virtual time concurrent strands took (no wall-clock assertions); and a
//! `start` of remote calls against a loopback HTTP server, checking that the
//! server had every request in flight at once.

#[path = "support/paused.rs"]
mod paused;

#[path = "support/scratch.rs"]
mod scratch;
use paused::{run, MS};
use scratch::scratch_dir;

#[tokio::test(start_paused = true)]
async fn four_strands_sleeping_500ms_take_500ms() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function nap(int i) returns int {
    time:sleep(500ms);
    return i;
}

public function main() returns error? {
    future<int>[] all = [];
    foreach int i in 0 ..< 4 {
        all.push(start nap(i));
    }
    int sum = 0;
    foreach var f in all {
        sum += check wait f;
    }
    io:println(sum);
}
"#)
    .await;
    assert_eq!(out, "6\n");
    assert!(ok);
    assert_eq!(elapsed, 500 * MS, "not concurrent: {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn sequential_waits_after_starts_overlap() {
    // Started one after the other, waited in reverse: the longest wins.
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function nap(duration d) returns duration {
    time:sleep(d);
    return d;
}

public function main() returns error? {
    future<duration> a = start nap(100ms);
    future<duration> b = start nap(300ms);
    future<duration> c = start nap(200ms);
    io:println(check wait c, " ", check wait b, " ", check wait a);
}
"#)
    .await;
    assert_eq!(out, "200ms 300ms 100ms\n");
    assert!(ok);
    assert_eq!(elapsed, 300 * MS);
}

#[tokio::test(start_paused = true)]
async fn record_wait_takes_the_longest_strand() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function nap(duration d) returns int {
    time:sleep(d);
    return d.milliseconds();
}

public function main() {
    var r = wait { a: start nap(100ms), b: start nap(400ms), c: start nap(250ms) };
    io:println(r);
}
"#)
    .await;
    assert_eq!(out, "{\"a\":100,\"b\":400,\"c\":250}\n");
    assert!(ok);
    assert_eq!(elapsed, 400 * MS);
}

#[tokio::test(start_paused = true)]
async fn alternate_wait_returns_at_the_first_success() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function nap(duration d) returns string {
    time:sleep(d);
    return d.toString();
}

function failAfter(duration d) returns string|error {
    time:sleep(d);
    return error("failed after " + d.toString());
}

public function main() {
    future<string|error> a = start failAfter(50ms);
    future<string> b = start nap(300ms);
    future<string> c = start nap(120ms);
    io:println(wait a | b | c);
}
"#)
    .await;
    assert_eq!(out, "120ms\n");
    assert!(ok);
    assert_eq!(elapsed, 120 * MS);
}

#[tokio::test(start_paused = true)]
async fn alternate_wait_with_every_strand_failing_waits_for_the_last() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function failAfter(duration d) returns int|error {
    time:sleep(d);
    return error("failed after " + d.toString());
}

public function main() {
    future<int|error> a = start failAfter(80ms);
    future<int|error> b = start failAfter(30ms);
    io:println(wait a | b);
}
"#)
    .await;
    assert_eq!(out, "error(failed after 80ms)\n");
    assert!(ok);
    assert_eq!(elapsed, 80 * MS);
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_the_strand_and_wait_returns_at_once() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

int steps = 0;

function count() {
    while true {
        time:sleep(10ms);
        steps += 1;
    }
}

public function main() {
    future<()> f = start count();
    time:sleep(55ms);
    f.cancel();
    io:println(wait f);
    time:sleep(100ms);
    io:println(steps);
}
"#)
    .await;
    assert_eq!(out, "error(future was cancelled)\n5\n");
    assert!(ok);
    assert_eq!(elapsed, 155 * MS);
}

#[tokio::test(start_paused = true)]
async fn strands_left_running_do_not_delay_main() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;

function later() {
    time:sleep(1h);
    io:println("never");
}

public function main() {
    future<()> f = start later();
    _ = f;
    time:sleep(5ms);
    io:println("done");
}
"#)
    .await;
    assert_eq!(out, "done\n");
    assert!(ok);
    assert_eq!(elapsed, 5 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_around_wait_leaves_the_strand_running() {
    // `timeout` cancels the waiting body, not the strand it waits for; the
    // future then counts as waited on.
    let (out, ok, elapsed) = run(r#"
import io;
import time;

boolean finished = false;

function work() returns int {
    time:sleep(200ms);
    finished = true;
    return 1;
}

public function main() {
    future<int> f = start work();
    timeout (50ms) {
        int|error r = wait f;
        io:println(r);
    } on fail var e {
        io:println(e.message());
    }
    time:sleep(200ms);
    io:println(finished);
}
"#)
    .await;
    assert_eq!(out, "timed out after 50ms\ntrue\n");
    assert!(ok);
    assert_eq!(elapsed, 250 * MS);
}

mod server {
    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// Answers every request with its path as a JSON string after `delay`,
    /// counting the requests in flight and their maximum.
    pub struct Server {
        pub addr: SocketAddr,
        pub max_in_flight: Arc<AtomicUsize>,
        pub total: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Server {
        pub async fn start(delay: Duration) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local address");
            let in_flight = Arc::new(AtomicUsize::new(0));
            let max_in_flight = Arc::new(AtomicUsize::new(0));
            let total = Arc::new(AtomicUsize::new(0));
            let (fl, mx, tt) = (in_flight.clone(), max_in_flight.clone(), total.clone());
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (fl, mx, tt) = (fl.clone(), mx.clone(), tt.clone());
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let (fl, mx, tt) = (fl.clone(), mx.clone(), tt.clone());
                        async move {
                            let now = fl.fetch_add(1, Ordering::SeqCst) + 1;
                            mx.fetch_max(now, Ordering::SeqCst);
                            tt.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(delay).await;
                            fl.fetch_sub(1, Ordering::SeqCst);
                            let body = format!("\"{}\"", req.uri().path());
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                        }
                    });
                    tokio::spawn(async move {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            Server {
                addr,
                max_in_flight,
                total,
                task,
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }
}

#[tokio::test]
async fn remote_calls_under_start_are_in_flight_together() {
    use std::sync::atomic::Ordering;
    let server = server::Server::start(300 * MS).await;
    let dir = scratch_dir("strand-tests", "remote");
    let program = r#"
import io;
import http;

configurable int port = 1;

endpoint api = http:client(`http://127.0.0.1:${port}`);

public function main() returns error? {
    future<string|http:Error> a = start api->get("/a");
    future<string|http:Error> b = start api->get("/b");
    future<json|http:Error> c = start api->get("/c");
    var all = wait { a: a, b: b, c: c };
    io:println(check all.a, " ", check all.b, " ", check all.c);
}
"#;
    std::fs::write(dir.join("main.flow"), program).expect("write the script");
    let port = server.addr.port().to_string();
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flow"));
        cmd.args(["run", "-C", &format!("port={port}"), "main.flow"])
            .current_dir(&d);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("FLOW_CONFIG_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
                cmd.env_remove(k);
            }
        }
        cmd.output()
    })
    .await
    .expect("join")
    .expect("run the flow binary");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `string` results are the body text; `json` ones are parsed.
    assert_eq!(stdout, "\"/a\" \"/b\" /c\n");
    assert_eq!(server.total.load(Ordering::SeqCst), 3);
    assert_eq!(
        server.max_in_flight.load(Ordering::SeqCst),
        3,
        "the three calls were not in flight at the same time"
    );
}
