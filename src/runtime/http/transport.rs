//! The transport: the innermost layer, which sends one prepared request and
//! reads the whole response. [`ReqwestTransport`] is the real one (one
//! pooled keep-alive `reqwest::Client` per endpoint); tests and embeddings
//! may supply their own [`Transport`] (a mock endpoint).

use super::{HostPolicy, Method, Response, Url};
use crate::runtime::AbortOnDrop;
use std::future::Future;
use std::pin::Pin;

/// A request ready to send: the full URL and the merged headers (endpoint
/// headers, then the request's, then `content-type` for the body unless
/// set).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The method.
    pub method: Method,
    /// The full URL: base URL, path and query.
    pub url: Url,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes, if any.
    pub body: Option<Vec<u8>>,
    /// The longest response body to read; a longer one fails the send with
    /// [`TransportError::TooLarge`].
    pub max_response_bytes: u32,
}

/// Why a send failed below HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Could not connect, the connection was reset or closed early, or the
    /// name did not resolve.
    #[error("{0}")]
    Connection(String),
    /// The transport gave up waiting (the engine's own per-attempt timeout
    /// usually fires first).
    #[error("timed out")]
    Timeout,
    /// The response body is longer than [`Outgoing::max_response_bytes`];
    /// the rest was not read.
    #[error("the response body is larger than {limit} bytes (maxResponseBytes)")]
    TooLarge {
        /// The limit.
        limit: u32,
    },
}

/// The future of one send.
pub type TransportFuture = Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send>>;

/// Sends requests. Dropping the returned future cancels the request.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the whole response.
    fn send(&self, request: Outgoing) -> TransportFuture;
}

/// The `reqwest` transport: one connection pool with keep-alive, no TLS, no
/// automatic retries (the engine's retry layer counts every attempt), up to
/// ten redirects to hosts the [`HostPolicy`] allows.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    /// The thread that made `client`: a service running on several VM
    /// threads gives each other thread its own pool ([`Self::pool`]), so
    /// a connection is only ever driven by the thread that uses it.
    home: std::thread::ThreadId,
    id: u64,
    hosts: HostPolicy,
    env_proxy: bool,
}

thread_local! {
    /// The pools of [`ReqwestTransport`]s used away from their home thread.
    static POOLS: std::cell::RefCell<Vec<(u64, reqwest::Client)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The largest body buffer reserved up front from a `Content-Length`.
const PRESIZE_MAX: u64 = 64 * 1024;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 10;

impl ReqwestTransport {
    /// A transport whose redirects stay within `hosts`; with `env_proxy`,
    /// the `HTTP_PROXY` / `NO_PROXY` environment variables are honoured.
    pub fn new(hosts: HostPolicy, env_proxy: bool) -> Result<ReqwestTransport, String> {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(ReqwestTransport {
            client: Self::client(hosts.clone(), env_proxy)?,
            home: std::thread::current().id(),
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            hosts,
            env_proxy,
        })
    }

    /// The client of a thread other than the home thread.
    fn pool(&self) -> Result<reqwest::Client, String> {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, c)) = pools.iter().find(|(id, _)| *id == self.id) {
                return Ok(c.clone());
            }
            let c = Self::client(self.hosts.clone(), self.env_proxy)?;
            pools.push((self.id, c.clone()));
            Ok(c)
        })
    }

    fn client(hosts: HostPolicy, env_proxy: bool) -> Result<reqwest::Client, String> {
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else if attempt.url().scheme() != "http"
                || !hosts.allows_at(
                    attempt.url().host_str().unwrap_or_default(),
                    attempt.url().port_or_known_default(),
                )
            {
                // Not followed: the 3xx response is returned as is.
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .redirect(redirect)
            // `never()` alone still clones every request for a retry that
            // cannot happen; a zero per-request limit skips the clone.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .tcp_nodelay(true)
            .http1_only();
        // Without a proxy for http URLs in the environment the matcher
        // would only cost time on every request (it is consulted for proxy
        // credentials even when it never matches).
        if !env_proxy || !http_proxy_configured() {
            builder = builder.no_proxy();
        }
        builder
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {}", describe(&e)))
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: Outgoing) -> TransportFuture {
        let away;
        let client = if std::thread::current().id() == self.home {
            &self.client
        } else {
            away = match self.pool() {
                Ok(c) => c,
                Err(e) => return Box::pin(std::future::ready(Err(TransportError::Connection(e)))),
            };
            &away
        };
        let mut builder = client.request(request.method, request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let limit = request.max_response_bytes;
        let exchange = async move {
            let mut response = builder.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            // Moved out, not copied: the map is kept as the response's.
            let headers = std::mem::take(response.headers_mut());
            let too_large = || TransportError::TooLarge { limit };
            let declared = response.content_length();
            if declared.is_some_and(|n| n > u64::from(limit)) {
                return Err(too_large());
            }
            // Sized from a declared length, so a small body is not grown
            // chunk by chunk; capped, as the declaration may be a lie.
            let mut body = Vec::with_capacity(declared.map_or(0, |n| n.min(PRESIZE_MAX) as usize));
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > limit as usize {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        match crate::runtime::server::io_runtime_if_started() {
            None => Box::pin(exchange),
            Some(rt) => {
                // Dropping the returned future (a timeout, a lost hedge, a
                // cancelled strand) aborts the request there.
                let mut task = AbortOnDrop(rt.spawn(exchange));
                Box::pin(async move {
                    match (&mut task.0).await {
                        Ok(result) => result,
                        Err(e) => Err(TransportError::Connection(format!(
                            "the request task ended: {e}"
                        ))),
                    }
                })
            }
        }
    }
}

/// Whether the environment names a proxy for `http://` URLs (the variables
/// reqwest's system proxy reads; `HTTPS_PROXY` does not apply to the plain
/// HTTP this build speaks).
fn http_proxy_configured() -> bool {
    ["ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

fn classify(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else {
        TransportError::Connection(describe(&e))
    }
}

/// The error and its causes, `: `-separated, without repeating the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
