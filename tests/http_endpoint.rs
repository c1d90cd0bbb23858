//! The HTTP endpoint engine (`flow::runtime::http`) against an in-process
//! server on 127.0.0.1, scripted per test (status sequences, delays,
//! dropped connections, `Retry-After`) and recording what it saw.
//!
//! Network tests run in real time with small durations (a paused tokio
//! clock would auto-advance while a real socket is waiting); the exact
//! timing of the retry, deadline and hedging logic is asserted on a paused
//! clock with a scripted [`Transport`] instead.

use flow::runtime::http::{
    Algorithm, AttemptOutcome, Body, BreakerPolicy, CallError, Client, Collector, Endpoint,
    EndpointConfig, ErrorKind, Failover, FailoverConfig, HedgeConfig, LoadBalance,
    LoadBalanceConfig, Method, Outgoing, Redactor, Request, Response, RetryPolicy, TraceEvent,
    TraceSink, Transport, TransportError, TransportFuture,
};
use flow::runtime::resilience::{
    BulkheadConfig, CircuitBreakerConfig, Jitter, RateLimitConfig, RetryBudgetConfig, RetryConfig,
    State, TimeLimit,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

#[path = "support/server.rs"]
mod server;

use server::{Reply, Server};

fn endpoint(config: EndpointConfig, name: &str) -> Endpoint {
    Endpoint::builder(config)
        .name(name)
        .env_proxy(false)
        .build()
        .expect("valid config")
}

fn traced(config: EndpointConfig, name: &str, sink: &Arc<Collector>) -> Endpoint {
    Endpoint::builder(config)
        .name(name)
        .env_proxy(false)
        .trace(sink.clone())
        .build()
        .expect("valid config")
}

/// `count` retries, the first after `interval`, doubling, no jitter, no
/// budget.
fn retry(count: u32, interval: Duration) -> RetryPolicy {
    RetryPolicy {
        config: RetryConfig {
            count,
            interval,
            back_off_factor: 2.0,
            max_wait_interval: Duration::from_secs(10),
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryPolicy::default()
    }
}

fn config(url: &str) -> EndpointConfig {
    EndpointConfig::new(url)
}

fn expect_err(result: Result<Response, CallError>) -> CallError {
    match result {
        Ok(r) => panic!("expected an error, got status {}", r.status),
        Err(e) => e,
    }
}

fn expect_ok(result: Result<Response, CallError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => panic!("expected a response, got {e}"),
    }
}

// ---------------------------------------------------------------- requests

#[tokio::test]
async fn sends_endpoint_and_request_headers_query_and_a_json_body() {
    let server = Server::always(Reply::json(201, r#"{"id": 7}"#)).await;
    let mut c = config(&format!("{}/api", server.url()));
    c.headers = vec![
        ("x-tenant".into(), "acme".into()),
        ("x-version".into(), "1".into()),
    ];
    let ep = endpoint(c, "users");
    let req = Request::post("/users", Body::Json(serde_json::json!({"name": "Ada"})))
        .query("dry run", "yes&no")
        .header("X-Version", "2");
    let response = expect_ok(ep.call(req).await);
    assert_eq!(response.status, 201);
    assert!(response.is_json());
    assert_eq!(response.json().ok(), Some(serde_json::json!({"id": 7})));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.method, "POST");
    assert_eq!(s.target, "/api/users?dry+run=yes%26no");
    assert_eq!(s.header("content-type"), Some("application/json"));
    assert_eq!(s.header("x-tenant"), Some("acme"));
    // The request's header replaces the endpoint's.
    assert_eq!(s.header("x-version"), Some("2"));
    assert_eq!(
        s.headers.iter().filter(|(n, _)| n == "x-version").count(),
        1
    );
    assert_eq!(s.body, br#"{"name":"Ada"}"#.to_vec());
}

#[tokio::test]
async fn every_call_reaches_its_own_path_past_the_joined_url_cache() {
    // The endpoint keeps the joined URLs of its last 8 paths: 12 paths
    // evict some, and calls with a query bypass the cache.
    let server = Server::always(Reply::ok("ok")).await;
    let ep = endpoint(config(&format!("{}/api", server.url())), "paths");
    let mut expected = Vec::new();
    for round in 0..2 {
        for i in 0..12 {
            let path = format!("/p{i}");
            expect_ok(ep.call(Request::get(&path)).await);
            expected.push(format!("/api{path}"));
            if i % 5 == 0 {
                let req = Request::get(&path).query("round", round.to_string());
                expect_ok(ep.call(req).await);
                expected.push(format!("/api{path}?round={round}"));
            }
        }
    }
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, expected);
}

#[tokio::test]
async fn a_text_body_is_sent_as_text_plain() {
    let server = Server::always(Reply::ok("fine").header("content-type", "text/plain")).await;
    let ep = endpoint(config(&server.url()), "echo");
    let req = Request::put("/note", Body::Text("héllo".into()));
    let response = expect_ok(ep.call(req).await);
    assert_eq!(response.text(), "fine");
    assert!(!response.is_json());
    let seen = server.seen();
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(
        seen[0].header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(seen[0].body, "héllo".as_bytes().to_vec());
}

#[tokio::test]
async fn statuses_of_400_and_above_are_errors_unless_raw_responses_are_asked_for() {
    let server =
        Server::always(Reply::json(404, r#"{"error": "no such user"}"#).header("x-trace", "abc"))
            .await;
    let ep = endpoint(config(&server.url()), "users");
    let e = expect_err(ep.call(Request::get("/users/9")).await);
    assert_eq!(e.kind.type_name(), "http:StatusError");
    assert_eq!(e.attempts, 1);
    let r = e.response().expect("status detail");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-trace"), Some("abc"));
    assert_eq!(
        r.json().ok(),
        Some(serde_json::json!({"error": "no such user"}))
    );
    assert_eq!(e.to_string(), "status 404 Not Found");

    let raw = expect_ok(ep.call(Request::get("/users/9").raw()).await);
    assert_eq!(raw.status, 404);
    let stats = ep.stats();
    assert_eq!((stats.calls, stats.failures), (2, 2));
}

#[tokio::test]
async fn an_invalid_request_is_refused_without_sending() {
    let server = Server::always(Reply::ok("")).await;
    let ep = endpoint(config(&server.url()), "x");
    let e = expect_err(ep.call(Request::get("/").header("bad name", "v")).await);
    assert!(matches!(e.kind, ErrorKind::InvalidRequest { .. }), "{e:?}");
    assert_eq!(e.kind.type_name(), "http:Error");
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn calls_share_one_keep_alive_connection() {
    let server = Server::always(Reply::ok("x")).await;
    let ep = endpoint(config(&server.url()), "pooled");
    let clone = ep.clone();
    for i in 0..5 {
        let target = if i % 2 == 0 { &ep } else { &clone };
        expect_ok(target.call(Request::get("/")).await);
    }
    assert_eq!(server.count(), 5);
    assert_eq!(server.connections(), 1);
}

// ------------------------------------------------------------------- retry

#[tokio::test]
async fn retryable_statuses_are_retried_until_success() {
    let server = Server::start(|n, _| {
        if n < 2 {
            Reply::status(503)
        } else {
            Reply::ok("third time")
        }
    })
    .await;
    let mut c = config(&server.url());
    c.retry = Some(retry(3, MS));
    let ep = endpoint(c, "flaky");
    let r = expect_ok(ep.call(Request::get("/")).await);
    assert_eq!(r.text(), "third time");
    assert_eq!(server.count(), 3);
    let stats = ep.stats();
    assert_eq!(
        (stats.calls, stats.attempts, stats.retries, stats.failures),
        (1, 3, 2, 0)
    );
}

#[tokio::test]
async fn exhausted_retries_return_the_last_error_with_its_attempts() {
    let server = Server::start(|n, _| Reply::status(502).body(&format!("attempt {}", n + 1))).await;
    let mut c = config(&server.url());
    c.retry = Some(retry(2, MS));
    let ep = endpoint(c, "down");
    let e = expect_err(ep.call(Request::get("/")).await);
    assert_eq!(e.status(), Some(502));
    assert_eq!(e.attempts, 3);
    assert_eq!(
        e.response().map(|r| r.text().into_owned()).as_deref(),
        Some("attempt 3")
    );
    assert_eq!(e.to_string(), "status 502 Bad Gateway (after 3 attempts)");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn statuses_outside_status_codes_are_not_retried() {
    let server = Server::start(|n, _| Reply::status(if n == 0 { 500 } else { 404 })).await;
    let mut c = config(&server.url());
    c.retry = Some(retry(3, MS));
    let ep = endpoint(c, "x");
    assert_eq!(expect_err(ep.call(Request::get("/")).await).attempts, 1);
    assert_eq!(expect_err(ep.call(Request::get("/")).await).attempts, 1);
    assert_eq!(server.count(), 2);

    let mut c = config(&server.url());
    c.retry = Some(RetryPolicy {
        status_codes: vec![404],
        ..retry(2, MS)
    });
    let e = expect_err(endpoint(c, "y").call(Request::get("/")).await);
    assert_eq!((e.status(), e.attempts), (Some(404), 3));
}

#[tokio::test]
async fn post_is_not_retried_by_default_but_is_when_listed() {
    let server = Server::always(Reply::status(503)).await;
    let body = || Body::Json(serde_json::json!({"n": 1}));
    let mut c = config(&server.url());
    c.retry = Some(retry(2, MS));
    let e = expect_err(endpoint(c, "x").call(Request::post("/", body())).await);
    assert_eq!(e.attempts, 1);
    assert_eq!(server.count(), 1);

    let mut c = config(&server.url());
    let mut methods = flow::runtime::http::idempotent_methods();
    methods.push(Method::POST);
    c.retry = Some(RetryPolicy {
        methods,
        ..retry(2, MS)
    });
    let e = expect_err(endpoint(c, "y").call(Request::post("/", body())).await);
    assert_eq!(e.attempts, 3);
    assert_eq!(server.count(), 4);
    // The body is resent with every attempt.
    assert!(server
        .seen()
        .iter()
        .all(|s| s.body == br#"{"n":1}"#.to_vec()));
}

#[tokio::test]
async fn dropped_connections_and_refused_connects_are_connection_errors_and_retried() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::dropped()
        } else {
            Reply::ok("recovered")
        }
    })
    .await;
    let mut c = config(&server.url());
    c.retry = Some(retry(1, MS));
    let r = expect_ok(endpoint(c, "x").call(Request::get("/")).await);
    assert_eq!(r.text(), "recovered");
    assert_eq!(server.count(), 2);

    let mut c = config(&server::dead_url().await);
    c.retry = Some(retry(2, MS));
    let e = expect_err(endpoint(c, "dead").call(Request::get("/")).await);
    assert_eq!(e.kind.type_name(), "http:ConnectionError");
    assert_eq!(e.attempts, 3);
}

#[tokio::test]
async fn a_slow_attempt_times_out_and_is_retried() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::ok("late").delay(Duration::from_secs(2))
        } else {
            Reply::ok("on time")
        }
    })
    .await;
    let mut c = config(&server.url());
    c.timeout = 100 * MS;
    c.retry = Some(retry(1, MS));
    let ep = endpoint(c.clone(), "slow");
    let start = Instant::now();
    assert_eq!(
        expect_ok(ep.call(Request::get("/")).await).text(),
        "on time"
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(server.count(), 2);

    c.retry = None;
    let server = Server::always(Reply::ok("late").delay(Duration::from_secs(2))).await;
    c.url = server.url();
    let start = Instant::now();
    let e = expect_err(endpoint(c, "slow").call(Request::get("/")).await);
    assert_eq!(
        e.kind,
        ErrorKind::Timeout {
            limit: TimeLimit::Attempt(100 * MS)
        }
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= 100 * MS && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn retry_after_seconds_replaces_the_computed_wait() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::status(503).header("retry-after", "1")
        } else {
            Reply::ok("after the wait")
        }
    })
    .await;
    let mut c = config(&server.url());
    c.retry = Some(retry(1, MS));
    let start = Instant::now();
    expect_ok(endpoint(c, "x").call(Request::get("/")).await);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1800),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn the_deadline_stops_retries_and_cuts_an_attempt_short() {
    let server = Server::always(Reply::status(503)).await;
    let mut c = config(&server.url());
    // Attempts at 0 and 100ms; the next would start at 300ms > 250ms.
    c.retry = Some(retry(10, 100 * MS));
    c.deadline = Some(250 * MS);
    let e = expect_err(endpoint(c, "x").call(Request::get("/")).await);
    assert_eq!((e.status(), e.attempts), (Some(503), 2));
    assert_eq!(server.count(), 2);

    let server = Server::always(Reply::ok("late").delay(Duration::from_secs(2))).await;
    let mut c = config(&server.url());
    c.retry = Some(retry(3, MS));
    c.deadline = Some(150 * MS);
    let start = Instant::now();
    let e = expect_err(endpoint(c, "y").call(Request::get("/")).await);
    assert_eq!(
        e.kind,
        ErrorKind::Timeout {
            limit: TimeLimit::Deadline
        }
    );
    assert_eq!(e.attempts, 1);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn an_exhausted_retry_budget_stops_retries() {
    let server = Server::always(Reply::status(503)).await;
    let mut c = config(&server.url());
    c.retry = Some(RetryPolicy {
        budget: Some(RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 0,
            window: Duration::from_secs(10),
        }),
        ..retry(3, MS)
    });
    let e = expect_err(endpoint(c, "x").call(Request::get("/")).await);
    assert_eq!(e.attempts, 1);
    assert_eq!(server.count(), 1);
}

