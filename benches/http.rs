//! Real HTTP on 127.0.0.1, bounded in time (about 25 s): axum with Seawall's standard server
//! stack against bare axum, and hyper-util's client with Seawall's standard client stack
//! against the same client bare; requests per second and latency percentiles, the two sides
//! alternating within one run.
//!
//! `cargo bench --bench http` runs it. A plain binary, not a divan bench: the load generator
//! is below (`CONNECTIONS` HTTP/1.1 connections, each sending its next request as soon as
//! the last answer's body is read), on the same runtime and the same two cores as the
//! servers, so the figures are relative, not a server's capacity.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use seawall::core::BoxError;
use seawall::http::client::{hyper_client, HyperClient};
use seawall::http::ReplayableBody;
use seawall::stack::{BoxClient, ClientConfig, ServerConfig};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

/// Connections the load generator keeps busy at once.
const CONNECTIONS: usize = 16;
/// Alternating rounds per comparison.
const ROUNDS: usize = 3;
/// Length of one side's run in one round.
const RUN: Duration = Duration::from_millis(1500);

fn router() -> Router {
    Router::new().route("/", get(|| async { "ok" }))
}

/// The standard server stack at its defaults (`ServerConfig::default()`), outermost first:
/// rejections and errors as responses, the caller's deadline, shedding (the default
/// adaptive limit, the slot held to the end of the body), a 10 s timeout, per-route
/// breakers (off by default: the route is matched and passed through).
fn stacked_router() -> Router {
    router().layer(ServerConfig::default().layer().unwrap())
}

async fn serve(app: Router) -> SocketAddr {
    serve_counting(app).await.0
}

/// Serves `app` and counts the TCP connections it accepts.
async fn serve_counting(app: Router) -> (SocketAddr, Arc<AtomicU64>) {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, accepted)
}

/// One HTTP/1.1 connection as a tower service.
struct Conn(SendRequest<Empty<Bytes>>);

impl Service<http::Request<Empty<Bytes>>> for Conn {
    type Response = http::Response<Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Empty<Bytes>>) -> Self::Future {
        let response = self.0.send_request(request);
        Box::pin(async move { Ok(response.await?) })
    }
}

async fn connect(addr: SocketAddr) -> Conn {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    Conn(send)
}

#[derive(Clone, Copy, PartialEq)]
enum Client {
    /// One hyper `client::conn` connection per task: the server comparison's load.
    Conn,
    /// hyper-util's pooled client (`seawall::http::client::hyper_client`), shared by the tasks.
    Pooled,
    /// The same client behind the standard client stack, `ClientConfig::default().service(..)`.
    Stacked,
}

/// The pooled clients, made once so that their pools stay warm between rounds.
struct Clients {
    pooled: HyperClient<Empty<Bytes>>,
    stacked: BoxClient<Empty<Bytes>, Incoming>,
}

impl Clients {
    fn new() -> Self {
        Self {
            pooled: hyper_client(),
            stacked: ClientConfig::default()
                .service(hyper_client::<ReplayableBody<Empty<Bytes>>>())
                .unwrap(),
        }
    }
}

/// The requests answered 200 and the latency histogram (µs) of one side's run.
struct Run {
    ok: u64,
    errors: u64,
    latency: Histogram<u64>,
}

async fn drive<S>(mut svc: S, addr: SocketAddr, stop: Arc<AtomicBool>) -> Run
where
    S: Service<http::Request<Empty<Bytes>>, Response = http::Response<Incoming>, Error = BoxError>,
{
    let mut run = Run {
        ok: 0,
        errors: 0,
        latency: Histogram::new(3).unwrap(),
    };
    let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
    while !stop.load(Ordering::Relaxed) {
        let request = http::Request::get(uri.clone())
            .header(http::header::HOST, "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        let began = Instant::now();
        let answer = async {
            let response = svc.ready().await?.call(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            Ok::<_, BoxError>(status)
        }
        .await;
        match answer {
            Ok(status) if status == http::StatusCode::OK => {
                run.ok += 1;
                let micros = began.elapsed().as_micros() as u64;
                run.latency.record(micros.max(1)).unwrap();
            }
            _ => run.errors += 1,
        }
    }
    run
}

/// Runs `CONNECTIONS` connections against `addr` for `run` and merges what they saw.
async fn load_for(clients: &Clients, addr: SocketAddr, client: Client, run: Duration) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let stop = Arc::clone(&stop);
        let task = match client {
            Client::Conn => {
                let conn = connect(addr).await;
                tokio::spawn(drive(conn, addr, stop))
            }
            Client::Pooled => {
                let svc = clients.pooled.clone().map_err(BoxError::from);
                tokio::spawn(drive(svc, addr, stop))
            }
            Client::Stacked => tokio::spawn(drive(clients.stacked.clone(), addr, stop)),
        };
        tasks.push(task);
    }
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Run {
        ok: 0,
        errors: 0,
        latency: Histogram::new(3).unwrap(),
    };
    for task in tasks {
        let run = task.await.unwrap();
        total.ok += run.ok;
        total.errors += run.errors;
        total.latency.add(&run.latency).unwrap();
    }
    total
}

