use std::time::Duration;

use seawall_core::rng::Rng;

use crate::ConfigError;

/// How the wait between attempts grows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Growth {
    Constant,
    Linear,
    Exponential { factor: f64 },
}

/// How a wait is spread out at random, so that clients that failed together do not retry
/// together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jitter {
    /// The computed wait, exactly.
    None,
    /// Uniform between zero and the computed wait: the widest spread (the default).
    #[default]
    Full,
    /// Half the computed wait plus uniform up to the other half: never shorter than half.
    Equal,
    /// Uniform between the base and three times the previous wait, capped; each request's
    /// waits wander instead of following a fixed curve.
    Decorrelated,
}

/// The wait before each retry: constant, linear or exponential in the retry number, with a
/// cap and [`Jitter`].
///
/// Retry `n` (from 1) waits `base` (constant), `base × n` (linear) or `base × factor^(n-1)`
/// (exponential), at most `cap`, then spread by the jitter. A `Retry-After` hint on the
/// failure replaces the computed wait.
///
/// ```
/// use std::time::Duration;
/// use seawall_retry::{Backoff, Jitter};
///
/// let backoff = Backoff::exponential(Duration::from_millis(50))
///     .factor(3.0)
///     .cap(Duration::from_secs(2))
///     .jitter(Jitter::Equal);
/// # let _ = backoff;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    growth: Growth,
    base: Duration,
    cap: Duration,
    jitter: Jitter,
}

impl Default for Backoff {
    /// Exponential from 50 ms, doubling, capped at 3 s, with full jitter.
    fn default() -> Self {
        Self::exponential(Duration::from_millis(50))
    }
}

impl Backoff {
    /// The same wait before every retry (cap 3 s, full jitter).
    pub fn constant(wait: Duration) -> Self {
        Self::new(Growth::Constant, wait)
    }

    /// `base × n` before retry `n` (cap 3 s, full jitter).
    pub fn linear(base: Duration) -> Self {
        Self::new(Growth::Linear, base)
    }

    /// `base × 2^(n-1)` before retry `n` (change the factor with [`factor`](Self::factor);
    /// cap 3 s, full jitter).
    pub fn exponential(base: Duration) -> Self {
        Self::new(Growth::Exponential { factor: 2.0 }, base)
    }

    /// No wait at all: retry at once (no jitter).
    pub fn none() -> Self {
        Self::new(Growth::Constant, Duration::ZERO).jitter(Jitter::None)
    }

    fn new(growth: Growth, base: Duration) -> Self {
        Self {
            growth,
            base,
            cap: Duration::from_secs(3),
            jitter: Jitter::Full,
        }
    }

    /// The growth factor of an exponential backoff, from 1 to 100 (default 2). No effect on
    /// the others.
    pub fn factor(mut self, factor: f64) -> Self {
        if let Growth::Exponential { .. } = self.growth {
            self.growth = Growth::Exponential { factor };
        }
        self
    }

