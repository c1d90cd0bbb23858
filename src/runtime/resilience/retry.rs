//! Retry (§9.3): the backoff schedule, the `Retry-After` override, the
//! per-endpoint retry budget and the async driver that ties them together.
//!
//! The driver never sleeps past a deadline and never resends after it: if
//! the next wait would end at or after the deadline it stops and returns the
//! last error. Which errors are worth retrying (status codes, methods,
//! connection errors, a rejection by an open breaker) is the caller's
//! [`RetryDecision`].

use super::nanos;
use super::window::{RollingWindow, Tally};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// How the computed waits are randomised (§9.3 `jitter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Jitter {
    /// The exact exponential wait.
    None,
    /// Uniform in `[0, wait]` (the default).
    #[default]
    Full,
    /// `wait / 2` plus uniform in `[0, wait / 2]`.
    Equal,
    /// AWS "decorrelated jitter": `min(cap, uniform(interval, previous × 3))`,
    /// where `previous` is the previous wait actually drawn (at first
    /// `interval`); `back_off_factor` is not used.
    Decorrelated,
}

impl Jitter {
    /// The jitter for its Flow name: `"none"`, `"full"`, `"equal"` or
    /// `"decorrelated"`.
    pub fn from_name(name: &str) -> Option<Jitter> {
        Some(match name {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            _ => return None,
        })
    }

    /// The Flow name of this jitter.
    pub fn name(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

/// The settings of retries (`RetryConfig`, §9.3, and the `retry` statement,
/// §9.6), minus `statusCodes` and `methods`, which the HTTP layer applies in
/// its [`RetryDecision`], and `budget`, which is a shared [`RetryBudget`].
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt: at most `count + 1` attempts
    /// (default 0).
    pub count: u32,
    /// The wait before the first retry (default 100 ms).
    pub interval: Duration,
    /// Each later wait is the previous one times this (default 2.0).
    pub back_off_factor: f64,
    /// The cap on a single wait (default 10 s).
    pub max_wait_interval: Duration,
    /// How waits are randomised (default [`Jitter::Full`]).
    pub jitter: Jitter,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            count: 0,
            interval: Duration::from_millis(100),
            back_off_factor: 2.0,
            max_wait_interval: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }
}

/// The successive waits before retries 1, 2, … `count` (§9.3): an iterator
/// that yields `count` waits and then ends.
///
/// The un-jittered wait starts at `interval` and is multiplied by
/// `back_off_factor` for each later retry, capped at `max_wait_interval`
/// (computed in whole nanoseconds, so integral factors are exact); the
/// jitter is applied to it. The random source is injectable: seed a
/// [`StdRng`] for deterministic tests.
#[derive(Debug, Clone)]
pub struct Backoff<R = StdRng> {
    jitter: Jitter,
    factor: f64,
    /// `interval`, capped.
    interval: u64,
    cap: u64,
    remaining: u32,
    /// The next un-jittered wait.
    base: u64,
    /// The previous decorrelated wait.
    previous: u64,
    rng: R,
}

impl Backoff<StdRng> {
    /// The schedule for `config`, randomised from the thread's generator.
    pub fn new(config: &RetryConfig) -> Backoff<StdRng> {
        Backoff::with_rng(config, StdRng::from_rng(&mut rand::rng()))
    }
}

impl<R: Rng> Backoff<R> {
    /// The schedule for `config`, randomised by `rng`.
    pub fn with_rng(config: &RetryConfig, rng: R) -> Backoff<R> {
        let cap = nanos(config.max_wait_interval);
        let interval = nanos(config.interval).min(cap);
        Backoff {
            jitter: config.jitter,
            factor: config.back_off_factor,
            interval,
            cap,
            remaining: config.count,
            base: interval,
            previous: interval,
            rng,
        }
    }

    /// A schedule continuing from `state` (taken with [`Backoff::state`]
    /// from a schedule for the same `config`), with `config.count` retries
    /// left. For callers that cannot keep the `Backoff` itself between two
    /// waits, such as the `retry` statement (§9.6), whose state lives in
    /// Flow values.
    pub fn resume(config: &RetryConfig, state: BackoffState, rng: R) -> Backoff<R> {
        let mut b = Backoff::with_rng(config, rng);
        b.base = nanos(state.base).min(b.cap);
        b.previous = nanos(state.previous).min(b.cap);
        b
    }