// --------------------------------------------------------- circuit breaker

fn breaker(volume: u32, reset: Duration) -> BreakerPolicy {
    BreakerPolicy {
        config: CircuitBreakerConfig {
            request_volume_threshold: volume,
            reset_time: reset,
            ..CircuitBreakerConfig::default()
        },
        ..BreakerPolicy::default()
    }
}

#[tokio::test]
async fn the_breaker_opens_rejects_without_sending_and_recovers() {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let server = Server::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Reply::ok("up")
        } else {
            Reply::status(500)
        }
    })
    .await;
    let sink = Arc::new(Collector::new());
    let mut c = config(&server.url());
    c.circuit_breaker = Some(breaker(4, 200 * MS));
    let ep = traced(c, "pricing", &sink);
    for _ in 0..4 {
        assert_eq!(
            expect_err(ep.call(Request::get("/")).await).status(),
            Some(500)
        );
    }
    assert_eq!(ep.breaker_state(), State::Open);
    let e = expect_err(ep.call(Request::get("/")).await);
    match e.kind {
        ErrorKind::CircuitOpen { retry_after } => assert!(retry_after <= 200 * MS),
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(server.count(), 4, "an open breaker sends nothing");
    let stats = ep.stats();
    assert_eq!(
        (stats.rejected, stats.failures, stats.state),
        (1, 4, State::Open)
    );

    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(250 * MS).await;
    expect_ok(ep.call(Request::get("/")).await);
    assert_eq!(ep.breaker_state(), State::Closed);
    let transitions: Vec<(State, State)> = sink
        .events()
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::BreakerTransition { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        transitions,
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
}

#[tokio::test]
async fn every_attempt_passes_the_breaker_and_a_rejection_is_not_retried() {
    let server = Server::always(Reply::status(503)).await;
    let mut c = config(&server.url());
    c.retry = Some(retry(5, MS));
    c.circuit_breaker = Some(breaker(2, Duration::from_secs(60)));
    let ep = endpoint(c, "x");
    let e = expect_err(ep.call(Request::get("/")).await);
    // Attempts 1 and 2 fail and trip the breaker; attempt 3 is rejected and
    // ends the call.
    assert!(matches!(e.kind, ErrorKind::CircuitOpen { .. }), "{e:?}");
    assert_eq!(e.attempts, 3);
    assert_eq!(server.count(), 2);
    let stats = ep.stats();
    assert_eq!((stats.attempts, stats.retries, stats.rejected), (2, 2, 1));
}

#[tokio::test]
async fn statuses_outside_the_breaker_codes_do_not_count() {
    let server = Server::always(Reply::status(404)).await;
    let mut c = config(&server.url());
    c.circuit_breaker = Some(breaker(2, Duration::from_secs(60)));
    let ep = endpoint(c, "x");
    for _ in 0..5 {
        assert_eq!(
            expect_err(ep.call(Request::get("/")).await).status(),
            Some(404)
        );
    }
    assert_eq!(ep.breaker_state(), State::Closed);
    assert_eq!(server.count(), 5);
}

// --------------------------------------------------- bulkhead, rate limit

#[tokio::test]
async fn a_full_bulkhead_rejects_without_sending() {
    let server = Server::always(Reply::ok("slow").delay(200 * MS)).await;
    let mut c = config(&server.url());
    c.bulkhead = Some(BulkheadConfig {
        max_concurrent: 1,
        max_wait: Duration::ZERO,
    });
    let ep = endpoint(c, "x");
    let (first, second) = tokio::join!(ep.call(Request::get("/")), async {
        tokio::time::sleep(50 * MS).await;
        ep.call(Request::get("/")).await
    });
    expect_ok(first);
    let e = expect_err(second);
    assert_eq!(e.kind, ErrorKind::BulkheadFull { max_concurrent: 1 });
    assert_eq!(e.attempts, 0);
    assert_eq!(server.count(), 1);
    assert_eq!(ep.stats().rejected, 1);
    // The slot is free again.
    expect_ok(ep.call(Request::get("/")).await);
}

#[tokio::test]
async fn the_rate_limiter_rejects_calls_over_the_rate() {
    let server = Server::always(Reply::ok("")).await;
    let mut c = config(&server.url());
    c.rate_limit = Some(RateLimitConfig::new(2, Duration::from_secs(60)));
    let ep = endpoint(c, "x");
    expect_ok(ep.call(Request::get("/")).await);
    expect_ok(ep.call(Request::get("/")).await);
    let e = expect_err(ep.call(Request::get("/")).await);
    match e.kind {
        ErrorKind::RateLimited { retry_after } => {
            assert!(retry_after > 25 * Duration::from_secs(1))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(server.count(), 2);
    assert_eq!(ep.stats().rejected, 1);
}

// ---------------------------------------------------------------- failover

#[tokio::test]
async fn failover_is_sticky_and_moves_on_only_for_failover_codes() {
    let a = Server::always(Reply::status(503)).await;
    let b = Server::start(|n, _| {
        if n < 2 {
            Reply::ok("from b")
        } else {
            Reply::status(404)
        }
    })
    .await;
    let sink = Arc::new(Collector::new());
    let targets = vec![
        endpoint(config(&a.url()), "a"),
        endpoint(config(&b.url()), "b"),
    ];
    let failover: Client = Failover::with_trace(targets, FailoverConfig::default(), sink.clone())
        .expect("valid")
        .into();
    assert_eq!(
        expect_ok(failover.call(Request::get("/")).await).text(),
        "from b"
    );
    assert_eq!((a.count(), b.count()), (1, 1));
    // Sticky: the next call starts at b.
    assert_eq!(
        expect_ok(failover.call(Request::get("/")).await).text(),
        "from b"
    );
    assert_eq!((a.count(), b.count()), (1, 2));
    // A 404 is not a failover code: returned as is, a not tried.
    let e = expect_err(failover.call(Request::get("/")).await);
    assert_eq!(e.status(), Some(404));
    assert_eq!((a.count(), b.count()), (1, 3));
    let moves: Vec<TraceEvent> = sink
        .events()
        .into_iter()
        .filter(|e| matches!(e, TraceEvent::Failover { .. }))
        .collect();
    assert_eq!(
        moves,
        [TraceEvent::Failover {
            from: "a".into(),
            to: "b".into(),
            error: "StatusError"
        }]
    );
}

#[tokio::test]
async fn all_targets_failed_lists_each_targets_error() {
    let dead = server::dead_url().await;
    let b = Server::always(Reply::status(502)).await;
    let c = Server::always(Reply::ok("late").delay(Duration::from_secs(2))).await;
    let mut slow = config(&c.url());
    slow.timeout = 50 * MS;
    let failover = Failover::new(
        vec![
            endpoint(config(&dead), "a"),
            endpoint(config(&b.url()), "b"),
            endpoint(slow, "c"),
        ],
        FailoverConfig::default(),
    )
    .expect("valid");
    let e = expect_err(failover.call(Request::get("/")).await);
    let ErrorKind::AllTargetsFailed { errors } = &e.kind else {
        panic!("expected AllTargetsFailed, got {e:?}");
    };
    let summary: Vec<(&str, &str)> = errors
        .iter()
        .map(|(name, e)| (name.as_str(), e.kind.type_name()))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", "http:ConnectionError"),
            ("b", "http:StatusError"),
            ("c", "http:TimeoutError")
        ]
    );
    assert_eq!(e.attempts, 3);
    assert!(e
        .to_string()
        .starts_with("all 3 targets failed: a: connection failed"));
}

#[tokio::test]
async fn failover_waits_its_interval_but_skips_an_open_breaker_at_once() {
    let a = Server::always(Reply::status(503)).await;
    let b = Server::always(Reply::ok("b")).await;
    let mut ca = config(&a.url());
    ca.circuit_breaker = Some(breaker(1, Duration::from_secs(60)));
    let ta = endpoint(ca, "a");
    let fc = FailoverConfig {
        interval: 150 * MS,
        ..FailoverConfig::default()
    };
    let failover =
        Failover::new(vec![ta.clone(), endpoint(config_for(&b), "b")], fc).expect("valid");
    let start = Instant::now();
    expect_ok(failover.call(Request::get("/")).await);
    assert!(
        start.elapsed() >= 150 * MS,
        "waits the interval after a 503"
    );
    assert_eq!(ta.breaker_state(), State::Open);

    // A new failover over the same endpoints starts at a again: a's breaker
    // is open, so it is skipped without waiting.
    let failover = Failover::new(
        vec![ta, endpoint(config_for(&b), "b")],
        FailoverConfig {
            interval: Duration::from_secs(5),
            ..FailoverConfig::default()
        },
    )
    .expect("valid");
    let start = Instant::now();
    expect_ok(failover.call(Request::get("/")).await);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(a.count(), 1);
}

fn config_for(server: &Server) -> EndpointConfig {
    config(&server.url())
}

// ----------------------------------------------------------- load balance

async fn three_servers() -> (Vec<Server>, Vec<Endpoint>) {
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::always(Reply::ok("")).await);
    }
    let endpoints = servers
        .iter()
        .enumerate()
        .map(|(i, s)| endpoint(config_for(s), &format!("t{i}")))
        .collect();
    (servers, endpoints)
}

