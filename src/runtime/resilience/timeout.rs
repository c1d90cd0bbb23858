//! Time limits: the per-attempt `timeout` and the whole-call `deadline`
//! (§9.2), and the `timeout (d) { … }` statement (§9.6).
//!
//! Both drop the inner future when the limit passes, which cancels it at its
//! current suspension point (in-flight requests are dropped, breaker permits
//! released, bulkhead slots freed). A limit that has already passed does not
//! start the future at all, so nothing is sent after a deadline.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeLimit {
    /// A per-attempt timeout of this length.
    Attempt(Duration),
    /// The call's deadline.
    Deadline,
}

/// The future did not finish within its limit (`http:TimeoutError`,
/// `time:TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", match limit {
    TimeLimit::Attempt(d) => format!("timed out after {d:?}"),
    TimeLimit::Deadline => "deadline exceeded".to_string(),
})]
pub struct TimedOut {
    /// The limit that ran out.
    pub limit: TimeLimit,
}

/// The deadline `limit` from now, or none (no limit, or one too far away to
/// represent).
pub fn deadline_after(limit: Option<Duration>) -> Option<Instant> {
    limit.and_then(|d| Instant::now().checked_add(d))
}

async fn run_until<F: Future>(
    deadline: Option<Instant>,
    limit: TimeLimit,
    fut: F,
) -> Result<F::Output, TimedOut> {
    let Some(deadline) = deadline else {
        return Ok(fut.await);
    };
    if deadline <= Instant::now() {
        return Err(TimedOut { limit });
    }
    tokio::time::timeout_at(deadline, fut)
        .await
        .map_err(|_| TimedOut { limit })
}

/// Runs `fut` for at most `timeout` (none: no limit). On timeout the future
/// is dropped. A zero timeout fails without polling it.
pub async fn with_timeout<F: Future>(
    timeout: Option<Duration>,
    fut: F,
) -> Result<F::Output, TimedOut> {
    let Some(d) = timeout else {
        return Ok(fut.await);
    };
    let limit = TimeLimit::Attempt(d);
    if d.is_zero() {
        return Err(TimedOut { limit });
    }
    // One clock read: a non-zero limit from now has not passed yet.
    match Instant::now().checked_add(d) {
        None => Ok(fut.await),
        Some(deadline) => tokio::time::timeout_at(deadline, fut)
            .await
            .map_err(|_| TimedOut { limit }),
    }
}

/// Runs `fut` until `deadline` (none: no limit). At the deadline the future
/// is dropped; if the deadline has already passed it is not polled.
pub async fn with_deadline<F: Future>(
    deadline: Option<Instant>,
    fut: F,
) -> Result<F::Output, TimedOut> {
    run_until(deadline, TimeLimit::Deadline, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::time::{advance, sleep};

    const S: Duration = Duration::from_secs(1);

    /// Sets its flag when dropped.
    struct DropFlag<'a>(&'a AtomicBool);

    impl Drop for DropFlag<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn attempt_timeout_fires_exactly_and_drops_the_future() {
        let dropped = AtomicBool::new(false);
        let start = Instant::now();
        let result = with_timeout(Some(S), async {
            let _guard = DropFlag(&dropped);
            sleep(5 * S).await;
            "finished"
        })
        .await;
        assert_eq!(
            result,
            Err(TimedOut {
                limit: TimeLimit::Attempt(S)
            })
        );
        assert_eq!(start.elapsed(), S);
        assert!(dropped.load(Ordering::SeqCst), "cancelled at its sleep");
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_within_its_timeout_finishes() {
        let start = Instant::now();
        assert_eq!(
            with_timeout(Some(2 * S), async {
                sleep(S).await;
                7
            })
            .await,
            Ok(7)
        );
        assert_eq!(start.elapsed(), S);
        assert_eq!(with_timeout(None, async { 8 }).await, Ok(8));
        assert_eq!(with_timeout(Some(Duration::MAX), async { 9 }).await, Ok(9));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_fires_at_the_deadline() {
        let start = Instant::now();
        let deadline = deadline_after(Some(3 * S));
        advance(S).await;
        let result = with_deadline(deadline, sleep(10 * S)).await;
        assert_eq!(
            result,
            Err(TimedOut {
                limit: TimeLimit::Deadline
            })
        );
        assert_eq!(start.elapsed(), 3 * S);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_starts_after_the_deadline() {
        let started = AtomicBool::new(false);
        let deadline = deadline_after(Some(S));
        advance(S).await;
        let result = with_deadline(deadline, async {
            started.store(true, Ordering::SeqCst);
        })
        .await;
        assert!(result.is_err());
        assert!(!started.load(Ordering::SeqCst));
        assert!(with_timeout(Some(Duration::ZERO), async {}).await.is_err());
    }

    #[test]
    fn messages_name_the_limit() {
        let attempt = TimedOut {
            limit: TimeLimit::Attempt(Duration::from_millis(250)),
        };
        let deadline = TimedOut {
            limit: TimeLimit::Deadline,
        };
        assert_eq!(attempt.to_string(), "timed out after 250ms");
        assert_eq!(deadline.to_string(), "deadline exceeded");
    }
}
