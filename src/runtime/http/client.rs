//! [`Endpoint`]: one http endpoint and its shared resilience state, and the
//! layered call (§9.2): deadline → rate limit → bulkhead → retry → hedge →
//! circuit breaker → timeout → transport.

use super::config::validate_headers;
use super::trace::{AttemptOutcome, Rejection, TraceEvent, TraceSink};
use super::transport::{Outgoing, ReqwestTransport, Transport, TransportError};
use super::{
    idempotent_methods, CallError, ConfigError, EndpointConfig, ErrorKind, HostPolicy, Method,
    Request, Response, RetryPolicy, Url, DEFAULT_RETRY_STATUS_CODES,
};
use crate::runtime::resilience::{
    deadline_after, with_deadline, with_timeout, Bulkhead, CircuitBreaker, FailureKind, Outcome,
    RateLimiter, Retry, RetryAfter, RetryBudget, RetryDecision, RetryScheduled, State,
    ThreadRandom, TimeLimit, Verdict,
};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The counters of `http:stats(ep)` (§9.4), plus `attempts` and `in_flight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointStats {
    /// Calls made (each `call`, however many attempts it took).
    pub calls: u64,
    /// Attempts sent to the upstream (retries and hedges included; attempts
    /// rejected by the breaker excluded).
    pub attempts: u64,
    /// Calls that ended in an error other than a rejection (a status ≥ 400
    /// counts, even when the caller asked for raw responses).
    pub failures: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Calls or attempts refused by the rate limiter, the bulkhead or the
    /// breaker.
    pub rejected: u64,
    /// Calls in progress now (waiting for a permit or a slot included).
    pub in_flight: usize,
    /// The breaker's state (`CLOSED` when the endpoint has no breaker).
    pub state: State,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
    rejected: AtomicU64,
    in_flight: AtomicUsize,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Builds an [`Endpoint`]: a name for traces and errors, a trace sink, a
/// transport, a host policy.
pub struct EndpointBuilder {
    config: EndpointConfig,
    name: Option<String>,
    trace: Option<Arc<dyn TraceSink>>,
    transport: Option<Arc<dyn Transport>>,
    hosts: HostPolicy,
    env_proxy: bool,
}

impl EndpointBuilder {
    /// The name used in traces and in [`super::ErrorKind::AllTargetsFailed`]
    /// (default: the URL).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Reports trace events (§9.8) to `sink`.
    pub fn trace(mut self, sink: Arc<dyn TraceSink>) -> Self {
        self.trace = Some(sink);
        self
    }

    /// Sends through `transport` instead of a new [`ReqwestTransport`].
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Restricts the URL's host (and redirects) to `hosts`.
    pub fn hosts(mut self, hosts: HostPolicy) -> Self {
        self.hosts = hosts;
        self
    }

    /// Whether the default transport honours `HTTP_PROXY` / `NO_PROXY`
    /// (default true).
    pub fn env_proxy(mut self, enabled: bool) -> Self {
        self.env_proxy = enabled;
        self
    }

    /// Validates the configuration and creates the endpoint with fresh
    /// shared state (CLOSED breaker, full budget, free slots, full bucket).
    pub fn build(self) -> Result<Endpoint, ConfigError> {
        let base = self.config.validate(&self.hosts)?;
        let transport: Arc<dyn Transport> = match self.transport {
            Some(t) => t,
            None => Arc::new(
                ReqwestTransport::new(self.hosts.clone(), self.env_proxy)
                    .map_err(|m| ConfigError::new("url", m))?,
            ),
        };
        let name = self.name.unwrap_or_else(|| self.config.url.clone());
        let breaker = self.config.circuit_breaker.as_ref().map(|policy| {
            let config = policy.config.clone();
            match &self.trace {
                Some(sink) => {
                    let sink = sink.clone();
                    let endpoint = name.clone();
                    CircuitBreaker::with_observer(config, move |t| {
                        sink.event(&TraceEvent::BreakerTransition {
                            endpoint: endpoint.clone(),
                            from: t.from,
                            to: t.to,
                        })
                    })
                }
                None => CircuitBreaker::new(config),
            }
        });
        let config = self.config;
        let time_attempts = self.trace.is_some()
            || config
                .circuit_breaker
                .as_ref()
                .is_some_and(|p| p.config.slow_call_duration.is_some());
        Ok(Endpoint {
            inner: Arc::new(Inner {
                name,
                base,
                urls: Mutex::new(UrlCache::default()),
                time_attempts,
                transport,
                breaker,
                budget: config
                    .retry
                    .as_ref()
                    .and_then(|r| r.budget.clone())
                    .map(RetryBudget::new),
                bulkhead: config.bulkhead.clone().map(Bulkhead::new),
                rate_limiter: config.rate_limit.clone().map(RateLimiter::new),
                trace: self.trace,
                counters: Counters::default(),
                config,
            }),
        })
    }
}

/// One http endpoint (§9.2): its configuration, its pooled client and its
/// shared resilience state. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    base: Url,
    /// The joined URLs of recent paths (see [`UrlCache`]).
    urls: Mutex<UrlCache>,
    /// Whether an attempt's duration is needed: by the trace, or by a
    /// breaker that counts slow calls. Otherwise the clock is not read.
    time_attempts: bool,
    config: EndpointConfig,
    transport: Arc<dyn Transport>,
    breaker: Option<CircuitBreaker>,
    budget: Option<RetryBudget>,
    bulkhead: Option<Bulkhead>,
    rate_limiter: Option<RateLimiter>,
    trace: Option<Arc<dyn TraceSink>>,
    counters: Counters,
}

/// The state of one call shared by its attempts.
struct CallCtx<'a> {
    req: &'a Request,
    /// The merged headers sent with every attempt.
    headers: Vec<(String, String)>,
    /// The body bytes sent with every attempt.
    body: Option<Vec<u8>>,
    /// Attempts started so far.
    attempts: AtomicU32,
}

/// Paths joined to the base URL most recently (without query
/// parameters), so that a call to a path seen before clones a parsed URL
/// instead of joining and re-parsing it.
#[derive(Default)]
struct UrlCache {
    entries: Vec<(String, Url)>,
    /// The entry replaced next once full.
    next: usize,
}

/// Paths whose joined URL an endpoint keeps.
const URL_CACHE_SIZE: usize = 8;

impl Endpoint {
    /// An endpoint for `config` with the default name, no tracing and a
    /// [`ReqwestTransport`].
    pub fn new(config: EndpointConfig) -> Result<Endpoint, ConfigError> {
        Endpoint::builder(config).build()
    }

    /// A builder for an endpoint for `config`.
    pub fn builder(config: EndpointConfig) -> EndpointBuilder {
        EndpointBuilder {
            config,
            name: None,
            trace: None,
            transport: None,
            hosts: HostPolicy::any(),
            env_proxy: true,
        }
    }

    /// The endpoint's name (traces, `AllTargetsFailed`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The parsed base URL.
    pub fn url(&self) -> &Url {
        &self.inner.base
    }

    /// The configuration in force.
    pub fn config(&self) -> &EndpointConfig {
        &self.inner.config
    }

    /// The breaker's state (`http:breakerState`); `CLOSED` without a breaker.
    pub fn breaker_state(&self) -> State {
        self.inner
            .breaker
            .as_ref()
            .map_or(State::Closed, CircuitBreaker::state)
    }

    /// Calls in progress now.
    pub fn in_flight(&self) -> usize {
        self.inner.counters.in_flight.load(Ordering::Relaxed)
    }

    /// The counters (`http:stats`).
    pub fn stats(&self) -> EndpointStats {
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EndpointStats {
            calls: load(&c.calls),
            attempts: load(&c.attempts),
            failures: load(&c.failures),
            retries: load(&c.retries),
            rejected: load(&c.rejected),
            in_flight: self.in_flight(),
            state: self.breaker_state(),
        }
    }

    /// Performs `req` through every layer. A status ≥ 400 is an
    /// [`ErrorKind::Status`] error unless `req.raw_status`.
    pub async fn call(&self, req: Request) -> Result<Response, CallError> {
        let result = self.call_inner(&req).await;
        finish(req.raw_status, result)
    }

    /// [`Endpoint::call`] with every status ≥ 400 an error (for composites,
    /// which decide on statuses themselves).
    pub(crate) async fn call_inner(&self, req: &Request) -> Result<Response, CallError> {
        let inner = &*self.inner;
        bump(&inner.counters.calls);
        let _pending = InFlight::enter(&inner.counters.in_flight);
        let ctx = match inner.prepare(req) {
            Ok(ctx) => ctx,
            Err(message) => {
                bump(&inner.counters.failures);
                return Err(CallError::new(ErrorKind::InvalidRequest { message }));
            }
        };
        let result = match deadline_after(inner.config.deadline) {
            // Without a deadline the layers are not wrapped (and moved) once more.
            None => inner.guarded(&ctx, None).await,
            // Boxed: the wrapped state is three times the size of the
            // plain one, and every call's state is as large as its largest
            // variant.
            deadline => {
                match Box::pin(with_deadline(deadline, inner.guarded(&ctx, deadline))).await {
                    Ok(result) => result,
                    Err(t) => Err(CallError::new(ErrorKind::Timeout { limit: t.limit })),
                }
            }
        };
        result.map_err(|mut e| {
            e.attempts = ctx.attempts.load(Ordering::Relaxed);
            if !e.kind.is_rejection() {
                bump(&inner.counters.failures);
            }
            e
        })
    }
}

/// Turns a status error back into a response when raw responses were asked
/// for.
pub(crate) fn finish(
    raw: bool,
    result: Result<Response, CallError>,
) -> Result<Response, CallError> {
    match result {
        Err(CallError {
            kind: ErrorKind::Status(response),
            ..
        }) if raw => Ok(*response),
        other => other,
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.inner.name)
            .field("url", &self.inner.base.as_str())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Counts a call in flight until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type AttemptFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, CallError>> + Send + 'a>>;

impl Inner {
    /// The call state of `req` (its merged headers and body bytes), or why
    /// it cannot be sent.
    fn prepare<'r>(&self, req: &'r Request) -> Result<CallCtx<'r>, String> {
        validate_headers("headers", &req.headers).map_err(|e| e.message)?;
        let overridden = |name: &str| {
            req.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut headers: Vec<(String, String)> = if req.headers.is_empty() {
            self.config.headers.clone()
        } else {
            self.config
                .headers
                .iter()
                .filter(|(n, _)| !overridden(n))
                .cloned()
                .collect()
        };
        headers.extend(req.headers.iter().cloned());
        let body = req.body.as_ref().map(|body| {
            if !overridden("content-type") {
                headers.push(("content-type".into(), body.content_type().into()));
            }
            body.to_bytes()
        });
        Ok(CallCtx {
            req,
            headers,
            body,
            attempts: AtomicU32::new(0),
        })
    }

    /// What one attempt sends.
    fn outgoing(&self, ctx: &CallCtx<'_>) -> Outgoing {
        Outgoing {
            method: ctx.req.method.clone(),
            url: self.url(ctx.req),
            headers: ctx.headers.clone(),
            body: ctx.body.clone(),
            max_response_bytes: self.config.max_response_bytes,
        }
    }

    /// The full URL of `req`: the base URL, its path and query.
    fn url(&self, req: &Request) -> Url {
        if !req.query.is_empty() {
            return join_url(&self.base, &req.path, &req.query);
        }
        // A poisoned lock only loses the cache.
        if let Ok(cache) = self.urls.lock() {
            if let Some((_, url)) = cache.entries.iter().find(|(p, _)| *p == req.path) {
                return url.clone();
            }
        }
        let url = join_url(&self.base, &req.path, &[]);
        if let Ok(mut cache) = self.urls.lock() {
            let entry = (req.path.clone(), url.clone());
            if cache.entries.len() < URL_CACHE_SIZE {
                cache.entries.push(entry);
            } else {
                let i = cache.next;
                cache.next = (i + 1) % URL_CACHE_SIZE;
                cache.entries[i] = entry;
            }
        }
        url
    }

    fn trace(&self, event: impl FnOnce() -> TraceEvent) {
        if let Some(sink) = &self.trace {
            sink.event(&event());
        }
    }

    fn reject(&self, ctx: &CallCtx<'_>, by: Rejection) {
        bump(&self.counters.rejected);
        self.trace(|| TraceEvent::Rejected {
            endpoint: self.name.clone(),
            method: ctx.req.method.to_string(),
            path: trace_path(&ctx.req.path),
            by,
        });
    }

    /// Rate limit → bulkhead → retry.
    async fn guarded(
        &self,
        ctx: &CallCtx<'_>,
        deadline: Option<Instant>,
    ) -> Result<Response, CallError> {
        if let Some(limiter) = &self.rate_limiter {
            if let Err(limited) = limiter.acquire().await {
                self.reject(ctx, Rejection::RateLimited);
                return Err(CallError::new(ErrorKind::RateLimited {
                    retry_after: limited.retry_after,
                }));
            }
        }
        let _slot = match &self.bulkhead {
            None => None,
            Some(bulkhead) => match bulkhead.acquire().await {
                Ok(slot) => Some(slot),
                Err(full) => {
                    self.reject(ctx, Rejection::BulkheadFull);
                    return Err(CallError::new(ErrorKind::BulkheadFull {
                        max_concurrent: full.max_concurrent,
                    }));
                }
            },
        };
        let Some(policy) = &self.config.retry else {
            return self.hedged(ctx).await;
        };
        let method_ok = policy.methods.contains(&ctx.req.method);
        let on_retry = |s: &RetryScheduled| self.retry_scheduled(ctx, s);
        let retry = Retry::with_rng(&policy.config, ThreadRandom)
            .budget(self.budget.as_ref())
            .deadline(deadline)
            .on_retry(&on_retry);
        // The first attempt is made here; the retry loop's state is boxed,
        // allocated only after a failure (every call's state is allocated
        // at the size of its largest variant).
        retry.start();
        let error = match self.hedged(ctx).await {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        Box::pin(retry.after_failure(
            error,
            |e| decide(policy, method_ok, e),
            |_| self.hedged(ctx),
        ))
        .await
        .map_err(|exhausted| exhausted.error)
    }

    fn retry_scheduled(&self, ctx: &CallCtx<'_>, s: &RetryScheduled) {
        bump(&self.counters.retries);
        self.trace(|| TraceEvent::RetryScheduled {
            endpoint: self.name.clone(),
            method: ctx.req.method.to_string(),
            path: trace_path(&ctx.req.path),
            attempt: ctx.attempts.load(Ordering::Relaxed),
            wait: s.wait,
            from_server: s.from_server,
        });
    }

    fn idempotent(&self, method: &Method) -> bool {
        match &self.config.retry {
            Some(policy) => policy.methods.contains(method),
            None => idempotent_methods().contains(method),
        }
    }

    /// Whether a hedged race goes on after this error (the error is
    /// transient); any other result ends the race.
    fn transient(&self, e: &CallError) -> bool {
        let codes = self
            .config
            .retry
            .as_ref()
            .map_or(&DEFAULT_RETRY_STATUS_CODES[..], |p| &p.status_codes[..]);
        match &e.kind {
            ErrorKind::Connection { .. }
            | ErrorKind::Timeout {
                limit: TimeLimit::Attempt(_),
            } => true,
            ErrorKind::Status(r) => codes.contains(&r.status),
            _ => false,
        }
    }

    /// One retry attempt: a single send, or with `hedge` a race of up to
    /// `max_attempts` sends started `delay` apart. The first success (or
    /// non-transient failure) wins and the other sends are dropped; when
    /// every send failed, the last failure is returned.
    async fn hedged(&self, ctx: &CallCtx<'_>) -> Result<Response, CallError> {
        let hedge = match self.config.hedge {
            Some(h) if h.max_attempts > 1 && self.idempotent(&ctx.req.method) => h,
            _ => return self.attempt(ctx).await,
        };
        let start = Instant::now();
        let mut running: Vec<AttemptFuture<'_>> = vec![Box::pin(self.attempt(ctx))];
        let mut sent: u32 = 1;
        let mut timer = Box::pin(tokio::time::sleep(hedge.delay));
        let mut last: Option<CallError> = None;
        let result = std::future::poll_fn(|cx| loop {
            let mut i = 0;
            while i < running.len() {
                let Poll::Ready(result) = running[i].as_mut().poll(cx) else {
                    i += 1;
                    continue;
                };
                drop(running.swap_remove(i));
                match result {
                    Err(e) if self.transient(&e) => last = Some(e),
                    decided => return Poll::Ready(decided),
                }
            }
            if running.is_empty() {
                return Poll::Ready(Err(last.take().unwrap_or_else(|| {
                    CallError::new(ErrorKind::Connection {
                        message: "no attempt was made".into(),
                    })
                })));
            }
            if sent < hedge.max_attempts && timer.as_mut().poll(cx).is_ready() {
                sent += 1;
                self.trace(|| TraceEvent::HedgeSent {
                    endpoint: self.name.clone(),
                    method: ctx.req.method.to_string(),
                    path: trace_path(&ctx.req.path),
                    attempt: ctx.attempts.load(Ordering::Relaxed) + 1,
                    after: start.elapsed(),
                });
                running.push(Box::pin(self.attempt(ctx)));
                if let Some(next) = Instant::now().checked_add(hedge.delay) {
                    timer.as_mut().reset(next);
                }
                continue;
            }
            return Poll::Pending;
        })
        .await;
        // The losers are cancelled here.
        running.clear();
        result
    }

    /// One send: circuit breaker → timeout → transport.
    async fn attempt(&self, ctx: &CallCtx<'_>) -> Result<Response, CallError> {
        let n = ctx.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let permit = match &self.breaker {
            None => None,
            Some(breaker) => match breaker.acquire() {
                Ok(permit) => Some(permit),
                Err(rejected) => {
                    self.reject(ctx, Rejection::CircuitOpen);
                    return Err(CallError::new(ErrorKind::CircuitOpen {
                        retry_after: rejected.retry_after,
                    }));
                }
            },
        };
        bump(&self.counters.attempts);
        let mut guard = AttemptTrace {
            inner: self,
            ctx,
            attempt: n,
            start: self.time_attempts.then(Instant::now),
            done: false,
        };
        let timeout = self.config.timeout;
        let sent = with_timeout(Some(timeout), self.transport.send(self.outgoing(ctx))).await;
        let result = match sent {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(TransportError::Connection(message))) => Err(ErrorKind::Connection { message }),
            Ok(Err(TransportError::Timeout)) => Err(ErrorKind::Timeout {
                limit: TimeLimit::Attempt(timeout),
            }),
            Ok(Err(TransportError::TooLarge { limit })) => Err(ErrorKind::TooLarge { limit }),
            Err(t) => Err(ErrorKind::Timeout { limit: t.limit }),
        };
        let elapsed = guard.elapsed();
        if let Some(permit) = permit {
            permit.record(Outcome::new(self.breaker_verdict(&result), elapsed));
        }
        guard.finish(match &result {
            Ok(r) => AttemptOutcome::Status(r.status),
            Err(kind) => AttemptOutcome::Error(kind.short_name()),
        });
        match result {
            Ok(r) if r.status >= 400 => Err(CallError::new(ErrorKind::Status(Box::new(r)))),
            Ok(r) => Ok(r),
            Err(kind) => Err(CallError::new(kind)),
        }
    }

    fn breaker_verdict(&self, result: &Result<Response, ErrorKind>) -> Verdict {
        let codes = self
            .config
            .circuit_breaker
            .as_ref()
            .map_or(&[][..], |p| &p.status_codes[..]);
        match result {
            Ok(r) if codes.contains(&r.status) => Verdict::Failure(FailureKind::Status(r.status)),
            // The upstream answered; the body is only too long for us.
            Ok(_) | Err(ErrorKind::TooLarge { .. }) => Verdict::Success,
            Err(ErrorKind::Timeout { .. }) => Verdict::Failure(FailureKind::Timeout),
            Err(_) => Verdict::Failure(FailureKind::Connection),
        }
    }
}

/// Traces an attempt when it finishes, or as cancelled when dropped first.
struct AttemptTrace<'a, 'b> {
    inner: &'a Inner,
    ctx: &'a CallCtx<'b>,
    attempt: u32,
    /// When the attempt was sent, if its duration is needed
    /// (`Inner::time_attempts`).
    start: Option<Instant>,
    done: bool,
}

impl AttemptTrace<'_, '_> {
    /// The attempt's duration so far (zero when it is not timed).
    fn elapsed(&self) -> Duration {
        self.start.map_or(Duration::ZERO, |s| s.elapsed())
    }

    fn finish(&mut self, outcome: AttemptOutcome) {
        self.done = true;
        self.emit(outcome);
    }

    fn emit(&self, outcome: AttemptOutcome) {
        self.inner.trace(|| TraceEvent::Attempt {
            endpoint: self.inner.name.clone(),
            method: self.ctx.req.method.to_string(),
            path: trace_path(&self.ctx.req.path),
            attempt: self.attempt,
            outcome,
            elapsed: self.elapsed(),
            headers: self.ctx.headers.clone(),
        });
    }
}

impl Drop for AttemptTrace<'_, '_> {
    fn drop(&mut self) {
        if !self.done {
            self.emit(AttemptOutcome::Cancelled);
        }
    }
}

/// The retry layer's verdict on a failed attempt (§9.3): only `methods` are
/// retried; connection errors, attempt timeouts and `status_codes` are;
/// `Retry-After` (for 429 and 503) replaces the computed wait.
fn decide(policy: &RetryPolicy, method_ok: bool, e: &CallError) -> RetryDecision {
    if !method_ok {
        return RetryDecision::Stop;
    }
    match &e.kind {
        ErrorKind::Connection { .. }
        | ErrorKind::Timeout {
            limit: TimeLimit::Attempt(_),
        } => RetryDecision::Retry,
        ErrorKind::Status(r) if policy.status_codes.contains(&r.status) => {
            let server = matches!(r.status, 429 | 503)
                .then(|| r.header("retry-after"))
                .flatten()
                .and_then(|v| RetryAfter::parse(v, SystemTime::now()));
            match server {
                Some(RetryAfter(wait)) => RetryDecision::RetryAfter(wait),
                None => RetryDecision::Retry,
            }
        }
        _ => RetryDecision::Stop,
    }
}

/// The path as traced: without query or fragment.
fn trace_path(path: &str) -> String {
    path.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `base` with `path` appended (one `/` between them), the path's own
/// `?query` after the base's, then `query` percent-encoded.
fn join_url(base: &Url, path: &str, query: &[(String, String)]) -> Url {
    let mut url = base.clone();
    let path = path.split('#').next().unwrap_or_default();
    let (path, own_query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if !path.is_empty() {
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
    }
    if let Some(q) = own_query.filter(|q| !q.is_empty()) {
        let combined = match url.query() {
            Some(b) if !b.is_empty() => format!("{b}&{q}"),
            _ => q.to_string(),
        };
        url.set_query(Some(&combined));
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, path: &str, query: &[(&str, &str)]) -> String {
        let base = Url::parse(base).unwrap_or_else(|e| panic!("{base}: {e}"));
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        join_url(&base, path, &query).to_string()
    }

    #[test]
    fn paths_are_appended_with_one_slash() {
        assert_eq!(join("http://h:1", "/users", &[]), "http://h:1/users");
        assert_eq!(
            join("http://h:1/api", "/users", &[]),
            "http://h:1/api/users"
        );
        assert_eq!(
            join("http://h:1/api/", "users", &[]),
            "http://h:1/api/users"
        );
        assert_eq!(join("http://h:1/api", "", &[]), "http://h:1/api");
        assert_eq!(
            join("http://h:1/api?v=2", "/q?a=1#frag", &[("b", "x y&z")]),
            "http://h:1/api/q?v=2&a=1&b=x+y%26z"
        );
        assert_eq!(join("http://h:1", "/a b/ü", &[]), "http://h:1/a%20b/%C3%BC");
    }

    #[test]
    fn retry_decisions_follow_methods_statuses_and_retry_after() {
        let policy = RetryPolicy::default();
        let status = |s: u16, retry_after: Option<&str>| {
            CallError::new(ErrorKind::Status(Box::new(Response::new(
                s,
                retry_after.map(|v| ("retry-after", v)),
                Vec::new(),
            ))))
        };
        let connection = CallError::new(ErrorKind::Connection {
            message: "reset".into(),
        });
        assert_eq!(decide(&policy, true, &connection), RetryDecision::Retry);
        assert_eq!(decide(&policy, false, &connection), RetryDecision::Stop);
        assert_eq!(
            decide(&policy, true, &status(502, None)),
            RetryDecision::Retry
        );
        assert_eq!(
            decide(&policy, true, &status(500, None)),
            RetryDecision::Stop
        );
        assert_eq!(
            decide(&policy, true, &status(404, None)),
            RetryDecision::Stop
        );
        assert_eq!(
            decide(&policy, true, &status(503, Some("2"))),
            RetryDecision::RetryAfter(std::time::Duration::from_secs(2))
        );
        // Retry-After only counts for 429 and 503.
        assert_eq!(
            decide(&policy, true, &status(502, Some("2"))),
            RetryDecision::Retry
        );
        let deadline = CallError::new(ErrorKind::Timeout {
            limit: TimeLimit::Deadline,
        });
        assert_eq!(decide(&policy, true, &deadline), RetryDecision::Stop);
        let open = CallError::new(ErrorKind::CircuitOpen {
            retry_after: std::time::Duration::ZERO,
        });
        assert_eq!(decide(&policy, true, &open), RetryDecision::Stop);
    }

    #[test]
    fn calls_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let Ok(endpoint) = Endpoint::new(EndpointConfig::new("http://127.0.0.1:9")) else {
            panic!("valid config");
        };
        let call = endpoint.call(Request::get("/"));
        assert_send(&call);
    }
}