fn balancer(targets: Vec<Endpoint>, algorithm: Algorithm) -> LoadBalance {
    let config = LoadBalanceConfig {
        algorithm,
        ..LoadBalanceConfig::default()
    };
    LoadBalance::new(targets, config).expect("valid")
}

#[tokio::test]
async fn round_robin_spreads_calls_exactly() {
    let (servers, targets) = three_servers().await;
    let lb = balancer(targets, Algorithm::RoundRobin);
    for _ in 0..1000 {
        expect_ok(lb.call(Request::get("/")).await);
    }
    let counts: Vec<usize> = servers.iter().map(Server::count).collect();
    assert_eq!(counts, [334, 333, 333]);
}

#[tokio::test]
async fn random_spreads_calls_roughly_evenly() {
    let (servers, targets) = three_servers().await;
    let lb = balancer(targets, Algorithm::Random);
    for _ in 0..1000 {
        expect_ok(lb.call(Request::get("/")).await);
    }
    let counts: Vec<usize> = servers.iter().map(Server::count).collect();
    assert_eq!(counts.iter().sum::<usize>(), 1000);
    // Expected 333 each (σ ≈ 15): 250..420 is beyond five σ.
    assert!(counts.iter().all(|c| (250..420).contains(c)), "{counts:?}");
}

