//! The baseline column: no resilience layer at all.

use seawall_sim::Upstream;

use super::{erase, LabService, Stack};

/// The client calls the upstream directly.
pub(super) const NONE: Stack = Stack {
    name: "none",
    build: none,
};

fn none(upstream: Upstream, _seed: u64) -> LabService {
    erase(upstream)
}
