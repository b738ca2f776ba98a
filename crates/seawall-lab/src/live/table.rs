//! What live mode prints: a row each second while it runs, then its figures beside the
//! simulated twin's and the verdict of the check.

use std::io::{self, Write};

use super::run::Tick;
use super::schedule::Schedule;
use super::shape::{seconds, Figures, Tolerance};
use super::Stacks;

/// The run's description and the per-second table's heading.
pub fn header(out: &mut dyn Write, schedule: &Schedule, rate: f64) -> io::Result<()> {
    let (from, to) = schedule.fault;
    writeln!(
        out,
        "live {}: {:.0} s, {rate:.0} req/s (Poisson) to each of two axum upstreams on 127.0.0.1; \
         fault from {:.2} s to {:.2} s; client timeout {:.0} ms",
        schedule.name,
        schedule.duration.as_secs_f64(),
        from.as_secs_f64(),
        to.as_secs_f64(),
        schedule.timeout.as_secs_f64() * 1000.0,
    )?;
    writeln!(
        out,
        "each row: the second just ended; ok = successes that ended in it, upstream = calls that reached the upstream in it (× requests offered)\n"
    )?;
    writeln!(
        out,
        "{:>4} {:>7} | {:>5} {:>14} {:>7} | {:>5} {:>14} {:>7} {:>9}",
        "t(s)", "offered", "ok", "upstream", "p99 ms", "ok", "upstream", "p99 ms", "breaker"
    )?;
    writeln!(
        out,
        "{:>12} | {:^28} | {:^38}",
        "", "bare reqwest", "Seawall client standard stack"
    )
}

fn load(calls: usize, offered: usize) -> String {
    format!("{calls} ({:.2}×)", calls as f64 / offered.max(1) as f64)
}

/// One second's row.
pub fn row(out: &mut dyn Write, tick: &Tick) -> io::Result<()> {
    writeln!(
        out,
        "{:>4} {:>7} | {:>5} {:>14} {:>7.1} | {:>5} {:>14} {:>7.1} {:>9}",
        tick.t,
        tick.offered,
        tick.succeeded.bare,
        load(tick.upstream.bare, tick.offered),
        tick.p99_ms.bare,
        tick.succeeded.stack,
        load(tick.upstream.stack, tick.offered),
        tick.p99_ms.stack,
        tick.breaker,
    )?;
    out.flush()
}

/// A line of the comparison: its name, and how to show a stack's figure.
type Line = (&'static str, fn(&Figures) -> String);

/// The live figures beside the simulated twin's, a line per figure.
pub fn comparison(
    out: &mut dyn Write,
    live: &Stacks<Figures>,
    sim: &Stacks<Figures>,
) -> io::Result<()> {
    writeln!(
        out,
        "\n{:34} | {:>10} {:>10} | {:>10} {:>10}",
        "", "bare live", "simulated", "stack live", "simulated"
    )?;
    let lines: [Line; 9] = [
        ("requests", |f| f.requests.to_string()),
        ("success before the fault", |f| pct(f.before)),
        ("success during the fault", |f| pct(f.during)),
        ("success from 1.5 s after the heal", |f| pct(f.after)),
        ("upstream load during the fault", |f| {
            f.load_during
                .map_or_else(|| "–".to_owned(), |l| format!("{l:.2}×"))
        }),
        ("upstream load, worst second", |f| {
            format!("{:.2}× ({})", f.worst.1, f.worst.0)
        }),
        ("time to trip", |f| seconds(f.trip_s)),
        ("time to recover (90% ok)", |f| seconds(f.recover_s)),
        ("p99 of healthy successes (ms)", |f| {
            format!("{:.1}", f.p99_ms)
        }),
    ];
    for (name, show) in lines {
        writeln!(
            out,
            "{name:34} | {:>10} {:>10} | {:>10} {:>10}",
            show(&live.bare),
            show(&sim.bare),
            show(&live.stack),
            show(&sim.stack)
        )?;
    }
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{:.1}%", x * 100.0))
}

/// The check's verdict; returns whether the live run agreed with the twin.
pub fn verdict(
    out: &mut dyn Write,
    tolerance: &Tolerance,
    live: &Stacks<Figures>,
    sim: &Stacks<Figures>,
) -> io::Result<bool> {
    let mut off = tolerance.compare("bare", &live.bare, &sim.bare);
    off.extend(tolerance.compare("stack", &live.stack, &sim.stack));
    if off.is_empty() {
        writeln!(
            out,
            "\ncheck: live agrees with the simulation within the tolerance (docs/lab.md, \"Live mode\")"
        )?;
    } else {
        writeln!(out, "\ncheck: live is outside the tolerance:")?;
        for line in &off {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(off.is_empty())
}
