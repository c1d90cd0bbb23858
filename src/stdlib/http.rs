//! `http`: endpoints (`http:client`, `http:failover`, `http:loadBalance`),
//! `http:breakerState`, `http:stats`, and `http:remoteCall`, the native a
//! remote call `ep->get(...)` is lowered to (§5.5, §9). The engine is
//! [`crate::runtime::http`]; this file converts between Flow values and its
//! Rust types.
//!
//! An endpoint is a [`Value::Host`] whose object is a [`ClientObj`]. Hosts
//! configure the module per VM instance with [`HttpSettings`] (stored with
//! `Vm::set_extension` before the initialiser runs): the `--trace` sink, the
//! allowed hosts, a transport for tests.

use super::{arg, ready, str_arg};
use crate::check::types::{ErrorId, RecordId, TyId, TyKind, Types};
use crate::runtime::http::{
    header_text, Algorithm, BreakerPolicy, CallError, Client, ConfigError, Endpoint,
    EndpointConfig, ErrorKind, Failover, FailoverConfig, HeaderMap, HedgeConfig, HostPolicy,
    LoadBalance, LoadBalanceConfig, Method, Request, Response, RetryPolicy, TraceEvent, TraceSink,
    Transport,
};
use crate::runtime::resilience::{
    BulkheadConfig, CircuitBreakerConfig, Jitter, RateLimitConfig, RetryBudgetConfig, RetryConfig,
    State,
};
use crate::vm::convert::clone_with_type;
use crate::vm::interp::{Exit, Strand};
use crate::vm::json::{json_from_serde, json_to_serde};
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{ErrorObj, HostObj, MapObj, Panic, Str, Value, VmResult};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The Flow type of endpoint values.
pub const CLIENT_TYPE: &str = "http:Client";

/// How `http:remoteCall` converts a response (its `mode` argument; the
/// checker's `check::remote::mode`).
mod mode {
    pub const JSON: i64 = 0;
    pub const STRING: i64 = 1;
    pub const NIL: i64 = 2;
    pub const RESPONSE: i64 = 3;
}

/// Per-instance settings of the `http` module. Store them with
/// `vm.set_extension(HttpSettings { .. })` before the module initialiser
/// runs; endpoints created without them use the defaults (no tracing, every
/// host allowed, the reqwest transport).
#[derive(Clone, Default)]
pub struct HttpSettings {
    /// Where `--trace` events go (§9.8). Header values of configured
    /// endpoints that come from configurables are already replaced by
    /// `***` in the events this sink receives; the sink's own
    /// [`crate::runtime::http::Redactor`] hides the standard names.
    pub trace: Option<Arc<dyn TraceSink>>,
    /// Which hosts endpoints may be created for (default: any).
    pub hosts: HostPolicy,
    /// The transport of every endpoint (default: a reqwest client per
    /// endpoint); for tests.
    pub transport: Option<Arc<dyn Transport>>,
    /// The limits of service listeners (body size, header read time).
    pub server: crate::runtime::server::ServerLimits,
}

/// The object of an `http:Client` value.
pub struct ClientObj {
    /// The endpoint or composite.
    pub client: Client,
    /// The endpoint's name (its declaration's name, else its URL).
    pub name: String,
}

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "client" => client,
        "failover" => failover,
        "loadBalance" => load_balance,
        "breakerState" => breaker_state,
        "stats" => stats,
        "remoteCall" => remote_call,
        _ => return super::service::resolve(member),
    })
}

// ---- values ------------------------------------------------------------------

pub(crate) fn host_value(client: Client, name: String) -> Value {
    Value::Host(Rc::new(HostObj {
        type_name: CLIENT_TYPE,
        label: format!("{CLIENT_TYPE}{{{name}}}"),
        value: Box::new(ClientObj { client, name }),
    }))
}

/// The client object of an `http:Client` value.
pub fn client_of(v: &Value) -> Option<&ClientObj> {
    match v {
        Value::Host(h) => h.value.downcast_ref::<ClientObj>(),
        _ => None,
    }
}

fn client_arg(args: &[Value], i: usize) -> VmResult<&ClientObj> {
    client_of(arg(args, i)).ok_or_else(|| {
        Panic::msg(format!(
            "internal type error: expected {CLIENT_TYPE}, found {}",
            arg(args, i).kind_name()
        ))
    })
}

