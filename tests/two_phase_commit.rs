//! Distributed transactions (§12.2) end to end: two participant processes
//! (`flow run` of a service with a transactional resource, on port 0) and
//! a coordinator process whose transaction calls both; their compensations
//! go to a recording server in the test. Crashes are simulated with the
//! runtime's `FLOW_TX_TEST_EXIT` hook (the process exits at that point).

#[path = "support/port_line.rs"]
mod port_line;
#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use server::{Reply, Server};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "support/server.rs"]
mod server;

const PARTICIPANT: &str = r#"import http;
import io;

configurable int port = 0;
configurable int sink = 1;
configurable boolean broken = false;

endpoint undo = http:client(`http://127.0.0.1:${sink}`);

final http:Listener l = http:listener(port, "127.0.0.1");

service on l {
    transactional post "/reserve/{item}" (string item) returns string|error {
        compensate undo->post(`/undo/${item}`, {});
        if broken {
            return error("out of stock");
        }
        return "reserved";
    }
}

public function main() {
    io:println("port=", http:listenerPort(l));
}
"#;

const COORDINATOR: &str = r#"import http;
import io;
import tx;

configurable int a = 1;
configurable int b = 1;
configurable boolean work = true;

endpoint pa = http:client(`http://127.0.0.1:${a}`);
endpoint pb = http:client(`http://127.0.0.1:${b}`);

public function main() {
    if !work {
        return;
    }
    transaction {
        string ra = check pa->post("/reserve/apple", {});
        string|error rb = pb->post("/reserve/pear", {});
        if rb is error {
            io:println("b failed");
        }
        io:println("a: ", ra);
        error? c = commit;
        if c is error {
            io:println("commit failed: ", c.message());
            io:println("heuristic: ", c is tx:HeuristicError);
            io:println("detail: ", c.detail());
        } else {
            io:println("committed");
        }
    } on fail var e {
        io:println("failed: ", e.message());
    }
}
"#;

fn scratch(name: &str) -> PathBuf {
    scratch_dir("2pc-tests", name)
}

