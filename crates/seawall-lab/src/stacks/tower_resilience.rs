//! tower-resilience (0.14), the closest other Rust crate, beside Seawall's layers.
//!
//! Paused time measures a layer only if every clock it reads is tokio's. Checked in its
//! sources (0.14.0):
//!
//! | layer | clock | here |
//! |---|---|---|
//! | retry, no budget or the AIMD budget | backoff on `tokio::time::sleep`; the AIMD budget counts calls, no clock | simulated (outage, retry-chain) |
//! | retry, token-bucket budget | refills by `std::time::Instant` | not meaningful in simulated time |
//! | circuit breaker | the wait in open and each call's duration (slow calls) by `std::time::Instant` | not meaningful in simulated time (outage, partial outage, brownout) |
//! | bulkhead, rejecting when full | a semaphore, and `tokio::time::timeout` for the wait | simulated (overload) |
//! | adaptive concurrency limiter | each call's latency by `std::time::Instant` | not meaningful in simulated time (overload) |
//! | hedge | its delay on `tokio::time::sleep` | simulated (heavy tail, in `hedge.rs`) |
//!
//! Every layer reads `std::time::Instant` to stamp its events too; the lab does not listen
//! to them, so that changes nothing. A column that cannot be simulated is still listed
//! ([`wall_clock_peers`]), marked rather than filled with figures the paused clock made up:
//! in a paused run a minute of simulated traffic takes well under a second of wall time, so a
//! breaker waiting 60 s in open would never leave it, and every call would measure ~0 ms.

use seawall_sim::{Reply, Request, Upstream, UpstreamError};
use tower::Layer;
use tower_resilience_retry::{RetryBudgetBuilder, RetryLayer};

use super::{erase, LabService, Stack};

/// tower-resilience's retry at its defaults: 3 attempts in all (2 retries), exponential
/// backoff from 100 ms (no jitter), every error retried, no budget.
pub(super) const RETRY: Stack = Stack {
    name: "tower-resilience retry (3 attempts)",
    build: |upstream, _| erase(retry(false).layer(upstream)),
};

/// The same, with tower-resilience's AIMD retry budget at its defaults (1,000 tokens, a
/// retry takes one, a success gives one back; the ceiling halves when it runs dry, down to
/// 10).
pub(super) const RETRY_AIMD: Stack = Stack {
    name: "tower-resilience retry + AIMD budget",
    build: |upstream, _| erase(retry(true).layer(upstream)),
};

/// Both tiers of the retry chain with tower-resilience's retry at its defaults.
pub(crate) const RETRY_CHAIN: Stack = Stack {
    name: "tower-resilience retry × 2 tiers",
    build: |upstream, _| erase(retry(false).layer(retry(false).layer(upstream))),
};

/// Both tiers with the AIMD budget, one budget per tier.
pub(crate) const RETRY_AIMD_CHAIN: Stack = Stack {
    name: "tower-resilience retry + AIMD × 2 tiers",
    build: |upstream, _| erase(retry(true).layer(retry(true).layer(upstream))),
};

/// tower-resilience's bulkhead at its default of 25 calls at once, rejecting when full (no
/// wait): the same as tower's `ConcurrencyLimit(25)` + `LoadShed` beside it.
pub(super) const BULKHEAD: Stack = Stack {
    name: "tower-resilience bulkhead(25), reject when full",
    build: bulkhead,
};

fn retry(budget: bool) -> RetryLayer<Request, Reply, UpstreamError> {
    let mut builder = RetryLayer::<Request, Reply, UpstreamError>::builder();
    if budget {
        let aimd = RetryBudgetBuilder::new()
            .aimd()
            .build()
            .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
        builder = builder.budget(aimd);
    }
    builder.build()
}

fn bulkhead(upstream: Upstream, _seed: u64) -> LabService {
    match tower_resilience_bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(25)
        .reject_when_full()
        .build()
    {
        Ok(layer) => erase(layer.layer(upstream)),
        Err(e) => unreachable!("a valid bulkhead: {e}"),
    }
}

/// A column the lab lists without running it: the peer reads the wall clock, which paused
/// time does not move, so any figure would be one the paused clock made up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WallClockPeer {
    /// The column's heading.
    pub stack: &'static str,
    /// What it reads the wall clock for.
    pub why: &'static str,
}

const BREAKER: WallClockPeer = WallClockPeer {
    stack: "tower-resilience circuit breaker",
    why: "it times its wait in open (open → half-open) by std::time::Instant",
};

const TOKEN_BUCKET: WallClockPeer = WallClockPeer {
    stack: "tower-resilience retry + token-bucket budget",
    why: "the budget refills by std::time::Instant",
};

/// The peers the scenario `scenario` would compare but cannot simulate.
pub fn wall_clock_peers(scenario: &str) -> Vec<WallClockPeer> {
    match scenario {
        "outage" => vec![TOKEN_BUCKET, BREAKER],
        "retry-chain" => vec![WallClockPeer {
            stack: "tower-resilience retry + token-bucket × 2 tiers",
            ..TOKEN_BUCKET
        }],
        "partial-outage" => vec![WallClockPeer {
            stack: "p2c + tower-resilience breaker per endpoint",
            ..BREAKER
        }],
        "brownout" => vec![WallClockPeer {
            stack: "tower-resilience circuit breaker + slow calls",
            why: "it times each call (slow-call rate) and its wait in open by std::time::Instant",
        }],
        "overload-2x" | "overload-5x" | "capacity-halves" | "capacity-doubles" => {
            vec![WallClockPeer {
                stack: "tower-resilience adaptive limiter",
                why: "it times each call's latency by std::time::Instant",
            }]
        }
        _ => Vec::new(),
    }
}
