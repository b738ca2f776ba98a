//! The breaker's random draws: the jitter of its open times.
//!
//! Kept apart on purpose: it is the only source of randomness in the breaker, and a later
//! pass replaces it with `seawall-core`'s shared generator.

use std::hash::{BuildHasher, Hasher};

/// A seed that differs from breaker to breaker (and from run to run).
pub(crate) fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

/// Draw number `draw` of the stream `seed`, uniform in `[0, 1)`: the same seed and draw
/// always give the same value.
pub(crate) fn unit(seed: u64, draw: u64) -> f64 {
    (splitmix64(seed ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64 / (1u64 << 53) as f64
}

/// One step of SplitMix64: a good 64-bit mix for turning a counter into a random draw.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
