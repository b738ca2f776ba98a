//! The operator and the load: flips inventory's fault on a schedule, sends the gateway a
//! bounded number of requests, and prints each second what the stacks did.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use seawall::core::BoxError;
use tokio::task::JoinSet;
use tokio::time::{interval, MissedTickBehavior};

use crate::gateway::Gateway;
use crate::inventory::Inventory;

/// Requests sent to the gateway each second.
const PER_SECOND: u32 = 100;

/// The fault inventory injects in each second of the run: the share of its calls answered
/// 503, or `None` for off.
const SCHEDULE: [Option<u32>; 8] = [
    None,
    Some(20),
    Some(20),
    Some(100),
    Some(100),
    Some(100),
    None,
    None,
];

/// A column: its heading and how to read its counter.
type Column<'a> = (&'a str, Box<dyn Fn() -> u64 + 'a>);

/// Counters read once a second, printed as the change since the last reading.
struct Readings<'a> {
    counters: Vec<Column<'a>>,
    last: Vec<u64>,
}

impl<'a> Readings<'a> {
    fn new(counters: Vec<Column<'a>>) -> Self {
        let last = counters.iter().map(|(_, read)| read()).collect();
        Self { counters, last }
    }

    fn header(&self) -> String {
        self.counters
            .iter()
            .map(|(name, _)| format!("{name:>12}"))
            .collect()
    }

    /// The change of each counter since the last call.
    fn row(&mut self) -> String {
        let mut row = String::new();
        for ((_, read), last) in self.counters.iter().zip(&mut self.last) {
            let now = read();
            row.push_str(&format!("{:>12}", now - *last));
            *last = now;
        }
        row
    }
}

fn counter(c: &AtomicU64) -> Box<dyn Fn() -> u64 + '_> {
    Box::new(move || c.load(Ordering::Relaxed))
}

/// Runs the schedule against the gateway, then waits for the last answers.
pub(crate) async fn run(inventory: &Inventory, gateway: &Gateway) -> Result<(), BoxError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let budget = gateway.client.budget();
    let answers = &gateway.answers;
    let mut readings = Readings::new(vec![
        ("ok", counter(&answers.ok)),
        ("failed", counter(&answers.failed)),
        ("failed fast", counter(&answers.failed_fast)),
        ("other", counter(&answers.other)),
        ("inv. calls", counter(&inventory.calls)),
        ("retries", Box::new(|| budget.withdrawals())),
        ("refused", Box::new(|| budget.refused())),
    ]);
    println!(
        "each second, what the gateway answered, the calls inventory saw, the retries the \
         client stack sent and those its budget refused:"
    );
    println!("  s  fault{}  inv. limit", readings.header());

    let mut tick = interval(Duration::from_secs(1) / PER_SECOND);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut requests = JoinSet::new();
    let mut previous = None;
    for (second, fault) in SCHEDULE.into_iter().enumerate() {
        if fault != previous {
            switch_fault(&http, inventory, fault).await?;
            previous = fault;
        }
        for n in 0..PER_SECOND {
            tick.tick().await;
            let url = format!("http://{}/stock/{n}", gateway.addr);
            let http = http.clone();
            requests.spawn(async move { http.get(url).send().await.map(|r| r.status()) });
        }
        let fault = fault.map_or_else(|| "off".to_owned(), |p| format!("{p}%"));
        println!(
            "{second:>3} {fault:>6}{}{:>12}",
            readings.row(),
            inventory.stack.shed().limit()
        );
    }
    while let Some(answer) = requests.join_next().await {
        answer??;
    }
    println!("  and the answers still in flight at the end:");
    println!("{:10}{}", "", readings.row());
    println!(
        "budget over the run: {} requests deposited, {} retries sent, {} refunded (they \
         succeeded), {} refused",
        budget.deposits(),
        budget.withdrawals(),
        budget.refunds(),
        budget.refused()
    );
    Ok(())
}

/// The operator's call to inventory's admin routes.
async fn switch_fault(
    http: &reqwest::Client,
    inventory: &Inventory,
    fault: Option<u32>,
) -> Result<(), BoxError> {
    let base = format!("http://{}/admin/fault", inventory.addr);
    let response = match fault {
        Some(percent) => http.post(format!("{base}/{percent}")).send().await?,
        None => http.delete(base).send().await?,
    };
    response.error_for_status()?;
    Ok(())
}