#[tokio::test]
async fn least_pending_prefers_idle_targets() {
    let busy = Server::always(Reply::ok("").delay(Duration::from_secs(5))).await;
    let (servers, mut targets) = three_servers().await;
    let busy_ep = endpoint(config_for(&busy), "busy");
    targets.insert(0, busy_ep.clone());
    let held: Vec<_> = (0..3)
        .map(|_| {
            let ep = busy_ep.clone();
            tokio::spawn(async move { ep.call(Request::get("/")).await })
        })
        .collect();
    while busy.count() < 3 {
        tokio::time::sleep(MS).await;
    }
    assert_eq!(busy_ep.in_flight(), 3);
    let lb = balancer(targets, Algorithm::LeastPending);
    for _ in 0..300 {
        expect_ok(lb.call(Request::get("/")).await);
    }
    assert_eq!(busy.count(), 3, "the busy target gets no new call");
    let counts: Vec<usize> = servers.iter().map(Server::count).collect();
    assert_eq!(counts.iter().sum::<usize>(), 300);
    assert!(counts.iter().all(|c| *c > 50), "{counts:?}");
    for h in held {
        h.abort();
    }
}

#[tokio::test]
async fn load_balancing_fails_over_to_the_next_target_once_each() {
    let a = Server::always(Reply::status(503)).await;
    let b = Server::always(Reply::status(502)).await;
    let c = Server::always(Reply::ok("c")).await;
    let targets = vec![
        endpoint(config_for(&a), "a"),
        endpoint(config_for(&b), "b"),
        endpoint(config_for(&c), "c"),
    ];
    let lb = balancer(targets.clone(), Algorithm::RoundRobin);
    // Call 1 starts at a, call 2 at b, call 3 at c: each ends at c.
    for _ in 0..3 {
        assert_eq!(expect_ok(lb.call(Request::get("/")).await).text(), "c");
    }
    assert_eq!((a.count(), b.count(), c.count()), (1, 2, 3));

    let no_failover = LoadBalance::new(
        targets,
        LoadBalanceConfig {
            failover: false,
            ..LoadBalanceConfig::default()
        },
    )
    .expect("valid");
    let e = expect_err(no_failover.call(Request::get("/")).await);
    assert_eq!(e.status(), Some(503));
    assert_eq!(a.count(), 2);
}

