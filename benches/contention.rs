//! Contention: one shared breaker, retry budget, shedding limiter and keyed table, called
//! from one thread and then from two at once; throughput relative to one thread.
//!
//! `cargo bench --bench contention` runs it (about 80 s). A plain
//! binary rather than a divan bench: each case runs for a fixed time on every thread and
//! counts the calls, so the figure is calls per second in all, not time per call.
//!
//! Two threads on a 2-core machine can at best double the throughput; but on a machine
//! other processes share, the wall-clock throughput mostly measures how often both threads
//! got a core. The main figure is therefore the CPU time per call (from the kernel's
//! per-thread accounting), which waits for a core do not inflate: 1.00× means two threads
//! on the shared state each call as cheaply as one alone; above it, they slow each other
//! down (a cache line bouncing between the cores). Each case is measured in [`RUNS`]
//! independent runs, and the table gives the median ratio with the lowest and highest run.
//! The peers (tower-resilience's and failsafe's breakers, tower's and tower-resilience's
//! limiters) run in the same binary, shared by the threads the same way.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use seawall::breaker::CircuitBreakerLayer;
use seawall::core::clock::CoarseClock;
use seawall::core::keyed::{KeyedTable, Retain};
use seawall::core::RollingCounter;
use seawall::retry::{RetryBudget, RetryLayer};
use seawall::shed::limit::{Fixed, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::{Layer, Service};

mod common;

use common::{call_ready, ok_service, TowerBudgetPolicy};

/// How long each case runs at each thread count.
const RUN: Duration = Duration::from_millis(100);
/// Alternating rounds per run; the best of each side is kept.
const ROUNDS: usize = 3;
/// Independent runs per case, each giving one ratio.
const RUNS: usize = 5;

/// What one measurement gives: the calls per second of wall time summed over the threads,
/// and the nanoseconds of CPU time each call took, over all the threads.
#[derive(Clone, Copy)]
struct Measure {
    per_second: f64,
    cpu_ns_per_call: f64,
}

/// Nanoseconds this thread has run on a CPU, from Linux's `/proc/thread-self/schedstat`
/// (`None` elsewhere). Yields first, so that the kernel brings the figure up to date.
fn thread_cpu_ns() -> Option<u64> {
    std::thread::yield_now();
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Runs `work` on `threads` threads at once for [`RUN`]. `work` makes each thread's own
/// closure (a clone of a shared service, or a handle to a shared value) before the clock
/// starts.
///
/// Wall time alone says little on a busy machine: a thread that waits for a core does no
/// calls. The CPU time per call does not count those waits, and grows when the threads slow
/// each other down while both run (a cache line bouncing between the cores): that is the
/// figure that shows contention, whatever else the machine is doing.
fn measure<F, W>(threads: usize, make: &F) -> Measure
where
    F: Fn() -> W + Sync,
    W: FnMut(),
{
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let (calls, cpu_ns) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut work = make();
                    start.wait();
                    let before = thread_cpu_ns();
                    let mut n = 0u64;
                    // Check the stop flag every 256 calls, so that it costs nothing.
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            work();
                        }
                        n += 256;
                    }
                    let cpu = thread_cpu_ns()
                        .zip(before)
                        .map_or(0, |(after, before)| after.saturating_sub(before));
                    (n, cpu)
                })
            })
            .collect();
        start.wait();
        // Sleeping, not spinning, leaves both cores to the threads measured. (No runtime
        // here for tokio's sleep, and no paused time to respect.)
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |(n, c), (dn, dc)| (n + dn, c + dc))
    });
    Measure {
        per_second: calls as f64 / RUN.as_secs_f64(),
        cpu_ns_per_call: cpu_ns as f64 / calls.max(1) as f64,
    }
}

