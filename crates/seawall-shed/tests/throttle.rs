//! Figure: client-side throttling against a backend that can accept only part of what is
//! sent. The backend is 5 workers × log-normal 20 ms with no queue (a request that finds
//! every worker busy is refused at once), about 239 req/s; the client offers 2× and 4× that.
//! `cargo test -p seawall-shed --release --test throttle -- --nocapture` prints it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use seawall_shed::ThrottleLayer;
use seawall_sim::{run_paused, Capacity};
use tower::Layer;

/// (backend attempts, backend accepted) over a 60 s run.
fn run_backend(factor: f64, throttle: bool) -> (u64, u64) {
    run_paused(async move {
        let upstream = upstream(Capacity::workers(5).queue(0));
        let service = if throttle {
            erase(
                ThrottleLayer::builder()
                    .seed(SEED)
                    .build()
                    .unwrap()
                    .layer(upstream.clone()),
            )
        } else {
            erase(upstream.clone())
        };
        load(factor * capacity_rps(5), 60)
            .run(&upstream, service)
            .await;
        let stats = upstream.stats();
        (stats.attempts, stats.succeeded)
    })
}

#[test]
fn the_backend_sees_about_twice_what_it_accepts() {
    println!("\n| offered / backend capacity | throttle | backend attempts | accepted | attempts / accepted |");
    println!("|---|---|---|---|---|");
    for factor in [2.0, 4.0] {
        for throttle in [false, true] {
            let (attempts, accepted) = run_backend(factor, throttle);
            let ratio = attempts as f64 / accepted as f64;
            println!("| {factor}× | {throttle} | {attempts} | {accepted} | {ratio:.2} |");
            if throttle {
                assert!(
                    ratio <= 2.2,
                    "{factor}×: the backend saw {ratio:.2}× what it accepted"
                );
            } else if factor == 4.0 {
                assert!(
                    ratio > 3.0,
                    "unthrottled, the backend sees all the load: {ratio:.2}"
                );
            }
        }
    }
}