    /// Where the schedule stands: what the next wait is computed from.
    pub fn state(&self) -> BackoffState {
        BackoffState {
            base: Duration::from_nanos(self.base),
            previous: Duration::from_nanos(self.previous),
        }
    }

    /// Retries left in the schedule.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    fn uniform(&mut self, low: u64, high: u64) -> u64 {
        if low >= high {
            low
        } else {
            self.rng.random_range(low..=high)
        }
    }

    /// The next wait, ignoring `count`.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.base;
        // f64 holds every integer below 2^53 ns (104 days) exactly; the cast
        // saturates (and maps NaN and negatives to 0).
        let scaled = (base as f64 * self.factor).round();
        self.base = if scaled.is_nan() || scaled >= self.cap as f64 {
            self.cap
        } else {
            scaled as u64
        };
        let wait = match self.jitter {
            Jitter::None => base,
            Jitter::Full => self.uniform(0, base),
            Jitter::Equal => {
                let half = base / 2;
                half + self.uniform(0, half)
            }
            Jitter::Decorrelated => {
                let high = self.previous.saturating_mul(3);
                let wait = self.uniform(self.interval, high).min(self.cap);
                self.previous = wait;
                wait
            }
        };
        Duration::from_nanos(wait)
    }
}

impl<R: Rng> Iterator for Backoff<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.remaining = self.remaining.checked_sub(1)?;
        Some(self.next_wait())
    }
}

/// The position of a [`Backoff`] between two waits ([`Backoff::state`],
/// [`Backoff::resume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffState {
    /// The next un-jittered wait.
    pub base: Duration,
    /// The previous wait drawn (decorrelated jitter; at first `interval`).
    pub previous: Duration,
}

/// A server-provided wait (`Retry-After`, §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Parses a `Retry-After` header value: delay-seconds (`"120"`) or an
    /// IMF-fixdate HTTP date (`"Sun, 06 Nov 1994 08:49:37 GMT"`), the latter
    /// relative to `now` (a date in the past means no wait). Other forms give
    /// `None`: the computed wait is used.
    pub fn parse(value: &str, now: SystemTime) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            let secs = value.parse::<u64>().unwrap_or(u64::MAX);
            return Some(RetryAfter(Duration::from_secs(secs)));
        }
        let at = parse_imf_fixdate(value)?;
        let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
        let at = u64::try_from(at).unwrap_or(0);
        Some(RetryAfter(Duration::from_secs(at.saturating_sub(now))))
    }

    /// The wait to use: this one when it is within `max_wait_interval`, else
    /// `computed`.
    pub fn replace(self, computed: Duration, max_wait_interval: Duration) -> Duration {
        if self.0 <= max_wait_interval {
            self.0
        } else {
            computed
        }
    }
}

