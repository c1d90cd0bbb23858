//! Composite endpoints (§9.5): [`Failover`] and [`LoadBalance`] over http
//! endpoints, and [`Client`], any of the three behind one `call`.
//!
//! Each target keeps its own breaker, budget and statistics; a target whose
//! breaker is OPEN fails at once with `CircuitOpen`, so it is skipped
//! without waiting.

use super::client::finish;
use super::trace::{TraceEvent, TraceSink};
use super::{
    Algorithm, CallError, ConfigError, Endpoint, ErrorKind, FailoverConfig, LoadBalanceConfig,
    Request, Response,
};
use rand::RngExt;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Whether a target's error moves the call on to the next target: a
/// connection error, a timeout, an open breaker, or a status in `codes`.
fn moves_on(e: &CallError, codes: &[u16]) -> bool {
    match &e.kind {
        ErrorKind::Connection { .. } | ErrorKind::Timeout { .. } => true,
        ErrorKind::CircuitOpen { .. } => true,
        ErrorKind::Status(r) => codes.contains(&r.status),
        _ => false,
    }
}

fn check_targets(targets: &[Endpoint]) -> Result<(), ConfigError> {
    if targets.is_empty() {
        return Err(ConfigError::new(
            "targets",
            "must hold at least one endpoint",
        ));
    }
    Ok(())
}

/// The shared part of a failover and a load balancer: tries `targets` from
/// `first` on, each at most once, moving on after a failure in `codes`.
struct Targets {
    targets: Vec<Endpoint>,
    trace: Option<Arc<dyn TraceSink>>,
}

impl Targets {
    /// Tries the targets from `first` (wrapping round); `on_success` gets
    /// the index that answered. Between two targets, waits `interval`
    /// unless the failed one was skipped because its breaker is open.
    async fn run(
        &self,
        req: &Request,
        first: usize,
        limit: usize,
        codes: &[u16],
        interval: std::time::Duration,
        on_success: impl FnOnce(usize),
    ) -> Result<Response, CallError> {
        let n = self.targets.len();
        let mut errors: Vec<(String, CallError)> = Vec::new();
        for i in 0..limit.min(n) {
            let index = (first + i) % n;
            let target = &self.targets[index];
            if let Some((from, e)) = errors.last() {
                if let Some(sink) = &self.trace {
                    sink.event(&TraceEvent::Failover {
                        from: from.clone(),
                        to: target.name().to_string(),
                        error: e.kind.short_name(),
                    });
                }
                let skipped = matches!(e.kind, ErrorKind::CircuitOpen { .. });
                if !interval.is_zero() && !skipped {
                    tokio::time::sleep(interval).await;
                }
            }
            match target.call_inner(req).await {
                Ok(response) => {
                    on_success(index);
                    return Ok(response);
                }
                Err(e) if moves_on(&e, codes) => errors.push((target.name().to_string(), e)),
                Err(e) => return Err(e),
            }
        }
        if limit < 2 {
            if let Some((_, e)) = errors.pop() {
                return Err(e);
            }
        }
        let attempts = errors.iter().map(|(_, e)| e.attempts).sum();
        Err(CallError {
            kind: ErrorKind::AllTargetsFailed { errors },
            attempts,
        })
    }
}

/// `http:failover(targets, { failoverCodes, interval })`: tries the targets
/// in order, starting from the last one that succeeded. Cloning shares the
/// targets and the sticky position.
#[derive(Clone)]
pub struct Failover {
    inner: Arc<FailoverInner>,
}

struct FailoverInner {
    targets: Targets,
    config: FailoverConfig,
    /// The index of the last target that succeeded.
    sticky: AtomicUsize,
}

impl Failover {
    /// A failover over `targets` (at least one).
    pub fn new(targets: Vec<Endpoint>, config: FailoverConfig) -> Result<Failover, ConfigError> {
        Failover::build(targets, config, None)
    }

    /// [`Failover::new`], reporting each move to the next target to `sink`.
    pub fn with_trace(
        targets: Vec<Endpoint>,
        config: FailoverConfig,
        sink: Arc<dyn TraceSink>,
    ) -> Result<Failover, ConfigError> {
        Failover::build(targets, config, Some(sink))
    }

    fn build(
        targets: Vec<Endpoint>,
        config: FailoverConfig,
        trace: Option<Arc<dyn TraceSink>>,
    ) -> Result<Failover, ConfigError> {
        check_targets(&targets)?;
        config.validate()?;
        Ok(Failover {
            inner: Arc::new(FailoverInner {
                targets: Targets { targets, trace },
                config,
                sticky: AtomicUsize::new(0),
            }),
        })
    }

    /// The targets, in order.
    pub fn targets(&self) -> &[Endpoint] {
        &self.inner.targets.targets
    }

    /// The configuration in force.
    pub fn config(&self) -> &FailoverConfig {
        &self.inner.config
    }

    /// The index of the target the next call starts from.
    pub fn current(&self) -> usize {
        self.inner.sticky.load(Ordering::Relaxed)
    }

    /// Performs `req` on the current target, moving on after a failure;
    /// when every target failed, [`ErrorKind::AllTargetsFailed`] lists each
    /// target's error. Another error (a 404, a bulkhead rejection) is
    /// returned at once.
    pub async fn call(&self, req: Request) -> Result<Response, CallError> {
        let result = self.call_inner(&req).await;
        finish(req.raw_status, result)
    }

