use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// How one request ended, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestOutcome {
    Succeeded,
    Failed,
    TimedOut,
}

/// One request's record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) id: u64,
    /// When it was sent, from the start of the run.
    pub(crate) sent: Duration,
    pub(crate) latency: Duration,
    pub(crate) outcome: RequestOutcome,
}

/// Latency percentiles in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// One second of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Second {
    /// Seconds since the start of the run.
    pub t: u64,
    /// Requests sent in this second.
    pub sent: u64,
    /// Of those, how many succeeded.
    pub succeeded: u64,
    /// Of those, how many failed.
    pub failed: u64,
    /// Of those, how many the client gave up on.
    pub timed_out: u64,
    /// Calls that reached the upstream in this second (retries and hedges included).
    pub upstream_attempts: u64,
    /// Mean latency of the requests sent in this second, in milliseconds.
    pub mean_ms: f64,
    /// 99th-percentile latency of the requests sent in this second, in milliseconds.
    pub p99_ms: f64,
}

/// The second in which the upstream was loaded most, relative to the requests sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WorstSecond {
    /// Seconds since the start of the run.
    pub t: u64,
    /// Requests sent in this second.
    pub requests: u64,
    /// Calls that reached the upstream in this second.
    pub upstream_attempts: u64,
    /// `upstream_attempts / requests`: the upstream load of this second (x).
    pub load: f64,
}

/// What a load run saw: the client's view and the upstream's.
///
/// Field names are stable: the lab's `--json` output is this structure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// How long requests were sent for, in seconds.
    pub duration_s: f64,
    /// The offered rate, requests per second.
    pub offered_rps: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Requests that failed (the service returned an error).
    pub failed: u64,
    /// Requests the client gave up on.
    pub timed_out: u64,
    /// `succeeded / requests`.
    pub success_rate: f64,
    /// Successful requests per second of the load's duration.
    pub goodput_rps: f64,
    /// Latency of every request (a timed-out one counts at the timeout).
    pub latency_ms: Percentiles,
    /// Latency of the successful requests.
    pub success_latency_ms: Percentiles,
    /// Calls that reached the upstream.
    pub upstream_attempts: u64,
    /// `upstream_attempts / requests`: how much the stack multiplied the load.
    pub amplification: f64,
    /// The second with the highest upstream load (attempts / requests sent), the first of
    /// equals, among the seconds the load covers in full (a partial last second is left
    /// out): a stack that multiplies load only in a crisis shows it here, not in the
    /// whole-run average.
    pub worst_second: WorstSecond,
    /// Per-second figures, by the second a request was sent (upstream attempts by the second
    /// they arrived).
    pub series: Vec<Second>,
}

/// A latency histogram in microseconds that also keeps the exact sum and maximum, so a
/// constant 10 ms reads as 10.000 and not as the top of its histogram bucket.
struct Latencies {
    histogram: Histogram<u64>,
    sum: u64,
    max: u64,
}

impl Latencies {
    fn new() -> Self {
        Self {
            // 1 µs to one hour at 3 significant digits; the bounds are valid constants.
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .unwrap_or_else(|_| unreachable!()),
            sum: 0,
            max: 0,
        }
    }

    fn record(&mut self, micros: u64) {
        self.histogram.saturating_record(micros);
        self.sum = self.sum.saturating_add(micros);
        self.max = self.max.max(micros);
    }

    fn percentiles(&self) -> Percentiles {
        let h = &self.histogram;
        if h.is_empty() {
            return Percentiles::default();
        }
        // A quantile reads as the top of its bucket (at most 0.1% high), but never above the
        // exact maximum, so a constant 10 ms reads as 10.000.
        let q = |q: f64| ms(h.value_at_quantile(q).min(self.max) as f64);
        Percentiles {
            mean: ms(self.sum as f64 / h.len() as f64),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: ms(self.max as f64),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, 3_600_000_000)
}

/// Rounds to microseconds so the JSON stays short and stable.
fn ms(micros: f64) -> f64 {
    (micros).round() / 1000.0
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Summary {
    pub(crate) fn new(
        duration: Duration,
        records: &[Record],
        attempts: &[Duration],
        rate: f64,
    ) -> Self {
        let mut all = Latencies::new();
        let mut ok = Latencies::new();
        let last_sent = records.iter().map(|r| r.sent.as_secs()).max().unwrap_or(0);
        let last_attempt = attempts.iter().map(|t| t.as_secs()).max().unwrap_or(0);
        let seconds = (duration.as_secs_f64().ceil() as u64)
            .max(last_sent + 1)
            .max(last_attempt + 1);
        let mut series: Vec<Second> = (0..seconds)
            .map(|t| Second {
                t,
                ..Second::default()
            })
            .collect();
        let mut per_second: Vec<Latencies> = (0..seconds).map(|_| Latencies::new()).collect();
        let (mut succeeded, mut failed, mut timed_out) = (0, 0, 0);
        for r in records {
            let us = micros(r.latency);
            all.record(us);
            let s = r.sent.as_secs() as usize;
            per_second[s].record(us);
            let second = &mut series[s];
            second.sent += 1;
            match r.outcome {
                RequestOutcome::Succeeded => {
                    ok.record(us);
                    succeeded += 1;
                    second.succeeded += 1;
                }
                RequestOutcome::Failed => {
                    failed += 1;
                    second.failed += 1;
                }
                RequestOutcome::TimedOut => {
                    timed_out += 1;
                    second.timed_out += 1;
                }
            }
        }
        for t in attempts {
            series[t.as_secs() as usize].upstream_attempts += 1;
        }
        for (second, h) in series.iter_mut().zip(&per_second) {
            let p = h.percentiles();
            second.mean_ms = p.mean;
            second.p99_ms = p.p99;
        }
        // Only the seconds the load covers in full: a partial last second (the load's
        // duration is not whole, or a request was sent at its last instant) holds a few
        // requests whose retries or hedges can make any ratio. A run shorter than a second
        // has only a partial one, which is then used.
        let whole = duration.as_secs().max(1);
        let worst_second = series
            .iter()
            .filter(|s| s.sent > 0 && s.t < whole)
            .map(|s| WorstSecond {
                t: s.t,
                requests: s.sent,
                upstream_attempts: s.upstream_attempts,
                load: ratio(s.upstream_attempts, s.sent),
            })
            .fold(None, |worst: Option<WorstSecond>, s| match worst {
                Some(w) if w.load >= s.load => Some(w),
                _ => Some(s),
            })
            .unwrap_or_default();
        let requests = records.len() as u64;
        let duration_s = duration.as_secs_f64();
        Self {
            duration_s,
            offered_rps: rate,
            requests,
            succeeded,
            failed,
            timed_out,
            success_rate: ratio(succeeded, requests),
            goodput_rps: if duration_s > 0.0 {
                succeeded as f64 / duration_s
            } else {
                0.0
            },
            latency_ms: all.percentiles(),
            success_latency_ms: ok.percentiles(),
            upstream_attempts: attempts.len() as u64,
            amplification: ratio(attempts.len() as u64, requests),
            worst_second,
            series,
        }
    }
}
