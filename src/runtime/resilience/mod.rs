//! Resilience layers (§9.2–§9.4): small, HTTP-independent types that the
//! endpoint machinery and the `retry` / `timeout` statements compose.
//!
//! | layer | type | spec |
//! |---|---|---|
//! | deadline | [`with_deadline`] | §9.2 `deadline` |
//! | rate limit | [`RateLimiter`] | §9.2 `rateLimit` |
//! | bulkhead | [`Bulkhead`] | §9.2 `bulkhead` |
//! | retry | [`Retry`], [`retry_with`], [`Backoff`], [`RetryBudget`] | §9.3 |
//! | circuit breaker | [`CircuitBreaker`] | §9.4 |
//! | timeout | [`with_timeout`] | §9.2 `timeout` |
//!
//! The layers apply in that order, outermost first (§9.2): every **attempt**
//! made by the retry layer passes through the circuit breaker, and a call
//! rejected by an open breaker is not retried (the caller's retry decision
//! says [`RetryDecision::Stop`] for a [`Rejected`]).
//!
//! **Architecture Invariant: time is tokio time.** Every layer reads the
//! clock with [`tokio::time::Instant::now`] and waits with `tokio::time`, so
//! the tests drive them with tokio's paused clock and assert exact elapsed
//! times; nothing reads `std::time::Instant`.
//!
//! **Architecture Invariant: the caller decides what a failure is.** No
//! layer looks inside a result: the caller classifies it ([`Classify`],
//! [`Verdict`]) and reports an [`Outcome`]; the retry driver asks
//! `is_retryable` for a [`RetryDecision`]. Status codes, methods and
//! `Retry-After` headers belong to the HTTP layer.
//!
//! **Architecture Invariant: rejections are not outcomes.** A call refused
//! by the breaker, the bulkhead or the rate limiter never reaches the
//! upstream and is never recorded as a failure; each layer only counts it
//! in its own `rejected` statistic.
//!
//! **Architecture Invariant: cancellation is dropping.** A cancelled call
//! (timeout, cancelled strand) is a dropped future: a breaker [`Permit`]
//! dropped without an outcome frees its probe slot without counting, a
//! [`BulkheadPermit`] frees its slot, a rate-limit waiter returns its
//! reserved token.
//!
//! **API Boundary.** The shared layers ([`CircuitBreaker`], [`Bulkhead`],
//! [`RateLimiter`], [`RetryBudget`]) are cheap-to-clone handles: clones share
//! one state (one per endpoint), guarded by a `Mutex` or atomics, `Send +
//! Sync`.

mod breaker;
mod bulkhead;
mod rate_limit;
mod retry;
mod timeout;
mod window;

pub use breaker::{
    BreakerStats, CircuitBreaker, CircuitBreakerConfig, Permit, Rejected, State, Transition,
};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit, Full};
pub use rate_limit::{Limited, RateLimitConfig, RateLimiter};
pub use retry::{
    retry_with, Backoff, BackoffState, Jitter, Retry, RetryAfter, RetryBudget, RetryBudgetConfig,
    RetryConfig, RetryDecision, RetryExhausted, RetryScheduled, StopReason, ThreadRandom,
};
pub use timeout::{deadline_after, with_deadline, with_timeout, TimeLimit, TimedOut};

use std::time::Duration;

/// Why an attempt failed, as classified by the caller. Carried in
/// [`Outcome::Failure`] for statistics and tracing; the layers themselves
/// treat every kind alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Could not connect, connection reset, name resolution failed.
    Connection,
    /// The attempt exceeded its time limit.
    Timeout,
    /// The upstream answered with a status the caller counts as a failure.
    Status(u16),
    /// Any other failure (e.g. a failed `retry` statement body).
    Other,
}

/// The caller's judgement of one finished attempt, before timing is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The attempt succeeded.
    Success,
    /// The attempt failed.
    Failure(FailureKind),
}

/// Decides whether a result is a success or a failure. Implemented for
/// every `Fn(&Result<T, E>) -> Verdict`, and by [`ErrorsAreFailures`].
pub trait Classify<T, E> {
    /// The verdict for one attempt's result.
    fn classify(&self, result: &Result<T, E>) -> Verdict;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Verdict,
{
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        self(result)
    }
}

/// The plain classifier: `Ok` is a success, every `Err` a
/// [`FailureKind::Other`] failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsAreFailures;

impl<T, E> Classify<T, E> for ErrorsAreFailures {
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        match result {
            Ok(_) => Verdict::Success,
            Err(_) => Verdict::Failure(FailureKind::Other),
        }
    }
}

/// The recorded outcome of one attempt: its verdict and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The attempt succeeded after `elapsed` (a circuit breaker with
    /// `slow_call_duration` may still count it as a failure).
    Success {
        /// Time from sending to the result.
        elapsed: Duration,
    },
    /// The attempt failed after `elapsed`.
    Failure {
        /// Time from sending to the failure.
        elapsed: Duration,
        /// Why it failed.
        kind: FailureKind,
    },
}

impl Outcome {
    /// The outcome for a verdict reached after `elapsed`.
    pub fn new(verdict: Verdict, elapsed: Duration) -> Outcome {
        match verdict {
            Verdict::Success => Outcome::Success { elapsed },
            Verdict::Failure(kind) => Outcome::Failure { elapsed, kind },
        }
    }

    /// How long the attempt took.
    pub fn elapsed(&self) -> Duration {
        match *self {
            Outcome::Success { elapsed } | Outcome::Failure { elapsed, .. } => elapsed,
        }
    }

    /// Whether the caller judged the attempt a failure.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failure { .. })
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
