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
    /// Success rate of the requests sent before the fault (`None`: none were).
    pub before: Option<f64>,
    /// Success rate of the requests sent during the fault.
    pub during: Option<f64>,
    /// Success rate of the requests sent from [`SETTLE`] after the heal to the end.
    pub after: Option<f64>,
    /// Calls that reached the upstream during the fault, per request sent during it.
    pub load_during: Option<f64>,
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

/// The success rate of `records`, if there are any.
fn success(records: impl Iterator<Item = Record>) -> Option<f64> {
    let (mut n, mut ok) = (0u64, 0u64);
    for r in records {
        n += 1;
        ok += u64::from(r.outcome == Outcome::Succeeded);
    }
    (n > 0).then(|| ok as f64 / n as f64)
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
    /// Measures one run of `schedule` up to `end` (its duration, or when it was cut
    /// short): its requests, the times calls reached the upstream, and the times the
    /// breaker opened (all from the start of the run).
    pub fn measure(
        schedule: &Schedule,
        end: Duration,
        records: &[Record],
        attempts: &[Duration],
        opened: &[Duration],
    ) -> Self {
        let end = end.min(schedule.duration);
        let records: Vec<Record> = records.iter().filter(|r| r.sent < end).copied().collect();
        let attempts: Vec<Duration> = attempts.iter().filter(|&&a| a < end).copied().collect();
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
        while bucket < end {
            if success(within(bucket, bucket + BUCKET)).is_some_and(|s| s >= RECOVERED) {
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
            after: success(within(to + SETTLE, end)),
            load_during: (sent_during > 0).then(|| reached as f64 / sent_during as f64),
            worst: worst_second(&records, &attempts, end),
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
    /// …or this much slower (ms): real sockets and timers on a shared CPU only add time, and
    /// how much depends on what else the machine runs (+2 to +9 ms quiet, up to +57 ms
    /// measured beside a build);
    /// the bound catches an upstream whose slow calls leak into its healthy phase.
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
            p99_slower_ms: 200.0,
        }
    }
}

impl Tolerance {
    /// What in `live` is outside this tolerance of `sim`, one line each (empty: agrees).
    pub fn compare(&self, stack: &str, live: &Figures, sim: &Figures) -> Vec<String> {
        let (s, l, w) = (self.success, self.load_during, self.worst_load);
        let (faster, slower) = (self.p99_faster_ms, self.p99_slower_ms);
        [
            both("success before the fault", live.before, sim.before, s),
            both("success during the fault", live.during, sim.during, s),
            both("success after the heal", live.after, sim.after, s),
            both(
                "load during the fault",
                live.load_during,
                sim.load_during,
                l,
            ),
            within("worst-second load", live.worst.1, sim.worst.1, w, w),
            within("healthy p99 (ms)", live.p99_ms, sim.p99_ms, faster, slower),
            both(
                "time to recover (s)",
                live.recover_s,
                sim.recover_s,
                self.recover_s,
            ),
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
    (!(live >= lo && live <= hi))
        .then(|| format!("{what} live {live:.3}, simulated {sim:.3}, allowed {lo:.3}..={hi:.3}"))
}

/// As [`within`] (`by` either way), for figures that may be missing: both must be there,
/// or neither.
fn both(what: &str, live: Option<f64>, sim: Option<f64>, by: f64) -> Option<String> {
    match (live, sim) {
        (Some(l), Some(s)) => within(what, l, s, by, by),
        (None, None) => None,
        (l, s) => Some(format!(
            "{what} live {}, simulated {}",
            or_none(l),
            or_none(s)
        )),
    }
}

fn or_none(x: Option<f64>) -> String {
    x.map_or_else(|| "none".to_owned(), |x| format!("{x:.3}"))
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
        let f = Figures::measure(
            &schedule,
            schedule.duration,
            &records,
            &attempts,
            &[ms(2150)],
        );
        assert_eq!(f.requests, 600);
        assert_eq!(
            (f.before, f.during, f.after),
            (Some(1.0), Some(0.0), Some(1.0))
        );
        assert_eq!(f.load_during, Some(2.0));
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
        let end = schedule.duration;
        let sim = Figures::measure(&schedule, end, &records, &attempts, &[]);
        let tolerance = Tolerance::default();
        assert!(tolerance.compare("bare", &sim, &sim).is_empty());

        // Retries doubling the load during the outage are outside the tolerance…
        let (_, records, attempts) = run(3000, 2);
        let doubled = Figures::measure(&schedule, end, &records, &attempts, &[]);
        let out = tolerance.compare("bare", &doubled, &sim);
        assert!(out.iter().any(|l| l.contains("load during")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("worst-second")), "{out:?}");

        // …and so is an upstream that heals 2 s late, or a breaker that trips in one
        // run only.
        let (_, records, attempts) = run(5000, 1);
        let late = Figures::measure(&schedule, end, &records, &attempts, &[ms(2100)]);
        let out = tolerance.compare("stack", &late, &sim);
        assert!(out.iter().any(|l| l.contains("time to recover")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("time to trip")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("after the heal")), "{out:?}");
        assert!(!out.iter().any(|l| l.contains("before")), "{out:?}");
    }

    #[test]
    fn a_run_cut_short_is_measured_up_to_the_cut() {
        let (schedule, records, attempts) = run(3000, 1);
        let cut = Figures::measure(&schedule, ms(1500), &records, &attempts, &[]);
        assert_eq!(cut.requests, 150);
        assert_eq!((cut.before, cut.during, cut.after), (Some(1.0), None, None));
        assert_eq!((cut.load_during, cut.recover_s), (None, None));
        // Against the whole run, the missing figures are what differs.
        let whole = Figures::measure(&schedule, schedule.duration, &records, &attempts, &[]);
        let out = Tolerance::default().compare("bare", &cut, &whole);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out[0].contains("during the fault live none"), "{out:?}");
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(quantile_ms(values.clone(), 0.99), 99.0);
        assert_eq!(quantile_ms(values, 1.0), 100.0);
        assert_eq!(quantile_ms(Vec::new(), 0.99), 0.0);
    }
}
