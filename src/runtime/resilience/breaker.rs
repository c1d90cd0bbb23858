//! The circuit breaker (§9.4): one state machine per endpoint.
//!
//! ```text
//!            window ≥ volume and failures/calls ≥ threshold
//!   CLOSED ─────────────────────────────────────────────────▶ OPEN
//!     ▲                                                      │  ▲
//!     │ all halfOpenCalls probes succeeded   next call after │  │ a probe failed
//!     │ (window emptied)                           resetTime ▼  │ (timer restarts)
//!     └──────────────────────────────────────────────── HALF_OPEN
//! ```
//!
//! A call asks for a [`Permit`] with [`CircuitBreaker::acquire`] and hands
//! the attempt's [`Outcome`] back with [`Permit::record`]; dropping the
//! permit instead cancels the call (a probe's slot is freed, nothing is
//! counted). Outcomes only move the state machine within the state period
//! that issued their permit: a call sent while CLOSED that finishes after the
//! breaker tripped is counted in the statistics but not in any window, and
//! is never taken for a probe.

use super::window::{RollingWindow, Tally};
use super::{Classify, Outcome};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The settings of a circuit breaker (`CircuitBreakerConfig`, §9.4), minus
/// `statusCodes`, which the HTTP layer applies when it classifies a result.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Trip when failures / recorded calls **≥** this ratio (default `0.5`).
    pub failure_threshold: f64,
    /// The span over which calls are counted (`rollingWindow.timeWindow`,
    /// default 60 s).
    pub time_window: Duration,
    /// The window's granularity (`rollingWindow.bucketSize`, default 10 s):
    /// the window holds `time_window / bucket_size` buckets.
    pub bucket_size: Duration,
    /// No decision before the window holds this many calls
    /// (`rollingWindow.requestVolumeThreshold`, default 10).
    pub request_volume_threshold: u32,
    /// Time spent OPEN before the next call probes (default 60 s).
    pub reset_time: Duration,
    /// Probes allowed in HALF_OPEN (default 1; 0 is taken as 1).
    pub half_open_calls: u32,
    /// When set, a success slower than this counts as a failure.
    pub slow_call_duration: Option<Duration>,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 0.5,
            time_window: Duration::from_secs(60),
            bucket_size: Duration::from_secs(10),
            request_volume_threshold: 10,
            reset_time: Duration::from_secs(60),
            half_open_calls: 1,
            slow_call_duration: None,
        }
    }
}

/// The three states of §9.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and their outcomes are counted.
    Closed,
    /// Calls are rejected until `reset_time` has passed.
    Open,
    /// A limited number of probe calls decide between CLOSED and OPEN.
    HalfOpen,
}

impl State {
    /// The name `http:breakerState` returns: `"CLOSED"`, `"OPEN"` or
    /// `"HALF_OPEN"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Open => "OPEN",
            State::HalfOpen => "HALF_OPEN",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, as reported to the observer (logged at `info`, traced
/// with `--trace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When it happened.
    pub at: Instant,
}

/// A call refused by the breaker (`http:CircuitOpenError`); nothing was sent
/// and nothing is counted but the `rejected` statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is {state}; retry after {retry_after:?}")]
pub struct Rejected {
    /// The remaining open time; zero when rejected because HALF_OPEN has no
    /// free probe slot.
    pub retry_after: Duration,
    /// The state that refused the call.
    pub state: State,
}

/// Counters for `http:stats` (§9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerStats {
    /// Outcomes recorded (calls that were sent and finished; cancelled and
    /// rejected calls are not included).
    pub calls: u64,
    /// Recorded outcomes that counted as failures (slow calls included).
    pub failures: u64,
    /// Calls rejected by the breaker.
    pub rejected: u64,
    /// The current state.
    pub state: State,
}

type Observer = Box<dyn Fn(Transition) + Send + Sync>;

/// A circuit breaker: a handle to one shared state machine. Clones share the
/// state (one breaker per endpoint, shared by every strand calling it).
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    config: CircuitBreakerConfig,
    observer: Option<Observer>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, Copy, Default)]
