//! A rolling time window of buckets, shared by the circuit breaker (calls,
//! failures) and the retry budget (requests, retries).
//!
//! Time is cut into buckets of `bucket` length from `origin`; the window is
//! the current bucket and the `len - 1` before it. A bucket is reused (and
//! reset) when its slot comes round again, so a quiet window costs nothing.

use super::nanos;
use std::time::Duration;
use tokio::time::Instant;

/// Counters kept per bucket.
pub(super) trait Tally: Copy + Default {
    /// Adds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

#[derive(Debug, Clone, Copy)]
struct Slot<C> {
    /// Which bucket (counted from `origin`) this slot holds.
    epoch: u64,
    counts: C,
}

/// Per-bucket counters over the last `len` buckets.
#[derive(Debug)]
pub(super) struct RollingWindow<C> {
    origin: Instant,
    bucket_nanos: u64,
    slots: Vec<Option<Slot<C>>>,
}

impl<C: Tally> RollingWindow<C> {
    /// A window of `window / bucket` buckets (at least one) starting now. A
    /// zero `bucket` is taken as one bucket spanning the whole window.
    pub(super) fn new(window: Duration, bucket: Duration) -> Self {
        let window = nanos(window).max(1);
        let bucket = match nanos(bucket) {
            0 => window,
            b => b.min(window),
        };
        let len = usize::try_from(window / bucket)
            .unwrap_or(usize::MAX)
            .max(1);
        RollingWindow {
            origin: Instant::now(),
            bucket_nanos: bucket,
            slots: vec![None; len],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        nanos(now.saturating_duration_since(self.origin)) / self.bucket_nanos
    }

    fn len(&self) -> u64 {
        u64::try_from(self.slots.len()).unwrap_or(u64::MAX)
    }

    /// Updates the counters of the bucket holding `now`.
    pub(super) fn update(&mut self, now: Instant, f: impl FnOnce(&mut C)) {
        let epoch = self.epoch(now);
        let index = usize::try_from(epoch % self.len()).unwrap_or(0);
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        match slot {
            Some(s) if s.epoch == epoch => f(&mut s.counts),
            _ => {
                let mut counts = C::default();
                f(&mut counts);
                *slot = Some(Slot { epoch, counts });
            }
        }
    }

    /// The sum of the buckets still inside the window at `now`.
    pub(super) fn total(&self, now: Instant) -> C {
        let epoch = self.epoch(now);
        let len = self.len();
        let mut total = C::default();
        for slot in self.slots.iter().flatten() {
            if slot.epoch <= epoch && epoch - slot.epoch < len {
                total.merge(&slot.counts);
            }
        }
        total
    }

    /// Forgets every bucket.
    pub(super) fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct Count(u64);

    impl Tally for Count {
        fn merge(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_leave_the_window_one_by_one() {
        let mut w = RollingWindow::<Count>::new(Duration::from_secs(30), Duration::from_secs(10));
        let t0 = Instant::now();
        w.update(t0, |c| c.0 += 1);
        w.update(t0 + Duration::from_secs(10), |c| c.0 += 10);
        w.update(t0 + Duration::from_secs(29), |c| c.0 += 100);
        assert_eq!(w.total(t0 + Duration::from_secs(29)), Count(111));
        assert_eq!(w.total(t0 + Duration::from_secs(30)), Count(110));
        assert_eq!(w.total(t0 + Duration::from_secs(40)), Count(100));
        assert_eq!(w.total(t0 + Duration::from_secs(50)), Count(0));
        // A reused slot starts from zero.
        w.update(t0 + Duration::from_secs(50), |c| c.0 += 1000);
        assert_eq!(w.total(t0 + Duration::from_secs(50)), Count(1000));
        w.clear();
        assert_eq!(w.total(t0 + Duration::from_secs(50)), Count(0));
    }

    #[tokio::test(start_paused = true)]
    async fn degenerate_sizes_give_one_bucket() {
        let mut w = RollingWindow::<Count>::new(Duration::ZERO, Duration::ZERO);
        let t0 = Instant::now();
        w.update(t0, |c| c.0 += 1);
        assert_eq!(w.total(t0), Count(1));
        assert_eq!(w.total(t0 + Duration::from_nanos(1)), Count(0));
    }
}
