//! Services (§11) end to end: runs the `flow` binary on a script whose
//! service listens on 127.0.0.1 port 0 (`main` prints the bound port),
//! sends real HTTP/1.1 requests over TCP and asserts statuses, headers and
//! bodies; then stops the process with SIGTERM.

#[path = "support/port_line.rs"]
mod port_line;
#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A `flow run` process serving a script.
struct Served {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    port: u16,
    dir: PathBuf,
}

/// The script most tests serve.
const ORDERS: &str = r#"
import http;
import io;
import time;

type Order record {
    int id;
    string item;
    int qty = 1;
};

type NotFound distinct http:StatusError;

final http:Listener l = http:listener(0, "127.0.0.1");

service on l {
    get "/orders/{id}" (int id) returns Order|error {
        if id == 404 {
            return NotFound("no such order", status = 404);
        }
        if id == 500 {
            return error("database down");
        }
        return { id: id, item: "pen" };
    }
    get "/orders/new" () returns string {
        return "new order form";
    }
    post "/orders" (Order body) returns http:Response {
        return http:created(body);
    }
    get "/search" (string q, int limit = 10, boolean? exact, float? min) returns json {
        return { q: q, limit: limit, exact: exact, min: min };
    }
    delete "/orders/{id}" (int id) {
        io:println("deleted ", id);
    }
    get "/echo" (http:Request req) returns json {
        return { method: req.method, path: req.path, test: req.headers["x-test"], a: req.query["a"], body: req.body };
    }
    put "/status/{code}" (int code, json body) returns http:Response {
        return http:status(code, body);
    }
    get "/text" () returns http:Response {
        return http:ok("plain");
    }
    get "/headers" () returns http:Response {
        return { status: 202, headers: { "X-Flow": "yes" }, body: [1, 2] };
    }
    get "/boom" (int n) returns int {
        int[] xs = [];
        return xs[n];
    }
    post "/notes" (string body) returns string {
        return body.toUpper();
    }
    get "/slow" () returns string {
        time:sleep(1500ms);
        return "done";
    }
}

public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;

