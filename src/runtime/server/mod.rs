//! The HTTP server behind services (§11), independent of Flow values.
//!
//! Design: connection I/O, HTTP/1 parsing, routing, body reading and the
//! answers that need no Flow code (404, 405, 413, `/.flow/health`) run on
//! one process-wide multi-threaded tokio runtime ([`io_runtime`], one
//! worker per core). A request for a resource is handed to the VM thread
//! as an [`Incoming`] over an unbounded channel; the VM runs it in a strand
//! and answers through the request's oneshot [`Reply`] channel. So parsing
//! and I/O use every core while Flow code (single-threaded, `Rc` values)
//! runs on the one thread of its VM instance.
//!
//! A [`BoundListener`] is bound synchronously (so a port that cannot be
//! bound fails where `http:listener` is called) and served later by
//! [`serve`]. [`BoundListener::close`] stops accepting and shuts the open
//! connections down gracefully: a request in flight gets its response,
//! idle keep-alive connections are closed.

pub mod router;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming as Body};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use router::{Match, Router};
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Limits protecting a listener from large or slow clients.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// The largest request body accepted; larger ones are answered 413.
    pub max_body: usize,
    /// How long a client may take to send a request's head (slow-loris
    /// protection); the connection is closed after it.
    pub header_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_body: 10 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// A request for a resource, handed to the VM thread.
#[derive(Debug)]
pub struct Incoming {
    /// The resource (its index in the service).
    pub route: usize,
    /// The decoded `{name}` path segments.
    pub params: Vec<(String, String)>,
    /// The method, upper case.
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The headers as received (moved out of the request, not copied).
    pub headers: hyper::HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// An answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers (including `content-type` when there is a body).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message }))
    }
}

/// The process-wide runtime serving every listener's connections.
pub fn io_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    io_runtime_cell()
        .get_or_init(|| {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("flow-http")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the HTTP server runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The server runtime if a listener has started it: while services run,
/// endpoint requests do their connection I/O there too, so the VM thread
/// only runs Flow code.
pub fn io_runtime_if_started() -> Option<&'static tokio::runtime::Runtime> {
    io_runtime_cell().get().and_then(|r| r.as_ref().ok())
}

fn io_runtime_cell() -> &'static OnceLock<Result<tokio::runtime::Runtime, String>> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    &RT
}

/// A bound listening socket, served by at most one service.
pub struct BoundListener {
    port: u16,
    socket: Mutex<Option<std::net::TcpListener>>,
    /// `true` once closed: the accept loop and connections stop.
    shutdown: watch::Sender<bool>,
    /// Running accept loops plus open connections.
    active: watch::Sender<usize>,
    served: std::sync::atomic::AtomicBool,
}