// ----------------------------------------------------------------- hedging

#[tokio::test]
async fn a_hedge_beats_a_slow_first_attempt_which_is_cancelled() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::ok("slow").delay(Duration::from_secs(3))
        } else {
            Reply::ok("hedge")
        }
    })
    .await;
    let sink = Arc::new(Collector::new());
    let mut c = config(&server.url());
    c.hedge = Some(HedgeConfig {
        delay: 50 * MS,
        max_attempts: 3,
    });
    let ep = traced(c, "quotes", &sink);
    let start = Instant::now();
    let r = expect_ok(ep.call(Request::get("/q")).await);
    assert_eq!(r.text(), "hedge");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= 50 * MS && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert_eq!(server.count(), 2);
    let outcomes: Vec<(u32, AttemptOutcome)> = sink
        .events()
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::Attempt {
                attempt, outcome, ..
            } => Some((attempt, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (2, AttemptOutcome::Status(200)),
            (1, AttemptOutcome::Cancelled)
        ]
    );
    assert!(sink
        .events()
        .iter()
        .any(|e| matches!(e, TraceEvent::HedgeSent { attempt: 2, .. })));
    assert_eq!(ep.in_flight(), 0);
}

// ------------------------------------------------------------------ tracing

#[tokio::test]
async fn trace_lines_report_attempts_and_retries_with_secrets_redacted() {
    let server = Server::start(|n, _| Reply::status(if n == 0 { 503 } else { 200 })).await;
    let sink = Arc::new(Collector::new());
    let mut c = config(&server.url());
    c.headers = vec![
        ("Authorization".into(), "Bearer s3cret".into()),
        ("x-tenant".into(), "acme".into()),
    ];
    c.retry = Some(retry(1, 5 * MS));
    let ep = traced(c, "pricing", &sink);
    let req = Request::get("/quote?symbol=X")
        .header("x-api-key", "k3y")
        .header("cookie", "session=abc");
    expect_ok(ep.call(req).await);
    // The server got the real values.
    assert_eq!(
        server.seen()[0].header("authorization"),
        Some("Bearer s3cret")
    );

    let lines = sink.lines(&Redactor::with_extra(["X-Tenant"]));
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let headers = "[Authorization: ***, x-tenant: ***, x-api-key: ***, cookie: ***]";
    assert!(
        lines[0].starts_with("trace: http pricing: GET /quote attempt 1 -> 503 in "),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(headers), "{}", lines[0]);
    assert_eq!(
        lines[1],
        "trace: http pricing: GET /quote retry after attempt 1 in 5ms"
    );
    assert!(lines[2].contains("attempt 2 -> 200 in "), "{}", lines[2]);
    let all = lines.join("\n");
    for secret in ["s3cret", "k3y", "session=abc", "acme"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

/// Formats events as they come, the way `--trace` prints them.
struct Lines(Mutex<Vec<String>>);

impl TraceSink for Lines {
    fn event(&self, event: &TraceEvent) {
        let line = flow::runtime::http::format_event(event, &Redactor::default());
        self.0.lock().expect("lines").push(line);
    }
}

#[tokio::test]
async fn rate_limit_rejections_are_traced_as_lines() {
    let server = Server::always(Reply::ok("")).await;
    let lines = Arc::new(Lines(Mutex::new(Vec::new())));
    let mut c = config(&server.url());
    c.rate_limit = Some(RateLimitConfig::new(1, Duration::from_secs(60)));
    let ep = Endpoint::builder(c)
        .name("limited")
        .env_proxy(false)
        .trace(lines.clone())
        .build()
        .expect("valid");
    expect_ok(ep.call(Request::get("/a")).await);
    expect_err(ep.call(Request::get("/a")).await);
    let lines = lines.0.lock().expect("lines").clone();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("trace: http limited: GET /a rejected: RateLimitedError")
    );
}

// ------------------------------------------- paused clock: exact timings

/// A scripted transport: each send takes the next (delay, result), or the
/// fallback when the script is used up.
struct Scripted {
    script: Mutex<VecDeque<(Duration, Result<Response, TransportError>)>>,
    fallback: (Duration, Result<Response, TransportError>),
    sent: Mutex<Vec<(Instant, Outgoing)>>,
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response::new(status, headers.iter().copied(), body.as_bytes().to_vec())
}

impl Scripted {
    fn new(
        script: Vec<(Duration, Result<Response, TransportError>)>,
        fallback: (Duration, Result<Response, TransportError>),
    ) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            fallback,
            sent: Mutex::new(Vec::new()),
        })
    }

    /// Offsets of the sends from `start`.
    fn sent_at(&self, start: Instant) -> Vec<Duration> {
        let sent = self.sent.lock().expect("sent");
        sent.iter().map(|(at, _)| *at - start).collect()
    }
}

