//! The layer's events: tracing events with target `seawall::retry`, and with the `metrics`
//! feature the counter `seawall_events_total` and the histogram `seawall_duration_seconds`
//! under the same names that `seawall_core::Events` uses.

/// Records the retry event `$event` at `$level` with the layer's name and the given fields.
macro_rules! event {
    ($level:ident, $events:expr, $event:literal $(, $($fields:tt)+)?) => {{
        let events: &seawall_core::Events = $events;
        tracing::event!(
            target: "seawall::retry",
            tracing::Level::$level,
            layer = "retry",
            name = events.name(),
            event = $event,
            $($($fields)+,)?
            concat!("seawall retry ", $event)
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "seawall_events_total",
            "layer" => "retry",
            "name" => events.name().to_owned(),
            "event" => $event
        )
        .increment(1);
    }};
}

/// Records the wait chosen before a retry, with the `metrics` feature.
#[cfg(feature = "metrics")]
pub(crate) fn backoff(events: &seawall_core::Events, wait: std::time::Duration) {
    metrics::histogram!(
        "seawall_duration_seconds",
        "layer" => "retry",
        "name" => events.name().to_owned(),
        "what" => "backoff"
    )
    .record(wait.as_secs_f64());
}

/// Records the wait chosen before a retry, with the `metrics` feature.
#[cfg(not(feature = "metrics"))]
pub(crate) fn backoff(_: &seawall_core::Events, _: std::time::Duration) {}

pub(crate) use event;
