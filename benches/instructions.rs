//! Instructions per call on the success paths that issue 15 sets targets for, counted by
//! valgrind's callgrind: the repeatable figure beside divan's nanoseconds, which move by
//! 10–30% with the load of a shared machine.
//!
//! `cargo bench --bench instructions --features retry,timeout,chaos,http` runs every case
//! under `valgrind --tool=callgrind` twice (10,000 and 110,000 calls, collecting only inside
//! the measured loop) and prints the difference divided by 100,000: the instructions of one
//! call, warm-up and setup excluded. Without valgrind on `PATH` it says so and exits.
//!
//! Instructions are not time: an atomic read-modify-write or a cache miss is one
//! instruction and costs tens of cycles, and a `clock_gettime` through the vDSO counts its
//! few dozen instructions, not its cost. Read the two figures together.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use seawall::core::clock::CoarseClock;
use seawall::core::latency::Latency;
use seawall::retry::{RetryBudget, RetryLayer};
use tower::retry::budget::TpsBudget;
use tower::{Layer, Service};

mod common;

use common::{call_ready, ok_service, TowerBudgetPolicy};

const ENV_CASE: &str = "SEAWALL_INSTRUCTIONS_CASE";
const ENV_CALLS: &str = "SEAWALL_INSTRUCTIONS_CALLS";
const FEW: u64 = 10_000;
const MANY: u64 = 110_000;

/// Every case, in the order of the printed table.
const CASES: &[&str] = &[
    "bare service_fn",
    "tower Retry + TpsBudget",
    "Seawall Retry, default budget",
    "Seawall Retry, budget with a CoarseClock",
    "Seawall Retry, no budget",
    "RetryBudget::deposit",
    "RetryBudget::deposit, CoarseClock",
    "tower Timeout",
    "Seawall Timeout",
    "Seawall AttemptTimeout",
    "reference: relaxed load and branch",
    "InjectFault, switched off",
    "InjectLatency, switched off",
    "bare HTTP service",
    "InjectOutcome, switched off",
    "Seawall CircuitBreaker (defaults), closed",
    "Seawall CircuitBreaker, 10 s time window, closed",
    "Seawall Shed, Fixed(1000)",
    "Seawall Shed, Windowed<Vegas> (default)",
    "KeyedTable::get",
];

