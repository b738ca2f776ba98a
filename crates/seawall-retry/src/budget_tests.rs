use super::*;
use proptest::prelude::*;
use std::sync::Arc;

fn budget(ratio: f64, floor: u32) -> RetryBudget {
    RetryBudget::builder()
        .percent_can_retry(ratio)
        .min_per_second(floor)
        .build()
        .unwrap()
}

fn drain(b: &RetryBudget) -> u64 {
    let mut n = 0;
    while b.try_withdraw() {
        n += 1;
    }
    n
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn bad_configs_name_the_field() {
    for (builder, field) in [
        (
            RetryBudget::builder().percent_can_retry(1.5),
            "percent_can_retry",
        ),
        (
            RetryBudget::builder().percent_can_retry(-0.1),
            "percent_can_retry",
        ),
        (
            RetryBudget::builder().percent_can_retry(f64::NAN),
            "percent_can_retry",
        ),
        (
            RetryBudget::builder().min_per_second(2_000_000),
            "min_per_second",
        ),
    ] {
        let e = builder.build().unwrap_err();
        assert!(e.to_string().starts_with(field), "{e}");
    }
}

#[tokio::test(start_paused = true)]
async fn ratios_are_exact_where_a_truncated_divisor_is_not() {
    // tower's TpsBudget withdraws `(1 / 0.21) as isize` = 4 per retry: 25 retries per 100.
    for (ratio, per_10_000) in [
        (0.21, 2100),
        (0.2, 2000),
        (0.1, 1000),
        (0.33, 3300),
        (0.999, 9990),
    ] {
        let b = budget(ratio, 0);
        for _ in 0..10_000 {
            b.deposit();
        }
        assert_eq!(drain(&b), per_10_000, "ratio {ratio}");
    }
    let none = budget(0.0, 0);
    none.deposit();
    assert!(!none.try_withdraw(), "a zero budget allows nothing");
    let all = budget(1.0, 0);
    for _ in 0..7 {
        all.deposit();
    }
    assert_eq!(drain(&all), 7);
}

#[tokio::test(start_paused = true)]
async fn healthy_seconds_are_not_saved_for_an_outage() {
    // Ten healthy seconds at 1,000 requests/s, no retries.
    let b = RetryBudget::default();
    for i in 0..10_000 {
        if i > 0 {
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        b.deposit();
    }
    // The old 10-second budget allowed 10 × 10 + 20% × 10,000 = 2,100 retries here.
    assert_eq!(
        b.remaining(),
        210,
        "20% of the last second's 1,000, plus 10"
    );
    assert_eq!(drain(&b), 210);
}

#[tokio::test(start_paused = true)]
async fn the_floor_is_per_second_and_refills_as_withdrawals_expire() {
    let b = budget(0.2, 10);
    assert_eq!(b.remaining(), 10, "10 per second");
    assert_eq!(drain(&b), 10);
    assert_eq!(b.remaining(), 0);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(b.remaining(), 10, "the withdrawals have left the window");
    for _ in 0..50 {
        b.deposit();
    }
    assert_eq!(b.remaining(), 20);
    assert_eq!(b.refused(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refund_gives_the_withdrawal_back_until_it_leaves_the_window() {
    let b = budget(0.0, 2);
    let first = b.withdraw().unwrap();
    tokio::time::advance(ms(50)).await;
    let second = b.withdraw().unwrap();
    assert_eq!(b.remaining(), 0);
    tokio::time::advance(ms(30)).await;
    b.refund(first);
    assert_eq!(b.remaining(), 1, "the retry succeeded: it costs nothing");
    assert!(b.try_withdraw());
    assert_eq!(b.remaining(), 0);
    // The withdrawal's bucket has left the window: the refund must not make room twice.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(b.remaining(), 2);
    b.refund(second);
    assert_eq!(
        b.remaining(),
        2,
        "an expired withdrawal has nothing to give back"
    );
    assert_eq!((b.withdrawals(), b.refunds(), b.refused()), (3, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn counters_count_deposits_withdrawals_refunds_and_refusals() {
    let b = budget(0.5, 0);
    for _ in 0..4 {
        b.deposit();
    }
    let w = b.withdraw().unwrap();
    assert!(b.try_withdraw());
    assert!(b.withdraw().is_none());
    assert!(!b.has_room());
    b.refund(w);
    assert_eq!(
        (b.deposits(), b.withdrawals(), b.refunds(), b.refused()),
        (4, 2, 1, 2)
    );
    let debug = format!("{b:?}");
    assert!(debug.contains("refunds: 1"), "{debug}");
}

#[tokio::test(start_paused = true)]
async fn default_is_the_builders_default() {
    let d = RetryBudget::default();
    let b = RetryBudget::builder().build().unwrap();
    assert_eq!((d.ratio, d.floor), (b.ratio, b.floor));
    assert_eq!(d.remaining(), 10);
}

#[test]
fn the_three_windows_share_one_origin() {
    // Real clock: three separate readings of it would differ by nanoseconds.
    let b = budget(0.2, 10);
    assert_eq!(b.deposits.origin(), Some(b.withdrawals.origin()));
    assert_eq!(b.deposits.origin(), Some(b.returned.origin()));
}

#[tokio::test(start_paused = true)]
async fn has_room_peeks_and_counts_a_refusal() {
    let b = budget(0.0, 0);
    b.deposit();
    assert!(!b.has_room());
    assert_eq!(b.refused(), 1);
    let b = budget(1.0, 0);
    b.deposit();
    assert!(b.has_room());
    assert!(b.has_room(), "a peek takes nothing");
    assert!(b.try_withdraw());
    assert!(!b.has_room());
}

#[test]
fn concurrent_withdrawals_never_overdraw() {
    // Real threads, real clock: should the run outlast the deposits' window, fewer
    // retries are allowed, never more.
    let b = Arc::new(budget(0.2, 0));
    for _ in 0..10_000 {
        b.deposit();
    }
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || (0..2_000).filter(|_| b.try_withdraw()).count() as u64)
        })
        .collect();
    let concurrent: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(
        concurrent <= 2_000,
        "overdrawn: {concurrent} retries from a budget of 2000"
    );
}

proptest! {
    /// For any ratio and floor, the retries allowed in one second are exactly
    /// floor(floor + ratio × deposits), computed in exact rationals.
    #[test]
    fn matches_exact_rational_arithmetic(per_million in 0u64..=1_000_000, floor in 0u32..20, deposits in 0u64..5_000) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let b = budget(per_million as f64 / 1e6, floor);
            for _ in 0..deposits {
                b.deposit();
            }
            let expected = u64::from(floor) + per_million * deposits / 1_000_000;
            prop_assert_eq!(drain(&b), expected);
            Ok(())
        })?;
    }
}

#[cfg(feature = "metrics")]
mod metrics_counters {
    use super::*;
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    /// Keeps every counter by name and labels, and every value a gauge is set to.
    #[derive(Default)]
    struct Counters(Mutex<BTreeMap<String, Arc<AtomicU64>>>, Arc<Sets>);

    /// The values set on `seawall_retry_budget_remaining`, in order.
    #[derive(Default)]
    struct Sets(Mutex<Vec<f64>>);

    impl metrics::GaugeFn for Sets {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, value: f64) {
            self.0.lock().unwrap().push(value);
        }
    }

    impl Recorder for Counters {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let counter = self.0.lock().unwrap().entry(name).or_default().clone();
            Counter::from_arc(counter)
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            if key.name() == "seawall_retry_budget_remaining" {
                Gauge::from_arc(self.1.clone())
            } else {
                Gauge::noop()
            }
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_counters_are_metrics_labelled_with_the_budgets_name() {
        let recorder = Counters::default();
        let b = metrics::with_local_recorder(&recorder, || {
            RetryBudget::builder()
                .percent_can_retry(0.5)
                .min_per_second(0)
                .name("payments")
                .build()
                .unwrap()
        });
        let sets = || recorder.1 .0.lock().unwrap().clone();
        assert_eq!(sets(), [0.0], "the floor, when built");
        for _ in 0..4 {
            b.deposit();
        }
        assert_eq!(sets(), [0.0], "deposits do not set the gauge");
        let w = b.withdraw().unwrap();
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        // Two allowed: one left after the first retry, none after the second or the refusal.
        assert_eq!(sets(), [0.0, 1.0, 0.0, 0.0]);
        b.refund(w);
        let read = |what: &str| {
            let name = format!("seawall_retry_budget_{what}_total{{name=payments}}");
            recorder.0.lock().unwrap()[&name].load(Ordering::Relaxed)
        };
        assert_eq!(
            [
                read("deposits"),
                read("withdrawals"),
                read("refunds"),
                read("refusals")
            ],
            [4, 2, 1, 1]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_coarse_clock_counts_deposits_like_the_exact_one_once_it_has_ticked() {
    let clock = CoarseClock::start(ms(10)).unwrap();
    let b = RetryBudget::builder()
        .percent_can_retry(0.2)
        .min_per_second(0)
        .coarse_clock(clock)
        .build()
        .unwrap();
    tokio::time::sleep(ms(500)).await;
    for _ in 0..100 {
        b.deposit();
    }
    assert_eq!(drain(&b), 20);
    // Half a second on, the deposits are still in the window; a second on, they have left.
    tokio::time::sleep(ms(499)).await;
    assert_eq!(b.remaining(), 0, "the 20 retries were spent");
    tokio::time::sleep(ms(501)).await;
    assert_eq!((b.deposits(), b.withdrawals(), b.refused()), (100, 20, 1));
}

#[tokio::test(start_paused = true)]
async fn a_coarse_clock_stamps_deposits_early_so_they_leave_early_never_late() {
    let exact = budget(0.2, 0);
    let coarse = RetryBudget::builder()
        .percent_can_retry(0.2)
        .min_per_second(0)
        .coarse_clock(CoarseClock::start(ms(10)).unwrap())
        .build()
        .unwrap();
    // Time jumps without the ticker running: the coarse clock still reads 0 ms.
    tokio::time::advance(ms(950)).await;
    for _ in 0..100 {
        exact.deposit();
        coarse.deposit();
    }
    tokio::time::advance(ms(60)).await;
    // At 1,010 ms the exact budget counts the deposits made at 950 ms; the coarse one
    // stamped them at 0 ms and they have left its window: fewer retries, not more.
    assert_eq!(drain(&exact), 20);
    assert_eq!(drain(&coarse), 0);
}
