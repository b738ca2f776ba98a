//! The open-time schedule: how long the breaker stays open after each trip.

use std::time::Duration;

use crate::config::Config;
use crate::rng;

/// How long the breaker stays open after `trips_in_row` earlier trips without closing:
/// `open_duration * multiplier^trips_in_row`, capped at `max_open_duration` (growth is off
/// at the default multiplier of 1), then lengthened by the jitter draw number `draw` of the
/// stream `seed`: by a share of up to `jitter`.
///
/// Jitter lengthens rather than shortens so that `open_duration` is a floor: a breaker
/// never probes more often than once per `open_duration`, whatever the draws.
///
/// Never panics: a product too large for a `Duration` is the cap.
pub(crate) fn open_duration(config: &Config, trips_in_row: u32, seed: u64, draw: u64) -> Duration {
    let cap = growth_cap(config);
    let factor = config
        .open_multiplier
        .powi(trips_in_row.min(1_000) as i32)
        .min(1e9);
    let grown = Duration::try_from_secs_f64(config.open_duration.as_secs_f64() * factor)
        .unwrap_or(cap)
        .min(cap);
    if config.jitter == 0.0 {
        return grown;
    }
    let unit = rng::unit(seed, draw);
    Duration::try_from_secs_f64(grown.as_secs_f64() * (1.0 + config.jitter * unit))
        .map_or(longest_open(config), |d| {
            d.max(grown).min(longest_open(config))
        })
}

/// Where growth stops: `max_open_duration`, or `open_duration` itself when growth is off.
fn growth_cap(config: &Config) -> Duration {
    if config.open_multiplier > 1.0 {
        config.max_open_duration.max(config.open_duration)
    } else {
        config.open_duration
    }
}

/// The longest open time the breaker can choose: the growth cap lengthened by the whole
/// jitter. (A keyed breaker must not forget an open breaker for at least this long.)
pub(crate) fn longest_open(config: &Config) -> Duration {
    let cap = growth_cap(config);
    Duration::try_from_secs_f64(cap.as_secs_f64() * (1.0 + config.jitter))
        .map_or(Duration::MAX, |d| d.max(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_time_grows_is_capped_and_jitter_only_lengthens_it_repeatably() {
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
            .all(|d| *d >= Duration::from_secs(5) && *d < Duration::from_millis(7_500)));
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
        assert_eq!(longest_open(&jittered), Duration::from_secs(90));
    }

    #[test]
    fn the_defaults_open_for_one_to_one_point_one_seconds_every_time() {
        let config = Config::default();
        for trips in [0, 1, 5, 100] {
            for draw in 0..200 {
                let d = open_duration(&config, trips, 9, draw);
                assert!(
                    d >= Duration::from_secs(1) && d <= Duration::from_millis(1_100),
                    "{d:?}"
                );
            }
        }
        assert_eq!(longest_open(&config), Duration::from_millis(1_100));
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
