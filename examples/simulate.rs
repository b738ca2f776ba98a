//! Simulates a dependency that browns out and shows what a client with a 500 ms timeout
//! sees, second by second. The dependency never hears that a client gave up
//! (`Abandonment::Never`, like an HTTP/1.1 server): try `Abandonment::Immediately` to see
//! how much sooner it recovers. Run with `cargo run --example simulate --features sim`.

use std::time::Duration;

use seawall::sim::{run_paused, Abandonment, Arrivals, Capacity, Latency, Load, Upstream};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let summary = run_paused(async {
        // 20 workers at ~25 ms: about 800 requests/s of capacity. From 5 s to 10 s the
        // dependency slows to ~100 ms (a brownout), cutting capacity to about 200/s.
        let upstream = Upstream::builder()
            .latency(Latency::log_normal(Duration::from_millis(25), 0.4))
            .capacity(Capacity::workers(20).queue(500))
            .abandonment(Abandonment::Never)
            .seed(42)
            .at(Duration::from_secs(5), |p| {
                p.latency(Latency::log_normal(Duration::from_millis(100), 0.4))
            })
            .at(Duration::from_secs(10), |p| {
                p.latency(Latency::log_normal(Duration::from_millis(25), 0.4))
            })
            .build()?;
        let load = Load::builder()
            .rate(400.0)
            .duration(Duration::from_secs(15))
            .arrivals(Arrivals::Poisson)
            .timeout(Duration::from_millis(500))
            .seed(42)
            .build()?;
        Ok::<_, Box<dyn std::error::Error>>(load.run(&upstream, upstream.clone()).await)
    })?;

    println!("second  sent  ok    failed  timed-out  p99 ms");
    for s in &summary.series {
        println!(
            "{:>6}  {:>4}  {:>4}  {:>6}  {:>9}  {:>6.1}",
            s.t, s.sent, s.succeeded, s.failed, s.timed_out, s.p99_ms
        );
    }
    println!(
        "\nsuccess rate {:.1}%, p99 {:.1} ms, upstream load {:.2}x",
        summary.success_rate * 100.0,
        summary.latency_ms.p99,
        summary.amplification
    );
    Ok(())
}
