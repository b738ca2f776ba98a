//! The open-time schedule: how long the breaker stays open after each trip.

use std::time::Duration;

use crate::config::Config;
use crate::rng;

/// How long the breaker stays open after `trips_in_row` earlier trips without closing:
/// `open_duration * multiplier^trips_in_row`, capped, then shortened by the jitter draw
/// number `draw` of the stream `seed`.
///
/// Never panics: a product too large for a `Duration` is the cap.
pub(crate) fn open_duration(config: &Config, trips_in_row: u32, seed: u64, draw: u64) -> Duration {
    let factor = config
        .open_multiplier
        .powi(trips_in_row.min(1_000) as i32)
        .min(1e9);
    let grown = Duration::try_from_secs_f64(config.open_duration.as_secs_f64() * factor)
        .unwrap_or(config.max_open_duration)
        .min(config.max_open_duration);
    if config.jitter == 0.0 {
        return grown;
    }
    let unit = rng::unit(seed, draw);
    // The factor is at most 1, but a huge `grown` may round up past `Duration::MAX` as an
    // f64: keep `grown` then.
    Duration::try_from_secs_f64(grown.as_secs_f64() * (1.0 - config.jitter * unit))
        .map_or(grown, |d| d.min(grown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_time_grows_is_capped_and_jitter_only_shortens_it_repeatably() {
        let config = Config {
            open_duration: Duration::from_secs(5),
            open_multiplier: 2.0,
            max_open_duration: Duration::from_secs(60),
            jitter: 0.0,
            ..Config::default()
        };
        let secs: Vec<u64> = (0..6)
            .map(|k| open_duration(&config, k, 0, 0).as_secs())
            .collect();
        assert_eq!(secs, [5, 10, 20, 40, 60, 60]);

        let jittered = Config {
            jitter: 0.5,
            ..config
        };
        let draws: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 42, d))
            .collect();
        assert!(draws
            .iter()
            .all(|d| *d > Duration::from_millis(2500) && *d <= Duration::from_secs(5)));
        let again: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 42, d))
            .collect();
        assert_eq!(draws, again, "the same seed gives the same open times");
        let other: Vec<Duration> = (0..100)
            .map(|d| open_duration(&jittered, 0, 43, d))
            .collect();
        assert_ne!(draws, other);
        let spread = draws
            .iter()
            .max()
            .unwrap()
            .saturating_sub(*draws.iter().min().unwrap());
        assert!(
            spread > Duration::from_secs(2),
            "draws cover the jitter range: {spread:?}"
        );
    }

    #[test]
    fn open_times_from_extreme_settings_are_capped_not_a_panic() {
        let huge = Config {
            open_duration: Duration::MAX,
            max_open_duration: Duration::MAX,
            open_multiplier: 100.0,
            jitter: 1.0,
            ..Config::default()
        };
        for trips in [0, 1, 5, 1_000, u32::MAX] {
            for draw in 0..50 {
                assert!(open_duration(&huge, trips, 7, draw) <= Duration::MAX);
            }
        }
        let no_jitter = Config {
            jitter: 0.0,
            ..huge
        };
        assert_eq!(open_duration(&no_jitter, 3, 0, 0), Duration::MAX);
        let capped = Config {
            open_duration: Duration::from_secs(u64::MAX / 4),
            max_open_duration: Duration::from_secs(u64::MAX / 2),
            ..no_jitter
        };
        assert_eq!(
            open_duration(&capped, 2, 0, 0),
            Duration::from_secs(u64::MAX / 2)
        );
    }
}