/// A field of a record (or an entry of a map) by name; `()` when absent.
fn field(types: &Types, v: &Value, name: &str) -> Value {
    match v {
        Value::Record(r) => types
            .record(r.rec)
            .field_index(name)
            .and_then(|i| r.fields.borrow().get(i).cloned())
            .unwrap_or(Value::Nil),
        Value::Map(m) => m.borrow().get(name).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

/// The error type registered under `name` (plain `error` if the program
/// does not know it, which cannot happen once `http` is loaded).
pub(super) fn error_id(types: &Types, name: &str) -> ErrorId {
    match types.stdlib_type(name).map(|t| types.kind(t)) {
        Some(TyKind::Error(e)) => *e,
        _ => ErrorId(0),
    }
}

/// The record type registered under `name`.
pub(super) fn record_id(types: &Types, name: &str) -> Option<RecordId> {
    match types.stdlib_type(name).map(|t| types.kind(t)) {
        Some(TyKind::Record(r)) => Some(*r),
        _ => None,
    }
}

/// A record of the registered type `name` from named field values (fields
/// not given are `()`).
pub(super) fn make_record(
    types: &Types,
    name: &str,
    values: Vec<(&str, Value)>,
) -> VmResult<Value> {
    let rid = record_id(types, name)
        .ok_or_else(|| Panic::msg(format!("internal: the type {name} is not loaded")))?;
    let def = types.record(rid);
    let mut fields = vec![Value::Nil; def.fields.len()];
    for (k, v) in values {
        if let Some(i) = def.field_index(k) {
            fields[i] = v;
        }
    }
    Ok(Value::record(rid, fields))
}

pub(crate) fn error_value(types: &Types, ty: &str, message: String, detail: MapObj) -> Value {
    Value::Error(Rc::new(ErrorObj {
        ty: error_id(types, ty),
        message: message.into(),
        detail,
        cause: None,
        trace: Vec::new(),
    }))
}

fn key(s: &str) -> Str {
    Str::from(s)
}

// ---- configuration -------------------------------------------------------------

fn duration_of(v: &Value) -> Option<Duration> {
    match v {
        Value::Duration(n) => Some(Duration::from_nanos((*n).max(0) as u64)),
        _ => None,
    }
}

/// Reads configuration fields of one record, naming them in errors by
/// their Flow path (`retry.count`).
struct Fields<'a> {
    types: &'a Types,
    rec: Value,
    path: &'a str,
}

impl<'a> Fields<'a> {
    fn new(types: &'a Types, rec: Value, path: &'a str) -> Fields<'a> {
        Fields { types, rec, path }
    }

    fn name(&self, f: &str) -> String {
        if self.path.is_empty() {
            f.to_string()
        } else {
            format!("{}.{f}", self.path)
        }
    }

    fn get(&self, f: &str) -> Value {
        field(self.types, &self.rec, f)
    }

    fn duration(&self, f: &str, default: Duration) -> Duration {
        duration_of(&self.get(f)).unwrap_or(default)
    }

    fn opt_duration(&self, f: &str) -> Option<Duration> {
        duration_of(&self.get(f))
    }

    fn float(&self, f: &str, default: f64) -> f64 {
        match self.get(f) {
            Value::Float(x) => x,
            Value::Int(i) => i as f64,
            _ => default,
        }
    }

    fn bool(&self, f: &str, default: bool) -> bool {
        match self.get(f) {
            Value::Bool(b) => b,
            _ => default,
        }
    }

    fn string(&self, f: &str, default: &str) -> String {
        match self.get(f) {
            Value::Str(s) => s.to_string(),
            _ => default.to_string(),
        }
    }

    /// An `int` field as a `u32` at least `min`.
    fn count(&self, f: &str, default: u32, min: u32) -> Result<u32, ConfigError> {
        match self.get(f) {
            Value::Int(i) => match u32::try_from(i) {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ConfigError::new(
                    &self.name(f),
                    format!("must be an int from {min} to {} (got {i})", u32::MAX),
                )),
            },
            _ => Ok(default),
        }
    }

    fn statuses(&self, f: &str, default: &[u16]) -> Result<Vec<u16>, ConfigError> {
        match self.get(f) {
            Value::Array(a) => a
                .borrow()
                .iter()
                .map(|v| match v {
                    Value::Int(i) if (100..=599).contains(i) => Ok(*i as u16),
                    other => Err(ConfigError::new(
                        &self.name(f),
                        format!(
                            "{} is not an HTTP status code (100-599)",
                            crate::vm::format::to_display_string(other, self.types)
                        ),
                    )),
                })
                .collect(),
            _ => Ok(default.to_vec()),
        }
    }

    fn sub(&self, f: &str, path: &'a str) -> Option<Fields<'a>> {
        match self.get(f) {
            Value::Nil => None,
            v => Some(Fields::new(self.types, v, path)),
        }
    }
}