/// Seconds since the Unix epoch of an IMF-fixdate (RFC 9110 §5.6.7).
fn parse_imf_fixdate(value: &str) -> Option<i64> {
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = value.split(' ').collect();
    let [day_name, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let number = |s: &str, digits: usize| -> Option<i64> {
        (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if !DAYS.contains(day_name) {
        return None;
    }
    let day = number(day, 2).filter(|d| (1..=31).contains(d))?;
    let month = MONTHS.iter().position(|m| m == month)?;
    let year = number(year, 4)?;
    let mut hms = time.split(':');
    let (Some(h), Some(m), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else {
        return None;
    };
    let h = number(h, 2).filter(|h| *h < 24)?;
    let m = number(m, 2).filter(|m| *m < 60)?;
    let s = number(s, 2).filter(|s| *s <= 60)?;
    let month = i64::try_from(month).ok()? + 1;
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The settings of a retry budget (`budget`, §9.3).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries allowed per request in the window (default 0.2).
    pub ratio: f64,
    /// Retries allowed per second regardless of traffic (default 10).
    pub min_per_second: u32,
    /// How far back requests and retries count (default 10 s, in ten
    /// buckets).
    pub window: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }
}

/// A retry budget shared by every call to one endpoint (Finagle's
/// `RetryBudget`, Envoy's retry budgets): over the sliding window, retries
/// may add at most `ratio` × requests plus `min_per_second` × window
/// seconds. Each request deposits, each retry withdraws; when a withdrawal
/// fails the caller returns its last error. Clones share the budget.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    shared: Arc<BudgetShared>,
}

/// One retry, in budget units.
const RETRY_COST: u64 = 1000;

#[derive(Debug)]
struct BudgetShared {
    config: RetryBudgetConfig,
    /// Units earned by one request (`ratio` × 1000).
    deposit: u64,
    /// Units always available (`min_per_second` × window in ms).
    reserve: u64,
    window: Mutex<RollingWindow<BudgetCounts>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct BudgetCounts {
    requests: u64,
    retries: u64,
}

impl Tally for BudgetCounts {
    fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.retries += other.retries;
    }
}

impl RetryBudget {
    /// An empty budget (only the reserve is available).
    pub fn new(config: RetryBudgetConfig) -> RetryBudget {
        // The cast saturates and maps NaN and negatives to 0.
        let deposit = (config.ratio * RETRY_COST as f64).round() as u64;
        let window_ms = u64::try_from(config.window.as_millis()).unwrap_or(u64::MAX);
        let reserve = u64::from(config.min_per_second).saturating_mul(window_ms);
        let window = RollingWindow::new(config.window, config.window / 10);
        RetryBudget {
            shared: Arc::new(BudgetShared {
                config,
                deposit,
                reserve,
                window: Mutex::new(window),
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.shared.config
    }

    fn window(&self) -> std::sync::MutexGuard<'_, RollingWindow<BudgetCounts>> {
        self.shared.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn balance(&self, counts: BudgetCounts) -> u64 {
        counts
            .requests
            .saturating_mul(self.shared.deposit)
            .saturating_add(self.shared.reserve)
            .saturating_sub(counts.retries.saturating_mul(RETRY_COST))
    }

    /// Records one request.
    pub fn deposit(&self) {
        self.window().update(Instant::now(), |c| c.requests += 1);
    }

    /// Takes one retry from the budget; `false` (and nothing taken) when it
    /// is exhausted.
    pub fn try_withdraw(&self) -> bool {
        let now = Instant::now();
        let mut window = self.window();
        if self.balance(window.total(now)) < RETRY_COST {
            return false;
        }
        window.update(now, |c| c.retries += 1);
        true
    }

    /// Whole retries available now.
    pub fn available(&self) -> u64 {
        self.balance(self.window().total(Instant::now())) / RETRY_COST
    }
}

/// The caller's verdict on a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Not worth retrying (e.g. a 404, a POST, a rejection by an open
    /// breaker): return this error now.
    Stop,
    /// Retry after the computed wait.
    Retry,
    /// Retry; the server asked for this wait (`Retry-After`), which replaces
    /// the computed one when it is within `max_wait_interval`. The backoff
    /// schedule advances either way, so later waits are as if computed.
    RetryAfter(Duration),
}

/// Why the driver gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The error was not retryable.
    NotRetryable,
    /// All `count + 1` attempts failed.
    Exhausted,
    /// The next attempt would have started at or after the deadline.
    Deadline,
    /// The retry budget was exhausted.
    Budget,
}

/// Every attempt failed: the **last** error, the number of attempts made
/// and why no more were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryExhausted<E> {
    /// The last attempt's error.
    pub error: E,
    /// Attempts made (at least 1).
    pub attempts: u32,
    /// Why the driver stopped.
    pub reason: StopReason,
}

impl<E: fmt::Display> fmt::Display for RetryExhausted<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = self.attempts;
        let s = if attempts == 1 { "" } else { "s" };
        write!(f, "{} (after {attempts} attempt{s})", self.error)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryExhausted<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A retry about to be waited for (a `--trace` event, §9.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryScheduled {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// The wait before the next attempt.
    pub wait: Duration,
    /// Whether the wait is the server's `Retry-After`.
    pub from_server: bool,
}

/// A retry driver, configured step by step:
/// `Retry::new(&config).budget(b).deadline(d).run(is_retryable, op)`.
pub struct Retry<'a, R = StdRng> {
    backoff: Backoff<R>,
    max_wait_interval: Duration,
    budget: Option<&'a RetryBudget>,
    deadline: Option<Instant>,
    on_retry: Option<RetryHook<'a>>,
}

/// The observer of scheduled retries (borrowed: nothing is allocated per
/// call).
type RetryHook<'a> = &'a (dyn Fn(&RetryScheduled) + Sync + 'a);

impl<'a> Retry<'a, StdRng> {
    /// Retries as `config` says, randomised from the thread's generator, with
    /// no budget and no deadline.
    pub fn new(config: &RetryConfig) -> Retry<'a, StdRng> {
        Retry::with_rng(config, StdRng::from_rng(&mut rand::rng()))
    }
}

/// A generator that draws from the thread's generator at each use, so a
/// call that never waits for a retry seeds nothing (a [`StdRng`] per call
/// costs a seeding and 300 bytes in every call's state). `Send`, unlike
/// `rand::rngs::ThreadRng`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl rand::TryRng for ThreadRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(rand::rng().next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(rand::rng().next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand::rng().fill_bytes(dst);
        Ok(())
    }
}

