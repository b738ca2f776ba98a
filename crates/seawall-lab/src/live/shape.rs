//! The figures that give a run its shape — success before, during and after the fault,
//! upstream load during it and in its worst second, time to trip and to recover — and the
//! tolerance within which a live run must agree with its simulated twin.

use std::time::Duration;

use super::drive::{Outcome, Record};
use super::schedule::Schedule;

/// After the heal, success is measured from this long on: a breaker that was open may wait
/// its open duration (1 s in the standard stack) before it probes.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// The bucket that the time to recover is read in.
pub const BUCKET: Duration = Duration::from_millis(100);

/// A bucket with at least this share of successes counts as recovered.
pub const RECOVERED: f64 = 0.9;

/// One stack's figures over one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Requests sent.
    pub requests: usize,
    /// Success rate of the requests sent before the fault.
    pub before: f64,
    /// Success rate of the requests sent during the fault.
    pub during: f64,
    /// Success rate of the requests sent from [`SETTLE`] after the heal to the end.
    pub after: f64,
    /// Calls that reached the upstream during the fault, per request sent during it.
    pub load_during: f64,
    /// The second with the highest upstream load (calls per request sent), and that load.
    pub worst: (u64, f64),
    /// From the heal to the first [`BUCKET`] of requests with at least [`RECOVERED`]
    /// successes, in seconds; `None` if none.
    pub recover_s: Option<f64>,
    /// From the fault's start to the breaker's first opening, in seconds, if it opened.
    pub trip_s: Option<f64>,
    /// The 99th percentile latency of the successes sent before the fault, ms.
    pub p99_ms: f64,
}

/// The success rate of `records` (1 when there are none: nothing failed).
fn success(records: impl Iterator<Item = Record>) -> f64 {
    let (mut n, mut ok) = (0u64, 0u64);
    for r in records {
        n += 1;
        ok += u64::from(r.outcome == Outcome::Succeeded);
    }
    if n == 0 {
        1.0
    } else {
        ok as f64 / n as f64
    }
}

/// The `q` quantile of `values`, ms (0 when empty), by nearest rank.
pub fn quantile_ms(mut values: Vec<Duration>, q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1].as_secs_f64() * 1000.0
}

impl Figures {
    /// Measures one run of `schedule`: its requests, the times calls reached the upstream,
    /// and the times the breaker opened (all from the start of the run).
    pub fn measure(
        schedule: &Schedule,
        records: &[Record],
        attempts: &[Duration],
        opened: &[Duration],
    ) -> Self {
        let (from, to) = schedule.fault;
        let within = |lo: Duration, hi: Duration| {
            records
                .iter()
                .copied()
                .filter(move |r| r.sent >= lo && r.sent < hi)
        };
        let sent_during = within(from, to).count();
        let reached = attempts.iter().filter(|&&a| a >= from && a < to).count();
        let mut recover_s = None;
        let mut bucket = to;
        while bucket < schedule.duration {
            let sent: Vec<Record> = within(bucket, bucket + BUCKET).collect();
            if !sent.is_empty() && success(sent.into_iter()) >= RECOVERED {
                recover_s = Some((bucket - to).as_secs_f64());
                break;
            }
            bucket += BUCKET;
        }
        let healthy = within(Duration::ZERO, from)
            .filter(|r| r.outcome == Outcome::Succeeded)
            .map(|r| r.latency())
            .collect();
        Self {
            requests: records.len(),
            before: success(within(Duration::ZERO, from)),
            during: success(within(from, to)),
            after: success(within(to + SETTLE, schedule.duration)),
            load_during: reached as f64 / sent_during.max(1) as f64,
            worst: worst_second(records, attempts, schedule.duration),
            recover_s,
            trip_s: opened
                .iter()
                .find(|&&t| t >= from)
                .map(|&t| (t - from).as_secs_f64()),
            p99_ms: quantile_ms(healthy, 0.99),
        }
    }
}

/// The second with the most upstream calls per request sent in it (the first of equals).
fn worst_second(records: &[Record], attempts: &[Duration], duration: Duration) -> (u64, f64) {
    let seconds = duration.as_secs().max(1) as usize;
    let mut sent = vec![0u64; seconds];
    let mut reached = vec![0u64; seconds];
    for r in records {
        if let Some(n) = sent.get_mut(r.sent.as_secs() as usize) {
            *n += 1;
        }
    }
    for a in attempts {
        if let Some(n) = reached.get_mut(a.as_secs() as usize) {
            *n += 1;
        }
    }
    let mut worst = (0, 0.0);
    for (t, (&s, &r)) in sent.iter().zip(&reached).enumerate() {
        let load = r as f64 / s.max(1) as f64;
        if load > worst.1 {
            worst = (t as u64, load);
        }
    }
    worst
}

/// How far a live figure may be from the simulated one (see `docs/lab.md`, "Live mode").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Success rates (before, during, after the fault), absolute.
    pub success: f64,
    /// Upstream load during the fault, calls per request, absolute.
    pub load_during: f64,
    /// Upstream load in the worst second, absolute.
    pub worst_load: f64,
    /// Time to recover, seconds: where in its open/probe cycle the breaker is at the heal
    /// is up to timing, so up to one open duration apart.
    pub recover_s: f64,
    /// Time to trip, seconds.
    pub trip_s: f64,
    /// The p99 of healthy successes: live may be this much faster (ms)…
    pub p99_faster_ms: f64,
    /// …or this much slower (ms): a real network and a shared CPU only add time.
    pub p99_slower_ms: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            success: 0.05,
            load_during: 0.10,
            worst_load: 0.25,
            recover_s: 1.0,
            trip_s: 0.3,
            p99_faster_ms: 5.0,
            p99_slower_ms: 20.0,
        }
    }
}

