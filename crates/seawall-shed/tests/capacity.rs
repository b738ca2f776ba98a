//! Figures: capacity halves or doubles mid-run under overload; each adaptive limit must be
//! back at >= 90% of the new capacity within 10 s. A static limit tuned for the old capacity
//! is measured beside them.
//! `cargo test -p seawall-shed --release --test capacity -- --nocapture` prints the table.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use seawall_shed::limit::Fixed;
use seawall_sim::{Abandonment, Capacity, Summary, Upstream};

const SECONDS: u64 = 40;
const STEP: u64 = 20;

fn stepped(before: usize, after: usize) -> impl Fn() -> Upstream + Copy {
    move || {
        Upstream::builder()
            .latency(latency())
            .capacity(Capacity::workers(before))
            .abandonment(Abandonment::Never)
            .seed(SEED)
            .at(Duration::from_secs(STEP), |p| {
                p.capacity(Capacity::workers(after))
            })
            .build()
            .unwrap()
    }
}

/// Seconds from the step until goodput stays at >= 90% of the new capacity to the end.
fn recovery(s: &Summary, capacity: f64) -> Option<u64> {
    let ok = |t: u64| s.series[t as usize].succeeded as f64 >= 0.9 * capacity;
    (STEP..SECONDS)
        .find(|&from| (from..SECONDS).all(ok))
        .map(|from| from - STEP)
}

/// (share of the new capacity from 10 s after the step to the end, worst second there, p99 there)
fn after_step(s: &Summary, capacity: f64) -> (f64, f64, f64) {
    let from = STEP + 10;
    let p99 = s
        .series
        .iter()
        .filter(|x| x.t >= from && x.t < SECONDS)
        .map(|x| x.p99_ms)
        .fold(0.0, f64::max);
    (
        goodput_share(s, capacity, from),
        worst_goodput_share(s, capacity, from),
        p99,
    )
}

fn figures(before: usize, after: usize) -> Vec<(&'static str, f64, f64, f64)> {
    let new_capacity = capacity_rps(after);
    let rate = 1.5 * capacity_rps(before.max(after));
    println!(
        "\n{before} -> {after} workers at {STEP} s, {rate:.0} req/s offered; new capacity {new_capacity:.0} req/s; seconds {}..{SECONDS}",
        STEP + 10
    );
    println!("| stack | goodput / new capacity | worst second | worst second's p99 (ms) | at >= 90% from (s after the step) |");
    println!("|---|---|---|---|---|");
    let upstream = stepped(before, after);
    let mut rows = Vec::new();
    type Build = Box<dyn FnOnce(Upstream) -> Svc>;
    let mut stacks: Vec<(&'static str, Build)> = vec![
        (
            "Seawall Fixed(25) (tuned for 20 workers)",
            Box::new(|u| shed(Fixed::new(25), u)),
        ),
        (
            "Seawall Fixed(50) (tuned for 40 workers)",
            Box::new(|u| shed(Fixed::new(50), u)),
        ),
    ];
    for (name, stack) in adaptive() {
        stacks.push((name, Box::new(stack)));
    }
    for (name, stack) in stacks {
        let s = run(upstream, rate, SECONDS, stack);
        let (share, worst, p99) = after_step(&s, new_capacity);
        let back = recovery(&s, new_capacity);
        let back_text = back.map_or("never".to_string(), |t| t.to_string());
        println!(
            "| {name} | {:.1}% | {:.1}% | {p99:.1} | {back_text} |",
            share * 100.0,
            worst * 100.0
        );
        // The third figure is the seconds to recover (never: infinity).
        rows.push((name, share, back.map_or(f64::INFINITY, |t| t as f64), p99));
    }
    rows
}

#[test]
fn capacity_halves() {
    let rows = figures(40, 20);
    for (name, share, back, p99) in &rows[2..] {
        assert!(*share >= 0.9, "{name}: {share:.3} of the new capacity");
        assert!(
            *back <= 10.0,
            "{name}: at 90% of the new capacity only {back} s after the step"
        );
        assert!(*p99 < 100.0, "{name}: accepted p99 {p99} ms after the step");
    }
    // The static limit tuned for 40 workers queues behind 20: its latency doubles.
    assert!(rows[1].3 > rows[2].3);
}

#[test]
fn capacity_doubles() {
    let rows = figures(20, 40);
    for (name, share, back, _) in &rows[2..] {
        assert!(*share >= 0.9, "{name}: {share:.3} of the new capacity");
        assert!(
            *back <= 10.0,
            "{name}: at 90% of the new capacity only {back} s after the step"
        );
    }
    // The static limit tuned for 20 workers stays near the old capacity.
    assert!(rows[0].1 < 0.7, "Fixed(25) reached {:.3}", rows[0].1);
}
