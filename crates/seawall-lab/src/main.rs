//! `seawall-lab`: runs the lab's scenarios and prints their figures.

use std::process::ExitCode;

use clap::Parser;

/// Runs Seawall's resilience scenarios in simulated time and prints the figures.
#[derive(Debug, Parser)]
#[command(name = "seawall-lab", version)]
struct Args {
    /// Run only this scenario (repeat to run several). Default: all of them.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// The seed for every random draw; the same seed prints the same figures.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for s in seawall_lab::scenarios() {
            println!("{:12} {}", s.name, s.about);
        }
        return ExitCode::SUCCESS;
    }
    let started = std::time::SystemTime::now();
    let report = match seawall_lab::run(&args.scenarios, args.seed) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("seawall-lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("seawall-lab: cannot write JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", seawall_lab::render_table(&report));
        if let Ok(wall) = started.elapsed() {
            println!("\n(wall time {:.2} s)", wall.as_secs_f64());
        }
    }
    ExitCode::SUCCESS
}
