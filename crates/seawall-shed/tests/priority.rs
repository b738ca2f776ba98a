//! Figure: 3× capacity with 30% of requests critical: at least 99% of them succeed.
//! `cargo test -p seawall-shed --release --test priority -- --nocapture` prints it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use seawall_shed::{Priority, ShedLayer};
use seawall_sim::{run_paused, Capacity};
use tower::{Layer, ServiceExt};

#[derive(Clone, Copy, Debug)]
struct Req {
    priority: Priority,
}

/// 30% critical, 50% normal, 20% sheddable, by a fixed hash of the request number.
fn class(id: u64) -> Priority {
    match (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 10 {
        0..=2 => Priority::Critical,
        3..=7 => Priority::Normal,
        _ => Priority::Sheddable,
    }
}

/// Returns (sent, succeeded) per priority.
type ByPriority = fn(&Req) -> Priority;

fn run_with(layer: Option<ShedLayer<ByPriority>>) -> [(u64, u64); 3] {
    run_paused(async move {
        let upstream = upstream(Capacity::workers(WORKERS));
        let sent: Arc<[AtomicU64; 3]> = Arc::default();
        let ok: Arc<[AtomicU64; 3]> = Arc::default();
        let inner = ServiceExt::<Req>::map_err(upstream.clone(), tower::BoxError::from);
        let shed = match layer {
            Some(layer) => tower::util::BoxCloneService::new(layer.layer(inner)),
            None => tower::util::BoxCloneService::new(inner),
        };
        let counted = {
            let ok = ok.clone();
            tower::service_fn(move |req: Req| {
                let (shed, ok) = (shed.clone(), ok.clone());
                async move {
                    let result = shed.oneshot(req).await;
                    if result.is_ok() {
                        ok[req.priority as usize].fetch_add(1, Ordering::Relaxed);
                    }
                    result.map(|_| ())
                }
            })
        };
        let sent_count = sent.clone();
        load(3.0 * capacity_rps(WORKERS), 30)
            .run_with(&upstream, counted, move |id| {
                let priority = class(id);
                sent_count[priority as usize].fetch_add(1, Ordering::Relaxed);
                Req { priority }
            })
            .await;
        std::array::from_fn(|i| {
            (
                sent[i].load(Ordering::Relaxed),
                ok[i].load(Ordering::Relaxed),
            )
        })
    })
}

fn print(name: &str, r: [(u64, u64); 3]) {
    let pct = |(s, o): (u64, u64)| 100.0 * o as f64 / s.max(1) as f64;
    println!(
        "| {name} | {:.2}% | {:.2}% | {:.2}% | {} |",
        pct(r[0]),
        pct(r[1]),
        pct(r[2]),
        r.iter().map(|x| x.1).sum::<u64>()
    );
}

#[test]
fn critical_requests_succeed_at_three_times_capacity() {
    let by_priority: ByPriority = |r| r.priority;
    println!("\n3× capacity, 30% critical / 50% normal / 20% sheddable, 30 s");
    println!("| stack | critical succeeded | normal | sheddable | total succeeded |");
    println!("|---|---|---|---|---|");
    print("none, unbounded queue", run_with(None));
    let plain = ShedLayer::builder().priority(by_priority).build().unwrap();
    let without = run_with(Some(plain));
    print("Seawall shed, no priorities used", without);
    let layer = ShedLayer::builder()
        .priority(by_priority)
        .reserve(Priority::Normal, 0.2)
        .reserve(Priority::Sheddable, 0.1)
        .queue(64, Duration::from_millis(20))
        .build()
        .unwrap();
    let with = run_with(Some(layer));
    print(
        "Seawall shed, priorities: reserve 20% + 10%, queue(64, 20 ms)",
        with,
    );
    let critical = with[0].1 as f64 / with[0].0 as f64;
    assert!(critical >= 0.99, "critical success {critical:.4}");
    // Sheddable traffic goes first.
    assert!(with[2].1 as f64 / (with[2].0 as f64) < with[1].1 as f64 / (with[1].0 as f64));
}