fn main() {
    if let (Ok(case), Ok(calls)) = (std::env::var(ENV_CASE), std::env::var(ENV_CALLS)) {
        run(&case, calls.parse().unwrap());
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("instructions: valgrind is not on PATH; nothing measured");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    println!("| case | instructions per call |");
    println!("|---|---|");
    for case in CASES {
        let few = count(&exe, case, FEW);
        let many = count(&exe, case, MANY);
        let per_call = (many - few) as f64 / (MANY - FEW) as f64;
        println!("| {case} | {per_call:.1} |");
    }
}

/// The instructions callgrind counts inside `hot_loop` for `calls` calls of `case`.
fn count(exe: &std::path::Path, case: &str, calls: u64) -> u64 {
    let out = std::env::temp_dir().join(format!("seawall-callgrind-{}.out", std::process::id()));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--toggle-collect=*hot_loop*", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .env(ENV_CASE, case)
        .env(ENV_CALLS, calls.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "{case}: valgrind failed");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{case}: no totals in callgrind's output"))
}

/// The measured loop: callgrind collects only inside it.
#[inline(never)]
fn hot_loop(calls: u64, mut call: impl FnMut(u64)) {
    for i in 0..calls {
        call(divan::black_box(i));
    }
}

/// Calls `svc` `calls` times, each call polled ready and completed at once.
fn calls_of<S: Service<u64>>(calls: u64, mut svc: S) {
    hot_loop(calls, |i| {
        let _ = divan::black_box(call_ready(&mut svc, i));
    });
}

fn run(case: &str, calls: u64) {
    // A runtime with one worker: timers need its time driver, the coarse clock its ticker.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let coarse = || rt.block_on(async { CoarseClock::start(Duration::from_millis(10)).unwrap() });
    let injection = || {
        seawall::chaos::Injection::builder()
            .rate(1.0)
            .seed(1)
            .build()
            .unwrap()
    };
    match case {
        "bare service_fn" => calls_of(calls, ok_service()),
        "tower Retry + TpsBudget" => {
            let policy = TowerBudgetPolicy(Arc::new(TpsBudget::default()));
            calls_of(calls, tower::retry::Retry::new(policy, ok_service()));
        }
        "Seawall Retry, default budget" => {
            let layer = RetryLayer::builder().seed(1).build().unwrap();
            calls_of(calls, layer.layer(ok_service()));
        }
        "Seawall Retry, budget with a CoarseClock" => {
            let budget = RetryBudget::builder().coarse_clock(coarse()).build();
            let layer = RetryLayer::builder()
                .budget(Arc::new(budget.unwrap()))
                .seed(1)
                .build()
                .unwrap();
            calls_of(calls, layer.layer(ok_service()));
        }
        "Seawall Retry, no budget" => {
            let layer = RetryLayer::builder().unlimited_budget().seed(1).build();
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "RetryBudget::deposit" => {
            let budget = RetryBudget::default();
            hot_loop(calls, |_| budget.deposit());
        }
        "RetryBudget::deposit, CoarseClock" => {
            let budget = RetryBudget::builder()
                .coarse_clock(coarse())
                .build()
                .unwrap();
            hot_loop(calls, |_| budget.deposit());
        }
        "tower Timeout" => calls_of(
            calls,
            tower::timeout::Timeout::new(ok_service(), Duration::from_secs(1)),
        ),
        "Seawall Timeout" => {
            let layer = seawall::timeout::TimeoutLayer::new(Duration::from_secs(1)).unwrap();
            calls_of(calls, layer.layer(ok_service()));
        }
        "Seawall AttemptTimeout" => {
            let layer = seawall::timeout::AttemptTimeoutLayer::new(Duration::from_secs(1));
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "reference: relaxed load and branch" => {
            let switch = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut svc = ok_service();
            hot_loop(calls, |i| {
                if switch.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let _ = divan::black_box(call_ready(&mut svc, i));
            });
        }
        "InjectFault, switched off" => {
            let layer = seawall::chaos::InjectFaultLayer::new(
                injection(),
                seawall::chaos::InjectedFault::new,
            );
            layer.handle().disable();
            calls_of(calls, layer.layer(ok_service()));
        }
        "InjectLatency, switched off" => {
            let latency = Latency::constant(Duration::from_millis(100));
            let layer = seawall::chaos::InjectLatencyLayer::new(injection(), latency).unwrap();
            layer.handle().disable();
            calls_of(calls, layer.layer(ok_service()));
        }
        "bare HTTP service" => http_calls(calls, http_service()),
        "Seawall CircuitBreaker (defaults), closed" => {
            let layer = seawall::breaker::CircuitBreakerLayer::builder().build();
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "Seawall CircuitBreaker, 10 s time window, closed" => {
            let layer = seawall::breaker::CircuitBreakerLayer::builder()
                .time_window(Duration::from_secs(10), 10)
                .build();
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "Seawall Shed, Fixed(1000)" => {
            let layer = seawall::shed::ShedLayer::builder()
                .limit(seawall::shed::limit::Fixed::new(1000))
                .build();
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "Seawall Shed, Windowed<Vegas> (default)" => {
            let layer = seawall::shed::ShedLayer::builder()
                .limit(seawall::shed::limit::Windowed::new(
                    seawall::shed::limit::Vegas::default(),
                ))
                .build();
            calls_of(calls, layer.unwrap().layer(ok_service()));
        }
        "KeyedTable::get" => {
            struct Entry;
            impl seawall::core::keyed::Retain for Entry {}
            let table = seawall::core::keyed::KeyedTable::new(1000, Duration::from_secs(60));
            let table = table.unwrap();
            table.get_or_insert_with(&7u64, |_| Entry).unwrap();
            hot_loop(calls, |_| {
                divan::black_box(table.get(divan::black_box(&7)));
            });
        }
        "InjectOutcome, switched off" => {
            let layer =
                seawall::chaos::InjectOutcomeLayer::new(injection(), http::StatusCode::BAD_GATEWAY)
                    .retry_after(Duration::from_secs(1));
            layer.handle().disable();
            http_calls(calls, layer.layer(http_service()));
        }
        other => panic!("no case {other:?}"),
    }
}

type HttpResponse = http::Response<http_body_util::Full<bytes::Bytes>>;

/// A service that answers an `http::Request` at once with an empty response.
fn http_service() -> impl Service<
    http::Request<()>,
    Response = HttpResponse,
    Error = seawall::core::BoxError,
    Future = std::future::Ready<Result<HttpResponse, seawall::core::BoxError>>,
> {
    tower::service_fn(|_: http::Request<()>| {
        std::future::ready(Ok(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::new(),
        ))))
    })
}

/// Calls an HTTP service `calls` times with a request made per call.
fn http_calls<S: Service<http::Request<()>>>(calls: u64, mut svc: S) {
    hot_loop(calls, |_| {
        let _ = divan::black_box(call_ready(&mut svc, http::Request::new(())));
    });
}
