//! Endpoint configuration: `http:ClientConfig` (§9.2) and the composite
//! configurations (§9.5), with validation of their run-time values.
//!
//! The language layer builds these from Flow records (every field of
//! `http:ClientConfig` is optional; the `Default`s here are the spec's
//! defaults) and calls [`EndpointConfig::validate`] (through
//! [`super::Endpoint::builder`]) before the first call; the messages of
//! [`ConfigError`] name the Flow field (`retry.backOffFactor`).

use super::Method;
use crate::runtime::resilience::{
    BulkheadConfig, CircuitBreakerConfig, RateLimitConfig, RetryBudgetConfig, RetryConfig,
};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;
use std::fmt;
use std::time::Duration;

/// The default per-attempt `timeout` (30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default `maxResponseBytes` (10 MiB): a longer response body fails
/// the attempt with `http:PayloadError` instead of filling memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u32 = 10 << 20;
/// The default `retry.statusCodes`.
pub const DEFAULT_RETRY_STATUS_CODES: [u16; 3] = [502, 503, 504];
/// The default `circuitBreaker.statusCodes`.
pub const DEFAULT_BREAKER_STATUS_CODES: [u16; 4] = [500, 502, 503, 504];
/// The default `failoverCodes` of `http:failover` (and of load balancing
/// with `failover: true`).
pub const DEFAULT_FAILOVER_CODES: [u16; 4] = [501, 502, 503, 504];

/// The methods retried (and hedged) by default: the idempotent ones, `GET`,
/// `HEAD`, `OPTIONS`, `PUT` and `DELETE`.
pub fn idempotent_methods() -> Vec<Method> {
    vec![
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
    ]
}

/// The configuration of one http endpoint (`http:ClientConfig`, §9.2) and
/// its base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// The base URL; a request's path is appended to it. Must be `http://`.
    pub url: String,
    /// The limit for one attempt: connect + response head + body (default
    /// 30 s).
    pub timeout: Duration,
    /// The limit for the whole call including retries and waits (default
    /// none).
    pub deadline: Option<Duration>,
    /// Retries (§9.3); none by default.
    pub retry: Option<RetryPolicy>,
    /// The circuit breaker (§9.4); none by default.
    pub circuit_breaker: Option<BreakerPolicy>,
    /// At most `max_concurrent` calls in flight; none by default.
    pub bulkhead: Option<BulkheadConfig>,
    /// At most `permits` calls per `period`; none by default.
    pub rate_limit: Option<RateLimitConfig>,
    /// Headers sent with every request (a request's own header of the same
    /// name replaces one of these).
    pub headers: Vec<(String, String)>,
    /// Hedged requests (§9.5); none by default.
    pub hedge: Option<HedgeConfig>,
    /// The largest response body read (`maxResponseBytes`, a Flow
    /// extension; default 10 MiB).
    pub max_response_bytes: u32,
}

impl EndpointConfig {
    /// The default configuration for `url`.
    pub fn new(url: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            url: url.into(),
            timeout: DEFAULT_TIMEOUT,
            deadline: None,
            retry: None,
            circuit_breaker: None,
            bulkhead: None,
            rate_limit: None,
            headers: Vec::new(),
            hedge: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Checks every run-time value and returns the parsed base URL: the URL
    /// parses, is `http://` and has a host that `hosts` allows; durations,
    /// ratios, counts, status codes and header names and values are in
    /// range.
    pub fn validate(&self, hosts: &HostPolicy) -> Result<Url, ConfigError> {
        let url = parse_url(&self.url, hosts)?;
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be greater than 0ms"));
        }
        if self.deadline.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new("deadline", "must be greater than 0ms"));
        }
        if let Some(retry) = &self.retry {
            retry.validate()?;
        }
        if let Some(breaker) = &self.circuit_breaker {
            breaker.validate()?;
        }
        if let Some(bulkhead) = &self.bulkhead {
            if bulkhead.max_concurrent == 0 {
                return Err(ConfigError::new(
                    "bulkhead.maxConcurrent",
                    "must be at least 1",
                ));
            }
        }
        if let Some(rate) = &self.rate_limit {
            if rate.permits == 0 {
                return Err(ConfigError::new("rateLimit.permits", "must be at least 1"));
            }
            if rate.period.is_zero() {
                return Err(ConfigError::new(
                    "rateLimit.period",
                    "must be greater than 0ms",
                ));
            }
        }
        validate_headers("headers", &self.headers)?;
        if self.max_response_bytes == 0 {
            return Err(ConfigError::new("maxResponseBytes", "must be at least 1"));
        }
        if let Some(hedge) = &self.hedge {
            if hedge.max_attempts == 0 {
                return Err(ConfigError::new("hedge.maxAttempts", "must be at least 1"));
            }
        }
        Ok(url)
    }
}