/// One side's run of [`RUN`].
async fn load(clients: &Clients, addr: SocketAddr, client: Client) -> Run {
    load_for(clients, addr, client, RUN).await
}

/// The figures of one side over all its rounds.
struct Side {
    name: &'static str,
    per_round: Vec<f64>,
    errors: u64,
    latency: Histogram<u64>,
}

impl Side {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            per_round: Vec::new(),
            errors: 0,
            latency: Histogram::new(3).unwrap(),
        }
    }

    fn add(&mut self, run: Run) {
        self.per_round.push(run.ok as f64 / RUN.as_secs_f64());
        self.errors += run.errors;
        self.latency.add(&run.latency).unwrap();
    }

    fn mean(&self) -> f64 {
        self.per_round.iter().sum::<f64>() / self.per_round.len() as f64
    }

    fn row(&self, baseline: f64) {
        let worst = self.per_round.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {} | {:.0} | {:.0} | {:.3}× | {} µs | {} µs | {} µs | {} |",
            self.name,
            self.mean(),
            worst,
            self.mean() / baseline,
            self.latency.value_at_quantile(0.5),
            self.latency.value_at_quantile(0.99),
            self.latency.max(),
            self.errors,
        );
    }
}

fn header(what: &str) {
    println!("\n{what}: {CONNECTIONS} connections, {ROUNDS} alternating rounds of {RUN:?} each\n");
    println!(
        "| side | requests/s (mean of rounds) | worst round | vs bare | p50 | p99 | max | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
}

/// Requests through `app` in this task, one at a time, no network: the mean time of one,
/// body read, in nanoseconds.
async fn in_process(app: Router, requests: u32) -> f64 {
    let began = Instant::now();
    for _ in 0..requests {
        let request = http::Request::get("/")
            .header(http::header::HOST, "127.0.0.1")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        response.into_body().collect().await.unwrap();
    }
    began.elapsed().as_nanos() as f64 / f64::from(requests)
}

/// A response whose body is held by the shedder as axum's body, as `ServerLayer` does.
fn unify<B>(response: http::Response<B>) -> http::Response<axum::body::Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(axum::body::Body::new)
}

/// Where the server stack's time goes: the router alone, then the standard stack's layers
/// added one at a time from the outside in (as `ServerLayer` nests them), then the whole
/// standard stack (which adds the per-route breakers' route matching), each in process.
async fn server_layers() {
    use seawall::http::RejectionResponseLayer;
    use seawall::shed::ShedLayer;
    use seawall::timeout::{ReceiveDeadlineLayer, TimeoutLayer};
    use tower::ServiceBuilder;
    const REQUESTS: u32 = 200_000;
    let shed = || {
        ShedLayer::builder()
            .name("server")
            .hold_to_body_end()
            .build()
            .unwrap()
    };
    let stacks: [(&str, Router); 6] = [
        ("bare axum", router()),
        (
            "+ `RejectionResponseLayer::infallible()`",
            router().layer(RejectionResponseLayer::infallible()),
        ),
        (
            "+ `ReceiveDeadlineLayer`",
            router().layer(
                ServiceBuilder::new()
                    .layer(RejectionResponseLayer::infallible())
                    .layer(ReceiveDeadlineLayer::new()),
            ),
        ),
        (
            "+ `ShedLayer` (default limit, held to the body's end)",
            router().layer(
                ServiceBuilder::new()
                    .layer(RejectionResponseLayer::infallible())
                    .layer(ReceiveDeadlineLayer::new())
                    .map_response(unify)
                    .layer(shed()),
            ),
        ),
        (
            "+ `TimeoutLayer` (10 s)",
            router().layer(
                ServiceBuilder::new()
                    .layer(RejectionResponseLayer::infallible())
                    .layer(ReceiveDeadlineLayer::new())
                    .map_response(unify)
                    .layer(shed())
                    .layer(TimeoutLayer::new(Duration::from_secs(10)).unwrap()),
            ),
        ),
        (
            "`ServerConfig::default().layer()` (+ per-route breakers, off)",
            stacked_router(),
        ),
    ];
    println!("\nIn process, no network: {REQUESTS} requests one at a time through `Router::oneshot`, body read\n");
    println!("| stack | ns per request | vs bare |");
    println!("|---|---|---|");
    let mut bare = None;
    for (name, app) in stacks {
        in_process(app.clone(), REQUESTS / 10).await;
        let ns = in_process(app, REQUESTS).await;
        let base = *bare.get_or_insert(ns);
        println!("| {name} | {ns:.0} | {:+.0} ns |", ns - base);
    }
}

