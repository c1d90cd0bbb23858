//! The `retry` and `timeout` statements (§9.6) end to end with tokio's
//! paused clock: each program runs in-process, and the test asserts what it
//! printed and exactly how much (virtual) time it took, which is the sum of
//! the backoff waits and time limits.

#[path = "support/paused.rs"]
mod paused;

use paused::{run, MS};

#[tokio::test(start_paused = true)]
async fn retry_waits_the_exact_backoff_without_jitter() {
    let (out, ok, elapsed) = run(r#"
import io;
public function main() {
    int runs = 0;
    retry (count = 4, interval = 20ms, backOffFactor = 3.0, maxWaitInterval = 100ms, jitter = "none") {
        runs += 1;
        fail error("no");
    } on fail var e {
        io:println(e.message(), " ", runs);
    }
}
"#)
    .await;
    assert_eq!(out, "no 5\n");
    assert!(ok);
    // 20 + 60 + 100 (capped) + 100.
    assert_eq!(elapsed, 280 * MS);
}

#[tokio::test(start_paused = true)]
async fn retry_stops_waiting_once_a_run_succeeds() {
    let (out, ok, elapsed) = run(r#"
import io;
int runs = 0;
public function main() returns error? {
    retry (count = 5, interval = 10ms, jitter = "none") {
        runs += 1;
        if runs < 3 {
            fail error("no");
        }
    }
    io:println(runs);
}
"#)
    .await;
    assert_eq!(out, "3\n");
    assert!(ok);
    assert_eq!(elapsed, 30 * MS);
}

#[tokio::test(start_paused = true)]
async fn retry_waits_stay_within_the_jitter_bounds() {
    // Full jitter: each wait in [0, base]; equal: [base / 2, base].
    for (jitter, low, high) in [("full", 0, 70), ("equal", 35, 70)] {
        let source = format!(
            r#"
public function main() returns error? {{
    retry (count = 2, interval = 10ms, backOffFactor = 6.0, jitter = "{jitter}") {{
        fail error("no");
    }} on fail var e {{
    }}
}}
"#
        );
        let (_, ok, elapsed) = run(&source).await;
        assert!(ok);
        assert!(
            elapsed >= low * MS && elapsed <= high * MS,
            "{jitter}: {elapsed:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_the_body_at_the_limit() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;
public function main() {
    timeout (50ms) {
        time:sleep(10s);
        io:println("not reached");
    } on fail var e {
        io:println(e.message());
    }
}
"#)
    .await;
    assert_eq!(out, "timed out after 50ms\n");
    assert!(ok);
    assert_eq!(elapsed, 50 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_quick_body_takes_its_own_time() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;
public function main() {
    int n = 0;
    timeout (1s) {
        time:sleep(30ms);
        n = 1;
    } on fail var e {
        io:println(e.message());
    }
    io:println(n);
}
"#)
    .await;
    assert_eq!(out, "1\n");
    assert!(ok);
    assert_eq!(elapsed, 30 * MS);
}

#[tokio::test(start_paused = true)]
async fn nested_timeouts_fire_in_order() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;
public function main() {
    timeout (100ms) {
        timeout (20ms) {
            time:sleep(10s);
        } on fail var e {
            io:println("inner: ", e.message());
        }
        time:sleep(10s);
    } on fail var e {
        io:println("outer: ", e.message());
    }
}
"#)
    .await;
    assert_eq!(
        out,
        "inner: timed out after 20ms\nouter: timed out after 100ms\n"
    );
    assert!(ok);
    assert_eq!(elapsed, 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn retry_re_runs_a_body_that_timed_out() {
    let (out, ok, elapsed) = run(r#"
import io;
import time;
public function main() returns error? {
    int runs = 0;
    retry (count = 2, interval = 5ms, jitter = "none") {
        runs += 1;
        timeout (20ms) {
            time:sleep(10s);
        }
    } on fail var e {
        io:println(e.message(), " after ", runs, " runs");
    }
}
"#)
    .await;
    assert_eq!(out, "timed out after 20ms after 3 runs\n");
    assert!(ok);
    // Three timed-out runs and the waits of 5ms and 10ms between them.
    assert_eq!(elapsed, 75 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_without_handler_returns_the_error() {
    let (_, ok, elapsed) = run(r#"
import time;
public function main() returns error? {
    timeout (15ms) {
        time:sleep(10s);
    }
}
"#)
    .await;
    assert!(!ok);
    assert_eq!(elapsed, 15 * MS);
}