struct CallCounts {
    calls: u64,
    failures: u64,
}

impl Tally for CallCounts {
    fn merge(&mut self, other: &Self) {
        self.calls += other.calls;
        self.failures += other.failures;
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open {
        since: Instant,
    },
    HalfOpen {
        in_flight: u32,
        completed: u32,
        any_failed: bool,
    },
}

impl Phase {
    fn state(&self) -> State {
        match self {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Bumped on every transition; a permit's outcome only moves the state
    /// machine while the generation that issued it lasts.
    generation: u64,
    window: RollingWindow<CallCounts>,
    calls: u64,
    failures: u64,
    rejected: u64,
}

impl Inner {
    fn enter(&mut self, phase: Phase, now: Instant) -> Transition {
        let from = self.phase.state();
        self.phase = phase;
        self.generation += 1;
        if matches!(phase, Phase::Closed) {
            self.window.clear();
        }
        Transition {
            from,
            to: phase.state(),
            at: now,
        }
    }
}

impl CircuitBreaker {
    /// A CLOSED breaker with an empty window.
    pub fn new(config: CircuitBreakerConfig) -> CircuitBreaker {
        CircuitBreaker::build(config, None)
    }

    /// A CLOSED breaker that reports each state change to `observer`. The
    /// observer runs after the breaker's lock is released, so it may query
    /// the breaker; transitions made at once on several threads may reach it
    /// out of order (each carries its `from`, `to` and time).
    pub fn with_observer(
        config: CircuitBreakerConfig,
        observer: impl Fn(Transition) + Send + Sync + 'static,
    ) -> CircuitBreaker {
        CircuitBreaker::build(config, Some(Box::new(observer)))
    }

    fn build(mut config: CircuitBreakerConfig, observer: Option<Observer>) -> CircuitBreaker {
        config.half_open_calls = config.half_open_calls.max(1);
        let window = RollingWindow::new(config.time_window, config.bucket_size);
        CircuitBreaker {
            shared: Arc::new(Shared {
                config,
                observer,
                inner: Mutex::new(Inner {
                    phase: Phase::Closed,
                    generation: 0,
                    window,
                    calls: 0,
                    failures: 0,
                    rejected: 0,
                }),
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.shared.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self, transition: Option<Transition>) {
        if let (Some(t), Some(observer)) = (transition, &self.shared.observer) {
            observer(t);
        }
    }

    /// Asks to send one call. CLOSED: granted. OPEN: rejected with the
    /// remaining open time, unless `reset_time` has passed, in which case
    /// this call moves the breaker to HALF_OPEN and becomes a probe.
    /// HALF_OPEN: granted as a probe while fewer than `half_open_calls`
    /// probes are in flight or completed, else rejected.
    pub fn acquire(&self) -> Result<Permit, Rejected> {
        let half_open_calls = self.shared.config.half_open_calls;
        let mut transition = None;
        let result = {
            let mut inner = self.lock();
            match inner.phase {
                Phase::Closed => Ok(false),
                Phase::Open { since } => {
                    // Only an open breaker needs the time.
                    let now = Instant::now();
                    let open_for = now.saturating_duration_since(since);
                    if open_for >= self.shared.config.reset_time {
                        let probe = Phase::HalfOpen {
                            in_flight: 1,
                            completed: 0,
                            any_failed: false,
                        };
                        transition = Some(inner.enter(probe, now));
                        Ok(true)
                    } else {
                        Err(Rejected {
                            retry_after: self.shared.config.reset_time - open_for,
                            state: State::Open,
                        })
                    }
                }
                Phase::HalfOpen {
                    ref mut in_flight,
                    completed,
                    ..
                } => {
                    if *in_flight + completed < half_open_calls {
                        *in_flight += 1;
                        Ok(true)
                    } else {
                        Err(Rejected {
                            retry_after: Duration::ZERO,
                            state: State::HalfOpen,
                        })
                    }
                }
            }
            .map(|probe| Permit {
                breaker: self.clone(),
                generation: inner.generation,
                probe,
                settled: false,
            })
            .inspect_err(|_| inner.rejected += 1)
        };
        self.notify(transition);
        result
    }

    fn settle(&self, generation: u64, outcome: Option<Outcome>) {
        let now = Instant::now();
        let config = &self.shared.config;
        let failed = outcome.map(|o| match o {
            Outcome::Failure { .. } => true,
            Outcome::Success { elapsed } => config.slow_call_duration.is_some_and(|s| elapsed > s),
        });
        let mut transition = None;
        {
            let mut inner = self.lock();
            if let Some(failed) = failed {
                inner.calls += 1;
                inner.failures += u64::from(failed);
            }
            if inner.generation != generation {
                return;
            }
            match (&mut inner.phase, failed) {
                (Phase::Closed, Some(failed)) => {
                    inner.window.update(now, |c| {
                        c.calls += 1;
                        c.failures += u64::from(failed);
                    });
                    let total = inner.window.total(now);
                    // Counts are far below 2^53, so the ratio is exact.
                    let ratio = total.failures as f64 / total.calls as f64;
                    if total.calls >= u64::from(config.request_volume_threshold)
                        && ratio >= config.failure_threshold
                    {
                        transition = Some(inner.enter(Phase::Open { since: now }, now));
                    }
                }
                (
                    Phase::HalfOpen {
                        in_flight,
                        completed,
                        any_failed,
                    },
                    failed,
                ) => {
                    *in_flight = in_flight.saturating_sub(1);
                    if let Some(failed) = failed {
                        *completed += 1;
                        *any_failed |= failed;
                        if *completed >= config.half_open_calls {
                            let next = if *any_failed {
                                Phase::Open { since: now }
                            } else {
                                Phase::Closed
                            };
                            transition = Some(inner.enter(next, now));
                        }
                    }
                }
                // A cancelled CLOSED call changes nothing; OPEN issues no
                // permits, so none can settle in its generation.
                (Phase::Closed, None) | (Phase::Open { .. }, _) => {}
            }
        }
        self.notify(transition);
    }

    /// The current state. OPEN stays OPEN after `reset_time` until the next
    /// call (§9.4: the next call moves the breaker to HALF_OPEN).
    pub fn state(&self) -> State {
        self.lock().phase.state()
    }

    /// The counters for `http:stats`.
    pub fn stats(&self) -> BreakerStats {
        let inner = self.lock();
        BreakerStats {
            calls: inner.calls,
            failures: inner.failures,
            rejected: inner.rejected,
            state: inner.phase.state(),
        }
    }

    /// Runs `call` under the breaker: acquires a permit (or returns
    /// [`Rejected`] without polling `call`), times the call with tokio time,
    /// classifies its result and records the outcome. Dropping the returned
    /// future mid-call cancels the call (see [`Permit`]).
    pub async fn call<T, E, F>(
        &self,
        classify: &impl Classify<T, E>,
        call: F,
    ) -> Result<Result<T, E>, Rejected>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.acquire()?;
        let start = Instant::now();
        let result = call.await;
        permit.record(Outcome::new(classify.classify(&result), start.elapsed()));
        Ok(result)
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Leave to send one call through a [`CircuitBreaker`]. Hand the outcome
/// back with [`Permit::record`]; dropping the permit unrecorded means the
/// call was cancelled: a probe's slot is freed and nothing is counted.
#[must_use = "record the call's outcome; dropping the permit cancels the call"]
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl Permit {
    /// Whether this call is a HALF_OPEN probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Records the call's outcome; the breaker evaluates its thresholds at
    /// once.
    pub fn record(mut self, outcome: Outcome) {
        self.settled = true;
        self.breaker.settle(self.generation, Some(outcome));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.generation, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::resilience::{ErrorsAreFailures, FailureKind};
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::time::{advance, sleep};

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    /// Volume 4, threshold 0.5, window 60 s of 10 s buckets, reset 60 s.
    fn config() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            request_volume_threshold: 4,
            ..CircuitBreakerConfig::default()
        }
    }

    fn ok() -> Outcome {
        Outcome::Success { elapsed: 10 * MS }
    }

    fn fail() -> Outcome {
        Outcome::Failure {
            elapsed: 10 * MS,
            kind: FailureKind::Status(503),
        }
    }

    /// Sends one call that ends with `outcome`.
    fn send(breaker: &CircuitBreaker, outcome: Outcome) {
        match breaker.acquire() {
            Ok(permit) => permit.record(outcome),
            Err(e) => panic!("call unexpectedly rejected: {e}"),
        }
    }

    fn tripped() -> CircuitBreaker {
        let breaker = CircuitBreaker::new(config());
        for _ in 0..4 {
            send(&breaker, fail());
        }
        assert_eq!(breaker.state(), State::Open);
        breaker
    }

    type TransitionLog = Arc<Mutex<Vec<(State, State)>>>;

    fn observed(config: CircuitBreakerConfig) -> (CircuitBreaker, TransitionLog) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let breaker = CircuitBreaker::with_observer(config, move |t| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((t.from, t.to));
        });
        (breaker, log)
    }

    fn transitions(log: &Mutex<Vec<(State, State)>>) -> Vec<(State, State)> {
        log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[tokio::test(start_paused = true)]
    async fn no_decision_below_the_volume_threshold() {
        let breaker = CircuitBreaker::new(config());
        for _ in 0..3 {
            send(&breaker, fail());
        }
        // 3 calls, 100% failures, but the window holds fewer than 4 calls.
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn trips_when_the_call_reaching_the_volume_brings_the_ratio_to_the_threshold() {
        let (breaker, log) = observed(config());
        send(&breaker, ok());
        send(&breaker, fail());
        send(&breaker, ok());
        assert_eq!(breaker.state(), State::Closed);
        // 4 calls, 2 failures: 50% ≥ 50% → OPEN right after the 4th.
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(transitions(&log), vec![(State::Closed, State::Open)]);
        assert!(breaker.acquire().is_err(), "the next call is not permitted");
    }

    #[tokio::test(start_paused = true)]
    async fn stays_closed_while_the_ratio_is_below_the_threshold() {
        let breaker = CircuitBreaker::new(config());
        for outcome in [ok(), ok(), ok(), fail()] {
            send(&breaker, outcome);
        }
        // 4 calls, 1 failure: 25% < 50%.
        assert_eq!(breaker.state(), State::Closed);
        // A 5th call that fails: 2 / 5 = 40% < 50%.
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Closed);
        // A 6th: 3 / 6 = 50% → OPEN.
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn open_rejects_without_running_the_call() {
        let breaker = tripped();
        advance(15 * S).await;
        let ran = AtomicBool::new(false);
        let result = breaker
            .call(&ErrorsAreFailures, async {
                ran.store(true, Ordering::SeqCst);
                Ok::<(), ()>(())
            })
            .await;
        assert_eq!(
            result,
            Err(Rejected {
                retry_after: 45 * S,
                state: State::Open
            })
        );
        assert!(!ran.load(Ordering::SeqCst), "nothing is sent while OPEN");
    }

    #[tokio::test(start_paused = true)]
    async fn after_reset_time_exactly_half_open_calls_probes_go_through() {
        let (breaker, log) = observed(CircuitBreakerConfig {
            half_open_calls: 2,
            ..config()
        });
        for _ in 0..4 {
            send(&breaker, fail());
        }
        advance(60 * S - MS).await;
        assert_eq!(
            breaker.acquire().err(),
            Some(Rejected {
                retry_after: MS,
                state: State::Open
            })
        );
        advance(MS).await;
        // Still OPEN until a call arrives.
        assert_eq!(breaker.state(), State::Open);
        let first = breaker.acquire();
        assert_eq!(breaker.state(), State::HalfOpen);
        let second = breaker.acquire();
        let third = breaker.acquire();
        assert!(first.as_ref().is_ok_and(Permit::is_probe));
        assert!(second.as_ref().is_ok_and(Permit::is_probe));
        assert_eq!(
            third.err(),
            Some(Rejected {
                retry_after: Duration::ZERO,
                state: State::HalfOpen
            })
        );
        // Completing one probe does not make room for a third: exactly
        // `half_open_calls` probes decide.
        if let Ok(p) = first {
            p.record(ok());
        }
        assert!(breaker.acquire().is_err());
        assert_eq!(breaker.state(), State::HalfOpen);
        if let Ok(p) = second {
            p.record(ok());
        }
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(
            transitions(&log),
            vec![
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Closed),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn probe_success_closes_with_an_empty_window() {
        let breaker = tripped();
        advance(60 * S).await;
        send(&breaker, ok());
        assert_eq!(breaker.state(), State::Closed);
        // The four failures that tripped it are forgotten: three new ones
        // are below the volume threshold…
        for _ in 0..3 {
            send(&breaker, fail());
        }
        assert_eq!(breaker.state(), State::Closed);
        // …and the fourth trips it again.
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_failure_reopens_and_restarts_the_timer() {
        let (breaker, log) = observed(config());
        for _ in 0..4 {
            send(&breaker, fail());
        }
        advance(60 * S).await;
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Open);
        // The reset timer counts from the failed probe, not the first trip.
        advance(59 * S).await;
        assert_eq!(
            breaker.acquire().map(|_| ()).err().map(|r| r.retry_after),
            Some(S)
        );
        advance(S).await;
        assert!(breaker.acquire().is_ok_and(|p| p.is_probe()));
        assert_eq!(
            transitions(&log)[..3],
            [
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Open),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn any_failed_probe_reopens_once_all_probes_completed() {
        let breaker = CircuitBreaker::new(CircuitBreakerConfig {
            half_open_calls: 3,
            ..config()
        });
        for _ in 0..4 {
            send(&breaker, fail());
        }
        advance(60 * S).await;
        let probes: Vec<Permit> = (0..3).filter_map(|_| breaker.acquire().ok()).collect();
        assert_eq!(probes.len(), 3);
        let mut probes = probes.into_iter();
        let mut finish = |outcome| {
            if let Some(p) = probes.next() {
                p.record(outcome);
            }
        };
        finish(ok());
        finish(fail());
        assert_eq!(breaker.state(), State::HalfOpen, "one probe still out");
        finish(ok());
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_probe_frees_its_slot_without_counting() {
        let breaker = tripped();
        let before = breaker.stats();
        advance(60 * S).await;
        let probe = breaker.acquire();
        assert!(probe.is_ok());
        assert!(breaker.acquire().is_err(), "the only slot is taken");
        drop(probe);
        assert_eq!(breaker.state(), State::HalfOpen);
        assert_eq!(breaker.stats().calls, before.calls);
        // A probe cancelled by a timeout frees its slot too.
        let slow = breaker.call(&ErrorsAreFailures, async {
            sleep(5 * S).await;
            Ok::<(), ()>(())
        });
        assert!(tokio::time::timeout(S, slow).await.is_err());
        assert_eq!(breaker.state(), State::HalfOpen);
        assert_eq!(breaker.stats().calls, before.calls);
        // The slot is free for a real probe, which decides.
        send(&breaker, ok());
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_count_as_failures_when_slow_call_duration_is_set() {
        let breaker = CircuitBreaker::new(CircuitBreakerConfig {
            slow_call_duration: Some(S),
            ..config()
        });
        // Exactly as slow as the limit is not slower than it.
        for _ in 0..3 {
            send(&breaker, Outcome::Success { elapsed: S });
        }
        send(&breaker, Outcome::Success { elapsed: S + MS });
        assert_eq!(breaker.stats().failures, 1);
        assert_eq!(breaker.state(), State::Closed);
        // A call measured by the breaker itself: 2 s on the paused clock.
        let result = breaker
            .call(&ErrorsAreFailures, async {
                sleep(2 * S).await;
                Ok::<_, ()>("slow but fine")
            })
            .await;
        assert_eq!(result, Ok(Ok("slow but fine")));
        // 5 calls, 2 slow: 40%; one more slow call makes 3 / 6 = 50%.
        assert_eq!(breaker.state(), State::Closed);
        send(&breaker, Outcome::Success { elapsed: 3 * S });
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_successes_are_successes_without_slow_call_duration() {
        let breaker = CircuitBreaker::new(config());
        for _ in 0..10 {
            send(&breaker, Outcome::Success { elapsed: 3600 * S });
        }
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.stats().failures, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn rolling_window_remembers_calls_within_the_window() {
        let breaker = CircuitBreaker::new(config());
        for _ in 0..3 {
            send(&breaker, fail());
        }
        // 55 s later the first bucket is still one of the six.
        advance(55 * S).await;
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn rolling_window_forgets_old_buckets() {
        let breaker = CircuitBreaker::new(config());
        for _ in 0..3 {
            send(&breaker, fail());
        }
        // 60 s later that bucket has left the window: one call in it.
        advance(60 * S).await;
        send(&breaker, fail());
        assert_eq!(breaker.state(), State::Closed);
        for _ in 0..3 {
            send(&breaker, fail());
        }
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_calls_are_not_counted() {
        let breaker = tripped();
        for _ in 0..100 {
            assert!(breaker.acquire().is_err());
        }
        let stats = breaker.stats();
        assert_eq!(
            stats,
            BreakerStats {
                calls: 4,
                failures: 4,
                rejected: 100,
                state: State::Open
            }
        );
        advance(60 * S).await;
        let probe = breaker.acquire();
        // Rejections while HALF_OPEN are not probes either.
        for _ in 0..10 {
            assert!(breaker.acquire().is_err());
        }
        if let Ok(p) = probe {
            p.record(ok());
        }
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.stats().calls, 5);
        assert_eq!(breaker.stats().rejected, 110);
    }

    #[tokio::test(start_paused = true)]
    async fn late_outcomes_from_an_earlier_state_do_not_move_the_breaker() {
        let breaker = CircuitBreaker::new(config());
        let straggler = breaker.acquire();
        for _ in 0..4 {
            send(&breaker, fail());
        }
        advance(60 * S).await;
        let probe = breaker.acquire();
        // The straggler, sent while CLOSED, is not taken for the probe.
        if let Ok(p) = straggler {
            p.record(fail());
        }
        assert_eq!(breaker.state(), State::HalfOpen);
        if let Ok(p) = probe {
            p.record(ok());
        }
        assert_eq!(breaker.state(), State::Closed);
        // Nor is it in the new window: three failures stay below volume.
        for _ in 0..3 {
            send(&breaker, fail());
        }
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.stats().calls, 9, "but it is in the statistics");
    }

    #[tokio::test(start_paused = true)]
    async fn observer_may_query_the_breaker() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let slot: Arc<Mutex<Option<CircuitBreaker>>> = Arc::new(Mutex::new(None));
        let me = slot.clone();
        let breaker = CircuitBreaker::with_observer(config(), move |t| {
            let state = me
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(CircuitBreaker::state);
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((t.to, state));
        });
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(breaker.clone());
        for _ in 0..4 {
            send(&breaker, fail());
        }
        assert_eq!(
            *seen.lock().unwrap_or_else(|e| e.into_inner()),
            vec![(State::Open, Some(State::Open))]
        );
    }

    #[test]
    fn handles_and_permits_cross_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CircuitBreaker>();
        shareable::<Permit>();
    }

    #[test]
    fn state_names_are_the_spec_names() {
        let names: Vec<_> = [State::Closed, State::Open, State::HalfOpen]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["CLOSED", "OPEN", "HALF_OPEN"]);
    }
}
