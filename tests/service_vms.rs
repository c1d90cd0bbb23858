//! Services on several VM instances (DECISIONS, Services): which programs
//! qualify (the isolation rule, checked on the compiled program), and
//! `flow run` with `FLOW_SERVICE_VMS=2` answering concurrent keep-alive
//! requests with endpoint state shared by every instance, while programs
//! whose resources use module variables keep one instance and stay exact.

#[path = "support/port_line.rs"]
mod port_line;
#[path = "support/scratch.rs"]
mod scratch;
use flow::compile::isolation::{service_globals, Isolation};
use scratch::scratch_dir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn isolation(program: &str) -> Isolation {
    let mut sources = flow::syntax::span::SourceMap::new();
    let checked = flow::check::check_source("main.flow", program, Path::new("."), &mut sources);
    let Some(p) = checked.program else {
        panic!("check failed: {:?}", checked.diagnostics);
    };
    service_globals(&flow::compile::compile(p, std::sync::Arc::new(sources)))
}

fn shared_reason(program: &str) -> String {
    match isolation(program) {
        Isolation::Shared(why) => why,
        other => panic!("expected one shared instance, got {other:?}"),
    }
}

#[test]
fn resources_reading_only_finals_are_isolated() {
    let program = r#"
import http;
const int LIMIT = 10;
configurable int port = 0;
final string greeting = "hi";
int unused = 0;
endpoint backend = http:client("http://127.0.0.1:1");
service on http:listener(port, "127.0.0.1") {
    get "/a" () returns string|error {
        string s = check backend->get("/x");
        return helper(s);
    }
    get "/b" (int n) returns int {
        return n + LIMIT;
    }
}
function helper(string s) returns string {
    return `${greeting} ${s}`;
}
public function main() {
    unused += 1;
}
"#;
    match isolation(program) {
        Isolation::Isolated(reads) => assert!(reads.len() >= 2, "{reads:?}"),
        other => panic!("expected isolated, got {other:?}"),
    }
}

#[test]
fn a_module_variable_read_through_a_function_or_lambda_is_not_isolated() {
    let via_function = r#"
import http;
int count = 0;
service on http:listener(0, "127.0.0.1") {
    get "/n" () returns int {
        return current();
    }
}
function current() returns int {
    return count;
}
"#;
    let why = shared_reason(via_function);
    assert!(
        why.contains("reads module variable") && why.contains("count"),
        "{why}"
    );

    let via_lambda = r#"
import http;
int count = 0;
service on http:listener(0, "127.0.0.1") {
    post "/n" () returns int {
        function() returns int bump = () => 1;
        int[] xs = [1, 2];
        xs.forEach(function(int x) { count += x; });
        return bump();
    }
}
"#;
    let why = shared_reason(via_lambda);
    assert!(
        why.contains("module variable") && why.contains("count"),
        "{why}"
    );
}

#[test]
fn transactional_resources_and_record_defaults_are_looked_at() {
    let transactional = r#"
import http;
service on http:listener(0, "127.0.0.1") {
    transactional post "/t" () returns string {
        return "ok";
    }
}
"#;
    assert!(shared_reason(transactional).contains("transactional"));

    let defaults = r#"
import http;
int next = 1;
type Item record {
    int qty = next;
};
service on http:listener(0, "127.0.0.1") {
    post "/items" (Item body) returns int {
        return body.qty;
    }
}
"#;
    assert!(shared_reason(defaults).contains("next"));
}

// ---- end to end --------------------------------------------------------------

/// A `flow run` process serving a script; `main` prints `port=N`.
struct Served {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Served {
    fn start(name: &str, script: &str, vms: &str) -> Served {
        Served::start_with(name, script, vms, &[])
    }

