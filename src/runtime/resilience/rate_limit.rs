//! The rate limiter (§9.2 `rateLimit`): a token bucket of `permits` tokens
//! (the burst) refilled at one token every `period / permits`. A call takes
//! a token; if none is left it waits for the next one when that comes
//! within `max_wait`, else it is rejected at once with [`Limited`]
//! (`http:RateLimitedError`).
//!
//! A waiting call reserves its future token up front (the bucket goes into
//! debt), so waiters are served in arrival order and each knows its exact
//! wait; a waiter cancelled before its token arrives gives it back.

use super::nanos;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The settings of a rate limiter (`RateLimitConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Calls allowed per `period`; also the burst.
    pub permits: u32,
    /// The period over which `permits` calls are allowed.
    pub period: Duration,
    /// How long a call may wait for a token (default 0 ms: reject at once).
    pub max_wait: Duration,
}

impl RateLimitConfig {
    /// `permits` calls per `period`, without waiting.
    pub fn new(permits: u32, period: Duration) -> RateLimitConfig {
        RateLimitConfig {
            permits,
            period,
            max_wait: Duration::ZERO,
        }
    }
}

/// No token is available within `max_wait`; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; next permit in {retry_after:?}")]
pub struct Limited {
    /// When the call could have had a token.
    pub retry_after: Duration,
}

/// A rate limiter: a handle to one shared token bucket. Clones share it.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RateLimitConfig,
    /// Nanoseconds between two tokens (at least 1).
    interval: u64,
    bucket: Mutex<Bucket>,
    rejected: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative when waiters have reserved future tokens.
    tokens: i64,
    /// While the bucket is not full, the next token arrives at
    /// `last + interval`.
    last: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        let interval = match config.permits {
            0 => nanos(config.period),
            n => nanos(config.period) / u64::from(n),
        }
        .max(1);
        RateLimiter {
            shared: Arc::new(Shared {
                bucket: Mutex::new(Bucket {
                    tokens: i64::from(config.permits),
                    last: Instant::now(),
                }),
                config,
                interval,
                rejected: AtomicU64::new(0),
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &RateLimitConfig {
        &self.shared.config
    }

    /// Calls rejected so far.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    fn capacity(&self) -> i64 {
        i64::from(self.shared.config.permits)
    }

    /// The bucket, refilled up to `now`.
    fn refilled(&self, now: Instant) -> MutexGuard<'_, Bucket> {
        let mut bucket = self.shared.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let capacity = self.capacity();
        if bucket.tokens >= capacity {
            bucket.last = now;
            return bucket;
        }
        let interval = self.shared.interval;
        let arrived = nanos(now.saturating_duration_since(bucket.last)) / interval;
        let room = u64::try_from(capacity - bucket.tokens).unwrap_or(0);
        if arrived >= room {
            bucket.tokens = capacity;
            bucket.last = now;
        } else if arrived > 0 {
            // arrived < room ≤ 2^32 + 2^63: fits an i64 and the product a u64.
            bucket.tokens += i64::try_from(arrived).unwrap_or(0);
            bucket.last += Duration::from_nanos(arrived * interval);
        }
        bucket
    }

    /// Takes a token, waiting up to `max_wait` for the next one.
    pub async fn acquire(&self) -> Result<(), Limited> {
        let now = Instant::now();
        let wait = {
            let mut bucket = self.refilled(now);
            if bucket.tokens >= 1 {
                bucket.tokens -= 1;
                return Ok(());
            }
            let wait = if self.capacity() == 0 {
                self.shared.config.period
            } else {
                // This call's token is the (1 - tokens)-th still to come.
                let ahead = u64::try_from(1 - bucket.tokens).unwrap_or(u64::MAX);
                let arrives = Duration::from_nanos(ahead.saturating_mul(self.shared.interval));
                bucket
                    .last
                    .checked_add(arrives)
                    .map_or(Duration::MAX, |at| at.saturating_duration_since(now))
            };
            if self.capacity() == 0 || wait > self.shared.config.max_wait {
                self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(Limited { retry_after: wait });
            }
            bucket.tokens -= 1;
            wait
        };
        let reservation = Reservation {
            limiter: self,
            kept: false,
        };
        // Boxed: only a waiting call pays for the timer's space.
        Box::pin(tokio::time::sleep(wait)).await;
        reservation.keep();
        Ok(())
    }
}

/// A reserved future token; returned to the bucket unless kept.
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    kept: bool,
}

impl Reservation<'_> {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let mut bucket = self.limiter.refilled(Instant::now());
            bucket.tokens = (bucket.tokens + 1).min(self.limiter.capacity());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    /// Two calls per second (a token every 500 ms), burst two.
    fn limiter(max_wait: Duration) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            max_wait,
            ..RateLimitConfig::new(2, S)
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_permits_then_rejection_with_the_time_to_the_next_token() {
        let rl = limiter(Duration::ZERO);
        let start = Instant::now();
        assert_eq!(rl.acquire().await, Ok(()));
        assert_eq!(rl.acquire().await, Ok(()));
        assert_eq!(
            rl.acquire().await,
            Err(Limited {
                retry_after: 500 * MS
            })
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        advance(200 * MS).await;
        assert_eq!(
            rl.acquire().await,
            Err(Limited {
                retry_after: 300 * MS
            })
        );
        assert_eq!(rl.rejected(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn refills_one_token_per_interval() {
        let rl = limiter(Duration::ZERO);
        for _ in 0..2 {
            assert!(rl.acquire().await.is_ok());
        }
        advance(500 * MS).await;
        assert!(rl.acquire().await.is_ok());
        assert!(rl.acquire().await.is_err());
        advance(700 * MS).await;
        // At 1200 ms: one token (arrived at 1000 ms); the next is due at
        // 1500 ms, so the 200 ms towards it are kept.
        assert!(rl.acquire().await.is_ok());
        assert_eq!(
            rl.acquire().await,
            Err(Limited {
                retry_after: 300 * MS
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_holds_more_than_the_burst() {
        let rl = limiter(Duration::ZERO);
        advance(10 * S).await;
        assert!(rl.acquire().await.is_ok());
        assert!(rl.acquire().await.is_ok());
        assert!(rl.acquire().await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_next_token_within_max_wait() {
        let rl = limiter(S);
        let start = Instant::now();
        for _ in 0..2 {
            assert!(rl.acquire().await.is_ok());
        }
        assert!(rl.acquire().await.is_ok());
        assert_eq!(start.elapsed(), 500 * MS);
        assert!(rl.acquire().await.is_ok());
        assert_eq!(start.elapsed(), S);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_queue_for_successive_tokens() {
        let rl = limiter(S);
        for _ in 0..2 {
            assert!(rl.acquire().await.is_ok());
        }
        let start = Instant::now();
        let timed = || async {
            let r = rl.acquire().await;
            (r, start.elapsed())
        };
        let (a, b, c) = tokio::join!(timed(), timed(), timed());
        assert_eq!(a, (Ok(()), 500 * MS));
        assert_eq!(b, (Ok(()), S));
        // The third would wait 1500 ms > max_wait: rejected at once.
        assert_eq!(
            c,
            (
                Err(Limited {
                    retry_after: 1500 * MS
                }),
                Duration::ZERO
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_at_once_when_the_wait_exceeds_max_wait() {
        let rl = limiter(400 * MS);
        for _ in 0..2 {
            assert!(rl.acquire().await.is_ok());
        }
        let start = Instant::now();
        assert_eq!(
            rl.acquire().await,
            Err(Limited {
                retry_after: 500 * MS
            })
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_gives_its_token_back() {
        let rl = limiter(S);
        for _ in 0..2 {
            assert!(rl.acquire().await.is_ok());
        }
        let start = Instant::now();
        assert!(tokio::time::timeout(100 * MS, rl.acquire()).await.is_err());
        // The next caller gets the 500 ms token, not the 1000 ms one.
        assert!(rl.acquire().await.is_ok());
        assert_eq!(start.elapsed(), 500 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_permits_reject_everything() {
        let rl = RateLimiter::new(RateLimitConfig {
            max_wait: Duration::from_secs(3600),
            ..RateLimitConfig::new(0, S)
        });
        assert_eq!(rl.acquire().await, Err(Limited { retry_after: S }));
    }
}
