//! `time`: clocks and sleeping, and the natives behind the `retry` and
//! `timeout` statements (§9.6, lowered by `check::resilience`).

use super::{arg, ready, str_arg};
use crate::runtime::resilience::{with_timeout, Backoff, BackoffState, Jitter, RetryConfig};
use crate::vm::interp::Strand;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{Panic, Value, VmResult};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::rc::Rc;
use std::time::Duration;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "now" => now,
        "monotonic" => monotonic,
        "sleep" => sleep,
        "retryPause" => retry_pause,
        "runWithTimeout" => run_with_timeout,
        _ => return None,
    })
}

fn now(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ready(Ok(Value::Int(ms)))
}

fn monotonic(vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let nanos = vm.started.elapsed().as_nanos().min(i64::MAX as u128) as i64;
    ready(Ok(Value::Duration(nanos)))
}

/// Suspends the strand: the thread is free to run other strands meanwhile.
fn sleep(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let nanos = match arg(args, 0) {
        Value::Duration(n) => (*n).max(0) as u64,
        _ => 0,
    };
    NativeResult::Suspend(Box::pin(async move {
        tokio::time::sleep(std::time::Duration::from_nanos(nanos)).await;
        Ok(Value::Nil)
    }))
}

fn duration_arg(args: &[Value], i: usize) -> Duration {
    match arg(args, i) {
        Value::Duration(n) => Duration::from_nanos((*n).max(0) as u64),
        _ => Duration::ZERO,
    }
}

/// The settings of a `retry` statement from `retryPause`'s arguments
/// (interval, backOffFactor, maxWaitInterval, jitter); a factor below 1.0
/// or an unknown jitter mode is a panic (the checker rejects such literals).
fn retry_config(args: &[Value]) -> VmResult<RetryConfig> {
    let back_off_factor = match arg(args, 1) {
        Value::Float(f) => *f,
        _ => 2.0,
    };
    if !back_off_factor.is_finite() || back_off_factor < 1.0 {
        return Err(Panic::msg(format!(
            "retry: backOffFactor must be a number of at least 1.0 (got {back_off_factor})"
        )));
    }
    let name = str_arg(args, 3)?;
    let Some(jitter) = Jitter::from_name(name) else {
        return Err(Panic::msg(format!(
            "retry: jitter must be \"none\", \"full\", \"equal\" or \"decorrelated\" (got {name:?})"
        )));
    };
    Ok(RetryConfig {
        count: 0,
        interval: duration_arg(args, 0),
        back_off_factor,
        max_wait_interval: duration_arg(args, 2),
        jitter,
    })
}

/// The schedule state a `retry` statement keeps in Flow: `[]` before the
/// first retry, else `[base, previous]`.
fn backoff_state(v: &Value) -> Option<BackoffState> {
    let Value::Array(items) = v else {
        return None;
    };
    let items = items.borrow();
    match items.as_slice() {
        [Value::Duration(base), Value::Duration(previous)] => Some(BackoffState {
            base: Duration::from_nanos((*base).max(0) as u64),
            previous: Duration::from_nanos((*previous).max(0) as u64),
        }),
        _ => None,
    }
}

