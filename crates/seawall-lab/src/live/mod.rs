//! Live mode (`seawall-lab live`): a simulated scenario played for real.
//!
//! # Why
//!
//! Every other figure of the lab comes from the simulator, in paused time. Live mode shows
//! the same story on real sockets and the real clock, so the simulation can be checked
//! against it: two axum upstreams on 127.0.0.1 whose faults are Seawall's chaos layers,
//! switched on and off by the scenario's schedule (scaled from the simulated 60 s to
//! `--duration`), one called by a bare reqwest client and one by the same reqwest behind
//! the client standard stack, both at the same seeded open-loop arrivals. A row is printed
//! each second; at the end, the run's figures beside those of its simulated twin (the same
//! schedule, arrivals and stack against `seawall-sim`'s upstream), and with `--check` the
//! exit status says whether they agree within the tolerance documented in `docs/lab.md`.
//!
//! Only 127.0.0.1 is contacted. The run stops by itself after `--duration` plus the last
//! requests' timeout, or on Ctrl-C (then it prints the figures so far and checks nothing).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use seawall::stack::ClientConfig;
use seawall_core::BoxError;

pub mod drive;
pub mod run;
pub mod schedule;
pub mod shape;
pub mod sim;
pub mod table;
pub mod upstream;

use schedule::Schedule;
use shape::Tolerance;

/// A pair of values, one per column: the bare client's and the standard stack's.
#[derive(Clone, Debug, PartialEq)]
pub struct Stacks<T> {
    /// The bare reqwest client's.
    pub bare: T,
    /// The client standard stack's.
    pub stack: T,
}

/// `seawall-lab live`'s options.
#[derive(Clone, Debug, clap::Args)]
pub struct LiveArgs {
    /// The scenario to play: `outage` or `brownout`.
    #[arg(long, default_value = "outage")]
    pub scenario: String,
    /// How long to send requests for (e.g. `20s`, `1m`); the scenario's 60 simulated
    /// seconds are scaled to it. 3 s to 10 min.
    #[arg(long, default_value = "20s", value_parser = seawall::core::duration::parse)]
    pub duration: Duration,
    /// Requests a second sent to each upstream (1 to 2000).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// The seed of the arrivals, the injections and the retry jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Exit with status 1 unless the live figures agree with the simulated twin's.
    #[arg(long)]
    pub check: bool,
}

/// The standard stack both runs use: its defaults, the retry and breaker jitter seeded from `seed`.
pub fn client_config(seed: u64) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.retry.seed = Some(seed);
    config.breaker.seed = Some(seed.wrapping_add(1));
    config
}

impl LiveArgs {
    /// The schedule these options ask for.
    ///
    /// # Errors
    ///
    /// A message naming the option that is out of range, or the unknown scenario.
    pub fn schedule(&self) -> Result<Schedule, String> {
        let (min, max) = (Duration::from_secs(3), Duration::from_secs(600));
        if !(min..=max).contains(&self.duration) {
            return Err(format!(
                "--duration must be in 3s..=10m, got {}",
                seawall::core::duration::format(self.duration)
            ));
        }
        if !(self.rate.is_finite() && (1.0..=2000.0).contains(&self.rate)) {
            return Err(format!("--rate must be in 1..=2000, got {}", self.rate));
        }
        Schedule::named(&self.scenario, self.duration)
    }
}

/// Runs live mode, printing to stdout; the exit status is 1 on an error or a failed check,
/// 130 when interrupted with `--check`. A closed stdout ends the run quietly.
pub fn main(args: &LiveArgs) -> ExitCode {
    let mut out = io::stdout().lock();
    match live(args, &mut out).and_then(|code| out.flush().map(|()| code).map_err(Into::into)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seawall-lab live: {e}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn live(args: &LiveArgs, out: &mut dyn Write) -> Result<ExitCode, BoxError> {
    let schedule = args.schedule()?;
    // One thread: the breaker's events reach the log installed on it, and the lab leaves
    // the machine's other cores to the upstreams' clients.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let live = runtime.block_on(run::live(&schedule, args.rate, args.seed, out))?;
    drop(runtime);
    let sim = sim::simulate(&schedule, args.rate, args.seed, live.end)?;
    table::comparison(out, &live.figures, &sim)?;
    if live.interrupted {
        writeln!(
            out,
            "\ninterrupted at {:.1} s: both columns cover the run so far; nothing checked",
            live.end.as_secs_f64()
        )?;
        return Ok(if args.check {
            ExitCode::from(130)
        } else {
            ExitCode::SUCCESS
        });
    }
    let agrees = table::verdict(out, &Tolerance::default(), &live.figures, &sim)?;
    Ok(if args.check && !agrees {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args(duration: u64, rate: f64) -> LiveArgs {
        LiveArgs {
            scenario: "outage".to_owned(),
            duration: Duration::from_secs(duration),
            rate,
            seed: 1,
            check: true,
        }
    }

    #[test]
    fn bad_options_are_named() {
        let e = args(2, 200.0).schedule().unwrap_err();
        assert!(e.contains("--duration"), "{e}");
        let e = args(20, 5000.0).schedule().unwrap_err();
        assert!(e.contains("--rate"), "{e}");
        let e = args(20, f64::NAN).schedule().unwrap_err();
        assert!(e.contains("--rate"), "{e}");
        let mut brownout = args(20, 200.0);
        brownout.scenario = "brownout".to_owned();
        assert_eq!(brownout.schedule().unwrap().name, "brownout");
    }

    /// A reader that has gone away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_ends_the_run_at_once_and_quietly() {
        // The header is the first write: the run ends before it sends a request.
        let e = live(&args(600, 200.0), &mut Closed).unwrap_err();
        assert!(is_broken_pipe(&*e), "{e}");
    }
}
