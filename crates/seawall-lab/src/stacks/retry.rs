//! Seawall's retry layer.

use seawall_sim::{Request, Upstream};
use tower::BoxError;

use super::{erase, LabService, Stack};

/// Seawall's retry layer at its defaults, its jitter seeded from the scenario's seed.
pub(super) const SEAWALL_RETRY: Stack = Stack {
    name: "Seawall retry",
    build: seawall_retry,
};

fn seawall_retry(upstream: Upstream, seed: u64) -> LabService {
    let layer = seawall_retry::RetryLayer::builder()
        .seed(seed)
        .build()
        .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
    let upstream = tower::ServiceExt::<Request>::map_err(upstream, BoxError::from);
    erase(tower::Layer::layer(&layer, upstream))
}
