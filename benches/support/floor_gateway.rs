//! The gateway of `benches/programs/gateway.flow` written directly in Rust
//! on the same stack (hyper server, reqwest client, one current-thread
//! tokio runtime per core), without the VM, the endpoint's resilience
//! layers or Flow's service machinery: what this stack can reach, for
//! `FLOOR=1 benches/gateway.sh` (docs/PERFORMANCE.md, "Session 8").

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::time::Duration;

/// Answers every request on `port` with the body of `GET /ping` on the backend
/// on `backend`; never returns.
pub fn serve(port: u16, backend: u16) -> ! {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the gateway port");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let url =
        reqwest::Url::parse(&format!("http://127.0.0.1:{backend}/ping")).expect("backend URL");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("floor gateway on 127.0.0.1:{port}, {threads} threads");
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let listener = listener.try_clone().expect("clone the listener");
            let url = url.clone();
            std::thread::spawn(move || serve_thread(listener, url))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    std::process::exit(1)
}

/// One thread's runtime: it accepts from the shared socket and serves its
/// connections, with its own client (and connection pool), as Flow's
/// per-thread VMs do.
fn serve_thread(listener: std::net::TcpListener, url: reqwest::Url) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("gateway runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        // The client settings of Flow's transport.
        let client = reqwest::Client::builder()
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .tcp_nodelay(true)
            .http1_only()
            .no_proxy()
            .build()
            .expect("reqwest client");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (client, url) = (client.clone(), url.clone());
            tokio::task::spawn_local(async move {
                let service = service_fn(move |_req: hyper::Request<Incoming>| {
                    let (client, url) = (client.clone(), url.clone());
                    async move { Ok::<_, Infallible>(proxy(&client, url).await) }
                });
                // The server settings of Flow's listener.
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .keep_alive(true)
                    .writev(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// The backend's body as `text/plain`, or a 502.
async fn proxy(client: &reqwest::Client, url: reqwest::Url) -> Response<Full<hyper::body::Bytes>> {
    let fetched = async {
        let response = client
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await?;
        response.bytes().await
    };
    match fetched.await {
        Ok(body) => {
            let mut r = Response::new(Full::new(body));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        Err(_) => {
            let mut r = Response::new(Full::new(hyper::body::Bytes::new()));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}
