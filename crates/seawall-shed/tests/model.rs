//! Random sequences of arrivals, completions, cancellations and waits against the shedding
//! layer with a queue and priorities: the count in flight never exceeds the limit, a request
//! is either served, refused or cancelled, and when everything has ended no slot and no
//! waiter is left behind. Seeded, so a failure repeats.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_core::rng::Rng;
use seawall_shed::limit::Fixed;
use seawall_shed::{Priority, ShedLayer};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::{service_fn, Layer, ServiceExt};

type Finishers = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

#[derive(Clone, Copy)]
struct Req {
    id: u64,
    priority: Priority,
}

async fn one_run(seed: u64) {
    let mut rng = Rng::from_seed(seed);
    let limit = 1 + rng.below(4) as usize;
    let layer = ShedLayer::builder()
        .limit(Fixed::new(limit))
        .priority(|r: &Req| r.priority)
        .reserve(Priority::Normal, 0.25)
        .queue(
            1 + rng.below(3) as usize,
            Duration::from_millis(1 + rng.below(20)),
        )
        .codel(Duration::from_millis(2), Duration::from_millis(5))
        .build()
        .unwrap();
    let finishers: Finishers = Arc::default();
    let svc = layer.layer(service_fn({
        let finishers = finishers.clone();
        move |r: Req| {
            let (tx, rx) = oneshot::channel();
            finishers.lock().unwrap().insert(r.id, tx);
            async move {
                let _ = rx.await;
                Ok::<_, Infallible>(())
            }
        }
    }));
    let mut tasks: Vec<JoinHandle<_>> = Vec::new();
    for id in 0..200 {
        match rng.below(4) {
            0 | 1 => {
                let priority = Priority::ALL[rng.below(3) as usize];
                tasks.push(tokio::spawn(svc.clone().oneshot(Req { id, priority })));
            }
            2 => {
                // Finish a random call in progress.
                let key = {
                    let f = finishers.lock().unwrap();
                    let keys: Vec<u64> = f.keys().copied().collect();
                    (!keys.is_empty()).then(|| keys[rng.below(keys.len() as u64) as usize])
                };
                if let Some(key) = key {
                    let tx = finishers.lock().unwrap().remove(&key).unwrap();
                    let _ = tx.send(());
                }
            }
            _ => {
                if !tasks.is_empty() && rng.chance(0.3) {
                    // The caller goes away (waiting or in flight).
                    let i = rng.below(tasks.len() as u64) as usize;
                    tasks.swap_remove(i).abort();
                } else {
                    tokio::time::advance(Duration::from_millis(rng.below(10))).await;
                }
            }
        }
        tokio::task::yield_now().await;
        assert!(
            layer.in_flight() <= limit,
            "seed {seed}: {} in flight over {limit}",
            layer.in_flight()
        );
    }
    // Let everything end: finish every call as it arrives, until all callers are done.
    while tasks.iter().any(|t| !t.is_finished()) {
        let senders: Vec<_> = finishers
            .lock()
            .unwrap()
            .drain()
            .map(|(_, tx)| tx)
            .collect();
        for tx in senders {
            let _ = tx.send(());
        }
        tokio::time::advance(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
    }
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(layer.in_flight(), 0, "seed {seed}: a slot leaked");
    // Nothing waits either: with every slot free, a new request is admitted at once.
    let probe = svc.clone().oneshot(Req {
        id: 1_000,
        priority: Priority::Sheddable,
    });
    let probe = tokio::spawn(probe);
    tokio::task::yield_now().await;
    assert_eq!(
        layer.in_flight(),
        1,
        "seed {seed}: the probe was not admitted at once"
    );
    finishers
        .lock()
        .unwrap()
        .remove(&1_000)
        .unwrap()
        .send(())
        .unwrap();
    probe.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_slot_is_lost_or_exceeded_under_random_schedules() {
    for seed in 0..200 {
        one_run(seed).await;
    }
}