impl Tolerance {
    /// What in `live` is outside this tolerance of `sim`, one line each (empty: agrees).
    pub fn compare(&self, stack: &str, live: &Figures, sim: &Figures) -> Vec<String> {
        let (s, l, w) = (self.success, self.load_during, self.worst_load);
        let (faster, slower) = (self.p99_faster_ms, self.p99_slower_ms);
        [
            within("success before the fault", live.before, sim.before, s, s),
            within("success during the fault", live.during, sim.during, s, s),
            within("success after the heal", live.after, sim.after, s, s),
            within("load during the fault", live.load_during, sim.load_during, l, l),
            within("worst-second load", live.worst.1, sim.worst.1, w, w),
            within("healthy p99 (ms)", live.p99_ms, sim.p99_ms, faster, slower),
            both("time to recover (s)", live.recover_s, sim.recover_s, self.recover_s),
            both("time to trip (s)", live.trip_s, sim.trip_s, self.trip_s),
        ]
        .into_iter()
        .flatten()
        .map(|line| format!("{stack}: {line}"))
        .collect()
    }
}

/// Why `live` is not within `below` under and `above` over `sim`, if it is not.
fn within(what: &str, live: f64, sim: f64, below: f64, above: f64) -> Option<String> {
    let (lo, hi) = (sim - below, sim + above);
    (!(live >= lo && live <= hi)).then(|| {
        format!("{what} live {live:.3}, simulated {sim:.3}, allowed {lo:.3}..={hi:.3}")
    })
}

/// As [`within`], for times that may be missing: both must be there, or neither.
fn both(what: &str, live: Option<f64>, sim: Option<f64>, by: f64) -> Option<String> {
    match (live, sim) {
        (Some(l), Some(s)) => within(what, l, s, by, by),
        (None, None) => None,
        (l, s) => Some(format!(
            "{what} live {}, simulated {}",
            seconds(l),
            seconds(s)
        )),
    }
}

/// `Some(1.234)` as `1.23 s`, `None` as `never`.
pub fn seconds(t: Option<f64>) -> String {
    t.map_or_else(|| "never".to_owned(), |t| format!("{t:.2} s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A run of 6 s (outage 2–3 s) at 100 req/s whose requests take 10 ms and fail from
    /// the outage until `heals_at`; the upstream is reached `calls` times per request.
    fn run(heals_at: u64, calls: usize) -> (Schedule, Vec<Record>, Vec<Duration>) {
        let schedule = Schedule::outage(Duration::from_secs(6));
        let mut records = Vec::new();
        let mut attempts = Vec::new();
        for i in 0..600 {
            let sent = ms(i * 10);
            let failing = (2000..heals_at).contains(&(i * 10));
            records.push(Record {
                sent,
                done: sent + ms(10),
                outcome: if failing {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                },
            });
            let n = if failing { calls } else { 1 };
            attempts.extend(std::iter::repeat_n(sent, n));
        }
        (schedule, records, attempts)
    }

    #[test]
    fn figures_read_the_fault_window() {
        let (schedule, records, attempts) = run(3700, 2);
        let f = Figures::measure(&schedule, &records, &attempts, &[ms(2150)]);
        assert_eq!(f.requests, 600);
        assert_eq!((f.before, f.during, f.after), (1.0, 0.0, 1.0));
        assert_eq!(f.load_during, 2.0);
        assert_eq!(f.worst, (2, 2.0));
        let recover = f.recover_s.unwrap();
        assert!((recover - 0.7).abs() < 1e-9, "{recover}");
        let trip = f.trip_s.unwrap();
        assert!((trip - 0.15).abs() < 1e-9, "{trip}");
        assert!((f.p99_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn the_same_shape_agrees_and_a_different_one_does_not() {
        let (schedule, records, attempts) = run(3000, 1);
        let sim = Figures::measure(&schedule, &records, &attempts, &[]);
        let tolerance = Tolerance::default();
        assert!(tolerance.compare("bare", &sim, &sim).is_empty());

        // Retries doubling the load during the outage are outside the tolerance…
        let (_, records, attempts) = run(3000, 2);
        let doubled = Figures::measure(&schedule, &records, &attempts, &[]);
        let out = tolerance.compare("bare", &doubled, &sim);
        assert!(out.iter().any(|l| l.contains("load during")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("worst-second")), "{out:?}");

        // …and so is an upstream that heals 2 s late, or a breaker that trips in one
        // run only.
        let (_, records, attempts) = run(5000, 1);
        let late = Figures::measure(&schedule, &records, &attempts, &[ms(2100)]);
        let out = tolerance.compare("stack", &late, &sim);
        assert!(out.iter().any(|l| l.contains("time to recover")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("time to trip")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("after the heal")), "{out:?}");
        assert!(!out.iter().any(|l| l.contains("before")), "{out:?}");
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(quantile_ms(values.clone(), 0.99), 99.0);
        assert_eq!(quantile_ms(values, 1.0), 100.0);
        assert_eq!(quantile_ms(Vec::new(), 0.99), 0.0);
    }
}