/// `retry` (`RetryConfig`, §9.3): the backoff schedule of the resilience
/// layer plus the HTTP-specific fields.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// `count`, `interval`, `backOffFactor`, `maxWaitInterval`, `jitter`.
    pub config: RetryConfig,
    /// Response statuses that are retried, in addition to connection errors
    /// and timeouts (default 502, 503, 504).
    pub status_codes: Vec<u16>,
    /// Only these methods are retried (default: [`idempotent_methods`]).
    pub methods: Vec<Method>,
    /// The endpoint's retry budget (default ratio 0.2, 10 per second); `None`
    /// means unlimited (only available from Rust).
    pub budget: Option<RetryBudgetConfig>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            config: RetryConfig::default(),
            status_codes: DEFAULT_RETRY_STATUS_CODES.to_vec(),
            methods: idempotent_methods(),
            budget: Some(RetryBudgetConfig::default()),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `count` retries.
    pub fn with_count(count: u32) -> RetryPolicy {
        RetryPolicy {
            config: RetryConfig {
                count,
                ..RetryConfig::default()
            },
            ..RetryPolicy::default()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let factor = self.config.back_off_factor;
        if !factor.is_finite() || factor < 1.0 {
            return Err(ConfigError::new(
                "retry.backOffFactor",
                format!("must be a number of at least 1.0 (got {factor})"),
            ));
        }
        validate_statuses("retry.statusCodes", &self.status_codes)?;
        if let Some(budget) = &self.budget {
            if !budget.ratio.is_finite() || budget.ratio < 0.0 {
                return Err(ConfigError::new(
                    "retry.budget.ratio",
                    format!("must be a number of at least 0.0 (got {})", budget.ratio),
                ));
            }
            if budget.window.is_zero() {
                return Err(ConfigError::new(
                    "retry.budget.window",
                    "must be greater than 0ms",
                ));
            }
        }
        Ok(())
    }
}

/// `circuitBreaker` (`CircuitBreakerConfig`, §9.4): the breaker settings
/// plus the statuses that count as failures.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerPolicy {
    /// Thresholds, window, reset time, probes, slow calls.
    pub config: CircuitBreakerConfig,
    /// Statuses that count as failures (default 500, 502, 503, 504);
    /// connection errors and timeouts always do.
    pub status_codes: Vec<u16>,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            config: CircuitBreakerConfig::default(),
            status_codes: DEFAULT_BREAKER_STATUS_CODES.to_vec(),
        }
    }
}

impl BreakerPolicy {
    fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        let t = c.failure_threshold;
        if !(t > 0.0 && t <= 1.0) {
            return Err(ConfigError::new(
                "circuitBreaker.failureThreshold",
                format!("must be greater than 0.0 and at most 1.0 (got {t})"),
            ));
        }
        if c.bucket_size.is_zero() {
            return Err(ConfigError::new(
                "circuitBreaker.rollingWindow.bucketSize",
                "must be greater than 0ms",
            ));
        }
        if c.time_window < c.bucket_size {
            return Err(ConfigError::new(
                "circuitBreaker.rollingWindow.timeWindow",
                "must be at least bucketSize",
            ));
        }
        validate_statuses("circuitBreaker.statusCodes", &self.status_codes)
    }
}

/// `hedge` (`HedgeConfig`, §9.5): for idempotent methods, if no response
/// arrived after `delay`, send another attempt in parallel, up to
/// `max_attempts` in all; the first successful response wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgeConfig {
    /// How long to wait for a response before sending the next attempt.
    pub delay: Duration,
    /// Attempts in flight at most, the first included (1: no hedging).
    pub max_attempts: u32,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        HedgeConfig {
            delay: Duration::from_millis(100),
            max_attempts: 2,
        }
    }
}

/// The options of `http:failover(targets, { failoverCodes, interval })`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverConfig {
    /// Statuses that move on to the next target (default 501–504).
    pub failover_codes: Vec<u16>,
    /// The wait between two targets (default 0 ms).
    pub interval: Duration,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            failover_codes: DEFAULT_FAILOVER_CODES.to_vec(),
            interval: Duration::ZERO,
        }
    }
}

impl FailoverConfig {
    /// Checks the status codes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_statuses("failoverCodes", &self.failover_codes)
    }
}

/// How a load balancer picks the first target of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// Each target in turn (the default).
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// Power of two random choices on the number of calls in flight.
    LeastPending,
}

