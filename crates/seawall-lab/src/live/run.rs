//! The live run: two real upstreams on 127.0.0.1 following the schedule, a bare reqwest
//! client and the client standard stack sending the same arrivals to one each, a row on
//! the terminal every second, until the schedule ends or Ctrl-C.

use std::io::Write;
use std::time::Duration;

use seawall_core::BoxError;
use seawall_sim::EventLog;
use tokio::time::Instant;

use super::drive::{arrivals, drive, Log, Outcome, Record};
use super::schedule::{follow, Schedule};
use super::shape::{quantile_ms, Figures};
use super::upstream::{self, LiveUpstream};
use super::{table, Stacks};

/// What the live run measured.
#[derive(Debug)]
pub struct LiveRun {
    /// Each stack's figures.
    pub figures: Stacks<Figures>,
    /// Whether Ctrl-C cut it short.
    pub interrupted: bool,
    /// How far it got: the schedule's duration, or when Ctrl-C came.
    pub end: Duration,
}

/// One second of the live table: what ended, and what reached the upstream, in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// The second's end, from the start.
    pub t: u64,
    /// Requests sent in the second (the same arrivals for both stacks).
    pub offered: usize,
    /// Per stack: successes that ended in the second.
    pub succeeded: Stacks<usize>,
    /// Per stack: calls that reached its upstream in the second.
    pub upstream: Stacks<usize>,
    /// Per stack: the p99 latency of the successes that ended in the second, ms.
    pub p99_ms: Stacks<f64>,
    /// The standard stack's breaker state at the second's end.
    pub breaker: String,
}

/// The state the breaker last entered, as its events say (`closed` before any).
fn breaker_state(log: &EventLog) -> String {
    log.events()
        .into_iter()
        .rev()
        .find(|e| e.layer == "breaker" && matches!(&*e.event, "open" | "half_open" | "closed"))
        .map_or_else(|| "closed".to_owned(), |e| e.event.replace('_', "-"))
}

/// When the breaker opened, as its events say: time since `start`, in order. The live run
/// and its simulated twin read their trip times this way.
pub(crate) fn breaker_opens(log: &EventLog, start: Instant) -> Vec<Duration> {
    log.events()
        .into_iter()
        .filter(|e| e.layer == "breaker" && e.event == "open")
        .map(|e| e.at.saturating_duration_since(start))
        .collect()
}

/// The second ending at `t` (whole seconds from the start) of one stack's run.
fn second(records: &[Record], calls: &[Duration], t: u64) -> (usize, usize, f64) {
    let (from, to) = (
        Duration::from_secs(t.saturating_sub(1)),
        Duration::from_secs(t),
    );
    let within = |d: Duration| d >= from && d < to;
    let ok: Vec<Duration> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Succeeded && within(r.done))
        .map(Record::latency)
        .collect();
    let reached = calls.iter().filter(|&&c| within(c)).count();
    (ok.len(), reached, quantile_ms(ok, 0.99))
}

/// One stack's client, its upstream and what it saw.
struct Side {
    upstream: LiveUpstream,
    records: Log<Record>,
}

impl Side {
    fn calls(&self, start: Instant) -> Vec<Duration> {
        self.upstream
            .calls
            .snapshot()
            .into_iter()
            .map(|t| t.saturating_duration_since(start))
            .collect()
    }
}

