use std::time::Duration;
use seawall_hedge::HedgeLayer;
use seawall_sim::*;
use tower::{BoxError, Layer, ServiceExt};
fn ms(n: u64) -> Duration { Duration::from_millis(n) }
#[test]
fn dbg() {
    run_paused(async move {
        let upstream = Upstream::builder()
        .latency(Latency::mixture([(0.98, Latency::uniform(ms(8), ms(12))),(0.02, Latency::uniform(ms(900), ms(1100)))]))
        .at(Duration::from_secs(30), |p| {
            p.latency(Latency::mixture([
                (0.98, Latency::uniform(ms(80), ms(120))),
                (0.02, Latency::uniform(ms(2700), ms(3300))),
            ]))
        })
        .seed(5)
        .build()
        .unwrap();
        let load = Load::builder().rate(1000.0).duration(Duration::from_secs(30)).arrivals(Arrivals::Poisson).timeout(Duration::from_secs(5)).seed(11).build().unwrap();
        let layer = HedgeLayer::default();
        let inner = ServiceExt::<Request>::map_err(upstream.clone(), BoxError::from);
        let _ = load.run(&upstream, layer.layer(inner.clone())).await;
        println!("{:?} {:?}", layer.stats(), layer.delay());
        tokio::time::sleep_until(upstream.origin() + Duration::from_secs(30)).await;
        let l2 = layer.clone();
        let h = tokio::spawn(async move { for _ in 0..20 { tokio::time::sleep(ms(250)).await; println!("{:?} {:?}", l2.delay(), l2.stats()); } });
        let s = load.run(&upstream, layer.layer(inner)).await;
        h.abort();
        for sec in &s.series { print!("{}:{}/{} p99 {} | ", sec.t, sec.upstream_attempts as i64 - sec.sent as i64, sec.sent, sec.p99_ms); }
    });
}