    fn start_with(name: &str, script: &str, vms: &str, flags: &[&str]) -> Served {
        let dir = scratch_dir("service-vms-tests", name);
        std::fs::write(dir.join("main.flow"), script).expect("write the script");
        let mut child = Command::new(env!("CARGO_BIN_EXE_flow"))
            .arg("run")
            .args(flags)
            .arg("main.flow")
            .current_dir(&dir)
            .env("FLOW_SERVICE_VMS", vms)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flow");
        let (port, _) = port_line::read_port_line(&mut child);
        Served { child, port, dir }
    }

    /// Sends SIGTERM; returns the exit code and stderr.
    fn stop(mut self) -> (i32, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            assert!(Instant::now() < deadline, "flow did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let code = self.child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
        (code, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        Conn(BufReader::new(s))
    }

    /// Sends `method target` and reads the status and body.
    fn send(&mut self, method: &str, target: &str) -> (u16, String) {
        let req =
            format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
        self.0.get_mut().write_all(req.as_bytes()).expect("send");
        let mut status = 0;
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).expect("read the head");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(rest) = line.strip_prefix("HTTP/1.1 ") {
                status = rest[..3].parse().expect("status");
            } else if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().expect("content-length");
                }
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).expect("read the body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// Sends `per_conn` requests on each of `conns` connections, all open at
/// once, from one thread per connection; returns every answer.
fn concurrently(
    port: u16,
    conns: usize,
    per_conn: usize,
    method: &str,
    target: &str,
) -> Vec<(u16, String)> {
    let open: Vec<Conn> = (0..conns).map(|_| Conn::open(port)).collect();
    let handles: Vec<_> = open
        .into_iter()
        .map(|mut c| {
            let (method, target) = (method.to_string(), target.to_string());
            std::thread::spawn(move || {
                (0..per_conn)
                    .map(|_| c.send(&method, &target))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect()
}

/// Asserts that the answers are the counts 1 to `n`, each once (one shared
/// counter, whichever order the requests ran in).
fn assert_counted_once_each(answers: &[(u16, String)], n: i64) {
    let mut seen: Vec<i64> = answers
        .iter()
        .map(|(_, b)| b.parse().expect("int"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=n).collect::<Vec<_>>());
}

/// A gateway whose endpoint points at its own `/down` resource (503), with
/// a breaker that opens after 8 calls with at least half failing.
const GATEWAY: &str = r#"
import http;
import io;

final http:Listener l = http:listener(0, "127.0.0.1");
final int port = http:listenerPort(l);

endpoint backend = http:client(`http://127.0.0.1:${port}`, {
    circuitBreaker: {
        failureThreshold: 0.5,
        rollingWindow: { timeWindow: 60s, bucketSize: 1s, requestVolumeThreshold: 8 },
        resetTime: 60s,
    },
});

service on l {
    get "/down" () returns http:Response {
        return http:status(503, { down: true });
    }
    get "/up/{n}" (int n) returns json {
        return { n: n * 2, port: port };
    }
    get "/proxy" () returns string {
        string|error r = backend->get("/down");
        return r is error ? "failed" : "ok";
    }
    get "/stats" () returns json {
        http:Stats s = http:stats(backend);
        return { calls: s.calls, state: http:breakerState(backend) };
    }
}

public function main() {
    io:println("port=", port);
}
"#;

#[test]
fn an_isolated_service_on_two_instances_shares_its_endpoint_state() {
    let served = Served::start("gateway", GATEWAY, "2");
    let answers = concurrently(served.port, 4, 5, "GET", "/up/21");
    assert_eq!(answers.len(), 20);
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let j: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(j["n"], 42);
        assert_eq!(j["port"], served.port);
    }
    // 4 connections × 3 calls of a failing upstream, spread over both
    // instances: the breaker sees all 12 and opens after 8 (later calls
    // are rejected without reaching the upstream).
    let answers = concurrently(served.port, 4, 3, "GET", "/proxy");
    assert!(
        answers.iter().all(|(s, b)| *s == 200 && b == "failed"),
        "{answers:?}"
    );
    let mut c = Conn::open(served.port);
    let (status, body) = c.send("GET", "/stats");
    assert_eq!(status, 200);
    let j: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(j["calls"], 12, "{body}");
    assert_eq!(j["state"], "OPEN", "{body}");
    drop(c);
    let (code, stderr) = served.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("service: 2 VM instances"), "{stderr}");
}

#[test]
fn a_service_using_a_module_variable_keeps_one_instance_and_counts_exactly() {
    let script = r#"
import http;
import io;

final http:Listener l = http:listener(0, "127.0.0.1");
int count = 0;

service on l {
    post "/inc" () returns int {
        count += 1;
        return count;
    }
    get "/count" () returns int {
        return count;
    }
}

public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;
    let served = Served::start("counter", script, "2");
    let answers = concurrently(served.port, 4, 10, "POST", "/inc");
    assert!(answers.iter().all(|(s, _)| *s == 200));
    assert_counted_once_each(&answers, 40);
    let mut c = Conn::open(served.port);
    assert_eq!(c.send("GET", "/count"), (200, "40".to_string()));
    drop(c);
    let (code, stderr) = served.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("service: one VM instance (") && stderr.contains("module variable count"),
        "{stderr}"
    );
}

#[test]
fn a_final_holding_a_mutable_value_keeps_one_instance() {
    let script = r#"
import http;
import io;

final http:Listener l = http:listener(0, "127.0.0.1");
final map<int> hits = {};

service on l {
    post "/hit/{k}" (string k) returns int {
        int n = (hits[k] ?: 0) + 1;
        hits[k] = n;
        return n;
    }
}

public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;
    let served = Served::start("final-map", script, "2");
    let answers = concurrently(served.port, 2, 5, "POST", "/hit/a");
    assert_counted_once_each(&answers, 10);
    let (code, stderr) = served.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("holds a mutable value"), "{stderr}");
}

const CLOSING: &str = r#"
import http;
import io;
import time;

final http:Listener l = http:listener(0, "127.0.0.1");

service on l {
    get "/slow" () returns string {
        time:sleep(800ms);
        return "done";
    }
    post "/close" () returns string {
        http:close(l);
        return "closing";
    }
}

public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;

impl Served {
    /// Waits up to 20 s for the process to end by itself.
    fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "flow did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn sigterm_lets_a_request_in_flight_on_the_second_instance_finish() {
    let served = Served::start("sigterm", CLOSING, "2");
    // The first connection goes to the first instance, the second (while
    // the first is open) to the other one.
    let idle = Conn::open(served.port);
    let mut busy = Conn::open(served.port);
    let t = std::thread::spawn(move || busy.send("GET", "/slow"));
    std::thread::sleep(Duration::from_millis(300));
    let (code, stderr) = served.stop();
    assert_eq!(
        t.join().expect("client"),
        (200, "done".to_string()),
        "{stderr}"
    );
    assert_eq!(code, 0, "{stderr}");
    drop(idle);
}

#[test]
fn http_close_in_any_instance_stops_the_whole_service() {
    let mut served = Served::start("close", CLOSING, "2");
    let _idle = Conn::open(served.port);
    let mut c = Conn::open(served.port);
    assert_eq!(c.send("POST", "/close"), (200, "closing".to_string()));
    drop(c);
    assert_eq!(served.exit_code(), 0);
    assert!(TcpStream::connect(("127.0.0.1", served.port)).is_err());
}

#[test]
fn trace_reports_the_calls_of_every_instance() {
    let served = Served::start_with("trace", GATEWAY, "2", &["--trace"]);
    let answers = concurrently(served.port, 2, 2, "GET", "/proxy");
    assert!(
        answers.iter().all(|(s, b)| *s == 200 && b == "failed"),
        "{answers:?}"
    );
    let (code, stderr) = served.stop();
    assert_eq!(code, 0, "{stderr}");
    let attempts = stderr
        .lines()
        .filter(|l| l.contains("backend: GET /down attempt 1 -> 503"))
        .count();
    assert_eq!(attempts, 4, "{stderr}");
}
