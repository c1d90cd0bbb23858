//! The HTTP endpoint engine (§9.1–§9.5, §9.7, §9.8): given an endpoint
//! configuration and a request, perform the call through the resilience
//! layers and return a response or a classified error.
//!
//! This module knows nothing of Flow values: it takes and returns plain Rust
//! types, and the language layer converts (`http:ClientConfig` record →
//! [`EndpointConfig`], call arguments → [`Request`], [`Response`] → the
//! expected type, [`CallError`] → an `http:Error` value).
//!
//! | file | contents |
//! |---|---|
//! | `config.rs` | [`EndpointConfig`] (`http:ClientConfig`), [`FailoverConfig`], [`LoadBalanceConfig`], validation |
//! | `message.rs` | [`Request`], [`Body`], [`Response`] |
//! | `error.rs` | [`CallError`] and its [`ErrorKind`]s (§9.7) |
//! | `transport.rs` | the [`Transport`] seam and its `reqwest` implementation |
//! | `client.rs` | [`Endpoint`]: the layered call, hedging, statistics |
//! | `composite.rs` | [`Failover`], [`LoadBalance`] (§9.5) |
//! | `trace.rs` | [`TraceSink`], [`TraceEvent`], the stderr line format with redaction (§9.8) |
//!
//! **The layers of one call** (§9.2), outermost first:
//!
//! ```text
//! deadline → rate limit → bulkhead → retry → hedge → circuit breaker → timeout → transport
//! ```
//!
//! Hedging (§9.5) sits between retry and the breaker: one retry attempt is a
//! race of up to `hedge.maxAttempts` sends, each of which passes through the
//! breaker and the per-attempt timeout on its own.
//!
//! **Architecture Invariant: one shared state per endpoint.** An
//! [`Endpoint`] is a cheap `Clone` handle (an `Arc`); its breaker, retry
//! budget, bulkhead, rate limiter, statistics and pooled HTTP client are
//! shared by every clone, so every strand calling one endpoint sees one
//! breaker.
//!
//! **Architecture Invariant: status errors are decided last.** Inside the
//! engine every status ≥ 400 is a [`ErrorKind::Status`] failure (so retry,
//! breaker and failover see it); only the outermost `call` turns it back
//! into a response when the request asked for raw responses
//! ([`Request::raw_status`], the `http:Response` typed result).
//!
//! **Architecture Invariant: cancellation is dropping.** A call cancelled
//! by its deadline, a lost hedge, or a cancelled strand is a dropped future:
//! the in-flight request is dropped (its connection closed), the breaker
//! permit released without counting, the bulkhead slot freed.
//!
//! Only `http://` URLs are supported: this build has no TLS.

mod client;
mod composite;
mod config;
mod error;
mod message;
mod trace;
mod transport;

pub use client::{Endpoint, EndpointBuilder, EndpointStats};
pub use composite::{Client, Failover, LoadBalance};
pub use config::{
    idempotent_methods, Algorithm, BreakerPolicy, ConfigError, EndpointConfig, FailoverConfig,
    HedgeConfig, HostPolicy, LoadBalanceConfig, RetryPolicy, DEFAULT_BREAKER_STATUS_CODES,
    DEFAULT_FAILOVER_CODES, DEFAULT_RETRY_STATUS_CODES, DEFAULT_TIMEOUT,
};
pub use error::{CallError, ErrorKind};
pub use message::{header_text, Body, Request, Response};
/// Request and response headers as received (the `http` crate's map).
pub use reqwest::header::HeaderMap;
pub use reqwest::{Method, Url};
pub use trace::{
    format_duration, format_event, AttemptOutcome, Collector, LineSink, Redactor, Rejection,
    TraceEvent, TraceSink,
};
pub use transport::{Outgoing, ReqwestTransport, Transport, TransportError, TransportFuture};