fn retry_policy(r: &Fields<'_>) -> Result<RetryPolicy, ConfigError> {
    let defaults = RetryConfig::default();
    let jitter_name = r.string("jitter", defaults.jitter.name());
    let jitter = Jitter::from_name(&jitter_name).ok_or_else(|| {
        ConfigError::new(
            "retry.jitter",
            format!(
                "'{jitter_name}' is not a jitter mode (\"none\", \"full\", \"equal\" or \"decorrelated\")"
            ),
        )
    })?;
    let methods = match r.get("methods") {
        Value::Array(a) => a
            .borrow()
            .iter()
            .map(|m| {
                let text = match m {
                    Value::Str(s) => s.to_ascii_uppercase(),
                    _ => String::new(),
                };
                Method::from_bytes(text.as_bytes()).map_err(|_| {
                    ConfigError::new("retry.methods", format!("'{text}' is not an HTTP method"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => crate::runtime::http::idempotent_methods(),
    };
    let budget_defaults = RetryBudgetConfig::default();
    let budget = match r.sub("budget", "retry.budget") {
        Some(b) => RetryBudgetConfig {
            ratio: b.float("ratio", budget_defaults.ratio),
            min_per_second: b.count("minPerSecond", budget_defaults.min_per_second, 0)?,
            window: budget_defaults.window,
        },
        None => budget_defaults,
    };
    Ok(RetryPolicy {
        config: RetryConfig {
            count: r.count("count", defaults.count, 0)?,
            interval: r.duration("interval", defaults.interval),
            back_off_factor: r.float("backOffFactor", defaults.back_off_factor),
            max_wait_interval: r.duration("maxWaitInterval", defaults.max_wait_interval),
            jitter,
        },
        status_codes: r.statuses(
            "statusCodes",
            &crate::runtime::http::DEFAULT_RETRY_STATUS_CODES,
        )?,
        methods,
        budget: Some(budget),
    })
}

fn breaker_policy(b: &Fields<'_>) -> Result<BreakerPolicy, ConfigError> {
    let d = CircuitBreakerConfig::default();
    let (time_window, bucket_size, volume) =
        match b.sub("rollingWindow", "circuitBreaker.rollingWindow") {
            Some(w) => (
                w.duration("timeWindow", d.time_window),
                w.duration("bucketSize", d.bucket_size),
                w.count("requestVolumeThreshold", d.request_volume_threshold, 0)?,
            ),
            None => (d.time_window, d.bucket_size, d.request_volume_threshold),
        };
    Ok(BreakerPolicy {
        config: CircuitBreakerConfig {
            failure_threshold: b.float("failureThreshold", d.failure_threshold),
            time_window,
            bucket_size,
            request_volume_threshold: volume,
            reset_time: b.duration("resetTime", d.reset_time),
            half_open_calls: b.count("halfOpenCalls", d.half_open_calls, 1)?,
            slow_call_duration: b.opt_duration("slowCallDuration"),
        },
        status_codes: b.statuses(
            "statusCodes",
            &crate::runtime::http::DEFAULT_BREAKER_STATUS_CODES,
        )?,
    })
}

/// An `http:ClientConfig` record → [`EndpointConfig`] (the engine validates
/// the rest when the endpoint is built).
fn endpoint_config(types: &Types, url: &str, cfg: &Value) -> Result<EndpointConfig, ConfigError> {
    let c = Fields::new(types, cfg.clone(), "");
    let mut out = EndpointConfig::new(url);
    out.timeout = c.duration("timeout", out.timeout);
    out.deadline = c.opt_duration("deadline");
    if let Some(r) = c.sub("retry", "retry") {
        out.retry = Some(retry_policy(&r)?);
    }
    if let Some(b) = c.sub("circuitBreaker", "circuitBreaker") {
        out.circuit_breaker = Some(breaker_policy(&b)?);
    }
    if let Some(b) = c.sub("bulkhead", "bulkhead") {
        let d = BulkheadConfig::default();
        out.bulkhead = Some(BulkheadConfig {
            max_concurrent: b.count("maxConcurrent", d.max_concurrent, 1)?,
            max_wait: b.duration("maxWait", d.max_wait),
        });
    }
    if let Some(r) = c.sub("rateLimit", "rateLimit") {
        out.rate_limit = Some(RateLimitConfig {
            permits: r.count("permits", 1, 1)?,
            period: r.duration("period", Duration::from_secs(1)),
            max_wait: r.duration("maxWait", Duration::ZERO),
        });
    }
    if let Value::Map(m) = c.get("headers") {
        for (k, v) in m.borrow().iter() {
            if let Value::Str(s) = v {
                out.headers.push((k.to_string(), s.to_string()));
            }
        }
    }
    out.max_response_bytes = c.count("maxResponseBytes", out.max_response_bytes, 1)?;
    if let Some(h) = c.sub("hedge", "hedge") {
        let d = HedgeConfig::default();
        out.hedge = Some(HedgeConfig {
            delay: h.duration("delay", d.delay),
            max_attempts: h.count("maxAttempts", d.max_attempts, 1)?,
        });
    }
    Ok(out)
}

/// Replaces the values of some headers by `***` before passing attempt
/// events on (header values that come from configurables, §9.8).
struct RedactingSink {
    inner: Arc<dyn TraceSink>,
    names: Vec<String>,
}

impl TraceSink for RedactingSink {
    fn event(&self, event: &TraceEvent) {
        if let TraceEvent::Attempt { headers, .. } = event {
            if headers
                .iter()
                .any(|(n, _)| self.names.iter().any(|x| x.eq_ignore_ascii_case(n)))
            {
                let mut e = event.clone();
                if let TraceEvent::Attempt { headers, .. } = &mut e {
                    for (n, v) in headers.iter_mut() {
                        if self.names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                            *v = "***".to_string();
                        }
                    }
                }
                self.inner.event(&e);
                return;
            }
        }
        self.inner.event(event);
    }
}

fn settings(vm: &Vm) -> HttpSettings {
    vm.extension::<HttpSettings>()
        .map(|s| (*s).clone())
        .unwrap_or_default()
}

/// `http:client(url, config, name, redact)`.
fn client(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(make_client(vm, args))
}

fn make_client(vm: &Rc<Vm>, args: &[Value]) -> VmResult<Value> {
    let types = &vm.program.types;
    let url = str_arg(args, 0)?.to_string();
    let name = match str_arg(args, 2)? {
        "" => url.clone(),
        n => n.to_string(),
    };
    let redact: Vec<String> = match arg(args, 3) {
        Value::Array(a) => a
            .borrow()
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let fail = |e: ConfigError| Panic::msg(format!("endpoint `{name}`: {e}"));
    let config = endpoint_config(types, &url, arg(args, 1)).map_err(fail)?;
    let s = settings(vm);
    let mut b = Endpoint::builder(config)
        .name(name.clone())
        .hosts(s.hosts.clone());
    if let Some(t) = s.transport {
        b = b.transport(t);
    }
    if let Some(sink) = s.trace {
        let sink: Arc<dyn TraceSink> = if redact.is_empty() {
            sink
        } else {
            Arc::new(RedactingSink {
                inner: sink,
                names: redact,
            })
        };
        b = b.trace(sink);
    }
    let endpoint = b.build().map_err(fail)?;
    Ok(host_value(Client::Endpoint(endpoint), name))
}

/// The endpoints of a composite's `targets` argument.
fn targets(args: &[Value], what: &str, name: &str) -> VmResult<Vec<Endpoint>> {
    let Value::Array(a) = arg(args, 0) else {
        return Err(Panic::msg(
            "internal type error: expected an array of targets",
        ));
    };
    let mut out = Vec::new();
    for v in a.borrow().iter() {
        match client_of(v) {
            Some(ClientObj {
                client: Client::Endpoint(e),
                ..
            }) => out.push(e.clone()),
            Some(c) => {
                return Err(Panic::msg(format!(
                    "endpoint `{name}`: the targets of http:{what} must be endpoints made by http:client; `{}` is a composite",
                    c.name
                )))
            }
            None => return Err(Panic::msg("internal type error: expected an http:Client")),
        }
    }
    if out.is_empty() {
        return Err(Panic::msg(format!(
            "endpoint `{name}`: http:{what} needs at least one target"
        )));
    }
    Ok(out)
}

fn composite_name(args: &[Value], what: &str) -> VmResult<String> {
    Ok(match str_arg(args, 2)? {
        "" => what.to_string(),
        n => n.to_string(),
    })
}

/// `http:failover(targets, config, name)`.
fn failover(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready((|| {
        let types = &vm.program.types;
        let name = composite_name(args, "failover")?;
        let targets = targets(args, "failover", &name)?;
        let c = Fields::new(types, arg(args, 1).clone(), "");
        let fail = |e: ConfigError| {
            Panic::msg(format!(
                "endpoint `{name}`: invalid http:FailoverConfig: {}: {}",
                e.field, e.message
            ))
        };
        let config = FailoverConfig {
            failover_codes: c
                .statuses(
                    "failoverCodes",
                    &crate::runtime::http::DEFAULT_FAILOVER_CODES,
                )
                .map_err(fail)?,
            interval: c.duration("interval", Duration::ZERO),
        };
        let f = match settings(vm).trace {
            Some(sink) => Failover::with_trace(targets, config, sink),
            None => Failover::new(targets, config),
        }
        .map_err(fail)?;
        Ok(host_value(Client::Failover(f), name))
    })())
}

/// `http:loadBalance(targets, config, name)`.
fn load_balance(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready((|| {
        let types = &vm.program.types;
        let name = composite_name(args, "loadBalance")?;
        let targets = targets(args, "loadBalance", &name)?;
        let c = Fields::new(types, arg(args, 1).clone(), "");
        let fail = |e: ConfigError| {
            Panic::msg(format!(
                "endpoint `{name}`: invalid http:LoadBalanceConfig: {}: {}",
                e.field, e.message
            ))
        };
        let algo = c.string("algorithm", "roundRobin");
        let algorithm = Algorithm::from_name(&algo).ok_or_else(|| {
            fail(ConfigError::new(
                "algorithm",
                format!(
                    "'{algo}' is not an algorithm (\"roundRobin\", \"random\" or \"leastPending\")"
                ),
            ))
        })?;
        let config = LoadBalanceConfig {
            algorithm,
            failover: c.bool("failover", true),
            failover_codes: c
                .statuses(
                    "failoverCodes",
                    &crate::runtime::http::DEFAULT_FAILOVER_CODES,
                )
                .map_err(fail)?,
        };
        let l = match settings(vm).trace {
            Some(sink) => LoadBalance::with_trace(targets, config, sink),
            None => LoadBalance::new(targets, config),
        }
        .map_err(fail)?;
        Ok(host_value(Client::LoadBalance(l), name))
    })())
}

/// The targets of a client (itself for a single endpoint).
fn endpoints(c: &Client) -> &[Endpoint] {
    match c {
        Client::Endpoint(e) => std::slice::from_ref(e),
        Client::Failover(f) => f.targets(),
        Client::LoadBalance(l) => l.targets(),
    }
}

/// The breaker state of a client: a composite reports the most permissive
/// state of its targets (CLOSED if any target is CLOSED, else HALF_OPEN if
/// any is, else OPEN).
pub fn client_state(c: &Client) -> State {
    let states: Vec<State> = endpoints(c).iter().map(Endpoint::breaker_state).collect();
    if states.contains(&State::Closed) {
        State::Closed
    } else if states.contains(&State::HalfOpen) {
        State::HalfOpen
    } else {
        State::Open
    }
}

/// `http:breakerState(c)`.
fn breaker_state(_vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready(client_arg(args, 0).map(|c| Value::str(client_state(&c.client).as_str())))
}

/// `http:stats(c)`: a composite sums its targets' counters.
fn stats(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready((|| {
        let c = client_arg(args, 0)?;
        let (mut calls, mut failures, mut retries, mut rejected) = (0u64, 0u64, 0u64, 0u64);
        for e in endpoints(&c.client) {
            let s = e.stats();
            calls += s.calls;
            failures += s.failures;
            retries += s.retries;
            rejected += s.rejected;
        }
        let int = |n: u64| Value::Int(n.min(i64::MAX as u64) as i64);
        make_record(
            &vm.program.types,
            "http:Stats",
            vec![
                ("calls", int(calls)),
                ("failures", int(failures)),
                ("retries", int(retries)),
                ("rejected", int(rejected)),
                ("state", Value::str(client_state(&c.client).as_str())),
            ],
        )
    })())
}

// ---- remote calls ----------------------------------------------------------------

/// A remote call's request from the first six arguments of
/// `http:remoteCall` (`c, method, path, body, headers, query`): the client,
/// its name, the request and the `endpoint `NAME`: METHOD PATH` text of
/// messages. `Ok(Err(e))`: the call fails with the error value `e`.
pub(crate) type Prepared = (Client, String, Request, String);

pub(crate) fn prepare_request(vm: &Vm, args: &[Value]) -> VmResult<Result<Prepared, Value>> {
    let c = client_arg(args, 0)?;
    Ok(build_request(vm, args, c)?.map(|req| {
        let what = call_text(&c.name, req.method.as_str(), &req.path);
        (c.client.clone(), c.name.clone(), req, what)
    }))
}

/// The `endpoint `NAME`: METHOD PATH` text that starts a call's messages;
/// built only when a message needs it.
fn call_text(name: &str, method: &str, path: &str) -> String {
    format!("endpoint `{name}`: {method} {path}")
}

/// The request of `http:remoteCall`'s arguments for the client `c`.
/// `Ok(Err(e))`: the call fails with the error value `e`.
fn build_request(vm: &Vm, args: &[Value], c: &ClientObj) -> VmResult<Result<Request, Value>> {
    let given = str_arg(args, 1)?;
    let path = str_arg(args, 2)?;
    // Methods written as `ep->get(...)` arrive in upper case already.
    let parsed = if given.bytes().any(|b| b.is_ascii_lowercase()) {
        Method::from_bytes(given.to_ascii_uppercase().as_bytes())
    } else {
        Method::from_bytes(given.as_bytes())
    };
    let Ok(method) = parsed else {
        let method_text = given.to_ascii_uppercase();
        return Ok(Err(error_value(
            &vm.program.types,
            "http:Error",
            format!(
                "{}: '{method_text}' is not an HTTP method",
                call_text(&c.name, &method_text, path)
            ),
            MapObj::default(),
        )));
    };
    let mut req = Request::new(method, path);
    match arg(args, 3) {
        Value::Nil => {}
        Value::Str(s) => req = req.body(crate::runtime::http::Body::Text(s.to_string())),
        v => {
            let j = json_to_serde(v, &vm.program.types).map_err(|e| {
                Panic::msg(format!(
                    "{}: cannot send the body: {e}",
                    call_text(&c.name, req.method.as_str(), &req.path)
                ))
            })?;
            req = req.body(crate::runtime::http::Body::Json(j));
        }
    }
    req.headers = string_entries(arg(args, 4));
    req.query = string_entries(arg(args, 5));
    Ok(Ok(req))
}

/// `http:remoteCall(c, method, path, body, headers, query, T, mode)`.
fn remote_call(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let prepared = (|| {
        let c = client_arg(args, 0)?;
        let mut req = match build_request(vm, args, c)? {
            Ok(req) => req,
            Err(e) => return Ok(Err(e)),
        };
        let ty = match arg(args, 6) {
            Value::Typedesc(t) => *t,
            _ => TyId::JSON,
        };
        let mode = match arg(args, 7) {
            Value::Int(m) => *m,
            _ => mode::JSON,
        };
        if mode == mode::RESPONSE {
            req = req.raw();
        }
        // Inside a transaction the call is logged before it is sent (§12.1).
        if let Some(tx) = super::tx::current() {
            tx.before_call(&c.name, &req)?;
            // §12.2: a Flow service's transactional resource joins.
            for (k, v) in super::twopc::request_headers(vm, &tx) {
                req = req.header(k, v);
            }
        }
        Ok(Ok((req, ty, mode)))
    })();
    let (req, ty, mode) = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return ready(Ok(e)),
        Err(p) => return ready(Err(p)),
    };
    // The client value (one `Rc`) keeps the client and its name; the
    // message text is built only for an error.
    let client = arg(args, 0).clone();
    let vm = vm.clone();
    let fut = async move {
        let Some(c) = client_of(&client) else {
            return Err(Panic::msg("internal type error: expected http:Client"));
        };
        let result = c.client.call_ref(&req).await;
        let types = &vm.program.types;
        // Only a call inside a transaction looks for a joining participant.
        if let Some(tx) = super::tx::current() {
            let answered = match &result {
                Ok(r) => Some(r),
                Err(e) => e.response(),
            };
            if let Some(url) = answered.and_then(|r| r.header(super::twopc::PARTICIPANT_HEADER)) {
                super::twopc::joined(&tx, url).map_err(Panic::msg)?;
            }
        }
        let what = || call_text(&c.name, req.method.as_str(), &req.path);
        Ok(match result {
            Ok(resp) => convert_response(&vm, &resp, ty, mode, what),
            Err(e) => call_error_value(types, &e, &what()),
        })
    };
    NativeResult::Suspend(Box::pin(fut))
}

fn string_entries(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Map(m) => m
            .borrow()
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Str(s) => Some((k.to_string(), s.to_string())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The body as `json`: `()` when empty, parsed JSON for a JSON content
/// type, else the text. `Err` for a JSON content type that does not parse.
fn body_json(resp: &Response) -> Result<Value, String> {
    if resp.body.is_empty() {
        return Ok(Value::Nil);
    }
    if resp.is_json() {
        return resp
            .json()
            .map(|j| json_from_serde(&j))
            .map_err(|e| format!("the response body is not valid JSON: {e}"));
    }
    Ok(Value::str(resp.text().into_owned()))
}

/// Headers as a Flow `map<string>` (§9.7 detail, `http:Response`,
/// `http:Request`): names in lower case, a repeated header's values joined
/// with `, ` in arrival order, values that are not UTF-8 with replacement
/// characters.
pub(crate) fn headers_value(headers: &HeaderMap) -> Value {
    let mut m = MapObj::default();
    for (k, v) in headers {
        let k = key(k.as_str());
        let v = header_text(v);
        let joined = match m.get(&k) {
            Some(Value::Str(prev)) => format!("{prev}, {v}"),
            _ => v.into_owned(),
        };
        m.insert(k, Value::str(joined));
    }
    Value::map(m)
}

fn payload_error(types: &Types, resp: &Response, message: String) -> Value {
    let mut detail = MapObj::default();
    detail.insert(key("status"), Value::Int(i64::from(resp.status)));
    detail.insert(
        key("body"),
        body_json(resp).unwrap_or_else(|_| Value::str(resp.text().into_owned())),
    );
    error_value(types, "http:PayloadError", message, detail)
}

/// A record field's default value, computed by its default function.
pub(super) fn record_default(vm: &Rc<Vm>, r: RecordId, f: usize) -> Option<Value> {
    let func = *vm.program.record_defaults.get(r.0 as usize)?.get(f)?;
    match Strand::new(vm.clone(), func?, Vec::new()).run() {
        Exit::Return(v) => Some(v),
        _ => None,
    }
}

/// A successful response as the call's typed result (§9.1).
fn convert_response(
    vm: &Rc<Vm>,
    resp: &Response,
    ty: TyId,
    mode: i64,
    what: impl Fn() -> String,
) -> Value {
    let types = &vm.program.types;
    match mode {
        mode::NIL => Value::Nil,
        mode::STRING => Value::str(&*resp.text()),
        mode::JSON => body_json(resp)
            .unwrap_or_else(|e| payload_error(types, resp, format!("{}: {e}", what()))),
        mode::RESPONSE => {
            let body = body_json(resp).unwrap_or_else(|_| Value::str(resp.text().into_owned()));
            let rid = match types.kind(ty) {
                TyKind::Record(r) => *r,
                _ => return payload_error(types, resp, format!("{}: internal: bad type", what())),
            };
            let def = types.record(rid);
            let mut fields = vec![Value::Nil; def.fields.len()];
            for (name, v) in [
                ("status", Value::Int(i64::from(resp.status))),
                ("headers", headers_value(&resp.headers)),
                ("body", body),
            ] {
                if let Some(i) = def.field_index(name) {
                    fields[i] = v;
                }
            }
            Value::record(rid, fields)
        }
        _ => {
            let parsed = if resp.body.is_empty() {
                Ok(Value::Nil)
            } else {
                resp.json()
                    .map(|j| json_from_serde(&j))
                    .map_err(|e| format!("the response body is not valid JSON: {e}"))
            };
            let v = match parsed {
                Ok(v) => v,
                Err(e) => return payload_error(types, resp, format!("{}: {e}", what())),
            };
            let defaults = |r: RecordId, f: usize| record_default(vm, r, f);
            match clone_with_type(&v, ty, types, &defaults) {
                Ok(v) => v,
                Err(e) => payload_error(
                    types,
                    resp,
                    format!(
                        "{}: the response body does not match `{}`: {e}",
                        what(),
                        types.display(ty)
                    ),
                ),
            }
        }
    }
}

/// A failed call as an `http:Error` value (§9.7).
pub(crate) fn call_error_value(types: &Types, e: &CallError, what: &str) -> Value {
    let mut detail = MapObj::default();
    match &e.kind {
        ErrorKind::Status(resp) => {
            detail.insert(key("status"), Value::Int(i64::from(resp.status)));
            detail.insert(
                key("body"),
                body_json(resp).unwrap_or_else(|_| Value::str(resp.text().into_owned())),
            );
            detail.insert(key("headers"), headers_value(&resp.headers));
        }
        ErrorKind::CircuitOpen { retry_after } | ErrorKind::RateLimited { retry_after } => {
            let nanos = retry_after.as_nanos().min(i64::MAX as u128) as i64;
            detail.insert(key("retryAfter"), Value::Duration(nanos));
        }
        ErrorKind::BulkheadFull { max_concurrent } => {
            detail.insert(key("maxConcurrent"), Value::Int(i64::from(*max_concurrent)));
        }
        ErrorKind::AllTargetsFailed { errors } => {
            let items = errors
                .iter()
                .map(|(name, err)| {
                    let v = call_error_value(types, err, &format!("endpoint `{name}`"));
                    with_detail(v, "target", Value::str(name.as_str()))
                })
                .collect();
            detail.insert(key("errors"), Value::array(items));
        }
        _ => {}
    }
    if e.attempts > 1 && !matches!(e.kind, ErrorKind::AllTargetsFailed { .. }) {
        detail.insert(key("attempts"), Value::Int(i64::from(e.attempts)));
    }
    error_value(types, e.kind.type_name(), format!("{what}: {e}"), detail)
}

/// An error value with one more detail entry (errors are immutable, so a
/// copy).
fn with_detail(v: Value, k: &str, x: Value) -> Value {
    match v {
        Value::Error(e) => {
            let mut detail = e.detail.clone();
            detail.insert(key(k), x);
            Value::Error(Rc::new(ErrorObj {
                ty: e.ty,
                message: e.message.clone(),
                detail,
                cause: e.cause.clone(),
                trace: e.trace.clone(),
            }))
        }
        other => other,
    }
}

// ---- for the command line ----------------------------------------------------------

/// The endpoints stored in module variables of an initialised VM: the
/// variable's (qualified) name and its client, in declaration order.
pub fn endpoint_globals(vm: &Vm) -> Vec<(String, Client)> {
    let globals = vm.globals.borrow();
    vm.program
        .globals
        .iter()
        .zip(globals.iter())
        .filter_map(|(g, v)| client_of(v).map(|c| (g.name.to_string(), c.client.clone())))
        .collect()
}

/// A duration as Flow prints it (`250ms`, `2s`).
fn fmt_duration(d: Duration) -> String {
    crate::vm::format::format_duration(d.as_nanos().min(i64::MAX as u128) as i64)
}

fn describe_endpoint(out: &mut String, indent: &str, e: &Endpoint) {
    let c = e.config();
    let _ = writeln!(out, "{indent}url: {}", e.url());
    let _ = writeln!(out, "{indent}timeout: {}", fmt_duration(c.timeout));
    if let Some(d) = c.deadline {
        let _ = writeln!(out, "{indent}deadline: {}", fmt_duration(d));
    }
    if let Some(r) = &c.retry {
        let methods: Vec<&str> = r.methods.iter().map(Method::as_str).collect();
        let _ = writeln!(
            out,
            "{indent}retry: count {}, interval {}, backOffFactor {}, maxWaitInterval {}, jitter {}, statusCodes {:?}, methods {}",
            r.config.count,
            fmt_duration(r.config.interval),
            r.config.back_off_factor,
            fmt_duration(r.config.max_wait_interval),
            r.config.jitter.name(),
            r.status_codes,
            methods.join(",")
        );
    }
    if let Some(b) = &c.circuit_breaker {
        let k = &b.config;
        let _ = writeln!(
            out,
            "{indent}circuitBreaker: failureThreshold {}, timeWindow {}, bucketSize {}, requestVolumeThreshold {}, resetTime {}, halfOpenCalls {}, statusCodes {:?}{}",
            k.failure_threshold,
            fmt_duration(k.time_window),
            fmt_duration(k.bucket_size),
            k.request_volume_threshold,
            fmt_duration(k.reset_time),
            k.half_open_calls,
            b.status_codes,
            k.slow_call_duration
                .map(|d| format!(", slowCallDuration {}", fmt_duration(d)))
                .unwrap_or_default()
        );
    }
    if let Some(b) = &c.bulkhead {
        let _ = writeln!(
            out,
            "{indent}bulkhead: maxConcurrent {}, maxWait {}",
            b.max_concurrent,
            fmt_duration(b.max_wait)
        );
    }
    if let Some(r) = &c.rate_limit {
        let _ = writeln!(
            out,
            "{indent}rateLimit: permits {}, period {}, maxWait {}",
            r.permits,
            fmt_duration(r.period),
            fmt_duration(r.max_wait)
        );
    }
    if let Some(h) = &c.hedge {
        let _ = writeln!(
            out,
            "{indent}hedge: delay {}, maxAttempts {}",
            fmt_duration(h.delay),
            h.max_attempts
        );
    }
    if !c.headers.is_empty() {
        let names: Vec<&str> = c.headers.iter().map(|(n, _)| n.as_str()).collect();
        let _ = writeln!(out, "{indent}headers: {}", names.join(", "));
    }
}

/// `flow check --endpoints`: each endpoint stored in a module variable of an
/// initialised VM (run the initialiser first, after resolving
/// configurables) with its resolved URL(s) and policy, one block per
/// endpoint:
///
/// ```text
/// endpoint orders
///   url: http://127.0.0.1:9090/
///   timeout: 2s
///   retry: count 3, interval 100ms, ...
/// endpoint payments (failover: failoverCodes [502, 503], interval 0ms)
///   target payPrimary
///     url: ...
/// ```
///
/// Header values are never printed (only their names).
pub fn describe_endpoints(vm: &Vm) -> String {
    let mut out = String::new();
    for (name, client) in endpoint_globals(vm) {
        match &client {
            Client::Endpoint(e) => {
                let _ = writeln!(out, "endpoint {name}");
                describe_endpoint(&mut out, "  ", e);
            }
            Client::Failover(f) => {
                let c = f.config();
                let _ = writeln!(
                    out,
                    "endpoint {name} (failover: failoverCodes {:?}, interval {})",
                    c.failover_codes,
                    fmt_duration(c.interval)
                );
                for t in f.targets() {
                    let _ = writeln!(out, "  target {}", t.name());
                    describe_endpoint(&mut out, "    ", t);
                }
            }
            Client::LoadBalance(l) => {
                let c = l.config();
                let _ = writeln!(
                    out,
                    "endpoint {name} (loadBalance: algorithm {}, failover {}, failoverCodes {:?})",
                    c.algorithm.name(),
                    c.failover,
                    c.failover_codes
                );
                for t in l.targets() {
                    let _ = writeln!(out, "  target {}", t.name());
                    describe_endpoint(&mut out, "    ", t);
                }
            }
        }
    }
    out
}

/// The REPL's `:endpoints`: one line per endpoint (and per target of a
/// composite) with its breaker state and counters.
pub fn endpoint_status(vm: &Vm) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, e: &Endpoint| {
        let s = e.stats();
        let _ = writeln!(
            out,
            "{label} {} {}  calls {}, failures {}, retries {}, rejected {}, in flight {}",
            e.url(),
            s.state.as_str(),
            s.calls,
            s.failures,
            s.retries,
            s.rejected,
            s.in_flight
        );
    };
    for (name, client) in endpoint_globals(vm) {
        match &client {
            Client::Endpoint(e) => line(&mut out, &name, e),
            Client::Failover(_) | Client::LoadBalance(_) => {
                let kind = if matches!(client, Client::Failover(_)) {
                    "failover"
                } else {
                    "loadBalance"
                };
                let _ = writeln!(out, "{name} ({kind}) {}", client_state(&client).as_str());
                for t in endpoints(&client) {
                    line(&mut out, &format!("  {}", t.name()), t);
                }
            }
        }
    }
    out
}

/// `flow check --endpoints`: runs only the module initialiser of `vm`
/// (resolve configurables into it first, as for `run`) and returns
/// [`describe_endpoints`]; `Err` is the initialiser's failure text
/// (`error: endpoint `orders`: invalid http:ClientConfig: ...`, exit code 1).
pub fn initialise_and_describe(vm: Rc<Vm>) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("error: cannot start the runtime: {e}\n"))?;
    let local = tokio::task::LocalSet::new();
    let init = vm.program.init;
    let result = local.block_on(
        &rt,
        crate::vm::drive(Strand::new(vm.clone(), init, Vec::new())),
    );
    vm.flush();
    match result {
        Ok(_) => Ok(describe_endpoints(&vm)),
        Err(e) => Err(crate::runtime::describe_failure(&e, &vm.program.types)),
    }
}

/// The sandbox's compile-time check (§15.2): a diagnostic for each literal
/// endpoint URL whose host `hosts` does not allow, and each literal
/// listener port it does not allow. URLs that do not parse are left to the
/// run-time check before `main`, which explains them.
pub fn denied_net_literals(
    literals: &[crate::check::tir::NetLiteral],
    hosts: &HostPolicy,
) -> Vec<crate::diagnostics::Diagnostic> {
    use crate::check::tir::NetTarget;
    use crate::diagnostics::{Code, Diagnostic};
    literals
        .iter()
        .filter_map(|lit| {
            let (endpoint, url) = match &lit.target {
                NetTarget::EndpointUrl { endpoint, url } => (endpoint, url),
                NetTarget::ListenerPort { port } => {
                    return (!hosts.allows_listener(*port)).then(|| {
                        Diagnostic::new(
                            Code::EndpointConfig,
                            lit.span,
                            format!("listener port {port} is not allowed"),
                        )
                        .with_primary("not in the allowed network addresses")
                        .with_help(format!(
                            "allow it with `--allow-net localhost:{port}` (or `allow_net` when embedding)"
                        ))
                    });
                }
            };
            let parsed = reqwest::Url::parse(url).ok()?;
            let host = parsed.host_str()?;
            let port = parsed.port_or_known_default();
            if hosts.allows_at(host, port) {
                return None;
            }
            let address = port.map_or_else(|| host.to_string(), |p| format!("{host}:{p}"));
            Some(
                Diagnostic::new(
                    Code::EndpointConfig,
                    lit.span,
                    format!("endpoint `{endpoint}`: host '{address}' is not allowed"),
                )
                .with_primary("not in the allowed network addresses")
                .with_help(format!(
                    "allow it with `--allow-net {address}` (or `allow_net` when embedding)"
                )),
            )
        })
        .collect()
}

// ---- for transactions ----------------------------------------------------------------

/// The client of the endpoint declared as `name` in an initialised VM
/// (the name a compensation was stored with).
pub(crate) fn client_named(vm: &Vm, name: &str) -> Option<Client> {
    let globals = vm.globals.borrow();
    globals
        .iter()
        .filter_map(client_of)
        .find(|c| c.name == name)
        .map(|c| c.client.clone())
}

/// Where this instance's trace events go (`--trace`), if anywhere.
pub(crate) fn trace_sink(vm: &Vm) -> Option<Arc<dyn TraceSink>> {
    settings(vm).trace
}

/// A client for `url` with the default configuration and this instance's
/// settings (allowed hosts, transport, trace).
pub(crate) fn plain_client(vm: &Vm, url: &str) -> Result<Client, String> {
    let s = settings(vm);
    let mut b = Endpoint::builder(EndpointConfig::new(url))
        .name(url.to_string())
        .hosts(s.hosts.clone());
    if let Some(t) = s.transport {
        b = b.transport(t);
    }
    if let Some(sink) = s.trace {
        b = b.trace(sink);
    }
    b.build()
        .map(Client::Endpoint)
        .map_err(|e| format!("endpoint `{url}`: {e}"))
}
