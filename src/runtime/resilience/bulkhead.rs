//! The bulkhead (§9.2 `bulkhead`): at most `max_concurrent` calls in flight;
//! a call waits up to `max_wait` for a slot (first come, first served), else
//! it is rejected with [`Full`] (`http:BulkheadFullError`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The settings of a bulkhead (`BulkheadConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// Calls allowed in flight at once (default 25).
    pub max_concurrent: u32,
    /// How long a call may wait for a slot (default 0 ms: reject at once).
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 25,
            max_wait: Duration::ZERO,
        }
    }
}

/// No slot became free within `max_wait`; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead full ({max_concurrent} calls in flight; waited {waited:?})")]
pub struct Full {
    /// The bulkhead's limit.
    pub max_concurrent: u32,
    /// How long the call waited before giving up.
    pub waited: Duration,
}

/// A bulkhead: a handle to one shared set of slots. Clones share the slots.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BulkheadConfig,
    /// The number of slots actually provided (`max_concurrent`, capped by
    /// the semaphore's maximum).
    slots: usize,
    semaphore: Arc<Semaphore>,
    rejected: AtomicU64,
}

/// One occupied slot; dropping it (the call finished or was cancelled)
/// frees the slot.
#[must_use = "the slot is freed as soon as the permit is dropped"]
#[derive(Debug)]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    /// A bulkhead with every slot free.
    pub fn new(config: BulkheadConfig) -> Bulkhead {
        let slots = usize::try_from(config.max_concurrent)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Bulkhead {
            shared: Arc::new(Shared {
                semaphore: Arc::new(Semaphore::new(slots)),
                slots,
                config,
                rejected: AtomicU64::new(0),
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &BulkheadConfig {
        &self.shared.config
    }

    /// Takes a slot, waiting up to `max_wait` for one to be freed.
    pub async fn acquire(&self) -> Result<BulkheadPermit, Full> {
        let semaphore = self.shared.semaphore.clone();
        let max_wait = self.shared.config.max_wait;
        // Without a wait the clock is not read: a rejection waited zero.
        let (permit, waited) = if max_wait.is_zero() {
            (semaphore.try_acquire_owned().ok(), Duration::ZERO)
        } else {
            let start = Instant::now();
            // Boxed: only a waiting call pays for the timer's space.
            match Box::pin(tokio::time::timeout(max_wait, semaphore.acquire_owned())).await {
                Ok(Ok(permit)) => (Some(permit), Duration::ZERO),
                // Timed out, or closed (never: the semaphore is not closed).
                _ => (None, start.elapsed()),
            }
        };
        match permit {
            Some(permit) => Ok(BulkheadPermit { _permit: permit }),
            None => {
                self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                Err(Full {
                    max_concurrent: self.shared.config.max_concurrent,
                    waited,
                })
            }
        }
    }

    /// Calls in flight now (for statistics and `leastPending`).
    pub fn in_flight(&self) -> usize {
        self.shared
            .slots
            .saturating_sub(self.shared.semaphore.available_permits())
    }

    /// Calls rejected so far.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::sleep;

    const MS: Duration = Duration::from_millis(1);

    fn bulkhead(max_concurrent: u32, max_wait: Duration) -> Bulkhead {
        Bulkhead::new(BulkheadConfig {
            max_concurrent,
            max_wait,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_at_once_when_full_and_max_wait_is_zero() {
        let b = bulkhead(2, Duration::ZERO);
        let start = Instant::now();
        let first = b.acquire().await;
        let second = b.acquire().await;
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(b.in_flight(), 2);
        assert_eq!(
            b.acquire().await.err(),
            Some(Full {
                max_concurrent: 2,
                waited: Duration::ZERO
            })
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(b.rejected(), 1);
        drop(first);
        assert_eq!(b.in_flight(), 1);
        assert!(b.acquire().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_up_to_max_wait_for_a_freed_slot() {
        let b = bulkhead(1, 100 * MS);
        let held = b.acquire().await;
        let start = Instant::now();
        let ((), second) = tokio::join!(
            async move {
                sleep(40 * MS).await;
                drop(held);
            },
            b.acquire()
        );
        assert!(second.is_ok());
        assert_eq!(start.elapsed(), 40 * MS);
        assert_eq!(b.in_flight(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_after_waiting_max_wait() {
        let b = bulkhead(1, 100 * MS);
        let _held = b.acquire().await;
        let start = Instant::now();
        assert_eq!(
            b.acquire().await.err(),
            Some(Full {
                max_concurrent: 1,
                waited: 100 * MS
            })
        );
        assert_eq!(start.elapsed(), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let b = bulkhead(1, 100 * MS);
        let held = b.acquire().await;
        let order = std::sync::Mutex::new(Vec::new());
        let waiter = |name: &'static str| {
            let b = b.clone();
            let order = &order;
            async move {
                let permit = b.acquire().await;
                order
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((name, Instant::now()));
                sleep(10 * MS).await;
                drop(permit);
            }
        };
        let start = Instant::now();
        tokio::join!(
            async move {
                sleep(20 * MS).await;
                drop(held);
            },
            waiter("a"),
            waiter("b")
        );
        let order = order.into_inner().unwrap_or_else(|e| e.into_inner());
        let names: Vec<_> = order.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(order[1].1 - start, 30 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_call_frees_its_slot() {
        let b = bulkhead(1, Duration::ZERO);
        let call = async {
            let _permit = b.acquire().await;
            sleep(Duration::from_secs(5)).await;
        };
        assert!(tokio::time::timeout(MS, call).await.is_err());
        assert_eq!(b.in_flight(), 0);
        assert!(b.acquire().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_slots_reject_everything() {
        let b = bulkhead(0, 50 * MS);
        assert!(b.acquire().await.is_err());
        assert_eq!(b.in_flight(), 0);
    }
}