impl Transport for Scripted {
    fn send(&self, request: Outgoing) -> TransportFuture {
        self.sent
            .lock()
            .expect("sent")
            .push((Instant::now(), request));
        let (delay, result) = self
            .script
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone());
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            result
        })
    }
}

fn scripted(config: EndpointConfig, transport: &Arc<Scripted>, sink: &Arc<Collector>) -> Endpoint {
    Endpoint::builder(config)
        .name("mock")
        .transport(transport.clone())
        .trace(sink.clone())
        .build()
        .expect("valid")
}

#[tokio::test(start_paused = true)]
async fn retry_waits_follow_the_backoff_schedule_exactly() {
    let t = Scripted::new(vec![], (10 * MS, Ok(response(503, &[], ""))));
    let mut c = config("http://mock.test");
    c.retry = Some(retry(3, 100 * MS));
    let ep = scripted(c, &t, &Arc::new(Collector::new()));
    let start = Instant::now();
    let e = expect_err(ep.call(Request::get("/")).await);
    assert_eq!(e.attempts, 4);
    // Each attempt takes 10ms; waits 100, 200, 400ms.
    assert_eq!(t.sent_at(start), [0, 110, 320, 730].map(|ms| ms * MS));
    assert_eq!(start.elapsed(), 740 * MS);
}

