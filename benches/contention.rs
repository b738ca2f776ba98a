//! Contention: one shared breaker, retry budget, shedding limiter and keyed table, called
//! from one thread and then from two at once; throughput relative to one thread.
//!
//! `cargo bench --bench contention --features retry,breaker,shed` runs it (about 12 s). A plain
//! binary rather than a divan bench: each case runs for a fixed time on every thread and
//! counts the calls, so the figure is calls per second in all, not time per call.
//!
//! Two threads on a 2-core machine can at best double the throughput; anything below 1×
//! means the threads slow each other down more than the second core helps (a shared cache
//! line bouncing between cores). Run on a quiet machine: another process on either core
//! lowers the two-thread figure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use seawall::breaker::CircuitBreakerLayer;
use seawall::core::keyed::{KeyedTable, Retain};
use seawall::retry::{RetryBudget, RetryLayer};
use seawall::shed::limit::{Fixed, Vegas, Windowed};
use seawall::shed::ShedLayer;
use tower::Layer;

mod common;

use common::{call_ready, ok_service};

/// How long each case runs at each thread count.
const RUN: Duration = Duration::from_millis(100);
/// Alternating rounds per case; the best of each side is kept.
const ROUNDS: usize = 8;

/// Runs `work` on `threads` threads at once for [`RUN`] and returns the calls per second,
/// summed over the threads. `work` makes each thread's own closure (a clone of a shared
/// service, or a handle to a shared value) before the clock starts.
fn throughput<F, W>(threads: usize, make: &F) -> f64
where
    F: Fn() -> W + Sync,
    W: FnMut(),
{
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let calls: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut work = make();
                    start.wait();
                    let mut n = 0u64;
                    // Check the stop flag every 256 calls, so that it costs nothing.
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            work();
                        }
                        n += 256;
                    }
                    n
                })
            })
            .collect();
        start.wait();
        // Sleeping, not spinning, leaves both cores to the threads measured. (No runtime
        // here for tokio's sleep, and no paused time to respect.)
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    calls as f64 / RUN.as_secs_f64()
}

/// One row: the case at 1 and 2 threads, [`ROUNDS`] times each alternately, keeping the
/// best run of each (the others were disturbed by something else on the machine).
fn row<F, W>(name: &str, make: F)
where
    F: Fn() -> W + Sync,
    W: FnMut(),
{
    let mut one = 0f64;
    let mut two = 0f64;
    for _ in 0..ROUNDS {
        one = one.max(throughput(1, &make));
        two = two.max(throughput(2, &make));
    }
    println!(
        "| {name} | {:.1} M/s ({:.1} ns/call) | {:.1} M/s | {:.2}× |",
        one / 1e6,
        1e9 / one,
        two / 1e6,
        two / one
    );
}

struct Entry;
impl Retain for Entry {}

fn main() {
    println!("| shared by the threads | 1 thread | 2 threads | 2 threads / 1 |");
    println!("|---|---|---|---|");

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
    row("`RetryBudget::deposit`", || {
        let budget = Arc::clone(&budget);
        move || budget.deposit()
    });

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
    let next = std::sync::atomic::AtomicU64::new(0);
    row("`KeyedTable::get`, 64 keys", || {
        let table = Arc::clone(&table);
        let mut key = next.fetch_add(32, Ordering::Relaxed);
        move || {
            key = (key + 1) % 64;
            black_box(table.get(black_box(&key)));
        }
    });
}
