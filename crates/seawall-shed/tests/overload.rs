//! Figures: offered load at 2× and 5× capacity, each adaptive limit at its defaults beside
//! the baselines, in paused time. `cargo test -p seawall-shed --release --test overload -- --nocapture`
//! prints the table.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use seawall_shed::limit::{Aimd, Fixed, Gradient2, GradientController, Limit, Vegas, Windowed};
use seawall_shed::ShedLayer;
use seawall_sim::{Capacity, Summary};
use tower::{Layer, ServiceBuilder};

const SECONDS: u64 = 30;
/// Figures exclude the first seconds, while a limit learns.
const WARMUP: u64 = 5;

fn shed(limit: impl Limit) -> impl FnOnce(seawall_sim::Upstream) -> Svc {
    move |upstream| {
        let layer = ShedLayer::builder().limit(limit).build().unwrap();
        erase(layer.layer(upstream))
    }
}

fn row(name: &str, s: &Summary, capacity: f64) -> (f64, f64) {
    let share = goodput_share(s, capacity, WARMUP);
    let worst = worst_goodput_share(s, capacity, WARMUP);
    let p99 = s.success_latency_ms.p99;
    let worst_p99 = s
        .series
        .iter()
        .filter(|x| x.t >= WARMUP && (x.t as f64) < s.duration_s)
        .map(|x| x.p99_ms)
        .fold(0.0, f64::max);
    println!(
        "| {name} | {:.1}% | {:.1}% | {p99:.1} | {worst_p99:.1} | {} | {} |",
        share * 100.0,
        worst * 100.0,
        s.failed,
        s.timed_out
    );
    (share, p99)
}

fn figures(factor: f64) -> Vec<(&'static str, f64, f64)> {
    let capacity = capacity_rps(WORKERS);
    let rate = capacity * factor;
    let unbounded = || upstream(Capacity::workers(WORKERS));
    let unloaded = run(unbounded, capacity * 0.5, SECONDS, erase);
    println!(
        "\n{factor}× capacity ({rate:.0} req/s offered, capacity {capacity:.0} req/s); unloaded p99 {:.1} ms",
        unloaded.success_latency_ms.p99
    );
    println!("| stack | goodput / capacity | worst second | accepted p99 (ms) | worst second p99 | failed | timed out |");
    println!("|---|---|---|---|---|---|---|");
    let mut out = vec![("unloaded", 1.0, unloaded.success_latency_ms.p99)];
    let mut add = |name: &'static str, s: Summary| {
        let (share, p99) = row(name, &s, capacity);
        out.push((name, share, p99));
    };
    add(
        "none, unbounded queue",
        run(unbounded, rate, SECONDS, erase),
    );
    add(
        "none, queue(40)",
        run(
            || upstream(Capacity::workers(WORKERS).queue(40)),
            rate,
            SECONDS,
            erase,
        ),
    );
    for n in [20, 25, 30, 40] {
        let name: &'static str =
            Box::leak(format!("tower ConcurrencyLimit({n}) + LoadShed").into_boxed_str());
        add(
            name,
            run(unbounded, rate, SECONDS, move |u| {
                erase(
                    ServiceBuilder::new()
                        .load_shed()
                        .concurrency_limit(n)
                        .service(u),
                )
            }),
        );
    }
    add(
        "Seawall Fixed(25)",
        run(unbounded, rate, SECONDS, shed(Fixed::new(25))),
    );
    add(
        "Seawall AIMD",
        run(unbounded, rate, SECONDS, shed(Aimd::default())),
    );
    add(
        "Seawall Vegas",
        run(unbounded, rate, SECONDS, shed(Vegas::default())),
    );
    add(
        "Seawall Windowed<Vegas>",
        run(
            unbounded,
            rate,
            SECONDS,
            shed(Windowed::new(Vegas::default())),
        ),
    );
    add(
        "Seawall Windowed<Gradient2>",
        run(
            unbounded,
            rate,
            SECONDS,
            shed(Windowed::new(Gradient2::default())),
        ),
    );
    add(
        "Seawall Gradient2",
        run(unbounded, rate, SECONDS, shed(Gradient2::default())),
    );
    add(
        "Seawall Envoy gradient",
        run(
            unbounded,
            rate,
            SECONDS,
            shed(GradientController::default()),
        ),
    );
    out
}

fn check(rows: &[(&'static str, f64, f64)]) {
    let unloaded_p99 = rows[0].2;
    let get = |name: &str| rows.iter().find(|r| r.0 == name).copied().unwrap();
    // The baselines: an unbounded queue collapses, a bounded one holds goodput.
    assert!(get("none, unbounded queue").1 < 0.05);
    assert!(get("none, queue(40)").1 > 0.95);
    // The bar: each adaptive limit at its defaults turns >= 95% of capacity into goodput
    // with accepted p99 <= 1.5x the unloaded p99.
    for name in [
        "Seawall Windowed<Vegas>",
        "Seawall Windowed<Gradient2>",
        "Seawall Envoy gradient",
    ] {
        let (_, share, p99) = get(name);
        assert!(share >= 0.95, "{name}: goodput {share:.3} of capacity");
        assert!(
            p99 <= 1.5 * unloaded_p99,
            "{name}: p99 {p99} vs unloaded {unloaded_p99}"
        );
    }
    // AIMD learns only from drops, and this server never drops: goodput holds, latency
    // climbs to what its maximum limit (200) queues. Gradient2 fed every sample drifts up.
    let (_, aimd_share, aimd_p99) = get("Seawall AIMD");
    assert!(aimd_share >= 0.95 && aimd_p99 > 1.5 * unloaded_p99);
    // Vegas fed every sample mistakes latency noise for a queue and holds the limit low.
    assert!(get("Seawall Vegas").1 < 0.5);
}

#[test]
fn two_times_capacity() {
    check(&figures(2.0));
}

#[test]
fn five_times_capacity() {
    check(&figures(5.0));
}