impl Algorithm {
    /// The algorithm for its Flow name: `"roundRobin"`, `"random"` or
    /// `"leastPending"`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "roundRobin" => Algorithm::RoundRobin,
            "random" => Algorithm::Random,
            "leastPending" => Algorithm::LeastPending,
            _ => return None,
        })
    }

    /// The Flow name of this algorithm.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "roundRobin",
            Algorithm::Random => "random",
            Algorithm::LeastPending => "leastPending",
        }
    }
}

/// The options of `http:loadBalance(targets, { algorithm, failover })`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalanceConfig {
    /// How the first target is picked (default round robin).
    pub algorithm: Algorithm,
    /// Whether a failed call goes on to the next target, each target at
    /// most once (default true).
    pub failover: bool,
    /// With `failover`, the statuses that count as a failed call (default
    /// 501–504, as for `http:failover`); connection errors, timeouts and
    /// open breakers always do.
    pub failover_codes: Vec<u16>,
}

impl Default for LoadBalanceConfig {
    fn default() -> Self {
        LoadBalanceConfig {
            algorithm: Algorithm::RoundRobin,
            failover: true,
            failover_codes: DEFAULT_FAILOVER_CODES.to_vec(),
        }
    }
}

impl LoadBalanceConfig {
    /// Checks the status codes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_statuses("failoverCodes", &self.failover_codes)
    }
}

/// Which hosts endpoints may be created for (an embedding's sandbox). The
/// default allows every host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPolicy {
    allowed: Option<Vec<String>>,
}

impl HostPolicy {
    /// Every host is allowed.
    pub fn any() -> HostPolicy {
        HostPolicy { allowed: None }
    }

    /// Only these hosts: exact names or IP addresses (`"127.0.0.1"`,
    /// `"api.example.com"`), or `"*.example.com"` for every subdomain of
    /// `example.com`. Compared case-insensitively.
    pub fn only<S: Into<String>>(hosts: impl IntoIterator<Item = S>) -> HostPolicy {
        HostPolicy {
            allowed: Some(
                hosts
                    .into_iter()
                    .map(|h| h.into().to_ascii_lowercase())
                    .collect(),
            ),
        }
    }

    /// Whether `host` (as in a URL, IPv6 in brackets) is allowed on some
    /// port.
    pub fn allows(&self, host: &str) -> bool {
        self.allows_at(host, None)
    }

    /// Whether a listener may bind `port` (§15.2). A listener accepts on
    /// this machine, so only ports matter: an entry `HOST:PORT` allows
    /// that port whatever its host; an entry without a port allows every
    /// port when its host names this machine (`localhost`, `0.0.0.0`,
    /// `::`, a loopback address). Port 0 (any free port) needs such an
    /// entry without a port.
    pub fn allows_listener(&self, port: u16) -> bool {
        let Some(allowed) = &self.allowed else {
            return true;
        };
        allowed.iter().any(|pattern| match split_port(pattern) {
            (_, Some(p)) => port != 0 && p == port,
            (host, None) => {
                matches!(
                    host,
                    "localhost" | "0.0.0.0" | "::" | "[::]" | "::1" | "[::1]"
                ) || host.starts_with("127.")
            }
        })
    }

    /// Whether `host` is allowed on `port`: a pattern with `:PORT`
    /// (`"127.0.0.1:9090"`) allows only that port; `None` matches any.
    pub fn allows_at(&self, host: &str, port: Option<u16>) -> bool {
        let Some(allowed) = &self.allowed else {
            return true;
        };
        let host = host.to_ascii_lowercase();
        allowed
            .iter()
            .map(|pattern| split_port(pattern))
            .filter(|(_, p)| p.is_none() || port.is_none() || *p == port)
            .any(|(pattern, _)| match pattern.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => *pattern == host,
            })
    }
}

/// An invalid configuration value: the Flow field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid http:ClientConfig: {field}: {message}")]
pub struct ConfigError {
    /// The Flow field, e.g. `url` or `retry.backOffFactor`.
    pub field: String,
    /// What is wrong with its value.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: &str, message: impl fmt::Display) -> ConfigError {
        ConfigError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// A host pattern and its port, if it has one (`host:PORT`, `[v6]:PORT`).
fn split_port(pattern: &str) -> (&str, Option<u16>) {
    if let Some((host, port)) = pattern.rsplit_once(':') {
        if !host.is_empty() && (host.ends_with(']') || !host.contains(':')) {
            if let Ok(port) = port.parse::<u16>() {
                return (host, Some(port));
            }
        }
    }
    (pattern, None)
}

fn parse_url(text: &str, hosts: &HostPolicy) -> Result<Url, ConfigError> {
    let url = Url::parse(text)
        .map_err(|e| ConfigError::new("url", format!("'{text}' is not a valid URL: {e}")))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(ConfigError::new(
                "url",
                format!("'{text}': https is not supported (this build has no TLS); use http://"),
            ))
        }
        other => {
            return Err(ConfigError::new(
                "url",
                format!("'{text}': scheme '{other}' is not supported; use http://"),
            ))
        }
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(ConfigError::new("url", format!("'{text}' has no host")));
    }
    if !hosts.allows_at(host, url.port_or_known_default()) {
        return Err(ConfigError::new(
            "url",
            format!("host '{host}' is not allowed"),
        ));
    }
    Ok(url)
}