/// Runs `schedule` live at `rate` requests a second with `seed`, writing the header and a
/// [`Tick`] row to `out` every second; stops when the schedule ends (and the last requests
/// have ended, within the client timeout) or on Ctrl-C.
///
/// Run it on a current-thread runtime: the breaker's state is read from its events, which
/// reach the log only on the thread that installed it.
///
/// # Errors
///
/// When an upstream cannot start, a client cannot be built, or `out` fails (a closed
/// stdout): the run stops there.
pub async fn live(
    schedule: &Schedule,
    rate: f64,
    seed: u64,
    out: &mut dyn Write,
) -> Result<LiveRun, BoxError> {
    let log = EventLog::new();
    let _recording = log.install();
    let bare = Side {
        upstream: upstream::start(seed).await?,
        records: Log::new(),
    };
    let stack = Side {
        upstream: upstream::start(seed).await?,
        records: Log::new(),
    };
    // Only 127.0.0.1: no proxy from the environment.
    let bare_client = reqwest::Client::builder().no_proxy().build()?;
    let stack_client =
        super::client_config(seed).build(reqwest::Client::builder().no_proxy().build()?)?;
    let times = arrivals(rate, schedule.duration, seed);
    let switches = [
        bare.upstream.switches.clone(),
        stack.upstream.switches.clone(),
    ];

    let bare_calls = {
        let url = bare.upstream.url.clone();
        move || {
            let (client, url) = (bare_client.clone(), url.clone());
            async move {
                match client.get(&url).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    let stack_calls = {
        let url = stack.upstream.url.clone();
        move || {
            let (client, url) = (stack_client.clone(), url.clone());
            async move {
                let Ok(request) = client.reqwest().get(&url).build() else {
                    return false;
                };
                match client.execute(request).await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };

    table::header(out, schedule, rate)?;
    let start = Instant::now();
    let run = async {
        tokio::join!(
            follow(schedule, start, &switches),
            drive(
                &times,
                start,
                schedule.timeout,
                bare_calls,
                bare.records.clone()
            ),
            drive(
                &times,
                start,
                schedule.timeout,
                stack_calls,
                stack.records.clone()
            ),
        )
    };
    tokio::pin!(run);
    let ctrl_c = async {
        // Without a handler (none could be installed) the run simply goes to its end.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(ctrl_c);
    let mut ticks =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let (mut interrupted, mut end) = (false, schedule.duration);
    let tick = |t: u64| {
        let (b, s) = (
            second(&bare.records.snapshot(), &bare.calls(start), t),
            second(&stack.records.snapshot(), &stack.calls(start), t),
        );
        let (from, to) = (
            Duration::from_secs(t.saturating_sub(1)),
            Duration::from_secs(t),
        );
        Tick {
            t,
            offered: times.iter().filter(|&&a| a >= from && a < to).count(),
            succeeded: Stacks {
                bare: b.0,
                stack: s.0,
            },
            upstream: Stacks {
                bare: b.1,
                stack: s.1,
            },
            p99_ms: Stacks {
                bare: b.2,
                stack: s.2,
            },
            breaker: breaker_state(&log),
        }
    };
    let mut printed = 0;
    loop {
        tokio::select! {
            _ = &mut run => break,
            () = &mut ctrl_c => {
                interrupted = true;
                end = start.elapsed();
                break;
            }
            now = ticks.tick() => {
                printed = now.saturating_duration_since(start).as_secs_f64().round() as u64;
                table::row(out, &tick(printed))?;
            }
        }
    }
    if !interrupted {
        // The last requests may have ended before the last second's tick.
        for t in printed + 1..=schedule.duration.as_secs() {
            table::row(out, &tick(t))?;
        }
    }
    let opened = breaker_opens(&log, start);
    let figures = Stacks {
        bare: Figures::measure(
            schedule,
            end,
            &bare.records.snapshot(),
            &bare.calls(start),
            &[],
        ),
        stack: Figures::measure(
            schedule,
            end,
            &stack.records.snapshot(),
            &stack.calls(start),
            &opened,
        ),
    };
    Ok(LiveRun {
        figures,
        interrupted,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_counts_what_ended_in_it() {
        let ms = Duration::from_millis;
        let records = [
            Record {
                sent: ms(900),
                done: ms(1010),
                outcome: Outcome::Succeeded,
            },
            Record {
                sent: ms(1500),
                done: ms(1520),
                outcome: Outcome::Failed,
            },
            Record {
                sent: ms(1980),
                done: ms(2001),
                outcome: Outcome::Succeeded,
            },
        ];
        let calls = [ms(900), ms(1500), ms(1510), ms(1980)];
        let (ok, reached, p99) = second(&records, &calls, 2);
        assert_eq!((ok, reached), (1, 3));
        assert!((p99 - 110.0).abs() < 1e-9, "{p99}");
    }
}

#[cfg(test)]
mod end_to_end {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // Real axum upstreams, reqwest and the standard stack over 127.0.0.1, in paused time:
    // the schedule, the service times and the ticks all run on the paused clock.
    #[tokio::test(start_paused = true)]
    async fn a_live_run_prints_a_row_a_second_and_shows_the_outage() {
        let schedule = Schedule::outage(Duration::from_secs(6));
        let mut out = Vec::new();
        let run = live(&schedule, 50.0, 1, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert_eq!(rows.len(), 6, "{text}");
        assert!(rows[2].ends_with("open"), "{text}");
        assert!(!run.interrupted);
        let (bare, stack) = (&run.figures.bare, &run.figures.stack);
        assert_eq!(bare.during, Some(0.0), "{bare:?}");
        assert_eq!(bare.load_during, Some(1.0), "{bare:?}");
        assert!(stack.load_during.unwrap() < 0.5, "{stack:?}");
        assert!(stack.trip_s.is_some(), "{stack:?}");
        assert_eq!(stack.after, Some(1.0), "{stack:?}");
    }
}