impl BoundListener {
    /// Binds `host:port` (port 0: a free port chosen by the system).
    pub fn bind(host: &str, port: u16) -> Result<Arc<BoundListener>, String> {
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let socket = std::net::TcpListener::bind(&addr)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let port = socket
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?
            .port();
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(Arc::new(BoundListener {
            port,
            socket: Mutex::new(Some(socket)),
            shutdown: watch::channel(false).0,
            active: watch::channel(0).0,
            served: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting connections and shuts the open ones down gracefully.
    pub fn close(&self) {
        self.shutdown.send_replace(true);
        if let Ok(mut s) = self.socket.lock() {
            s.take();
        }
    }

    /// Resolves once the listener is closed and its connections are gone.
    pub async fn finished(&self) {
        let mut closed = self.shutdown.subscribe();
        let _ = closed.wait_for(|c| *c).await;
        let mut active = self.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
    }
}

/// Counts one accept loop or connection in [`BoundListener::active`] while
/// it lives.
struct ActiveGuard(Arc<BoundListener>);

impl ActiveGuard {
    fn new(l: &Arc<BoundListener>) -> ActiveGuard {
        l.active.send_modify(|n| *n += 1);
        ActiveGuard(l.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Where a listener's resource requests go: to a VM on another thread
/// ([`ToVm`]) or to the VM of the connection's own thread ([`LocalVm`]).
pub trait Dispatch: 'static {
    /// Hands `req` over (the answer comes back through `req.reply`);
    /// `false` when the service is not running.
    fn dispatch(&self, req: Incoming) -> bool;
}

/// Requests cross to the VM thread over a channel.
pub struct ToVm(pub mpsc::UnboundedSender<Incoming>);

impl Dispatch for ToVm {
    fn dispatch(&self, req: Incoming) -> bool {
        self.0.send(req).is_ok()
    }
}

/// Requests run on the connection's own thread (one VM per thread): the
/// function starts the request's strand there.
pub struct LocalVm(pub Box<dyn Fn(Incoming)>);

impl Dispatch for LocalVm {
    fn dispatch(&self, req: Incoming) -> bool {
        (self.0)(req);
        true
    }
}

/// What every connection of one listener (on one thread) shares.
pub struct Context<D> {
    router: Router,
    limits: ServerLimits,
    dispatch: D,
}

impl<D: Dispatch> Context<D> {
    /// The routes, limits and destination of a listener's requests.
    pub fn new(router: Router, limits: ServerLimits, dispatch: D) -> Context<D> {
        Context {
            router,
            limits,
            dispatch,
        }
    }
}

/// Starts serving `listener` with `router` on the I/O runtime; resource
/// requests go to `to_vm`.
pub fn serve(
    listener: &Arc<BoundListener>,
    router: Router,
    limits: ServerLimits,
    to_vm: mpsc::UnboundedSender<Incoming>,
) -> Result<(), String> {
    let rt = io_runtime()?;
    let _enter = rt.enter();
    let (socket, guard) = listen(listener)?;
    let ctx = Arc::new(Context::new(router, limits, ToVm(to_vm)));
    rt.spawn(accept_loop(socket, listener.clone(), ctx, guard));
    Ok(())
}

/// Takes `listener`'s socket (it is served once) onto the current tokio
/// runtime, counted as active while the accept loop holds the guard.
fn listen(listener: &Arc<BoundListener>) -> Result<(tokio::net::TcpListener, ActiveGuard), String> {
    let socket = listener
        .socket
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| {
            format!(
                "the listener on port {} is already in use or closed",
                listener.port
            )
        })?;
    listener
        .served
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let guard = ActiveGuard::new(listener);
    let socket = tokio::net::TcpListener::from_std(socket)
        .map_err(|e| format!("cannot listen on port {}: {e}", listener.port))?;
    Ok((socket, guard))
}

/// An accepted connection on its way to a VM thread, counted as active.
struct Accepted {
    stream: std::net::TcpStream,
    guard: ActiveGuard,
    open: OpenGuard,
}

/// Counts a connection in its thread's [`Share::open`] while it lives.
struct OpenGuard(Arc<watch::Sender<usize>>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// One VM thread's share of a listener served by several VM threads
/// ([`serve_shared`]): the connections handed to it.
pub struct Share {
    streams: mpsc::UnboundedReceiver<Accepted>,
    open: Arc<watch::Sender<usize>>,
}

/// Serves `listener` on `threads` VM threads: an accept loop on the
/// current thread's runtime hands each connection to the thread with the
/// fewest open connections, which runs it to the end (parsing, the
/// resource's strand and its remote calls: no thread hop per request).
/// Each thread then runs its [`Share`] with [`serve_share`].
pub fn serve_shared(listener: &Arc<BoundListener>, threads: usize) -> Result<Vec<Share>, String> {
    let (socket, guard) = listen(listener)?;
    let mut shares = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..threads.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let open = Arc::new(watch::channel(0).0);
        targets.push((tx, open.clone()));
        shares.push(Share { streams: rx, open });
    }
    tokio::spawn(hand_out(socket, listener.clone(), targets, guard));
    Ok(shares)
}

async fn hand_out(
    socket: tokio::net::TcpListener,
    listener: Arc<BoundListener>,
    targets: Vec<(mpsc::UnboundedSender<Accepted>, Arc<watch::Sender<usize>>)>,
    _guard: ActiveGuard,
) {
    let mut stop = listener.shutdown.subscribe();
    let mut next = 0;
    while let Some(stream) = next_connection(&socket, &mut stop).await {
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // The least busy thread; ties go round.
        let n = targets.len();
        let pick = (0..n)
            .map(|i| (next + i) % n)
            .min_by_key(|&i| *targets[i].1.borrow())
            .unwrap_or(0);
        next = (pick + 1) % n;
        let (tx, open) = &targets[pick];
        open.send_modify(|c| *c += 1);
        let accepted = Accepted {
            stream,
            guard: ActiveGuard::new(&listener),
            open: OpenGuard(open.clone()),
        };
        let _ = tx.send(accepted);
    }
}

/// Runs the connections of `share` on the current thread (a `LocalSet`)
/// until the listener is closed and they have all ended.
pub async fn serve_share<D: Dispatch>(
    mut share: Share,
    listener: Arc<BoundListener>,
    ctx: Context<D>,
) {
    let ctx = Rc::new(ctx);
    while let Some(a) = share.streams.recv().await {
        let Ok(stream) = tokio::net::TcpStream::from_std(a.stream) else {
            continue;
        };
        let stop = listener.shutdown.subscribe();
        let ctx = ctx.clone();
        tokio::task::spawn_local(async move {
            let _open = a.open;
            connection(stream, ctx, stop, a.guard).await;
        });
    }
    let mut open = share.open.subscribe();
    let _ = open.wait_for(|n| *n == 0).await;
}

/// The next accepted connection (with `TCP_NODELAY` set), or `None` once
/// the listener is closed.
async fn next_connection(
    socket: &tokio::net::TcpListener,
    stop: &mut watch::Receiver<bool>,
) -> Option<tokio::net::TcpStream> {
    loop {
        tokio::select! {
            _ = stopped(stop) => return None,
            r = socket.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    return Some(stream);
                }
                // Out of file descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Resolves when `rx` says the listener is closed.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

async fn accept_loop(
    socket: tokio::net::TcpListener,
    listener: Arc<BoundListener>,
    ctx: Arc<Context<ToVm>>,
    _guard: ActiveGuard,
) {
    let mut stop = listener.shutdown.subscribe();
    while let Some(stream) = next_connection(&socket, &mut stop).await {
        let guard = ActiveGuard::new(&listener);
        let ctx = ctx.clone();
        let stop = listener.shutdown.subscribe();
        tokio::spawn(connection(stream, ctx, stop, guard));
    }
}

async fn connection<D: Dispatch, C: std::ops::Deref<Target = Context<D>> + Clone + 'static>(
    stream: tokio::net::TcpStream,
    ctx: C,
    mut stop: watch::Receiver<bool>,
    _guard: ActiveGuard,
) {
    let limits = ctx.limits;
    let service = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(handle(req, &ctx).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        // Head and body in one buffer and one `write`: cheaper than a
        // queued `writev` for the small answers services mostly give
        // (−0.4 k instructions per gateway request); a large body costs
        // one extra copy.
        .writev(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// The path of the built-in health check.
pub const HEALTH_PATH: &str = "/.flow/health";

/// The prefix of the two-phase-commit control paths (§12.2):
/// `POST /.flow/tx/{id}/prepare|commit|abort`.
pub const TX_PREFIX: &str = "/.flow/tx/";

/// The [`Incoming::route`] of a two-phase-commit control request; its
/// `params` are `id` and `action`.
pub const TX_CONTROL: usize = usize::MAX;

/// `(id, action)` of a control path.
fn tx_control(path: &str) -> Option<(String, String)> {
    let (id, action) = path.strip_prefix(TX_PREFIX)?.split_once('/')?;
    (!id.is_empty() && !action.is_empty() && !action.contains('/'))
        .then(|| (id.to_string(), action.to_string()))
}

async fn handle<D: Dispatch>(req: Request<Body>, ctx: &Context<D>) -> Response<Full<Bytes>> {
    let reply = answer(req, ctx).await;
    to_response(reply)
}

async fn answer<D: Dispatch>(mut req: Request<Body>, ctx: &Context<D>) -> Reply {
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_string();
    let (route, params) = match ctx.router.find(&method, &path) {
        Match::Found(i, params) => (i, params),
        Match::NotFound if method == "GET" && path == HEALTH_PATH => {
            return Reply::json(200, &serde_json::json!({ "status": "up" }));
        }
        Match::NotFound if method == "POST" && tx_control(&path).is_some() => {
            let (id, action) = tx_control(&path).unwrap_or_default();
            (
                TX_CONTROL,
                vec![("id".into(), id), ("action".into(), action)],
            )
        }
        Match::NotFound => return Reply::error(404, &format!("no resource for {path}")),
        Match::MethodNotAllowed(allowed) => {
            let mut r = Reply::error(405, &format!("{method} is not allowed for {path}"));
            r.headers.push(("allow".into(), allowed.join(", ")));
            return r;
        }
    };
    let query = req
        .uri()
        .query()
        .map(router::parse_query)
        .unwrap_or_default();
    let headers = std::mem::take(req.headers_mut());
    let too_large = || {
        Reply::error(
            413,
            &format!(
                "the request body is larger than {} bytes",
                ctx.limits.max_body
            ),
        )
    };
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ctx.limits.max_body as u64) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), ctx.limits.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(e) => return Reply::error(400, &format!("cannot read the request body: {e}")),
    };
    let (tx, rx) = oneshot::channel();
    let incoming = Incoming {
        route,
        params,
        method,
        path,
        query,
        headers,
        body,
        reply: tx,
    };
    if !ctx.dispatch.dispatch(incoming) {
        return Reply::error(503, "the service is not running");
    }
    rx.await
        .unwrap_or_else(|_| Reply::error(503, "the service stopped before answering"))
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let (status, headers, body) = match head(&reply) {
        Ok((status, headers)) => (status, headers, reply.body),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            hyper::HeaderMap::new(),
            serde_json::json!({ "error": format!("invalid response: {e}") })
                .to_string()
                .into_bytes(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The status and headers of `reply`, or why they are not valid HTTP.
fn head(reply: &Reply) -> Result<(StatusCode, hyper::HeaderMap), String> {
    let status = StatusCode::from_u16(reply.status).map_err(|e| e.to_string())?;
    // Sized up front: the map is built once per response.
    let mut headers = hyper::HeaderMap::with_capacity(reply.headers.len());
    for (k, v) in &reply.headers {
        let name =
            hyper::header::HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
        let value = hyper::header::HeaderValue::from_str(v).map_err(|e| e.to_string())?;
        headers.append(name, value);
    }
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&str, &str)]) -> Reply {
        Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"hi".to_vec(),
        }
    }

    async fn body_of(r: Response<Full<Bytes>>) -> String {
        let bytes = r.into_body().collect().await.map(|b| b.to_bytes());
        String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
    }

    #[tokio::test]
    async fn a_reply_becomes_its_status_headers_and_body() {
        let r = to_response(reply(
            201,
            &[("content-type", "text/plain"), ("x-a", "1"), ("x-a", "2")],
        ));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["content-type"], "text/plain");
        let xa: Vec<_> = r.headers().get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(body_of(r).await, "hi");
    }

    #[tokio::test]
    async fn an_invalid_reply_is_answered_500_with_the_reason() {
        for (bad, reason) in [
            (reply(1000, &[]), "invalid status code"),
            (reply(200, &[("bad name", "v")]), "invalid HTTP header name"),
            (
                reply(200, &[("x-a", "line\nbreak")]),
                "failed to parse header value",
            ),
        ] {
            let r = to_response(bad);
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                body_of(r).await,
                serde_json::json!({ "error": format!("invalid response: {reason}") }).to_string()
            );
        }
    }
}
