//! Issue 7 benchmark (not a test): the latency a transaction adds to two
//! remote calls. `benches/programs/tx_latency.flow` alternates, N times, two
//! sequential POSTs without a transaction and the same POSTs inside a
//! transaction that registers two compensations and commits (so five
//! durable log writes: two calls, two compensations, the commit), against a
//! loopback hyper server in this process; the log is a fresh file under
//! `target/bench/`.
//!
//!     cargo bench --bench transactions          # N = 1000
//!     N=200 cargo bench --bench transactions
//!     TX_LOG=/dev/shm/tx.db cargo bench --bench transactions   # log on tmpfs
//!
//! Prints p50 and p99 of both variants and their difference.

use std::path::Path;
use std::process::Command;

#[path = "support/fixed_server.rs"]
mod fixed_server;

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let port = fixed_server::start_server(b"{}", Some("application/json"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let log = std::env::var_os("TX_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench/tx-latency.db"));
    let _ = std::fs::create_dir_all(root.join("target/bench"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", log.display()));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args([
            "run",
            "--tx-log",
            &log.to_string_lossy(),
            "-C",
            &format!("port={port}"),
            "-C",
            &format!("n={n}"),
        ])
        .arg(root.join("benches/programs/tx_latency.flow"))
        .output()
        .expect("run flow");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flow failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut plain, mut tx): (Vec<f64>, Vec<f64>) = stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|x| x.parse::<f64>().ok());
            Some((it.next()??, it.next()??))
        })
        .unzip();
    plain.sort_by(f64::total_cmp);
    tx.sort_by(f64::total_cmp);
    let pct =
        |xs: &[f64], p: f64| xs[((xs.len() as f64 * p).ceil() as usize).clamp(1, xs.len()) - 1];
    println!("two POSTs to 127.0.0.1:{port}, {n} iterations of each variant (µs)");
    println!("                       p50       p99");
    println!(
        "no transaction   {:>9.0} {:>9.0}",
        pct(&plain, 0.5),
        pct(&plain, 0.99)
    );
    println!(
        "transaction      {:>9.0} {:>9.0}",
        pct(&tx, 0.5),
        pct(&tx, 0.99)
    );
    println!(
        "added            {:>9.0} {:>9.0}",
        pct(&tx, 0.5) - pct(&plain, 0.5),
        pct(&tx, 0.99) - pct(&plain, 0.99)
    );
}
