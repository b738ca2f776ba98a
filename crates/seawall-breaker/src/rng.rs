//! The breaker's random draws: the jitter of its open times, from `seawall-core`'s one
//! generator ([`seawall_core::rng::Rng`]).

use seawall_core::rng::Rng;

/// Spreads draw numbers over the seed space (the golden-ratio increment of SplitMix64).
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seed that differs from breaker to breaker (and from run to run), for a breaker built
/// without one. Drawn through [`Rng::from_entropy`], so the simulator's determinism guard
/// sees it.
pub(crate) fn random_seed() -> u64 {
    Rng::from_entropy().next_u64()
}

/// Draw number `draw` of the stream `seed`, uniform in `[0, 1)`: the same seed and draw
/// always give the same value.
pub(crate) fn unit(seed: u64, draw: u64) -> f64 {
    Rng::from_seed(seed ^ draw.wrapping_mul(SPREAD)).next_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_core::rng::entropy_seedings_on_this_thread;

    #[test]
    fn an_unseeded_breaker_is_visible_to_the_determinism_guard() {
        let before = entropy_seedings_on_this_thread();
        let seeded = crate::CircuitBreakerLayer::builder().seed(1).build();
        assert!(seeded.is_ok());
        assert_eq!(entropy_seedings_on_this_thread(), before);
        let unseeded = crate::CircuitBreakerLayer::builder().build();
        assert!(unseeded.is_ok());
        assert_eq!(entropy_seedings_on_this_thread(), before + 1);
    }

    #[test]
    fn draws_repeat_per_seed_and_draw_and_stay_in_range() {
        assert_eq!(unit(7, 3).to_bits(), unit(7, 3).to_bits());
        assert_ne!(unit(7, 3).to_bits(), unit(7, 4).to_bits());
        assert_ne!(unit(7, 3).to_bits(), unit(8, 3).to_bits());
        assert!((0..1000).all(|d| (0.0..1.0).contains(&unit(11, d))));
    }
}
