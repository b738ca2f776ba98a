//! A two-tier retry chain: client → gateway → upstream, each tier retrying, through the
//! outage scenario's upstream (every call fails from 20 s to 30 s). Retries multiply across
//! tiers: three retries at each of two tiers is up to 16 attempts per request. Seawall's
//! pushback is the "do not retry" mark: the gateway marks the failures it gave up on
//! (`RetryErrors::mark_give_ups`) and the client's retry layer does not retry them, so only
//! the tier next to the failure retries.

use seawall_retry::{RetryErrors, RetryLayer};
use seawall_sim::{Capacity, Request, Upstream};
use tower::{BoxError, Layer, ServiceExt};

use super::tower_builtin::Attempts;
use super::{erase, LabService, Stack};
use crate::{secs, Scenario};

/// Both tiers with tower's `Retry` counting only attempts (3 retries each).
fn tower_chain(upstream: Upstream, _seed: u64) -> LabService {
    let gateway = tower::retry::Retry::new(Attempts(3), upstream);
    erase(tower::retry::Retry::new(Attempts(3), gateway))
}

/// Both tiers with Seawall's retry at its defaults (each its own budget); the gateway marks
/// its give-ups when `mark` is set.
fn seawall_chain(upstream: Upstream, seed: u64, mark: bool) -> LabService {
    let upstream = ServiceExt::<Request>::map_err(upstream, BoxError::from);
    let gateway = RetryLayer::builder()
        .policy(RetryErrors::new().mark_give_ups(mark))
        .seed(seed)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
        .layer(upstream);
    let client = RetryLayer::builder()
        .seed(seed.wrapping_add(1))
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
        .layer(gateway);
    erase(client)
}

const STACKS: [Stack; 3] = [
    Stack {
        name: "tower Retry × 2 tiers",
        build: tower_chain,
    },
    Stack {
        name: "Seawall retry × 2 tiers",
        build: |u, seed| seawall_chain(u, seed, false),
    },
    Stack {
        name: "Seawall retry × 2 + pushback",
        build: |u, seed| seawall_chain(u, seed, true),
    },
];

/// The two-tier retry chain scenario.
pub(crate) fn scenario() -> Scenario {
    Scenario {
        name: "retry-chain",
        about: "client → gateway → upstream, both tiers retrying; the upstream fails every request (in 1 ms) from 20 s to 30 s; 1000 req/s for 60 s",
        upstream: |seed| {
            crate::scenarios::fails_fast(20, 30)
                .capacity(Capacity::workers(100).queue(1000))
                .seed(seed)
                .build()
        },
        load: |seed| crate::scenarios::poisson(1000.0, 60, 1000, seed),
        outage: Some((secs(20), secs(30))),
        capacity: None,
        stacks: [
            super::baseline(),
            STACKS[..1].to_vec(),
            vec![
                super::tower_resilience::RETRY_CHAIN,
                super::tower_resilience::RETRY_AIMD_CHAIN,
            ],
            STACKS[1..].to_vec(),
        ]
        .concat(),
    }
}