impl Served {
    /// Writes `script` to a scratch directory and starts `flow run` on it
    /// with `envs`, waiting for the `port=N` line.
    fn start(name: &str, script: &str, envs: &[(&str, &str)]) -> Served {
        let dir = scratch_dir("service-tests", name);
        std::fs::write(dir.join("main.flow"), script).expect("write the script");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
        cmd.args(["run", "main.flow"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Two VM instances whatever the machine, so that isolated
            // services (like ORDERS) run on two threads in every test.
            .env("FLOW_SERVICE_VMS", "2");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start flow");
        let (port, stdout) = port_line::read_port_line(&mut child);
        Served {
            child: Some(child),
            stdout,
            port,
            dir,
        }
    }

    /// Sends `raw` (a whole request) on a new connection and reads the
    /// answer until the server closes the connection.
    fn raw(&self, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        s.write_all(raw).expect("send");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Sends one request (`Connection: close`) and parses the answer.
    fn request(&self, method: &str, target: &str, body: Option<&str>) -> Answer {
        let mut req = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nX-Test: yes\r\nConnection: close\r\n"
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        Answer::parse(&self.raw(req.as_bytes()))
    }

    /// The next line the program prints.
    fn next_line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line
    }

    /// Sends SIGTERM and returns the exit code and stderr.
    fn stop(mut self) -> (i32, String) {
        let mut child = self.child.take().expect("running");
        terminate(&child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            assert!(Instant::now() < deadline, "flow did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn terminate(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success());
}

/// A parsed HTTP/1.1 answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn parse(text: &str) -> Answer {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

#[test]
fn path_parameters_bind_and_bad_values_are_400_naming_the_parameter() {
    let s = Served::start("path", ORDERS, &[]);
    let a = s.request("GET", "/orders/7", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(
        a.json(),
        serde_json::json!({ "id": 7, "item": "pen", "qty": 1 })
    );
    let a = s.request("GET", "/orders/seven", None);
    assert_eq!(a.status, 400);
    let msg = a.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("path parameter `id`"), "{msg}");
    // A literal segment wins over a parameter.
    let a = s.request("GET", "/orders/new", None);
    assert_eq!((a.status, a.body.as_str()), (200, "new order form"));
}

#[test]
fn query_parameters_required_optional_and_default() {
    let s = Served::start("query", ORDERS, &[]);
    let a = s.request("GET", "/search?q=pens", None);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        serde_json::json!({ "q": "pens", "limit": 10, "exact": null, "min": null })
    );
    let a = s.request("GET", "/search?q=a+b%21&limit=3&exact=true&min=2.5", None);
    assert_eq!(
        a.json(),
        serde_json::json!({ "q": "a b!", "limit": 3, "exact": true, "min": 2.5 })
    );
    let a = s.request("GET", "/search?limit=3", None);
    assert_eq!(a.status, 400);
    assert!(a.json()["error"]
        .as_str()
        .is_some_and(|m| m.contains("missing query parameter `q`")));
    let a = s.request("GET", "/search?q=x&limit=many", None);
    assert_eq!(a.status, 400);
    assert!(a.json()["error"]
        .as_str()
        .is_some_and(|m| m.contains("query parameter `limit`")));
}

#[test]
fn body_binds_json_and_a_bad_body_is_400() {
    let s = Served::start("body", ORDERS, &[]);
    let a = s.request("POST", "/orders", Some(r#"{"id": 3, "item": "ink"}"#));
    assert_eq!(a.status, 201);
    assert_eq!(
        a.json(),
        serde_json::json!({ "id": 3, "item": "ink", "qty": 1 })
    );
    let a = s.request("POST", "/orders", Some(r#"{"id": "x", "item": "ink"}"#));
    assert_eq!(a.status, 400);
    assert!(a.json()["error"]
        .as_str()
        .is_some_and(|m| m.starts_with("body:") && m.contains("id")));
    let a = s.request("POST", "/orders", Some("{not json"));
    assert_eq!(a.status, 400);
    assert!(a.json()["error"]
        .as_str()
        .is_some_and(|m| m.starts_with("body:")));
    // A string body takes text that is not JSON as it is, JSON strings decoded.
    let a = s.request("POST", "/notes", Some("hello there"));
    assert_eq!((a.status, a.body.as_str()), (200, "HELLO THERE"));
    let a = s.request("POST", "/notes", Some(r#""quoted""#));
    assert_eq!((a.status, a.body.as_str()), (200, "QUOTED"));
    let a = s.request("POST", "/orders", None);
    assert_eq!(a.status, 400);
    assert!(a.json()["error"]
        .as_str()
        .is_some_and(|m| m.contains("missing request body `body`")));
}

#[test]
fn http_request_parameter_receives_the_whole_request() {
    let s = Served::start("request", ORDERS, &[]);
    let a = s.request("GET", "/echo?a=1&a=2", Some("hello"));
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        serde_json::json!({ "method": "GET", "path": "/echo", "test": "yes", "a": "2", "body": "hello" })
    );
    // A repeated header is one entry, its values joined in arrival order; a
    // value that is not UTF-8 keeps replacement characters.
    let raw = s.raw(
        b"GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Test: one\r\nx-test: tw\xe9\r\nConnection: close\r\n\r\n",
    );
    let a = Answer::parse(&raw);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["test"], "one, tw\u{fffd}");
}

#[test]
fn unknown_path_is_404_and_other_method_is_405() {
    let s = Served::start("routing", ORDERS, &[]);
    let a = s.request("GET", "/nothing/here", None);
    assert_eq!(a.status, 404);
    assert!(a.json()["error"].is_string());
    let a = s.request("PATCH", "/orders/1", None);
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, DELETE"));
}

#[test]
fn results_map_to_statuses() {
    let s = Served::start("results", ORDERS, &[]);
    // () -> 204
    let a = s.request("DELETE", "/orders/9", None);
    assert_eq!((a.status, a.body.as_str()), (204, ""));
    // string -> text/plain
    let a = s.request("GET", "/orders/new", None);
    assert!(a
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    // http:ok with a string body
    let a = s.request("GET", "/text", None);
    assert_eq!((a.status, a.body.as_str()), (200, "plain"));
    // http:status as given
    let a = s.request("PUT", "/status/418", Some(r#"{"teapot": true}"#));
    assert_eq!(a.status, 418);
    assert_eq!(a.json(), serde_json::json!({ "teapot": true }));
    // a literal http:Response with headers
    let a = s.request("GET", "/headers", None);
    assert_eq!(a.status, 202);
    assert_eq!(a.header("x-flow"), Some("yes"));
    assert_eq!(a.json(), serde_json::json!([1, 2]));
    // an http:StatusError subtype -> its status
    let a = s.request("GET", "/orders/404", None);
    assert_eq!(a.status, 404);
    assert_eq!(a.json(), serde_json::json!({ "error": "no such order" }));
    // any other error -> 500
    let a = s.request("GET", "/orders/500", None);
    assert_eq!(a.status, 500);
    assert_eq!(a.json(), serde_json::json!({ "error": "database down" }));
}

#[test]
fn a_panic_answers_500_is_logged_and_the_service_keeps_serving() {
    let s = Served::start("panic", ORDERS, &[]);
    let a = s.request("GET", "/boom?n=3", None);
    assert_eq!(a.status, 500);
    assert!(a.json()["error"].is_string());
    let a = s.request("GET", "/orders/1", None);
    assert_eq!(a.status, 200);
    let (code, stderr) = s.stop();
    assert_eq!(code, 0);
    assert!(
        stderr.contains("error: panic in GET /boom:") && stderr.contains("main.flow:"),
        "{stderr}"
    );
}

#[test]
fn health_endpoint_answers_up() {
    let s = Served::start("health", ORDERS, &[]);
    let a = s.request("GET", "/.flow/health", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), serde_json::json!({ "status": "up" }));
}

#[test]
fn a_declared_health_path_overrides_the_builtin_one() {
    let script = r#"
import http;
import io;
final http:Listener l = http:listener(0, "127.0.0.1");
service on l {
    get "/.flow/health" () returns json {
        return { status: "degraded" };
    }
}
public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;
    let s = Served::start("health-override", script, &[]);
    let a = s.request("GET", "/.flow/health", None);
    assert_eq!(a.json(), serde_json::json!({ "status": "degraded" }));
}

#[test]
fn a_body_over_the_limit_is_413() {
    let s = Served::start("limit", ORDERS, &[("FLOW_MAX_BODY_BYTES", "64")]);
    let big = format!(r#"{{"id": 1, "item": "{}"}}"#, "x".repeat(100));
    let a = s.request("POST", "/orders", Some(&big));
    assert_eq!(a.status, 413);
    // Chunked, without a length: still refused.
    let chunk = "x".repeat(100);
    let raw = format!(
        "POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    assert_eq!(Answer::parse(&s.raw(raw.as_bytes())).status, 413);
    let a = s.request("POST", "/orders", Some(r#"{"id": 1, "item": "a"}"#));
    assert_eq!(a.status, 201);
}

#[test]
fn a_malformed_request_line_gets_400_and_the_server_survives() {
    let s = Served::start("malformed", ORDERS, &[]);
    let text = s.raw(b"THIS IS NOT HTTP\r\n\r\n");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text:?}"
    );
    let text = s.raw(b"GET /orders/1 HTTP/9.9\r\nHost: x\r\n\r\n");
    assert!(!text.starts_with("HTTP/1.1 200"), "{text:?}");
    let text = s.raw(&[0xff, 0xfe, 0x00, b'\r', b'\n', b'\r', b'\n']);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4"),
        "{text:?}"
    );
    assert_eq!(s.request("GET", "/orders/1", None).status, 200);
}

#[test]
fn a_slow_loris_client_is_disconnected() {
    let s = Served::start(
        "slowloris",
        ORDERS,
        &[("FLOW_HEADER_READ_TIMEOUT_MS", "300")],
    );
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(15))).ok();
    c.write_all(b"GET /orders/1 HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    // The head never ends: the server must give up on its own (the read
    // below ends with EOF or an error answer, not with our read timeout).
    let started = Instant::now();
    let mut out = Vec::new();
    let r = c.read_to_end(&mut out);
    assert!(r.is_ok(), "the server kept the connection open: {r:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("200 OK"), "{text}");
    assert_eq!(s.request("GET", "/orders/1", None).status, 200);
}

/// `GET /slow` on its own connection, answered on the returned thread.
fn get_slow_in_background(port: u16) -> std::thread::JoinHandle<Answer> {
    std::thread::spawn(move || {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(20))).ok();
        c.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        Answer::parse(&String::from_utf8_lossy(&out))
    })
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let s = Served::start("shutdown", ORDERS, &[]);
    let slow = get_slow_in_background(s.port);
    // Let the request reach the resource (it sleeps 1.5 s), then stop.
    std::thread::sleep(Duration::from_millis(500));
    let (code, stderr) = s.stop();
    let a = slow.join().expect("join");
    assert_eq!((a.status, a.body.as_str()), (200, "done"), "{stderr}");
    assert_eq!(code, 0, "{stderr}");
}

/// §11.3 while `main` still runs: the signal stops `main` at once (it
/// prints nothing more while the request in flight finishes) and the
/// process exits 0.
#[test]
fn sigterm_stops_a_main_that_is_still_running() {
    let script = r#"
import http;
import io;
import time;
final http:Listener l = http:listener(0, "127.0.0.1");
service on l {
    get "/slow" () returns string {
        time:sleep(1500ms);
        return "done";
    }
}
public function main() {
    io:println("port=", http:listenerPort(l));
    time:sleep(800ms);
    io:println("main went on");
}
"#;
    let mut s = Served::start("stop-main", script, &[]);
    let slow = get_slow_in_background(s.port);
    // The request reaches the resource; `main` is still sleeping.
    std::thread::sleep(Duration::from_millis(300));
    let mut child = s.child.take().expect("running");
    terminate(&child);
    // The process keeps running until the request finishes (1.5 s), well
    // after `main` would have printed had it not been stopped.
    let mut rest = String::new();
    let _ = s.stdout.read_to_string(&mut rest);
    let status = child.wait().expect("wait");
    let a = slow.join().expect("join");
    assert_eq!((a.status, a.body.as_str()), (200, "done"));
    assert_eq!(rest, "");
    assert_eq!(status.code(), Some(0));
}

/// Runs `flow run --allow-net ALLOW main.flow` on `script` in a scratch
/// directory and returns what it did.
fn run_with_allow_net(name: &str, script: &str, allow: &str) -> std::process::Output {
    let dir = scratch_dir("service-tests", name);
    std::fs::write(dir.join("main.flow"), script).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["run", "--allow-net", allow, "main.flow"])
        .current_dir(&dir)
        .output()
        .expect("run flow");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn a_listener_port_outside_allow_net_fails_before_binding() {
    let out = run_with_allow_net(
        "allow-net",
        "import http;\nfinal http:Listener l = http:listener(0, \"127.0.0.1\");\nservice on l {\n    get \"/\" () returns string {\n        return \"hi\";\n    }\n}\n",
        "127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("listening on port 0 is not allowed"),
        "{stderr}"
    );
}

#[test]
fn a_literal_listener_port_outside_allow_net_is_refused_before_anything_runs() {
    let out = run_with_allow_net(
        "allow-net-literal",
        "import http;\nimport io;\nint ready = announce();\nfunction announce() returns int {\n    io:println(\"initialising\");\n    return 1;\n}\nservice on http:listener(8123) {\n    get \"/\" () returns string {\n        return \"hi\";\n    }\n}\n",
        "127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "nothing may run");
    assert!(
        stderr.contains("flow::endpoint-config")
            && stderr.contains("main.flow:8:26")
            && stderr.contains("listener port 8123 is not allowed"),
        "{stderr}"
    );
}

#[test]
fn strands_keep_running_after_main_returns_while_a_service_runs() {
    let script = r#"
import http;
import io;
import time;
final http:Listener l = http:listener(0, "127.0.0.1");
service on l {
    get "/" () returns string {
        return "hi";
    }
}
function later() {
    time:sleep(300ms);
    io:println("the strand finished");
}
public function main() {
    io:println("port=", http:listenerPort(l));
    _ = start later();
}
"#;
    let mut s = Served::start("strands", script, &[]);
    assert_eq!(s.next_line().trim(), "the strand finished");
    assert_eq!(s.request("GET", "/", None).body, "hi");
    let (code, _) = s.stop();
    assert_eq!(code, 0);
}

#[test]
fn a_program_without_main_serves_until_stopped() {
    let script = r#"
import http;
import io;
final http:Listener l = http:listener(0, "127.0.0.1");
final boolean announced = announce();
function announce() returns boolean {
    io:println("port=", http:listenerPort(l));
    return true;
}
service on l {
    get "/" () returns string {
        return "no main";
    }
}
"#;
    let s = Served::start("no-main", script, &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.request("GET", "/", None).body, "no main");
    let (code, stderr) = s.stop();
    assert_eq!(code, 0, "{stderr}");
}