async fn run() {
    let (bare, accepted) = serve_counting(router()).await;
    let stacked = serve(stacked_router()).await;
    let clients = Clients::new();
    // Warm both up (connections, pools, allocator, the adaptive limit's first window).
    let warm_up = Duration::from_millis(500);
    load_for(&clients, bare, Client::Conn, warm_up).await;
    load_for(&clients, stacked, Client::Conn, warm_up).await;
    load_for(&clients, bare, Client::Pooled, warm_up).await;
    load_for(&clients, bare, Client::Stacked, warm_up).await;

    let mut server_bare = Side::new("bare axum");
    let mut server_stacked = Side::new("axum + `ServerConfig::default().layer()`");
    for _ in 0..ROUNDS {
        server_bare.add(load(&clients, bare, Client::Conn).await);
        server_stacked.add(load(&clients, stacked, Client::Conn).await);
    }
    header("Server side (hyper client connections, no stack)");
    let baseline = server_bare.mean();
    server_bare.row(baseline);
    server_stacked.row(baseline);

    let mut client_bare = Side::new("bare hyper-util client");
    let mut client_stacked = Side::new("hyper-util client + `ClientConfig::default().service(..)`");
    // Connections the server accepted during each client side's rounds: a client that
    // reuses its pooled connections opens none after the warm-up.
    let (mut opened_bare, mut opened_stacked) = (0, 0);
    for _ in 0..ROUNDS {
        let before = accepted.load(Ordering::Relaxed);
        client_bare.add(load(&clients, bare, Client::Pooled).await);
        let between = accepted.load(Ordering::Relaxed);
        client_stacked.add(load(&clients, bare, Client::Stacked).await);
        opened_bare += between - before;
        opened_stacked += accepted.load(Ordering::Relaxed) - between;
    }
    header("Client side (against bare axum)");
    let baseline = client_bare.mean();
    client_bare.row(baseline);
    client_stacked.row(baseline);
    println!(
        "\nTCP connections the server accepted during the client rounds (after warm-up): \
         bare {opened_bare}, stack {opened_stacked}"
    );
    client_layers().await;

    server_layers().await;
}

/// The ready mock under the client breakdown: answers at once with an empty body.
type MockResponse = http::Response<Empty<Bytes>>;

