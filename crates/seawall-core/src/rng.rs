//! The one random generator Seawall's layers and simulator share.
//!
//! # Why one generator, and why seeded
//!
//! Jitter, probe selection, latency draws in the simulator: every random choice a layer makes
//! changes what a test or a lab run sees. A layer that seeds itself from the operating
//! system makes every run different, so a figure cannot be reproduced and a failing
//! simulation cannot be replayed. Every layer therefore draws from an [`Rng`] it was given a
//! seed for, and falls back to [`Rng::from_entropy`] only when the user asked for nothing.
//! That fallback is *detectable*: it counts itself ([`entropy_seedings`],
//! [`entropy_seedings_on_this_thread`]) and emits a `DEBUG` tracing event at the target
//! `seawall::determinism`, so a simulator can refuse or warn when a layer inside a simulated
//! run seeded itself randomly.
//!
//! # The generator
//!
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
//! OOPSLA 2014): one `u64` of state, a 64-bit increment and a three-step mix per draw. It is
//! fast, has a period of 2^64, passes BigCrush, and every seed (zero included) is a good one.
//! It is not cryptographic; nothing in Seawall needs that.
//!
//! ```
//! use seawall_core::rng::Rng;
//!
//! let mut a = Rng::from_seed(42);
//! let mut b = Rng::from_seed(42);
//! assert_eq!(a.next_u64(), b.next_u64()); // same seed, same stream
//! let u = a.next_f64();
//! assert!((0.0..1.0).contains(&u));
//! assert!(a.below(6) < 6); // a die roll
//! // An independent stream, e.g. one per request, derived from this one.
//! let mut per_request = a.split();
//! let _ = per_request.next_u64();
//! ```

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

static ENTROPY_SEEDINGS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ENTROPY_SEEDINGS: Cell<u64> = const { Cell::new(0) };
}

/// How many generators the whole process has seeded from entropy so far.
pub fn entropy_seedings() -> u64 {
    ENTROPY_SEEDINGS.load(Ordering::Relaxed)
}

/// How many generators this thread has seeded from entropy so far.
///
/// A simulation on a current-thread runtime runs every task on the thread that drives it,
/// so the change in this count across a run says whether anything inside the run seeded
/// itself randomly, without being confused by tests running in parallel on other threads.
pub fn entropy_seedings_on_this_thread() -> u64 {
    THREAD_ENTROPY_SEEDINGS.with(Cell::get)
}

