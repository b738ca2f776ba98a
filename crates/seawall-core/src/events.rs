use std::sync::Arc;
use std::time::Duration;

/// Reports a layer's notable moments — a retry, a trip, a shed request — to whoever listens.
///
/// Every event is a [`tracing`] event with the fields `layer`, `name` and `event`. With the
/// `metrics` feature it also increments the counter `seawall_events_total` with the same three
/// labels, and [`duration`](Self::duration) records the histogram `seawall_duration_seconds`.
///
/// Events are for the unusual path: the steady success path of a layer emits nothing.
///
/// ```
/// use seawall_core::Events;
///
/// let events = Events::new("retry").named("payments");
/// events.emit(tracing::Level::DEBUG, "retry");
/// ```
#[derive(Clone, Debug)]
pub struct Events {
    layer: &'static str,
    name: Arc<str>,
}

impl Events {
    /// Events of the layer `layer` (such as `"retry"` or `"breaker"`), with an empty instance
    /// name.
    pub fn new(layer: &'static str) -> Self {
        Self {
            layer,
            name: Arc::from(""),
        }
    }

    /// Names this instance of the layer, to tell apart, say, the breakers of two upstreams.
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The layer these events come from.
    pub fn layer(&self) -> &'static str {
        self.layer
    }

    /// This instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reports that `event` happened.
    pub fn emit(&self, level: tracing::Level, event: &'static str) {
        macro_rules! at {
            ($lvl:expr) => {
                tracing::event!(
                    $lvl,
                    layer = self.layer,
                    name = &*self.name,
                    event,
                    "seawall {} {}",
                    self.layer,
                    event
                )
            };
        }
        match level {
            tracing::Level::ERROR => at!(tracing::Level::ERROR),
            tracing::Level::WARN => at!(tracing::Level::WARN),
            tracing::Level::INFO => at!(tracing::Level::INFO),
            tracing::Level::DEBUG => at!(tracing::Level::DEBUG),
            _ => at!(tracing::Level::TRACE),
        }
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "seawall_events_total",
            "layer" => self.layer,
            "name" => self.name.to_string(),
            "event" => event
        )
        .increment(1);
    }

    /// Records how long `what` took (a retry's backoff, a breaker's open period).
    pub fn duration(&self, what: &'static str, value: Duration) {
        tracing::trace!(
            layer = self.layer,
            name = &*self.name,
            what,
            seconds = value.as_secs_f64(),
            "seawall duration"
        );
        #[cfg(feature = "metrics")]
        metrics::histogram!(
            "seawall_duration_seconds",
            "layer" => self.layer,
            "name" => self.name.to_string(),
            "what" => what
        )
        .record(value.as_secs_f64());
        #[cfg(not(feature = "metrics"))]
        let _ = value;
    }
}
