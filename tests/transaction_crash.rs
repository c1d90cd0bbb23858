//! Crash recovery of transactions (§12.1): runs the `flow` binary on a
//! transaction with N compensations whose last forward call fails, and has
//! the recording server kill the process (SIGKILL) at a seeded random
//! point: when the k-th request arrives (before answering it) or a few
//! milliseconds after answering it. Then restarts the script (which does
//! no new work) and asserts that every compensation registered before the
//! crash ran at least once, last registered first in each run, always with
//! the same `Idempotency-Key`, and that a further restart sends nothing.

use rng::Rng;
use server::{Reply, Seen, Server};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "support/rng.rs"]
mod rng;
#[path = "support/server.rs"]
mod server;

const PROGRAM: &str = r#"import io;
import http;

configurable int port = 1;
configurable int n = 2;
configurable boolean work = true;

endpoint svc = http:client(`http://127.0.0.1:${port}`);

public function main() {
    if !work {
        return;
    }
    transaction {
        foreach int i in 1 ... n {
            check svc->post(`/step/${i}`, { i: i });
            compensate svc->post(`/undo/${i}`, { i: i });
        }
        check svc->post("/fail", {});
        check commit;
    } on fail var e {
        io:println("rolled back: ", e.message());
    }
}
"#;

/// When the server kills the running process.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// On the k-th request (1-based) of the run, before answering it.
    Before(usize),
    /// The given milliseconds after answering the k-th request.
    After(usize, u64),
}

#[derive(Default)]
struct Plan {
    kill: Option<Kill>,
    seen_in_run: usize,
    /// Which run the plan is for.
    run: usize,
}

/// The running process and the number of its run.
type Shared = Arc<Mutex<Option<(usize, Child)>>>;

/// Kills the process of run `run` if it is still the one running.
fn kill(child: &Shared, run: usize) {
    if let Ok(mut c) = child.lock() {
        if let Some((r, c)) = c.as_mut() {
            if *r == run {
                // SIGKILL on Unix.
                let _ = c.kill();
            }
        }
    }
}