fn validate_statuses(field: &str, codes: &[u16]) -> Result<(), ConfigError> {
    match codes.iter().find(|c| !(100..=599).contains(*c)) {
        Some(bad) => Err(ConfigError::new(
            field,
            format!("{bad} is not an HTTP status code (100-599)"),
        )),
        None => Ok(()),
    }
}

/// Checks header names and values; `field` names the origin in messages.
pub(crate) fn validate_headers(
    field: &str,
    headers: &[(String, String)],
) -> Result<(), ConfigError> {
    for (name, value) in headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ConfigError::new(
                field,
                format!("'{name}' is not a valid header name"),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(ConfigError::new(
                field,
                format!("the value of '{name}' is not a valid header value (control characters?)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(config: &EndpointConfig) -> String {
        match config.validate(&HostPolicy::any()) {
            Ok(url) => panic!("expected an error, got {url}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn urls_must_parse_be_http_and_have_an_allowed_host() {
        let ok = EndpointConfig::new("http://127.0.0.1:8080/api");
        assert!(ok.validate(&HostPolicy::any()).is_ok());
        assert_eq!(
            err(&EndpointConfig::new("not a url")),
            "invalid http:ClientConfig: url: 'not a url' is not a valid URL: relative URL without a base"
        );
        assert!(err(&EndpointConfig::new("https://example.com")).contains("no TLS"));
        assert!(err(&EndpointConfig::new("ftp://example.com")).contains("scheme 'ftp'"));
        let only = HostPolicy::only(["127.0.0.1", "*.example.com"]);
        assert!(ok.validate(&only).is_ok());
        let sub = EndpointConfig::new("http://api.Example.com/x");
        assert!(sub.validate(&only).is_ok());
        let bare = EndpointConfig::new("http://example.com/x");
        let e = bare.validate(&only).unwrap_err();
        assert_eq!(e.field, "url");
        assert_eq!(e.message, "host 'example.com' is not allowed");
        assert!(!only.allows("evilexample.com"));
    }

    #[test]
    fn values_out_of_range_are_named_by_their_flow_field() {
        let base = EndpointConfig::new("http://localhost");
        let mut c = base.clone();
        c.timeout = Duration::ZERO;
        assert!(err(&c).contains("timeout: must be greater than 0ms"));
        let mut c = base.clone();
        c.retry = Some(RetryPolicy {
            status_codes: vec![503, 700],
            ..RetryPolicy::default()
        });
        assert!(err(&c).contains("retry.statusCodes: 700 is not an HTTP status code"));
        let mut c = base.clone();
        let mut retry = RetryPolicy::default();
        retry.config.back_off_factor = 0.5;
        c.retry = Some(retry);
        assert!(err(&c).contains("retry.backOffFactor"));
        let mut c = base.clone();
        let mut breaker = BreakerPolicy::default();
        breaker.config.failure_threshold = 1.5;
        c.circuit_breaker = Some(breaker);
        assert!(err(&c).contains("circuitBreaker.failureThreshold"));
        let mut c = base.clone();
        c.bulkhead = Some(BulkheadConfig {
            max_concurrent: 0,
            max_wait: Duration::ZERO,
        });
        assert!(err(&c).contains("bulkhead.maxConcurrent"));
        let mut c = base.clone();
        c.rate_limit = Some(RateLimitConfig::new(0, Duration::from_secs(1)));
        assert!(err(&c).contains("rateLimit.permits"));
        let mut c = base.clone();
        c.headers = vec![("bad name".into(), "v".into())];
        assert!(err(&c).contains("headers: 'bad name' is not a valid header name"));
        let mut c = base;
        c.headers = vec![("x-ok".into(), "a\nb".into())];
        assert!(err(&c).contains("not a valid header value"));
    }

    #[test]
    fn algorithms_have_flow_names() {
        for a in [
            Algorithm::RoundRobin,
            Algorithm::Random,
            Algorithm::LeastPending,
        ] {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("leastConn"), None);
    }
}