/// An IMF-fixdate `secs` seconds after the Unix epoch.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test(start_paused = true)]
async fn retry_after_dates_are_honoured_within_max_wait_interval() {
    assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let date = http_date(now + 3);
    let t = Scripted::new(
        vec![
            (MS, Ok(response(429, &[("retry-after", &date)], ""))),
            (MS, Ok(response(503, &[("retry-after", "3600")], ""))),
        ],
        (MS, Ok(response(200, &[], "ok"))),
    );
    let mut c = config("http://mock.test");
    c.retry = Some(RetryPolicy {
        status_codes: vec![429, 503],
        ..retry(2, 100 * MS)
    });
    let ep = scripted(c, &t, &Arc::new(Collector::new()));
    let start = Instant::now();
    expect_ok(ep.call(Request::get("/")).await);
    let sent = t.sent_at(start);
    // The date is 2-3s away (whole seconds); the hour-long Retry-After is
    // beyond maxWaitInterval (10s), so the computed 200ms is used.
    let first_wait = sent[1] - sent[0] - MS;
    assert!(
        first_wait >= Duration::from_secs(2) && first_wait <= Duration::from_secs(3),
        "{first_wait:?}"
    );
    assert_eq!(sent[2] - sent[1], MS + 200 * MS);
}

#[tokio::test(start_paused = true)]
async fn retries_never_resend_after_the_deadline() {
    let t = Scripted::new(vec![], (50 * MS, Ok(response(502, &[], ""))));
    let mut c = config("http://mock.test");
    c.retry = Some(retry(10, 100 * MS));
    c.deadline = Some(Duration::from_secs(1));
    let ep = scripted(c, &t, &Arc::new(Collector::new()));
    let start = Instant::now();
    let e = expect_err(ep.call(Request::get("/")).await);
    // Each attempt takes 50ms; waits 100, 200, 400ms put the sends at 0,
    // 150, 400 and 850ms; the next wait (800ms) would end after the 1s
    // deadline, so the call stops at 900ms with the last error.
    assert_eq!(t.sent_at(start), [0, 150, 400, 850].map(|ms| ms * MS));
    assert_eq!((e.status(), e.attempts), (Some(502), 4));
    assert_eq!(start.elapsed(), 900 * MS);
}

