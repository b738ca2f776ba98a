//! Contention: one shared breaker, retry budget, shedding limiter and keyed table, called
//! from one thread and then from two at once; throughput relative to one thread.
//!
//! `cargo bench --bench contention --features retry,breaker,shed` runs it (about 12 s). A plain
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
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use seawall::breaker::CircuitBreakerLayer;
use seawall::core::clock::CoarseClock;
use seawall::core::keyed::{KeyedTable, Retain};
use seawall::core::RollingCounter;
use seawall::retry::{RetryBudget, RetryLayer};
use seawall::shed::limit::{Fixed, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::Layer;

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

fn main() {
    println!(
        "| shared by the threads | CPU per call, 1 thread | CPU per call, 2 threads (each) | 2 threads / 1, CPU per call: median of {RUNS} runs (lowest–highest) | calls/s, 2 threads / 1, wall clock (lowest–highest) |"
    );
    println!("|---|---|---|---|---|");

    let breaker = CircuitBreakerLayer::builder()
        .build()
        .unwrap()
        .layer(ok_service());
    row("breaker (defaults), closed, success", || {
        let mut svc = breaker.clone();
        move || {
            black_box(call_ready(&mut svc, black_box(41)).unwrap());
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
    row("retry (default budget), success", || {
        let mut svc = retry.clone();
        move || {
            black_box(call_ready(&mut svc, black_box(41)).unwrap());
        }
    });

    // The peer: tower's `Retry` over its `TpsBudget`, cloned per thread as Seawall's is.
    let tower_retry = tower::retry::Retry::new(
        TowerBudgetPolicy(Arc::new(tower::retry::budget::TpsBudget::default())),
        ok_service(),
    );
    row("tower `Retry` + `TpsBudget`, success", || {
        let mut svc = tower_retry.clone();
        move || {
            black_box(call_ready(&mut svc, black_box(41)).unwrap());
        }
    });

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
    row("shed, `Fixed(1000)`", || {
        let mut svc = fixed.clone();
        move || {
            black_box(call_ready(&mut svc, black_box(41)).unwrap());
        }
    });

    let vegas = ShedLayer::builder()
        .limit(Windowed::new(Vegas::default()))
        .build()
        .unwrap()
        .layer(ok_service());
    row("shed, `Windowed<Vegas>` (default)", || {
        let mut svc = vegas.clone();
        move || {
            black_box(call_ready(&mut svc, black_box(41)).unwrap());
        }
    });

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
