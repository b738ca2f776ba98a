use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::ConfigError;

/// The longest latency a distribution yields; heavier tails are cut here.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// A distribution of service times.
///
/// ```
/// use std::time::Duration;
/// use seawall_sim::Latency;
///
/// // 98% of calls take about 10 ms, 2% take about a second.
/// let latency = Latency::mixture([
///     (0.98, Latency::uniform(Duration::from_millis(9), Duration::from_millis(11))),
///     (0.02, Latency::uniform(Duration::from_millis(900), Duration::from_millis(1100))),
/// ]);
/// assert!(latency.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same.
    Constant(Duration),
    /// Uniform between two bounds, both included.
    Uniform {
        /// The shortest latency.
        low: Duration,
        /// The longest latency.
        high: Duration,
    },
    /// Log-normal: half the calls are faster than `median`; `sigma` (the standard deviation of
    /// the logarithm) sets how long the tail is (0.5 is moderate, 1.5 heavy).
    LogNormal {
        /// The median latency.
        median: Duration,
        /// The standard deviation of ln(latency).
        sigma: f64,
    },
    /// Pareto: never faster than `scale`, with a power-law tail; a smaller `shape` is a heavier
    /// tail (below 2 the variance is infinite, the classic "heavy tail").
    Pareto {
        /// The minimum latency.
        scale: Duration,
        /// The tail index α, greater than zero.
        shape: f64,
    },
    /// A weighted mixture of other distributions: each call picks one by weight.
    Mixture(Vec<(f64, Latency)>),
}

impl Latency {
    /// A constant latency.
    pub fn constant(latency: Duration) -> Self {
        Self::Constant(latency)
    }

    /// A latency uniform between `low` and `high`.
    pub fn uniform(low: Duration, high: Duration) -> Self {
        Self::Uniform { low, high }
    }

    /// A log-normal latency with the given median and log-space standard deviation.
    pub fn log_normal(median: Duration, sigma: f64) -> Self {
        Self::LogNormal { median, sigma }
    }

    /// A Pareto latency with minimum `scale` and tail index `shape`.
    pub fn pareto(scale: Duration, shape: f64) -> Self {
        Self::Pareto { scale, shape }
    }

    /// A weighted mixture; the weights need not add up to one.
    pub fn mixture(parts: impl IntoIterator<Item = (f64, Latency)>) -> Self {
        Self::Mixture(parts.into_iter().collect())
    }

    /// Checks the parameters.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the parameter when a bound is inverted, a shape is not a
    /// positive finite number, or a mixture is empty or has a negative or non-finite weight.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Constant(_) => Ok(()),
            Self::Uniform { low, high } => {
                if low > high {
                    return Err(ConfigError::new(format!(
                        "uniform latency: low ({low:?}) must not exceed high ({high:?})"
                    )));
                }
                Ok(())
            }
            Self::LogNormal { sigma, .. } => {
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    return Err(ConfigError::new(format!(
                        "log-normal latency: sigma must be a finite number >= 0, got {sigma}"
                    )));
                }
                Ok(())
            }
            Self::Pareto { scale, shape } => {
                if !(shape.is_finite() && *shape > 0.0) {
                    return Err(ConfigError::new(format!(
                        "pareto latency: shape must be a finite number > 0, got {shape}"
                    )));
                }
                if scale.is_zero() {
                    return Err(ConfigError::new("pareto latency: scale must be > 0"));
                }
                Ok(())
            }
            Self::Mixture(parts) => {
                if parts.is_empty() {
                    return Err(ConfigError::new("latency mixture: needs at least one part"));
                }
                let mut total = 0.0;
                for (weight, part) in parts {
                    if !(weight.is_finite() && *weight >= 0.0) {
                        return Err(ConfigError::new(format!(
                            "latency mixture: weights must be finite and >= 0, got {weight}"
                        )));
                    }
                    total += weight;
                    part.validate()?;
                }
                if total <= 0.0 {
                    return Err(ConfigError::new(
                        "latency mixture: the weights must not all be zero",
                    ));
                }
                Ok(())
            }
        }
    }

    /// Draws one latency. Call only on a validated distribution.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let d = match self {
            Self::Constant(d) => *d,
            Self::Uniform { low, high } => {
                let (lo, hi) = (nanos(*low), nanos(*high));
                Duration::from_nanos(if lo == hi {
                    lo
                } else {
                    rng.random_range(lo..=hi)
                })
            }
            Self::LogNormal { median, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                secs(median.as_secs_f64() * (sigma * z).exp())
            }
            Self::Pareto { scale, shape } => {
                // Inverse transform: scale · U^(-1/α) = scale · e^(E/α) with E ~ Exp(1).
                let e: f64 = Exp1.sample(rng);
                secs(scale.as_secs_f64() * (e / shape).exp())
            }
            Self::Mixture(parts) => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                let mut pick = rng.random::<f64>() * total;
                let mut chosen = &parts[parts.len() - 1].1;
                for (w, part) in parts {
                    if pick < *w {
                        chosen = part;
                        break;
                    }
                    pick -= w;
                }
                return chosen.sample(rng);
            }
        };
        d.min(MAX_LATENCY)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn secs(s: f64) -> Duration {
    if s.is_finite() && s >= 0.0 {
        Duration::try_from_secs_f64(s).unwrap_or(MAX_LATENCY)
    } else {
        MAX_LATENCY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn median_of(l: &Latency) -> Duration {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut v: Vec<Duration> = (0..20_001).map(|_| l.sample(&mut rng)).collect();
        v.sort();
        v[v.len() / 2]
    }

    #[test]
    fn distributions_have_the_documented_shape() {
        assert_eq!(median_of(&Latency::constant(ms(7))), ms(7));
        let m = median_of(&Latency::uniform(ms(10), ms(20)));
        assert!(m > ms(14) && m < ms(16), "{m:?}");
        let m = median_of(&Latency::log_normal(ms(50), 0.8));
        assert!(m > ms(47) && m < ms(53), "{m:?}");
        // Pareto median is scale · 2^(1/α).
        let m = median_of(&Latency::pareto(ms(10), 2.0));
        assert!(m > ms(13) && m < ms(15), "{m:?}");
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = Latency::uniform(ms(5), ms(1)).validate().unwrap_err();
        assert!(e.to_string().contains("low"), "{e}");
        let e = Latency::pareto(ms(5), -1.0).validate().unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
        let e = Latency::log_normal(ms(5), f64::NAN).validate().unwrap_err();
        assert!(e.to_string().contains("sigma"), "{e}");
        let e = Latency::mixture([]).validate().unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        let e = Latency::mixture([(0.0, Latency::constant(ms(1)))])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("zero"), "{e}");
    }

    #[test]
    fn heavy_tails_are_capped() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let l = Latency::pareto(ms(1000), 0.01);
        assert!((0..1000).all(|_| l.sample(&mut rng) <= MAX_LATENCY));
    }
}