#[tokio::test(start_paused = true)]
async fn hedges_start_delay_apart_and_the_first_success_wins() {
    let t = Scripted::new(
        vec![
            (Duration::from_secs(10), Ok(response(200, &[], "first"))),
            (Duration::from_secs(10), Ok(response(200, &[], "second"))),
            (20 * MS, Ok(response(200, &[], "third"))),
        ],
        (MS, Ok(response(200, &[], "later"))),
    );
    let sink = Arc::new(Collector::new());
    let mut c = config("http://mock.test");
    c.hedge = Some(HedgeConfig {
        delay: 100 * MS,
        max_attempts: 3,
    });
    let ep = scripted(c.clone(), &t, &sink);
    let start = Instant::now();
    let r = expect_ok(ep.call(Request::get("/")).await);
    assert_eq!(r.text(), "third");
    assert_eq!(t.sent_at(start), [0, 100, 200].map(|ms| ms * MS));
    assert_eq!(start.elapsed(), 220 * MS);
    let cancelled = sink
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraceEvent::Attempt {
                    outcome: AttemptOutcome::Cancelled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(cancelled, 2);

    // POST is not idempotent: no hedge.
    let t = Scripted::new(vec![], (Duration::from_secs(1), Ok(response(200, &[], ""))));
    let ep = scripted(c, &t, &sink);
    let start = Instant::now();
    expect_ok(ep.call(Request::post("/", Body::Text("x".into()))).await);
    assert_eq!(t.sent_at(start).len(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_failed_hedge_waits_for_the_others_and_all_failing_returns_the_last() {
    let t = Scripted::new(
        vec![
            (
                Duration::from_secs(1),
                Ok(response(200, &[], "slow but fine")),
            ),
            (10 * MS, Err(TransportError::Connection("reset".into()))),
        ],
        (MS, Ok(response(200, &[], ""))),
    );
    let mut c = config("http://mock.test");
    c.hedge = Some(HedgeConfig {
        delay: 100 * MS,
        max_attempts: 2,
    });
    let ep = scripted(c.clone(), &t, &Arc::new(Collector::new()));
    let start = Instant::now();
    assert_eq!(
        expect_ok(ep.call(Request::get("/")).await).text(),
        "slow but fine"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    let t = Scripted::new(
        vec![
            (300 * MS, Ok(response(503, &[], "one"))),
            (100 * MS, Ok(response(502, &[], "two"))),
        ],
        (MS, Ok(response(200, &[], ""))),
    );
    let ep = scripted(c, &t, &Arc::new(Collector::new()));
    let e = expect_err(ep.call(Request::get("/")).await);
    assert_eq!((e.status(), e.attempts), (Some(503), 2));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_is_exact_and_counts_as_a_breaker_failure() {
    let t = Scripted::new(
        vec![],
        (Duration::from_secs(60), Ok(response(200, &[], ""))),
    );
    let mut c = config("http://mock.test");
    c.timeout = 250 * MS;
    c.circuit_breaker = Some(breaker(1, Duration::from_secs(60)));
    let ep = scripted(c, &t, &Arc::new(Collector::new()));
    let start = Instant::now();
    let e = expect_err(ep.call(Request::get("/")).await);
    assert_eq!(start.elapsed(), 250 * MS);
    assert_eq!(e.to_string(), "request timed out after 250ms");
    assert_eq!(ep.breaker_state(), State::Open);
}

#[test]
fn endpoint_configs_are_validated_with_clear_messages() {
    let e = Endpoint::new(EndpointConfig::new("https://secure.example.com"))
        .expect_err("https is refused");
    assert_eq!(e.field, "url");
    assert!(e.to_string().contains("https is not supported"), "{e}");
    let e = Endpoint::builder(EndpointConfig::new("http://10.0.0.1/x"))
        .hosts(flow::runtime::http::HostPolicy::only(["127.0.0.1"]))
        .build()
        .expect_err("host refused");
    assert_eq!(
        e.to_string(),
        "invalid http:ClientConfig: url: host '10.0.0.1' is not allowed"
    );
    assert!(Failover::new(Vec::new(), FailoverConfig::default()).is_err());
}
