//! Remote calls from Flow scripts end to end: runs the `flow` binary on a
//! script (in a scratch directory under `target/tmp-http-script-tests/`)
//! whose endpoints point at an in-process HTTP server on 127.0.0.1 (its port
//! passed as the configurable `-C port=...`), and asserts what the script
//! printed, its exit code and what the server saw: methods, paths, query
//! strings, headers, bodies, attempt counts.

#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use server::{Reply, Seen, Server};
use std::path::Path;
use std::process::Command;

#[path = "support/server.rs"]
mod server;

/// The outcome of one `flow run`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Writes `program` to a scratch directory and runs `flow run -C port=PORT
/// main.flow` there (off the runtime's thread, so the server keeps serving).
async fn run_script(name: &str, program: &str, port: &str, extra: &[&str]) -> Run {
    let dir = scratch_dir("http-script-tests", name);
    std::fs::write(dir.join("main.flow"), program).expect("write the script");
    let mut args: Vec<String> = vec!["run".into(), "-C".into(), format!("port={port}")];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("main.flow".into());
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
        cmd.args(&args).current_dir(&d);
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
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn port(s: &Server) -> String {
    s.url().rsplit(':').next().unwrap_or_default().to_string()
}

fn lines(r: &Run) -> Vec<&str> {
    assert_eq!(r.code, 0, "expected success: {r:#?}");
    r.stdout.lines().collect()
}

fn body(s: &Seen) -> String {
    String::from_utf8_lossy(&s.body).into_owned()
}

const PRELUDE: &str = "import io;
import http;

configurable int port = 1;

type Order record {
    int id;
    string status = \"new\";
};
";

#[tokio::test]
async fn requests_and_typed_results() {
    let server = Server::start(
        |_, seen| match (seen.method.as_str(), seen.target.as_str()) {
            ("GET", "/api/orders/1") => Reply::json(200, r#"{"id": 1, "status": "paid"}"#),
            ("GET", "/api/orders/2") => Reply::json(200, r#"{"id": 2}"#),
            ("GET", t) if t.starts_with("/api/orders?") => {
                Reply::json(200, r#"[{"id": 1}, {"id": 2, "status": "sent"}]"#)
            }
            ("GET", "/api/text") => Reply::ok("plain words").header("content-type", "text/plain"),
            ("GET", "/api/json") => Reply::json(200, r#"{"a": [1, 2.5, null, true]}"#),
            ("GET", "/api/html") => Reply::ok("<p>hi</p>").header("content-type", "text/html"),
            ("GET", "/api/empty") => Reply::status(204),
            ("POST", "/api/orders") => Reply::json(201, r#"{"id": 7}"#),
            ("PUT", "/api/orders/7") => Reply::status(200).body("ok"),
            ("PATCH", "/api/orders/7") => Reply::json(200, r#"{"id": 7, "status": "patched"}"#),
            ("DELETE", "/api/orders/7") => Reply::status(204),
            ("HEAD", "/api/orders") => Reply::status(200)
                .header("x-total", "2")
                .header("x-tag", "a")
                .header("X-Tag", "b"),
            _ => Reply::status(404),
        },
    )
    .await;
    let program = format!(
        "{PRELUDE}
configurable string apiKey = \"k-123\";

endpoint api = http:client(`http://127.0.0.1:${{port}}/api`, {{
    timeout: 5s,
    headers: {{ \"accept\": \"application/json\", \"x-api-key\": apiKey }},
}});

function fetch(http:Client c, int id) returns Order|http:Error {{
    return c->get(`/orders/${{id}}`);
}}

public function main() returns error? {{
    Order one = check fetch(api, 1);
    Order two = check fetch(api, 2);
    io:println(one, \" \", two);
    Order[] list = check api->get(\"/orders\", query = {{ \"status\": \"open orders\", \"limit\": \"2\" }});
    io:println(list.length(), \" \", list[1].status);
    string text = check api->get(\"/text\");
    io:println(text);
    json j = check api->get(\"/json\");
    io:println(j);
    json html = check api->get(\"/html\");
    io:println(html is string, \" \", html);
    json nothing = check api->get(\"/empty\");
    io:println(nothing is ());
    json created = check api->post(\"/orders\", {{ id: 7, items: [\"pen\"] }}, headers = {{ \"x-request-id\": \"r1\" }});
    io:println(created);
    () ignored = check api->put(\"/orders/7\", \"replace me\");
    io:println(ignored);
    Order patched = check api->patch(\"/orders/7\", one);
    io:println(patched.status);
    check api->delete(\"/orders/7\");
    http:Response head = check api->execute(\"HEAD\", \"/orders\");
    io:println(head.status, \" \", head.headers[\"x-total\"]);
    io:println(head.headers[\"x-tag\"]);
    var untyped = api->get(\"/orders/1\");
    io:println(untyped);
}}
"
    );
    let run = run_script("typed", &program, &port(&server), &[]).await;
    assert_eq!(
        lines(&run),
        [
            r#"{"id":1,"status":"paid"} {"id":2,"status":"new"}"#,
            "2 sent",
            "plain words",
            r#"{"a":[1,2.5,null,true]}"#,
            "true <p>hi</p>",
            "true",
            r#"{"id":7}"#,
            "()",
            "patched",
            "200 2",
            "a, b",
            r#"{"id":1,"status":"paid"}"#,
        ]
    );
    let seen = server.seen();
    let summary: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        summary,
        [
            "GET /api/orders/1",
            "GET /api/orders/2",
            "GET /api/orders?status=open+orders&limit=2",
            "GET /api/text",
            "GET /api/json",
            "GET /api/html",
            "GET /api/empty",
            "POST /api/orders",
            "PUT /api/orders/7",
            "PATCH /api/orders/7",
            "DELETE /api/orders/7",
            "HEAD /api/orders",
            "GET /api/orders/1",
        ]
    );
    for s in &seen {
        assert_eq!(s.header("x-api-key"), Some("k-123"), "{s:?}");
        assert_eq!(s.header("accept"), Some("application/json"), "{s:?}");
    }
    let post = &seen[7];
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("x-request-id"), Some("r1"));
    assert_eq!(body(post), r#"{"id":7,"items":["pen"]}"#);
    let put = &seen[8];
    assert!(
        put.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{put:?}"
    );
    assert_eq!(body(put), "replace me");
    assert_eq!(body(&seen[9]), r#"{"id":1,"status":"paid"}"#);
    assert!(seen[0].body.is_empty());
}

#[tokio::test]
async fn status_and_payload_errors() {
    let server = Server::start(|_, seen| match seen.target.as_str() {
        "/missing" => Reply::json(404, r#"{"error": "no such order"}"#).header("x-trace", "t9"),
        "/teapot" => Reply::status(418).body("short and stout"),
        "/wrong" => Reply::json(200, r#"{"id": "seven"}"#),
        "/broken" => Reply::json(200, "{not json"),
        "/text" => Reply::ok("not json").header("content-type", "text/plain"),
        _ => Reply::status(500),
    })
    .await;
    let program = format!(
        "{PRELUDE}
endpoint api = http:client(`http://127.0.0.1:${{port}}`);

public function main() {{
    json|http:Error missing = api->get(\"/missing\");
    if missing is http:StatusError {{
        map<any> d = missing.detail();
        io:println(\"status error: \", d[\"status\"], \" \", d[\"body\"], \" \", (<map<string>>d[\"headers\"])[\"x-trace\"]);
        io:println(missing.message());
    }}
    var teapot = api->get(\"/teapot\");
    if teapot is http:StatusError {{
        io:println(teapot.detail()[\"status\"], \" \", teapot.detail()[\"body\"]);
    }}
    http:Response|http:Error raw = api->get(\"/missing\");
    if raw is http:Response {{
        io:println(\"response: \", raw.status, \" \", raw.body);
    }}
    Order|http:Error wrong = api->get(\"/wrong\");
    io:println(wrong is http:PayloadError, \" \", wrong is http:Error);
    if wrong is http:PayloadError {{
        io:println(wrong.message());
    }}
    json|http:Error broken = api->get(\"/broken\");
    io:println(broken is http:PayloadError);
    Order|http:Error text = api->get(\"/text\");
    io:println(text is http:PayloadError);
}}
"
    );
    let run = run_script("status", &program, &port(&server), &[]).await;
    assert_eq!(
        lines(&run),
        [
            r#"status error: 404 {"error":"no such order"} t9"#,
            "endpoint `api`: GET /missing: status 404 Not Found",
            "418 short and stout",
            r#"response: 404 {"error":"no such order"}"#,
            "true true",
            "endpoint `api`: GET /wrong: the response body does not match `Order`: $.id: expected int, found string",
            "true",
            "true",
        ]
    );
    assert_eq!(server.count(), 6);
}

#[tokio::test]
async fn execute_upper_cases_its_method_and_refuses_one_that_is_not_a_method() {
    let server = Server::always(Reply::ok("done")).await;
    let program = format!(
        "{PRELUDE}
endpoint api = http:client(`http://127.0.0.1:${{port}}`);

public function main() {{
    http:Response|http:Error patched = api->execute(\"patch\", \"/p\");
    if patched is http:Response {{
        io:println(patched.status, \" \", patched.body);
    }}
    http:Response|http:Error bad = api->execute(\"no such\", \"/q\");
    if bad is http:Error {{
        io:println(bad.message());
    }}
}}
"
    );
    let run = run_script("execute", &program, &port(&server), &[]).await;
    assert_eq!(
        lines(&run),
        [
            "200 done",
            "endpoint `api`: NO SUCH /q: 'NO SUCH' is not an HTTP method",
        ],
        "stderr: {}",
        run.stderr
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "the bad method is not sent");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("PATCH", "/p")
    );
}

#[tokio::test]
async fn retries_follow_the_endpoint_policy() {
    // Each path fails with 503 `n` times, then answers 200.
    let server = Server::start(|_, seen| {
        let _ = seen;
        Reply::status(503)
    })
    .await;
    let flaky = Server::start(|i, _| {
        if i < 2 {
            Reply::status(503)
        } else {
            Reply::json(200, r#"{"id": 5}"#)
        }
    })
    .await;
    let program = format!(
        "{PRELUDE}
configurable int flakyPort = 1;

endpoint down = http:client(`http://127.0.0.1:${{port}}`, {{
    retry: {{ count: 3, interval: 5ms, backOffFactor: 1.0, jitter: \"none\" }},
}});
endpoint flaky = http:client(`http://127.0.0.1:${{flakyPort}}`, {{
    retry: {{ count: 3, interval: 5ms, jitter: \"none\" }},
}});

public function main() {{
    var r = down->get(\"/a\");
    if r is http:StatusError {{
        io:println(\"get: \", r.detail()[\"status\"], \" after \", r.detail()[\"attempts\"], \" attempts\");
    }}
    var p = down->post(\"/b\", {{ n: 1 }});
    if p is http:StatusError {{
        io:println(\"post: \", p.detail()[\"attempts\"] ?: 1);
    }}
    Order|http:Error o = flaky->get(\"/c\");
    io:println(o);
    http:Stats s = http:stats(down);
    io:println(s.calls, \" \", s.failures, \" \", s.retries, \" \", s.rejected, \" \", s.state);
    io:println(http:stats(flaky).retries);
}}
"
    );
    let flaky_port = format!("flakyPort={}", port(&flaky));
    let run = run_script("retry", &program, &port(&server), &["-C", &flaky_port]).await;
    assert_eq!(
        lines(&run),
        [
            "get: 503 after 4 attempts",
            "post: 1",
            r#"{"id":5,"status":"new"}"#,
            "2 2 3 0 CLOSED",
            "2",
        ]
    );
    let seen: Vec<String> = server
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(seen, ["GET /a", "GET /a", "GET /a", "GET /a", "POST /b"]);
    assert_eq!(flaky.count(), 3);
}

#[tokio::test]
async fn failover_and_breaker_state() {
    let primary = Server::always(Reply::status(503)).await;
    let backup = Server::always(Reply::json(200, r#"{"id": 9, "status": "backup"}"#)).await;
    let failing = Server::always(Reply::status(500)).await;
    let program = format!(
        "{PRELUDE}
configurable int backupPort = 1;
configurable int failingPort = 1;

endpoint primary = http:client(`http://127.0.0.1:${{port}}`);
endpoint backup = http:client(`http://127.0.0.1:${{backupPort}}`);
endpoint orders = http:failover([primary, backup]);
endpoint fragile = http:client(`http://127.0.0.1:${{failingPort}}`, {{
    circuitBreaker: {{
        failureThreshold: 0.5,
        rollingWindow: {{ timeWindow: 10s, bucketSize: 1s, requestVolumeThreshold: 2 }},
        resetTime: 60s,
    }},
}});
endpoint nowhere = http:failover([fragile, http:client(\"http://127.0.0.1:1\")]);

public function main() {{
    Order a = checkpanic orders->get(\"/orders/9\");
    Order b = checkpanic orders->get(\"/orders/9\");
    io:println(a.status, \" \", b.status);
    foreach int i in 1...3 {{
        var r = fragile->get(\"/x\");
        io:println(i, \": \", r is http:StatusError ? \"status\" : r is http:CircuitOpenError ? \"open\" : \"other\");
    }}
    io:println(http:breakerState(fragile));
    http:Stats s = http:stats(fragile);
    io:println(s.calls, \" \", s.failures, \" \", s.rejected, \" \", s.state);
    var all = nowhere->get(\"/y\");
    if all is http:AllTargetsFailedError {{
        any errs = all.detail()[\"errors\"];
        if errs is error[] {{
            io:println(errs.length(), \" \", errs[0] is http:CircuitOpenError, \" \", errs[1] is http:ConnectionError);
        }}
    }}
}}
"
    );
    let extra = [
        "-C".to_string(),
        format!("backupPort={}", port(&backup)),
        "-C".to_string(),
        format!("failingPort={}", port(&failing)),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let run = run_script("failover", &program, &port(&primary), &extra).await;
    assert_eq!(
        lines(&run),
        [
            "backup backup",
            "1: status",
            "2: status",
            "3: open",
            "OPEN",
            "3 2 1 OPEN",
            "2 true true",
        ]
    );
    // The failover is sticky: after the backup answered, the second call
    // started there.
    assert_eq!(primary.count(), 1);
    assert_eq!(backup.count(), 2);
    // The open breaker sent nothing for the third call nor for `nowhere`.
    assert_eq!(failing.count(), 2);
}

#[tokio::test]
async fn invalid_url_from_a_configurable_stops_before_main() {
    let program = "import io;
import http;
configurable string url = \"http://127.0.0.1:1\";
configurable int port = 1;
endpoint svc = http:client(url);
public function main() {
    io:println(\"main ran\");
}
";
    let run = run_script("badurl", program, "1", &["-C", "url=not a url"]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(
            "error: endpoint `svc`: invalid http:ClientConfig: url: 'not a url' is not a valid URL"
        ),
        "{run:#?}"
    );
}

/// A `Write` into a shared buffer (the VM's captured stdout).
#[derive(Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `program` in-process with `HttpSettings` (the way the CLI's
/// `--trace` does) and returns its stdout, the traced lines and
/// `describe_endpoints` after the run.
fn run_in_process(program: &str) -> (String, Vec<String>, String) {
    use flow::runtime::http::{Collector, Redactor};
    use flow::stdlib::http::{describe_endpoints, HttpSettings};
    use flow::vm::machine::{HostIo, Limits};
    let mut sources = flow::syntax::span::SourceMap::new();
    let checked = flow::check::check_source("main.flow", program, Path::new("."), &mut sources);
    let Some(p) = checked.program else {
        panic!("check failed: {:?}", checked.diagnostics);
    };
    let compiled = flow::compile::compile(p, std::sync::Arc::new(sources));
    let out = Buffer::default();
    let io = HostIo {
        stdout: Box::new(out.clone()),
        stderr: Box::new(std::io::sink()),
    };
    let vm = flow::runtime::instantiate(
        std::sync::Arc::new(compiled),
        &flow::stdlib::resolve,
        io,
        Limits::default(),
    )
    .expect("instantiate");
    let collector = std::sync::Arc::new(Collector::new());
    vm.set_extension(HttpSettings {
        trace: Some(collector.clone()),
        ..HttpSettings::default()
    });
    let outcome = flow::runtime::run_main(vm.clone(), Vec::new());
    assert_eq!(outcome.exit_code(), 0, "{outcome:?}");
    let described = describe_endpoints(&vm);
    let stdout = String::from_utf8_lossy(&out.0.lock().expect("buffer")).into_owned();
    (stdout, collector.lines(&Redactor::default()), described)
}

#[tokio::test]
async fn trace_redacts_configurable_headers_and_endpoints_are_described() {
    let server = Server::always(Reply::json(200, r#"{"ok": true}"#)).await;
    let program = format!(
        "import io;
import http;
configurable string secret = \"s3cret\";
endpoint api = http:client(\"{}/v1\", {{
    timeout: 3s,
    retry: {{ count: 2, interval: 20ms, jitter: \"none\" }},
    headers: {{ \"x-secret\": secret, \"x-plain\": \"visible\", \"authorization\": \"Bearer t\" }},
}});
endpoint both = http:failover([api, http:client(\"http://127.0.0.1:1\")], {{ failoverCodes: [503] }});
public function main() returns error? {{
    json j = check api->get(\"/ping\");
    io:println(j);
}}
",
        server.url()
    );
    let (stdout, trace, described) = tokio::task::spawn_blocking(move || run_in_process(&program))
        .await
        .expect("join");
    assert_eq!(stdout, "{\"ok\":true}\n");
    assert_eq!(trace.len(), 1, "{trace:?}");
    let line = &trace[0];
    assert!(line.contains("api"), "{line}");
    assert!(line.contains("GET /ping"), "{line}");
    assert!(line.contains("x-secret: ***"), "{line}");
    assert!(line.contains("x-plain: visible"), "{line}");
    assert!(line.contains("authorization: ***"), "{line}");
    assert!(!line.contains("s3cret"), "{line}");
    // The server got the real value.
    assert_eq!(server.seen()[0].header("x-secret"), Some("s3cret"));
    let url = format!("{}/v1", server.url());
    assert!(
        described.starts_with(&format!(
            "endpoint api\n  url: {url}\n  timeout: 3s\n  retry: count 2, interval 20ms"
        )),
        "{described}"
    );
    assert!(
        described.contains("  headers: x-secret, x-plain, authorization\n"),
        "{described}"
    );
    assert!(
        described.contains(
            "endpoint both (failover: failoverCodes [503], interval 0ms)\n  target api\n"
        ),
        "{described}"
    );
    assert!(
        described.contains("  target http://127.0.0.1:1\n    url: http://127.0.0.1:1/\n"),
        "{described}"
    );
    assert!(!described.contains("s3cret"), "{described}");
}

#[test]
fn endpoints_are_described_after_the_initialiser_only() {
    use flow::vm::machine::{HostIo, Limits};
    let program = "import io;
import http;
configurable int port = 9090;
endpoint orders = http:client(`http://127.0.0.1:${port}`, { bulkhead: { maxConcurrent: 3 }, rateLimit: { permits: 5, period: 1s } });
endpoint spread = http:loadBalance([orders], { algorithm: \"leastPending\" });
public function main() { io:println(\"main must not run\"); }
";
    let mut sources = flow::syntax::span::SourceMap::new();
    let checked = flow::check::check_source("main.flow", program, Path::new("."), &mut sources);
    let p = checked.program.expect("checks");
    let compiled = flow::compile::compile(p, std::sync::Arc::new(sources));
    let out = Buffer::default();
    let io = HostIo {
        stdout: Box::new(out.clone()),
        stderr: Box::new(std::io::sink()),
    };
    let vm = flow::runtime::instantiate(
        std::sync::Arc::new(compiled),
        &flow::stdlib::resolve,
        io,
        Limits::default(),
    )
    .expect("instantiate");
    let text = flow::stdlib::http::initialise_and_describe(vm).expect("initialises");
    assert_eq!(
        text,
        "endpoint orders
  url: http://127.0.0.1:9090/
  timeout: 30s
  bulkhead: maxConcurrent 3, maxWait 0ms
  rateLimit: permits 5, period 1s, maxWait 0ms
endpoint spread (loadBalance: algorithm leastPending, failover true, failoverCodes [501, 502, 503, 504])
  target orders
    url: http://127.0.0.1:9090/
    timeout: 30s
    bulkhead: maxConcurrent 3, maxWait 0ms
    rateLimit: permits 5, period 1s, maxWait 0ms
"
    );
    assert!(out.0.lock().expect("buffer").is_empty());
}

#[tokio::test]
async fn allow_net_stops_a_disallowed_endpoint_before_main() {
    let server = Server::start(|_, _| Reply::ok("pong")).await;
    let p = port(&server);
    let program = r#"
import http;
import io;
configurable int port = 0;
endpoint svc = http:client(`http://127.0.0.1:${port}`);
public function main() returns error? {
    string s = check svc->get("/ping");
    io:println("main got ", s);
}
"#;
    let allowed = format!("127.0.0.1:{p}");
    let ok = run_script("allow-net-ok", program, &p, &["--allow-net", &allowed]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "main got pong\n");
    let denied = run_script(
        "allow-net-denied",
        program,
        &p,
        &["--allow-net", "127.0.0.1:1"],
    )
    .await;
    assert_eq!(denied.code, 1);
    assert_eq!(denied.stdout, "", "main must not run");
    assert!(
        denied.stderr.contains("endpoint `svc`") && denied.stderr.contains("is not allowed"),
        "{}",
        denied.stderr
    );
    assert_eq!(
        server.seen().len(),
        1,
        "only the allowed run reached the server"
    );
}

#[tokio::test]
async fn allow_net_refuses_a_literal_url_before_anything_runs() {
    let program = r#"
import http;
import io;
configurable int port = 0;
function announce() returns int {
    io:println("initialising");
    return 1;
}
int ready = announce();
endpoint svc = http:client("http://127.0.0.1:9/api");
public function main() {
    io:println("main ran");
}
"#;
    let denied = run_script(
        "allow-net-literal",
        program,
        "0",
        &["--allow-net", "127.0.0.1:1"],
    )
    .await;
    assert_eq!(denied.code, 1, "{}", denied.stderr);
    assert_eq!(denied.stdout, "", "nothing may run");
    assert!(
        denied.stderr.contains("flow::endpoint-config")
            && denied.stderr.contains("main.flow:10:28")
            && denied
                .stderr
                .contains("endpoint `svc`: host '127.0.0.1:9' is not allowed"),
        "{}",
        denied.stderr
    );
    let allowed = run_script(
        "allow-net-literal-ok",
        program,
        "0",
        &["--allow-net", "127.0.0.1:9"],
    )
    .await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert_eq!(allowed.stdout, "initialising\nmain ran\n");
}