    pub(crate) async fn call_inner(&self, req: &Request) -> Result<Response, CallError> {
        let inner = &*self.inner;
        let n = inner.targets.targets.len();
        let first = inner.sticky.load(Ordering::Relaxed) % n;
        inner
            .targets
            .run(
                req,
                first,
                n,
                &inner.config.failover_codes,
                inner.config.interval,
                |index| inner.sticky.store(index, Ordering::Relaxed),
            )
            .await
    }
}

impl fmt::Debug for Failover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failover")
            .field("targets", &self.targets())
            .field("config", &self.inner.config)
            .field("current", &self.current())
            .finish()
    }
}

/// `http:loadBalance(targets, { algorithm, failover })`: spreads calls over
/// the targets; with `failover`, a failed call goes on to the next target,
/// each target at most once. Cloning shares the targets and the rotation.
#[derive(Clone)]
pub struct LoadBalance {
    inner: Arc<LoadBalanceInner>,
}

struct LoadBalanceInner {
    targets: Targets,
    config: LoadBalanceConfig,
    /// The round-robin position.
    next: AtomicUsize,
}

impl LoadBalance {
    /// A load balancer over `targets` (at least one).
    pub fn new(
        targets: Vec<Endpoint>,
        config: LoadBalanceConfig,
    ) -> Result<LoadBalance, ConfigError> {
        LoadBalance::build(targets, config, None)
    }

    /// [`LoadBalance::new`], reporting each move to the next target to
    /// `sink`.
    pub fn with_trace(
        targets: Vec<Endpoint>,
        config: LoadBalanceConfig,
        sink: Arc<dyn TraceSink>,
    ) -> Result<LoadBalance, ConfigError> {
        LoadBalance::build(targets, config, Some(sink))
    }

    fn build(
        targets: Vec<Endpoint>,
        config: LoadBalanceConfig,
        trace: Option<Arc<dyn TraceSink>>,
    ) -> Result<LoadBalance, ConfigError> {
        check_targets(&targets)?;
        config.validate()?;
        Ok(LoadBalance {
            inner: Arc::new(LoadBalanceInner {
                targets: Targets { targets, trace },
                config,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// The targets, in order.
    pub fn targets(&self) -> &[Endpoint] {
        &self.inner.targets.targets
    }

    /// The configuration in force.
    pub fn config(&self) -> &LoadBalanceConfig {
        &self.inner.config
    }

    /// The index of the target the next call starts on.
    fn pick(&self) -> usize {
        let targets = self.targets();
        let n = targets.len();
        match self.inner.config.algorithm {
            Algorithm::RoundRobin => self.inner.next.fetch_add(1, Ordering::Relaxed) % n,
            Algorithm::Random => rand::rng().random_range(0..n),
            Algorithm::LeastPending => {
                if n == 1 {
                    return 0;
                }
                // Power of two choices: two distinct targets at random, the
                // one with fewer calls in flight (the first on a tie).
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                if targets[b].in_flight() < targets[a].in_flight() {
                    b
                } else {
                    a
                }
            }
        }
    }

    /// Performs `req` on the picked target (and, with `failover`, the
    /// following ones).
    pub async fn call(&self, req: Request) -> Result<Response, CallError> {
        let result = self.call_inner(&req).await;
        finish(req.raw_status, result)
    }

    pub(crate) async fn call_inner(&self, req: &Request) -> Result<Response, CallError> {
        let inner = &*self.inner;
        let first = self.pick();
        let limit = if inner.config.failover {
            inner.targets.targets.len()
        } else {
            1
        };
        inner
            .targets
            .run(
                req,
                first,
                limit,
                &inner.config.failover_codes,
                std::time::Duration::ZERO,
                |_| {},
            )
            .await
    }
}

impl fmt::Debug for LoadBalance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadBalance")
            .field("targets", &self.targets())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Any http client value of the language: a single endpoint or a composite.
#[derive(Debug, Clone)]
pub enum Client {
    /// One endpoint.
    Endpoint(Endpoint),
    /// `http:failover(...)`.
    Failover(Failover),
    /// `http:loadBalance(...)`.
    LoadBalance(LoadBalance),
}

impl Client {
    /// Performs `req` (see [`Endpoint::call`], [`Failover::call`],
    /// [`LoadBalance::call`]).
    pub async fn call(&self, req: Request) -> Result<Response, CallError> {
        self.call_ref(&req).await
    }

    /// [`Client::call`] with a borrowed request: the request is not moved
    /// into each layer's state.
    pub async fn call_ref(&self, req: &Request) -> Result<Response, CallError> {
        // The composites' (larger) futures are boxed so that a single
        // endpoint's call state stays small (it is allocated per call).
        let result = match self {
            Client::Endpoint(e) => e.call_inner(req).await,
            Client::Failover(f) => Box::pin(f.call_inner(req)).await,
            Client::LoadBalance(l) => Box::pin(l.call_inner(req)).await,
        };
        finish(req.raw_status, result)
    }
}

impl From<Endpoint> for Client {
    fn from(e: Endpoint) -> Client {
        Client::Endpoint(e)
    }
}

impl From<Failover> for Client {
    fn from(f: Failover) -> Client {
        Client::Failover(f)
    }
}

impl From<LoadBalance> for Client {
    fn from(l: LoadBalance) -> Client {
        Client::LoadBalance(l)
    }
}