fn flow(dir: &Path, args: &[String], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("FLOW_TX_PHASE2_DEADLINE_MS", "20000");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("FLOW_CONFIG_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// A running participant.
struct Participant {
    child: Option<Child>,
    port: u16,
}

impl Participant {
    /// Starts the participant script in `dir` (port 0 unless `port`).
    fn start(dir: &Path, sink: u16, fail: bool, port: u16, envs: &[(&str, &str)]) -> Participant {
        std::fs::write(dir.join("main.flow"), PARTICIPANT).expect("write the script");
        let args = [
            "run",
            "--trace",
            "-C",
            &format!("port={port}"),
            "-C",
            &format!("sink={sink}"),
            "-C",
            &format!("broken={fail}"),
            "main.flow",
        ]
        .map(str::to_string);
        let mut child = flow(dir, &args, envs).spawn().expect("start flow");
        let (port, _) = port_line::read_port_line(&mut child);
        Participant {
            child: Some(child),
            port,
        }
    }

    /// Waits until the process exits by itself (a simulated crash).
    fn wait_exit(&mut self) -> String {
        let child = self.child.take().expect("running");
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Kills the process; its stderr (the `--trace` lines).
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn coordinator_args(a: u16, b: u16, work: bool) -> Vec<String> {
    [
        "run",
        "-C",
        &format!("a={a}"),
        "-C",
        &format!("b={b}"),
        "-C",
        &format!("work={work}"),
        "main.flow",
    ]
    .map(str::to_string)
    .to_vec()
}

/// Runs the coordinator to its end: exit code, stdout, stderr.
fn run_coordinator(dir: &Path, args: &[String], envs: &[(&str, &str)]) -> (i32, String, String) {
    std::fs::write(dir.join("main.flow"), COORDINATOR).expect("write the script");
    let out = flow(dir, args, envs).output().expect("run flow");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn undos(sink: &Server) -> Vec<String> {
    let mut v: Vec<String> = sink
        .seen()
        .iter()
        .filter(|s| s.target.starts_with("/undo/"))
        .map(|s| s.target.clone())
        .collect();
    v.sort();
    v
}

fn sink_port(sink: &Server) -> u16 {
    sink.url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("sink port")
}

/// The recording server compensations go to, its port, and a scratch
/// directory with one folder per process: participants `a` and `b`, the
/// coordinator `c`.
async fn scene(name: &str) -> (Server, u16, PathBuf, [PathBuf; 3]) {
    let sink = Server::always(Reply::ok("{}")).await;
    let root = scratch(name);
    let dirs = ["a", "b", "c"].map(|d| root.join(d));
    for d in &dirs {
        std::fs::create_dir_all(d).expect("dir");
    }
    let p = sink_port(&sink);
    (sink, p, root, dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_participants_prepare_and_commit() {
    let (sink, p, root, [da, db, dc]) = scene("commit").await;
    let a = Participant::start(&da, p, false, 0, &[]);
    let b = Participant::start(&db, p, false, 0, &[]);
    let args = coordinator_args(a.port, b.port, true);
    let (code, out, err) = coordinate(&dc, args, &[]).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(out, "a: reserved\ncommitted\n", "stderr: {err}");
    for trace in [a.stop(), b.stop()] {
        assert!(trace.contains(": prepare\n"), "{trace}");
        assert!(trace.contains(": vote yes\n"), "{trace}");
        assert!(trace.contains(": commit\n"), "{trace}");
        assert!(!trace.contains(": abort\n"), "{trace}");
    }
    assert!(
        undos(&sink).is_empty(),
        "compensations ran: {:?}",
        undos(&sink)
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_prepare_aborts_everyone() {
    let (sink, p, root, [da, db, dc]) = scene("refuse").await;
    let a = Participant::start(&da, p, false, 0, &[]);
    let b = Participant::start(&db, p, true, 0, &[]);
    let args = coordinator_args(a.port, b.port, true);
    let (code, out, err) = coordinate(&dc, args, &[]).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.starts_with("b failed\na: reserved\ncommit failed: transaction "),
        "{out}"
    );
    assert!(
        out.contains(" aborted: participant http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("refused to prepare"), "{out}");
    assert!(
        out.ends_with("\nheuristic: false\ndetail: {\"outcome\":\"aborted\"}\n"),
        "{out}"
    );
    let (ta, tb) = (a.stop(), b.stop());
    assert!(
        ta.contains(": abort\n") && !ta.contains(": commit\n"),
        "{ta}"
    );
    assert!(tb.contains(": vote no\n"), "{tb}");
    assert_eq!(undos(&sink), vec!["/undo/apple", "/undo/pear"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_restarted_before_commit_completes() {
    let (sink, p, root, [da, db, dc]) = scene("participant-crash").await;
    let (mut a, b) = commit_crashing_pair(&da, &db, p);
    let port_a = a.port;
    let dc2 = dc.clone();
    let args = coordinator_args(a.port, b.port, true);
    let coordinator = tokio::task::spawn_blocking(move || run_coordinator(&dc2, &args, &[]));
    // A dies when the commit arrives (after it prepared).
    let crashed = tokio::task::spawn_blocking(move || a.wait_exit())
        .await
        .expect("join");
    assert!(crashed.contains(": vote yes\n"), "{crashed}");
    let a = Participant::start(&da, p, false, port_a, &[]);
    let (code, out, err) = coordinator.await.expect("join");
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(out, "a: reserved\ncommitted\n", "stderr: {err}");
    let ta = a.stop();
    assert!(ta.contains(": commit\n"), "{ta}");
    assert!(b.stop().contains(": commit\n"));
    assert!(
        undos(&sink).is_empty(),
        "compensations ran: {:?}",
        undos(&sink)
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_restarted_after_its_decision_completes() {
    let (sink, p, root, [da, db, dc]) = scene("coordinator-crash").await;
    let a = Participant::start(&da, p, false, 0, &[]);
    let b = Participant::start(&db, p, false, 0, &[]);
    let args = coordinator_args(a.port, b.port, true);
    let envs = &[("FLOW_TX_TEST_EXIT", "coordinator-decision")];
    let (code, out, _) = coordinate(&dc, args, envs).await;
    assert_eq!(code, 3, "the crash hook exits 3: {out}");
    assert_eq!(out, "a: reserved\n");
    let args = coordinator_args(a.port, b.port, false);
    let (code, out, err) = coordinate(&dc, args, &[]).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("(committing): 2 participants\n"), "{err}");
    assert!(err.ends_with(": committed\n"), "{err}");
    for trace in [a.stop(), b.stop()] {
        assert!(trace.contains(": vote yes\n"), "{trace}");
        assert!(trace.contains(": commit\n"), "{trace}");
    }
    assert!(
        undos(&sink).is_empty(),
        "compensations ran: {:?}",
        undos(&sink)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Sends `POST path` with `headers` to 127.0.0.1:`port`; the status line.
fn post(port: u16, path: &str, headers: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .ok();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_headers_a_transactional_resource_is_a_local_transaction() {
    let sink = Server::always(Reply::ok("{}")).await;
    let root = scratch("local");
    let (da, db) = (root.join("a"), root.join("b"));
    for d in [&da, &db] {
        std::fs::create_dir_all(d).expect("dir");
    }
    let p = sink_port(&sink);
    let ok = Participant::start(&da, p, false, 0, &[]);
    let broken = Participant::start(&db, p, true, 0, &[]);
    let (po, pb) = (ok.port, broken.port);
    let (a, b) = tokio::task::spawn_blocking(move || {
        (post(po, "/reserve/fig", ""), post(pb, "/reserve/kiwi", ""))
    })
    .await
    .expect("join");
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(
        !a.to_ascii_lowercase().contains("flow-tx-participant"),
        "{a}"
    );
    assert!(b.starts_with("HTTP/1.1 500"), "{b}");
    assert_eq!(undos(&sink), vec!["/undo/kiwi"]);
    // Control requests for unknown transactions: prepare is refused.
    let answer = tokio::task::spawn_blocking(move || post(po, "/.flow/tx/abc/prepare", ""))
        .await
        .expect("join");
    assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
    // A transaction id that cannot be one is refused before the resource runs.
    let answer = tokio::task::spawn_blocking(move || {
        post(pb, "/reserve/plum", "Flow-Tx-Id: not an id!\r\n")
    })
    .await
    .expect("join");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid Flow-Tx-Id header"), "{answer}");
    assert_eq!(undos(&sink), vec!["/undo/kiwi"], "the resource did not run");
    drop((ok, broken));
    let _ = std::fs::remove_dir_all(&root);
}

/// Runs the coordinator on a blocking thread (the test's servers keep
/// running on the runtime): exit code, stdout, stderr.
async fn coordinate(
    dir: &Path,
    args: Vec<String>,
    envs: &'static [(&'static str, &'static str)],
) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || run_coordinator(&dir, &args, envs))
        .await
        .expect("join")
}

/// `flow tx list [--all] main.flow` in `dir`: its stdout.
fn tx_list(dir: &Path, all: bool) -> String {
    let mut args = vec!["tx".to_string(), "list".to_string()];
    if all {
        args.push("--all".to_string());
    }
    args.push("main.flow".to_string());
    let out = flow(dir, &args, &[]).output().expect("run flow tx list");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{out:?}");
    stdout
}

/// The transaction a participant's `--trace` lines say it prepared.
fn traced_id(trace: &str) -> String {
    trace
        .lines()
        .find_map(|l| l.strip_prefix("trace: tx ")?.strip_suffix(": prepare"))
        .unwrap_or_else(|| panic!("no prepare traced: {trace}"))
        .to_string()
}

/// Participants A and B on port 0; A exits (the crash hook) when the
/// commit arrives, after it prepared.
fn commit_crashing_pair(da: &Path, db: &Path, sink: u16) -> (Participant, Participant) {
    let a = Participant::start(
        da,
        sink,
        false,
        0,
        &[("FLOW_TX_TEST_EXIT", "participant-commit")],
    );
    (a, Participant::start(db, sink, false, 0, &[]))
}

/// A scripted participant: `POST /reserve/{item}` joins the transaction
/// (naming itself by the request's host, as a Flow service does), prepare
/// votes yes, `/commit` is answered with `commit`, `/abort` acknowledged.
async fn fake_participant(commit: Reply) -> Server {
    Server::start(move |_, seen| {
        let path = seen.target.as_str();
        if path.starts_with("/reserve/") {
            let host = seen.header("host").unwrap_or_default();
            Reply::ok("reserved").header("Flow-Tx-Participant", &format!("http://{host}"))
        } else if path.ends_with("/prepare") {
            Reply::json(200, r#"{"vote":"yes"}"#)
        } else if path.ends_with("/commit") {
            commit.clone()
        } else if path.ends_with("/abort") {
            Reply::json(200, r#"{"outcome":"aborted"}"#)
        } else {
            Reply::status(404)
        }
    })
    .await
}

/// `METHOD target` of each request `server` saw.
fn requests(server: &Server) -> Vec<String> {
    server
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_refusing_the_commit_is_a_mixed_outcome() {
    let (sink, p, root, [da, _, dc]) = scene("mixed").await;
    let a = Participant::start(&da, p, false, 0, &[]);
    // B prepared, then answers the commit with another outcome.
    let b = fake_participant(Reply::json(409, r#"{"outcome":"aborted"}"#)).await;
    let args = coordinator_args(a.port, sink_port(&b), true);
    let (code, out, err) = coordinate(&dc, args, &[]).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let seen = b.seen();
    let id = seen
        .first()
        .and_then(|s| s.header("flow-tx-id"))
        .expect("the call carries Flow-Tx-Id")
        .to_string();
    assert!(seen[0].header("flow-tx-coordinator").is_some(), "{seen:?}");
    assert_eq!(
        requests(&b),
        [
            "POST /reserve/pear".to_string(),
            format!("POST /.flow/tx/{id}/prepare"),
            format!("POST /.flow/tx/{id}/commit"),
        ]
    );
    let problem = format!(r#"{}: {{"outcome":"aborted"}}"#, b.url());
    let detail = serde_json::json!({ "outcome": "mixed", "problems": [problem] });
    assert_eq!(
        out,
        format!(
            "a: reserved\ncommit failed: transaction {id}: outcome mixed\n\
             heuristic: true\ndetail: {detail}\n"
        ),
        "stderr: {err}"
    );
    assert!(
        err.contains(&format!(
            "level=warn msg={:?} tx={id}\n",
            format!("participant not committed: {problem}")
        )),
        "{err}"
    );
    let ta = a.stop();
    assert_eq!(traced_id(&ta), id);
    assert!(
        ta.contains(": vote yes\n") && ta.contains(": commit\n"),
        "{ta}"
    );
    assert!(!ta.contains(": abort\n"), "{ta}");
    assert!(
        undos(&sink).is_empty(),
        "compensations ran: {:?}",
        undos(&sink)
    );
    let list = tx_list(&dc, false);
    assert!(
        list.starts_with(&format!("{id} mixed attempt=0 started=")),
        "{list}"
    );
    assert_eq!(list.lines().count(), 1, "{list}");
    // The decision was commit: recovery must not roll it back.
    let recover = ["tx", "recover", "main.flow"].map(String::from);
    let out = flow(&dc, &recover, &[])
        .output()
        .expect("run flow tx recover");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(requests(&b).len(), 3, "recovery told B: {:?}", requests(&b));
    assert_eq!(tx_list(&dc, false), list);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_unreachable_at_commit_is_a_hazard_until_recovery() {
    let (sink, p, root, [da, db, dc]) = scene("hazard").await;
    // A dies when the commit arrives (after it prepared) and stays down.
    let (mut a, b) = commit_crashing_pair(&da, &db, p);
    let port_a = a.port;
    let args = coordinator_args(port_a, b.port, true);
    let envs = &[("FLOW_TX_PHASE2_DEADLINE_MS", "300")];
    let (code, out, err) = coordinate(&dc, args, envs).await;
    let crashed = a.wait_exit();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let id = traced_id(&crashed);
    assert!(crashed.contains(": vote yes\n"), "{crashed}");
    let problem = format!("http://127.0.0.1:{port_a}: ");
    let head = format!(
        "a: reserved\ncommit failed: transaction {id}: outcome hazard\nheuristic: true\ndetail: "
    );
    let detail: serde_json::Value = out
        .strip_prefix(&head)
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_else(|| panic!("{out}\nstderr: {err}"));
    assert_eq!(detail["outcome"], "hazard", "{out}");
    // Only A is in doubt (B acknowledged the commit).
    let problems = detail["problems"].as_array().map(Vec::as_slice);
    assert!(
        matches!(problems, Some([serde_json::Value::String(p)]) if p.starts_with(&problem)),
        "{out}"
    );
    assert!(
        err.contains(&format!("msg=\"participant not committed: {problem}")),
        "{err}"
    );
    // The decision stays `committing` (unfinished, so listed without
    // `--all`) for the next start to finish.
    let list = tx_list(&dc, false);
    assert!(
        list.starts_with(&format!("{id} committing attempt=0 started=")),
        "{list}"
    );
    let a = Participant::start(&da, p, false, port_a, &[]);
    let args = coordinator_args(port_a, b.port, false);
    let (code, out, err) = coordinate(&dc, args, &[]).await;
    assert_eq!((code, out.as_str()), (0, ""), "stderr: {err}");
    assert!(
        err.contains(&format!(
            "flow: recovering transaction {id} (committing): 2 participants\n\
             flow:   commit http://127.0.0.1:{port_a}: done\n"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("flow: transaction {id}: committed\n")),
        "{err}"
    );
    let ta = a.stop();
    assert!(
        ta.contains(": commit\n") && !ta.contains(": abort\n"),
        "{ta}"
    );
    let tb = b.stop();
    assert_eq!(traced_id(&tb), id);
    assert!(
        tb.contains(": commit\n") && !tb.contains(": abort\n"),
        "{tb}"
    );
    let list = tx_list(&dc, true);
    assert!(
        list.starts_with(&format!("{id} committed attempt=0 started=")),
        "{list}"
    );
    assert!(
        undos(&sink).is_empty(),
        "compensations ran: {:?}",
        undos(&sink)
    );
    let _ = std::fs::remove_dir_all(&root);
}
