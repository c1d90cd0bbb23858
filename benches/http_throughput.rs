//! Issue 5 benchmark (not a test): requests per second of Flow GETs through
//! an endpoint with retry, circuit breaker and bulkhead, against plain Rust
//! reqwest, both hitting the same loopback hyper server (in this process);
//! each client runs as its own process on a single-threaded tokio runtime
//! (the Flow VM's model). Measured at concurrency 1 (a sequential loop) and
//! 64 (64 strands / 64 tokio tasks, each doing N/64 sequential GETs).
//!
//!     cargo bench --bench http_throughput            # 20,000 requests
//!     N=5000 CONCURRENCY=64 cargo bench --bench http_throughput
//!     SERVE_ONLY=1 cargo bench --bench http_throughput   # just the server (profiling)
//!     PIN=1 cargo bench --bench http_throughput          # server on CPU 0, clients on CPU 1
//!     FLOOR_GATEWAY_PORT=P BACKEND_PORT=B <bench binary>  # the Rust gateway of `FLOOR=1 benches/gateway.sh`
//!     AB="/tmp/flow-old target/release/flow" cargo bench --bench http_throughput  # compare builds
//!     AB="rust:transport rust:endpoint rust:policy target/release/flow" cargo bench --bench http_throughput
//!
//! `AB` compares `flow` builds finely enough to see a 2% difference on a
//! noisy machine: ROUNDS rounds (default 60) of N GETs (default 5,000) by
//! the reqwest loop, each build in turn and the reqwest loop again. A
//! build is a `flow` binary's path, or `rust:transport`, `rust:endpoint`
//! or `rust:policy` for part of Flow's call path driven from Rust without
//! the VM (sequential only): Flow's reqwest transport alone, an endpoint
//! with the default policy, or one with `http_loop.flow`'s policy. With
//! two builds, swap their order and run again: the first build of a round
//! was about 1% slower in an A/A run (docs/PERFORMANCE.md, "Session 9").
//!
//! With `PIN=1` (needs `taskset`) the server and the clients never share a
//! core or migrate, so each client's own CPU cost decides its rate
//! (docs/PERFORMANCE.md, "Session 6").
//!
//! Prints per concurrency: requests per second of each client in each of
//! ROUNDS rounds (default 9; the clients alternate, and which one runs
//! first alternates too), their medians, the ratio of the medians (the
//! target is 0.9 or more), the median of the per-round ratios and a 95%
//! bootstrap interval for that median.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/fixed_server.rs"]
mod fixed_server;

#[path = "support/floor_gateway.rs"]
mod floor_gateway;