/// The median of `values` and its lowest and highest.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// One row: the case at 1 and 2 threads, [`ROUNDS`] times each alternately in each of
/// [`RUNS`] runs. A run's CPU time per call is over all its rounds (a round in which the two
/// threads happened not to overlap must not hide one in which they did); its wall-clock
/// rates are its best rounds (the others were disturbed by something else).
fn row<F, W>(name: &str, make: F)
where
    F: Fn() -> W + Sync,
    W: FnMut(),
{
    let (mut ones, mut twos, mut cpu, mut wall) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let (mut one, mut two) = ((0f64, 0f64, 0f64), (0f64, 0f64, 0f64));
        for _ in 0..ROUNDS {
            for (threads, acc) in [(1, &mut one), (2, &mut two)] {
                let m = measure(threads, &make);
                let calls = m.per_second * RUN.as_secs_f64();
                acc.0 = acc.0.max(m.per_second);
                acc.1 += m.cpu_ns_per_call * calls;
                acc.2 += calls;
            }
        }
        let (one_ns, two_ns) = (one.1 / one.2, two.1 / two.2);
        ones.push(one_ns);
        twos.push(two_ns);
        cpu.push(two_ns / one_ns);
        wall.push(two.0 / one.0);
    }
    let (one, _, _) = spread(ones);
    let (two, _, _) = spread(twos);
    let (cpu, cpu_lo, cpu_hi) = spread(cpu);
    let (wall, wall_lo, wall_hi) = spread(wall);
    println!(
        "| {name} | {one:.1} ns | {two:.1} ns | **{cpu:.2}×** ({cpu_lo:.2}–{cpu_hi:.2}) | {wall:.2}× ({wall_lo:.2}–{wall_hi:.2}) |"
    );
}

struct Entry;
impl Retain for Entry {}

/// Drives one call through `svc`, polling again at once while it is pending: the peers
/// that take an async lock or a semaphore permit per call wait while the other thread holds
/// it (and a no-op waker would never wake them). The spinning is CPU time the thread spends
/// on the call, so it counts in the figure, as the wait does on a real runtime.
fn call_spin<S: Service<u64>>(svc: &mut S, request: u64) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => std::hint::spin_loop(),
        }
    }
    let mut fut = pin!(svc.call(request));
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(result) => return result,
            Poll::Pending => std::hint::spin_loop(),
        }
    }
}

/// How a row drives one call.
type Call<S> = fn(&mut S, u64) -> Result<<S as Service<u64>>::Response, <S as Service<u64>>::Error>;

/// A row for a service shared by the threads: each calls its own clone with `call`
/// ([`call_ready`], or [`call_spin`] for a peer whose call may wait on the other thread).
fn service_row<S>(name: &str, svc: &S, call: Call<S>)
where
    S: Service<u64> + Clone + Send + Sync,
    S::Error: std::fmt::Debug,
{
    row(name, || {
        let mut svc = svc.clone();
        move || {
            black_box(call(&mut svc, black_box(41)).unwrap());
        }
    });
}