impl<'a, R: Rng> Retry<'a, R> {
    /// Retries as `config` says, randomised by `rng`.
    pub fn with_rng(config: &RetryConfig, rng: R) -> Retry<'a, R> {
        Retry {
            backoff: Backoff::with_rng(config, rng),
            max_wait_interval: config.max_wait_interval,
            budget: None,
            deadline: None,
            on_retry: None,
        }
    }

    /// Deposits the call into `budget` and withdraws each retry from it.
    pub fn budget(mut self, budget: Option<&'a RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Never waits past, nor starts an attempt at or after, `deadline`.
    pub fn deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Calls `f` before each wait (for tracing and statistics).
    pub fn on_retry(mut self, f: RetryHook<'a>) -> Self {
        self.on_retry = Some(f);
        self
    }

    /// Runs `op(1)`, and while it fails with a retryable error, waits and
    /// runs `op(2)`, `op(3)`, … up to `count + 1` attempts. Returns the first
    /// success, or the last error with the number of attempts.
    pub async fn run<T, E, Fut>(
        self,
        is_retryable: impl Fn(&E) -> RetryDecision,
        mut op: impl FnMut(u32) -> Fut,
    ) -> Result<T, RetryExhausted<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        self.start();
        match op(1).await {
            Ok(value) => Ok(value),
            Err(error) => self.after_failure(error, is_retryable, op).await,
        }
    }

    /// What [`Retry::run`] does before the first attempt: deposits the call
    /// into the budget.
    pub fn start(&self) {
        if let Some(budget) = self.budget {
            budget.deposit();
        }
    }

    /// [`Retry::run`] from the failure `error` of the first attempt on
    /// (after [`Retry::start`] and `op(1)`): a caller may make the first
    /// attempt itself and keep the retry loop's state (box it) out of the
    /// calls that succeed at once.
    pub async fn after_failure<T, E, Fut>(
        mut self,
        mut error: E,
        is_retryable: impl Fn(&E) -> RetryDecision,
        mut op: impl FnMut(u32) -> Fut,
    ) -> Result<T, RetryExhausted<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt: u32 = 1;
        loop {
            let stop = |error, reason| {
                Err(RetryExhausted {
                    error,
                    attempts: attempt,
                    reason,
                })
            };
            let server_wait = match is_retryable(&error) {
                RetryDecision::Stop => return stop(error, StopReason::NotRetryable),
                RetryDecision::Retry => None,
                RetryDecision::RetryAfter(wait) => Some(RetryAfter(wait)),
            };
            let Some(computed) = self.backoff.next() else {
                return stop(error, StopReason::Exhausted);
            };
            let wait = match server_wait {
                Some(server) => server.replace(computed, self.max_wait_interval),
                None => computed,
            };
            if let Some(deadline) = self.deadline {
                let resume = Instant::now().checked_add(wait);
                if resume.is_none_or(|at| at >= deadline) {
                    return stop(error, StopReason::Deadline);
                }
            }
            if self.budget.is_some_and(|b| !b.try_withdraw()) {
                return stop(error, StopReason::Budget);
            }
            if let Some(on_retry) = self.on_retry {
                on_retry(&RetryScheduled {
                    attempt,
                    wait,
                    from_server: server_wait.is_some_and(|s| s.0 == wait),
                });
            }
            tokio::time::sleep(wait).await;
            attempt = attempt.saturating_add(1);
            error = match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
        }
    }
}