fn main() {
    let builds: Option<Vec<String>> = std::env::var("AB")
        .ok()
        .map(|v| v.split_whitespace().map(String::from).collect());
    let default_n = if builds.is_some() { 5_000 } else { 20_000 };
    let n: usize = env_parse("N").unwrap_or(default_n);
    let levels: Vec<usize> = match std::env::var("CONCURRENCY") {
        Ok(v) => v.split(',').filter_map(|c| c.trim().parse().ok()).collect(),
        Err(_) => vec![1, 64],
    };
    if let Some(port) = env_parse::<u16>("REQWEST_CLIENT_PORT") {
        // Child mode: the reqwest clients as their own process, like `flow`.
        let workers = levels.first().copied().unwrap_or(1);
        println!("{}", reqwest_loop(port, n, workers).as_micros());
        return;
    }
    if let Some(port) = env_parse::<u16>("LAYERS_CLIENT_PORT") {
        // Child mode: part of Flow's call path from Rust (`AB=rust:...`).
        let Some(layers) = Layers::from_env() else {
            eprintln!("LAYERS is transport, endpoint or policy");
            std::process::exit(2);
        };
        println!("{}", layers_loop(port, n, layers).as_micros());
        return;
    }
    if let (Some(port), Some(backend)) = (
        env_parse::<u16>("FLOOR_GATEWAY_PORT"),
        env_parse::<u16>("BACKEND_PORT"),
    ) {
        // Gateway mode (benches/gateway.sh with FLOOR=1).
        floor_gateway::serve(port, backend);
    }
    if pinned() {
        // Before the server thread starts, so that it inherits CPU 0.
        pin_self_to_cpu0();
    }
    let port = fixed_server::start_server(b"pong", None);
    if std::env::var_os("SERVE_ONLY").is_some() {
        // For profiling: serve until killed.
        println!("listening on 127.0.0.1:{port}");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let default_rounds = if builds.is_some() { 60 } else { 9 };
    let rounds: usize = env_parse("ROUNDS").unwrap_or(default_rounds).max(1);
    if let Some(builds) = builds {
        let workers = levels.first().copied().unwrap_or(1);
        compare_builds(port, n, workers, rounds, &builds);
        return;
    }
    let rps = |d: Duration| n as f64 / d.as_secs_f64();
    for workers in levels {
        let placement = if pinned() {
            ", server on CPU 0, clients on CPU 1"
        } else {
            ""
        };
        println!(
            "GETs to 127.0.0.1:{port}, concurrency {workers}, {n} requests, {rounds} rounds{placement}"
        );
        // Rounds alternate the two clients so that a burst of load from
        // elsewhere on the machine hits both; the medians are compared.
        let (mut rust_rps, mut flow_rps, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=rounds {
            // Both clients run as separate processes against the server in
            // this one, so they pay the same cross-process costs. Which
            // one runs first alternates, so that an effect of the order
            // (about 1% in an A/A run, docs/PERFORMANCE.md "Session 9")
            // cancels out.
            let (rust, flow) = if round % 2 == 1 {
                let rust = rps(reqwest_process(port, n, workers));
                (rust, rps(flow_loop(port, n, workers)))
            } else {
                let flow = rps(flow_loop(port, n, workers));
                (rps(reqwest_process(port, n, workers)), flow)
            };
            println!(
                "  round {round}: reqwest {rust:>8.0} req/s, flow endpoint {flow:>8.0} req/s ({:.2})",
                flow / rust
            );
            rust_rps.push(rust);
            flow_rps.push(flow);
            ratios.push(flow / rust);
        }
        let (rust, flow) = (median(&mut rust_rps), median(&mut flow_rps));
        println!("reqwest      : {rust:>9.0} req/s (median)");
        println!("flow endpoint: {flow:>9.0} req/s (median; retry + breaker + bulkhead)");
        println!("flow / reqwest: {:.2} (target >= 0.90)", flow / rust);
        // A round's two runs are adjacent in time, so load from elsewhere
        // on the machine hits both alike.
        let (low, high) = median_interval(&ratios);
        println!(
            "median of the per-round ratios: {:.2} (95% interval {low:.2}-{high:.2})",
            median(&mut ratios)
        );
    }
}

/// A 95% bootstrap interval for the median of `values`: the medians of
/// 2,000 resamples (with replacement, fixed seed), their 2.5th and 97.5th
/// percentiles. It says how far another run of as many rounds may land.
fn median_interval(values: &[f64]) -> (f64, f64) {
    use rand::{RngExt, SeedableRng};
    const RESAMPLES: usize = 2000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let mut sample: Vec<f64> = (0..values.len())
                .map(|_| values[rng.random_range(0..values.len())])
                .collect();
            median(&mut sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    (
        medians[RESAMPLES / 40],
        medians[RESAMPLES - 1 - RESAMPLES / 40],
    )
}

/// The median of `values` (sorted in place; the mean of the middle two
/// for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The environment variable `name` parsed as a `T` (a port, a count).
fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Whether `PIN=1` asked for the server and the clients on separate cores.
fn pinned() -> bool {
    std::env::var("PIN").is_ok_and(|v| v == "1")
}

/// Pins this process (and the threads it starts later) to CPU 0.
fn pin_self_to_cpu0() {
    let pid = std::process::id().to_string();
    let ok = Command::new("taskset")
        .args(["-p", "-c", "0", &pid])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "PIN=1 needs `taskset` (util-linux) and a second core");
}

/// A command running `program`, on CPU 1 when pinned.
fn client_command(program: &std::ffi::OsStr) -> Command {
    if pinned() {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// `n` GETs with one reqwest client, by `workers` tasks each doing its
/// share sequentially; the elapsed time.
fn reqwest_loop(port: u16, n: usize, workers: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async move {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/ping");
        let started = Instant::now();
        let tasks: Vec<_> = (0..workers.max(1))
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    for _ in 0..n / workers.max(1) {
                        let body = client
                            .get(&url)
                            .send()
                            .await
                            .expect("GET")
                            .text()
                            .await
                            .expect("body");
                        assert_eq!(body, "pong");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client task");
        }
        started.elapsed()
    })
}

/// The reqwest loop run as a child process (this benchmark binary in child
/// mode); its own measurement of the loop.
fn reqwest_process(port: u16, n: usize, workers: usize) -> Duration {
    child_loop(&[
        ("REQWEST_CLIENT_PORT", port.to_string()),
        ("N", n.to_string()),
        ("CONCURRENCY", workers.to_string()),
    ])
}

/// This benchmark binary in a child mode chosen by `env`; the loop's own
/// measurement (microseconds on stdout).
fn child_loop(env: &[(&str, String)]) -> Duration {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let out = client_command(exe.as_os_str())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the benchmark's client");
    let micros: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("elapsed microseconds on stdout");
    Duration::from_micros(micros)
}

/// The Flow program's own measurement of its loop (start-up excluded),
/// run by this crate's `flow`.
fn flow_loop(port: u16, n: usize, workers: usize) -> Duration {
    flow_build_loop(env!("CARGO_BIN_EXE_flow").as_ref(), port, n, workers)
}

/// [`flow_loop`] run by the `flow` binary at `flow`.
fn flow_build_loop(flow: &std::ffi::OsStr, port: u16, n: usize, workers: usize) -> Duration {
    let program = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/programs/http_loop.flow"
    );
    let out = client_command(flow)
        .args([
            "run",
            "-C",
            &format!("port={port}"),
            "-C",
            &format!("n={n}"),
            "-C",
            &format!("workers={workers}"),
            program,
        ])
        .output()
        .expect("run flow");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flow failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let ms: u64 = stdout
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("elapsed milliseconds on stdout");
    Duration::from_millis(ms)
}

/// Which part of Flow's call path [`layers_loop`] runs.
#[derive(Clone, Copy)]
enum Layers {
    /// Flow's reqwest transport alone (`Transport::send`).
    Transport,
    /// An endpoint with the default policy (a 30 s timeout, nothing else).
    Endpoint,
    /// An endpoint with `http_loop.flow`'s policy (timeout, retry, circuit
    /// breaker, bulkhead).
    Policy,
}

impl Layers {
    /// From the `LAYERS` environment variable (default: `policy`).
    fn from_env() -> Option<Layers> {
        match std::env::var("LAYERS").as_deref() {
            Ok("transport") => Some(Layers::Transport),
            Ok("endpoint") => Some(Layers::Endpoint),
            Ok("policy") | Err(_) => Some(Layers::Policy),
            Ok(_) => None,
        }
    }
}

/// What [`layers_loop`] calls.
enum Caller {
    /// The transport, with the request's URL.
    Transport(
        flow::runtime::http::ReqwestTransport,
        flow::runtime::http::Url,
    ),
    /// An endpoint (through `Client`, as the VM calls it).
    Endpoint(flow::runtime::http::Client),
}

/// The endpoint policy `benches/programs/http_loop.flow` declares, for the
/// service at `base`.
fn http_loop_policy(base: String) -> flow::runtime::http::EndpointConfig {
    use flow::runtime::http::{BreakerPolicy, EndpointConfig, RetryPolicy};
    use flow::runtime::resilience::BulkheadConfig;
    let mut config = EndpointConfig::new(base);
    config.timeout = Duration::from_secs(2);
    let mut retry = RetryPolicy::with_count(2);
    retry.config.interval = Duration::from_millis(10);
    config.retry = Some(retry);
    let mut breaker = BreakerPolicy::default();
    breaker.config.failure_threshold = 0.5;
    config.circuit_breaker = Some(breaker);
    config.bulkhead = Some(BulkheadConfig {
        max_concurrent: 64,
        max_wait: Duration::ZERO,
    });
    config
}

/// `n` sequential GETs of `/ping` from Rust through part of Flow's call
/// path, without the VM: how much of Flow's time each layer takes
/// (`AB="rust:transport rust:endpoint rust:policy ..."`).
fn layers_loop(port: u16, n: usize, layers: Layers) -> Duration {
    use flow::runtime::http::{
        Client, Endpoint, EndpointConfig, HostPolicy, Method, Outgoing, Request, ReqwestTransport,
        Transport, Url,
    };
    let base = format!("http://127.0.0.1:{port}");
    let endpoint = |config| {
        Caller::Endpoint(Client::from(
            Endpoint::builder(config)
                .env_proxy(false)
                .build()
                .expect("endpoint"),
        ))
    };
    let caller = match layers {
        Layers::Transport => Caller::Transport(
            ReqwestTransport::new(HostPolicy::any(), false).expect("transport"),
            Url::parse(&format!("{base}/ping")).expect("url"),
        ),
        Layers::Endpoint => endpoint(EndpointConfig::new(base)),
        Layers::Policy => endpoint(http_loop_policy(base)),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async move {
        let started = Instant::now();
        for _ in 0..n {
            let body = match &caller {
                Caller::Transport(transport, url) => {
                    let outgoing = Outgoing {
                        method: Method::GET,
                        url: url.clone(),
                        headers: Vec::new(),
                        body: None,
                        max_response_bytes: 10 << 20,
                    };
                    transport.send(outgoing).await.expect("GET").body
                }
                Caller::Endpoint(client) => {
                    let req = Request::new(Method::GET, "/ping");
                    client.call_ref(&req).await.expect("GET").body
                }
            };
            assert_eq!(body, b"pong");
        }
        started.elapsed()
    })
}

/// One run of a build in [`compare_builds`]: a `flow` binary's path, or
/// `rust:LAYERS` for part of Flow's call path from Rust ([`layers_loop`];
/// sequential only).
fn build_loop(build: &str, port: u16, n: usize, workers: usize) -> Duration {
    match build.strip_prefix("rust:") {
        Some(layers) => child_loop(&[
            ("LAYERS_CLIENT_PORT", port.to_string()),
            ("LAYERS", layers.to_string()),
            ("N", n.to_string()),
        ]),
        None => flow_build_loop(build.as_ref(), port, n, workers),
    }
}

/// `AB` mode: `rounds` rounds of the reqwest loop, each build in turn and
/// the reqwest loop again. Prints per build its median time and the median
/// of its per-round ratios to the mean of the round's two reqwest runs,
/// with a 95% interval; for two builds also their per-round time ratio.
fn compare_builds(port: u16, n: usize, workers: usize, rounds: usize, builds: &[String]) {
    println!("{n} GETs, concurrency {workers}, {rounds} rounds of: reqwest, each build, reqwest");
    let mut reqwest_ms = Vec::new();
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); builds.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); builds.len()];
    for round in 1..=rounds {
        let before = reqwest_process(port, n, workers);
        let runs: Vec<Duration> = builds
            .iter()
            .map(|b| build_loop(b, port, n, workers))
            .collect();
        let reqwest = (before + reqwest_process(port, n, workers)) / 2;
        reqwest_ms.push(reqwest.as_secs_f64() * 1e3);
        for (i, run) in runs.iter().enumerate() {
            ms[i].push(run.as_secs_f64() * 1e3);
            ratios[i].push(reqwest.as_secs_f64() / run.as_secs_f64());
        }
        eprint!("\rround {round}/{rounds}");
    }
    eprintln!();
    println!("reqwest: median {:.0} ms", median(&mut reqwest_ms));
    for (i, build) in builds.iter().enumerate() {
        let (low, high) = median_interval(&ratios[i]);
        println!(
            "{build}: median {:.0} ms, flow/reqwest {:.3} (95% interval {low:.3}-{high:.3})",
            // A copy: the pair ratio below needs the rounds in order.
            median(&mut ms[i].clone()),
            median(&mut ratios[i])
        );
    }
    if let [first, second] = builds {
        let mut times: Vec<f64> = ms[0].iter().zip(&ms[1]).map(|(a, b)| a / b).collect();
        let (low, high) = median_interval(&times);
        println!(
            "time {first} / {second}: {:.3} (95% interval {low:.3}-{high:.3})",
            median(&mut times)
        );
    }
}