fn duration_value(d: Duration) -> Value {
    Value::Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The wait before the next retry of a `retry` statement and the schedule's
/// state after it (`state` is `None` before the first retry).
pub(crate) fn next_retry_wait<R: Rng>(
    config: &RetryConfig,
    state: Option<BackoffState>,
    rng: R,
) -> (Duration, BackoffState) {
    let mut backoff = match state {
        Some(s) => Backoff::resume(config, s, rng),
        None => Backoff::with_rng(config, rng),
    };
    let wait = backoff.next_wait();
    (wait, backoff.state())
}

/// `retryPause(interval, backOffFactor, maxWaitInterval, jitter, state)`:
/// sleeps for the next backoff wait, then returns the new schedule state.
fn retry_pause(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    pause(args, StdRng::from_rng(&mut rand::rng()))
}

fn pause<R: Rng>(args: &[Value], rng: R) -> NativeResult {
    let config = match retry_config(args) {
        Ok(c) => c,
        Err(p) => return ready(Err(p)),
    };
    let state = backoff_state(arg(args, 4));
    let (wait, next) = next_retry_wait(&config, state, rng);
    NativeResult::Suspend(Box::pin(async move {
        tokio::time::sleep(wait).await;
        Ok(Value::array(vec![
            duration_value(next.base),
            duration_value(next.previous),
        ]))
    }))
}

/// `runWithTimeout(limit, body)`: runs the closure `body` in a strand of its
/// own for at most `limit`. Returns `false` when it finished, its error when
/// it failed, `true` when the time ran out (the strand is dropped, which
/// cancels whatever it was waiting for). A panic in the body is re-raised.
fn run_with_timeout(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let limit = duration_arg(args, 0);
    let Value::Func(closure) = arg(args, 1) else {
        return ready(Err(Panic::msg(format!(
            "internal type error: expected a function, found {}",
            arg(args, 1).kind_name()
        ))));
    };
    let strand = Strand::for_closure(vm.clone(), closure.clone(), Vec::new());
    NativeResult::Suspend(Box::pin(async move {
        match with_timeout(Some(limit), crate::vm::drive(strand)).await {
            Ok(Ok(Value::Nil)) => Ok(Value::Bool(false)),
            Ok(Ok(error)) => Ok(error),
            Ok(Err(panic)) => Err(Panic::Error(panic)),
            Err(_) => Ok(Value::Bool(true)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config(jitter: Jitter) -> RetryConfig {
        RetryConfig {
            count: 0,
            interval: 50 * MS,
            back_off_factor: 2.0,
            max_wait_interval: 300 * MS,
            jitter,
        }
    }

    /// The waits of `n` successive retries, threading the state through
    /// as the lowered `retry` statement does.
    fn waits(config: &RetryConfig, n: usize, seed: u64) -> Vec<Duration> {
        let mut state = None;
        let mut out = Vec::new();
        for i in 0..n {
            let rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
            let (wait, next) = next_retry_wait(config, state, rng);
            out.push(wait);
            state = Some(next);
        }
        out
    }

    #[test]
    fn jitter_none_doubles_up_to_the_cap() {
        let got = waits(&config(Jitter::None), 6, 1);
        let want: Vec<Duration> = [50, 100, 200, 300, 300, 300].map(|m| m * MS).to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn jitter_none_with_factor_one_is_constant() {
        let c = RetryConfig {
            back_off_factor: 1.0,
            ..config(Jitter::None)
        };
        assert_eq!(waits(&c, 4, 1), vec![50 * MS; 4]);
    }

    #[test]
    fn interval_above_the_cap_is_capped() {
        let c = RetryConfig {
            interval: 2000 * MS,
            ..config(Jitter::None)
        };
        assert_eq!(waits(&c, 2, 1), vec![300 * MS; 2]);
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_base() {
        let bases = [50, 100, 200, 300, 300, 300].map(|m| m * MS);
        for seed in 0..50 {
            let got = waits(&config(Jitter::Full), 6, seed * 7);
            for (w, b) in got.iter().zip(bases) {
                assert!(*w <= b, "{w:?} > {b:?}");
            }
        }
    }

    #[test]
    fn equal_jitter_stays_within_half_and_the_base() {
        let bases = [50, 100, 200, 300, 300, 300].map(|m| m * MS);
        for seed in 0..50 {
            let got = waits(&config(Jitter::Equal), 6, seed * 7);
            for (w, b) in got.iter().zip(bases) {
                assert!(*w >= b / 2 && *w <= b, "{w:?} not in [{:?}, {b:?}]", b / 2);
            }
        }
    }

    #[test]
    fn decorrelated_jitter_stays_within_interval_three_times_previous_and_the_cap() {
        let c = config(Jitter::Decorrelated);
        for seed in 0..50 {
            let got = waits(&c, 8, seed * 7);
            let mut previous = c.interval;
            for w in got {
                let high = (previous * 3).min(c.max_wait_interval);
                assert!(
                    w >= c.interval && w <= high,
                    "{w:?} not in [50ms, {high:?}]"
                );
                previous = w;
            }
        }
    }

    #[test]
    fn the_state_round_trips_through_flow_values() {
        let state = BackoffState {
            base: 200 * MS,
            previous: 70 * MS,
        };
        let v = Value::array(vec![
            duration_value(state.base),
            duration_value(state.previous),
        ]);
        assert_eq!(backoff_state(&v), Some(state));
        assert_eq!(backoff_state(&Value::array(Vec::new())), None);
    }

    #[test]
    fn invalid_settings_are_panics() {
        let args = |factor: f64, jitter: &str| {
            vec![
                Value::Duration(1),
                Value::Float(factor),
                Value::Duration(10),
                Value::str(jitter),
            ]
        };
        assert!(retry_config(&args(2.0, "none")).is_ok());
        assert!(retry_config(&args(0.5, "none")).is_err());
        assert!(retry_config(&args(f64::NAN, "none")).is_err());
        assert!(retry_config(&args(2.0, "fast")).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_pause_sleeps_exactly_the_wait_without_jitter() {
        let args = vec![
            Value::Duration(50_000_000),
            Value::Float(2.0),
            Value::Duration(1_000_000_000),
            Value::str("none"),
            Value::array(vec![
                Value::Duration(200_000_000),
                Value::Duration(50_000_000),
            ]),
        ];
        let NativeResult::Suspend(fut) = pause(&args, StdRng::seed_from_u64(0)) else {
            panic!("retryPause must suspend");
        };
        let start = tokio::time::Instant::now();
        let state = fut.await.ok();
        assert_eq!(start.elapsed(), 200 * MS);
        let want = Value::array(vec![
            Value::Duration(400_000_000),
            Value::Duration(50_000_000),
        ]);
        assert_eq!(state.and_then(|s| backoff_state(&s)), backoff_state(&want));
    }
}