impl<R> fmt::Debug for Retry<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("remaining", &self.backoff.remaining)
            .field("max_wait_interval", &self.max_wait_interval)
            .field("budget", &self.budget.is_some())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Runs `op` with retries (see [`Retry::run`]): `config`'s schedule, an
/// optional shared budget and an optional deadline.
pub async fn retry_with<T, E, Fut>(
    config: &RetryConfig,
    budget: Option<&RetryBudget>,
    deadline: Option<Instant>,
    is_retryable: impl Fn(&E) -> RetryDecision,
    op: impl FnMut(u32) -> Fut,
) -> Result<T, RetryExhausted<E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    Retry::new(config)
        .budget(budget)
        .deadline(deadline)
        .run(is_retryable, op)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::{advance, sleep};

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    fn config(count: u32, jitter: Jitter) -> RetryConfig {
        RetryConfig {
            count,
            interval: 100 * MS,
            back_off_factor: 2.0,
            max_wait_interval: S,
            jitter,
        }
    }

    fn seeded(config: &RetryConfig, seed: u64) -> Backoff {
        Backoff::with_rng(config, StdRng::seed_from_u64(seed))
    }

    /// The un-jittered schedule of `config(8, _)`.
    fn bases() -> Vec<Duration> {
        [100, 200, 400, 800, 1000, 1000, 1000, 1000]
            .map(|ms| ms * MS)
            .to_vec()
    }

    #[test]
    fn a_resumed_schedule_continues_where_its_state_was_taken() {
        let c = config(8, Jitter::None);
        let mut waits = Vec::new();
        let mut state = seeded(&c, 1).state();
        for _ in 0..8 {
            let mut b = Backoff::resume(&c, state, StdRng::seed_from_u64(2));
            waits.push(b.next_wait());
            state = b.state();
        }
        assert_eq!(waits, bases());
    }

    #[test]
    fn without_jitter_each_wait_is_the_previous_times_the_factor_capped() {
        let waits: Vec<_> = seeded(&config(8, Jitter::None), 0).collect();
        assert_eq!(waits, bases());
        let gentle = RetryConfig {
            back_off_factor: 1.5,
            max_wait_interval: 10 * S,
            ..config(4, Jitter::None)
        };
        let waits: Vec<_> = seeded(&gentle, 0).collect();
        let expected = [100_000, 150_000, 225_000, 337_500].map(Duration::from_micros);
        assert_eq!(waits, expected);
    }

    #[test]
    fn the_schedule_has_count_waits() {
        assert_eq!(seeded(&config(0, Jitter::None), 0).count(), 0);
        let mut backoff = seeded(&config(3, Jitter::None), 0);
        assert_eq!(backoff.remaining(), 3);
        assert_eq!(backoff.by_ref().count(), 3);
        assert_eq!(backoff.next(), None);
    }

    #[test]
    fn an_interval_above_the_cap_is_capped() {
        let config = RetryConfig {
            interval: 5 * S,
            ..config(2, Jitter::None)
        };
        assert_eq!(seeded(&config, 0).collect::<Vec<_>>(), [S, S]);
    }

    #[test]
    fn extreme_factors_do_not_panic() {
        for factor in [f64::INFINITY, f64::NAN, 1e300, -2.0, 0.0] {
            let config = RetryConfig {
                back_off_factor: factor,
                ..config(3, Jitter::None)
            };
            let waits: Vec<_> = seeded(&config, 0).collect();
            assert_eq!(waits.len(), 3);
            assert_eq!(waits[0], 100 * MS);
            assert!(waits.iter().all(|w| *w <= S), "{factor}: {waits:?}");
        }
        let huge = RetryConfig {
            interval: Duration::MAX,
            max_wait_interval: Duration::MAX,
            ..config(2, Jitter::Decorrelated)
        };
        assert_eq!(seeded(&huge, 0).count(), 2);
    }

    #[test]
    fn full_jitter_is_uniform_in_zero_to_wait() {
        for seed in 0..200 {
            let waits: Vec<_> = seeded(&config(8, Jitter::Full), seed).collect();
            for (wait, base) in waits.iter().zip(bases()) {
                assert!(*wait <= base, "seed {seed}: {wait:?} > {base:?}");
            }
        }
        // It does spread: not every draw sits at the top.
        let first: Vec<_> = (0..50)
            .filter_map(|seed| seeded(&config(1, Jitter::Full), seed).next())
            .collect();
        assert!(first.iter().any(|w| *w < 50 * MS));
        assert!(first.iter().any(|w| *w > 50 * MS));
    }

    #[test]
    fn equal_jitter_is_half_the_wait_plus_uniform_half() {
        for seed in 0..200 {
            let waits: Vec<_> = seeded(&config(8, Jitter::Equal), seed).collect();
            for (wait, base) in waits.iter().zip(bases()) {
                assert!(*wait >= base / 2 && *wait <= base, "seed {seed}: {wait:?}");
            }
        }
    }

    #[test]
    fn decorrelated_jitter_is_uniform_from_interval_to_three_times_the_previous() {
        for seed in 0..200 {
            let waits: Vec<_> = seeded(&config(8, Jitter::Decorrelated), seed).collect();
            let mut previous = 100 * MS;
            for wait in waits {
                assert!(wait >= 100 * MS, "seed {seed}: {wait:?}");
                assert!(wait <= (previous * 3).min(S), "seed {seed}: {wait:?}");
                previous = wait;
            }
        }
    }

    #[test]
    fn a_seeded_schedule_is_reproducible() {
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let a: Vec<_> = seeded(&config(8, jitter), 42).collect();
            let b: Vec<_> = seeded(&config(8, jitter), 42).collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn jitter_names_round_trip() {
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            assert_eq!(Jitter::from_name(jitter.name()), Some(jitter));
        }
        assert_eq!(Jitter::from_name("random"), None);
        assert_eq!(RetryConfig::default().jitter, Jitter::Full);
    }

    #[test]
    fn retry_after_within_the_cap_replaces_the_computed_wait() {
        assert_eq!(RetryAfter(3 * S).replace(100 * MS, 10 * S), 3 * S);
        assert_eq!(RetryAfter(10 * S).replace(100 * MS, 10 * S), 10 * S);
        assert_eq!(RetryAfter(11 * S).replace(100 * MS, 10 * S), 100 * MS);
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let parse = |v| RetryAfter::parse(v, now).map(|r| r.0);
        assert_eq!(parse("120"), Some(120 * S));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse("Sun, 06 Nov 1994 08:50:07 GMT"), Some(30 * S));
        assert_eq!(parse("Mon, 07 Nov 1994 08:49:37 GMT"), Some(86_400 * S));
        assert_eq!(parse("Sat, 05 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(
            parse("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(Duration::from_secs(1_709_164_800 - 784_111_777))
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// An operation failing with `"fail N"` on attempts below `succeed_on`.
    fn flaky(
        succeed_on: u32,
        log: &Mutex<Vec<(u32, Duration)>>,
        start: Instant,
    ) -> impl FnMut(u32) -> std::future::Ready<Result<&'static str, String>> + '_ {
        move |attempt| {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((attempt, start.elapsed()));
            std::future::ready(if attempt >= succeed_on {
                Ok("done")
            } else {
                Err(format!("fail {attempt}"))
            })
        }
    }

    fn always(_: &String) -> RetryDecision {
        RetryDecision::Retry
    }

    fn log() -> Mutex<Vec<(u32, Duration)>> {
        Mutex::new(Vec::new())
    }

    fn entries(log: Mutex<Vec<(u32, Duration)>>) -> Vec<(u32, Duration)> {
        log.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_after_the_exact_waits() {
        let calls = log();
        let start = Instant::now();
        let result = Retry::with_rng(&config(5, Jitter::None), StdRng::seed_from_u64(0))
            .run(always, flaky(3, &calls, start))
            .await;
        assert_eq!(result, Ok("done"));
        assert_eq!(
            entries(calls),
            [(1, Duration::ZERO), (2, 100 * MS), (3, 300 * MS)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn returns_the_last_error_with_the_attempt_count() {
        let calls = log();
        let start = Instant::now();
        let result = retry_with(
            &config(3, Jitter::None),
            None,
            None,
            always,
            flaky(99, &calls, start),
        )
        .await;
        assert_eq!(
            result,
            Err(RetryExhausted {
                error: "fail 4".to_string(),
                attempts: 4,
                reason: StopReason::Exhausted
            })
        );
        // 100 + 200 + 400 ms of waits, and no wait after the last attempt.
        assert_eq!(start.elapsed(), 700 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn count_zero_makes_one_attempt() {
        let calls = log();
        let result = retry_with(
            &RetryConfig::default(),
            None,
            None,
            always,
            flaky(2, &calls, Instant::now()),
        )
        .await;
        assert_eq!(
            result.map_err(|e| (e.attempts, e.reason)),
            Err((1, StopReason::Exhausted))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_that_is_not_retryable_stops_at_once() {
        let calls = log();
        let start = Instant::now();
        let result = retry_with(
            &config(5, Jitter::None),
            None,
            None,
            |e: &String| {
                if e == "fail 2" {
                    RetryDecision::Stop
                } else {
                    RetryDecision::Retry
                }
            },
            flaky(99, &calls, start),
        )
        .await;
        assert_eq!(
            result.map_err(|e| (e.error, e.attempts, e.reason)),
            Err(("fail 2".to_string(), 2, StopReason::NotRetryable))
        );
        assert_eq!(start.elapsed(), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_stops_retries_without_sleeping_past_it() {
        let calls = log();
        let start = Instant::now();
        let deadline = start + 250 * MS;
        let result = retry_with(
            &config(5, Jitter::None),
            None,
            Some(deadline),
            always,
            flaky(99, &calls, start),
        )
        .await;
        // Attempt 1 at 0 ms, attempt 2 at 100 ms; the next wait (200 ms)
        // would end at 300 ms > 250 ms: stop now, with attempt 2's error.
        assert_eq!(
            result.map_err(|e| (e.error, e.attempts, e.reason)),
            Err(("fail 2".to_string(), 2, StopReason::Deadline))
        );
        assert_eq!(start.elapsed(), 100 * MS);
        // A wait ending exactly at the deadline would start an attempt at
        // the deadline: that is not allowed either.
        let calls = log();
        let start = Instant::now();
        let result = retry_with(
            &config(5, Jitter::None),
            None,
            Some(start + 300 * MS),
            always,
            flaky(99, &calls, start),
        )
        .await;
        assert_eq!(result.map_err(|e| e.attempts), Err(2));
        assert_eq!(start.elapsed(), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_budget_stops_retries() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.2,
            min_per_second: 0,
            window: 10 * S,
        });
        for _ in 0..10 {
            budget.deposit();
        }
        // 11 requests × 0.2 = 2.2: two retries, then the budget is empty.
        let calls = log();
        let start = Instant::now();
        let result = retry_with(
            &config(5, Jitter::None),
            Some(&budget),
            None,
            always,
            flaky(99, &calls, start),
        )
        .await;
        assert_eq!(
            result.map_err(|e| (e.error, e.attempts, e.reason)),
            Err(("fail 3".to_string(), 3, StopReason::Budget))
        );
        assert_eq!(budget.available(), 0);
        // An empty budget allows no retry at all.
        let empty = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 0,
            window: 10 * S,
        });
        let result = retry_with(
            &config(5, Jitter::None),
            Some(&empty),
            None,
            always,
            flaky(99, &log(), start),
        )
        .await;
        assert_eq!(
            result.map_err(|e| (e.attempts, e.reason)),
            Err((1, StopReason::Budget))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_wait_within_the_cap_replaces_the_computed_wait() {
        let config = RetryConfig {
            max_wait_interval: 10 * S,
            ..config(2, Jitter::None)
        };
        let scheduled = Mutex::new(Vec::new());
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let result: Result<(), _> = Retry::with_rng(&config, StdRng::seed_from_u64(0))
            .on_retry(&|event| {
                scheduled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(*event);
            })
            .run(
                |server_wait: &Duration| RetryDecision::RetryAfter(*server_wait),
                |_| {
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    // First asks for 3 s (honoured), then 30 s (too long).
                    std::future::ready(Err(if n == 0 { 3 * S } else { 30 * S }))
                },
            )
            .await;
        assert_eq!(result.map_err(|e| e.attempts), Err(3));
        assert_eq!(
            scheduled.into_inner().unwrap_or_else(|e| e.into_inner()),
            [
                RetryScheduled {
                    attempt: 1,
                    wait: 3 * S,
                    from_server: true
                },
                RetryScheduled {
                    attempt: 2,
                    wait: 200 * MS,
                    from_server: false
                },
            ]
        );
        assert_eq!(start.elapsed(), 3 * S + 200 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_may_take_time_and_are_numbered_from_one() {
        let start = Instant::now();
        let seen = Mutex::new(Vec::new());
        let result = retry_with(
            &config(2, Jitter::None),
            None,
            None,
            |_: &u32| RetryDecision::Retry,
            |attempt| {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((attempt, start.elapsed()));
                async move {
                    sleep(50 * MS).await;
                    if attempt < 3 {
                        Err(attempt)
                    } else {
                        Ok(attempt)
                    }
                }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(
            seen.into_inner().unwrap_or_else(|e| e.into_inner()),
            [(1, Duration::ZERO), (2, 150 * MS), (3, 400 * MS)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn budget_allows_a_ratio_of_recent_requests() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.2,
            min_per_second: 0,
            window: 10 * S,
        });
        assert!(!budget.try_withdraw(), "no requests, no reserve");
        for _ in 0..10 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 2);
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        // Five more requests earn one more retry.
        for _ in 0..5 {
            budget.deposit();
        }
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn budget_forgets_requests_and_retries_outside_its_window() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.5,
            min_per_second: 0,
            window: 10 * S,
        });
        for _ in 0..4 {
            budget.deposit();
        }
        advance(5 * S).await;
        for _ in 0..4 {
            budget.deposit();
        }
        assert!(budget.try_withdraw());
        assert_eq!(budget.available(), 3);
        // The first four requests leave the window.
        advance(5 * S).await;
        assert_eq!(budget.available(), 1);
        // Then the rest, and the retry with them.
        advance(5 * S).await;
        assert_eq!(budget.available(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_reserve_is_min_per_second_over_the_window() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 2,
            window: 10 * S,
        });
        assert_eq!(budget.available(), 20);
        for _ in 0..20 {
            assert!(budget.try_withdraw());
        }
        assert!(!budget.try_withdraw());
        advance(10 * S).await;
        assert_eq!(budget.available(), 20);
        assert_eq!(
            RetryBudget::new(RetryBudgetConfig::default()).available(),
            100
        );
    }

    #[test]
    fn exhaustion_reads_as_the_last_error() {
        let one = RetryExhausted {
            error: "connection refused",
            attempts: 1,
            reason: StopReason::NotRetryable,
        };
        let four = RetryExhausted {
            attempts: 4,
            reason: StopReason::Exhausted,
            ..one
        };
        assert_eq!(one.to_string(), "connection refused (after 1 attempt)");
        assert_eq!(four.to_string(), "connection refused (after 4 attempts)");
    }

    #[test]
    fn drivers_and_budgets_cross_threads() {
        fn sendable<T: Send>() {}
        fn shareable<T: Send + Sync>() {}
        sendable::<Retry<'static>>();
        sendable::<Backoff>();
        shareable::<RetryBudget>();
    }
}