fn main() {
    println!(
        "| shared by the threads | CPU per call, 1 thread | CPU per call, 2 threads (each) | 2 threads / 1, CPU per call: median of {RUNS} runs (lowest–highest) | calls/s, 2 threads / 1, wall clock (lowest–highest) |"
    );
    println!("|---|---|---|---|---|");

    let breaker = CircuitBreakerLayer::builder()
        .build()
        .unwrap()
        .layer(ok_service());
    service_row("breaker (defaults), closed, success", &breaker, call_ready);

    let timed = CircuitBreakerLayer::builder()
        .time_window(Duration::from_secs(10), 10)
        .build()
        .unwrap()
        .layer(ok_service());
    service_row(
        "breaker, 10 s time window, closed, success",
        &timed,
        call_ready,
    );

    // The peers, configured as in `benches/breaker.rs` (50% of the last 100 calls; failsafe's
    // default policy), each shared by the threads as Seawall's is.
    let resilience = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .unwrap()
        .layer(ok_service());
    service_row(
        "peer: tower-resilience breaker, closed, success",
        &resilience,
        call_spin,
    );
    let failsafe = failsafe::Config::new().build();
    row("peer: failsafe breaker, closed, success", || {
        use failsafe::futures::CircuitBreaker as _;
        let breaker = failsafe.clone();
        let mut svc = ok_service();
        move || {
            let mut cx = Context::from_waker(Waker::noop());
            assert!(svc.poll_ready(&mut cx).is_ready());
            let mut fut = pin!(breaker.call(svc.call(black_box(41))));
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(result) => black_box(result.is_ok()),
                Poll::Pending => panic!("benchmarked call did not complete at once"),
            };
        }
    });

    let budget = Arc::new(RetryBudget::default());
    row("`RetryBudget::deposit` (striped)", || {
        let budget = Arc::clone(&budget);
        move || budget.deposit()
    });

    // The coarse clock's ticker runs on a runtime of its own, beside the measured threads.
    let ticker = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let clock = ticker.block_on(async { CoarseClock::start(Duration::from_millis(10)).unwrap() });
    let ticking = std::thread::spawn(move || ticker.block_on(std::future::pending::<()>()));
    let coarse = Arc::new(RetryBudget::builder().coarse_clock(clock).build().unwrap());
    row("`RetryBudget::deposit` (striped), coarse clock", || {
        let budget = Arc::clone(&coarse);
        move || budget.deposit()
    });

    // What the deposit was before it was striped: one window every thread counts in.
    let unstriped = Arc::new(RollingCounter::new(Duration::from_secs(1), 10).unwrap());
    let total = Arc::new(AtomicU64::new(0));
    row(
        "one shared `RollingCounter` + total (the deposit unstriped)",
        || {
            let (window, total) = (Arc::clone(&unstriped), Arc::clone(&total));
            move || {
                window.add(1);
                total.fetch_add(1, Ordering::Relaxed);
            }
        },
    );
    drop(ticking);

    let retry = RetryLayer::builder()
        .seed(1)
        .build()
        .unwrap()
        .layer(ok_service());
    service_row("retry (default budget), success", &retry, call_ready);

    // The peer: tower's `Retry` over its `TpsBudget`, cloned per thread as Seawall's is.
    let tower_retry = tower::retry::Retry::new(
        TowerBudgetPolicy(Arc::new(tower::retry::budget::TpsBudget::default())),
        ok_service(),
    );
    service_row(
        "tower `Retry` + `TpsBudget`, success",
        &tower_retry,
        call_ready,
    );

    // What one shared reference count costs: an `Arc` cloned and dropped per call, as a
    // response future that owns a handle to a layer's shared state does.
    let shared = Arc::new(0u64);
    row("reference: `Arc::clone` + drop of one shared `Arc`", || {
        let shared = Arc::clone(&shared);
        move || {
            drop(black_box(Arc::clone(&shared)));
        }
    });

    let fixed = ShedLayer::builder()
        .limit(Fixed::new(1000))
        .build()
        .unwrap()
        .layer(ok_service());
    service_row("shed, `Fixed(1000)`", &fixed, call_ready);

    let vegas = ShedLayer::builder()
        .limit(Windowed::new(Vegas::default()))
        .build()
        .unwrap()
        .layer(ok_service());
    service_row("shed, `Windowed<Vegas>` (default)", &vegas, call_ready);

    // The peers, as in `benches/shed.rs`.
    let tower_limit = tower::ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1000)
        .service(ok_service());
    service_row(
        "peer: tower `LoadShed` + `ConcurrencyLimit(1000)`",
        &tower_limit,
        call_spin,
    );
    let adaptive = tower_resilience_adaptive::AdaptiveLimiterLayer::new(
        tower_resilience_adaptive::Vegas::builder().build().unwrap(),
    )
    .layer(ok_service());
    service_row(
        "peer: tower-resilience adaptive limiter (Vegas)",
        &adaptive,
        call_spin,
    );

    let table = Arc::new(KeyedTable::<u64, Entry>::new(1000, Duration::from_secs(60)).unwrap());
    table.get_or_insert_with(&7, |_| Entry).unwrap();
    row("`KeyedTable::get`, one hot key", || {
        let table = Arc::clone(&table);
        move || {
            black_box(table.get(black_box(&7)));
        }
    });
    for key in 0..64 {
        table.get_or_insert_with(&key, |_| Entry).unwrap();
    }
    let next = AtomicU64::new(0);
    row("`KeyedTable::get`, 64 keys", || {
        let table = Arc::clone(&table);
        let mut key = next.fetch_add(32, Ordering::Relaxed);
        move || {
            key = (key + 1) % 64;
            black_box(table.get(black_box(&key)));
        }
    });
}