    /// The longest wait, at least the base (default 3 s).
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The jitter (default [`Jitter::Full`]).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Growth::Exponential { factor } = self.growth {
            ConfigError::check_within("backoff.factor", factor, 1.0..=100.0)?;
        }
        if self.base > Duration::from_secs(3600) {
            return Err(ConfigError::new(format!(
                "backoff.base must be at most 1h, got {:?}",
                self.base
            )));
        }
        if self.cap < self.base || self.cap > Duration::from_secs(3600) {
            return Err(ConfigError::new(format!(
                "backoff.cap must be from the base ({:?}) to 1h, got {:?}",
                self.base, self.cap
            )));
        }
        Ok(())
    }

    /// The wait before retry `retry` (from 1), drawing from `rng`; `previous` is the last
    /// wait of this request (for decorrelated jitter), updated.
    pub(crate) fn delay(&self, retry: u32, rng: &mut Rng, previous: &mut Duration) -> Duration {
        let base = self.base.as_secs_f64();
        let cap = self.cap.as_secs_f64();
        let computed = match self.growth {
            Growth::Constant => base,
            Growth::Linear => base * f64::from(retry),
            Growth::Exponential { factor } => base * factor.powi(retry.saturating_sub(1) as i32),
        }
        .min(cap);
        let secs = match self.jitter {
            Jitter::None => computed,
            Jitter::Full => computed * rng.next_f64(),
            Jitter::Equal => computed / 2.0 + computed / 2.0 * rng.next_f64(),
            Jitter::Decorrelated => {
                let high = (previous.as_secs_f64() * 3.0).max(base);
                (base + (high - base) * rng.next_f64()).min(cap)
            }
        };
        let wait = Duration::from_secs_f64(secs.clamp(0.0, cap));
        *previous = wait;
        wait
    }

    pub(crate) fn base(&self) -> Duration {
        self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use seawall_core::rng::Rng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn waits(b: Backoff, seed: u64, n: u32) -> Vec<Duration> {
        let mut rng = Rng::from_seed(seed);
        let mut prev = b.base();
        (1..=n).map(|i| b.delay(i, &mut rng, &mut prev)).collect()
    }

    #[test]
    fn growth_without_jitter() {
        let none = |b: Backoff| b.jitter(Jitter::None);
        assert_eq!(waits(none(Backoff::constant(ms(10))), 0, 3), [ms(10); 3]);
        assert_eq!(
            waits(none(Backoff::linear(ms(10))), 0, 3),
            [ms(10), ms(20), ms(30)]
        );
        assert_eq!(
            waits(none(Backoff::exponential(ms(10)).cap(ms(50))), 0, 4),
            [ms(10), ms(20), ms(40), ms(50)],
            "capped"
        );
        assert_eq!(
            waits(
                none(Backoff::exponential(ms(10)).factor(3.0)).cap(ms(1000)),
                0,
                3
            ),
            [ms(10), ms(30), ms(90)]
        );
        assert_eq!(waits(Backoff::none(), 0, 2), [Duration::ZERO; 2]);
    }

    #[test]
    fn bad_backoffs_name_the_field() {
        let e = Backoff::exponential(ms(10))
            .factor(0.5)
            .validate()
            .unwrap_err();
        assert!(e.to_string().starts_with("backoff.factor"), "{e}");
        let e = Backoff::constant(ms(10)).cap(ms(5)).validate().unwrap_err();
        assert!(e.to_string().starts_with("backoff.cap"), "{e}");
        assert!(Backoff::default().validate().is_ok());
    }

    #[test]
    fn same_seed_same_waits_other_seed_other_waits() {
        let b = Backoff::exponential(ms(100));
        assert_eq!(waits(b, 7, 5), waits(b, 7, 5));
        assert_ne!(waits(b, 7, 5), waits(b, 8, 5));
    }

    proptest! {
        #[test]
        fn jitter_stays_in_its_range(seed: u64, retry in 1u32..40, base_ms in 1u64..500) {
            let base = ms(base_ms);
            let cap = base * 20;
            let exp = Backoff::exponential(base).cap(cap);
            let computed = Duration::from_secs_f64((base.as_secs_f64() * 2f64.powi(retry as i32 - 1)).min(cap.as_secs_f64()));
            let mut rng = Rng::from_seed(seed);
            let mut prev = base;
            let full = exp.jitter(Jitter::Full).delay(retry, &mut rng, &mut prev);
            prop_assert!(full <= computed);
            let equal = exp.jitter(Jitter::Equal).delay(retry, &mut rng, &mut prev);
            prop_assert!(equal >= computed / 2 - Duration::from_nanos(1) && equal <= computed);
            let mut prev = base * 4;
            let dec = exp.jitter(Jitter::Decorrelated).delay(retry, &mut rng, &mut prev);
            prop_assert!(dec >= base - Duration::from_nanos(1) && dec <= (base * 12).min(cap));
            prop_assert_eq!(prev, dec, "decorrelated remembers its last wait");
        }
    }
}