/// Requests through a client stack over a mock, one at a time, no network: the mean time of
/// one, response body read, in nanoseconds.
async fn client_in_process(
    mut svc: tower::util::BoxCloneSyncService<http::Request<Empty<Bytes>>, MockResponse, BoxError>,
    requests: u32,
) -> f64 {
    let began = Instant::now();
    for _ in 0..requests {
        let request = http::Request::get("http://127.0.0.1:3000/")
            .body(Empty::new())
            .unwrap();
        let response = svc.ready().await.unwrap().call(request).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
    began.elapsed().as_nanos() as f64 / f64::from(requests)
}

/// Where the client stack's time goes: a mock that answers at once behind the replay layer,
/// then the standard client stack's layers added one at a time (in the order of
/// `ClientConfig::service`, outermost first), then `ClientConfig::default().service(..)`
/// itself, each in process.
async fn client_layers() {
    use seawall::core::deadline::Deadline;
    use seawall::http::ReplayLayer;
    use seawall::shed::limit::Fixed;
    use seawall::shed::ShedLayer;
    use seawall::stack::{BreakerConfig, RetryConfig};
    use seawall::timeout::{AttemptTimeoutLayer, SendDeadlineLayer, TimeoutLayer};
    use tower::util::BoxCloneSyncService;
    use tower::ServiceBuilder;
    const REQUESTS: u32 = 200_000;
    let total = Duration::from_secs(10);
    // `pending` mocks: the answer comes after one `yield_now`, as an answer from the network
    // comes after a wake-up; the timers of the layers above are then armed, as they are for
    // a real request.
    let mock = move |pending: bool| {
        tower::service_fn(
            move |_: http::Request<ReplayableBody<Empty<Bytes>>>| async move {
                if pending {
                    tokio::task::yield_now().await;
                }
                Ok::<_, BoxError>(MockResponse::new(Empty::new()))
            },
        )
    };
    let names = [
        "mock behind `ReplayLayer` (64 KiB)",
        "+ the total deadline (`Deadline` in the extensions)",
        "+ `SendDeadlineLayer::unenforced()` (outer: the header and the scope, no timer)",
        "+ `ShedLayer` (`Fixed(1000)`)",
        "+ `TimeoutLayer` (10 s)",
        "+ retries (`RetryConfig::default()`)",
        "+ breakers per authority",
        "+ `AttemptTimeoutLayer` (3 s)",
        "+ `SendDeadlineLayer::unenforced()` (inner: the header, no timer)",
    ];
    let stack = |k: usize, pending: bool| {
        let on = |i: usize| k >= i;
        let service = ServiceBuilder::new()
            .option_layer(on(1).then(|| {
                tower::util::MapRequestLayer::new(move |mut r: http::Request<Empty<Bytes>>| {
                    r.extensions_mut().insert(Deadline::after(total));
                    r
                })
            }))
            .option_layer(on(2).then(SendDeadlineLayer::unenforced))
            .option_layer(on(3).then(|| {
                ShedLayer::builder()
                    .limit(Fixed::new(1000))
                    .name("client")
                    .build()
                    .unwrap()
            }))
            .option_layer(on(4).then(|| TimeoutLayer::new(total).unwrap()))
            .layer(ReplayLayer::new(64 * 1024))
            .option_layer(on(5).then(|| RetryConfig::default().into_layer().unwrap()))
            .option_layer(on(6).then(|| {
                BreakerConfig::default()
                    .into_keyed(
                        seawall::breaker::http::authority::<ReplayableBody<Empty<Bytes>>>
                            as fn(&http::Request<ReplayableBody<Empty<Bytes>>>) -> String,
                    )
                    .unwrap()
            }))
            .option_layer(on(7).then(|| AttemptTimeoutLayer::new(Duration::from_secs(3)).unwrap()))
            .option_layer(on(8).then(SendDeadlineLayer::unenforced))
            .service(mock(pending));
        BoxCloneSyncService::new(service.map_err(Into::<BoxError>::into))
    };
    println!("\nClient stack in process, no network: {REQUESTS} requests one at a time over a mock, body read; the mock answers at once, or after one `yield_now` (timers armed)\n");
    println!("| stack | ns per request, answered at once | vs first row | ns per request, pending once | vs first row |");
    println!("|---|---|---|---|---|");
    let whole =
        |pending| BoxCloneSyncService::new(ClientConfig::default().service(mock(pending)).unwrap());
    let rows = (0..names.len())
        .map(|k| (names[k], stack(k, false), stack(k, true)))
        .chain(std::iter::once((
            "`ClientConfig::default().service(mock)`",
            whole(false),
            whole(true),
        )));
    let mut base = None;
    for (name, ready, pending) in rows {
        let mut ns = [0.0; 2];
        for (i, svc) in [ready, pending].into_iter().enumerate() {
            client_in_process(svc.clone(), REQUESTS / 10).await;
            ns[i] = client_in_process(svc, REQUESTS).await;
        }
        let first = *base.get_or_insert(ns);
        println!(
            "| {name} | {:.0} | {:+.0} ns | {:.0} | {:+.0} ns |",
            ns[0],
            ns[0] - first[0],
            ns[1],
            ns[1] - first[1]
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names something else skips this bench.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"http".contains(&a))
    {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
