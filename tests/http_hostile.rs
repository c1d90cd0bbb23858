//! Hostile HTTP responses (§15.2, issue #9): a 50 MB body, JSON nested
//! 100,000 levels deep and 10,000 response headers each end the remote call
//! with a clear, handled error, and the `flow` process stays small and exits
//! normally (no Rust panic, no abort).
//!
//! Each script makes one call, prints the outcome, then waits on stdin, so
//! the test can read the process's peak memory (Linux `VmHWM`) while it is
//! still alive.

#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use server::{Reply, Server};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[path = "support/server.rs"]
mod server;

/// What a script printed, its exit code and its peak resident memory in KiB
/// (when the platform reports it).
#[derive(Debug)]
struct Run {
    code: i32,
    first_line: String,
    stderr: String,
    peak_kib: Option<u64>,
}

/// The `VmHWM` (peak resident set) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `program` with `-C port=PORT`, reads its first line of output,
/// samples its peak memory, then closes its stdin and waits for it.
async fn run_script(name: &str, program: &str, port: String) -> Run {
    let dir = scratch_dir("http-hostile-tests", name);
    std::fs::write(dir.join("main.flow"), program).expect("write the script");
    let d = dir.clone();
    let run = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flow"))
            .args(["run", "-C", &format!("port={port}"), "main.flow"])
            .current_dir(&d)
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the flow binary");
        let mut first_line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut first_line);
        }
        let peak_kib = peak_rss_kib(child.id());
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("wait for the flow binary");
        Run {
            code: out.status.code().unwrap_or(-1),
            first_line: first_line.trim_end().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            peak_kib,
        }
    })
    .await
    .expect("join");
    let _ = std::fs::remove_dir_all(&dir);
    run
}

fn port(s: &Server) -> String {
    s.url().rsplit(':').next().unwrap_or_default().to_string()
}

/// A script that calls `GET /` expecting `T` and prints what happened.
fn script(expected: &str, config: &str) -> String {
    format!(
        r#"import http;
import io;
configurable int port = 1;
endpoint api = http:client(`http://127.0.0.1:${{port}}`, {config});
function main() {{
    {expected}|error r = api->get("/");
    if r is http:PayloadError {{
        io:println("PayloadError: ", r.message());
    }} else if r is http:ConnectionError {{
        io:println("ConnectionError: ", r.message());
    }} else if r is error {{
        io:println(r);
    }} else {{
        io:println("ok");
    }}
    string? _ = io:readln();
}}
"#
    )
}

/// Peak memory a `flow run` of these scripts may reach, far below the
/// 50 MB hostile body.
const MEMORY_BOUND_KIB: u64 = 40 * 1024;

/// The process stayed under [`MEMORY_BOUND_KIB`]. The script waits on its
/// stdin after its first line, so on Linux the peak is always sampled.
fn assert_memory_bounded(run: &Run) {
    match run.peak_kib {
        Some(peak) => assert!(peak < MEMORY_BOUND_KIB, "peak RSS {peak} KiB"),
        None if cfg!(target_os = "linux") => panic!("no peak RSS sampled: {run:?}"),
        None => {}
    }
}

#[tokio::test]
async fn a_50_mb_response_is_a_payload_error_in_bounded_memory() {
    let big = format!("\"{}\"", "x".repeat(50 << 20));
    let server = Server::always(Reply::json(200, &big)).await;
    let run = run_script("big", &script("json", "{}"), port(&server)).await;
    assert_eq!(
        run.first_line,
        "PayloadError: endpoint `api`: GET /: the response body is larger than 10485760 bytes (maxResponseBytes)",
        "{run:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_memory_bounded(&run);
}

#[tokio::test]
async fn max_response_bytes_raises_and_lowers_the_limit() {
    let body = format!("\"{}\"", "y".repeat(2000));
    let server = Server::always(Reply::json(200, &body)).await;
    let small = run_script(
        "small-limit",
        &script("string", "{ maxResponseBytes: 1000 }"),
        port(&server),
    )
    .await;
    assert_eq!(
        small.first_line,
        "PayloadError: endpoint `api`: GET /: the response body is larger than 1000 bytes (maxResponseBytes)",
        "{small:?}"
    );
    let enough = run_script(
        "enough-limit",
        &script("string", "{ maxResponseBytes: 2002 }"),
        port(&server),
    )
    .await;
    assert_eq!(enough.first_line, "ok", "{enough:?}");
    // Neither is an upstream failure worth retrying: one request each.
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn json_nested_100000_levels_is_a_payload_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let server = Server::always(Reply::json(200, &deep)).await;
    for (name, expected) in [("deep-json", "json"), ("deep-typed", "int[][]")] {
        let run = run_script(name, &script(expected, "{}"), port(&server)).await;
        assert!(
            run.first_line
                .starts_with("PayloadError: endpoint `api`: GET /: ")
                && run.first_line.contains("recursion limit exceeded"),
            "{expected}: {run:?}"
        );
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.stderr.contains("panicked"), "{run:?}");
    }
}

#[tokio::test]
async fn ten_thousand_response_headers_are_a_connection_error() {
    let mut reply = Reply::json(200, "1");
    for i in 0..10_000 {
        reply = reply.header(&format!("x-h{i}"), "v");
    }
    let server = Server::always(reply).await;
    let run = run_script("headers", &script("int", "{}"), port(&server)).await;
    assert!(
        run.first_line
            .starts_with("ConnectionError: endpoint `api`: GET /: connection failed: ")
            && run.first_line.ends_with("message head is too large"),
        "{run:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

/// A raw server (on its own thread) whose every answer is a chunked body
/// of 60 chunks of 1 MiB: no `content-length`, so the limit applies while
/// reading.
fn chunked_flood() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port().to_string();
    std::thread::spawn(move || {
        let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, "z".repeat(1 << 20));
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            );
            for _ in 0..60 {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
    });
    port
}

#[tokio::test]
async fn a_chunked_flood_stops_at_the_limit() {
    let port = chunked_flood();
    let run = run_script("chunked", &script("json", "{}"), port).await;
    assert_eq!(
        run.first_line,
        "PayloadError: endpoint `api`: GET /: the response body is larger than 10485760 bytes (maxResponseBytes)",
        "{run:?}"
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_memory_bounded(&run);
}
