//! The REPL (§14): scripted through piped standard input, and interactive
//! through a pseudo-terminal (rexpect).

#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A scratch directory under `target/` for files a test needs.
fn scratch(name: &str) -> PathBuf {
    // Tests run in parallel: every directory is distinct.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    scratch_dir("repl-tests", &format!("{name}-{n}"))
}

/// What a piped session printed.
struct Piped {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `flow repl` in `dir` with `input` on standard input.
fn piped_in(dir: &Path, input: &str) -> Piped {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flow"))
        .arg("repl")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flow repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the input");
    let out = child.wait_with_output().expect("wait for flow repl");
    Piped {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn piped(input: &str) -> Piped {
    piped_in(&scratch("piped"), input)
}

#[test]
fn expressions_show_value_and_type() {
    let r = piped("1 + 2\n\"a\" + \"b\"\n[1, 2].map(x => x * 10)\n{\"k\": 1.5}\n");
    assert_eq!(
        r.stdout,
        "3 : int\n\"ab\" : string\n[10,20] : int[]\n{\"k\":1.5} : map<float>\n"
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn state_persists_across_inputs() {
    let r = piped(
        "int x = 5;\nvar names = [\"a\"];\nx = x + 1;\nnames.push(\"b\");\n`${x} ${names.length()}`\nx * 2\n",
    );
    assert_eq!(r.stdout, "\"6 2\" : string\n12 : int\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn multi_line_declarations_continue_until_complete() {
    let r = piped(
        "function add(int a,\n             int b) returns int {\n    return a + b;\n}\ntype Point record {\n    int x;\n    int y;\n};\nPoint p = { x: add(1, 2), y: 4 };\np.x + p.y\np\n",
    );
    assert_eq!(r.stdout, "7 : int\n{\"x\":3,\"y\":4} : Point\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_blank_line_submits_an_incomplete_input() {
    let r = piped("foo(1,\n\n2 + 2\n");
    assert!(r.stderr.contains("flow::syntax"), "{}", r.stderr);
    assert_eq!(r.stdout, "4 : int\n");
    assert_eq!(r.code, 1);
}

#[test]
fn type_command_does_not_run_the_expression() {
    let r =
        piped("int n = 1;\n:type n + 1\n:type io:println(\"never\")\n:type [n].map(x => x > 0)\n");
    assert_eq!(r.stdout, "int\n()\nboolean[]\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn errors_are_reported_and_the_session_goes_on() {
    let r = piped("int a = \"text\";\nint b = 2;\nmissing + 1\nb + 1\n");
    assert!(r.stderr.contains("flow::type-mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains("<repl:1>:1:9"), "{}", r.stderr);
    assert!(r.stderr.contains("flow::unknown-name"), "{}", r.stderr);
    assert!(r.stderr.contains("<repl:3>:1:1"), "{}", r.stderr);
    assert_eq!(r.stdout, "3 : int\n");
    // `a` was never declared.
    let r2 = piped("int a = \"text\";\na\n");
    assert!(r2.stderr.contains("unknown name `a`"), "{}", r2.stderr);
    assert_eq!(r.code, 1);
}

#[test]
fn error_values_are_shown_not_raised() {
    let r = piped(
        "function f(int n) returns int|error {\n    if n > 1 { return error(\"too big\"); }\n    return n;\n}\nf(5)\nf(1)\nint z = check f(9);\nz\n",
    );
    assert!(
        r.stdout
            .starts_with("error(too big) : int|error\n1 : int|error\n"),
        "{}",
        r.stdout
    );
    // A failing statement reports the failure and declares nothing.
    assert!(r.stderr.contains("error: too big"), "{}", r.stderr);
    assert!(r.stderr.contains("unknown name `z`"), "{}", r.stderr);
}

#[test]
fn panics_point_at_the_input() {
    let r = piped("int d = 0;\n10 / d\n");
    assert!(r.stderr.contains("error: division by zero"), "{}", r.stderr);
    assert!(r.stderr.contains("(<repl:2>:1:1)"), "{}", r.stderr);
    assert_eq!(r.code, 1);
}

#[test]
fn load_adds_a_files_declarations() {
    let dir = scratch("load");
    std::fs::write(
        dir.join("lib.flow"),
        "function twice(int n) returns int {\n    return n * 2;\n}\nint base = 20;\n",
    )
    .expect("write lib.flow");
    let r = piped_in(
        &dir,
        ":load lib.flow\ntwice(base) + 2\n:load nowhere.flow\nbase\n",
    );
    assert_eq!(r.stdout, "42 : int\n20 : int\n");
    assert!(
        r.stderr.contains("cannot read nowhere.flow"),
        "{}",
        r.stderr
    );
}

#[test]
fn reset_forgets_and_quit_stops() {
    let r = piped("int x = 1;\n:reset\nx\n:quit\n1 + 1\n");
    assert!(r.stderr.contains("unknown name `x`"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn output_of_the_program_comes_before_the_value() {
    let r = piped("io:println(\"hello\");\nfunction f() returns int { io:println(\"in f\"); return 3; }\nf()\n");
    assert_eq!(r.stdout, "hello\nin f\n3 : int\n");
}

#[test]
fn redefining_a_function_replaces_it() {
    let r = piped(
        "function f() returns int { return 1; }\nf()\nfunction f() returns int { return 2; }\nf()\n",
    );
    assert_eq!(r.stdout, "1 : int\n2 : int\n");
}

#[test]
fn strands_and_anonymous_records_across_inputs() {
    // The record type of `both` is interned at a different place in each
    // input's program: the session moves values onto the new type ids.
    let r = piped(
        "function slow(int n) returns int { time:sleep(5ms); return n * 2; }\nfuture<int> f = start slow(21);\nwait f\nvar both = wait { a: start slow(1), b: start slow(2) };\nboth\ntype P record { string name; };\nP p = { name: \"x\" };\nerror e = error(\"bad\", code = 3);\nboth.b\np\ne\n",
    );
    assert_eq!(
        r.stdout,
        "42 : int|error\n{\"a\":2,\"b\":4} : record { int|error a; int|error b; }\n4 : int|error\n{\"name\":\"x\"} : P\nerror(bad) {\"code\":3} : error\n"
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn sleeping_runs_on_the_runtime() {
    let r = piped("time:sleep(5ms);\n\"after\"\n");
    assert_eq!(r.stdout, "\"after\" : string\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Interactive sessions through a pseudo-terminal.
mod terminal {
    use super::scratch;
    use rexpect::session::PtySession;
    use std::process::Command;

    /// Waits for the prompt that follows a submitted input (the prompt text
    /// is also repainted with every keystroke, so it must follow a newline;
    /// input typed before it would be discarded by the terminal).
    fn next_prompt(p: &mut PtySession) {
        p.exp_regex("\n[^\n]*flow> ").expect("next prompt");
    }

    fn start(dir: &std::path::Path) -> PtySession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
        cmd.arg("repl")
            .current_dir(dir)
            .env("FLOW_HISTORY", dir.join("history"))
            .env("TERM", "xterm");
        let mut p =
            rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn flow repl on a pty");
        p.exp_string("flow> ").expect("prompt");
        p
    }

    #[test]
    fn prompt_values_and_multi_line_input() {
        let dir = scratch("pty-basic");
        let mut p = start(&dir);
        p.send_line("1 + 2").expect("send");
        p.exp_string("3 : int").expect("value");
        next_prompt(&mut p);
        p.send_line("function f() returns int {").expect("send");
        p.exp_string("... ").expect("continuation prompt");
        p.send_line("return 41 + 1;").expect("send");
        p.send_line("}").expect("send");
        next_prompt(&mut p);
        p.send_line("f()").expect("send");
        p.exp_string("42 : int").expect("value");
        next_prompt(&mut p);
        p.send_line(":quit").expect("send");
        p.exp_eof().expect("exit");
        let history = std::fs::read_to_string(dir.join("history")).expect("history file");
        assert!(history.contains("1 + 2"), "{history}");
        assert!(history.contains(":quit"), "{history}");
    }

    #[test]
    fn completion_after_a_module_prefix() {
        let dir = scratch("pty-complete");
        let mut p = start(&dir);
        p.send("io:printl").expect("send");
        p.send("\t").expect("tab");
        p.flush().expect("flush");
        p.exp_string("println").expect("completed");
        p.send_line("(\"done\");").expect("send");
        p.exp_string("\r\ndone").expect("ran the completed call");
        next_prompt(&mut p);
        p.send_control('d').expect("ctrl-d");
        p.exp_eof().expect("exit");
    }

    #[test]
    fn strand_output_while_the_prompt_is_shown() {
        let dir = scratch("pty-strand");
        let mut p = start(&dir);
        p.send_line("function later() { time:sleep(1s); io:println(\"tick from a strand\"); }")
            .expect("send");
        next_prompt(&mut p);
        p.send_line("future<()> f = start later();").expect("send");
        next_prompt(&mut p);
        // Half an input is on the line when the strand prints.
        p.send("40 +").expect("send");
        p.flush().expect("flush");
        p.exp_string("tick from a strand").expect("strand output");
        p.send_line(" 2").expect("send");
        p.exp_string("42 : int").expect("the edited line survived");
        next_prompt(&mut p);
        p.send_control('d').expect("ctrl-d");
        p.exp_eof().expect("exit");
    }

    #[test]
    fn ctrl_c_cancels_a_slow_remote_call() {
        // A server that accepts connections and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        let dir = scratch("pty-cancel-remote");
        let mut p = start(&dir);
        p.send_line(&format!(
            "endpoint slow = http:client(\"http://127.0.0.1:{port}\", {{ timeout: 60s }});"
        ))
        .expect("send");
        next_prompt(&mut p);
        p.send_line("io:println(\"calling\"); json j = check slow->get(\"/never\");")
            .expect("send");
        p.exp_string("calling\r\n").expect("running");
        std::thread::sleep(std::time::Duration::from_millis(200));
        p.send_control('c').expect("ctrl-c");
        p.exp_string("interrupted").expect("cancelled");
        next_prompt(&mut p);
        p.send_line(":endpoints").expect("send");
        p.exp_string("in flight 0")
            .expect("the request was dropped");
        next_prompt(&mut p);
        p.send_control('d').expect("ctrl-d");
        p.exp_eof().expect("exit");
    }

    #[test]
    fn ctrl_c_cancels_a_running_input() {
        let dir = scratch("pty-cancel");
        let mut p = start(&dir);
        p.send_line("io:println(\"sleeping\"); time:sleep(60s);")
            .expect("send");
        p.exp_string("sleeping\r\n").expect("running");
        std::thread::sleep(std::time::Duration::from_millis(100));
        p.send_control('c').expect("ctrl-c");
        p.exp_string("interrupted").expect("cancelled");
        next_prompt(&mut p);
        p.send_line("2 * 21").expect("send");
        p.exp_string("42 : int").expect("session still works");
        next_prompt(&mut p);
        p.send_control('d').expect("ctrl-d");
        p.exp_eof().expect("exit");
    }
}

/// A loopback HTTP server answering every request with a JSON body that
/// echoes the path; returns its port and the request lines it saw.
fn echo_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut stream = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "" {
                        line.clear();
                    }
                    let path = request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_string();
                    log.lock()
                        .expect("log")
                        .push(request_line.trim().to_string());
                    let body = format!("{{\"n\":7,\"path\":\"{path}\"}}");
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn remote_calls_and_endpoint_state() {
    let (port, seen) = echo_server();
    let input = format!(
        "endpoint svc = http:client(\"http://127.0.0.1:{port}\");\njson j = check svc->get(\"/data\");\nj.n\nsvc->get(\"/again\")\n:endpoints\n"
    );
    let r = piped(&input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "7 : json");
    assert_eq!(lines[1], "{\"n\":7,\"path\":\"/again\"} : json|http:Error");
    assert!(
        lines[2].starts_with(&format!(
            "svc http://127.0.0.1:{port}/ CLOSED  calls 2, failures 0"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        *seen.lock().expect("log"),
        vec![
            "GET /data HTTP/1.1".to_string(),
            "GET /again HTTP/1.1".to_string()
        ]
    );
}