/// A small, fast, seedable pseudorandom generator (SplitMix64).
///
/// Cloning copies the state: the clone repeats the original's future draws. Use
/// [`split`](Self::split) for an independent stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose draws depend only on `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator seeded from the process's hash randomness, different every time.
    ///
    /// Use it only when the user gave no seed. Each call counts in [`entropy_seedings`] and
    /// [`entropy_seedings_on_this_thread`] and emits a `DEBUG` event at the target
    /// `seawall::determinism`, so that a deterministic simulation can notice it.
    pub fn from_entropy() -> Self {
        ENTROPY_SEEDINGS.fetch_add(1, Ordering::Relaxed);
        THREAD_ENTROPY_SEEDINGS.with(|c| c.set(c.get().wrapping_add(1)));
        tracing::debug!(
            target: "seawall::determinism",
            "a random generator was seeded from entropy; runs will not repeat"
        );
        // `RandomState` is keyed randomly per process and its keys change per instance.
        let seed = RandomState::new().hash_one(0x5EA_3A11_u64);
        Self::from_seed(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number uniform in `[0, 1)`, with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A number uniform in `(0, 1]`: safe to take the logarithm of.
    pub fn next_f64_nonzero(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A number uniform in `0..n`; `0` when `n` is `0`.
    ///
    /// Uses Lemire's multiply-and-shift with rejection, so every value is exactly equally
    /// likely.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A number uniform in `low..=high` (the bounds swapped if given in the wrong order).
    pub fn in_range(&mut self, low: u64, high: u64) -> u64 {
        let (low, high) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// `true` with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// A standard normal draw (mean 0, standard deviation 1), by the Box–Muller transform.
    pub fn standard_normal(&mut self) -> f64 {
        let u = self.next_f64_nonzero();
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An exponential draw with mean 1, by inversion.
    pub fn exponential(&mut self) -> f64 {
        -self.next_f64_nonzero().ln()
    }

    /// A new generator whose stream is independent of this one's, advancing this one by a
    /// draw. Splitting the same generator state always gives the same child.
    pub fn split(&mut self) -> Self {
        // Mixing the draw again keeps the child's state away from the parent's sequence.
        let mut child = Self::from_seed(self.next_u64() ^ 0xD1B5_4A32_D192_ED03);
        child.next_u64();
        child
    }
}

/// One [`Rng`] stream shared by every clone of a layer, without a lock: each draw is one
/// `fetch_add` on an atomic state, and the draws, taken in order, are exactly those of
/// [`Rng::from_seed`] with the same seed.
///
/// ```
/// use seawall_core::rng::{Rng, SharedRng};
///
/// let shared = SharedRng::from_seed(7);
/// let mut alone = Rng::from_seed(7);
/// assert_eq!(shared.next_u64(), alone.next_u64());
/// assert_eq!(shared.next_u64(), alone.next_u64());
/// ```
#[derive(Debug)]
pub struct SharedRng {
    state: AtomicU64,
}

impl SharedRng {
    /// A shared stream whose draws depend only on `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// The next 64 random bits of the stream, whichever clone asks.
    #[inline]
    pub fn next_u64(&self) -> u64 {
        // `from_seed(s).next_u64()` is the draw a sequential `Rng` at state `s` makes.
        let state = self.state.fetch_add(GAMMA, Ordering::Relaxed);
        Rng::from_seed(state).next_u64()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::from_seed(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::from_seed(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::from_seed(8);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_draws_have_the_right_mean_and_range() {
        let mut r = Rng::from_seed(1);
        let n = 200_000;
        let mut sum = 0.0;
        let mut counts = [0u32; 6];
        for _ in 0..n {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            sum += u;
            counts[r.below(6) as usize] += 1;
        }
        assert!((sum / f64::from(n) - 0.5).abs() < 0.005);
        for c in counts {
            // Each face 1/6 of the time: 33,333 ± 5σ (σ ≈ 167).
            assert!((32_500..=34_200).contains(&c), "{counts:?}");
        }
        assert_eq!(r.in_range(5, 5), 5);
        assert!((3..=9).contains(&r.in_range(9, 3)));
        let _ = r.in_range(0, u64::MAX);
    }

    #[test]
    fn normal_and_exponential_draws_have_their_moments() {
        let mut r = Rng::from_seed(3);
        let n = 200_000;
        let z: Vec<f64> = (0..n).map(|_| r.standard_normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
        let e = (0..n).map(|_| r.exponential()).sum::<f64>() / n as f64;
        assert!((e - 1.0).abs() < 0.01, "{e}");
    }

    #[test]
    fn split_streams_differ_from_the_parent() {
        let mut parent = Rng::from_seed(9);
        let mut child = parent.clone().split();
        let mut again = parent.clone().split();
        assert_eq!(child.next_u64(), again.next_u64());
        assert_ne!(parent.next_u64(), child.next_u64());
    }

    #[test]
    fn entropy_seedings_are_counted_on_the_thread() {
        let before = entropy_seedings_on_this_thread();
        let global = entropy_seedings();
        let _ = Rng::from_seed(1);
        assert_eq!(entropy_seedings_on_this_thread(), before);
        let _ = Rng::from_entropy();
        assert_eq!(entropy_seedings_on_this_thread(), before + 1);
        assert!(entropy_seedings() > global);
    }
}
