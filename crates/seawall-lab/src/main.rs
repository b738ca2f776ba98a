//! `seawall-lab`: runs the lab's scenarios and prints their figures.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seawall_lab::Progress;

/// Runs Seawall's resilience scenarios in simulated time and prints the figures.
#[derive(Debug, Parser)]
#[command(name = "seawall-lab", version)]
struct Args {
    /// What to run instead of the simulated scenarios.
    #[command(subcommand)]
    command: Option<Command>,
    /// Run only this scenario (repeat to run several). Default: all of them.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// The seed for every random draw; the same seed prints the same figures.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write an HTML page with a chart per figure over time into this directory
    /// (`index.html`, and `outage-upstream-load.svg` when the outage scenario runs).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// The lab's other modes.
#[derive(Debug, Subcommand)]
enum Command {
    /// Play a scenario for real: axum upstreams on 127.0.0.1 with chaos layers, called by
    /// reqwest bare and through the client standard stack; compared with the simulation.
    Live(seawall_lab::live::LiveArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Live(live)) = &args.command {
        return seawall_lab::live::main(live);
    }
    let mut out = std::io::stdout().lock();
    match lab(&args, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): what it did not read, it did not want.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seawall-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn lab(args: &Args, out: &mut impl Write) -> std::io::Result<()> {
    if args.list {
        for s in seawall_lab::scenarios() {
            writeln!(out, "{:12} {}", s.name, s.about)?;
        }
        return Ok(());
    }
    let started = std::time::SystemTime::now();
    let progress = Bar::new();
    let report = seawall_lab::run_observed(&args.scenarios, args.seed, &mut |p| progress.on(p))
        .map_err(std::io::Error::other);
    progress.done();
    let report = report?;
    if let Some(dir) = &args.report {
        let written =
            seawall_lab::report::write(dir, &report, &command()).map_err(std::io::Error::other)?;
        for path in written {
            eprintln!("seawall-lab: wrote {}", path.display());
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", seawall_lab::render_table(&report))?;
        if let Ok(wall) = started.elapsed() {
            writeln!(out, "\n(wall time {:.2} s)", wall.as_secs_f64())?;
        }
    }
    Ok(())
}

/// The command line that produced the figures, as a user would type it.
fn command() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut line = String::from("cargo run --release -p seawall-lab");
    if !args.is_empty() {
        line.push_str(" --");
        for a in args {
            line.push(' ');
            line.push_str(&a);
        }
    }
    line
}

/// Progress on stderr, shown only once the run has taken a second and only when stdout and
/// stderr are both terminals: piped or redirected, the lab prints nothing but its figures.
struct Bar {
    bar: Option<ProgressBar>,
}

/// How long a run goes before its progress shows.
const QUIET_FOR: Duration = Duration::from_secs(1);

impl Bar {
    fn new() -> Self {
        let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed}] {bar:20} {pos}/{len} stacks  {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    fn on(&self, progress: Progress<'_>) {
        let Some(bar) = &self.bar else { return };
        match progress {
            Progress::Total(n) => bar.set_length(n as u64),
            Progress::Ran { scenario, stack } => {
                bar.inc(1);
                bar.set_message(format!("{scenario}: {stack}"));
            }
        }
        if bar.is_hidden() && bar.elapsed() >= QUIET_FOR {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