fn flow(dir: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("FLOW_CONFIG_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs the binary to its end (or its death); returns the exit code
/// (`None` when killed) and stderr.
async fn run(child: &Shared, run: usize, mut cmd: Command) -> (Option<i32>, String) {
    let spawned = cmd.spawn().expect("start flow");
    *child.lock().expect("lock") = Some((run, spawned));
    loop {
        let done = {
            let mut c = child.lock().expect("lock");
            match c.as_mut().map(|(_, c)| c.try_wait()) {
                Some(Ok(Some(_))) | None | Some(Err(_)) => true,
                Some(Ok(None)) => false,
            }
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, c) = child.lock().expect("lock").take().expect("the child");
    let out = tokio::task::spawn_blocking(move || c.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The compensation requests among `seen`: (i of `/undo/i`, key).
fn undos(seen: &[Seen]) -> Vec<(usize, String)> {
    seen.iter()
        .filter_map(|s| {
            let i = s.target.strip_prefix("/undo/")?.parse().ok()?;
            let key = s.header("idempotency-key").unwrap_or_default().to_string();
            Some((i, key))
        })
        .collect()
}

fn strictly_decreasing(xs: &[usize]) -> bool {
    xs.windows(2).all(|w| w[0] > w[1])
}

#[tokio::test]
async fn killed_transactions_are_compensated_once_restarted() {
    let plan = Arc::new(Mutex::new(Plan::default()));
    let child: Shared = Arc::new(Mutex::new(None));
    let (p, c) = (plan.clone(), child.clone());
    let server = Server::start(move |_, s| {
        let action = {
            let mut plan = p.lock().expect("plan");
            plan.seen_in_run += 1;
            let run = plan.run;
            match plan.kill {
                Some(Kill::Before(k)) if k == plan.seen_in_run => Some((run, None)),
                Some(Kill::After(k, ms)) if k == plan.seen_in_run => Some((run, Some(ms))),
                _ => None,
            }
        };
        match action {
            Some((run, None)) => kill(&c, run),
            Some((run, Some(ms))) => {
                let c = c.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    kill(&c, run);
                });
            }
            None => {}
        }
        if s.target == "/fail" {
            Reply::json(500, "{}")
        } else {
            Reply::json(200, "{}")
        }
    })
    .await;
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/tmp-transaction-crash-tests")
        .join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&root);

    let mut rng = Rng(0x5eed_7a11_c0ff_ee01);
    let (mut killed, mut before) = (0, 0);
    for case in 0..24 {
        let n = 1 + rng.below(3);
        let total = 2 * n + 1; // n steps, the failing call, n compensations
        let k = 1 + rng.below(total);
        let point = if rng.below(2) == 0 {
            Kill::Before(k)
        } else {
            Kill::After(k, rng.below(20) as u64)
        };
        let dir = root.join(format!("case-{case}"));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        std::fs::write(dir.join("main.flow"), PROGRAM).expect("write the script");
        let args = |work: bool| -> Vec<String> {
            [
                "run",
                "-C",
                &format!("port={port}"),
                "-C",
                &format!("n={n}"),
                "-C",
                &format!("work={work}"),
                "main.flow",
            ]
            .map(str::to_string)
            .to_vec()
        };
        let what = format!("case {case}: n={n} {point:?}");

        // 1: killed somewhere.
        let first = 3 * case;
        *plan.lock().expect("plan") = Plan {
            kill: Some(point),
            seen_in_run: 0,
            run: first,
        };
        let start = server.count();
        let (code1, err1) = run(&child, first, flow(&dir, &args(true))).await;
        let run1 = server.seen()[start..].to_vec();
        if let Kill::Before(_) = point {
            assert_eq!(code1, None, "{what}: not killed: {err1}");
            before += 1;
        }
        killed += usize::from(code1.is_none());
        // 2: restarted without new work: recovers.
        *plan.lock().expect("plan") = Plan::default();
        let start = server.count();
        let (code2, err2) = run(&child, first + 1, flow(&dir, &args(false))).await;
        let run2 = server.seen()[start..].to_vec();
        assert_eq!(code2, Some(0), "{what}: {err2}");
        // 3: nothing left.
        let start = server.count();
        let (code3, err3) = run(&child, first + 2, flow(&dir, &args(false))).await;
        assert_eq!(code3, Some(0), "{what}: {err3}");
        assert_eq!(server.count(), start, "{what}: the third run sent requests");

        // A step's compensation is registered before the next request is
        // sent, so every step but the last request seen was registered;
        // the last one was too when it was answered (killed after it) or
        // the run ended by itself.
        let steps = |upto: usize| {
            run1[..upto]
                .iter()
                .filter(|s| s.target.starts_with("/step/"))
                .count()
        };
        let all = run1.len();
        let (low, high) = match (code1, point) {
            (Some(0), _) => (n, n),
            (_, Kill::Before(_)) => (steps(all.saturating_sub(1)), steps(all.saturating_sub(1))),
            (_, Kill::After(..)) => (steps(all.saturating_sub(1)), steps(all)),
        };
        let u1 = undos(&run1);
        let u2 = undos(&run2);
        assert!(
            run2.iter().all(|s| s.target.starts_with("/undo/")),
            "{what}: the restart did new work: {run2:?}"
        );
        let mut ran: Vec<usize> = u1.iter().chain(&u2).map(|u| u.0).collect();
        ran.sort();
        ran.dedup();
        let m = ran.len();
        assert!(
            ran == (1..=m).collect::<Vec<_>>() && (low..=high).contains(&m),
            "{what}: compensations run {ran:?}, expected 1..=m with m in {low}..={high}\nrun 1: {:?}\nrun 2: {:?}\n{err1}\n{err2}",
            u1,
            u2
        );
        let i1: Vec<usize> = u1.iter().map(|u| u.0).collect();
        let i2: Vec<usize> = u2.iter().map(|u| u.0).collect();
        assert!(strictly_decreasing(&i1), "{what}: run 1 order {i1:?}");
        assert!(strictly_decreasing(&i2), "{what}: run 2 order {i2:?}");
        // One transaction id; compensation i always has key <id>:i.
        let ids: Vec<&str> = u1
            .iter()
            .chain(&u2)
            .map(|(i, key)| {
                let (id, n) = key.rsplit_once(':').unwrap_or(("", ""));
                assert_eq!(n, i.to_string(), "{what}: key {key} for /undo/{i}");
                id
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]) && ids.iter().all(|i| !i.is_empty()),
            "{what}: keys {ids:?}"
        );
        if !u2.is_empty() {
            assert!(err2.contains("recovering transaction"), "{what}: {err2}");
        }
        if code1 == Some(0) {
            // Not killed in time: it rolled back by itself.
            assert!(u2.is_empty(), "{what}");
        }
        let list = flow(&dir, &["tx".into(), "list".into(), "main.flow".into()])
            .output()
            .expect("flow tx list");
        assert_eq!(
            String::from_utf8_lossy(&list.stdout),
            if m == 0 && u1.is_empty() && !dir.join(".flow").exists() {
                format!(
                    "no transactions ({} does not exist)\n",
                    std::fs::canonicalize(&dir)
                        .unwrap_or(dir.clone())
                        .join(".flow/transactions.db")
                        .display()
                )
            } else {
                "no unfinished transactions\n".to_string()
            },
            "{what}"
        );
    }
    // A kill before answering always lands; a delayed one may come after
    // the process has finished.
    assert!(
        before >= 8 && killed >= before,
        "{killed} killed, {before} before answering"
    );
    eprintln!("{killed} of 24 runs killed, {before} before answering a request");
    let _ = std::fs::remove_dir_all(&root);
}
